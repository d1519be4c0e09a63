"""Helpers of the account-recovery tests."""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from typing import Any
from urllib.parse import urlencode

from tests.support.privacy import REDIRECT
from tests.support.privacy import make_spa

PASSWORD = "correct-horse-9"
NEW_PASSWORD = "violet-staple-battery-31"
ADDRESS = "kim.berry@example.com"
WSO2 = "urn:scim:wso2:schema"
BASE = "/t/acme/api/users/v2/recovery"
TOKEN = "/t/acme/oauth2/token"
AUTHORIZE = "/t/acme/oauth2/authorize"
ME = "/t/acme/scim2/Me"
USERNAME_CLAIM = "http://wso2.org/claims/username"
EMAIL_CLAIM = "http://wso2.org/claims/emailaddress"
CODE = re.compile(r"Recovery code: (\d+)")
# The address confirmations of new accounts (an administrator's verifyEmail, self-registration):
# their endpoints, the code and the link their mails carry.
USERS = "/t/acme/scim2/Users"
VALIDATE = "/t/acme/api/identity/user/v1.0/validate-code"
RESEND = "/t/acme/api/identity/user/v1.0/resend-code"
CONFIRM_PAGE = "/t/acme/accountrecoveryendpoint/confirm-email"
CONFIRMATION_CODE = re.compile(r"Verification code: ([\w-]+)")
CONFIRMATION_LINK = re.compile(r"http://localhost/t/acme/accountrecoveryendpoint/confirm-email#code=([\w-]+)")


def init(client: Any, user: str = "kim", claim: str = USERNAME_CLAIM, **extra: Any) -> Any:
    return client.post(f"{BASE}/password/init", json={"claims": [{"uri": claim, "value": user}]}, **extra)


def recover(client: Any, recovery_code: str, **extra: Any) -> Any:
    return client.post(f"{BASE}/password/recover", json={"recoveryCode": recovery_code, "channelId": "1"}, **extra)


def confirm(client: Any, flow_code: str, otp: str, **extra: Any) -> Any:
    return client.post(f"{BASE}/password/confirm", json={"confirmationCode": flow_code, "otp": otp}, **extra)


def reset(client: Any, reset_code: str, password: str = NEW_PASSWORD, flow_code: str | None = None) -> Any:
    body = {"resetCode": reset_code, "password": password}
    if flow_code:
        body["flowConfirmationCode"] = flow_code
    return client.post(f"{BASE}/password/reset", json=body)


def code_from(mail: Any) -> str:
    match = CODE.search(mail.text)
    assert match, mail.text
    return match.group(1)


def start_and_send(client: Any, user: str = "kim", **extra: Any) -> dict[str, Any]:
    """init + recover: the recover answer (flowConfirmationCode, resendCode, ...)."""
    started = init(client, user, **extra)
    assert started.status_code == 200, started.get_data(as_text=True)
    sent = recover(client, started.get_json()[0]["channelInfo"]["recoveryCode"], **extra)
    assert sent.status_code == 202, sent.get_data(as_text=True)
    return sent.get_json()  # type: ignore[no-any-return]


def password_token(client: Any, spa: Any, password: str, user: str = "kim") -> Any:
    data = {"grant_type": "password", "username": user, "password": password, "client_id": spa.client_id}
    return client.post(TOKEN, data={**data, "scope": "openid internal_login"})


def choose_password(client: Any, code: str, password: str) -> Any:
    """The mailed link's page (a forced reset's or an invitation's): its form, POSTed with the
    link's code as the user's click does."""
    page = client.get("/t/acme/accountrecoveryendpoint/password-reset")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True))
    assert csrf, page.get_data(as_text=True)
    form = {"csrf_token": csrf.group(1), "code": code, "password": password, "password2": password}
    return client.post("/t/acme/accountrecoveryendpoint/password-reset", data=form)


def users_named(client: Any, admin: dict[str, str], name: str) -> int:
    """How many users ``/scim2/Users`` finds by this userName."""
    found = client.get(f'/t/acme/scim2/Users?filter=userName eq "{name}"', headers=admin)
    assert found.status_code == 200, found.get_json()
    return int(found.get_json()["totalResults"])


def assert_created_nobody(app: Any, client: Any, mail: Any, admin: dict[str, str], response: Any, detail: str) -> None:
    """A creation refused with 400 invalidValue ``detail``: no user ann, and no mail sent."""
    assert response.status_code == 400
    assert response.get_json()["scimType"] == "invalidValue"
    assert response.get_json()["detail"] == detail
    assert users_named(client, admin, "ann") == 0
    app.extensions["scim_me"].mailer.wait_idle(20)
    assert mail.messages == []


# -- the sign-in page, for an account held until its address is confirmed --------------------------


def authorize_url(app: Any, tenant: Any) -> str:
    """An authorization request (code + PKCE) of a new SPA client of ``tenant``: its sign-in page."""
    spa = make_spa(app, tenant)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(secrets.token_bytes(32)).digest()).rstrip(b"=").decode()
    params = {
        "response_type": "code", "client_id": spa.client_id, "redirect_uri": REDIRECT, "scope": "openid",
        "state": "s", "code_challenge": challenge, "code_challenge_method": "S256",
    }  # fmt: skip
    return f"{AUTHORIZE}?{urlencode(params)}"


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, html
    return found.group(1)


def sign_in(client: Any, url: str, user: str, password: str) -> Any:
    """The sign-in page's form, posted with its CSRF token."""
    page = client.get(url)
    form = {"csrf_token": _csrf(page.get_data(as_text=True)), "action": "login", "username": user}
    return client.post(url, data={**form, "password": password})


def resend_form(html: str) -> tuple[str, dict[str, str]]:
    """The held account's "Send me a new link" form: its action and fields."""
    form = re.search(r'<form id="resend-confirmation" method="post" action="([^"]+)">(.*?)</form>', html, re.S)
    assert form, html
    fields = dict(re.findall(r'name="([^"]+)" value="([^"]*)"', form.group(2)))
    return form.group(1).replace("&amp;", "&"), fields

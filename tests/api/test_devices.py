"""Trusted devices (issue 15, acceptance 3 and 4) on the sign-in page and ``/api/users/v1/me/devices``:
"trust this device" at the second factor sets a signed, HttpOnly, SameSite=Strict cookie; a later
sign-in from that browser skips the second factor (``amr`` says only ``pwd``) until the device is
revoked (one, all, a password change, MFA turned off); revoking ends that browser's session. A
sign-in from a new device raises the ``new_device`` alert and mails a notice whose "this wasn't
me" link ends every session after a confirmation page."""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
import time
from typing import Any
from urllib.parse import parse_qs
from urllib.parse import urlencode
from urllib.parse import urlsplit

import pytest
from joserfc import jwt
from joserfc.jwk import KeySet

from scim_me.core import otp
from scim_me.storage.clients import create_client
from scim_me.storage.tenants import update_tenant
from tests.factories import assert_wso2_error
from tests.factories import bearer
from tests.factories import make_tenant
from tests.factories import make_token
from tests.factories import make_user
from tests.support.apps import mailing_app

PASSWORD = "correct-horse-9"
REDIRECT = "http://localhost:5173/callback"
AUTHORIZE = "/t/acme/oauth2/authorize"
TOKEN = "/t/acme/oauth2/token"
API = "/t/acme/api/users/v1/me"
DEVICES = f"{API}/devices"
FIREFOX = "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"
FIREFOX_NEWER = "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:134.0) Gecko/20100101 Firefox/134.0"
IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko)"
    " Version/17.5 Mobile/15E148 Safari/604.1"
)
POLICY = otp.TotpPolicy()


@pytest.fixture
def app(database_url: str, tmp_path: Any, mail: Any) -> Any:
    with mailing_app(database_url, tmp_path, mail, alert_new_network=True) as application:
        yield application


@pytest.fixture
def tenant(app: Any) -> Any:
    return make_tenant(app, "acme", trusted_device_days=30)


@pytest.fixture
def kim(app: Any, tenant: Any) -> Any:
    return make_user(app, tenant, "kim", PASSWORD, emails=[{"value": "kim@example.com"}])


@pytest.fixture
def spa(app: Any, tenant: Any) -> Any:
    with app.extensions["scim_me"].db.connection_context():
        record, _ = create_client(
            tenant.id,
            "My SPA",
            public=True,
            first_party=True,
            redirect_uris=[REDIRECT],
            allowed_origins=["http://localhost:5173"],
            grant_types=["authorization_code", "refresh_token"],
            scope="openid internal_login",
        )
    return record


class Browser:
    """One browser: its own cookie jar (Flask's test client) and user agent."""

    def __init__(self, app: Any, spa: Any, user_agent: str = FIREFOX, ip: str = "198.51.100.7") -> None:
        self.app = app
        self.spa = spa
        self.client = app.test_client()
        self.headers = {"User-Agent": user_agent}
        self.environ = {"REMOTE_ADDR": ip}

    def url(self) -> str:
        self.verifier = secrets.token_urlsafe(48)
        challenge = base64.urlsafe_b64encode(hashlib.sha256(self.verifier.encode()).digest()).rstrip(b"=").decode()
        params = {
            "response_type": "code",
            "client_id": self.spa.client_id,
            "redirect_uri": REDIRECT,
            "scope": "openid internal_login",
            "state": "st",
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }
        return f"{AUTHORIZE}?{urlencode(params)}"

    def get(self, url: str) -> Any:
        return self.client.get(url, headers=self.headers, environ_base=self.environ)

    def post(self, url: str, form: dict[str, str]) -> Any:
        return self.client.post(url, data=form, headers=self.headers, environ_base=self.environ)

    def password(self, password: str = PASSWORD) -> tuple[str, Any]:
        url = self.url()
        page = self.get(url)
        assert page.status_code == 200, page.get_data(as_text=True)
        form = {"csrf_token": _csrf(page), "action": "login", "username": "kim", "password": password}
        return url, self.post(url, form)

    def answer(self, url: str, page: Any, code: str, trust: bool = False) -> Any:
        form = {"csrf_token": _csrf(page), "action": "mfa", "code": code}
        if trust:
            form["trust_device"] = "yes"
        return self.post(url, form)

    def tokens(self, response: Any) -> dict[str, Any]:
        assert response.status_code == 302, response.get_data(as_text=True)
        code = parse_qs(urlsplit(response.headers["Location"]).query)["code"][0]
        answer = self.client.post(
            TOKEN,
            data={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": REDIRECT,
                "client_id": self.spa.client_id,
                "code_verifier": self.verifier,
            },
        )
        assert answer.status_code == 200, answer.json
        body: dict[str, Any] = answer.json
        keys = KeySet.import_key_set(self.client.get("/t/acme/oauth2/jwks").json)
        body["claims"] = jwt.decode(body["id_token"], keys, algorithms=["RS256"]).claims
        return body

    def forget_session(self, tenant: Any) -> None:
        """Close the browser: the session cookie goes, the long-lived device cookie stays."""
        self.client.delete_cookie(f"scim_me_sid_{tenant.id}", path="/")


def _csrf(page: Any) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True))
    assert match, page.get_data(as_text=True)
    return match.group(1)


def _enrol(app: Any, tenant: Any, user: Any) -> list[str]:
    """An active TOTP (so sign-in asks for a second factor) and backup codes to answer it with:
    each is good once at any time, where a TOTP step is good once per 30 seconds."""
    client = app.test_client()
    auth = bearer(make_token(app, tenant, user))
    init = client.post(f"{API}/totp", json={"action": "INIT"}, headers=auth).json
    secret = parse_qs(urlsplit(base64.b64decode(init["qrCodeUrl"]).decode()).query)["secret"][0]
    code = int(otp.code_at(secret, time.time(), POLICY))
    assert client.post(f"{API}/totp", json={"action": "VALIDATE", "verificationCode": code}, headers=auth).json == {
        "isValid": True
    }
    codes: list[str] = client.post(f"{API}/backup-codes", headers=auth).json["backupCodes"]
    return codes


def _code(codes: list[str]) -> str:
    return codes.pop()


def _is_mfa_page(response: Any) -> bool:
    return response.status_code == 200 and 'name="action" value="mfa"' in response.get_data(as_text=True)


def _device_cookie(response: Any, tenant: Any) -> str:
    (header,) = [h for h in response.headers.getlist("Set-Cookie") if h.startswith(f"scim_me_device_{tenant.id}=")]
    return header


def _trust(app: Any, tenant: Any, spa: Any, secret: list[str], browser: Browser | None = None) -> tuple[Browser, Any]:
    browser = browser or Browser(app, spa)
    url, page = browser.password()
    assert _is_mfa_page(page)
    assert 'name="trust_device"' in page.get_data(as_text=True) and "30 days" in page.get_data(as_text=True)
    done = browser.answer(url, page, _code(secret), trust=True)
    return browser, done


def _alerts(app: Any, tenant: Any, user: Any) -> list[dict[str, Any]]:
    body = app.test_client().get(f"{API}/alerts", headers=bearer(make_token(app, tenant, user))).json
    return list(body["alerts"])


def test_a_trusted_device_skips_the_second_factor_until_it_is_revoked(app, tenant, kim, spa) -> None:
    secret = _enrol(app, tenant, kim)
    browser, done = _trust(app, tenant, spa, secret)
    first = browser.tokens(done)
    assert first["claims"]["amr"] == ["pwd", "otp"]
    cookie = _device_cookie(done, tenant)
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Max-Age=2592000" in cookie
    assert "Secure" not in cookie  # plain http here; over https (or a trusted proxy's) it is Secure

    auth = bearer(first["access_token"])
    listed = browser.client.get(DEVICES, headers=auth)
    assert listed.status_code == 200 and listed.headers["Cache-Control"] == "no-store"
    (device,) = listed.json["devices"]
    assert listed.json["totalResults"] == 1
    assert device["name"] == "Firefox 133 on Ubuntu"
    assert device["userAgent"] == FIREFOX and device["lastUsedIp"] == "198.51.100.7"
    assert device["createdTime"].endswith("Z") and device["expiryTime"] > device["createdTime"]

    # The browser is closed and opened again: the password alone signs in, and amr says so.
    browser.forget_session(tenant)
    _url, skipped = browser.password()
    again = browser.tokens(skipped)
    assert again["claims"]["amr"] == ["pwd"]

    # Revoked: that browser's session ends at once, and the next sign-in asks for the code.
    other = bearer(make_token(app, tenant, kim))
    assert browser.client.delete(f"{DEVICES}/{device['id']}", headers=other).status_code == 204
    assert browser.client.get(DEVICES, headers=other).json == {"totalResults": 0, "devices": []}
    assert browser.client.get("/t/acme/scim2/Me", headers=bearer(again["access_token"])).status_code == 401
    _url, asked = browser.password()
    assert _is_mfa_page(asked)


def test_without_the_tenant_setting_there_is_no_box_and_no_cookie(app, kim, spa) -> None:
    with app.app_context(), app.extensions["scim_me"].db.connection_context():
        update_tenant("acme", trusted_device_days=0)
    secret = _enrol(app, make_tenant(app, "acme"), kim)
    browser = Browser(app, spa)
    url, page = browser.password()
    assert _is_mfa_page(page) and "trust_device" not in page.get_data(as_text=True)
    done = browser.answer(url, page, _code(secret), trust=True)  # a hand-made form
    assert done.status_code == 302
    assert not [h for h in done.headers.getlist("Set-Cookie") if h.startswith("scim_me_device_")]


def test_a_device_cookie_of_another_user_or_a_forged_one_skips_nothing(app, tenant, kim, spa) -> None:
    secret = _enrol(app, tenant, kim)
    _browser, done = _trust(app, tenant, spa, secret)
    assert done.status_code == 302
    value = _device_cookie(done, tenant).split(";")[0].split("=", 1)[1]
    lee = make_user(app, tenant, "lee", PASSWORD)
    lee_secret = _enrol(app, tenant, lee)
    assert lee_secret
    intruder = Browser(app, spa)
    intruder.client.set_cookie(f"scim_me_device_{tenant.id}", value, path="/")
    url = intruder.url()
    page = intruder.get(url)
    form = {"csrf_token": _csrf(page), "action": "login", "username": "lee", "password": PASSWORD}
    assert _is_mfa_page(intruder.post(url, form))  # kim's device is not lee's
    forged = Browser(app, spa)
    forged.client.set_cookie(f"scim_me_device_{tenant.id}", value[:-3] + "AAA", path="/")
    _url, asked = forged.password()
    assert _is_mfa_page(asked)


@pytest.mark.parametrize("how", ["password change", "password in /Me", "mfa disabled", "revoke all"])
def test_a_password_change_mfa_off_or_revoke_all_revoke_every_device(app, tenant, kim, spa, how: str) -> None:
    secret = _enrol(app, tenant, kim)
    browser, _first = _trust(app, tenant, spa, secret)
    _second, _done = _trust(app, tenant, spa, secret, Browser(app, spa, IPHONE))
    auth = bearer(make_token(app, tenant, kim))
    client = app.test_client()
    assert client.get(DEVICES, headers=auth).json["totalResults"] == 2
    if how == "password change":
        changed = client.post(
            f"{API}/change-password",
            json={"currentPassword": PASSWORD, "newPassword": "another-horse-77"},
            headers=auth,
        )
        assert changed.status_code in (200, 204), changed.get_data(as_text=True)
    elif how == "password in /Me":
        patch = {
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "replace", "value": {"password": "another-horse-77"}}],
        }
        assert client.patch("/t/acme/scim2/Me", json=patch, headers=auth).status_code == 200
    elif how == "mfa disabled":
        assert client.delete(f"{API}/totp", headers=auth).status_code in (200, 204)
    else:
        assert client.delete(DEVICES, headers=auth).status_code == 204
    assert client.get(DEVICES, headers=bearer(make_token(app, tenant, kim))).json["totalResults"] == 0
    if how != "mfa disabled":
        browser.forget_session(tenant)
        _url, asked = browser.password("another-horse-77" if how.startswith("password") else PASSWORD)
        assert _is_mfa_page(asked)


def test_another_users_device_is_404_and_stays(app, tenant, kim, spa) -> None:
    secret = _enrol(app, tenant, kim)
    _trust(app, tenant, spa, secret)
    kims = bearer(make_token(app, tenant, kim))
    client = app.test_client()
    (device,) = client.get(DEVICES, headers=kims).json["devices"]
    lee = bearer(make_token(app, tenant, make_user(app, tenant, "lee", PASSWORD)))
    assert client.get(DEVICES, headers=lee).json == {"totalResults": 0, "devices": []}
    assert_wso2_error(client.delete(f"{DEVICES}/{device['id']}", headers=lee), 404, "DEV-60404")
    assert_wso2_error(client.delete(f"{DEVICES}/no-such-device", headers=kims), 404, "DEV-60404")
    assert client.delete(DEVICES, headers=lee).status_code == 204  # lee's (none), not kim's
    assert client.get(DEVICES, headers=kims).json["totalResults"] == 1
    assert_wso2_error(client.get(DEVICES), 401)
    narrow = make_token(app, tenant, kim, scope="openid profile")
    assert_wso2_error(client.get(DEVICES, headers=bearer(narrow)), 403, "DEV-60403")


def test_a_new_device_raises_one_alert_and_mails_a_link_that_ends_every_session(app, mail, tenant, kim, spa) -> None:
    first = Browser(app, spa, FIREFOX)
    first.tokens(first.password()[1])
    assert _alerts(app, tenant, kim) == []  # the first sign-in has nothing to compare with
    update = Browser(app, spa, FIREFOX_NEWER)
    kept = update.tokens(update.password()[1])
    assert _alerts(app, tenant, kim) == []  # a browser update is not a new device

    phone = Browser(app, spa, IPHONE, ip="203.0.113.50")
    phone.tokens(phone.password()[1])
    (alert,) = _alerts(app, tenant, kim)
    assert alert["type"] == "new_device" and alert["title"] == "Sign-in from a new device"
    assert alert["ip"] == "203.0.113.50" and alert["details"]["device"] == "Mobile Safari 17 on iOS 17 (iPhone)"
    assert alert["details"]["clientId"] == spa.client_id
    (notice,) = mail.wait_for(1)
    assert notice.rcpt_tos == ["kim@example.com"] and notice.subject == "New sign-in to your account"
    assert "Mobile Safari 17 on iOS 17 (iPhone)" in notice.text and "203.0.113.50" in notice.text
    link = re.search(r"http://localhost/t/acme/security/not-me#code=([A-Za-z0-9_-]+)", notice.text)
    assert link, notice.text
    phone.forget_session(tenant)
    phone.tokens(phone.password()[1])
    assert len(_alerts(app, tenant, kim)) == 1  # that device is known now

    page_browser = app.test_client()
    page = page_browser.get("/t/acme/security/not-me")
    assert page.status_code == 200 and "End every session" in page.get_data(as_text=True)
    assert (
        page_browser.post("/t/acme/security/not-me", data={"csrf_token": _csrf(page), "code": "wrong"}).status_code
        == 400
    )
    done = page_browser.post("/t/acme/security/not-me", data={"csrf_token": _csrf(page), "code": link.group(1)})
    assert done.status_code == 200, done.get_data(as_text=True)
    assert "Signed out everywhere" in done.get_data(as_text=True)
    assert app.test_client().get("/t/acme/scim2/Me", headers=bearer(kept["access_token"])).status_code == 401
    (after,) = _alerts(app, tenant, kim)
    assert after["acknowledged"] is True
    spent = page_browser.post("/t/acme/security/not-me", data={"csrf_token": _csrf(page), "code": link.group(1)})
    assert spent.status_code == 400  # once


def test_a_trusted_device_is_never_a_new_device_and_a_new_network_is_its_own_alert(app, tenant, kim, spa) -> None:
    secret = _enrol(app, tenant, kim)
    first = Browser(app, spa, IPHONE, ip="198.51.100.7")
    url, page = first.password()
    first.tokens(first.answer(url, page, _code(secret)))
    assert _alerts(app, tenant, kim) == []
    # A trusted browser whose family is new to the history still is no "new device".
    browser, _done = _trust(app, tenant, spa, secret, Browser(app, spa, FIREFOX, ip="198.51.100.8"))
    assert [a["type"] for a in _alerts(app, tenant, kim)] == ["new_device"]  # trusted only after this sign-in
    browser.forget_session(tenant)
    browser.environ = {"REMOTE_ADDR": "192.0.2.44"}
    browser.tokens(browser.password()[1])
    types = [a["type"] for a in _alerts(app, tenant, kim)]
    assert types == ["new_network", "new_device"]
    (network,) = [a for a in _alerts(app, tenant, kim) if a["type"] == "new_network"]
    assert network["details"]["network"] == "192.0.2.0/24"


def test_a_not_me_link_whose_sign_out_fails_still_works(app, mail, tenant, kim, spa) -> None:
    """The link is spent in the transaction that ends the sessions and revokes the devices: when
    that fails, the link is not used up, and it signs everything out once the database is back."""
    from tests.support.faults import table_unavailable

    first = Browser(app, spa, FIREFOX)
    kept = first.tokens(first.password()[1])
    phone = Browser(app, spa, IPHONE, ip="203.0.113.50")
    phone.tokens(phone.password()[1])
    (notice,) = mail.wait_for(1)
    link = re.search(r"http://localhost/t/acme/security/not-me#code=([A-Za-z0-9_-]+)", notice.text)
    assert link, notice.text
    page_browser = app.test_client()
    page = page_browser.get("/t/acme/security/not-me")
    form = {"csrf_token": _csrf(page), "code": link.group(1)}
    with table_unavailable(app, "trusted_devices"):
        failed = page_browser.post("/t/acme/security/not-me", data=form)
    assert failed.status_code == 500
    assert app.test_client().get("/t/acme/scim2/Me", headers=bearer(kept["access_token"])).status_code == 200
    done = page_browser.post("/t/acme/security/not-me", data=form)
    assert done.status_code == 200, done.get_data(as_text=True)
    assert app.test_client().get("/t/acme/scim2/Me", headers=bearer(kept["access_token"])).status_code == 401

"""Issue 15 acceptance 3 against the live server (gunicorn, 2 workers, file SQLite): a browser
trusted at the second factor signs in with the password alone, on both workers; after
``DELETE /api/users/v1/me/devices/{id}`` both workers ask it for the second factor again."""

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
import requests

from scim_me.core import otp
from tests.e2e.support import HTTP_TIMEOUT_S
from tests.e2e.support import session
from tests.factories import bearer
from tests.support.live_server import DEFAULT_PASSWORD
from tests.support.live_server import LiveServer

pytestmark = pytest.mark.e2e
TENANT = "trusting"
REDIRECT = "http://localhost:5173/cb"
MAX_SIGN_INS = 40
POLICY = otp.TotpPolicy()


def _csrf(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, html
    return match.group(1)


def _setup(live: LiveServer) -> tuple[str, str, list[str]]:
    """A tenant that allows trusting devices for 30 days, a user with an active TOTP and backup
    codes, and a first-party public client: (user, client id, backup codes)."""
    live.cli("tenant", "create", TENANT)
    live.cli("tenant", "update", TENANT, "--set", "trusted_device_days=30")
    user = live.create_user("trusting", tenant=TENANT)
    token = live.token(user=user, tenant=TENANT)
    api = live.url("/api/users/v1/me", TENANT)
    with session() as http:
        init = http.post(f"{api}/totp", json={"action": "INIT"}, headers=bearer(token), timeout=HTTP_TIMEOUT_S)
        secret = parse_qs(urlsplit(base64.b64decode(init.json()["qrCodeUrl"]).decode()).query)["secret"][0]
        valid = http.post(
            f"{api}/totp",
            json={"action": "VALIDATE", "verificationCode": int(otp.code_at(secret, time.time(), POLICY))},
            headers=bearer(token),
            timeout=HTTP_TIMEOUT_S,
        )
        assert valid.json() == {"isValid": True}, valid.text
        codes = http.post(f"{api}/backup-codes", headers=bearer(token), timeout=HTTP_TIMEOUT_S).json()["backupCodes"]
    client_id = live.cli(
        "client", "create", "--tenant", TENANT, "--name", "trusting-spa", "--public", "--first-party",
        "--redirect-uri", REDIRECT, "--grant", "authorization_code",
    ).stdout.splitlines()[0].split()[1]  # fmt: skip
    return user, client_id, codes


def _authorize_url(live: LiveServer, client_id: str) -> str:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    query = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": REDIRECT,
        "scope": "openid internal_login",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    return live.url(f"/oauth2/authorize?{urlencode(query)}", TENANT)


def _password(http: requests.Session, url: str, user: str) -> requests.Response:
    page = http.get(url, timeout=HTTP_TIMEOUT_S)
    assert page.status_code == 200, page.text
    form = {"csrf_token": _csrf(page.text), "action": "login", "username": user, "password": DEFAULT_PASSWORD}
    return http.post(url, data=form, allow_redirects=False, timeout=HTTP_TIMEOUT_S)


def _sign_in_until_both_workers(
    live: LiveServer, client_id: str, user: str, device_cookie: Any, agent: str
) -> list[requests.Response]:
    """Sign in with the password from the trusted browser (its device cookie, no session) on a
    fresh connection each time, until both workers answered its requests; the password answers."""
    answers = []
    for n in range(MAX_SIGN_INS):
        with session() as http:
            http.headers["User-Agent"] = f"{agent} {n}"
            http.cookies.set_cookie(device_cookie)
            answers.append(_password(http, _authorize_url(live, client_id), user))
        if len(live.answers_by_worker(agent)) >= 2:
            return answers
    pytest.fail(f"{MAX_SIGN_INS} sign-ins never reached both gunicorn workers")


def test_a_trusted_device_skips_the_second_factor_on_both_workers_until_deleted(live_server: LiveServer) -> None:
    user, client_id, codes = _setup(live_server)
    with session() as http:
        http.headers["User-Agent"] = "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"
        url = _authorize_url(live_server, client_id)
        mfa_page = _password(http, url, user)
        assert mfa_page.status_code == 200 and 'name="trust_device"' in mfa_page.text, mfa_page.text
        form = {"csrf_token": _csrf(mfa_page.text), "action": "mfa", "code": codes[0], "trust_device": "yes"}
        done = http.post(url, data=form, allow_redirects=False, timeout=HTTP_TIMEOUT_S)
        assert done.status_code == 302, done.text
        (device_cookie,) = [c for c in http.cookies if c.name.startswith("scim_me_device_")]
    assert device_cookie.has_nonstandard_attr("HttpOnly")

    trusted = _sign_in_until_both_workers(
        live_server, client_id, user, device_cookie, f"trusted-{secrets.token_hex(4)}"
    )
    assert all(r.status_code == 302 and "code=" in r.headers["Location"] for r in trusted), [
        (r.status_code, r.text[:200]) for r in trusted
    ]

    token = live_server.token(user=user, tenant=TENANT)
    devices = live_server.url("/api/users/v1/me/devices", TENANT)
    with session() as http:
        (device,) = http.get(devices, headers=bearer(token), timeout=HTTP_TIMEOUT_S).json()["devices"]
        deleted = http.delete(f"{devices}/{device['id']}", headers=bearer(token), timeout=HTTP_TIMEOUT_S)
        assert deleted.status_code == 204, deleted.text

    revoked = _sign_in_until_both_workers(
        live_server, client_id, user, device_cookie, f"revoked-{secrets.token_hex(4)}"
    )
    assert all(r.status_code == 200 and 'name="action" value="mfa"' in r.text for r in revoked), [
        (r.status_code, r.text[:200]) for r in revoked
    ]

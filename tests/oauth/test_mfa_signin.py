"""The second factor at sign-in (issue 4): after the password, a user with an active TOTP is
asked for a TOTP or a backup code on a CSRF-protected page, with the half-signed-in state held
server-side; the ID token's ``amr`` says ``["pwd", "otp"]``. The password grant refuses MFA users."""

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
import time_machine
from joserfc import jwt
from joserfc.jwk import KeySet

from scim_me.core import otp
from scim_me.storage.clients import create_client
from scim_me.storage.events import list_events
from tests.factories import bearer
from tests.factories import make_tenant
from tests.factories import make_token
from tests.factories import make_user
from tests.support.faults import table_unavailable

PASSWORD = "correct-horse-9"
REDIRECT = "http://localhost:5173/callback"
AUTHORIZE = "/t/acme/oauth2/authorize"
TOKEN = "/t/acme/oauth2/token"
API = "/t/acme/api/users/v1/me"
POLICY = otp.TotpPolicy()


@pytest.fixture
def tenant(app: Any) -> Any:
    return make_tenant(app, "acme")


@pytest.fixture
def kim(app: Any, tenant: Any) -> Any:
    return make_user(app, tenant, "kim", PASSWORD)


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
            grant_types=["authorization_code", "refresh_token", "password"],
            scope="openid internal_login",
        )
    return record


def _start() -> float:
    return (int(time.time()) // 30) * 30 + 5.0


def _pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def _url(client_id: str, challenge: str) -> str:
    params = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": REDIRECT,
        "scope": "openid internal_login",
        "state": "st-1",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    return f"{AUTHORIZE}?{urlencode(params)}"


def _csrf(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, html
    return match.group(1)


def _password(client: Any, url: str, password: str = PASSWORD) -> Any:
    page = client.get(url)
    csrf = _csrf(page.get_data(as_text=True))
    form = {"csrf_token": csrf, "action": "login", "username": "kim", "password": password}
    return client.post(url, data=form)


def _answer(client: Any, url: str, page: Any, code: str) -> Any:
    form = {"csrf_token": _csrf(page.get_data(as_text=True)), "action": "mfa", "code": code}
    return client.post(url, data=form)


def _enrol(app: Any, client: Any, tenant: Any, user: Any, at: float) -> str:
    auth = bearer(make_token(app, tenant, user))
    init = client.post(f"{API}/totp", json={"action": "INIT"}, headers=auth).json
    secret = parse_qs(urlsplit(base64.b64decode(init["qrCodeUrl"]).decode()).query)["secret"][0]
    code = int(otp.code_at(secret, at, POLICY))
    ok = client.post(f"{API}/totp", json={"action": "VALIDATE", "verificationCode": code}, headers=auth)
    assert ok.json == {"isValid": True}
    return secret


def _code(response: Any) -> str:
    assert response.status_code == 302, response.get_data(as_text=True)
    return parse_qs(urlsplit(response.headers["Location"]).query)["code"][0]


def _id_token(app: Any, client: Any, spa: Any, code: str, verifier: str) -> dict[str, Any]:
    tokens = client.post(
        TOKEN,
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT,
            "client_id": spa.client_id,
            "code_verifier": verifier,
        },
    )
    assert tokens.status_code == 200, tokens.json
    keys = KeySet.import_key_set(client.get("/t/acme/oauth2/jwks").json)
    claims: dict[str, Any] = jwt.decode(tokens.json["id_token"], keys, algorithms=["RS256"]).claims
    assert client.get("/t/acme/scim2/Me", headers=bearer(tokens.json["access_token"])).status_code == 200
    return claims


def test_without_mfa_the_password_is_enough_and_amr_is_pwd(app: Any, client: Any, kim: Any, spa: Any) -> None:
    verifier, challenge = _pkce()
    code = _code(_password(client, _url(spa.client_id, challenge)))
    assert _id_token(app, client, spa, code, verifier)["amr"] == ["pwd"]


def test_a_pending_secret_does_not_gate_sign_in(app: Any, client: Any, tenant: Any, kim: Any, spa: Any) -> None:
    client.post(f"{API}/totp", json={"action": "INIT"}, headers=bearer(make_token(app, tenant, kim)))
    _verifier, challenge = _pkce()
    assert _password(client, _url(spa.client_id, challenge)).status_code == 302


def test_totp_after_the_password_and_amr_says_otp(app: Any, client: Any, tenant: Any, kim: Any, spa: Any) -> None:
    at = _start()
    with time_machine.travel(at, tick=False):
        secret = _enrol(app, client, tenant, kim, at)
    with time_machine.travel(at + 30, tick=False):
        verifier, challenge = _pkce()
        url = _url(spa.client_id, challenge)
        page = _password(client, url)
        assert page.status_code == 200
        html = page.get_data(as_text=True)
        assert 'name="code"' in html and "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
        assert not any(c.startswith("scim_me_sid_") for c in page.headers.getlist("Set-Cookie"))  # no session yet
        wrong = str((int(otp.code_at(secret, at + 30, POLICY)) + 1) % 1_000_000).zfill(6)
        refused = _answer(client, url, page, wrong)
        assert refused.status_code == 401 and "not valid" in refused.get_data(as_text=True)
        passed = _answer(client, url, refused, otp.code_at(secret, at + 30, POLICY))
        claims = _id_token(app, client, spa, _code(passed), verifier)
    assert claims["amr"] == ["pwd", "otp"]
    with app.extensions["scim_me"].db.connection_context():
        kinds = [e.kind for e in list_events(tenant.id, kim.id)]
    assert "mfa.totp.validated" in kinds and "mfa.totp.failure" in kinds


def test_the_enrolment_code_cannot_be_the_first_sign_in_code(
    app: Any, client: Any, tenant: Any, kim: Any, spa: Any
) -> None:
    at = _start()
    with time_machine.travel(at, tick=False):
        secret = _enrol(app, client, tenant, kim, at)
        _verifier, challenge = _pkce()
        url = _url(spa.client_id, challenge)
        page = _password(client, url)
        assert _answer(client, url, page, otp.code_at(secret, at, POLICY)).status_code == 401


def test_a_backup_code_works_once(app: Any, client: Any, tenant: Any, kim: Any, spa: Any) -> None:
    at = _start()
    with time_machine.travel(at, tick=False):
        _enrol(app, client, tenant, kim, at)
    auth = bearer(make_token(app, tenant, kim))
    backup = client.post(f"{API}/backup-codes", headers=auth).json["backupCodes"][0]
    verifier, challenge = _pkce()
    url = _url(spa.client_id, challenge)
    passed = _answer(client, url, _password(client, url), backup.upper())  # case does not matter
    assert _id_token(app, client, spa, _code(passed), verifier)["amr"] == ["pwd", "otp"]
    assert client.get(f"{API}/backup-codes", headers=auth).json == {"remainingBackupCodesCount": 9}
    confirm = client.get("/t/acme/oidc/logout")  # no id_token_hint: the user confirms (RP-Initiated Logout §2)
    client.post("/t/acme/oidc/logout", data={"csrf_token": _csrf(confirm.get_data(as_text=True)), "action": "logout"})
    _verifier, challenge = _pkce()
    url = _url(spa.client_id, challenge)
    again = _answer(client, url, _password(client, url), backup)
    assert again.status_code == 401 and "already used" in again.get_data(as_text=True)
    with app.extensions["scim_me"].db.connection_context():
        kinds = [e.kind for e in list_events(tenant.id, kim.id)]
    assert kinds.count("mfa.backup_codes.used") == 1


def test_answers_need_the_csrf_token_and_a_live_challenge(
    app: Any, client: Any, tenant: Any, kim: Any, spa: Any
) -> None:
    at = _start()
    with time_machine.travel(at, tick=False):
        secret = _enrol(app, client, tenant, kim, at)
        _verifier, challenge = _pkce()
        url = _url(spa.client_id, challenge)
        page = _password(client, url)
        no_csrf = client.post(url, data={"action": "mfa", "code": "123456"})
        assert no_csrf.status_code == 400
        # Another browser (no challenge in its cookie) cannot answer, even with a valid code.
        other = app.test_client()
        form_page = other.get(url)
        stranger = other.post(
            url,
            data={
                "csrf_token": _csrf(form_page.get_data(as_text=True)),
                "action": "mfa",
                "code": otp.code_at(secret, at + 30, POLICY),
            },
        )
        assert stranger.status_code == 400 and "Sign in again" in stranger.get_data(as_text=True)
    # The challenge expires (mfa_signin_seconds, 300 s by default).
    with time_machine.travel(at + 330, tick=False):
        late = _answer(client, url, page, otp.code_at(secret, at + 330, POLICY))
        assert late.status_code == 400 and "expired" in late.get_data(as_text=True)


def test_wrong_codes_lock_the_second_factor(app: Any, client: Any, tenant: Any, kim: Any, spa: Any) -> None:
    at = _start()
    with time_machine.travel(at, tick=False):
        secret = _enrol(app, client, tenant, kim, at)
    with time_machine.travel(at + 30, tick=False):
        _verifier, challenge = _pkce()
        url = _url(spa.client_id, challenge)
        page = _password(client, url)
        for _ in range(5):
            page = _answer(client, url, page, "000000" if otp.code_at(secret, at + 30, POLICY) != "000000" else "1")
            assert page.status_code == 401
        # This challenge had its five answers: the password is asked again ...
        restart = _answer(client, url, page, otp.code_at(secret, at + 30, POLICY))
        assert restart.status_code == 400 and "Too many attempts" in restart.get_data(as_text=True)
        # ... and then the user's MFA lock answers, without evaluating even the right code.
        page = _password(client, url)
        locked = _answer(client, url, page, otp.code_at(secret, at + 30, POLICY))
        assert locked.status_code == 429 and locked.headers["Retry-After"] == "60"
    with time_machine.travel(at + 95, tick=False):
        _verifier, challenge = _pkce()
        url = _url(spa.client_id, challenge)
        passed = _answer(client, url, _password(client, url), otp.code_at(secret, at + 95, POLICY))
        assert passed.status_code == 302


def test_the_password_grant_refuses_users_with_mfa(app: Any, client: Any, tenant: Any, kim: Any, spa: Any) -> None:
    data = {"grant_type": "password", "username": "kim", "password": PASSWORD, "client_id": spa.client_id}
    assert client.post(TOKEN, data=data).status_code == 200
    at = _start()
    with time_machine.travel(at, tick=False):
        _enrol(app, client, tenant, kim, at)
    refused = client.post(TOKEN, data=data)
    assert refused.status_code == 400
    assert refused.json["error"] == "invalid_grant"
    assert "multi-factor" in refused.json["error_description"]
    # A wrong password learns nothing about MFA.
    wrong = client.post(TOKEN, data={**data, "password": "wrong-password"})
    assert wrong.status_code == 400 and "multi-factor" not in wrong.get_data(as_text=True)


@pytest.mark.parametrize("factor", ["backup_code", "totp"])
def test_a_sign_in_that_fails_after_the_second_factor_leaves_the_factor_unspent(
    app: Any, client: Any, tenant: Any, kim: Any, spa: Any, factor: str
) -> None:
    """The factor is spent in the transaction that signs the browser in: when starting the
    session fails, the backup code (or the TOTP step) is still there, the challenge still open,
    and the answer recorded as used nowhere; the same answer then signs the user in."""
    at = _start()
    with time_machine.travel(at - 30, tick=False):  # enrolled a step earlier: the sign-in's code is unused
        secret = _enrol(app, client, tenant, kim, at - 30)
    with time_machine.travel(at, tick=False):
        auth = bearer(make_token(app, tenant, kim))
        backup = client.post(f"{API}/backup-codes", headers=auth).json["backupCodes"][0]
        answer = backup if factor == "backup_code" else otp.code_at(secret, at, POLICY)
        verifier, challenge = _pkce()
        url = _url(spa.client_id, challenge)
        page = _password(client, url)
        with table_unavailable(app, "user_sessions"):
            failed = _answer(client, url, page, answer)
        assert failed.status_code == 500
        assert "Set-Cookie" not in failed.headers or "acme" not in failed.headers.get("Set-Cookie", "")
        with app.extensions["scim_me"].db.connection_context():
            kinds = [e.kind for e in list_events(tenant.id, kim.id)]
        assert "mfa.backup_codes.used" not in kinds and "mfa.totp.validated" not in kinds
        assert client.get(f"{API}/backup-codes", headers=auth).json == {"remainingBackupCodesCount": 10}
        passed = _answer(client, url, page, answer)  # the same challenge, the same answer
        assert _id_token(app, client, spa, _code(passed), verifier)["amr"] == ["pwd", "otp"]
        remaining = 9 if factor == "backup_code" else 10
        assert client.get(f"{API}/backup-codes", headers=auth).json == {"remainingBackupCodesCount": remaining}

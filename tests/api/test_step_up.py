"""RFC 9470 step-up for the riskiest self-service actions: turning MFA off (TOTP delete, an
authenticator leaving the list), removing or regenerating backup codes, changing the e-mail
address and self-delete need a sign-in no older than the tenant's ``max_auth_age``.

- Stale (the token's ``auth_time`` older, or absent): 401 with RFC 9470 §3's challenge,
  ``WWW-Authenticate: Bearer error="insufficient_user_authentication", error_description="...",
  max_age="N"``, and the API family's own error body (SCIM error JSON, WSO2 ``{code, message,
  description, traceId}``); nothing changes.
- Fresh: the action runs. Off (``max_auth_age=0``, or the ``wso2`` dialect's default): it runs
  whatever the token's age, as WSO2 does.
- The ``rfc`` dialect's default is 300 seconds.
- The authorization request with ``max_age`` (OIDC Core §3.1.2.1) makes the user sign in again
  and yields a token that passes.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs
from urllib.parse import urlencode
from urllib.parse import urlsplit

import pytest
import time_machine

from scim_me.core import otp
from scim_me.core.schemas import WSO2_URN
from scim_me.storage.events import Actor
from scim_me.storage.tenants import STEP_UP_DEFAULTS
from scim_me.storage.tenants import TenantError
from scim_me.storage.tenants import TenantSettings
from scim_me.storage.tenants import validate_settings
from tests.factories import ERROR_URN
from tests.factories import assert_wso2_error
from tests.factories import basic
from tests.factories import bearer
from tests.factories import load_user
from tests.factories import make_tenant
from tests.factories import make_token
from tests.factories import make_user
from tests.factories import patch_body
from tests.support.privacy import PASSWORD
from tests.support.privacy import REDIRECT
from tests.support.privacy import make_spa

ME = "/t/acme/scim2/Me"
API = "/t/acme/api/users/v1/me"
SCIM_JSON = "application/scim+json"
MAX_AGE = 300
CHALLENGE = (
    'Bearer error="insufficient_user_authentication", '
    'error_description="A more recent authentication is required.", max_age="300"'
)
SCIM_DETAIL = "This action needs a recent sign-in. Sign in again (max_age=300) and retry with the new access token."


@dataclass(frozen=True)
class Action:
    name: str
    send: Callable[[Any, dict[str, str]], Any]
    family: str | None  # the WSO2 error family, None for SCIM
    done: Callable[[Any, Any], bool]  # (app, tenant-bound state) -> whether the action took effect


def _patch_emails(client: Any, headers: dict[str, str]) -> Any:
    op = {"op": "replace", "path": "emails", "value": [{"value": "kim@new.example", "primary": True}]}
    return client.patch(ME, json=patch_body(op), headers={**headers, "Content-Type": SCIM_JSON})


def _put_emails(client: Any, headers: dict[str, str]) -> Any:
    body = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "kim"}
    body["emails"] = [{"value": "kim@new.example", "primary": True}]
    return client.put(ME, json=body, headers={**headers, "Content-Type": SCIM_JSON})


def _emails_changed(world: World) -> bool:
    user = load_user(world.app, world.tenant, world.user_id)
    return user is not None and "kim@new.example" in str(user.profile.get("emails"))


def _deleted(world: World) -> bool:
    return load_user(world.app, world.tenant, world.user_id) is None


def _mfa(world: World) -> dict[str, Any]:
    return world.client.get(f"{API}/security", headers=bearer(world.fresh_token())).json["mfa"]


ACTIONS = [
    Action(
        "totp-delete",
        lambda c, h: c.delete(f"{API}/totp", headers=h),
        "TOTP",
        lambda w: not _mfa(w)["totpEnabled"],
    ),
    Action(
        "authenticator-removal",
        lambda c, h: c.post(f"{API}/mfa/authenticators", json={"enabledAuthenticators": "BackupCode"}, headers=h),
        "MFA",
        lambda w: _mfa(w)["enabledAuthenticators"] == "BackupCode",
    ),
    Action(
        "backup-codes-delete",
        lambda c, h: c.delete(f"{API}/backup-codes", headers=h),
        "BCA",
        lambda w: not _mfa(w)["backupCodeEnabled"],
    ),
    Action(
        "backup-codes-regenerate",
        lambda c, h: c.post(f"{API}/backup-codes", headers=h),
        "BCA",
        lambda w: _mfa(w)["remainingBackupCodesCount"] == 10 and w.backup_codes_spent(),
    ),
    Action("me-patch-emails", _patch_emails, None, _emails_changed),
    Action("me-put-emails", _put_emails, None, _emails_changed),
    Action("me-delete", lambda c, h: c.delete(ME, headers=h), None, _deleted),
]


@dataclass
class World:
    app: Any
    client: Any
    tenant: Any
    user_id: str
    first_backup_code: str

    def token(self, age: int | None) -> str:
        """An access token of kim whose sign-in was ``age`` seconds ago (None: no auth_time)."""
        user = load_user(self.app, self.tenant, self.user_id)
        if age is None:
            return make_token(self.app, self.tenant, user, extra={"auth_time": None})
        return make_token(self.app, self.tenant, user, extra={"auth_time": int(time.time()) - age})

    def fresh_token(self) -> str:
        return self.token(0)

    def backup_codes_spent(self) -> bool:
        """The code of the set made in setup no longer works: the set was replaced."""
        from scim_me.auth import mfa
        from scim_me.storage.mfa import get_state

        with self.app.app_context(), self.app.extensions["scim_me"].db.connection_context():
            before = get_state(self.tenant.id, self.user_id).backup_codes_remaining
            ctx = Actor("127.0.0.1", "pytest", None, "api")
            settings = self.app.extensions["scim_me"].settings
            verdict = mfa.verify_second_factor(settings, self.tenant.id, self.user_id, self.first_backup_code, ctx)
            return not verdict.ok and get_state(self.tenant.id, self.user_id).backup_codes_remaining == before


def _world(app: Any, client: Any, dialect: str = "wso2", **settings: Any) -> World:
    tenant = make_tenant(app, "acme", dialect=dialect, self_delete=True, **settings)
    kim = make_user(
        app, tenant, "kim", PASSWORD, emails=[{"value": "kim@example.com", "primary": True}], name={"givenName": "Kim"}
    )
    world = World(app, client, tenant, kim.id, "")
    auth = bearer(world.fresh_token())
    assert client.post(f"{API}/totp", json={"action": "INIT"}, headers=auth).status_code == 200
    secret = client.get(f"{API}/totp/secret", headers=auth).json["secret"]
    code = otp.code_at(secret, time.time(), otp.TotpPolicy())
    valid = client.post(f"{API}/totp", json={"action": "VALIDATE", "verificationCode": code}, headers=auth)
    assert valid.json == {"isValid": True}, valid.json
    codes = client.post(f"{API}/backup-codes", headers=auth)
    assert codes.status_code == 200, codes.json
    world.first_backup_code = codes.json["backupCodes"][0]
    chosen = client.post(f"{API}/mfa/authenticators", json={"enabledAuthenticators": "TOTP,BackupCode"}, headers=auth)
    assert chosen.status_code == 200, chosen.json
    return world


def _assert_refused(response: Any, action: Action) -> None:
    assert response.status_code == 401, response.get_data(as_text=True)
    assert response.headers["WWW-Authenticate"] == CHALLENGE
    if action.family is None:
        assert response.mimetype == SCIM_JSON
        assert response.json == {"schemas": [ERROR_URN], "status": "401", "detail": SCIM_DETAIL}
    else:
        body = assert_wso2_error(response, 401, f"{action.family}-60001")
        assert body["message"] == "Re-authentication required."
        assert body["description"] == SCIM_DETAIL


@pytest.mark.parametrize("action", ACTIONS, ids=lambda a: a.name)
def test_a_stale_sign_in_is_refused_with_the_rfc_9470_challenge(app, client, action):
    world = _world(app, client, max_auth_age=MAX_AGE)
    _assert_refused(action.send(client, bearer(world.token(MAX_AGE + 60))), action)
    _assert_refused(action.send(client, bearer(world.token(None))), action)  # no auth_time: age unknown
    assert not action.done(world)  # nothing changed


@pytest.mark.parametrize("action", ACTIONS, ids=lambda a: a.name)
def test_a_recent_sign_in_is_allowed(app, client, action):
    world = _world(app, client, max_auth_age=MAX_AGE)
    response = action.send(client, bearer(world.token(MAX_AGE - 60)))
    assert response.status_code in (200, 204), response.get_data(as_text=True)
    assert action.done(world)


@pytest.mark.parametrize("action", ACTIONS, ids=lambda a: a.name)
@pytest.mark.parametrize("settings", [{"max_auth_age": 0}, {}], ids=["off", "wso2-default"])
def test_with_the_setting_off_any_sign_in_age_is_allowed(app, client, action, settings):
    world = _world(app, client, **settings)
    response = action.send(client, bearer(world.token(86_400)))
    assert response.status_code in (200, 204), response.get_data(as_text=True)
    assert action.done(world)


def test_the_rfc_dialect_defaults_to_five_minutes(app, client):
    world = _world(app, client, dialect="rfc")
    assert world.tenant.max_auth_age == STEP_UP_DEFAULTS["rfc"] == MAX_AGE
    _assert_refused(client.delete(f"{API}/totp", headers=bearer(world.token(MAX_AGE + 1))), ACTIONS[0])
    assert client.delete(f"{API}/totp", headers=bearer(world.token(MAX_AGE - 5))).status_code == 200


def test_only_the_risky_changes_need_a_recent_sign_in(app, client):
    """A PATCH that leaves the e-mail addresses alone, and adding an authenticator, are not
    step-up actions; reading is not either."""
    world = _world(app, client, max_auth_age=MAX_AGE)
    stale = bearer(world.token(3600))
    nick = client.patch(
        ME,
        json=patch_body({"op": "replace", "path": "nickName", "value": "kimmy"}),
        headers={**stale, "Content-Type": SCIM_JSON},
    )
    assert nick.status_code == 200, nick.json
    same = client.patch(
        ME,
        json=patch_body({"op": "replace", "path": "emails", "value": [{"value": "kim@example.com", "primary": True}]}),
        headers={**stale, "Content-Type": SCIM_JSON},
    )
    assert same.status_code == 200, same.json  # the same addresses: nothing changes
    assert client.get(ME, headers=stale).status_code == 200
    for value in ("", "TOTP,BackupCode,Fido"):  # "" clears the choice (the set-up ones); adding one
        kept = client.post(f"{API}/mfa/authenticators", json={"enabledAuthenticators": value}, headers=stale)
        assert kept.status_code == 200, (value, kept.json)


def test_a_stale_token_that_fails_another_check_first_gets_that_error(app, client):
    """Self-delete on a tenant that does not allow it stays 403: the step-up comes after it."""
    tenant = make_tenant(app, "acme", max_auth_age=MAX_AGE)
    kim = make_user(app, tenant, "kim", PASSWORD)
    stale = make_token(app, tenant, kim, extra={"auth_time": int(time.time()) - 3600})
    assert client.delete(ME, headers=bearer(stale)).status_code == 403


def test_http_basic_proves_the_password_on_the_request_itself(app, client):
    tenant = make_tenant(app, "acme", max_auth_age=MAX_AGE, self_delete=True)
    make_user(app, tenant, "kim", PASSWORD)
    assert client.delete(ME, headers=basic("kim", PASSWORD)).status_code == 204


@pytest.mark.parametrize("value", [-1, True, "300"])
def test_max_auth_age_is_a_whole_number_of_seconds(value):
    with pytest.raises(TenantError):
        validate_settings(TenantSettings(max_auth_age=value))


def test_the_setting_defaults_to_the_dialects_choice():
    assert TenantSettings().max_auth_age is None
    assert STEP_UP_DEFAULTS == {"wso2": 0, "rfc": 300}


# -- the client's way out: max_age on the authorization request -----------------------------------


def _pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def _authorize(browser: Any, spa: Any, **extra: str) -> tuple[Any, str]:
    """Run /oauth2/authorize (signing in when the page asks) and redeem the code."""
    verifier, challenge = _pkce()
    params = {
        "response_type": "code",
        "client_id": spa.client_id,
        "redirect_uri": REDIRECT,
        "scope": "openid internal_login",
        "state": "st",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        **extra,
    }
    url = f"/t/acme/oauth2/authorize?{urlencode(params)}"
    page = browser.get(url)
    asked = page.status_code == 200 and 'name="password"' in page.get_data(as_text=True)
    if asked:
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True))
        assert csrf
        form = {"csrf_token": csrf.group(1), "action": "login", "username": "kim", "password": PASSWORD}
        page = browser.post(url, data=form)
    assert page.status_code == 302, page.get_data(as_text=True)
    code = parse_qs(urlsplit(page.headers["Location"]).query)["code"][0]
    tokens = browser.post(
        "/t/acme/oauth2/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT,
            "client_id": spa.client_id,
            "code_verifier": verifier,
        },
    )
    assert tokens.status_code == 200, tokens.json
    return tokens, "asked" if asked else "silent"


def test_authorize_with_max_age_gives_a_token_that_passes(app):
    """The client's answer to the challenge: the same authorization request with the challenge's
    ``max_age``. The browser's session is older, so the user signs in again; the new token's
    ``auth_time`` is that sign-in, and the refused action now runs."""
    tenant = make_tenant(app, "acme", max_auth_age=MAX_AGE)
    make_user(app, tenant, "kim", PASSWORD, emails=[{"value": "kim@example.com", "primary": True}])
    spa = make_spa(app, tenant)
    browser = app.test_client()
    start = datetime.now(UTC).replace(microsecond=0)
    with time_machine.travel(start, tick=False) as clock:
        tokens, how = _authorize(browser, spa)
        assert how == "asked"
        clock.shift(timedelta(minutes=10))  # still signed in, but longer ago than max_auth_age
        refused = _patch_emails(browser, bearer(tokens.json["access_token"]))
        assert refused.status_code == 401 and refused.headers["WWW-Authenticate"] == CHALLENGE
        _silent, how = _authorize(browser, spa)
        assert how == "silent"  # without max_age the session is enough, and the token as stale
        max_age = re.search(r'max_age="(\d+)"', refused.headers["WWW-Authenticate"])
        assert max_age
        fresh, how = _authorize(browser, spa, max_age=max_age.group(1))
        assert how == "asked"  # OIDC Core §3.1.2.1: the OP re-authenticates
        changed = _patch_emails(browser, bearer(fresh.json["access_token"]))
        assert changed.status_code == 200, changed.json
        assert changed.json["emails"] == ["kim@new.example"]


def test_prompt_login_also_gives_a_token_that_passes(app):
    tenant = make_tenant(app, "acme", max_auth_age=MAX_AGE, self_delete=True)
    make_user(app, tenant, "kim", PASSWORD, **{WSO2_URN: {}})
    spa = make_spa(app, tenant)
    browser = app.test_client()
    start = datetime.now(UTC).replace(microsecond=0)
    with time_machine.travel(start, tick=False) as clock:
        tokens, _how = _authorize(browser, spa)
        clock.shift(timedelta(hours=1))
        assert browser.delete(ME, headers=bearer(tokens.json["access_token"])).status_code == 401
        fresh, how = _authorize(browser, spa, prompt="login")
        assert how == "asked"
        assert browser.delete(ME, headers=bearer(fresh.json["access_token"])).status_code == 204

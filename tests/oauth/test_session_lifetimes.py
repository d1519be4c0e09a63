"""Sign-in sessions end server-side: an idle and an absolute lifetime (tenant settings,
``session_idle_minutes`` default 60, ``session_absolute_hours`` default 12; NIST SP 800-63B-4
AAL2 reauthentication and ASVS 7.3.1/7.3.2). An expired session no longer signs anybody in (``prompt=none``
included), its tokens end as on sign-out, and the sessions API lists only live sessions.
Both backends; the clock is moved with time_machine, never waited for."""

from __future__ import annotations

from datetime import UTC
from datetime import datetime
from datetime import timedelta
from urllib.parse import parse_qs
from urllib.parse import urlencode
from urllib.parse import urlsplit

import pytest
import time_machine

from scim_me.storage.tenants import TenantError
from scim_me.storage.tenants import TenantSettings
from scim_me.storage.tenants import validate_settings
from tests.factories import bearer
from tests.factories import make_tenant
from tests.factories import make_token
from tests.factories import make_user
from tests.support.privacy import PASSWORD
from tests.support.privacy import REDIRECT
from tests.support.privacy import make_spa
from tests.support.privacy import sign_in

AUTHORIZE = "/t/acme/oauth2/authorize"
TOKEN = "/t/acme/oauth2/token"
ME = "/t/acme/scim2/Me"
SESSIONS = "/t/acme/api/users/v1/me/sessions"


@pytest.fixture
def start():
    return datetime.now(UTC).replace(microsecond=0)


def _tenant(app, **settings):
    tenant = make_tenant(app, "acme", **settings)
    make_user(app, tenant, "kim", PASSWORD)
    return tenant, make_spa(app, tenant, "Portal")


def _silent(browser, spa):
    """``prompt=none``: the query of the redirect back to the app (a code or an error)."""
    params = {
        "response_type": "code",
        "client_id": spa.client_id,
        "redirect_uri": REDIRECT,
        "scope": "openid internal_login",
        "state": "st",
        "code_challenge": "x" * 43,
        "code_challenge_method": "S256",
        "prompt": "none",
    }
    response = browser.get(f"{AUTHORIZE}?{urlencode(params)}")
    assert response.status_code == 302, response.get_data(as_text=True)
    return parse_qs(urlsplit(response.headers["Location"]).query)


def _refresh(browser, signed):
    data = {"grant_type": "refresh_token", "refresh_token": signed.refresh_token, "client_id": signed.client.client_id}
    return browser.post(TOKEN, data=data)


def test_an_idle_session_expires_with_its_tokens(app, start):
    tenant, spa = _tenant(app)
    with time_machine.travel(start, tick=False) as clock:
        signed = sign_in(app, tenant, spa, "kim")
        clock.shift(timedelta(minutes=59))
        assert "code" in _silent(signed.browser, spa)  # used: the idle clock starts again
        clock.shift(timedelta(minutes=61))
        assert _silent(signed.browser, spa)["error"] == ["login_required"]
        assert signed.browser.get(ME, headers=signed.headers).status_code == 401
        assert _refresh(signed.browser, signed).status_code == 400


def test_a_refresh_is_a_use_of_the_session(app, start):
    """An app that keeps refreshing its tokens keeps its sign-in session alive (and the browser's
    single sign-on with it) until the absolute lifetime."""
    tenant, spa = _tenant(app)
    with time_machine.travel(start, tick=False) as clock:
        signed = sign_in(app, tenant, spa, "kim")
        clock.shift(timedelta(minutes=50))
        refreshed = _refresh(signed.browser, signed)
        assert refreshed.status_code == 200
        clock.shift(timedelta(minutes=50))  # 100 minutes after the sign-in, 50 after the refresh
        assert "code" in _silent(signed.browser, spa)


def test_an_active_session_ends_at_its_absolute_lifetime(app, start):
    tenant, spa = _tenant(app, session_absolute_hours=1)
    with time_machine.travel(start, tick=False) as clock:
        signed = sign_in(app, tenant, spa, "kim")
        for _ in range(2):
            clock.shift(timedelta(minutes=25))
            assert "code" in _silent(signed.browser, spa)
        clock.shift(timedelta(minutes=11))  # 61 minutes after sign-in, 11 after the last use
        assert _silent(signed.browser, spa)["error"] == ["login_required"]
        assert signed.browser.get(ME, headers=signed.headers).status_code == 401


def test_a_refresh_after_the_session_expired_is_refused(app, start):
    tenant, spa = _tenant(app)
    with time_machine.travel(start, tick=False) as clock:
        signed = sign_in(app, tenant, spa, "kim")
        clock.shift(timedelta(minutes=61))
        refused = _refresh(signed.browser, signed)
        assert refused.status_code == 400
        assert refused.json["error"] == "invalid_grant"
        assert signed.browser.get(ME, headers=signed.headers).status_code == 401


def test_an_access_token_ends_with_its_idle_session_before_its_own_expiry(app, start):
    """The token is still within its hour, but its session has been idle longer than the
    tenant allows: the bearer lookup itself notices (no browser visit, no refresh needed), ends
    the session as a sign-out does, and the refresh token dies with it."""
    tenant, spa = _tenant(app, session_idle_minutes=10)
    with time_machine.travel(start, tick=False) as clock:
        signed = sign_in(app, tenant, spa, "kim")
        clock.shift(timedelta(minutes=9))
        assert signed.browser.get(ME, headers=signed.headers).status_code == 200
        clock.shift(timedelta(minutes=2))  # 11 minutes without a browser visit or a refresh
        refused = signed.browser.get(ME, headers=signed.headers)
        assert refused.status_code == 401
        assert refused.json["detail"].endswith("The sign-in session of this access token has expired.")
        assert 'error="invalid_token"' in refused.headers["WWW-Authenticate"]
        assert _refresh(signed.browser, signed).json["error"] == "invalid_grant"
        token = make_token(app, tenant, _kim(app, tenant))
        assert app.test_client().get(SESSIONS, headers=bearer(token)).json == {}  # WSO2: {} for none


def test_an_access_token_ends_at_its_sessions_absolute_lifetime(app, start):
    """A refresh keeps the session in use, but not past the absolute lifetime: the access token
    the last refresh gave is refused from then on, though it has not expired."""
    tenant, spa = _tenant(app, session_absolute_hours=1)
    with time_machine.travel(start, tick=False) as clock:
        signed = sign_in(app, tenant, spa, "kim")
        clock.shift(timedelta(minutes=50))
        refreshed = _refresh(signed.browser, signed)
        assert refreshed.status_code == 200
        headers = bearer(refreshed.json["access_token"])
        assert signed.browser.get(ME, headers=headers).status_code == 200
        clock.shift(timedelta(minutes=11))  # 61 minutes after the sign-in, 11 after the refresh
        assert signed.browser.get(ME, headers=headers).status_code == 401
        assert _refresh(signed.browser, refreshed_as(signed, refreshed)).json["error"] == "invalid_grant"


def test_a_token_without_a_session_is_governed_by_its_expiry_alone(app, start):
    """Password-grant tokens have no sign-in session: the session lifetimes do not apply."""
    tenant, _spa = _tenant(app, session_idle_minutes=10)
    with time_machine.travel(start, tick=False) as clock:
        token = password_grant_token(app, tenant)
        clock.shift(timedelta(minutes=59))
        assert app.test_client().get(ME, headers=bearer(token)).status_code == 200


def test_introspection_reports_a_token_of_an_expired_session_inactive(app, start):
    """RFC 7662 §2.2: a token that can no longer be used is ``{"active": false}``; its session
    outlived the idle lifetime, so the token is over although its exp has not passed."""
    tenant, _spa = _tenant(app, session_idle_minutes=10)
    from scim_me.storage.clients import create_client

    with app.extensions["scim_me"].db.connection_context():
        web, secret = create_client(
            tenant.id,
            "Web app",
            public=False,
            first_party=True,
            redirect_uris=[REDIRECT],
            allowed_origins=[],
            grant_types=["authorization_code"],
        )
    with time_machine.travel(start, tick=False) as clock:
        token = _code_flow_token(app, web, secret)

        def introspect():
            return app.test_client().post(
                "/t/acme/oauth2/introspect", data={"token": token}, auth=(web.client_id, secret)
            )

        assert introspect().json["active"] is True
        clock.shift(timedelta(minutes=11))
        assert introspect().json == {"active": False}
        assert app.test_client().get(ME, headers=bearer(token)).status_code == 401


def _code_flow_token(app, web, secret):
    import base64
    import hashlib
    import re
    import secrets

    browser = app.test_client()
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    params = {
        "response_type": "code",
        "client_id": web.client_id,
        "redirect_uri": REDIRECT,
        "scope": "openid internal_login",
        "state": "st",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    url = f"{AUTHORIZE}?{urlencode(params)}"
    page = browser.get(url)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True))
    assert csrf
    form = {"csrf_token": csrf.group(1), "action": "login", "username": "kim", "password": PASSWORD}
    page = browser.post(url, data=form)
    assert page.status_code == 302, page.get_data(as_text=True)
    code = parse_qs(urlsplit(page.headers["Location"]).query)["code"][0]
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT, "code_verifier": verifier}
    tokens = browser.post(TOKEN, data=data, auth=(web.client_id, secret))
    assert tokens.status_code == 200, tokens.json
    return tokens.json["access_token"]


def refreshed_as(signed, refreshed):
    return type(signed)(signed.browser, refreshed.json["access_token"], refreshed.json["refresh_token"], signed.client)


def password_grant_token(app, tenant):
    from scim_me.storage.clients import create_client

    with app.extensions["scim_me"].db.connection_context():
        client, secret = create_client(
            tenant.id, "script", public=False, grant_types=["password"], redirect_uris=[], allowed_origins=[]
        )
    response = app.test_client().post(
        TOKEN,
        data={"grant_type": "password", "username": "kim", "password": PASSWORD, "scope": "internal_login"},
        auth=(client.client_id, secret),
    )
    assert response.status_code == 200, response.json
    return response.json["access_token"]


def test_the_sessions_api_lists_only_live_sessions(app, start):
    tenant, spa = _tenant(app)
    with time_machine.travel(start, tick=False) as clock:
        old = sign_in(app, tenant, spa, "kim", user_agent="Old/1.0")
        clock.shift(timedelta(minutes=45))
        sign_in(app, tenant, spa, "kim", user_agent="New/1.0")
        clock.shift(timedelta(minutes=20))  # Old idle for 65 minutes, New for 20
        token = make_token(app, tenant, _kim(app, tenant))
        listed = app.test_client().get(SESSIONS, headers=bearer(token)).json["sessions"]
        assert [s["userAgent"] for s in listed] == ["New/1.0"]
        gone = app.test_client().delete(f"{SESSIONS}/{_session_id(app, tenant, old)}", headers=bearer(token))
        assert gone.status_code == 404


def _kim(app, tenant):
    from scim_me.storage.users import find_user

    with app.extensions["scim_me"].db.connection_context():
        return find_user(tenant.id, "kim")


def _session_id(app, tenant, signed):
    from scim_me.auth.tokens import unverified_claim
    from scim_me.storage.sessions import session_of_token

    with app.extensions["scim_me"].db.connection_context():
        return session_of_token(unverified_claim(signed.access_token, "jti"))


@pytest.mark.parametrize("name", ["session_idle_minutes", "session_absolute_hours"])
@pytest.mark.parametrize("value", [0, -1, True])
def test_lifetimes_are_positive_whole_numbers(name, value):
    with pytest.raises(TenantError):
        validate_settings(TenantSettings(**{name: value}))


def test_the_defaults_are_60_minutes_idle_and_12_hours_absolute():
    settings = TenantSettings()
    assert (settings.session_idle_minutes, settings.session_absolute_hours) == (60, 12)

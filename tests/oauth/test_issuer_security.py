"""Issue 3 acceptance 2: the issuer's security cases, through the real endpoints, on both backends.

Every case is refused with the error its RFC names - RFC 6749 §4.1.2.1 at the authorization
endpoint (redirected to the client only once its redirect URI is validated), RFC 6749 §5.2 at
the token endpoint, RFC 6750 §3.1 (a SCIM 401 with ``WWW-Authenticate: Bearer
error="invalid_token"``) at /scim2/Me - and none answers a 500.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
import time
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs
from urllib.parse import urlencode
from urllib.parse import urlsplit

import pytest
import time_machine

from scim_me.oauth import server
from scim_me.storage.clients import create_client
from tests.factories import ERROR_URN
from tests.factories import SCIM_JSON
from tests.factories import bearer
from tests.factories import make_tenant
from tests.factories import make_token
from tests.factories import make_user
from tests.support.apps import build_app
from tests.support.faults import table_unavailable

PASSWORD = "correct-horse-9"
REDIRECT = "http://localhost:5173/callback"
AUTHORIZE = "/t/acme/oauth2/authorize"
TOKEN = "/t/acme/oauth2/token"
ME = "/t/acme/scim2/Me"
ISSUER = "http://localhost/t/acme/oauth2/token"
DISCOVERY = "/t/acme/oauth2/token/.well-known/openid-configuration"
LEEWAY = 30  # Settings.token_leeway default


@pytest.fixture
def tenant(app):
    return make_tenant(app, "acme")


@pytest.fixture
def kim(app, tenant):
    return make_user(app, tenant, "kim", PASSWORD)


def _register(app, tenant, *, first_party=True, public=True, grants=("authorization_code", "refresh_token")):
    with app.extensions["scim_me"].db.connection_context():
        return create_client(
            tenant.id,
            "SPA" if first_party else "Third party",
            public=public,
            first_party=first_party,
            redirect_uris=[REDIRECT],
            allowed_origins=["http://localhost:5173"],
            grant_types=list(grants),
            scope="openid internal_login profile email",
        )


@pytest.fixture
def spa(app, tenant):
    return _register(app, tenant)[0]


@pytest.fixture
def postman(app, tenant):
    record, secret = _register(app, tenant, public=False, grants=("password", "refresh_token"))
    raw = base64.b64encode(f"{record.client_id}:{secret}".encode()).decode()
    return record, {"Authorization": f"Basic {raw}"}


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def _params(client_id: str, challenge: str | None, **extra: Any) -> dict[str, str]:
    params = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": REDIRECT,
        "scope": "openid internal_login",
        "state": "st-123",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    params.update(extra)
    return {k: v for k, v in params.items() if v is not None}


def _csrf(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, html
    return match.group(1)


def _sign_in(client, params, password=PASSWORD):
    url = f"{AUTHORIZE}?{urlencode(params)}"
    page = client.get(url)
    assert page.status_code == 200, page.get_data(as_text=True)
    assert 'name="password"' in page.get_data(as_text=True)
    html = page.get_data(as_text=True)
    form = {"csrf_token": _csrf(html), "action": "login", "username": "kim", "password": password}
    return client.post(url, data=form)


def _redirect_query(response) -> dict[str, list[str]]:
    assert response.status_code == 302, response.get_data(as_text=True)
    location = urlsplit(response.headers["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == REDIRECT
    return parse_qs(location.query)


def _code(response) -> str:
    query = _redirect_query(response)
    assert query["state"] == ["st-123"]
    assert query["iss"] == [ISSUER]  # RFC 9207 §2
    return query["code"][0]


def _exchange(client, spa, code, verifier=None, **extra):
    data = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT,
        "client_id": spa.client_id,
        "code_verifier": verifier,
    }
    data.update(extra)
    return client.post(TOKEN, data={k: v for k, v in data.items() if v is not None})


def _refresh(client, refresh_token, client_id=None, headers=None):
    data = {"grant_type": "refresh_token", "refresh_token": refresh_token}
    if client_id:
        data["client_id"] = client_id
    return client.post(TOKEN, data=data, headers=headers or {})


def _password_grant(client, headers, **extra):
    data = {"grant_type": "password", "username": "kim", "password": PASSWORD, "scope": "openid internal_login"}
    data.update(extra)
    return client.post(TOKEN, data=data, headers=headers)


def assert_oauth_error(response, error: str, status: int = 400) -> None:
    """RFC 6749 §5.2: a JSON error object, never cached."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    assert response.json["error"] == error, response.json
    assert "access_token" not in response.json
    assert response.headers["Cache-Control"] == "no-store"


def assert_invalid_token(response) -> None:
    """RFC 6750 §3.1 as a SCIM error (RFC 7644 §3.12)."""
    assert response.status_code == 401, response.get_data(as_text=True)
    assert response.mimetype == SCIM_JSON
    assert response.json["schemas"] == [ERROR_URN]
    assert response.json["status"] == "401"
    assert response.headers["WWW-Authenticate"].startswith('Bearer realm="scim-me", error="invalid_token"')


def assert_error_page(response) -> None:
    """RFC 6749 §4.1.2.1: an untrustworthy request is explained, never redirected."""
    assert response.status_code == 400, response.get_data(as_text=True)
    assert response.mimetype == "text/html"
    assert "Location" not in response.headers


# --- PKCE (RFC 7636, RFC 9700 §2.1.1) ---------------------------------------------------------


def test_the_right_verifier_is_accepted(client, kim, spa):
    verifier, challenge = pkce()
    code = _code(_sign_in(client, _params(spa.client_id, challenge)))
    tokens = _exchange(client, spa, code, verifier)
    assert tokens.status_code == 200, tokens.json
    assert client.get(ME, headers=bearer(tokens.json["access_token"])).status_code == 200


def test_a_wrong_verifier_is_invalid_grant(client, kim, spa):
    """RFC 7636 §4.6: a verifier that does not match the challenge is invalid_grant."""
    _, challenge = pkce()
    code = _code(_sign_in(client, _params(spa.client_id, challenge)))
    assert_oauth_error(_exchange(client, spa, code, secrets.token_urlsafe(48)), "invalid_grant")


def test_a_missing_verifier_is_invalid_request(client, kim, spa):
    """RFC 6749 §5.2: a required parameter is missing (the code was issued for a challenge)."""
    _, challenge = pkce()
    code = _code(_sign_in(client, _params(spa.client_id, challenge)))
    assert_oauth_error(_exchange(client, spa, code, None), "invalid_request")


@pytest.mark.parametrize("length", [42, 129])
def test_a_verifier_outside_43_to_128_characters_is_refused(client, kim, spa, length):
    """RFC 7636 §4.1: 43 to 128 unreserved characters."""
    verifier = "a" * length
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    code = _code(_sign_in(client, _params(spa.client_id, challenge)))
    response = _exchange(client, spa, code, verifier)
    assert response.status_code == 400
    assert response.json["error"] in ("invalid_request", "invalid_grant")


@pytest.mark.parametrize(
    "change",
    [
        {"code_challenge": None, "code_challenge_method": None},
        {"code_challenge_method": "plain"},
        {"code_challenge_method": None},
        {"code_challenge_method": "S512"},
    ],
    ids=["no-challenge", "plain", "missing-method", "unknown-method"],
)
def test_pkce_other_than_s256_is_invalid_request_at_the_client(client, kim, spa, change):
    """RFC 9700 §2.1.1: S256 only; authlib would default a missing method to plain."""
    _, challenge = pkce()
    response = client.get(f"{AUTHORIZE}?{urlencode(_params(spa.client_id, challenge, **change))}")
    query = _redirect_query(response)
    assert query["error"] == ["invalid_request"]
    assert query["state"] == ["st-123"]
    assert query["iss"] == [ISSUER]
    assert "code" not in query


# --- redirect URI (RFC 6749 §3.1.2, §4.1.3; RFC 9700 §2.1) ------------------------------------


@pytest.mark.parametrize(
    "redirect_uri",
    ["http://localhost:5173/callback/", "http://LOCALHOST:5173/callback", "http://localhost:5174/callback",
     "https://localhost:5173/callback", "http://localhost:5173/callback?x=1", "http://localhost:5173/callback#f",
     "http://localhost:5173/callback.evil.example", "http://user@localhost:5173/callback",
     "http://localhost:5173/%63allback", "https://evil.example/callback"],
)  # fmt: skip
def test_an_unregistered_redirect_uri_gets_an_error_page_not_a_redirect(client, kim, spa, redirect_uri):
    _, challenge = pkce()
    response = client.get(f"{AUTHORIZE}?{urlencode(_params(spa.client_id, challenge, redirect_uri=redirect_uri))}")
    assert_error_page(response)


def test_a_code_exchanged_with_another_redirect_uri_is_invalid_grant(app, client, tenant, kim):
    """RFC 6749 §4.1.3: the redirect_uri of the token request must be identical to the one the
    code was issued for."""
    with app.extensions["scim_me"].db.connection_context():
        spa, _ = create_client(
            tenant.id, "two uris", public=True, first_party=True,
            redirect_uris=[REDIRECT, "http://localhost:5173/other"], allowed_origins=[],
            grant_types=["authorization_code"], scope="openid internal_login",
        )  # fmt: skip
    verifier, challenge = pkce()
    code = _code(_sign_in(client, _params(spa.client_id, challenge)))
    response = _exchange(client, spa, code, verifier, redirect_uri="http://localhost:5173/other")
    assert_oauth_error(response, "invalid_grant")


def test_a_code_of_another_client_is_invalid_grant(app, client, tenant, kim, spa):
    other, _ = _register(app, tenant)
    verifier, challenge = pkce()
    code = _code(_sign_in(client, _params(spa.client_id, challenge)))
    assert_oauth_error(_exchange(client, other, code, verifier), "invalid_grant")


# --- duplicate parameters (RFC 6749 §3.1, §3.2) -----------------------------------------------


@pytest.mark.parametrize("name", ["code_challenge", "redirect_uri", "scope", "prompt", "nonce", "response_type"])
def test_a_repeated_authorization_parameter_is_invalid_request(client, kim, spa, name):
    _, challenge = pkce()
    params = list(_params(spa.client_id, challenge, prompt="login", nonce="n1").items())
    params.append((name, dict(params)[name] + "x"))
    response = client.get(f"{AUTHORIZE}?{urlencode(params)}")
    assert_error_page(response)
    assert "repeated" in response.get_data(as_text=True)


@pytest.mark.parametrize("name", ["code", "code_verifier", "redirect_uri", "grant_type", "client_id"])
def test_a_repeated_token_parameter_is_invalid_request(client, kim, spa, name):
    verifier, challenge = pkce()
    code = _code(_sign_in(client, _params(spa.client_id, challenge)))
    form = [
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", REDIRECT),
        ("client_id", spa.client_id),
        ("code_verifier", verifier),
    ]
    form.append((name, dict(form)[name]))  # even the same value twice
    body = urlencode(form)
    response = client.post(TOKEN, data=body, content_type="application/x-www-form-urlencoded")
    assert_oauth_error(response, "invalid_request")
    assert name in response.json["error_description"]
    # The code was not spent: the well-formed request still works.
    assert _exchange(client, spa, code, verifier).status_code == 200


def test_a_repeated_password_grant_parameter_is_invalid_request(client, kim, postman):
    _, auth = postman
    body = urlencode([("grant_type", "password"), ("username", "kim"), ("username", "admin"), ("password", PASSWORD)])
    response = client.post(TOKEN, data=body, content_type="application/x-www-form-urlencoded", headers=auth)
    assert_oauth_error(response, "invalid_request")


# --- codes (RFC 6749 §4.1.2, §10.5) -----------------------------------------------------------


def test_a_replayed_code_is_invalid_grant_and_kills_the_first_tokens(client, kim, spa):
    verifier, challenge = pkce()
    code = _code(_sign_in(client, _params(spa.client_id, challenge)))
    first = _exchange(client, spa, code, verifier).json
    assert client.get(ME, headers=bearer(first["access_token"])).status_code == 200
    assert_oauth_error(_exchange(client, spa, code, verifier), "invalid_grant")
    assert_invalid_token(client.get(ME, headers=bearer(first["access_token"])))
    assert_oauth_error(_refresh(client, first["refresh_token"], spa.client_id), "invalid_grant")


def test_an_exchange_that_fails_before_its_commit_leaves_the_code_unspent(app, client, kim, spa):
    """The code is spent in the transaction that stores the grant and tokens it buys: when
    storing them fails, the code is still good and the client's retry gets the tokens. Once it
    has, the code is spent as before (a replay is invalid_grant and revokes them)."""
    verifier, challenge = pkce()
    code = _code(_sign_in(client, _params(spa.client_id, challenge)))
    with table_unavailable(app, "oauth_refresh_tokens"):
        failed = _exchange(client, spa, code, verifier)
    assert failed.status_code == 500 and "access_token" not in failed.get_data(as_text=True)
    retried = _exchange(client, spa, code, verifier)
    assert retried.status_code == 200, retried.json
    assert client.get(ME, headers=bearer(retried.json["access_token"])).status_code == 200
    assert_oauth_error(_exchange(client, spa, code, verifier), "invalid_grant")
    assert_invalid_token(client.get(ME, headers=bearer(retried.json["access_token"])))


def test_an_expired_code_is_invalid_grant(client, kim, spa):
    verifier, challenge = pkce()
    code = _code(_sign_in(client, _params(spa.client_id, challenge)))
    with time_machine.travel(timedelta(seconds=301)):  # code_lifetime default: 300 s (WSO2)
        assert_oauth_error(_exchange(client, spa, code, verifier), "invalid_grant")


# --- refresh tokens (RFC 9700 §2.2.2, §4.14) --------------------------------------------------


def test_a_replayed_refresh_token_revokes_the_whole_grant(client, kim, postman):
    _, auth = postman
    first = _password_grant(client, auth).json
    rotated = _refresh(client, first["refresh_token"], headers=auth).json
    assert_oauth_error(_refresh(client, first["refresh_token"], headers=auth), "invalid_grant")
    for access_token in (first["access_token"], rotated["access_token"]):
        assert_invalid_token(client.get(ME, headers=bearer(access_token)))
    assert_oauth_error(_refresh(client, rotated["refresh_token"], headers=auth), "invalid_grant")


def test_a_refresh_whose_tokens_cannot_be_stored_leaves_the_refresh_token_usable(app, client, kim, postman):
    """The presented token is spent in the transaction that stores its successors: a failure
    there answers 500 and spends nothing, so the client's retry works instead of looking like a
    reuse that ends the grant (and signs the user out)."""
    from tests.support.faults import table_unavailable

    _, auth = postman
    first = _password_grant(client, auth).json
    with table_unavailable(app, "oauth_access_tokens"):
        failed = _refresh(client, first["refresh_token"], headers=auth)
    assert failed.status_code == 500
    retried = _refresh(client, first["refresh_token"], headers=auth)
    assert retried.status_code == 200, retried.json
    assert client.get(ME, headers=bearer(retried.json["access_token"])).status_code == 200


def test_two_refreshes_racing_with_one_token_end_the_grant(app, client, kim, postman, monkeypatch):
    """RFC 9700 §4.14.2: of two requests that read the same unspent token, the one that loses the
    spend inside its transaction is a reuse: nothing is stored for it and the grant ends."""
    from scim_me.storage.grants import digest
    from scim_me.storage.grants import spend_refresh_token

    _, auth = postman
    first = _password_grant(client, auth).json
    db = app.extensions["scim_me"].db
    real_find = server.find_refresh_token

    def find_then_lose(token, client_pk):
        lookup = real_find(token, client_pk)
        with app.app_context(), db.connection_context():  # the other request spends it meanwhile
            assert spend_refresh_token(digest(token))
        return lookup

    monkeypatch.setattr(server, "find_refresh_token", find_then_lose)
    raced = _refresh(client, first["refresh_token"], headers=auth)
    assert_oauth_error(raced, "invalid_grant")
    assert_invalid_token(client.get(ME, headers=bearer(first["access_token"])))


def test_an_expired_refresh_token_is_invalid_grant(client, kim, postman):
    _, auth = postman
    issued = _password_grant(client, auth).json
    with time_machine.travel(timedelta(days=1, seconds=1)):  # refresh_token_lifetime default: 1 day
        assert_oauth_error(_refresh(client, issued["refresh_token"], headers=auth), "invalid_grant")


def test_rotation_does_not_extend_a_grant_past_its_absolute_lifetime(client, kim, postman):
    """A client refreshing every 23 h keeps its grant for 7 days (the default), not forever."""
    _, auth = postman
    refresh_token = _password_grant(client, auth).json["refresh_token"]
    for day in range(1, 8):
        with time_machine.travel(timedelta(hours=23 * day)):
            response = _refresh(client, refresh_token, headers=auth)
        if 23 * day < 7 * 24:
            assert response.status_code == 200, (day, response.json)
            refresh_token = response.json["refresh_token"]
    with time_machine.travel(timedelta(days=7, seconds=1)):
        assert_oauth_error(_refresh(client, refresh_token, headers=auth), "invalid_grant")


def test_the_absolute_lifetime_is_configurable(database_url, tmp_path):
    app = build_app(database_url, tmp_path, refresh_token_absolute_lifetime=7200)
    try:
        tenant = make_tenant(app, "acme")
        make_user(app, tenant, "kim", PASSWORD)
        record, secret = _register(app, tenant, public=False, grants=("password", "refresh_token"))
        auth = {"Authorization": "Basic " + base64.b64encode(f"{record.client_id}:{secret}".encode()).decode()}
        client = app.test_client()
        refresh_token = _password_grant(client, auth).json["refresh_token"]
        with time_machine.travel(timedelta(hours=1)):
            refresh_token = _refresh(client, refresh_token, headers=auth).json["refresh_token"]
        with time_machine.travel(timedelta(hours=2, seconds=1)):
            assert_oauth_error(_refresh(client, refresh_token, headers=auth), "invalid_grant")
    finally:
        app.extensions["scim_me"].db.close_all()


# --- the password grant (RFC 6749 §4.3, §5.2) -------------------------------------------------


@pytest.mark.parametrize("data", [{"password": "wrong-password"}, {"username": "nobody"}], ids=["password", "user"])
def test_wrong_resource_owner_credentials_are_invalid_grant(client, kim, postman, data):
    """§5.2: the client authenticated fine, the grant (the user's credentials) is what is invalid."""
    _, auth = postman
    assert_oauth_error(_password_grant(client, auth, **data), "invalid_grant")


# --- access tokens at the resource server (RFC 6750 §3.1, RFC 9068 §4) ------------------------


def test_an_expired_access_token_is_401(client, kim, postman):
    _, auth = postman
    token = _password_grant(client, auth).json["access_token"]
    assert client.get(ME, headers=bearer(token)).status_code == 200  # now cached as verified
    with time_machine.travel(timedelta(seconds=3600 + LEEWAY + 1)):
        response = client.get(ME, headers=bearer(token))
    assert_invalid_token(response)
    assert "expired" in response.json["detail"]


def test_a_revoked_access_token_is_401(client, kim, postman):
    _, auth = postman
    token = _password_grant(client, auth).json["access_token"]
    assert client.get(ME, headers=bearer(token)).status_code == 200
    assert client.post("/t/acme/oauth2/revoke", data={"token": token}, headers=auth).status_code == 200
    response = client.get(ME, headers=bearer(token))
    assert_invalid_token(response)
    assert "revoked" in response.json["detail"]


def test_a_token_from_another_tenant_is_401(app, client, kim, postman):
    other = make_tenant(app, "other")
    make_user(app, other, "kim", PASSWORD)
    _, auth = postman
    token = _password_grant(client, auth).json["access_token"]
    assert_invalid_token(client.get("/t/other/scim2/Me", headers=bearer(token)))
    # Signed by the other tenant's key too: still refused, by issuer.
    foreign = make_token(app, other, None, issuer=ISSUER)
    assert_invalid_token(client.get(ME, headers=bearer(foreign)))


def test_a_token_with_a_wrong_audience_is_401(app, client, tenant, kim):
    token = make_token(app, tenant, kim, audience="another-api", client_id="another-api")
    response = client.get(ME, headers=bearer(token))
    assert_invalid_token(response)
    assert "audience" in response.json["detail"]


# --- RFC 9207 and OIDC prompt -----------------------------------------------------------------


def test_discovery_announces_the_iss_parameter(client, tenant):
    doc = client.get(DISCOVERY).json
    assert doc["issuer"] == ISSUER
    assert doc["authorization_response_iss_parameter_supported"] is True


def test_error_responses_carry_iss_too(app, client, tenant, kim):
    third, _ = _register(app, tenant, first_party=False)
    _, challenge = pkce()
    params = _params(third.client_id, challenge)
    html = _sign_in(client, params).get_data(as_text=True)
    denied = client.post(
        f"{AUTHORIZE}?{urlencode(params)}", data={"csrf_token": _csrf(html), "action": "consent", "decision": "deny"}
    )
    query = _redirect_query(denied)
    assert query["error"] == ["access_denied"]
    assert query["iss"] == [ISSUER]


def test_prompt_none_without_a_session_is_login_required(client, kim, spa):
    _, challenge = pkce()
    response = client.get(f"{AUTHORIZE}?{urlencode(_params(spa.client_id, challenge, prompt='none'))}")
    query = _redirect_query(response)
    assert query["error"] == ["login_required"]
    assert query["state"] == ["st-123"]
    assert query["iss"] == [ISSUER]


def test_prompt_none_without_openid_scope_is_login_required_too(client, kim, spa):
    _, challenge = pkce()
    params = _params(spa.client_id, challenge, prompt="none", scope="internal_login")
    assert _redirect_query(client.get(f"{AUTHORIZE}?{urlencode(params)}"))["error"] == ["login_required"]


def test_prompt_none_with_a_session_returns_a_code_silently(client, kim, spa):
    _code(_sign_in(client, _params(spa.client_id, pkce()[1])))
    verifier, challenge = pkce()
    code = _code(client.get(f"{AUTHORIZE}?{urlencode(_params(spa.client_id, challenge, prompt='none'))}"))
    assert _exchange(client, spa, code, verifier).status_code == 200


def test_prompt_none_when_consent_is_missing_is_consent_required(app, client, tenant, kim, spa):
    third, _ = _register(app, tenant, first_party=False)
    _code(_sign_in(client, _params(spa.client_id, pkce()[1])))  # a live session
    response = client.get(f"{AUTHORIZE}?{urlencode(_params(third.client_id, pkce()[1], prompt='none'))}")
    query = _redirect_query(response)
    assert query["error"] == ["consent_required"]
    assert query["iss"] == [ISSUER]


def test_prompt_none_with_another_value_is_invalid_request(client, kim, spa):
    """OIDC Core §3.1.2.1: ``none`` with any other value is an error."""
    response = client.get(f"{AUTHORIZE}?{urlencode(_params(spa.client_id, pkce()[1], prompt='none login'))}")
    assert _redirect_query(response)["error"] == ["invalid_request"]


def test_prompt_login_asks_for_the_password_despite_a_live_session(client, kim, spa):
    _code(_sign_in(client, _params(spa.client_id, pkce()[1])))
    silent = client.get(f"{AUTHORIZE}?{urlencode(_params(spa.client_id, pkce()[1]))}")
    assert silent.status_code == 302  # the session is live
    verifier, challenge = pkce()
    params = _params(spa.client_id, challenge, prompt="login")
    forced = client.get(f"{AUTHORIZE}?{urlencode(params)}")
    assert forced.status_code == 200
    assert 'name="password"' in forced.get_data(as_text=True)
    refused = client.post(
        f"{AUTHORIZE}?{urlencode(params)}",
        data={"csrf_token": _csrf(forced.get_data(as_text=True)), "action": "login", "username": "kim",
              "password": "wrong-password"},
    )  # fmt: skip
    assert refused.status_code == 401
    code = _code(_sign_in(client, params))
    assert _exchange(client, spa, code, verifier).status_code == 200


def test_prompt_login_then_consent_does_not_loop(app, client, tenant, kim):
    third, _ = _register(app, tenant, first_party=False)
    verifier, challenge = pkce()
    params = _params(third.client_id, challenge, prompt="login")
    consent = _sign_in(client, params)
    assert consent.status_code == 200
    html = consent.get_data(as_text=True)
    assert "wants to access your account" in html
    allowed = client.post(
        f"{AUTHORIZE}?{urlencode(params)}", data={"csrf_token": _csrf(html), "action": "consent", "decision": "allow"}
    )
    assert _exchange(client, third, _code(allowed), verifier).status_code == 200
    # The fresh password counted for that one request only.
    again = client.get(f"{AUTHORIZE}?{urlencode(_params(third.client_id, pkce()[1], prompt='login'))}")
    assert 'name="password"' in again.get_data(as_text=True)


def test_max_age_asks_for_the_password_when_the_sign_in_is_older(client, kim, spa):
    """OIDC Core §3.1.2.1: past max_age the OP MUST actively re-authenticate; auth_time says when."""
    _code(_sign_in(client, _params(spa.client_id, pkce()[1])))
    with time_machine.travel(timedelta(seconds=120)):
        verifier, challenge = pkce()
        recent_enough = client.get(f"{AUTHORIZE}?{urlencode(_params(spa.client_id, challenge, max_age='600'))}")
        tokens = _exchange(client, spa, _code(recent_enough), verifier).json
        id_token = json.loads(base64.urlsafe_b64decode(tokens["id_token"].split(".")[1] + "=="))
        assert 100 <= id_token["iat"] - id_token["auth_time"] <= 140
        for max_age in ("60", "0", "soon"):
            params = _params(spa.client_id, pkce()[1], max_age=max_age)
            page = client.get(f"{AUTHORIZE}?{urlencode(params)}")
            assert page.status_code == 200, max_age
            assert 'name="password"' in page.get_data(as_text=True)
        verifier, challenge = pkce()
        params = _params(spa.client_id, challenge, max_age="60")
        assert _exchange(client, spa, _code(_sign_in(client, params)), verifier).status_code == 200
        silent = client.get(f"{AUTHORIZE}?{urlencode(_params(spa.client_id, pkce()[1], max_age='60', prompt='none'))}")
    assert _redirect_query(silent)["code"]  # the fresh sign-in is within max_age


def test_auth_time_is_right_whatever_the_servers_time_zone(client, kim, spa, monkeypatch):
    """Sessions store naive UTC; auth_time (ID token, max_age) must not depend on the host's TZ."""
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    try:
        verifier, challenge = pkce()
        tokens = _exchange(client, spa, _code(_sign_in(client, _params(spa.client_id, challenge))), verifier).json
        id_token = json.loads(base64.urlsafe_b64decode(tokens["id_token"].split(".")[1] + "=="))
        assert abs(id_token["auth_time"] - time.time()) < 60
    finally:
        monkeypatch.undo()
        time.tzset()


# --- never a 500 ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "form",
    [
        {},
        {"grant_type": "authorization_code"},
        {"grant_type": "authorization_code", "code": "x" * 5000, "client_id": "nope"},
        {"grant_type": "refresh_token", "refresh_token": "\x00"},
        {"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer", "assertion": "a.b.c"},
        {"grant_type": "password", "username": "kim"},
    ],
)
def test_malformed_token_requests_are_4xx(client, kim, spa, form):
    response = client.post(TOKEN, data=form)
    assert 400 <= response.status_code < 500, response.get_data(as_text=True)
    assert "error" in response.json

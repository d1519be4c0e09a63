"""Authorization code + PKCE through the sign-in page (Flask test client, both backends)."""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from urllib.parse import parse_qs
from urllib.parse import urlencode
from urllib.parse import urlsplit

import pytest
from joserfc import jwt
from joserfc.jwk import KeySet

from scim_me.auth.keys import signing_key
from scim_me.storage.clients import create_client
from tests.factories import bearer
from tests.factories import make_tenant
from tests.factories import make_user
from tests.support.privacy import make_spa

PASSWORD = "correct-horse-9"
REDIRECT = "http://localhost:5173/callback"
AUTHORIZE = "/t/acme/oauth2/authorize"
TOKEN = "/t/acme/oauth2/token"
ME = "/t/acme/scim2/Me"


@pytest.fixture
def tenant(app):
    return make_tenant(app, "acme")


@pytest.fixture
def kim(app, tenant):
    return make_user(app, tenant, "kim", PASSWORD, emails=[{"value": "kim@example.com", "primary": True}])


def _spa(app, tenant, *, first_party=True):
    return make_spa(app, tenant, "My SPA" if first_party else "Third party", first_party=first_party)


@pytest.fixture
def spa(app, tenant):
    return _spa(app, tenant)


def pkce():
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def _params(client_id, challenge, **extra):
    params = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": REDIRECT,
        "scope": "openid internal_login email",
        "state": "st-123",
        "nonce": "n-456",
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
    assert page.status_code == 200, page.data
    form = {
        "csrf_token": _csrf(page.get_data(as_text=True)),
        "action": "login",
        "username": "kim",
        "password": password,
    }
    return client.post(url, data=form)


def _code_from(response):
    assert response.status_code == 302, response.get_data(as_text=True)
    location = urlsplit(response.headers["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == REDIRECT
    query = parse_qs(location.query)
    assert query["state"] == ["st-123"]
    return query["code"][0]


def _exchange(client, spa, code, verifier):
    return client.post(
        TOKEN,
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT,
            "client_id": spa.client_id,
            "code_verifier": verifier,
        },
    )


def test_sign_in_page_is_protected_against_framing(client, kim, spa):
    _, challenge = pkce()
    page = client.get(f"{AUTHORIZE}?{urlencode(_params(spa.client_id, challenge))}")
    assert page.status_code == 200
    assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
    assert page.headers["X-Frame-Options"] == "DENY"
    assert 'name="password"' in page.get_data(as_text=True)


def test_code_flow_with_pkce_gives_tokens_that_read_me(app, client, tenant, kim, spa):
    verifier, challenge = pkce()
    code = _code_from(_sign_in(client, _params(spa.client_id, challenge)))
    tokens = _exchange(client, spa, code, verifier)
    assert tokens.status_code == 200, tokens.json
    body = tokens.json
    assert {"access_token", "id_token", "refresh_token", "expires_in"} <= set(body)
    assert client.get(ME, headers=bearer(body["access_token"])).json["userName"] == "kim"
    jwks = client.get("/t/acme/oauth2/jwks").json
    id_token = jwt.decode(body["id_token"], KeySet.import_key_set(jwks), algorithms=["RS256"])
    assert id_token.claims["iss"] == "http://localhost/t/acme/oauth2/token"
    assert id_token.claims["aud"] == [spa.client_id]
    assert id_token.claims["sub"] == kim.id
    assert id_token.claims["nonce"] == "n-456"
    assert id_token.claims["email"] == "kim@example.com"


def test_a_replayed_code_is_refused_and_revokes_what_it_issued(client, kim, spa):
    """RFC 6749 §4.1.2: a code used twice is refused and the tokens it issued SHOULD be revoked."""
    verifier, challenge = pkce()
    code = _code_from(_sign_in(client, _params(spa.client_id, challenge)))
    first = _exchange(client, spa, code, verifier).json
    replay = _exchange(client, spa, code, verifier)
    assert replay.status_code == 400
    assert replay.json["error"] == "invalid_grant"
    assert client.get(ME, headers=bearer(first["access_token"])).status_code == 401


def test_a_wrong_verifier_is_invalid_grant(client, kim, spa):
    _, challenge = pkce()
    code = _code_from(_sign_in(client, _params(spa.client_id, challenge)))
    response = _exchange(client, spa, code, secrets.token_urlsafe(48))
    assert response.status_code == 400
    assert response.json["error"] == "invalid_grant"


@pytest.mark.parametrize(
    "change",
    [
        {"code_challenge": None, "code_challenge_method": None},
        {"code_challenge_method": "plain"},
        {"code_challenge_method": None},
    ],
    ids=["no-pkce", "plain", "missing-method"],
)
def test_pkce_is_s256_only(client, kim, spa, change):
    _, challenge = pkce()
    response = client.get(f"{AUTHORIZE}?{urlencode(_params(spa.client_id, challenge, **change))}")
    assert response.status_code == 302
    query = parse_qs(urlsplit(response.headers["Location"]).query)
    assert query["error"] == ["invalid_request"]
    assert query["state"] == ["st-123"]


@pytest.mark.parametrize("response_type", ["token", "id_token", "code token", "id_token token"])
def test_only_the_code_response_type_is_served(client, kim, spa, response_type):
    # security.md T-OA-4: no implicit or hybrid flow; nothing is issued in the redirect.
    _, challenge = pkce()
    response = client.get(f"{AUTHORIZE}?{urlencode(_params(spa.client_id, challenge, response_type=response_type))}")
    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    query = parse_qs(location.query)
    assert (query["error"], query["state"]) == (["unsupported_response_type"], ["st-123"])
    assert location.fragment == "" and "access_token" not in location.query and "code" not in query


@pytest.mark.parametrize(
    "redirect_uri",
    ["http://localhost:5173/callback/", "http://LOCALHOST:5173/callback", "http://localhost:5174/callback",
     "http://localhost:5173/callback?x=1", "https://evil.example/callback"],
)  # fmt: skip
def test_a_redirect_uri_that_is_not_exactly_registered_is_never_redirected_to(client, kim, spa, redirect_uri):
    _, challenge = pkce()
    response = client.get(f"{AUTHORIZE}?{urlencode(_params(spa.client_id, challenge, redirect_uri=redirect_uri))}")
    assert response.status_code == 400
    assert "Location" not in response.headers


def test_without_redirect_uri_the_single_registered_one_is_used(client, kim, spa):
    """RFC 6749 §3.1.2.3: with exactly one registered redirect URI the parameter is optional;
    the code goes there, and the token request needs no redirect_uri either (§4.1.3: required
    only when the authorization request included it)."""
    verifier, challenge = pkce()
    code = _code_from(_sign_in(client, _params(spa.client_id, challenge, redirect_uri=None)))
    token = client.post(
        TOKEN,
        data={"grant_type": "authorization_code", "code": code, "client_id": spa.client_id, "code_verifier": verifier},
    )
    assert token.status_code == 200
    assert client.get(ME, headers=bearer(token.json["access_token"])).status_code == 200


def test_without_redirect_uri_a_client_with_several_is_refused_before_sign_in(app, client, tenant, kim):
    """RFC 6749 §3.1.2.3: with several registered redirect URIs the client MUST name one. The
    request is refused before any password is taken, without redirecting, and no session is
    left behind."""
    from scim_me.storage.sessions import SessionLimits
    from scim_me.storage.sessions import list_user_sessions

    with app.extensions["scim_me"].db.connection_context():
        several, _ = create_client(
            tenant.id,
            "Two callbacks",
            public=True,
            redirect_uris=[REDIRECT, "http://localhost:5173/other"],
            allowed_origins=[],
            grant_types=["authorization_code"],
            scope="openid internal_login",
        )
    _, challenge = pkce()
    url = f"{AUTHORIZE}?{urlencode(_params(several.client_id, challenge, redirect_uri=None))}"
    page = client.get(url)
    assert page.status_code == 400
    assert "Location" not in page.headers
    assert 'name="password"' not in page.get_data(as_text=True)
    with client.session_transaction() as cookie:
        cookie["csrf"] = "known"
    posted = client.post(url, data={"csrf_token": "known", "action": "login", "username": "kim", "password": PASSWORD})
    assert posted.status_code == 400
    assert "Location" not in posted.headers
    with app.extensions["scim_me"].db.connection_context():
        assert list_user_sessions(tenant.id, kim.id, SessionLimits.of(tenant.settings)) == []


def test_a_wrong_password_shows_the_form_again(client, kim, spa):
    _, challenge = pkce()
    response = _sign_in(client, _params(spa.client_id, challenge), password="wrong-password")
    assert response.status_code == 401
    assert "The username or password is incorrect." in response.get_data(as_text=True)


def test_a_post_without_the_csrf_token_is_refused(client, kim, spa):
    _, challenge = pkce()
    url = f"{AUTHORIZE}?{urlencode(_params(spa.client_id, challenge))}"
    client.get(url)
    response = client.post(url, data={"action": "login", "username": "kim", "password": PASSWORD})
    assert response.status_code == 400
    assert "Location" not in response.headers


def test_a_third_party_client_asks_for_consent_once(app, client, tenant, kim):
    third = _spa(app, tenant, first_party=False)
    verifier, challenge = pkce()
    params = _params(third.client_id, challenge)
    consent = _sign_in(client, params)
    assert consent.status_code == 200
    html = consent.get_data(as_text=True)
    assert "wants to access your account" in html
    url = f"{AUTHORIZE}?{urlencode(params)}"
    allowed = client.post(url, data={"csrf_token": _csrf(html), "action": "consent", "decision": "allow"})
    assert _exchange(client, third, _code_from(allowed), verifier).status_code == 200
    _, challenge2 = pkce()
    again = client.get(f"{AUTHORIZE}?{urlencode(_params(third.client_id, challenge2))}")
    _code_from(again)  # remembered: straight back with a code


def test_denying_consent_returns_access_denied(app, client, tenant, kim):
    third = _spa(app, tenant, first_party=False)
    _, challenge = pkce()
    params = _params(third.client_id, challenge)
    html = _sign_in(client, params).get_data(as_text=True)
    denied = client.post(
        f"{AUTHORIZE}?{urlencode(params)}", data={"csrf_token": _csrf(html), "action": "consent", "decision": "deny"}
    )
    query = parse_qs(urlsplit(denied.headers["Location"]).query)
    assert query["error"] == ["access_denied"]


LOGOUT = "/t/acme/oidc/logout"


def _signed_in_tokens(client, spa):
    verifier, challenge = pkce()
    code = _code_from(_sign_in(client, _params(spa.client_id, challenge)))
    return _exchange(client, spa, code, verifier).json


def test_logout_ends_the_session_and_its_tokens(client, kim, spa):
    tokens = _signed_in_tokens(client, spa)
    response = client.get(
        LOGOUT,
        query_string={
            "id_token_hint": tokens["id_token"],
            "post_logout_redirect_uri": REDIRECT,
            "state": "sign_out_success",
        },
    )
    assert response.status_code == 302
    assert response.headers["Location"] == f"{REDIRECT}?state=sign_out_success"
    assert client.get(ME, headers=bearer(tokens["access_token"])).status_code == 401
    refresh = client.post(
        TOKEN,
        data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"], "client_id": spa.client_id},
    )
    assert refresh.status_code == 400
    page = client.get(f"{AUTHORIZE}?{urlencode(_params(spa.client_id, pkce()[1]))}")
    assert 'name="password"' in page.get_data(as_text=True)  # signed out: asked to sign in again


def test_logout_without_a_hint_asks_to_confirm_before_ending_the_session(client, kim, spa):
    """OIDC RP-Initiated Logout 1.0 §2: without an id_token_hint the OP asks the user whether to
    log out. A cross-site link (GET) or a form without the page's CSRF token ends nothing."""
    tokens = _signed_in_tokens(client, spa)
    query = {"client_id": spa.client_id, "post_logout_redirect_uri": REDIRECT, "state": "sign_out_success"}
    page = client.get(LOGOUT, query_string=query)
    assert page.status_code == 200
    assert "Location" not in page.headers
    assert page.headers["X-Frame-Options"] == "DENY"
    assert client.get(ME, headers=bearer(tokens["access_token"])).status_code == 200
    forged = client.post(LOGOUT, data={**query, "action": "logout"})
    assert forged.status_code == 400
    assert client.get(ME, headers=bearer(tokens["access_token"])).status_code == 200
    confirmed = client.post(
        LOGOUT, data={"csrf_token": _csrf(page.get_data(as_text=True)), "action": "logout", **query}
    )
    assert confirmed.status_code == 302
    assert confirmed.headers["Location"] == f"{REDIRECT}?state=sign_out_success"
    assert client.get(ME, headers=bearer(tokens["access_token"])).status_code == 401


def test_a_hint_for_another_user_or_an_access_token_is_not_proof(app, client, tenant, kim, spa):
    """Only an ID token issued to the signed-in user ends the session without asking."""
    lee = make_user(app, tenant, "lee", PASSWORD)
    tokens = _signed_in_tokens(client, spa)
    with app.extensions["scim_me"].db.connection_context():
        kid, alg, key = signing_key(tenant.id, app.extensions["scim_me"].settings.master_key())
    issued = jwt.decode(tokens["id_token"], KeySet.import_key_set({"keys": [key.as_dict(private=False)]})).claims
    other = jwt.encode(
        {"alg": alg, "kid": kid, "typ": "JWT"},
        {**issued, "sub": lee.id},
        key,
        algorithms=[alg],
    )
    for hint in (other, tokens["access_token"], "not-a-token"):
        page = client.get(LOGOUT, query_string={"id_token_hint": hint, "post_logout_redirect_uri": REDIRECT})
        assert page.status_code == 200
        assert 'id="confirm-logout"' in page.get_data(as_text=True)
    assert client.get(ME, headers=bearer(tokens["access_token"])).status_code == 200


def test_logout_never_redirects_to_an_unregistered_uri(client, kim, spa):
    response = client.get(
        "/t/acme/oidc/logout",
        query_string={"client_id": spa.client_id, "post_logout_redirect_uri": "https://evil.example/"},
    )
    assert response.status_code == 200
    assert "Location" not in response.headers


def test_discovery_documents_use_wso2_issuer_and_s256_only(client, tenant):
    for path in ("/t/acme/oauth2/token/.well-known/openid-configuration", "/t/acme/.well-known/openid-configuration"):
        doc = client.get(path).json
        assert doc["issuer"] == "http://localhost/t/acme/oauth2/token"
        assert doc["authorization_endpoint"] == "http://localhost/t/acme/oauth2/authorize"
        assert doc["jwks_uri"] == "http://localhost/t/acme/oauth2/jwks"
        assert doc["code_challenge_methods_supported"] == ["S256"]
        assert doc["response_types_supported"] == ["code"]


def test_the_authorization_endpoint_has_no_cors(client, kim, spa):
    """RFC 9700 §2.6: no CORS at the authorization endpoint, even for a registered origin."""
    _, challenge = pkce()
    url = f"{AUTHORIZE}?{urlencode(_params(spa.client_id, challenge))}"
    page = client.get(url, headers={"Origin": "http://localhost:5173"})
    assert "Access-Control-Allow-Origin" not in page.headers
    token_preflight = client.options(
        TOKEN, headers={"Origin": "http://localhost:5173", "Access-Control-Request-Method": "POST"}
    )
    assert token_preflight.headers["Access-Control-Allow-Origin"] == "http://localhost:5173"


def test_a_refresh_returns_a_new_id_token(client, kim, spa):
    """WSO2 answers a refresh with the openid scope with a new ID token; the Asgardeo SDK needs it."""
    verifier, challenge = pkce()
    code = _code_from(_sign_in(client, _params(spa.client_id, challenge)))
    tokens = _exchange(client, spa, code, verifier).json
    refreshed = client.post(
        TOKEN,
        data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"], "client_id": spa.client_id},
    )
    assert refreshed.status_code == 200, refreshed.json
    jwks = KeySet.import_key_set(client.get("/t/acme/oauth2/jwks").json)
    claims = jwt.decode(refreshed.json["id_token"], jwks, algorithms=["RS256"]).claims
    assert claims["sub"] == kim.id
    assert claims["aud"] == [spa.client_id]
    assert claims["iss"] == "http://localhost/t/acme/oauth2/token"


def test_a_repeated_parameter_that_cannot_be_quoted_is_refused_on_a_page(client, spa):
    _verifier, challenge = pkce()
    query = urlencode([*_params(spa.client_id, challenge).items(), ("p\u0096", "1"), ("p\u0096", "2")])
    response = client.get(f"{AUTHORIZE}?{query}")
    assert response.status_code in (302, 400)
    assert "A parameter is repeated" in (
        response.headers.get("Location", "") + response.get_data(as_text=True)
    ).replace("+", " ")

"""OIDC Session Management 1.0 on the issuer (both backends): ``session_state`` in authorization
responses, the OP browser-state cookie that changes on sign-in and sign-out, discovery's
``check_session_iframe`` and the ``/oidc/checksession`` page (tenant-aware, frameable by the
client's origins only). The page's script is exercised in Chromium by
tests/browser/test_check_session.py."""

from __future__ import annotations

import json
import re
from http.cookies import SimpleCookie
from urllib.parse import parse_qs
from urllib.parse import urlencode
from urllib.parse import urlsplit

import pytest

from scim_me.core.session_state import session_state
from scim_me.storage.clients import create_client
from tests.factories import make_tenant
from tests.factories import make_user
from tests.support.privacy import make_spa

PASSWORD = "correct-horse-9"
REDIRECT = "http://localhost:5173/callback"
ORIGIN = "http://localhost:5173"


@pytest.fixture
def tenant(app):
    return make_tenant(app, "acme")


@pytest.fixture
def kim(app, tenant):
    return make_user(app, tenant, "kim", PASSWORD)


@pytest.fixture
def spa(app, tenant):
    return make_spa(app, tenant)


def _opbs_name(tenant) -> str:
    return f"scim_me_opbs_{tenant.id}"


def _authorize_url(client_id: str, prefix: str = "/t/acme", **extra: str) -> str:
    params = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": REDIRECT,
        "scope": "openid internal_login",
        "state": "st",
        "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
        "code_challenge_method": "S256",
        **extra,
    }
    return f"{prefix}/oauth2/authorize?{urlencode(params)}"


def _csrf(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, html
    return match.group(1)


def _set_cookies(response) -> dict[str, SimpleCookie]:
    cookies: dict[str, SimpleCookie] = {}
    for header in response.headers.getlist("Set-Cookie"):
        jar: SimpleCookie = SimpleCookie()
        jar.load(header)
        for name in jar:
            cookies[name] = jar
    return cookies


def _sign_in(client, client_id: str, prefix: str = "/t/acme", user: str = "kim"):
    url = _authorize_url(client_id, prefix)
    page = client.get(url)
    assert page.status_code == 200, page.data
    form = {"csrf_token": _csrf(page.get_data(as_text=True)), "action": "login", "username": user, "password": PASSWORD}
    return client.post(url, data=form)


def _query(response) -> dict[str, list[str]]:
    assert response.status_code == 302, response.get_data(as_text=True)
    return parse_qs(urlsplit(response.headers["Location"]).query)


def _browser_state(client, tenant) -> str | None:
    cookie = client.get_cookie(_opbs_name(tenant))
    return cookie.value if cookie is not None else None


def _matches(value: str, client_id: str, browser_state: str | None) -> bool:
    salt = value.rsplit(".", 1)[1]
    return browser_state is not None and session_state(client_id, ORIGIN, browser_state, salt) == value


def test_the_authorization_response_carries_session_state_for_the_browser_state(client, tenant, kim, spa):
    """§3: session_state = SHA-256(client_id, the redirect URI's origin, the OP browser state,
    salt) "." salt, WSO2's form; the browser state is a new cookie set at sign-in."""
    response = _sign_in(client, spa.client_id)
    query = _query(response)
    assert next(iter(query)) == "code"  # still first: the SDK strips "?code=..." from the address bar
    (value,) = query["session_state"]
    assert re.fullmatch(r"[0-9a-f]{64}\.[A-Za-z0-9_-]{22}", value)
    cookies = _set_cookies(response)
    morsel = cookies[_opbs_name(tenant)][_opbs_name(tenant)]
    assert _matches(value, spa.client_id, morsel.value)
    assert not _matches(value, "another-client", morsel.value)


@pytest.mark.parametrize(("scheme", "same_site"), [("https", "None"), ("http", "Lax")])
def test_the_browser_state_cookie_is_readable_by_scripts_holds_no_secret_and_ends_with_the_browser(
    app, tenant, kim, spa, scheme, same_site
):
    client = app.test_client()
    url = _authorize_url(spa.client_id)
    base = {"base_url": f"{scheme}://localhost"}
    page = client.get(url, **base)
    form = {"csrf_token": _csrf(page.get_data(as_text=True)), "action": "login", "username": "kim"}
    response = client.post(url, data={**form, "password": PASSWORD}, **base)
    cookies = _set_cookies(response)
    morsel = cookies[_opbs_name(tenant)][_opbs_name(tenant)]
    assert not morsel["httponly"]  # the check-session page reads it with a script
    # Over https a cross-site frame may read it (SameSite=None needs Secure); over plain http no
    # cookie of this server is Secure, so only same-site apps can.
    assert morsel["samesite"] == same_site
    assert bool(morsel["secure"]) is (scheme == "https")
    assert morsel["path"] == "/"
    assert not morsel["expires"] and not morsel["max-age"]
    # It is not the session cookie, nor derived from it: the session's secret stays HttpOnly.
    (session_name,) = [name for name in cookies if name.startswith("scim_me_sid_")]
    session = cookies[session_name][session_name]
    assert session["httponly"] and session["samesite"] == "Lax"
    assert morsel.value != session.value and morsel.value not in session.value and session.value not in morsel.value


def test_single_sign_on_keeps_the_browser_state_and_a_new_sign_in_changes_it(client, tenant, kim, spa):
    first = _query(_sign_in(client, spa.client_id))["session_state"][0]
    state = _browser_state(client, tenant)
    # Another app's sign-in in the same browser: no password, the same browser state, a new salt.
    again = client.get(_authorize_url(spa.client_id))
    assert _opbs_name(tenant) not in _set_cookies(again)
    second = _query(again)["session_state"][0]
    assert second != first
    assert _matches(first, spa.client_id, state) and _matches(second, spa.client_id, state)
    # prompt=login: the user signs in again, so apps of the earlier sign-in see a change.
    url = _authorize_url(spa.client_id, prompt="login")
    page = client.get(url)
    form = {"csrf_token": _csrf(page.get_data(as_text=True)), "action": "login", "username": "kim"}
    relogin = client.post(url, data={**form, "password": PASSWORD})
    third = _query(relogin)["session_state"][0]
    new_state = _browser_state(client, tenant)
    assert new_state != state
    assert _matches(third, spa.client_id, new_state)
    assert not _matches(first, spa.client_id, new_state)


def test_signing_out_changes_the_browser_state(client, tenant, kim, spa):
    issued = _query(_sign_in(client, spa.client_id))["session_state"][0]
    before = _browser_state(client, tenant)
    query = {"client_id": spa.client_id, "post_logout_redirect_uri": REDIRECT, "state": "sign_out_success"}
    confirm = client.get("/t/acme/oidc/logout", query_string=query)
    assert confirm.status_code == 200
    assert _browser_state(client, tenant) == before  # asking to confirm changes nothing
    done = client.post(
        "/t/acme/oidc/logout",
        data={"csrf_token": _csrf(confirm.get_data(as_text=True)), "action": "logout", **query},
    )
    assert done.status_code == 302
    after = _browser_state(client, tenant)
    assert after is not None and after != before
    assert not _matches(issued, spa.client_id, after)  # the app's check-session frame reads "changed"


def test_no_session_state_without_a_code(client, tenant, kim, spa):
    """prompt=none without a session answers login_required to the app: no session_state, and
    a browser that never signed in gets no browser-state cookie."""
    response = client.get(_authorize_url(spa.client_id, prompt="none"))
    query = _query(response)
    assert query["error"] == ["login_required"]
    assert "session_state" not in query
    assert _opbs_name(tenant) not in _set_cookies(response)
    logout = client.get("/t/acme/oidc/logout")
    assert _opbs_name(tenant) not in _set_cookies(logout)


def test_a_session_from_before_the_browser_had_a_browser_state_gets_one(client, tenant, kim, spa):
    _sign_in(client, spa.client_id)
    client.delete_cookie(_opbs_name(tenant), path="/")
    response = client.get(_authorize_url(spa.client_id))
    state = _browser_state(client, tenant)
    assert state is not None
    assert _matches(_query(response)["session_state"][0], spa.client_id, state)


@pytest.mark.parametrize("prefix", ["/t/acme", ""], ids=["tenant", "default-tenant"])
def test_discovery_names_the_check_session_iframe(client, app, prefix):
    make_tenant(app, "acme")
    make_tenant(app, "carbon.super")
    for path in ("/oauth2/token/.well-known/openid-configuration", "/.well-known/openid-configuration"):
        doc = client.get(prefix + path).json
        assert doc["check_session_iframe"] == f"http://localhost{prefix}/oidc/checksession"


def _page_config(response) -> dict:
    match = re.search(r'<script type="application/json" id="op-config">(.*?)</script>', response.get_data(as_text=True))
    assert match, response.get_data(as_text=True)
    return json.loads(match.group(1))


def test_the_page_is_frameable_by_the_clients_origins_only(app, client, tenant):
    with app.extensions["scim_me"].db.connection_context():
        record, _ = create_client(
            tenant.id,
            "Two origins",
            public=True,
            redirect_uris=["https://app.example.com:443/callback", "http://localhost:5173/cb"],
            allowed_origins=["https://admin.example.com"],
            grant_types=["authorization_code"],
        )
    query = {"client_id": record.client_id, "redirect_uri": "ignored"}
    response = client.get("/t/acme/oidc/checksession", query_string=query)
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    origins = ["http://localhost:5173", "https://admin.example.com", "https://app.example.com"]
    csp = dict(part.strip().split(" ", 1) for part in response.headers["Content-Security-Policy"].split(";"))
    assert csp["frame-ancestors"].split() == origins
    assert csp["default-src"] == "'none'"
    (nonce,) = re.findall(r"'nonce-([^']+)'", csp["script-src"])
    assert csp["script-src"] == f"'nonce-{nonce}'"  # no inline script runs but the page's own
    assert f'<script nonce="{nonce}">' in response.get_data(as_text=True)
    assert "X-Frame-Options" not in response.headers  # would forbid the apps' frames; the CSP decides
    assert response.headers["Cache-Control"] == "no-store"
    config = _page_config(response)
    assert config == {"clientId": record.client_id, "origins": origins, "cookie": _opbs_name(tenant)}
    # A new nonce on every load.
    again = client.get("/t/acme/oidc/checksession", query_string={"client_id": record.client_id})
    assert again.headers["Content-Security-Policy"] != response.headers["Content-Security-Policy"]


def test_the_page_exists_on_the_default_tenants_bare_path(app, client):
    default = make_tenant(app, "carbon.super")
    spa = make_spa(app, default)
    response = client.get("/oidc/checksession", query_string={"client_id": spa.client_id})
    assert response.status_code == 200
    assert _page_config(response)["cookie"] == _opbs_name(default)
    assert "frame-ancestors http://localhost:5173" in response.headers["Content-Security-Policy"]


@pytest.mark.parametrize(
    "query",
    [{}, {"client_id": ""}, {"client_id": "no-such-client"}, "client_id=a&client_id=b"],
    ids=["missing", "empty", "unknown", "repeated"],
)
def test_a_request_without_one_known_client_gets_an_unframeable_error_page(client, tenant, query):
    response = client.get("/t/acme/oidc/checksession", query_string=query)
    assert response.status_code == 400
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Frame-Options"] == "DENY"
    assert "op-config" not in response.get_data(as_text=True)


def test_another_tenants_client_is_unknown_here(app, client, tenant):
    other = make_tenant(app, "globex")
    spa = make_spa(app, other)
    assert client.get("/t/acme/oidc/checksession", query_string={"client_id": spa.client_id}).status_code == 400
    assert client.get("/t/globex/oidc/checksession", query_string={"client_id": spa.client_id}).status_code == 200
    assert client.get("/t/nowhere/oidc/checksession", query_string={"client_id": spa.client_id}).status_code == 404


def test_a_client_without_a_web_origin_gets_no_page(app, client, tenant):
    with app.extensions["scim_me"].db.connection_context():
        record, _ = create_client(
            tenant.id, "Machine", public=False, redirect_uris=[], allowed_origins=[], grant_types=["client_credentials"]
        )
    assert client.get("/t/acme/oidc/checksession", query_string={"client_id": record.client_id}).status_code == 400

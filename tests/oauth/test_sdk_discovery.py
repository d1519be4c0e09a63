"""Issue 3 acceptance 4: the discovery documents give the Asgardeo SDK everything it needs when
an app configures only ``baseUrl``, ``clientID`` and ``signInRedirectURL``.

@asgardeo/auth-js 5.x (under @asgardeo/auth-spa 3.x) does not fetch discovery when only
``baseUrl`` is given: it appends WSO2's fixed paths (``SERVICE_RESOURCES`` in
``src/constants/oidc-endpoints.ts``) to ``baseUrl`` and checks ID tokens against
``baseUrl + "/oauth2/token"``. Apps that set ``wellKnownEndpoint`` (and other OIDC libraries)
read the same endpoints from discovery instead. So the two must agree, for a tenant and for the
default tenant's bare paths, and every endpoint must be served there, with CORS for the SPA's
origin where the SDK fetches (RFC 8414 §2, OIDC Discovery §3). The browser test
(tests/browser) runs the real SDK against the same server.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from scim_me.storage.clients import create_client
from tests.factories import make_tenant
from tests.support.ci import missing

# @asgardeo/auth-js src/constants/oidc-endpoints.ts, SERVICE_RESOURCES (snake-cased as the SDK
# stores them); the SDK frames check_session_iframe only with enableOIDCSessionManagement.
SDK_PATHS = {
    "authorization_endpoint": "/oauth2/authorize",
    "check_session_iframe": "/oidc/checksession",
    "end_session_endpoint": "/oidc/logout",
    "issuer": "/oauth2/token",
    "jwks_uri": "/oauth2/jwks",
    "revocation_endpoint": "/oauth2/revoke",
    "token_endpoint": "/oauth2/token",
    "userinfo_endpoint": "/oauth2/userinfo",
}
SDK_SOURCE = (
    Path(__file__).resolve().parents[1] / "browser/node_modules/@asgardeo/auth-js/src/constants/oidc-endpoints.ts"
)
ORIGIN = "http://localhost:5173"
BASES = {"tenant": "/t/acme", "default-tenant": ""}


@pytest.fixture(params=sorted(BASES))
def base(request, app):
    for name in ("acme", "carbon.super"):
        tenant = make_tenant(app, name)
        with app.extensions["scim_me"].db.connection_context():
            create_client(
                tenant.id, "SPA", public=True, first_party=True, redirect_uris=[f"{ORIGIN}/"],
                allowed_origins=[ORIGIN], grant_types=["authorization_code", "refresh_token"],
            )  # fmt: skip
    return BASES[request.param]


def test_the_sdk_paths_here_are_the_installed_sdks():
    """Keeps SDK_PATHS honest against the SDK the browser test installs."""
    if not SDK_SOURCE.is_file():
        missing(f"the SDK source is not installed: npm ci --prefix tests/browser ({SDK_SOURCE})")
    text = SDK_SOURCE.read_text(encoding="utf-8")
    found = dict(re.findall(r'(\w+): "(/[^"]+)"', text))
    camel = {name: "".join(p.title() if i else p for i, p in enumerate(name.split("_"))) for name in SDK_PATHS}
    camel["jwks_uri"] = "jwksUri"
    for name, path in SDK_PATHS.items():
        assert found[camel[name]] == path, (name, found)


@pytest.mark.parametrize(
    "discovery", ["/oauth2/token/.well-known/openid-configuration", "/.well-known/openid-configuration"]
)
def test_discovery_names_the_endpoints_the_sdk_derives_from_base_url(client, base, discovery):
    response = client.get(base + discovery, headers={"Origin": ORIGIN})
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert response.headers["Access-Control-Allow-Origin"] == ORIGIN  # fetched by the SPA
    doc = response.json
    base_url = "http://localhost" + base
    for name, path in SDK_PATHS.items():
        assert doc[name] == base_url + path, name
    # What the SDK's flow relies on: code + PKCE S256 as a public client, refresh, openid + internal_login.
    assert "code" in doc["response_types_supported"]
    assert doc["code_challenge_methods_supported"] == ["S256"]
    assert "none" in doc["token_endpoint_auth_methods_supported"]
    assert {"authorization_code", "refresh_token"} <= set(doc["grant_types_supported"])
    assert {"openid", "internal_login"} <= set(doc["scopes_supported"])
    assert "RS256" in doc["id_token_signing_alg_values_supported"]
    assert doc["subject_types_supported"] == ["public"]


def test_every_announced_endpoint_is_served(client, base):
    doc = client.get(base + "/oauth2/token/.well-known/openid-configuration").json
    local = {name: url.removeprefix("http://localhost") for name, url in doc.items() if isinstance(url, str)}
    jwks = client.get(local["jwks_uri"], headers={"Origin": ORIGIN})
    assert jwks.status_code == 200
    assert jwks.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert jwks.json["keys"] and all(key.get("kid") for key in jwks.json["keys"])
    assert all("d" not in key for key in jwks.json["keys"])  # public keys only
    # The authorization endpoint without parameters: an error page, not a 404.
    assert client.get(local["authorization_endpoint"]).status_code == 400
    for name in ("token_endpoint", "revocation_endpoint"):
        preflight = client.options(
            local[name],
            headers={"Origin": ORIGIN, "Access-Control-Request-Method": "POST",
                     "Access-Control-Request-Headers": "content-type"},
        )  # fmt: skip
        assert preflight.status_code == 200, name
        assert preflight.headers["Access-Control-Allow-Origin"] == ORIGIN
        assert client.post(local[name], data={}).status_code in (400, 401), name
    assert client.get(local["userinfo_endpoint"]).status_code == 401
    assert client.get(local["end_session_endpoint"]).status_code == 200
    # The check-session page without a client_id: an error page, not a 404.
    assert client.get(local["check_session_iframe"]).status_code == 400
    assert client.get(local["introspection_endpoint"]).status_code == 405  # POST only

"""GET /t/{tenant}/oauth2/jwks (``api/oauth.py``): each tenant publishes only its own public signing
keys, and a resource server can verify this tenant's access tokens with them alone."""

from __future__ import annotations

from typing import Any

import pytest
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from scim_me.auth.keys import create_signing_key
from tests.factories import make_tenant
from tests.factories import make_token
from tests.factories import make_user

PRIVATE_MEMBERS = {"d", "p", "q", "dp", "dq", "qi", "oth", "k"}
ALGS = ["RS256", "ES256"]


@pytest.fixture
def acme(app: Any) -> Any:
    return make_tenant(app, "acme", alg="RS256")


@pytest.fixture
def beta(app: Any) -> Any:
    return make_tenant(app, "beta", alg="ES256")


def fetch(client: Any, path: str) -> dict[str, Any]:
    response = client.get(path)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    body: dict[str, Any] = response.json
    assert list(body) == ["keys"]
    return body


def assert_public_only(body: dict[str, Any]) -> None:
    assert body["keys"], "the tenant publishes at least one key"
    for key in body["keys"]:
        assert {"kty", "kid", "alg", "use"} <= set(key), key
        assert key["use"] == "sig"
        assert key["alg"] in ALGS
        assert key["kty"] == ("RSA" if key["alg"] == "RS256" else "EC")
        assert not PRIVATE_MEMBERS & set(key), f"private members published: {PRIVATE_MEMBERS & set(key)}"


def test_jwks_publishes_the_tenants_public_keys(app: Any, client: Any, acme: Any) -> None:
    body = fetch(client, "/t/acme/oauth2/jwks")
    assert_public_only(body)
    assert len(body["keys"]) == 1
    key = body["keys"][0]
    assert key["alg"] == "RS256" and {"n", "e"} <= set(key)


def test_es256_tenant_publishes_an_ec_key(app: Any, client: Any, beta: Any) -> None:
    body = fetch(client, "/t/beta/oauth2/jwks")
    assert_public_only(body)
    (key,) = body["keys"]
    assert key["crv"] == "P-256" and {"x", "y"} <= set(key)


@pytest.mark.parametrize("tenant_name", ["acme", "beta"])
def test_a_token_of_the_tenant_verifies_against_its_jwks(
    app: Any, client: Any, acme: Any, beta: Any, tenant_name: str
) -> None:
    tenant = acme if tenant_name == "acme" else beta
    user = make_user(app, tenant, "kim")
    token = make_token(app, tenant, user)
    key_set = KeySet.import_key_set(fetch(client, f"/t/{tenant_name}/oauth2/jwks"))
    decoded = jwt.decode(token, key_set, algorithms=ALGS)
    assert decoded.header["kid"] in {key.kid for key in key_set.keys}
    assert decoded.claims["sub"] == user.id
    assert decoded.claims["client_id"] == "test-client"


def test_a_token_of_another_tenant_does_not_verify(app: Any, client: Any, acme: Any, beta: Any) -> None:
    beta_token = make_token(app, beta, make_user(app, beta, "kim"))
    acme_keys = KeySet.import_key_set(fetch(client, "/t/acme/oauth2/jwks"))
    with pytest.raises((JoseError, ValueError)):
        jwt.decode(beta_token, acme_keys, algorithms=ALGS)


def test_tenants_have_disjoint_kids(app: Any, client: Any, acme: Any, beta: Any) -> None:
    gamma = make_tenant(app, "gamma", alg="RS256")
    kids = {
        name: {key["kid"] for key in fetch(client, f"/t/{name}/oauth2/jwks")["keys"]}
        for name in ("acme", "beta", "gamma")
    }
    assert all(kids.values())
    assert not kids["acme"] & kids["beta"]
    assert not kids["acme"] & kids["gamma"]
    assert not kids["beta"] & kids["gamma"]
    assert gamma.name == "gamma"


def test_a_new_key_appears_in_the_jwks(app: Any, client: Any, acme: Any) -> None:
    before = {key["kid"] for key in fetch(client, "/t/acme/oauth2/jwks")["keys"]}
    settings = app.extensions["scim_me"].settings
    with app.extensions["scim_me"].db.connection_context():
        new_kid = create_signing_key(acme.id, settings.master_key(), "ES256")
    body = fetch(client, "/t/acme/oauth2/jwks")
    assert_public_only(body)
    assert {key["kid"] for key in body["keys"]} == before | {new_kid}
    # The newest key signs; the token verifies with the published set.
    token = make_token(app, acme, make_user(app, acme, "kim"))
    decoded = jwt.decode(token, KeySet.import_key_set(body), algorithms=ALGS)
    assert decoded.header["kid"] == new_kid


def test_bare_path_serves_the_default_tenant(app: Any, client: Any, acme: Any) -> None:
    root = make_tenant(app, "carbon.super")
    token = make_token(app, root, make_user(app, root, "kim"))
    body = fetch(client, "/oauth2/jwks")
    assert_public_only(body)
    acme_kids = {key["kid"] for key in fetch(client, "/t/acme/oauth2/jwks")["keys"]}
    assert not {key["kid"] for key in body["keys"]} & acme_kids
    jwt.decode(token, KeySet.import_key_set(body), algorithms=ALGS)


@pytest.mark.parametrize("path", ["/t/nosuch/oauth2/jwks", "/t/NoSuch/oauth2/jwks"])
def test_unknown_tenant_is_a_wso2_rest_404(client: Any, acme: Any, path: str) -> None:
    response = client.get(path, headers={"X-Request-Id": "trace-123"})
    assert response.status_code == 404
    assert response.mimetype == "application/json"
    body = response.json
    assert set(body) == {"code", "message", "description", "traceId"}
    assert all(isinstance(value, str) and value for value in body.values())
    assert body["message"] == "Not Found"
    assert body["traceId"] == "trace-123"
    assert "keys" not in body


def test_unknown_tenant_404_has_a_generated_trace_id(client: Any) -> None:
    response = client.get("/t/nosuch/oauth2/jwks")
    assert response.status_code == 404
    assert set(response.json) == {"code", "message", "description", "traceId"}
    assert response.json["traceId"]

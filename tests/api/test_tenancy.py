"""Tenant isolation (security.md T-AC-1): ``/t/{tenant}/scim2/...`` selects a tenant, bare ``/scim2/...``
is the default tenant ``carbon.super``; tokens, users and credentials never cross tenants."""

from __future__ import annotations

import pytest

from tests.factories import SCIM_JSON
from tests.factories import basic
from tests.factories import bearer
from tests.factories import make_tenant
from tests.factories import make_token
from tests.factories import make_user

ERROR_URN = "urn:ietf:params:scim:api:messages:2.0:Error"


def assert_invalid_token(response, reason: str) -> None:
    assert response.status_code == 401, response.get_data(as_text=True)
    assert response.mimetype == SCIM_JSON
    assert response.json == {"schemas": [ERROR_URN], "status": "401", "detail": f"Authorization failure. {reason}"}
    assert response.headers["WWW-Authenticate"] == (
        f'Bearer realm="scim-me", error="invalid_token", error_description="{reason}"'
    )


@pytest.fixture
def acme(app):
    return make_tenant(app, "acme")


@pytest.fixture
def beta(app):
    return make_tenant(app, "beta")


@pytest.fixture
def acme_kim(app, acme):
    return make_user(app, acme, "kim")


@pytest.fixture
def acme_token(app, acme, acme_kim):
    return make_token(app, acme, acme_kim)


def test_token_of_tenant_a_is_refused_by_tenant_b(client, beta, acme_token):
    response = client.get("/t/beta/scim2/Me", headers=bearer(acme_token))
    assert_invalid_token(response, "The access token was not signed by this tenant.")


def test_token_on_an_unknown_tenant_is_401(client, acme_token):
    assert_invalid_token(client.get("/t/nosuch/scim2/Me", headers=bearer(acme_token)), "Unknown tenant.")


def test_unknown_tenant_without_credentials_is_a_plain_401(client):
    response = client.get("/t/nosuch/scim2/Me")
    assert response.status_code == 401
    assert response.json == {
        "schemas": [ERROR_URN],
        "status": "401",
        "detail": "Authorization failure. Authorization information was invalid or missing from your request.",
    }
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="scim-me"'


def test_tenant_b_key_cannot_name_a_user_of_tenant_a(app, client, beta, acme_kim):
    token = make_token(app, beta, acme_kim)
    assert_invalid_token(client.get("/t/beta/scim2/Me", headers=bearer(token)), "The token's user does not exist.")


def test_own_user_endpoint_does_not_reach_into_another_tenant(app, client, beta, acme_kim):
    beta_kim = make_user(app, beta, "kim")
    token = make_token(app, beta, beta_kim)
    response = client.get(f"/t/beta/scim2/Users/{acme_kim.id}", headers=bearer(token))
    assert response.status_code == 404
    assert response.json == {
        "schemas": [ERROR_URN],
        "status": "404",
        "detail": "Specified resource (e.g., User) or endpoint does not exist.",
    }


def test_bare_path_is_the_default_tenant(app, client):
    default = make_tenant(app, "carbon.super")
    admin = make_user(app, default, "admin")
    token = make_token(app, default, admin)
    for path in ("/scim2/Me", "/t/carbon.super/scim2/Me"):
        response = client.get(path, headers=bearer(token))
        assert response.status_code == 200, (path, response.json)
        assert response.json["id"] == admin.id
    bare = client.get("/scim2/Me", headers=bearer(token))
    assert bare.json["meta"]["location"] == f"http://localhost/scim2/Users/{admin.id}"


def test_default_tenant_token_is_refused_by_a_named_tenant_and_back(app, client, acme, acme_token):
    default = make_tenant(app, "carbon.super")
    admin = make_user(app, default, "admin")
    default_token = make_token(app, default, admin)
    refused = client.get("/t/acme/scim2/Me", headers=bearer(default_token))
    assert_invalid_token(refused, "The access token was not signed by this tenant.")
    assert_invalid_token(
        client.get("/scim2/Me", headers=bearer(acme_token)), "The access token was not signed by this tenant."
    )


def test_bare_path_without_a_default_tenant_is_401(client, acme_token):
    assert_invalid_token(client.get("/scim2/Me", headers=bearer(acme_token)), "Unknown tenant.")


@pytest.mark.parametrize("spelling", ["ACME", "Acme", "aCmE"])
def test_tenant_name_in_the_url_is_case_insensitive(client, acme_kim, acme_token, spelling):
    response = client.get(f"/t/{spelling}/scim2/Me", headers=bearer(acme_token))
    assert response.status_code == 200, response.json
    assert response.json["id"] == acme_kim.id


def test_location_is_tenant_qualified(client, acme_kim, acme_token):
    response = client.get("/t/acme/scim2/Me", headers=bearer(acme_token))
    expected = f"http://localhost/t/acme/scim2/Users/{acme_kim.id}"
    assert response.headers["Location"] == expected
    assert response.json["meta"]["location"] == expected


def test_same_user_name_lives_in_two_tenants(app, client, acme, beta, acme_kim, acme_token):
    beta_kim = make_user(app, beta, "kim", "beta-password-7")
    assert beta_kim.id != acme_kim.id
    beta_token = make_token(app, beta, beta_kim)
    from_acme = client.get("/t/acme/scim2/Me", headers=bearer(acme_token))
    from_beta = client.get("/t/beta/scim2/Me", headers=bearer(beta_token))
    assert (from_acme.status_code, from_beta.status_code) == (200, 200)
    assert (from_acme.json["userName"], from_beta.json["userName"]) == ("kim", "kim")
    assert from_acme.json["id"] == acme_kim.id
    assert from_beta.json["id"] == beta_kim.id
    by_password = client.get("/t/beta/scim2/Me", headers=basic("kim", "beta-password-7"))
    assert by_password.json["id"] == beta_kim.id


def test_discovery_of_an_unknown_tenant_is_404(client, acme):
    response = client.get("/t/nosuch/scim2/ServiceProviderConfig")
    assert response.status_code == 404
    assert response.json == {"schemas": [ERROR_URN], "status": "404", "detail": "No such tenant."}
    assert client.get("/t/acme/scim2/ServiceProviderConfig").status_code == 200

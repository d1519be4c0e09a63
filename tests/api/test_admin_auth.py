"""Who may call the admin endpoints, WSO2 style: admin scopes on tokens (client_credentials with
the client's allowed scopes; user tokens only for holders of the tenant's admin role), HTTP Basic
for an admin-role holder, and an account disabled by an administrator signing in nowhere."""

from __future__ import annotations

import pytest

from scim_me.storage.clients import create_client
from tests.factories import basic
from tests.factories import bearer
from tests.factories import make_tenant
from tests.factories import make_user
from tests.factories import patch_body
from tests.support.admin import ALL_ADMIN
from tests.support.admin import PASSWORD
from tests.support.admin import make_admin

TOKEN = "/t/acme/oauth2/token"
REVOKE = "/t/acme/oauth2/revoke"
SEARCH_URN = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"
USERS = "/t/acme/scim2/Users"


@pytest.fixture
def confidential(app, tenant):
    """A client allowed the password and client_credentials grants with every admin scope."""
    with app.extensions["scim_me"].db.connection_context():
        record, secret = create_client(
            tenant.id,
            "admin console",
            public=False,
            redirect_uris=[],
            allowed_origins=[],
            grant_types=["password", "client_credentials", "refresh_token"],
            scope=f"openid internal_login {ALL_ADMIN}",
        )
    return record.client_id, secret


def _token(client, confidential, **data):
    client_id, secret = confidential
    response = client.post(TOKEN, data=data, headers=basic(client_id, secret))
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.json


def test_client_credentials_get_the_clients_admin_scopes(client, confidential, tenant):
    token = _token(client, confidential, grant_type="client_credentials", scope="internal_user_mgt_list")
    assert token["scope"] == "internal_user_mgt_list"
    assert client.get(USERS, headers=bearer(token["access_token"])).status_code == 200


def test_a_user_token_carries_admin_scopes_only_for_an_admin(client, app, confidential, tenant):
    make_user(app, tenant, "lee", PASSWORD)
    make_admin(app, tenant)
    wanted = "openid internal_login internal_user_mgt_list"
    lee = _token(client, confidential, grant_type="password", username="lee", password=PASSWORD, scope=wanted)
    assert lee["scope"] == "openid internal_login"
    assert client.get(USERS, headers=bearer(lee["access_token"])).status_code == 403
    admin = _token(client, confidential, grant_type="password", username="admin", password=PASSWORD, scope=wanted)
    assert admin["scope"] == wanted
    assert client.get(USERS, headers=bearer(admin["access_token"])).status_code == 200


def test_a_disabled_user_cannot_get_or_use_or_refresh_tokens(client, app, confidential, tenant):
    lee = make_user(app, tenant, "lee", PASSWORD)
    issued = _token(
        client, confidential, grant_type="password", username="lee", password=PASSWORD, scope="internal_login"
    )
    admin = _token(client, confidential, grant_type="client_credentials", scope=ALL_ADMIN)
    disable = patch_body({"op": "replace", "path": "active", "value": False})
    assert client.patch(f"{USERS}/{lee.id}", json=disable, headers=bearer(admin["access_token"])).status_code == 200
    assert client.get("/t/acme/scim2/Me", headers=bearer(issued["access_token"])).status_code == 401
    client_id, secret = confidential
    refresh = client.post(
        TOKEN,
        data={"grant_type": "refresh_token", "refresh_token": issued["refresh_token"]},
        headers=basic(client_id, secret),
    )
    assert refresh.status_code == 400 and refresh.json["error"] == "invalid_grant"
    again = client.post(
        TOKEN,
        data={"grant_type": "password", "username": "lee", "password": PASSWORD, "scope": "internal_login"},
        headers=basic(client_id, secret),
    )
    assert again.status_code == 400 and again.json["error"] == "invalid_grant"


def test_the_admin_role_is_a_tenant_setting(client, app):
    tenant = make_tenant(app, "acme", admin_role="superuser")
    make_user(app, tenant, "root", PASSWORD, roles=[{"value": "superuser"}])
    make_admin(app, tenant)  # holds "admin", which is not this tenant's admin role
    assert client.get(USERS, headers=basic("root", PASSWORD)).status_code == 200
    assert client.get(USERS, headers=basic("admin", PASSWORD)).status_code == 403


# A client_credentials token's revocation is read by the list page statement (web/guards.py
# DeferredRevocation): it must answer exactly as the check made up front did, whatever else is
# wrong with the request, and whether or not the page has a row to carry it.
GROUPS = "/t/acme/scim2/Groups"


@pytest.mark.parametrize(
    ("method", "path", "body", "scope"),
    [
        ("get", f'{USERS}?filter=userName eq "lee"', None, ALL_ADMIN),  # a row: the page reads it
        ("get", f'{USERS}?filter=userName eq "nobody"', None, ALL_ADMIN),  # no row: a check of its own
        ("get", f"{USERS}?count=1", None, ALL_ADMIN),  # a full page (COUNT(*) too)
        ("get", f"{USERS}?count=0", None, ALL_ADMIN),
        ("get", f"{USERS}?count=1&cursor=", None, ALL_ADMIN),
        ("get", f'{USERS}?filter=userName eq "lee" and', None, ALL_ADMIN),  # 400 without revocation
        ("get", f"{USERS}?sortBy=emails", None, ALL_ADMIN),
        ("get", f"{USERS}?cursor=bogus", None, ALL_ADMIN),
        ("get", f'{USERS}?filter=userName eq "lee"', None, "internal_group_mgt_list"),  # 403 without
        ("post", f"{USERS}/.search", {"filter": 'userName eq "lee"'}, ALL_ADMIN),
        ("post", f"{USERS}/.search", {"filter": 'userName eq "lee"', "bogus": 1}, ALL_ADMIN),
        ("get", f'{GROUPS}?filter=displayName eq "Ops"', None, ALL_ADMIN),
        ("get", f'{GROUPS}?filter=displayName eq "none"', None, ALL_ADMIN),
        ("get", f"{GROUPS}?filter=displayName zz", None, ALL_ADMIN),
        ("get", f"{GROUPS}?count=1", None, ALL_ADMIN),
    ],
)
def test_a_revoked_client_token_lists_nothing_whatever_else_is_wrong(
    client, app, confidential, tenant, method, path, body, scope
):
    make_user(app, tenant, "lee", PASSWORD)
    make_user(app, tenant, "kim", PASSWORD)
    setup = _token(client, confidential, grant_type="client_credentials", scope=ALL_ADMIN)["access_token"]
    assert client.post(GROUPS, json={"displayName": "Ops"}, headers=bearer(setup)).status_code == 201
    assert client.post(GROUPS, json={"displayName": "Dev"}, headers=bearer(setup)).status_code == 201
    token = _token(client, confidential, grant_type="client_credentials", scope=scope)["access_token"]
    headers = bearer(token)

    def send():
        if method == "post":
            return client.post(path, json={"schemas": [SEARCH_URN], **body}, headers=headers)
        return client.get(path, headers=headers)

    for _ in range(3):  # on PostgreSQL the page statement is prepared by now
        live = send()
    assert live.status_code != 401, live.get_data(as_text=True)
    client_id, secret = confidential
    revoked = client.post(REVOKE, data={"token": token}, headers=basic(client_id, secret))
    assert revoked.status_code == 200
    for _ in range(2):
        response = send()
        assert response.status_code == 401, response.get_data(as_text=True)
        assert response.json["detail"] == "Authorization failure. The access token has been revoked."
        assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]

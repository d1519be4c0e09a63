"""/scim2/Users: user administration (RFC 7644 §3.3-3.6), WSO2 scopes, both dialects."""

from __future__ import annotations

import json

import pytest

from scim_me.errors import SCIM_ERROR_URN
from tests.factories import basic
from tests.factories import bearer
from tests.factories import load_user
from tests.factories import make_tenant
from tests.factories import make_token
from tests.factories import make_user
from tests.factories import patch_body
from tests.factories import scim_error
from tests.support.admin import ENTERPRISE_URN
from tests.support.admin import LIST_URN
from tests.support.admin import PASSWORD
from tests.support.admin import USER_URN
from tests.support.admin import admin_basic
from tests.support.admin import client_headers
from tests.support.admin import events_of
from tests.support.admin import make_admin

USERS = "/t/acme/scim2/Users"
ME = "/t/acme/scim2/Me"
DISABLE = patch_body({"op": "replace", "path": "active", "value": False})
ENABLE = patch_body({"op": "replace", "path": "active", "value": True})
TITLE = patch_body({"op": "add", "value": {"title": "x"}})


@pytest.fixture
def admin(app, tenant):
    return make_admin(app, tenant)


# RFC 7644 §3.3 example request body.
BJENSEN = {
    "schemas": [USER_URN],
    "userName": "bjensen",
    "externalId": "bjensen",
    "name": {"formatted": "Ms. Barbara J Jensen III", "familyName": "Jensen", "givenName": "Barbara"},
}


def test_create_is_201_with_location_and_the_user(client, auth):
    """RFC 7644 §3.3: "the server SHALL return a 201 Created response code" with Location."""
    response = client.post(USERS, json=BJENSEN, headers=auth)
    assert response.status_code == 201, response.json
    body = response.json
    assert response.headers["Location"] == f"http://localhost/t/acme/scim2/Users/{body['id']}"
    assert body["meta"]["location"] == response.headers["Location"]
    assert response.headers["ETag"] == body["meta"]["version"] == 'W/"1"'
    assert body["userName"] == "bjensen"
    assert body["externalId"] == "bjensen"
    assert body["name"] == BJENSEN["name"]
    assert body["meta"]["resourceType"] == "User"
    assert "password" not in body


def test_create_a_taken_user_name_is_409_uniqueness(client, auth):
    """RFC 7644 §3.3: "If the service provider determines that the creation of the requested
    resource conflicts with existing resources ... 409 (Conflict) with a "scimType" error code of
    "uniqueness"."""
    assert client.post(USERS, json=BJENSEN, headers=auth).status_code == 201
    again = client.post(USERS, json={**BJENSEN, "userName": "BJensen"}, headers=auth)
    assert again.status_code == 409
    assert again.json == scim_error(409, "User name BJensen is already taken in this tenant.", "uniqueness")


def test_create_without_user_name_is_400_full_body(client, auth):
    response = client.post(USERS, json={"schemas": [USER_URN], "displayName": "x"}, headers=auth)
    assert response.status_code == 400
    assert response.json == scim_error(400, "Required attribute userName is missing.", "invalidValue")


def test_create_with_a_password_lets_the_user_sign_in(client, auth):
    response = client.post(USERS, json={**BJENSEN, "password": "t1meMa$heen-7"}, headers=auth)
    assert response.status_code == 201
    assert client.get(ME, headers=basic("bjensen", "t1meMa$heen-7")).status_code == 200


def test_create_with_a_weak_password_is_400_and_nothing_is_stored(app, client, auth, tenant):
    response = client.post(USERS, json={**BJENSEN, "password": "short"}, headers=auth)
    assert response.status_code == 400
    assert response.json["scimType"] == "invalidValue"
    assert "short" not in response.get_data(as_text=True)
    listing = client.get(USERS, headers=auth)
    assert listing.json["totalResults"] == 0


def test_admin_attributes_are_writable_here(client, auth):
    body = {
        **BJENSEN,
        "active": True,
        "roles": [{"value": "auditor"}],
        "entitlements": [{"value": "reports"}],
        ENTERPRISE_URN: {"employeeNumber": "701984", "department": "Tour Operations"},
        "urn:scim:wso2:schema": {"emailVerified": True, "accountDisabled": False},
    }
    response = client.post(USERS, json=body, headers=auth)
    assert response.status_code == 201, response.json
    created = response.json
    assert created["active"] is True
    assert created["roles"] == [{"value": "auditor"}]
    assert created["entitlements"] == [{"value": "reports"}]
    assert created[ENTERPRISE_URN] == {"employeeNumber": "701984", "department": "Tour Operations"}
    assert created["urn:scim:wso2:schema"] == {"emailVerified": True, "accountDisabled": False}


def test_get_by_id_and_404(client, auth, app, tenant):
    lee = make_user(app, tenant, "lee", nickName="lee-l")
    response = client.get(f"{USERS}/{lee.id}", headers=auth)
    assert response.status_code == 200
    assert response.json["userName"] == "lee"
    assert response.headers["ETag"] == 'W/"1"'
    missing = client.get(f"{USERS}/no-such-id", headers=auth)
    assert missing.status_code == 404
    assert missing.json == scim_error(404, "User no-such-id not found in the user store.")


def test_get_with_attributes_and_excluded_attributes(client, auth, app, tenant):
    """RFC 7644 §3.9: attributes / excludedAttributes shape the returned resource."""
    lee = make_user(app, tenant, "lee", nickName="lee-l", title="Dr")
    only = client.get(f"{USERS}/{lee.id}?attributes=nickName", headers=auth).json
    assert set(only) == {"schemas", "id", "meta", "nickName"}
    without = client.get(f"{USERS}/{lee.id}?excludedAttributes=title", headers=auth).json
    assert "title" not in without and without["nickName"] == "lee-l"


def test_put_replaces_the_user(client, auth, app, tenant):
    """RFC 7644 §3.5.1: attributes left out of a PUT are cleared."""
    lee = make_user(app, tenant, "lee", nickName="lee-l", title="Dr")
    response = client.put(
        f"{USERS}/{lee.id}", json={"schemas": [USER_URN], "userName": "lee", "title": "Prof"}, headers=auth
    )
    assert response.status_code == 200, response.json
    assert response.json["title"] == "Prof"
    assert "nickName" not in response.json
    assert response.headers["ETag"] == 'W/"2"'


def test_put_cannot_rename(client, auth, app, tenant):
    lee = make_user(app, tenant, "lee")
    response = client.put(f"{USERS}/{lee.id}", json={"userName": "lee2"}, headers=auth)
    assert response.status_code == 400
    assert response.json["scimType"] == "mutability"


def test_patch_uses_the_patch_engine_with_value_filters(client, auth, app, tenant):
    """RFC 7644 §3.5.2.1 / §3.5.2.3 example operations against a user."""
    lee = make_user(app, tenant, "lee", emails=[{"value": "lee@example.com", "type": "work"}])
    body = patch_body(
        {"op": "add", "path": "nickName", "value": "Babs"},
        {"op": "replace", "path": 'emails[type eq "work"].value', "value": "bjensen@example.com"},
        {"op": "add", "value": {"roles": [{"value": "auditor"}]}},
    )
    response = client.patch(f"{USERS}/{lee.id}", json=body, headers=auth)
    assert response.status_code == 200, response.json
    assert response.json["nickName"] == "Babs"
    assert response.json["roles"] == [{"value": "auditor"}]
    assert response.json["emails"] == [{"value": "bjensen@example.com", "type": "work"}]


def test_patch_bad_path_is_400_full_body(client, auth, app, tenant):
    lee = make_user(app, tenant, "lee")
    response = client.patch(f"{USERS}/{lee.id}", json=patch_body({"op": "remove", "path": "nosuch"}), headers=auth)
    assert response.status_code == 400
    assert response.json == scim_error(
        400, "No such attribute with the name : nosuch in the current resource", "invalidPath"
    )


def test_patch_password_lets_the_user_sign_in_and_ends_their_sessions(client, auth, app, tenant):
    lee = make_user(app, tenant, "lee", PASSWORD)
    old_token = make_token(app, tenant, lee)
    body = patch_body({"op": "replace", "path": "password", "value": "n3w-Secret-pass"})
    response = client.patch(f"{USERS}/{lee.id}", json=body, headers=auth)
    assert response.status_code == 200, response.json
    assert "password" not in response.json
    assert "n3w-Secret-pass" not in response.get_data(as_text=True)
    assert client.get(ME, headers=basic("lee", "n3w-Secret-pass")).status_code == 200
    assert client.get(ME, headers=basic("lee", PASSWORD)).status_code == 401
    events = events_of(app, tenant, lee.id)
    reset = [e for e in events if e.kind == "password.reset"]
    assert len(reset) == 1
    assert reset[0].details["by"] == {"channel": "scim_users", "clientId": "provisioner"}
    assert "n3w-Secret-pass" not in json.dumps([e.details for e in events])
    del old_token  # minted outside the issuer: no grant to revoke (see the sessions test below)


def test_active_false_refuses_sign_in_and_token_use_at_once(client, auth, app, tenant):
    lee = make_user(app, tenant, "lee", PASSWORD)
    token = make_token(app, tenant, lee)
    assert client.get(ME, headers=bearer(token)).status_code == 200
    response = client.patch(f"{USERS}/{lee.id}", json=DISABLE, headers=auth)
    assert response.status_code == 200, response.json
    assert response.json["active"] is False
    refused = client.get(ME, headers=bearer(token))
    assert refused.status_code == 401
    assert refused.json == {
        "schemas": [SCIM_ERROR_URN],
        "status": "401",
        "detail": "Authorization failure. The account is disabled.",
    }
    assert client.get(ME, headers=basic("lee", PASSWORD)).status_code == 401
    kinds = [e.kind for e in events_of(app, tenant, lee.id)]
    assert "account.disabled" in kinds
    # Enabled again, the same token works (it was not revoked: it never had a grant).
    again = client.patch(f"{USERS}/{lee.id}", json=ENABLE, headers=auth)
    assert again.status_code == 200
    assert client.get(ME, headers=basic("lee", PASSWORD)).status_code == 200


def test_a_user_cannot_set_admin_attributes_on_me(client, app, tenant):
    lee = make_user(app, tenant, "lee", PASSWORD)
    response = client.patch(ME, json=DISABLE, headers=basic("lee", PASSWORD))
    assert response.status_code == 400
    assert response.json["scimType"] == "mutability"
    assert load_user(app, tenant, lee.id).profile.get("active") is None


def test_delete_is_204_and_the_user_is_gone(client, auth, app, tenant):
    lee = make_user(app, tenant, "lee", PASSWORD)
    token = make_token(app, tenant, lee)
    response = client.delete(f"{USERS}/{lee.id}", headers=auth)
    assert response.status_code == 204
    assert response.data == b""
    assert load_user(app, tenant, lee.id) is None
    assert client.get(f"{USERS}/{lee.id}", headers=auth).status_code == 404
    assert client.get(ME, headers=bearer(token)).status_code == 401
    assert client.delete(f"{USERS}/{lee.id}", headers=auth).status_code == 404


def test_if_match_stale_is_412_on_every_write(client, auth, app, tenant):
    """RFC 7644 §3.14: a stale If-Match is 412 Precondition Failed."""
    lee = make_user(app, tenant, "lee")
    stale = {**auth, "If-Match": 'W/"7"'}
    expected = scim_error(412, 'The user is at version W/"1", not W/"7".')
    patch = client.patch(f"{USERS}/{lee.id}", json=TITLE, headers=stale)
    put = client.put(f"{USERS}/{lee.id}", json={"userName": "lee"}, headers=stale)
    delete = client.delete(f"{USERS}/{lee.id}", headers=stale)
    for response in (patch, put, delete):
        assert response.status_code == 412
        assert response.json == expected
        assert response.headers["ETag"] == 'W/"1"'
    fresh = client.patch(f"{USERS}/{lee.id}", json=TITLE, headers={**auth, "If-Match": 'W/"1"'})
    assert fresh.status_code == 200


def test_admin_changes_are_in_the_users_security_events_and_export(client, app, tenant, admin):
    lee = make_user(app, tenant, "lee", PASSWORD)
    body = patch_body({"op": "add", "value": {"title": "Dr", "nickName": "l"}})
    assert client.patch(f"{USERS}/{lee.id}", json=body, headers=admin_basic()).status_code == 200
    events = [e for e in events_of(app, tenant, lee.id) if e.kind == "profile.updated"]
    assert len(events) == 1
    assert events[0].details == {
        "by": {"channel": "scim_users", "userId": admin.id, "userName": "admin"},
        "attributes": ["nickName", "title"],
    }
    export = client.get("/t/acme/api/identity/user/v1.0/me", headers=basic("lee", PASSWORD))
    assert export.status_code == 200
    kinds = [e["kind"] for e in export.json["securityEvents"]]
    assert "profile.updated" in kinds


# Authorization


def test_basic_admin_holding_the_role_gets_the_admin_scopes(client, admin):
    response = client.post(USERS, json=BJENSEN, headers=admin_basic())
    assert response.status_code == 201


def test_basic_user_without_the_role_is_403(client, app, tenant):
    make_user(app, tenant, "lee", PASSWORD)
    response = client.get(USERS, headers=basic("lee", PASSWORD))
    assert response.status_code == 403
    assert response.json == scim_error(
        403, "Operation is not permitted. You do not have permissions to make this request."
    )


def test_a_regular_users_token_is_403_even_with_admin_scopes_in_it(client, app, tenant):
    lee = make_user(app, tenant, "lee", PASSWORD)
    token = make_token(app, tenant, lee, "internal_login internal_user_mgt_list")
    assert client.get(USERS, headers=bearer(token)).status_code == 403
    plain = make_token(app, tenant, lee)
    assert client.get(USERS, headers=bearer(plain)).status_code == 403
    assert client.post(USERS, json=BJENSEN, headers=bearer(plain)).status_code == 403


def test_a_user_sees_only_their_own_user_by_id(client, app, tenant):
    lee = make_user(app, tenant, "lee", PASSWORD)
    kim = make_user(app, tenant, "kim", PASSWORD)
    token = make_token(app, tenant, lee)
    assert client.get(f"{USERS}/{lee.id}", headers=bearer(token)).status_code == 200
    other = client.get(f"{USERS}/{kim.id}", headers=bearer(token))
    assert other.status_code == 404


def test_each_verb_needs_its_scope(client, app, tenant):
    lee = make_user(app, tenant, "lee")
    view_only = client_headers(app, tenant, "internal_user_mgt_view")
    assert client.get(f"{USERS}/{lee.id}", headers=view_only).status_code == 200
    assert client.get(USERS, headers=view_only).status_code == 403
    assert client.delete(f"{USERS}/{lee.id}", headers=view_only).status_code == 403
    denied = client.patch(f"{USERS}/{lee.id}", json=TITLE, headers=view_only)
    assert denied.status_code == 403
    assert denied.headers["WWW-Authenticate"].startswith('Bearer realm="scim-me", error="insufficient_scope"')


def test_nothing_of_another_tenant_is_visible(client, app, tenant, auth):
    other = make_tenant(app, "other")
    stranger = make_user(app, other, "stranger")
    assert client.get(f"{USERS}/{stranger.id}", headers=auth).status_code == 404
    assert client.get(USERS, headers=auth).json["totalResults"] == 0
    # acme's token on other's URL is refused outright.
    assert client.get(f"/t/other/scim2/Users/{stranger.id}", headers=auth).status_code == 401


def test_no_credentials_is_401(client, tenant):
    response = client.get(USERS)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


# Listing (RFC 7644 §3.4.2)


@pytest.fixture
def five(app, tenant):
    return [make_user(app, tenant, name) for name in ("erin", "alex", "dana", "bo", "cy")]


def test_list_totals_and_index_paging(client, auth, five):
    """RFC 7644 §3.4.2.4: 1-based startIndex, count per page."""
    first = client.get(f"{USERS}?startIndex=1&count=2&sortBy=userName", headers=auth).json
    assert first["schemas"] == [LIST_URN]
    assert first["totalResults"] == 5
    assert first["startIndex"] == 1
    assert first["itemsPerPage"] == 2
    assert [u["userName"] for u in first["Resources"]] == ["alex", "bo"]
    last = client.get(f"{USERS}?startIndex=5&count=2&sortBy=userName", headers=auth).json
    assert [u["userName"] for u in last["Resources"]] == ["erin"]
    beyond = client.get(f"{USERS}?startIndex=9&count=2", headers=auth).json
    assert beyond["Resources"] == [] and beyond["totalResults"] == 5


def test_count_zero_returns_only_the_total(client, auth, five):
    """RFC 7644 §3.4.2.4: "A value of "0" indicates that no resource results are to be returned
    except for "totalResults"."""
    body = client.get(f"{USERS}?count=0", headers=auth).json
    assert body == {"schemas": [LIST_URN], "totalResults": 5, "startIndex": 1, "itemsPerPage": 0}


def test_sort_descending_and_bad_parameters(client, auth, five):
    body = client.get(f"{USERS}?sortBy=userName&sortOrder=descending", headers=auth).json
    assert [u["userName"] for u in body["Resources"]] == ["erin", "dana", "cy", "bo", "alex"]
    bad = client.get(f"{USERS}?count=many", headers=auth)
    assert bad.status_code == 400
    assert bad.json == scim_error(400, "count must be an integer.", "invalidValue")
    order = client.get(f"{USERS}?sortOrder=sideways", headers=auth)
    assert order.json == scim_error(400, 'sortOrder must be "ascending" or "descending".', "invalidValue")


def test_filter_user_name_eq_is_case_insensitive(client, auth, five):
    """RFC 7644 §3.4.2.2 example: filter=userName eq "bjensen"; userName is caseExact false."""
    body = client.get(f'{USERS}?filter=userName eq "DANA"', headers=auth).json
    assert body["totalResults"] == 1
    assert body["Resources"][0]["userName"] == "dana"


def test_malformed_filter_is_400_invalid_filter(client, auth, five):
    response = client.get(f"{USERS}?filter=userName eq", headers=auth)
    assert response.status_code == 400
    assert response.json == scim_error(400, "Invalid filter: userName eq", "invalidFilter")


def test_list_with_attributes(client, auth, five):
    body = client.get(f"{USERS}?attributes=userName&count=1&sortBy=userName", headers=auth).json
    (only,) = body["Resources"]
    assert set(only) == {"schemas", "id", "meta", "userName"}
    assert only["userName"] == "alex"


def test_search_request_post(client, auth, five):
    """RFC 7644 §3.4.3: POST /.search with a SearchRequest body."""
    search = {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
        "attributes": ["userName"],
        "filter": 'userName eq "bo"',
        "startIndex": 1,
        "count": 10,
    }
    response = client.post(f"{USERS}/.search", json=search, headers=auth)
    assert response.status_code == 200, response.json
    assert response.json["totalResults"] == 1
    assert response.json["Resources"][0]["userName"] == "bo"
    bad = client.post(f"{USERS}/.search", json={**search, "bogus": 1}, headers=auth)
    assert bad.status_code == 400
    assert bad.json == scim_error(400, "Unknown SearchRequest member bogus.", "invalidSyntax")


def test_bare_path_is_the_default_tenant(client, app):
    default = make_tenant(app, "carbon.super")
    make_admin(app, default)
    response = client.post("/scim2/Users", json=BJENSEN, headers=admin_basic())
    assert response.status_code == 201
    assert response.headers["Location"].startswith("http://localhost/scim2/Users/")


def test_rfc_dialect_emails_are_objects(client, app):
    rfc = make_tenant(app, "rfc", dialect="rfc")
    headers = client_headers(app, rfc)
    body = {**BJENSEN, "emails": [{"value": "bjensen@example.com", "primary": True}]}
    response = client.post("/t/rfc/scim2/Users", json=body, headers=headers)
    assert response.status_code == 201
    assert response.json["emails"] == [{"value": "bjensen@example.com", "primary": True}]
    assert response.json["schemas"] == [USER_URN]


def test_filters_run_in_the_database_with_every_shape(client, auth, app, tenant):
    """RFC 7644 §3.4.2.2 examples: complex attribute filter, sub-attributes, extension URNs, pr."""
    make_user(app, tenant, "bjensen", emails=[{"type": "work", "value": "bjensen@example.com"}], title="Tour Guide")
    make_user(app, tenant, "jsmith", emails=[{"type": "home", "value": "js@example.com"}])
    make_user(app, tenant, "emp", **{ENTERPRISE_URN: {"employeeNumber": "701984"}})

    def names(text):
        response = client.get(USERS, query_string={"filter": text, "sortBy": "userName"}, headers=auth)
        assert response.status_code == 200, response.json
        return [u["userName"] for u in response.json.get("Resources", [])]

    assert names('emails[type eq "work" and value co "@example.com"]') == ["bjensen"]
    assert names('emails.value co "@example.com"') == ["bjensen", "jsmith"]
    assert names("title pr") == ["bjensen"]
    assert names('title pr and userName sw "J"') == []
    assert names(f'{ENTERPRISE_URN}:employeeNumber eq "701984"') == ["emp"]
    assert names('not (userName eq "emp")') == ["bjensen", "jsmith"]


def test_cursor_paging(client, auth, five):
    """RFC 9865: cursor="" starts, nextCursor continues, no startIndex on cursor pages."""
    first = client.get(f"{USERS}?cursor=&count=3&sortBy=userName", headers=auth).json
    assert "startIndex" not in first
    assert [u["userName"] for u in first["Resources"]] == ["alex", "bo", "cy"]
    after = client.get(f"{USERS}?cursor={first['nextCursor']}&count=3&sortBy=userName", headers=auth).json
    assert [u["userName"] for u in after["Resources"]] == ["dana", "erin"]
    assert "nextCursor" not in after and after["previousCursor"]
    forged = client.get(f"{USERS}?cursor=abc&count=3&sortBy=userName", headers=auth)
    assert forged.status_code == 400
    assert forged.json["scimType"] == "invalidCursor"


def test_a_page_costs_the_same_statements_whatever_its_size(client, auth, app, tenant):
    """The users of a page are rendered with facts the page statement reads with them
    (caller.page_fact_sql): a 20-user page runs as many statements as a 2-user page."""
    from tests.support.statements import count_statements

    for index in range(20):
        make_user(app, tenant, f"user{index:02d}")
    counts = []
    for size in (2, 20):
        for _ in range(2):  # warm the worker's caches (and PostgreSQL's prepared page statement)
            client.get(f"{USERS}?count={size}", headers=auth)
        with count_statements(app) as seen:
            response = client.get(f"{USERS}?count={size}", headers=auth)
        assert response.status_code == 200 and len(response.json["Resources"]) == size
        counts.append(len(seen))
    assert counts[0] == counts[1], counts


def test_patch_remove_by_complex_filter_rfc_7644_3_5_2_2(client, auth, app, tenant):
    """RFC 7644 §3.5.2.2 example: remove emails[type eq "work" and value ew "example.com"]."""
    lee = make_user(
        app,
        tenant,
        "lee",
        emails=[{"type": "work", "value": "lee@example.com"}, {"type": "home", "value": "lee@home.example"}],
    )
    body = patch_body({"op": "remove", "path": 'emails[type eq "work" and value ew "example.com"]'})
    response = client.patch(f"{USERS}/{lee.id}", json=body, headers=auth)
    assert response.status_code == 200, response.json
    assert response.json["emails"] == [{"type": "home", "value": "lee@home.example"}]


def test_patch_replace_through_a_filter_rfc_7644_3_5_2_3(client, auth, app, tenant):
    """RFC 7644 §3.5.2.3 example: replace addresses[type eq "work"] with a new value."""
    lee = make_user(app, tenant, "lee", addresses=[{"type": "work", "streetAddress": "1 Old Rd"}])
    body = patch_body(
        {
            "op": "replace",
            "path": 'addresses[type eq "work"]',
            "value": {"type": "work", "streetAddress": "911 Universal City Plaza", "locality": "Hollywood"},
        }
    )
    response = client.patch(f"{USERS}/{lee.id}", json=body, headers=auth)
    assert response.status_code == 200, response.json
    (address,) = response.json["addresses"]
    assert (address["streetAddress"], address["locality"]) == ("911 Universal City Plaza", "Hollywood")


def test_a_user_cannot_make_themselves_an_admin_through_me(client, app, tenant):
    make_user(app, tenant, "lee", PASSWORD)
    grab = patch_body({"op": "add", "path": "roles", "value": [{"value": "admin"}]})
    response = client.patch(ME, json=grab, headers=basic("lee", PASSWORD))
    assert response.status_code == 400
    assert response.json["scimType"] == "mutability"
    assert client.get(USERS, headers=basic("lee", PASSWORD)).status_code == 403

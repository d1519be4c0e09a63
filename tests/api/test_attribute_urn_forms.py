"""``attributes`` / ``excludedAttributes`` name an extension attribute as ``urn:...:Schema:attr``
(RFC 7644 §3.10) or as ``urn:...:Schema.attr`` (the form WSO2 My Account sends, e.g.
``GET /scim2/Me?attributes=urn:scim:wso2:schema.isReadOnlyUser``; older My Account releases use
the enterprise URN the same way), on every SCIM endpoint that takes them."""

from __future__ import annotations

import pytest

from tests.factories import bearer
from tests.factories import make_token
from tests.factories import make_user
from tests.support.admin import ENTERPRISE_URN
from tests.support.admin import GROUP_URN
from tests.support.admin import PASSWORD
from tests.support.admin import client_headers

WSO2_URN = "urn:scim:wso2:schema"
T = "/t/acme/scim2"


@pytest.fixture
def kim(app, tenant):
    return make_user(
        app,
        tenant,
        "kim",
        PASSWORD,
        nickName="kimmy",
        **{ENTERPRISE_URN: {"employeeNumber": "42", "department": "R&D"}, WSO2_URN: {"country": "LK"}},
    )


@pytest.fixture
def me(app, tenant, kim):
    return bearer(make_token(app, tenant, kim))


@pytest.fixture
def admin(app, tenant):
    return client_headers(app, tenant)


@pytest.mark.parametrize("sep", [":", "."])
def test_me_selects_an_extension_attribute_with_either_separator(client, me, sep):
    body = client.get(f"{T}/Me?attributes={ENTERPRISE_URN}{sep}employeeNumber", headers=me).json
    assert body[ENTERPRISE_URN] == {"employeeNumber": "42"}
    assert "nickName" not in body and "userName" not in body and WSO2_URN not in body
    assert body["id"]


@pytest.mark.parametrize("sep", [":", "."])
def test_me_excludes_an_extension_attribute_with_either_separator(client, me, sep):
    body = client.get(f"{T}/Me?excludedAttributes={WSO2_URN}{sep}country", headers=me).json
    assert "country" not in body.get(WSO2_URN, {})
    assert body["nickName"] == "kimmy" and body[ENTERPRISE_URN]["employeeNumber"] == "42"


def test_wso2_schema_with_a_dot_selects_only_that_attribute(client, me):
    body = client.get(f"{T}/Me?attributes={WSO2_URN}.country", headers=me).json
    assert body[WSO2_URN] == {"country": "LK"}
    assert set(body) <= {"schemas", "id", "meta", WSO2_URN}


def test_a_dotted_sub_attribute_after_the_urn(client, app, tenant):
    lee = make_user(
        app, tenant, "lee", PASSWORD, **{ENTERPRISE_URN: {"manager": {"value": "m-1", "displayName": "Boss"}}}
    )
    body = client.get(
        f"{T}/Me?attributes={ENTERPRISE_URN}.manager.displayName", headers=bearer(make_token(app, tenant, lee))
    ).json
    assert body[ENTERPRISE_URN] == {"manager": {"displayName": "Boss"}}


def test_users_by_id_list_and_search_take_the_dot_form(client, admin, kim):
    by_id = client.get(f"{T}/Users/{kim.id}?attributes={ENTERPRISE_URN}.employeeNumber", headers=admin).json
    assert by_id[ENTERPRISE_URN] == {"employeeNumber": "42"} and "userName" not in by_id
    listed = client.get(f"{T}/Users?attributes={ENTERPRISE_URN}.employeeNumber", headers=admin).json
    assert [r.get(ENTERPRISE_URN) for r in listed["Resources"]] == [{"employeeNumber": "42"}]
    search = {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
        "excludedAttributes": [f"{ENTERPRISE_URN}.department", f"{WSO2_URN}.country"],
    }
    found = client.post(f"{T}/Users/.search", json=search, headers=admin)
    assert found.status_code == 200, found.json
    (user,) = found.json["Resources"]
    assert user[ENTERPRISE_URN] == {"employeeNumber": "42"} and "country" not in user.get(WSO2_URN, {})
    assert user["userName"] == "kim"


def test_groups_take_the_dot_form_of_the_group_urn(client, admin, kim):
    created = client.post(
        f"{T}/Groups",
        json={"schemas": [GROUP_URN], "displayName": "Guides", "members": [{"value": kim.id}]},
        headers=admin,
    )
    assert created.status_code == 201, created.json
    group_id = created.json["id"]
    one = client.get(f"{T}/Groups/{group_id}?attributes={GROUP_URN}.displayName", headers=admin).json
    assert one["displayName"] == "Guides" and "members" not in one
    listed = client.get(f"{T}/Groups?excludedAttributes={GROUP_URN}.members", headers=admin).json
    assert [g["displayName"] for g in listed["Resources"]] == ["Guides"]
    assert "members" not in listed["Resources"][0]
    search = {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
        "attributes": [f"{GROUP_URN}.members"],
    }
    found = client.post(f"{T}/Groups/.search", json=search, headers=admin).json
    assert [m["value"] for m in found["Resources"][0]["members"]] == [kim.id]
    assert "displayName" not in found["Resources"][0]

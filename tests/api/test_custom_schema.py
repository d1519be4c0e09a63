"""A tenant's custom extension (``urn:scim:schemas:extension:custom:User``, wso2-api.md §3.4),
loaded from ``{custom_schemas_dir}/{tenant}.json`` and invisible to every other tenant."""

from __future__ import annotations

import json

import pytest

from scim_me.core.schemas import CUSTOM_URN
from scim_me.core.schemas import ENTERPRISE_URN
from scim_me.core.schemas import USER_URN
from scim_me.core.schemas import WSO2_URN
from scim_me.errors import SCIM_ERROR_URN
from tests.factories import bearer
from tests.factories import load_user
from tests.factories import make_tenant
from tests.factories import make_token
from tests.factories import make_user
from tests.factories import patch_body
from tests.support.apps import build_app

ATTRIBUTES = [
    {"name": "employeeBadge", "type": "string", "mutability": "readWrite", "returned": "default"},
    {
        "name": "shirtSize",
        "type": "string",
        "caseExact": True,
        "canonicalValues": ["S", "M", "L", "XL"],
    },
    {"name": "newsletter", "type": "boolean"},
    {"name": "badgeIssuer", "type": "string", "mutability": "readOnly"},
]


@pytest.fixture
def app(database_url, tmp_path):
    custom = tmp_path / "custom-schemas"
    custom.mkdir()
    (custom / "acme.json").write_text(json.dumps({"attributes": ATTRIBUTES}), encoding="utf-8")
    application = build_app(database_url, tmp_path, custom_schemas_dir=str(custom))
    yield application
    application.extensions["scim_me"].db.close_all()


@pytest.fixture
def acme(app):
    tenant = make_tenant(app, "acme")
    user = make_user(app, tenant, "kim", **{CUSTOM_URN: {"badgeIssuer": "HR"}})
    return tenant, user, make_token(app, tenant, user)


@pytest.fixture
def globex(app):
    tenant = make_tenant(app, "globex")
    user = make_user(app, tenant, "lee")
    return tenant, user, make_token(app, tenant, user)


def test_user_lists_the_custom_schema(client, acme):
    response = client.get("/t/acme/scim2/Me", headers=bearer(acme[2]))
    assert response.status_code == 200, response.json
    assert response.json["schemas"] == [USER_URN, ENTERPRISE_URN, WSO2_URN, CUSTOM_URN]
    assert response.json[CUSTOM_URN] == {"badgeIssuer": "HR"}


def test_resource_types_and_schemas_list_it_for_that_tenant_only(client, acme, globex):
    acme_types = client.get("/t/acme/scim2/ResourceTypes").json["Resources"][0]["schemaExtensions"]
    assert acme_types[-1] == {"schema": CUSTOM_URN, "required": False}
    globex_types = client.get("/t/globex/scim2/ResourceTypes").json["Resources"][0]["schemaExtensions"]
    assert CUSTOM_URN not in [ext["schema"] for ext in globex_types]

    schemas = client.get("/t/acme/scim2/Schemas", headers=bearer(acme[2])).json
    custom = schemas[-1]
    assert (custom["id"], custom["name"]) == (CUSTOM_URN, "CustomUser")
    assert [a["name"] for a in custom["attributes"]] == ["employeeBadge", "shirtSize", "newsletter", "badgeIssuer"]
    shirt = custom["attributes"][1]
    assert (shirt["type"], shirt["canonicalValues"]) == ("STRING", ["S", "M", "L", "XL"])
    one = client.get(f"/t/acme/scim2/Schemas/{CUSTOM_URN}", headers=bearer(acme[2]))
    assert one.status_code == 200
    assert one.json[0]["id"] == CUSTOM_URN

    assert CUSTOM_URN not in [s["id"] for s in client.get("/t/globex/scim2/Schemas", headers=bearer(globex[2])).json]
    missing = client.get(f"/t/globex/scim2/Schemas/{CUSTOM_URN}", headers=bearer(globex[2]))
    assert missing.status_code == 501


def test_patch_custom_attributes(app, client, acme):
    tenant, user, token = acme
    ops = patch_body(
        {"op": "add", "path": f"{CUSTOM_URN}:shirtSize", "value": "XL"},
        {"op": "add", "value": {CUSTOM_URN: {"employeeBadge": "B-7", "newsletter": True}}},
    )
    response = client.patch("/t/acme/scim2/Me", json=ops, headers=bearer(token))
    assert response.status_code == 200, response.json
    assert response.json[CUSTOM_URN] == {
        "employeeBadge": "B-7",
        "shirtSize": "XL",
        "newsletter": True,
        "badgeIssuer": "HR",
    }
    assert load_user(app, tenant, user.id).profile[CUSTOM_URN]["shirtSize"] == "XL"
    selected = client.get(
        "/t/acme/scim2/Me", query_string={"attributes": f"{CUSTOM_URN}:shirtSize"}, headers=bearer(token)
    )
    assert selected.json[CUSTOM_URN] == {"shirtSize": "XL"}


@pytest.mark.parametrize(
    ("operation", "scim_type", "detail"),
    [
        (
            {"op": "replace", "path": f"{CUSTOM_URN}:shirtSize", "value": "XXL"},
            "invalidValue",
            "shirtSize must be one of: S, M, L, XL.",
        ),
        (
            # caseExact canonical values: "xl" is not "XL".
            {"op": "replace", "value": {CUSTOM_URN: {"shirtSize": "xl"}}},
            "invalidValue",
            "shirtSize must be one of: S, M, L, XL.",
        ),
        (
            {"op": "replace", "path": f"{CUSTOM_URN}:newsletter", "value": "yes"},
            "invalidValue",
            "newsletter must be a boolean.",
        ),
        (
            {"op": "replace", "path": f"{CUSTOM_URN}:badgeIssuer", "value": "me"},
            "mutability",
            f"Can not replace a immutable attribute or a read-only attribute: {CUSTOM_URN}:badgeIssuer",
        ),
        (
            {"op": "add", "path": f"{CUSTOM_URN}:favouriteColour", "value": "red"},
            "invalidPath",
            "No such attribute with the name : favouriteColour in the current resource",
        ),
    ],
)
def test_custom_attribute_rules_are_enforced(app, client, acme, operation, scim_type, detail):
    tenant, user, token = acme
    response = client.patch("/t/acme/scim2/Me", json=patch_body(operation), headers=bearer(token))
    assert response.status_code == 400
    assert response.json == {"schemas": [SCIM_ERROR_URN], "status": "400", "scimType": scim_type, "detail": detail}
    assert load_user(app, tenant, user.id).version == 1


def test_read_only_custom_values_are_ignored_in_pathless_writes_and_put(app, client, acme):
    tenant, user, token = acme
    ops = patch_body({"op": "add", "value": {CUSTOM_URN: {"badgeIssuer": "me", "employeeBadge": "B-1"}}})
    assert client.patch("/t/acme/scim2/Me", json=ops, headers=bearer(token)).status_code == 200
    put = client.put(
        "/t/acme/scim2/Me", json={"userName": "kim", CUSTOM_URN: {"badgeIssuer": "me"}}, headers=bearer(token)
    )
    assert put.status_code == 200, put.json
    assert load_user(app, tenant, user.id).profile[CUSTOM_URN] == {"badgeIssuer": "HR"}


def test_another_tenant_cannot_use_the_custom_schema(app, client, globex):
    tenant, user, token = globex
    me = client.get("/t/globex/scim2/Me", headers=bearer(token))
    assert me.json["schemas"] == [USER_URN, ENTERPRISE_URN, WSO2_URN]
    response = client.patch(
        "/t/globex/scim2/Me",
        json=patch_body({"op": "add", "path": f"{CUSTOM_URN}:shirtSize", "value": "M"}),
        headers=bearer(token),
    )
    assert response.status_code == 400
    assert response.json == {
        "schemas": [SCIM_ERROR_URN],
        "status": "400",
        "scimType": "invalidPath",
        "detail": f"No such attribute with the name : {CUSTOM_URN}:shirtSize in the current resource",
    }
    # In a path-less value an unknown extension is ignored, as WSO2 ignores unknown keys.
    ignored = client.patch(
        "/t/globex/scim2/Me",
        json=patch_body({"op": "add", "value": {CUSTOM_URN: {"shirtSize": "M"}}}),
        headers=bearer(token),
    )
    assert ignored.status_code == 200, ignored.json
    assert CUSTOM_URN not in ignored.json
    stored = load_user(app, tenant, user.id)
    assert CUSTOM_URN not in stored.profile
    assert stored.version == 1

"""PATCH /scim2/Me through HTTP: results, selectors, envelope errors, engine errors, atomicity.

Password changes through PATCH are covered in test_passwords.py.
"""

from __future__ import annotations

import pytest

from scim_me.core.schemas import WSO2_URN
from tests.factories import PATCH_URN
from tests.factories import bearer
from tests.factories import load_user
from tests.factories import make_tenant
from tests.factories import make_token
from tests.factories import make_user
from tests.factories import patch_body
from tests.factories import scim_error
from tests.support.apps import build_app

ME = "/t/acme/scim2/Me"


def error(status: int, scim_type: str | None, detail: str) -> dict[str, object]:
    return scim_error(status, detail, scim_type)


@pytest.fixture
def kim(app, tenant):
    return make_user(
        app,
        tenant,
        "kim",
        name={"givenName": "Kim", "familyName": "Jensen"},
        groups=[{"value": "g-1", "display": "Staff"}],
        **{WSO2_URN: {"accountLocked": False, "country": "LK"}},
    )


@pytest.fixture
def token(app, tenant, kim):
    return make_token(app, tenant, kim)


def test_patch_returns_the_full_updated_user(client, kim, token):
    response = client.patch(ME, json=patch_body({"op": "add", "value": {"nickName": "shaggy"}}), headers=bearer(token))
    assert response.status_code == 200, response.json
    assert response.mimetype == "application/scim+json"
    assert response.headers["Location"] == f"http://localhost/t/acme/scim2/Users/{kim.id}"
    body = response.json
    meta = body.pop("meta")
    assert meta["version"] == 'W/"2"'
    assert meta["location"] == response.headers["Location"]
    assert body == {
        "schemas": body["schemas"],
        "id": kim.id,
        "userName": "kim",
        "name": {"givenName": "Kim", "familyName": "Jensen"},
        "nickName": "shaggy",
        "groups": [{"value": "g-1", "display": "Staff"}],
        WSO2_URN: {"accountLocked": False, "country": "LK"},
    }
    assert client.get(ME, headers=bearer(token)).json["nickName"] == "shaggy"


def test_patch_honours_attributes_and_excluded_attributes(client, kim, token):
    ops = patch_body({"op": "replace", "path": "name.givenName", "value": "Kimberly"})
    selected = client.patch(ME, query_string={"attributes": "name.givenName"}, json=ops, headers=bearer(token))
    assert selected.status_code == 200, selected.json
    assert {k: v for k, v in selected.json.items() if k != "meta"} == {
        "schemas": selected.json["schemas"],
        "id": kim.id,
        "name": {"givenName": "Kimberly"},
    }
    ops = patch_body({"op": "add", "value": {"nickName": "k"}})
    excluded = client.patch(
        ME, query_string={"excludedAttributes": f"name,{WSO2_URN}"}, json=ops, headers=bearer(token)
    )
    assert excluded.status_code == 200, excluded.json
    assert "name" not in excluded.json
    assert WSO2_URN not in excluded.json
    assert excluded.json["nickName"] == "k"
    assert excluded.json["meta"]["version"] == 'W/"3"'


def test_patch_of_extension_and_sub_attributes(app, client, tenant, kim, token):
    ops = patch_body(
        {"op": "replace", "path": f"{WSO2_URN}:country", "value": "SE"},
        {"op": "add", "path": 'emails[type eq "work"].value', "value": "kim@work.example"},
        {"op": "remove", "path": "name.familyName"},
    )
    response = client.patch(ME, json=ops, headers=bearer(token))
    assert response.status_code == 200, response.json
    stored = load_user(app, tenant, kim.id)
    assert stored.profile["name"] == {"givenName": "Kim"}
    assert stored.profile["emails"] == [{"type": "work", "value": "kim@work.example"}]
    assert stored.profile[WSO2_URN] == {"accountLocked": False, "country": "SE"}
    assert stored.version == 2


def test_schemas_member_is_optional(client, kim, token):
    response = client.patch(ME, json={"Operations": [{"op": "add", "value": {"title": "Dr"}}]}, headers=bearer(token))
    assert response.status_code == 200, response.json
    assert response.json["title"] == "Dr"


def test_no_op_patch_does_not_bump_the_version(app, client, tenant, kim, token):
    ops = patch_body({"op": "replace", "path": f"{WSO2_URN}:country", "value": "LK"})
    response = client.patch(ME, json=ops, headers=bearer(token))
    assert response.status_code == 200, response.json
    assert response.headers["ETag"] == 'W/"1"'
    assert response.json["meta"]["version"] == 'W/"1"'
    stored = load_user(app, tenant, kim.id)
    assert stored.version == 1
    assert stored.updated_at == kim.updated_at


def test_read_only_values_in_a_pathless_patch_are_ignored(app, client, tenant, kim, token):
    ops = patch_body({"op": "replace", "value": {"groups": [], WSO2_URN: {"accountLocked": True}, "nickName": "k"}})
    response = client.patch(ME, json=ops, headers=bearer(token))
    assert response.status_code == 200, response.json
    stored = load_user(app, tenant, kim.id)
    assert stored.profile["groups"] == [{"value": "g-1", "display": "Staff"}]
    assert stored.profile[WSO2_URN]["accountLocked"] is False
    assert stored.profile["nickName"] == "k"


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            {"schemas": [PATCH_URN], "operations": [{"op": "add", "value": {"nickName": "x"}}]},
            error(400, "invalidSyntax", "Invalid JSON schema. The operations member is spelled 'Operations'."),
        ),
        ({"schemas": [PATCH_URN]}, error(400, "invalidSyntax", "Invalid PatchOp message (check: Operations).")),
        (
            {"schemas": [PATCH_URN], "Operations": {"op": "add"}},
            error(400, "invalidSyntax", "Invalid PatchOp message (check: Operations)."),
        ),
        (
            {"schemas": ["urn:example:other"], "Operations": [{"op": "add", "value": {"nickName": "x"}}]},
            error(400, "invalidSyntax", f"'schemas' must contain {PATCH_URN}."),
        ),
        ([], error(400, "invalidSyntax", "The PatchOp message must be a JSON object.")),
        (patch_body(), error(400, "invalidSyntax", "'Operations' must contain at least one operation.")),
        (patch_body({"value": {"nickName": "x"}}), error(400, "invalidSyntax", "Operation can not be null.")),
        (patch_body({"op": "merge", "value": {}}), error(400, "invalidSyntax", "Unknown operation: merge")),
        (
            patch_body({"op": "add"}),
            error(400, "invalidSyntax", "The value is not provided to perform patch add operation."),
        ),
        (
            patch_body({"op": "remove"}),
            error(400, "noTarget", "No path value specified for remove operation"),
        ),
        (
            patch_body({"op": "replace", "path": "shoeSize", "value": 44}),
            error(400, "invalidPath", "No such attribute with the name : shoeSize in the current resource"),
        ),
        (
            patch_body({"op": "replace", "path": "urn:example:x:foo", "value": 1}),
            error(400, "invalidPath", "No such attribute with the name : urn:example:x:foo in the current resource"),
        ),
        (
            patch_body({"op": "replace", "path": "groups", "value": []}),
            error(400, "mutability", "Can not replace a immutable attribute or a read-only attribute: groups"),
        ),
        (
            patch_body({"op": "add", "path": f"{WSO2_URN}:accountLocked", "value": True}),
            error(
                400,
                "mutability",
                f"Can not update a immutable attribute or a read-only attribute: {WSO2_URN}:accountLocked",
            ),
        ),
        (
            patch_body({"op": "remove", "path": "userName"}),
            error(400, "mutability", "Can not remove a required attribute or a read-only attribute: userName"),
        ),
        (
            patch_body({"op": "replace", "path": "userName", "value": "kimberly"}),
            error(400, "mutability", "Attribute userName cannot be modified."),
        ),
        (
            patch_body({"op": "remove", "path": 'emails[type eq "home"]'}),
            error(400, "noTarget", 'No value matched the filter in path: emails[type eq "home"]'),
        ),
        (
            patch_body({"op": "replace", "path": "nickName", "value": 7}),
            error(400, "invalidValue", "nickName must be a string."),
        ),
    ],
)
def test_errors_have_full_scim_bodies_and_change_nothing(app, client, tenant, kim, token, body, expected):
    response = client.patch(ME, json=body, headers=bearer(token))
    assert response.status_code == 400
    assert response.mimetype == "application/scim+json"
    assert response.json == expected
    stored = load_user(app, tenant, kim.id)
    assert stored.version == kim.version
    assert stored.profile == kim.profile


def test_a_failing_operation_discards_the_earlier_ones(app, client, tenant, kim, token):
    ops = patch_body(
        {"op": "add", "value": {"nickName": "shaggy"}},
        {"op": "replace", "path": "name.givenName", "value": "Scooby"},
        {"op": "replace", "path": "shoeSize", "value": 44},
    )
    response = client.patch(ME, json=ops, headers=bearer(token))
    assert response.status_code == 400
    assert response.json["scimType"] == "invalidPath"
    stored = load_user(app, tenant, kim.id)
    assert stored.profile == kim.profile
    assert "nickName" not in stored.profile
    assert stored.version == 1
    assert client.get(ME, headers=bearer(token)).headers["ETag"] == 'W/"1"'


def test_too_many_operations(database_url, tmp_path):
    app = build_app(database_url, tmp_path, max_operations=3)
    try:
        client = app.test_client()
        tenant = make_tenant(app, "acme")
        kim = make_user(app, tenant, "kim")
        token = make_token(app, tenant, kim)
        three = [{"op": "add", "value": {"nickName": f"n{i}"}} for i in range(3)]
        assert client.patch(ME, json=patch_body(*three), headers=bearer(token)).status_code == 200
        four = [{"op": "add", "value": {"title": f"t{i}"}} for i in range(4)]
        response = client.patch(ME, json=patch_body(*four), headers=bearer(token))
        assert response.status_code == 400
        assert response.json == error(400, "tooMany", "The request has 4 operations; at most 3 are accepted.")
        stored = load_user(app, tenant, kim.id)
        assert "title" not in stored.profile
        assert stored.version == 2
    finally:
        app.extensions["scim_me"].db.close_all()


@pytest.mark.parametrize(
    ("data", "headers", "status", "expected"),
    [
        (
            b'{"Operations": [',
            {"Content-Type": "application/scim+json"},
            400,
            None,
        ),
        (
            b'{"Operations": [], "Operations": []}',
            {"Content-Type": "application/scim+json"},
            400,
            error(400, "invalidSyntax", "Duplicate member 'Operations' in the JSON body."),
        ),
        (
            b"{}",
            {"Content-Type": "text/plain"},
            415,
            error(
                415,
                None,
                "Content-Type text/plain is not supported; use application/scim+json or application/json.",
            ),
        ),
    ],
)
def test_body_errors(app, client, tenant, kim, token, data, headers, status, expected):
    response = client.patch(ME, data=data, headers=bearer(token, **headers))
    assert response.status_code == status
    if expected is None:
        assert response.json["scimType"] == "invalidSyntax"
        assert response.json["status"] == "400"
        assert response.json["detail"].startswith("The request body is not valid JSON: ")
    else:
        assert response.json == expected
    assert load_user(app, tenant, kim.id).version == 1


UNAUTHORIZED = error(
    401, None, "Authorization failure. Authorization information was invalid or missing from your request."
)


@pytest.mark.parametrize(
    ("data", "headers"),
    [
        (b'{"Operations": [', {"Content-Type": "application/scim+json"}),
        (b"{}", {"Content-Type": "text/plain"}),
        (b"{}", {"Content-Type": "application/json", "Accept": "text/html"}),
        (b'{"operations": []}', {"Content-Type": "application/json"}),
    ],
)
def test_credentials_are_checked_before_the_request(app, client, tenant, kim, data, headers):
    response = client.patch(ME, data=data, headers=headers)
    assert response.status_code == 401
    assert response.json == UNAUTHORIZED
    put = client.put(ME, data=data, headers=headers)
    assert put.status_code == 401
    assert put.json == UNAUTHORIZED
    assert load_user(app, tenant, kim.id).version == 1

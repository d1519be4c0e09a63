"""/scim2/Bulk (RFC 7644 §3.7): bulkId references, per-operation status, failOnErrors, limits."""

from __future__ import annotations

from tests.factories import make_user
from tests.factories import scim_error
from tests.support.admin import GROUP_URN
from tests.support.admin import USER_URN
from tests.support.admin import client_headers
from tests.support.admin import events_of

BULK = "/t/acme/scim2/Bulk"
REQUEST_URN = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
RESPONSE_URN = "urn:ietf:params:scim:api:messages:2.0:BulkResponse"
PATCH_URN = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


def bulk(*operations, **extra):
    return {"schemas": [REQUEST_URN], "Operations": list(operations), **extra}


def test_bulk_id_references_a_user_created_in_the_same_request(client, auth):
    """RFC 7644 §3.7.2 example: a group whose member is "bulkId:qwerty", created earlier."""
    body = bulk(
        {
            "method": "POST",
            "path": "/Users",
            "bulkId": "qwerty",
            "data": {"schemas": [USER_URN], "userName": "Alice"},
        },
        {
            "method": "POST",
            "path": "/Groups",
            "bulkId": "ytrewq",
            "data": {
                "schemas": [GROUP_URN],
                "displayName": "Tour Guides",
                "members": [{"type": "User", "value": "bulkId:qwerty"}],
            },
        },
    )
    response = client.post(BULK, json=body, headers=auth)
    assert response.status_code == 200, response.json
    assert response.json["schemas"] == [RESPONSE_URN]
    user_op, group_op = response.json["Operations"]
    assert (user_op["method"], user_op["bulkId"], user_op["status"], user_op["version"]) == (
        "POST",
        "qwerty",
        "201",
        'W/"1"',
    )
    assert user_op["location"].startswith("http://localhost/t/acme/scim2/Users/")
    assert group_op["status"] == "201" and group_op["bulkId"] == "ytrewq"
    user_id = user_op["location"].rsplit("/", 1)[1]
    group = client.get(group_op["location"].replace("http://localhost", ""), headers=auth).json
    assert [m["value"] for m in group["members"]] == [user_id]


def test_order_does_not_matter_for_bulk_ids(client, auth):
    """RFC 7644 §3.7.2: the service provider resolves references whatever their order."""
    body = bulk(
        {
            "method": "POST",
            "path": "/Groups",
            "bulkId": "g",
            "data": {"displayName": "Guides", "members": [{"value": "bulkId:u"}]},
        },
        {"method": "POST", "path": "/Users", "bulkId": "u", "data": {"userName": "alice"}},
    )
    response = client.post(BULK, json=body, headers=auth)
    statuses = [(op["bulkId"], op["status"]) for op in response.json["Operations"]]
    assert statuses == [("g", "201"), ("u", "201")]


def test_put_patch_delete_and_errors_per_operation(client, auth, app, tenant):
    """RFC 7644 §3.7.3: each operation has its own status; an error carries the error document."""
    lee = make_user(app, tenant, "lee")
    kim = make_user(app, tenant, "kim")
    body = bulk(
        {"method": "PUT", "path": f"/Users/{lee.id}", "version": 'W/"1"', "data": {"userName": "lee", "title": "Dr"}},
        {
            "method": "PATCH",
            "path": f"/Users/{kim.id}",
            "data": {"schemas": [PATCH_URN], "Operations": [{"op": "add", "path": "nickName", "value": "k"}]},
        },
        {"method": "DELETE", "path": f"/Users/{lee.id}", "version": 'W/"1"'},
        {"method": "DELETE", "path": "/Users/no-such-user"},
    )
    response = client.post(BULK, json=body, headers=auth)
    put, patch, stale_delete, missing = response.json["Operations"]
    assert (put["status"], put["version"]) == ("200", 'W/"2"')
    assert patch["status"] == "200"
    assert stale_delete == {
        "method": "DELETE",
        "status": "412",
        "response": scim_error(412, 'The user is at version W/"2", not W/"1".'),
    }
    assert missing == {
        "method": "DELETE",
        "status": "404",
        "response": scim_error(404, "User no-such-user not found in the user store."),
    }


def test_fail_on_errors_stops_after_that_many(client, auth):
    """RFC 7644 §3.7.3 example: failOnErrors 1 stops processing after the first error."""
    body = bulk(
        {"method": "POST", "path": "/Users", "bulkId": "a", "data": {"userName": "dup"}},
        {"method": "POST", "path": "/Users", "bulkId": "b", "data": {"userName": "dup"}},
        {"method": "POST", "path": "/Users", "bulkId": "c", "data": {"userName": "never"}},
        failOnErrors=1,
    )
    response = client.post(BULK, json=body, headers=auth)
    assert response.status_code == 200
    ops = response.json["Operations"]
    assert [(op["bulkId"], op["status"]) for op in ops] == [("a", "201"), ("b", "409")]
    assert ops[1]["response"] == scim_error(409, "User name dup is already taken in this tenant.", "uniqueness")
    listing = client.get("/t/acme/scim2/Users", headers=auth).json
    assert [u["userName"] for u in listing["Resources"]] == ["dup"]


def test_a_reference_nothing_creates_is_409_invalid_value(client, auth):
    body = bulk(
        {
            "method": "POST",
            "path": "/Groups",
            "bulkId": "g",
            "data": {"displayName": "x", "members": [{"value": "bulkId:nobody"}]},
        }
    )
    (op,) = client.post(BULK, json=body, headers=auth).json["Operations"]
    assert op == {
        "method": "POST",
        "bulkId": "g",
        "status": "409",
        "response": scim_error(
            409, "The bulkId nobody is not created by any operation of this request.", "invalidValue"
        ),
    }


def test_too_many_operations_is_413_too_many(client, auth):
    """RFC 7644 §3.7.4: over maxOperations is 413."""
    ops = [{"method": "DELETE", "path": f"/Users/{i}"} for i in range(1001)]
    response = client.post(BULK, json=bulk(*ops), headers=auth)
    assert response.status_code == 413
    assert response.json == scim_error(
        413, "The request has 1001 operations; at most 1000 are accepted (maxOperations).", "tooMany"
    )


def test_a_payload_over_max_payload_size_is_413(client, auth):
    big = {"method": "POST", "path": "/Users", "bulkId": "x", "data": {"userName": "x", "title": "t" * 1_100_000}}
    response = client.post(BULK, json=bulk(big), headers=auth)
    assert response.status_code == 413
    assert response.json["status"] == "413"


def test_malformed_request_is_400(client, auth):
    response = client.post(BULK, json={"schemas": [REQUEST_URN]}, headers=auth)
    assert response.status_code == 400
    assert response.json == scim_error(
        400, "'Operations' must be a non-empty JSON array of bulk operations.", "invalidSyntax"
    )


def test_scopes_bulk_and_per_operation(client, app, tenant):
    only_bulk = client_headers(app, tenant, "internal_bulk_resource_create")
    body = bulk({"method": "POST", "path": "/Users", "bulkId": "a", "data": {"userName": "a"}})
    (op,) = client.post(BULK, json=body, headers=only_bulk).json["Operations"]
    assert op["status"] == "403"
    assert op["response"] == scim_error(403, "This operation needs the scope internal_user_mgt_create.")
    no_bulk = client_headers(app, tenant, "internal_user_mgt_create")
    assert client.post(BULK, json=body, headers=no_bulk).status_code == 403


def test_bulk_changes_are_recorded_with_the_bulk_channel(client, auth, app, tenant):
    body = bulk({"method": "POST", "path": "/Users", "bulkId": "a", "data": {"userName": "alice"}})
    (op,) = client.post(BULK, json=body, headers=auth).json["Operations"]
    user_id = op["location"].rsplit("/", 1)[1]
    (event,) = events_of(app, tenant, user_id)
    assert event.kind == "account.created"
    assert event.details["by"] == {"channel": "scim_bulk", "clientId": "provisioner"}


ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


def _circular(bulk_id: str) -> dict:
    return scim_error(
        409,
        f"The bulkId {bulk_id} takes part in a circular reference (RFC 7644 §3.7.1): create one of the "
        "resources without the reference, then add it with a PATCH.",
        "invalidValue",
    )


def test_circular_references_are_409_and_write_nothing(client, auth):
    """RFC 7644 §3.7.1: "The service provider MUST try to resolve circular cross-references
    between resources in a single bulk job but MAY stop after a failed attempt and instead
    return HTTP status code 409 (Conflict)." Two new users each other's manager, a group naming
    itself, and an operation waiting on the cycle: each is 409; what does not wait runs."""
    body = bulk(
        {
            "method": "POST",
            "path": "/Users",
            "bulkId": "a",
            "data": {"userName": "ann", ENTERPRISE: {"manager": {"value": "bulkId:b"}}},
        },
        {
            "method": "POST",
            "path": "/Users",
            "bulkId": "b",
            "data": {"userName": "bob", ENTERPRISE: {"manager": {"value": "bulkId:a"}}},
        },
        {
            "method": "POST",
            "path": "/Groups",
            "bulkId": "g",
            "data": {"displayName": "g", "members": [{"value": "bulkId:g"}]},
        },
        {
            "method": "POST",
            "path": "/Groups",
            "bulkId": "h",
            "data": {"displayName": "h", "members": [{"value": "bulkId:a"}]},
        },
        {"method": "POST", "path": "/Users", "bulkId": "c", "data": {"userName": "cy"}},
        # Waiting on a reference nothing creates is not circular.
        {
            "method": "POST",
            "path": "/Groups",
            "bulkId": "k",
            "data": {"displayName": "k", "members": [{"value": "bulkId:m"}]},
        },
        {
            "method": "POST",
            "path": "/Users",
            "bulkId": "m",
            "data": {"userName": "max", ENTERPRISE: {"manager": {"value": "bulkId:nobody"}}},
        },
    )
    response = client.post(BULK, json=body, headers=auth)
    assert response.status_code == 200, response.json
    ops = {op["bulkId"]: op for op in response.json["Operations"]}
    assert ops["c"]["status"] == "201"
    assert ops["m"]["response"]["detail"] == "The bulkId nobody is not created by any operation of this request."
    assert ops["k"]["status"] == "409" and "circular" not in ops["k"]["response"]["detail"]
    assert ops["a"] == {"method": "POST", "bulkId": "a", "status": "409", "response": _circular("b")}
    assert ops["b"] == {"method": "POST", "bulkId": "b", "status": "409", "response": _circular("a")}
    assert ops["g"] == {"method": "POST", "bulkId": "g", "status": "409", "response": _circular("g")}
    assert ops["h"] == {"method": "POST", "bulkId": "h", "status": "409", "response": _circular("a")}
    users = client.get("/t/acme/scim2/Users", headers=auth).json
    assert [user["userName"] for user in users["Resources"]] == ["cy"]
    assert client.get("/t/acme/scim2/Groups", headers=auth).json["totalResults"] == 0


def test_a_cycle_broken_by_a_later_patch_runs(client, auth):
    """What the 409 advises: create one without the reference, add it with a PATCH."""
    body = bulk(
        {"method": "POST", "path": "/Users", "bulkId": "a", "data": {"userName": "ann"}},
        {
            "method": "POST",
            "path": "/Users",
            "bulkId": "b",
            "data": {"userName": "bob", ENTERPRISE: {"manager": {"value": "bulkId:a"}}},
        },
        {
            "method": "PATCH",
            "path": "/Users/bulkId:a",
            "data": {
                "schemas": [PATCH_URN],
                "Operations": [{"op": "add", "path": f"{ENTERPRISE}:manager.value", "value": "bulkId:b"}],
            },
        },
    )
    response = client.post(BULK, json=body, headers=auth)
    assert [op["status"] for op in response.json["Operations"]] == ["201", "201", "200"], response.json
    users = {u["userName"]: u for u in client.get("/t/acme/scim2/Users", headers=auth).json["Resources"]}
    assert users["ann"][ENTERPRISE]["manager"]["value"] == users["bob"]["id"]
    assert users["bob"][ENTERPRISE]["manager"]["value"] == users["ann"]["id"]

"""SCIM groups (``/scim2/Groups``, RFC 7643 §4.2 / RFC 7644 §3.3-3.6) and bulk operations
(``/scim2/Bulk``, RFC 7644 §3.7), with WSO2's ``internal_group_mgt_*`` and
``internal_bulk_resource_create`` scopes (a user must also hold the tenant's admin role)."""

from __future__ import annotations

from typing import Any

from scim_me.openapi.scim import SCIM_MEDIA
from scim_me.openapi.spec import ATTRIBUTE_NAMES
from scim_me.openapi.spec import SCIM_JSON
from scim_me.openapi.spec import Operation
from scim_me.openapi.spec import body
from scim_me.openapi.spec import header
from scim_me.openapi.spec import no_body
from scim_me.openapi.spec import ok
from scim_me.openapi.spec import path_param
from scim_me.openapi.spec import query
from scim_me.openapi.spec import ref

TAG = "SCIM groups and bulk"
_STRING = {"type": "string"}


def _admin(scope: str) -> tuple[dict[str, list[str]], ...]:
    return ({"bearer": []}, {"oauth2": [scope]}, {"basic": []})


def schemas() -> dict[str, Any]:
    member = {"type": "object", "properties": {"value": _STRING, "display": _STRING, "$ref": _STRING, "type": _STRING}}
    return {
        "Group": {
            "type": "object",
            "description": "RFC 7643 §4.2 Group",
            "properties": {
                "schemas": {"type": "array", "items": _STRING},
                "id": {"type": "string", "readOnly": True},
                "externalId": _STRING,
                "displayName": _STRING,
                "members": {"type": "array", "items": member},
                "meta": {"type": "object", "readOnly": True},
            },
            "example": {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Editors"},
        },
        "GroupResponse": {
            "type": "object",
            "required": ["schemas", "id", "displayName"],
            "properties": {
                "schemas": {"type": "array", "items": _STRING},
                "id": _STRING,
                "displayName": _STRING,
                "members": {"type": "array", "items": member},
                "meta": {"type": "object"},
            },
        },
        "BulkRequest": {
            "type": "object",
            "required": ["Operations"],
            "properties": {
                "schemas": {"type": "array", "items": _STRING},
                "failOnErrors": {"type": "integer"},
                "Operations": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["method", "path"],
                        "properties": {
                            "method": {"type": "string", "enum": ["POST", "PUT", "PATCH", "DELETE"]},
                            "path": {"type": "string", "example": "/Users"},
                            "bulkId": _STRING,
                            "version": _STRING,
                            "data": {},
                        },
                    },
                },
            },
            "example": {
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
                "Operations": [
                    {
                        "method": "POST",
                        "path": "/Users",
                        "bulkId": "u1",
                        "data": {"userName": "lee", "password": "S3cure-pass-2026"},
                    }
                ],
            },
        },
        "BulkResponse": {
            "type": "object",
            "required": ["schemas", "Operations"],
            "properties": {
                "schemas": {"type": "array", "items": _STRING},
                "Operations": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["status"],
                        "properties": {
                            # Echoed as the request gave them: an operation without a valid method
                            # or bulkId is answered with its error and the value it had (or null).
                            "method": {"type": ["string", "null"]},
                            "bulkId": {},
                            "location": _STRING,
                            "version": _STRING,
                            "status": {"type": "string", "description": "the HTTP status, as a string"},
                            "response": {"type": "object"},
                        },
                    },
                },
            },
        },
    }


_GROUP_HEADERS = {"ETag": {"schema": _STRING}, "Location": {"schema": _STRING}}
_GROUP = ok(ref("GroupResponse"), "The Group", SCIM_JSON, _GROUP_HEADERS)
_ID = path_param("group_id", "The group's id")
_IF_MATCH = header("If-Match", "Only if the group is at this version; 412 otherwise")
_LIST = ok(ref("ListResponse"), "A page of groups", SCIM_JSON)
_SELECT = [
    query("attributes", "Attributes to return" + ATTRIBUTE_NAMES),
    query("excludedAttributes", "Attributes to leave out" + ATTRIBUTE_NAMES),
]
_WRITE_ERRORS = (400, 401, 403, 406, 409, 412, 413, 415, 429)

OPERATIONS = [
    Operation("POST", "/scim2/Groups", "Create a group (internal_group_mgt_create)", TAG,
              {201: ok(ref("GroupResponse"), "Created", SCIM_JSON, _GROUP_HEADERS)}, "scim",
              (400, 401, 403, 406, 409, 413, 415, 429), security=_admin("internal_group_mgt_create"),
              request=body(ref("Group"), SCIM_MEDIA)),
    Operation("GET", "/scim2/Groups", "List groups (internal_group_mgt_list)", TAG, {200: _LIST}, "scim",
              (400, 401, 403, 406, 429), security=_admin("internal_group_mgt_list"),
              parameters=[query("filter", "RFC 7644 filter"), query("startIndex", "1-based", {"type": "integer"}),
                          query("count", "Page size", {"type": "integer"}), query("cursor", "RFC 9865 cursor"),
                          query("sortBy", "An attribute"), query("sortOrder", "ascending | descending"), *_SELECT]),
    Operation("POST", "/scim2/Groups/.search", "List groups with a SearchRequest", TAG, {200: _LIST}, "scim",
              (400, 401, 403, 406, 413, 415, 429), security=_admin("internal_group_mgt_list"),
              request=body(ref("SearchRequest"), SCIM_MEDIA)),
    Operation("GET", "/scim2/Groups/{group_id}", "A group (internal_group_mgt_view)", TAG,
              {200: _GROUP, 304: no_body("If-None-Match matched")}, "scim", (400, 401, 403, 406, 429),
              security=_admin("internal_group_mgt_view"),
              parameters=[_ID, *_SELECT, header("If-None-Match", "304 when the group is still at that version")]),
    Operation("PUT", "/scim2/Groups/{group_id}", "Replace a group (internal_group_mgt_update)", TAG, {200: _GROUP},
              "scim", _WRITE_ERRORS, security=_admin("internal_group_mgt_update"),
              parameters=[_ID, *_SELECT, _IF_MATCH], request=body(ref("Group"), SCIM_MEDIA)),
    Operation("PATCH", "/scim2/Groups/{group_id}", "Change a group with a PatchOp (members add/remove)", TAG,
              {200: _GROUP, 204: no_body("Changed")}, "scim", _WRITE_ERRORS,
              security=_admin("internal_group_mgt_update"), parameters=[_ID, *_SELECT, _IF_MATCH],
              request=body(ref("PatchOp"), SCIM_MEDIA)),
    Operation("DELETE", "/scim2/Groups/{group_id}", "Delete a group (internal_group_mgt_delete)", TAG,
              {204: no_body("Deleted")}, "scim", (400, 401, 403, 412, 429),
              security=_admin("internal_group_mgt_delete"), parameters=[_ID, _IF_MATCH]),
    Operation("POST", "/scim2/Bulk", "Many User and Group operations in one request (RFC 7644 §3.7)", TAG,
              {200: ok(ref("BulkResponse"), media=SCIM_JSON)}, "scim", (400, 401, 403, 406, 409, 413, 415, 429),
              security=_admin("internal_bulk_resource_create"), request=body(ref("BulkRequest"), SCIM_MEDIA)),
]  # fmt: skip

"""SCIM user administration, ``/scim2/Users`` (RFC 7644 §3.3-3.6), with WSO2's
``internal_user_mgt_*`` scopes (a user must also hold the tenant's admin role). ``GET
/scim2/Users/{id}`` of one's own id is the ``Location`` of /Me and needs only ``internal_login``."""

from __future__ import annotations

from typing import Any

from scim_me.openapi.scim import SCIM_MEDIA
from scim_me.openapi.scim import TAG
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

TAG_ADMIN = "SCIM user administration"


def _admin(scope: str) -> tuple[dict[str, list[str]], ...]:
    return ({"bearer": []}, {"oauth2": [scope]}, {"basic": []})


def schemas() -> dict[str, Any]:
    return {
        "SearchRequest": {
            "type": "object",
            "description": "RFC 7644 §3.4.3 SearchRequest",
            "properties": {
                "schemas": {"type": "array", "items": {"type": "string"}},
                "filter": {"type": "string", "example": 'userName sw "k"'},
                "startIndex": {"type": "integer"},
                "count": {"type": "integer"},
                "sortBy": {"type": "string"},
                "sortOrder": {"type": "string", "enum": ["ascending", "descending"]},
                "attributes": {"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]},
                "excludedAttributes": {"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]},
                "cursor": {"type": "string"},
            },
        },
    }


_USER_HEADERS = {"ETag": {"schema": {"type": "string"}}, "Location": {"schema": {"type": "string"}}}
_USER = ok(ref("UserResponse"), "The User", SCIM_JSON, _USER_HEADERS)
_ID = path_param("user_id", "The user's id")
_SELECT = [
    query("attributes", "Comma-separated attributes to return" + ATTRIBUTE_NAMES),
    query("excludedAttributes", "Comma-separated attributes to leave out" + ATTRIBUTE_NAMES),
]
_IF_MATCH = header("If-Match", 'Only if the user is at this version (W/"n"); 412 otherwise')
_LIST = ok(ref("ListResponse"), "A page of users", SCIM_JSON)
_WRITE_ERRORS = (400, 401, 403, 406, 409, 412, 413, 415, 429)

OPERATIONS = [
    Operation(
        "POST",
        "/scim2/Users",
        "Create a user (internal_user_mgt_create)",
        TAG_ADMIN,
        {201: ok(ref("UserResponse"), "Created", SCIM_JSON, _USER_HEADERS)},
        "scim",
        (400, 401, 403, 406, 409, 413, 415, 429),
        security=_admin("internal_user_mgt_create"),
        request=body(ref("User"), SCIM_MEDIA),
    ),
    Operation(
        "GET",
        "/scim2/Users",
        "List users: filter, startIndex/count or RFC 9865 cursor, sortBy/sortOrder (internal_user_mgt_list)",
        TAG_ADMIN,
        {200: _LIST},
        "scim",
        (400, 401, 403, 406, 429),
        security=_admin("internal_user_mgt_list"),
        parameters=[
            query("filter", "RFC 7644 §3.4.2.2 filter", {"type": "string", "example": 'userName eq "kim"'}),
            query("startIndex", "1-based index", {"type": "integer"}),
            query("count", "Page size", {"type": "integer"}),
            query("cursor", "RFC 9865 cursor"),
            query("sortBy", "A single-valued attribute"),
            query("sortOrder", "ascending | descending"),
            *_SELECT,
        ],
    ),
    Operation(
        "POST",
        "/scim2/Users/.search",
        "List users with a SearchRequest (RFC 7644 §3.4.3)",
        TAG_ADMIN,
        {200: _LIST},
        "scim",
        (400, 401, 403, 406, 413, 415, 429),
        security=_admin("internal_user_mgt_list"),
        request=body(ref("SearchRequest"), SCIM_MEDIA),
    ),
    Operation(
        "GET",
        "/scim2/Users/{user_id}",
        "A user (internal_user_mgt_view); without admin scopes only one's own id (the Location of /Me)",
        TAG,
        {200: _USER, 304: no_body("If-None-Match matched")},
        "scim",
        (400, 401, 403, 406, 429),
        security=(
            {"bearer": []},
            {"oauth2": ["internal_login"]},
            {"oauth2": ["internal_user_mgt_view"]},
            {"basic": []},
        ),
        parameters=[_ID, *_SELECT, header("If-None-Match", 'W/"n": 304 when the user is still at that version')],
    ),
    Operation(
        "PUT",
        "/scim2/Users/{user_id}",
        "Replace a user (internal_user_mgt_update)",
        TAG_ADMIN,
        {200: _USER},
        "scim",
        _WRITE_ERRORS,
        security=_admin("internal_user_mgt_update"),
        parameters=[_ID, *_SELECT, _IF_MATCH],
        request=body(ref("User"), SCIM_MEDIA),
    ),
    Operation(
        "PATCH",
        "/scim2/Users/{user_id}",
        "Change a user with a PatchOp (internal_user_mgt_update)",
        TAG_ADMIN,
        {200: _USER, 204: no_body("Changed (attributes= asked for nothing)")},
        "scim",
        _WRITE_ERRORS,
        security=_admin("internal_user_mgt_update"),
        parameters=[_ID, *_SELECT, _IF_MATCH],
        request=body(ref("PatchOp"), SCIM_MEDIA),
    ),
    Operation(
        "DELETE",
        "/scim2/Users/{user_id}",
        "Delete a user: sessions, tokens, MFA and consents go with it (internal_user_mgt_delete)",
        TAG_ADMIN,
        {204: no_body("Deleted")},
        "scim",
        (400, 401, 403, 412, 429),
        security=_admin("internal_user_mgt_delete"),
        parameters=[_ID, _IF_MATCH],
    ),
]

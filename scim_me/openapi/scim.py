"""SCIM 2.0: ``/scim2/Me``, the caller's ``/scim2/Users/{id}`` and discovery (RFC 7644 §3.11, §4).

The User schema is generated from the schema registry (``schemas/*.json``, RFC 7643 §7), the same
files that drive validation, so the document follows the attributes the server accepts.
"""

from __future__ import annotations

from typing import Any

from scim_me.core.schemas import Attribute
from scim_me.core.schemas import SchemaRegistry
from scim_me.openapi.spec import ANY_CREDENTIAL
from scim_me.openapi.spec import ATTRIBUTE_NAMES
from scim_me.openapi.spec import NONE
from scim_me.openapi.spec import SCIM_JSON
from scim_me.openapi.spec import Operation
from scim_me.openapi.spec import body
from scim_me.openapi.spec import header
from scim_me.openapi.spec import no_body
from scim_me.openapi.spec import ok
from scim_me.openapi.spec import path_param
from scim_me.openapi.spec import query
from scim_me.openapi.spec import ref

TAG = "SCIM 2.0"
TAG_DISCOVERY = "SCIM discovery"
SCIM_MEDIA = (SCIM_JSON, "application/json")

_TYPES = {
    "string": {"type": "string"},
    "reference": {"type": "string"},
    "binary": {"type": "string"},
    "dateTime": {"type": "string"},
    "boolean": {"type": "boolean"},
    "integer": {"type": "integer"},
    "decimal": {"type": "number"},
}


def _attribute_schema(attr: Attribute) -> dict[str, Any]:
    if attr.is_complex:
        one: dict[str, Any] = {
            "type": "object",
            "properties": {sub.name: _attribute_schema(sub) for sub in attr.sub_attributes.values()},
        }
    else:
        one = dict(_TYPES.get(attr.type, {}))
        if attr.canonical_values and attr.type == "string" and not attr.multi_valued:
            one["examples"] = list(attr.canonical_values)
    if attr.multi_valued:
        # The wso2 dialect answers untyped multi-valued values (emails) as plain strings.
        out: dict[str, Any] = {
            "type": "array",
            "items": {"anyOf": [one, {"type": "string"}]} if attr.is_complex else one,
        }
    else:
        out = one
    if attr.description:
        out["description"] = attr.description
    if attr.mutability == "readOnly":
        out["readOnly"] = True
    if attr.returned == "never":
        out["writeOnly"] = True
    return out


def _schema_object(attributes: dict[str, Attribute]) -> dict[str, Any]:
    return {"type": "object", "properties": {a.name: _attribute_schema(a) for a in attributes.values()}}


def schemas(registry: SchemaRegistry) -> dict[str, Any]:
    """Components: the User (from the registry), list and discovery documents, PatchOp."""
    user = _schema_object({**registry.common.attributes, **registry.core.attributes})
    user["properties"]["schemas"] = {"type": "array", "items": {"type": "string"}}
    for ext in registry.extensions:
        user["properties"][ext.id] = _schema_object(dict(ext.attributes))
    user["description"] = "A SCIM User (RFC 7643 §4.1) with its extensions (schemas/*.json)."
    user_out = {
        **user,
        "description": "The User as the server answers it",
        "required": ["schemas", "id", "userName", "meta"],
        "example": {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "id": "0b5e0d4c-1f0a-4a8e-9f57-5f2b6a9c1d3e",
            "userName": "kim",
            "name": {"givenName": "Kim", "familyName": "Berry"},
            "emails": [{"value": "kim@example.com", "primary": True}],
            "meta": {
                "resourceType": "User",
                "version": 'W/"3"',
                "location": "https://id.example.com/t/acme/scim2/Users/0b5e0d4c-1f0a-4a8e-9f57-5f2b6a9c1d3e",
            },
        },
    }
    attribute = {
        "type": "object",
        "required": ["name", "type"],
        "properties": {
            "name": {"type": "string"},
            "type": {"type": "string"},
            "multiValued": {"type": "boolean"},
            "subAttributes": {"type": "array", "items": {"$ref": "#/components/schemas/SchemaAttribute"}},
        },
    }
    schema_doc = {
        "type": "object",
        "required": ["id", "attributes"],
        "properties": {
            "id": {"type": "string"},
            "name": {"type": "string"},
            "description": {"type": "string"},
            "attributes": {"type": "array", "items": ref("SchemaAttribute")},
            "meta": {"type": "object"},
        },
    }
    resource_type = {
        "type": "object",
        "required": ["id", "name", "endpoint", "schema"],
        "properties": {
            "schemas": {"type": "array", "items": {"type": "string"}},
            "id": {"type": "string"},
            "name": {"type": "string"},
            "endpoint": {"type": "string"},
            "description": {"type": "string"},
            "schema": {"type": "string"},
            "schemaExtensions": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["schema", "required"],
                    "properties": {"schema": {"type": "string"}, "required": {"type": "boolean"}},
                },
            },
            "meta": {"type": "object"},
        },
    }
    patch_op = {
        "type": "object",
        "description": "RFC 7644 §3.5.2 PatchOp message.",
        "required": ["Operations"],
        "properties": {
            "schemas": {
                "type": "array",
                "items": {"type": "string"},
                "example": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            },
            "Operations": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["op"],
                    "properties": {
                        "op": {"type": "string", "enum": ["add", "replace", "remove", "Add", "Replace", "Remove"]},
                        "path": {"type": "string"},
                        "value": {},
                    },
                },
            },
        },
        "example": {
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "add", "value": {"nickName": "shaggy"}}],
        },
    }
    return {
        "User": user,
        "UserResponse": user_out,
        "PatchOp": patch_op,
        "SchemaAttribute": attribute,
        "SchemaDocument": schema_doc,
        "ResourceType": resource_type,
        "ListResponse": {
            "type": "object",
            "description": "RFC 7644 §3.4.2: Resources is required only when totalResults is not zero.",
            "required": ["schemas", "totalResults"],
            "properties": {
                "schemas": {"type": "array", "items": {"type": "string"}},
                "totalResults": {"type": "integer"},
                "startIndex": {"type": "integer"},
                "itemsPerPage": {"type": "integer"},
                "Resources": {"type": "array", "items": {"type": "object"}},
            },
        },
        "ServiceProviderConfig": {
            "type": "object",
            "required": ["schemas", "patch", "bulk", "filter", "changePassword", "sort", "etag"],
            "properties": {
                "schemas": {"type": "array", "items": {"type": "string"}},
                "patch": {"type": "object", "properties": {"supported": {"type": "boolean"}}},
                "bulk": {"type": "object"},
                "filter": {"type": "object"},
                "changePassword": {"type": "object"},
                "sort": {"type": "object"},
                "etag": {"type": "object"},
                "authenticationSchemes": {"type": "array", "items": {"type": "object"}},
            },
        },
    }


_USER_HEADERS = {
    "ETag": {"schema": {"type": "string"}, "description": 'W/"n", n = meta.version'},
    "Location": {"schema": {"type": "string"}},
}
_SELECT = [
    query("attributes", "Comma-separated attributes to return (RFC 7644 §3.9)" + ATTRIBUTE_NAMES),
    query("excludedAttributes", "Comma-separated attributes to leave out" + ATTRIBUTE_NAMES),
]
_IF_MATCH = header("If-Match", 'Only if the user is at this version (W/"n"); 412 otherwise')
_USER_200 = ok(ref("UserResponse"), "The caller's User", SCIM_JSON, _USER_HEADERS)
_USER_BODY = body(ref("User"), SCIM_MEDIA)

OPERATIONS = [
    Operation(
        "GET",
        "/scim2/Me",
        "The caller's User",
        TAG,
        {200: _USER_200, 304: no_body("If-None-Match matched", {"ETag": {"schema": {"type": "string"}}})},
        "scim",
        (401, 403, 406, 429),
        parameters=[*_SELECT, header("If-None-Match", 'W/"n": 304 when the user is still at that version')],
    ),
    Operation(
        "PATCH",
        "/scim2/Me",
        "Change the caller's User with an RFC 7644 §3.5.2 PatchOp",
        TAG,
        {200: _USER_200},
        "scim",
        (400, 401, 403, 406, 409, 412, 413, 415, 429),
        parameters=[*_SELECT, _IF_MATCH],
        request=body(ref("PatchOp"), SCIM_MEDIA),
    ),
    Operation(
        "PUT",
        "/scim2/Me",
        "Replace the caller's User (readOnly attributes keep their values; userName cannot change)",
        TAG,
        {200: _USER_200},
        "scim",
        (400, 401, 403, 406, 409, 412, 413, 415, 429),
        parameters=[*_SELECT, _IF_MATCH],
        request=_USER_BODY,
    ),
    Operation(
        "POST",
        "/scim2/Me",
        "Self-registration (the tenant decides: off → 403, open, or the internal_user_mgt_create scope)",
        TAG,
        {201: ok(ref("UserResponse"), "Created", SCIM_JSON, _USER_HEADERS)},
        "scim",
        (400, 401, 403, 406, 409, 413, 415, 429),
        security=({}, {"bearer": []}, {"oauth2": ["internal_user_mgt_create"]}),
        parameters=_SELECT,
        request=_USER_BODY,
        description=(
            "The body is a User with its password. With the tenant's self_registration_confirm on (the"
            " default, as WSO2's self sign-up lock on creation) the account is created held: accountLocked"
            " true, lockedReason PENDING_SELF_REGISTRATION, accountState PENDING_SR, and a confirmation code"
            " is mailed to its primary address (POST /api/identity/user/v1.0/validate-code, or the mailed"
            " link, confirms it and lifts the hold; resend-code mails a new one); an e-mail address is then"
            " required (400 invalidValue). Off, the account signs in at once. The request flags under"
            " urn:scim:wso2:schema are never stored: verifyEmail is accepted (the tenant decides, as on"
            " WSO2), askPassword true is 400 invalidValue. An anonymous registration (mode open) counts"
            " against the client IP's mail limit: past it, 429 with Retry-After."
        ),
    ),
    Operation(
        "DELETE",
        "/scim2/Me",
        "Self-delete, where the tenant enables it (needs internal_user_mgt_delete)",
        TAG,
        {204: no_body("Deleted: the profile and its credentials are gone")},
        "scim",
        (401, 403, 412, 429),
        security=({"bearer": []}, {"oauth2": ["internal_login", "internal_user_mgt_delete"]}),
        parameters=[_IF_MATCH],
    ),
    Operation(
        "GET",
        "/scim2/ServiceProviderConfig",
        "What this service provider supports (RFC 7643 §5)",
        TAG_DISCOVERY,
        {200: ok(ref("ServiceProviderConfig"), media=SCIM_JSON)},
        "scim",
        (406,),
        security=NONE,
    ),
    Operation(
        "GET",
        "/scim2/ResourceTypes",
        "The User resource type",
        TAG_DISCOVERY,
        {200: ok(ref("ListResponse"), media=SCIM_JSON)},
        "scim",
        (406,),
        security=NONE,
    ),
    Operation(
        "GET",
        "/scim2/ResourceTypes/{type_id}",
        "One resource type (only User)",
        TAG_DISCOVERY,
        {200: ok(ref("ResourceType"), media=SCIM_JSON)},
        "scim",
        (406,),
        security=NONE,
        parameters=[path_param("type_id", "User", {"type": "string", "example": "User"})],
    ),
    Operation(
        "GET",
        "/scim2/ResourceType/{type_id}",
        "One resource type, on WSO2's singular path",
        TAG_DISCOVERY,
        {200: ok(ref("ResourceType"), media=SCIM_JSON)},
        "scim",
        (406,),
        security=NONE,
        parameters=[path_param("type_id", "User", {"type": "string", "example": "User"})],
    ),
    Operation(
        "GET",
        "/scim2/Schemas",
        "Every user schema: a bare array in the wso2 dialect, a ListResponse in the rfc dialect",
        TAG_DISCOVERY,
        {200: ok({"oneOf": [ref("ListResponse"), {"type": "array", "items": ref("SchemaDocument")}]}, media=SCIM_JSON)},
        "scim",
        (401, 406, 429),
        security=ANY_CREDENTIAL,
    ),
    Operation(
        "GET",
        "/scim2/Schemas/{schema_id}",
        "One schema by URN (wso2: a one-element array, and 501 for an unknown URN; rfc: 404)",
        TAG_DISCOVERY,
        {
            200: ok(
                {"oneOf": [ref("SchemaDocument"), {"type": "array", "items": ref("SchemaDocument")}]}, media=SCIM_JSON
            )
        },
        "scim",
        (401, 406, 429, 501),
        security=ANY_CREDENTIAL,
        parameters=[
            path_param(
                "schema_id",
                "A schema URN",
                {"type": "string", "example": "urn:ietf:params:scim:schemas:core:2.0:User"},
            )
        ],
    ),
]

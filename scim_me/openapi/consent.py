"""WSO2's consent management API (``/api/identity/consent-mgt/v1.0``): the caller's Kantara
consent receipts and the tenant's consent metadata (purposes, purpose categories, PII
categories). Request bodies are the endpoints' own marshmallow schemas."""

from __future__ import annotations

from typing import Any

from scim_me.api.consent_mgt import ConsentRequestSchema
from scim_me.api.consent_mgt import PiiCategoryRequestSchema
from scim_me.api.consent_mgt import PurposeCategoryRequestSchema
from scim_me.api.consent_mgt import PurposeRequestSchema
from scim_me.openapi.spec import ADMIN
from scim_me.openapi.spec import USER
from scim_me.openapi.spec import Operation
from scim_me.openapi.spec import body
from scim_me.openapi.spec import header
from scim_me.openapi.spec import no_body
from scim_me.openapi.spec import ok
from scim_me.openapi.spec import path_param
from scim_me.openapi.spec import query
from scim_me.openapi.spec import ref

TAG = "Consent management"
PREFIX = "/api/identity/consent-mgt/v1.0/consents"

_STRING = {"type": "string"}
_NULLABLE_STRING = {"type": ["string", "null"]}
_INT = {"type": "integer"}
_TAG_HEADERS = {"ETag": {"schema": _STRING}}


def schemas() -> dict[str, Any]:
    return {
        "ConsentReceipt": {
            "type": "object",
            "description": "Kantara Consent Receipt KI-CR-v1.1.0",
            "required": ["version", "consentReceiptID", "state", "services"],
            "properties": {
                "version": _STRING,
                "jurisdiction": _STRING,
                "consentTimestamp": _INT,
                "collectionMethod": _STRING,
                "consentReceiptID": _STRING,
                "language": _STRING,
                "piiPrincipalId": _STRING,
                "tenantDomain": _STRING,
                "state": {"type": "string", "enum": ["ACTIVE", "REVOKED", "EXPIRED"]},
                "policyUrl": _STRING,
                "services": {"type": "array", "items": {"type": "object"}},
                "sensitive": {"type": "boolean"},
                "spiCat": {"type": "array", "items": _STRING},
                "expiryTime": _INT,
                "revokedTimestamp": _INT,
            },
        },
        "ConsentSummary": {
            "type": "object",
            "required": ["consentReceiptID", "state"],
            "properties": {
                "consentReceiptID": _STRING,
                "language": _STRING,
                "piiPrincipalId": _STRING,
                "tenantDomain": _STRING,
                "state": _STRING,
                "spDisplayName": _NULLABLE_STRING,
                "spDescription": _NULLABLE_STRING,
            },
        },
        "ConsentAdded": {
            "type": "object",
            "required": ["consentReceiptId"],
            "properties": {"consentReceiptId": _STRING},
        },
        "Purpose": {
            "type": "object",
            "required": ["purposeId", "purpose"],
            "properties": {
                "purposeId": _INT,
                "purpose": _STRING,
                "description": _STRING,
                "group": _STRING,
                "groupType": _STRING,
                "piiCategories": {"type": "array", "items": {"type": "object"}},
            },
        },
        "PurposeCategory": {
            "type": "object",
            "required": ["purposeCategoryId", "purposeCategory"],
            "properties": {"purposeCategoryId": _INT, "purposeCategory": _STRING, "description": _STRING},
        },
        "PiiCategory": {
            "type": "object",
            "required": ["piiCategoryId", "piiCategory"],
            "properties": {
                "piiCategoryId": _INT,
                "piiCategory": _STRING,
                "description": _STRING,
                "displayName": _NULLABLE_STRING,
                "sensitive": {"type": "boolean"},
            },
        },
    }


_PAGING = [
    query("limit", "Page size (0: the default)", {"type": "integer", "minimum": 0}),
    query("offset", "Skip this many", {"type": "integer", "minimum": 0}),
]
_IF_MATCH = header("If-Match", "Only if the resource is still at this ETag (412 otherwise)")
_IF_NONE_MATCH = header("If-None-Match", "304 when the client holds this ETag")
_ERRORS = (400, 401, 403, 413, 415, 429)


def _metadata(path: str, name: str, schema: str, request: Any, created: int) -> list[Operation]:
    item = f"{path}/{{raw_id}}"
    raw_id = path_param("raw_id", f"The {name}'s integer id")
    return [
        Operation(
            "GET",
            path,
            f"List {name}s",
            TAG,
            {200: ok({"type": "array", "items": ref(schema)})},
            "wso2",
            (400, 401, 403, 429),
            parameters=_PAGING,
        ),
        Operation(
            "POST",
            path,
            f"Create a {name} (internal_consent_mgt_add)",
            TAG,
            {created: ok(ref(schema), "Created", headers={"Location": {"schema": _STRING}, **_TAG_HEADERS})},
            "wso2",
            (*_ERRORS, 409),
            security=ADMIN,
            request=body(request),
        ),
        Operation(
            "GET",
            item,
            f"One {name}",
            TAG,
            {200: ok(ref(schema), headers=_TAG_HEADERS), 304: no_body("Not modified")},
            "wso2",
            (400, 401, 403, 429),
            parameters=[raw_id, _IF_NONE_MATCH],
        ),
        Operation(
            "DELETE",
            item,
            f"Delete a {name} not in use (internal_consent_mgt_delete)",
            TAG,
            {200: no_body("Deleted")},
            "wso2",
            (400, 401, 403, 409, 412, 429),
            security=ADMIN,
            parameters=[raw_id, _IF_MATCH],
        ),
    ]


OPERATIONS = [
    Operation(
        "POST",
        PREFIX,
        "Record a consent receipt for the caller (replaces the service's active one)",
        TAG,
        {200: ok(ref("ConsentAdded"), headers={"Location": {"schema": _STRING}})},
        "wso2",
        (*_ERRORS, 409),
        request=body(ConsentRequestSchema),
    ),
    Operation(
        "GET",
        PREFIX,
        "The caller's consent receipts",
        TAG,
        {200: ok({"type": "array", "items": ref("ConsentSummary")})},
        "wso2",
        (400, 401, 403, 429),
        parameters=[
            query("state", "ACTIVE | REVOKED | EXPIRED | ALL"),
            query("service", "Only this service"),
            query("piiPrincipalId", "Another user (internal_consent_mgt_view)"),
            *_PAGING,
        ],
    ),
    Operation(
        "GET",
        f"{PREFIX}/receipts/{{receipt_id}}",
        "One of the caller's receipts",
        TAG,
        {200: ok(ref("ConsentReceipt"), headers=_TAG_HEADERS), 304: no_body("Not modified")},
        "wso2",
        (400, 401, 403, 429),
        parameters=[path_param("receipt_id", "The receipt id"), _IF_NONE_MATCH],
    ),
    Operation(
        "DELETE",
        f"{PREFIX}/receipts/{{receipt_id}}",
        "Revoke a receipt (kept as history, state REVOKED)",
        TAG,
        {200: no_body("Revoked")},
        "wso2",
        (400, 401, 403, 409, 412, 429),
        parameters=[path_param("receipt_id", "The receipt id"), _IF_MATCH],
    ),
    *_metadata(f"{PREFIX}/purposes", "purpose", "Purpose", PurposeRequestSchema, 200),
    *_metadata(
        f"{PREFIX}/purpose-categories", "purpose category", "PurposeCategory", PurposeCategoryRequestSchema, 200
    ),
    *_metadata(f"{PREFIX}/pii-categories", "PII category", "PiiCategory", PiiCategoryRequestSchema, 201),
]

__all__ = ["OPERATIONS", "USER", "schemas"]

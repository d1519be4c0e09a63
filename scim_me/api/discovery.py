"""SCIM discovery (RFC 7644 §4): ServiceProviderConfig, ResourceTypes, Schemas.

They advertise exactly what this server implements: PATCH, bulk (its limits enforced by
/scim2/Bulk), ETags, password change, filtering
and sorting of /Users (``filter.maxResults`` is the largest page), Bearer and Basic
authentication.
In the ``wso2`` dialect /Schemas is a bare array with Java upper-case enums, as WSO2 answers.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint
from flask import Response

from scim_me.core.projection import upper_enums
from scim_me.core.schemas import GROUP_URN
from scim_me.core.schemas import Schema
from scim_me.errors import NotFoundError
from scim_me.errors import NotImplementedScimError
from scim_me.web.context import base_url
from scim_me.web.context import group_registry
from scim_me.web.context import registry
from scim_me.web.context import require_tenant
from scim_me.web.context import settings
from scim_me.web.guards import authenticate
from scim_me.web.handlers import json_body
from scim_me.web.listing import BULK_MAX_OPERATIONS
from scim_me.web.negotiation import check_accept

bp = Blueprint("discovery", __name__)

LIST_URN = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
DOCS = "https://github.com/scim-me/scim-me#readme"


@bp.get("/scim2/ServiceProviderConfig")
def service_provider_config() -> Response:
    check_accept()
    require_tenant()
    body = {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"],
        "documentationUri": DOCS,
        "patch": {"supported": True},
        "bulk": {"supported": True, "maxOperations": BULK_MAX_OPERATIONS, "maxPayloadSize": settings().max_body_bytes},
        "filter": {"supported": True, "maxResults": settings().max_page_size},
        "changePassword": {"supported": True},
        "sort": {"supported": True},
        "etag": {"supported": True},
        # RFC 9865 §4: index and cursor paging on /Users and /Groups; cursors are keyset state signed
        # by the server (docs/scim-filters.md) and do not expire, so no cursorTimeout.
        "pagination": {
            "cursor": True,
            "index": True,
            "defaultPaginationMethod": "index",
            "defaultPageSize": settings().default_page_size,
            "maxPageSize": settings().max_page_size,
        },
        "authenticationSchemes": [
            {
                "name": "OAuth Bearer Token",
                "description": "Authentication scheme using the OAuth Bearer Token Standard",
                "specUri": "https://www.rfc-editor.org/info/rfc6750",
                "documentationUri": DOCS,
                "type": "oauthbearertoken",
                "primary": True,
            },
            {
                "name": "HTTP Basic",
                "description": "Authentication scheme using the HTTP Basic Standard",
                "specUri": "https://www.rfc-editor.org/info/rfc2617",
                "documentationUri": DOCS,
                "type": "httpbasic",
                "primary": False,
            },
        ],
        "meta": {
            "resourceType": "ServiceProviderConfig",
            "location": f"{base_url()}/scim2/ServiceProviderConfig",
        },
    }
    response = json_body(body)
    response.headers["Location"] = f"{base_url()}/scim2/ServiceProviderConfig"
    return response


def _user_resource_type() -> dict[str, Any]:
    tenant = require_tenant()
    reg = registry()
    singular = "ResourceType" if tenant.dialect == "wso2" else "ResourceTypes"
    return {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],
        "id": "User",
        "name": "User",
        "endpoint": "/Users",
        "description": "User Account",
        "schema": reg.core.id,
        "schemaExtensions": [{"schema": ext.id, "required": False} for ext in reg.extensions],
        "meta": {"location": f"{base_url()}/scim2/{singular}/User", "resourceType": "ResourceType"},
    }


def _group_resource_type() -> dict[str, Any]:
    tenant = require_tenant()
    singular = "ResourceType" if tenant.dialect == "wso2" else "ResourceTypes"
    return {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],
        "id": "Group",
        "name": "Group",
        "endpoint": "/Groups",
        "description": "Group",
        "schema": group_registry().core.id,
        "schemaExtensions": [],
        "meta": {"location": f"{base_url()}/scim2/{singular}/Group", "resourceType": "ResourceType"},
    }


@bp.get("/scim2/ResourceTypes")
def resource_types() -> Response:
    check_accept()
    tenant = require_tenant()
    types = [_user_resource_type(), _group_resource_type()]
    body: dict[str, Any] = {"schemas": [LIST_URN], "totalResults": len(types), "Resources": types}
    if tenant.dialect == "rfc":
        body["startIndex"] = 1
        body["itemsPerPage"] = len(types)
    return json_body(body)


@bp.get("/scim2/ResourceTypes/<type_id>")
@bp.get("/scim2/ResourceType/<type_id>")
def resource_type(type_id: str) -> Response:
    check_accept()
    if type_id == "Group":
        return json_body(_group_resource_type())
    if type_id != "User":
        raise NotFoundError(f"No resource type {type_id}.")
    return json_body(_user_resource_type())


def _schema_document(schema: Schema, wso2: bool) -> dict[str, Any]:
    doc = schema.to_dict()
    doc["meta"] = {"resourceType": "Schema", "location": f"{base_url()}/scim2/Schemas/{schema.id}"}
    if wso2:
        doc["attributes"] = [upper_enums(a) for a in doc["attributes"]]
    return doc


@bp.get("/scim2/Schemas")
def schemas() -> Response:
    tenant = require_tenant()
    authenticate(tenant)
    check_accept()
    wso2 = tenant.dialect == "wso2"
    docs = [_schema_document(s, wso2) for s in registry().all_schemas()]
    if wso2:
        return json_body(docs)
    docs.append(_schema_document(group_registry().core, wso2))  # WSO2 lists user schemas only
    count = len(docs)
    return json_body(
        {"schemas": [LIST_URN], "totalResults": count, "startIndex": 1, "itemsPerPage": count, "Resources": docs}
    )


@bp.get("/scim2/Schemas/<path:schema_id>")
def schema(schema_id: str) -> Response:
    tenant = require_tenant()
    authenticate(tenant)
    check_accept()
    found = registry().schema(schema_id)
    if found is None and schema_id.lower() == GROUP_URN.lower():
        found = group_registry().core
    wso2 = tenant.dialect == "wso2"
    if found is None:
        if wso2:
            raise NotImplementedScimError("only user, enterprise, system and custom schemas are supported")
        raise NotFoundError(f"No schema {schema_id}.")
    doc = _schema_document(found, wso2)
    return json_body([doc] if wso2 else doc)

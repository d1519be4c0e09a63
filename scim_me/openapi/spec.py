"""The building blocks of the OpenAPI 3.1 document: an :class:`Operation` per route and method,
the three error dialects as reusable responses, the security schemes, and the assembly through
apispec (whose marshmallow plugin turns the request schemas the endpoints load with into JSON
Schema, so a request body is documented by the code that reads it).

Adding an operation is adding one ``Operation(...)`` to the ``OPERATIONS`` list of the family's
module (scim.py, oauth.py, account.py, consent.py, docs_routes.py); tests/api/test_openapi.py
fails while a route in ``app.url_map`` has none. See docs/dev/openapi.md.
"""

from __future__ import annotations

from collections.abc import Iterable
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field
from typing import Any

JSON = "application/json"
SCIM_JSON = "application/scim+json"
HTML = "text/html"
FORM = "application/x-www-form-urlencoded"

# Security requirements, by who may call (components.securitySchemes below).
Security = tuple[dict[str, list[str]], ...]
NONE: Security = ({},)
USER: Security = ({"bearer": []}, {"oauth2": ["internal_login"]}, {"basic": []})
USER_BEARER: Security = ({"bearer": []}, {"oauth2": ["internal_login"]})
ANY_CREDENTIAL: Security = ({"bearer": []}, {"oauth2": []}, {"basic": []})
CLIENT: Security = ({"clientBasic": []}, {})  # a public client names itself with client_id in the form
ADMIN: Security = ({"bearer": []}, {"oauth2": []})

SCIM_REASONS = {
    304: "Not Modified",
    400: "Bad request (scimType names the problem: invalidSyntax, invalidValue, invalidPath, noTarget, mutability...)",
    401: "No valid credential (WWW-Authenticate: Bearer)",
    403: "The credential may not do this (missing scope, or the tenant turned the feature off)",
    404: "Unknown tenant, or no such resource",
    406: "Accept names no JSON media type",
    409: "Uniqueness conflict, or a concurrent change",
    412: "If-Match names another version",
    413: "Body larger than the server accepts",
    415: "Content-Type is not application/scim+json or application/json",
    429: "Too many failed password checks (Retry-After)",
    501: "Not implemented",
    503: "The database is busy (Retry-After)",
}


@dataclass(frozen=True)
class Operation:
    """One documented method of one route. ``path`` is Flask's rule with ``{name}`` for
    ``<name>`` / ``<path:name>``; ``responses`` maps a status to a response object (use the
    helpers below); ``errors`` lists error statuses answered in ``dialect``."""

    method: str
    path: str
    summary: str
    tag: str
    responses: Mapping[int, dict[str, Any]]
    dialect: str = "wso2"  # scim | wso2 | oauth | html: how errors look
    errors: Sequence[int] = (400, 401, 403)
    security: Sequence[Mapping[str, list[str]]] = USER
    parameters: Sequence[dict[str, Any]] = ()
    request: dict[str, Any] | None = None
    description: str = ""
    operation_id: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)


# --- response helpers ---------------------------------------------------------------------------


def ok(
    schema: Any, description: str = "OK", media: str = JSON, headers: Mapping[str, Any] | None = None, **more: Any
) -> dict[str, Any]:
    out: dict[str, Any] = {"description": description, "content": {media: {"schema": schema, **more}}}
    if headers:
        out["headers"] = dict(headers)
    return out


def no_body(description: str, headers: Mapping[str, Any] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"description": description}
    if headers:
        out["headers"] = dict(headers)
    return out


def html(description: str = "An HTML page") -> dict[str, Any]:
    return {"description": description, "content": {HTML: {"schema": {"type": "string"}}}}


def redirect(description: str) -> dict[str, Any]:
    return no_body(description, {"Location": {"schema": {"type": "string"}, "required": True}})


def body(schema: Any, media: Iterable[str] = (JSON,), required: bool = True, **more: Any) -> dict[str, Any]:
    return {"required": required, "content": {m: {"schema": schema, **more} for m in media}}


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def path_param(name: str, description: str, schema: Mapping[str, Any] | None = None) -> dict[str, Any]:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "description": description,
        "schema": dict(schema or {"type": "string"}),
    }


# How ``attributes`` / ``excludedAttributes`` name an attribute (core/projection.py).
ATTRIBUTE_NAMES = (
    "; an extension attribute as `urn:...:Schema:attr` (RFC 7644 §3.10) or `urn:...:Schema.attr` "
    "(WSO2 My Account's form, e.g. `urn:scim:wso2:schema.isReadOnlyUser`); unknown names are ignored"
)


def query(name: str, description: str, schema: Mapping[str, Any] | None = None, **more: Any) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "description": description,
        "schema": dict(schema or {"type": "string"}),
        **more,
    }


def header(name: str, description: str, schema: Mapping[str, Any] | None = None) -> dict[str, Any]:
    return {"name": name, "in": "header", "description": description, "schema": dict(schema or {"type": "string"})}


# --- the error dialects -------------------------------------------------------------------------

ERROR_SCHEMAS: dict[str, dict[str, Any]] = {
    "ScimError": {
        "type": "object",
        "description": "RFC 7644 §3.12 error: `status` is the HTTP status as a string.",
        "required": ["schemas", "status"],
        "properties": {
            "schemas": {"type": "array", "items": {"const": "urn:ietf:params:scim:api:messages:2.0:Error"}},
            "status": {"type": "string", "pattern": "^[1-5][0-9][0-9]$"},
            "scimType": {"type": "string"},
            "detail": {"type": "string"},
        },
        "example": {
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"],
            "status": "400",
            "scimType": "invalidValue",
            "detail": "The value of 'nickName' must be a string.",
        },
    },
    "Wso2Error": {
        "type": "object",
        "description": "WSO2 REST API error; `code` is the API family's (e.g. PWD-10001, CM_60001, 18001).",
        "required": ["code", "message", "description"],
        "properties": {
            "code": {"type": "string"},
            "message": {"type": "string"},
            "description": {"type": "string"},
            "traceId": {"type": "string"},
        },
        "example": {
            "code": "PWD-10001",
            "message": "Invalid current password.",
            "description": "The current password is incorrect.",
            "traceId": "3f0c8f5e-6d1b-4d43-9a56-2d7a8e9b1c11",
        },
    },
    "OAuthError": {
        "type": "object",
        "description": "RFC 6749 §5.2 error response.",
        "required": ["error"],
        "properties": {
            "error": {"type": "string"},
            "error_description": {"type": "string"},
            "error_uri": {"type": "string"},
            "state": {"type": "string"},
        },
        "example": {"error": "invalid_grant", "error_description": "The authorization code is invalid."},
    },
}

_RETRY_AFTER = {"Retry-After": {"schema": {"type": "string"}, "description": "seconds"}}
_CHALLENGE = {"WWW-Authenticate": {"schema": {"type": "string"}}}


def _error_response(dialect: str, status: int) -> dict[str, Any]:
    reason = SCIM_REASONS.get(status, "Error")
    headers: dict[str, Any] = {}
    if status in (429, 503):
        headers.update(_RETRY_AFTER)
    if status == 401:
        headers.update(_CHALLENGE)
    if dialect == "scim":
        out = ok(ref("ScimError"), reason, SCIM_JSON)
    elif dialect == "wso2":
        out = ok(ref("Wso2Error"), reason, JSON)
    elif dialect == "oauth":
        out = ok(ref("OAuthError"), reason, JSON)
        # a few failures (unknown tenant, busy database) are rendered by the shared handler
        out["content"][JSON]["schema"] = {"anyOf": [ref("OAuthError"), ref("Wso2Error")]}
    else:
        out = html(reason)
        # an unknown tenant or a busy database is answered by the shared handler in JSON
        out["content"][JSON] = {"schema": ref("Wso2Error")}
    if headers:
        out["headers"] = headers
    return out


def error_name(dialect: str, status: int) -> str:
    return f"{dialect.capitalize()}{status}"


def error_responses() -> dict[str, dict[str, Any]]:
    statuses = (400, 401, 403, 404, 405, 406, 409, 412, 413, 415, 429, 501, 503)
    return {
        error_name(dialect, status): _error_response(dialect, status)
        for dialect in ("scim", "wso2", "oauth", "html")
        for status in statuses
    }


def security_schemes(base: str) -> dict[str, Any]:
    return {
        "bearer": {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT",
            "description": "An access token (`typ: at+jwt`) issued by this tenant's /oauth2/token, or by a"
            " configured external issuer. User APIs need the `internal_login` scope.",
        },
        "basic": {
            "type": "http",
            "scheme": "basic",
            "description": "A user's userName and password (as WSO2 My Account does); stands for `internal_login`.",
        },
        "clientBasic": {
            "type": "http",
            "scheme": "basic",
            "description": "A confidential client's client_id and client_secret (RFC 6749 §2.3.1);"
            " `client_secret_post` in the form works too.",
        },
        "metricsToken": {
            "type": "http",
            "scheme": "bearer",
            "description": "The metrics_token setting (GET /metrics only).",
        },
        "oauth2": {
            "type": "oauth2",
            "description": "Authorization code with PKCE (S256 only), or client credentials for confidential clients.",
            "flows": {
                "authorizationCode": {
                    "authorizationUrl": f"{base}/oauth2/authorize",
                    "tokenUrl": f"{base}/oauth2/token",
                    "refreshUrl": f"{base}/oauth2/token",
                    "scopes": SCOPES,
                },
                "clientCredentials": {"tokenUrl": f"{base}/oauth2/token", "scopes": SCOPES},
            },
        },
    }


SCOPES = {
    "openid": "OpenID Connect sign-in (ID token, userinfo)",
    "profile": "userinfo: profile claims",
    "email": "userinfo: email claims",
    "phone": "userinfo: phone claims",
    "address": "userinfo: address claim",
    "internal_login": "the user's self-service APIs (/scim2/Me, /api/users/v1/me/...)",
    "internal_user_mgt_create": "self-registration where the tenant requires a scope",
    "internal_user_mgt_delete": "self-delete (with internal_login)",
    "internal_user_password_update": "change-password without internal_login",
    "internal_consent_mgt_add": "create consent metadata (purposes, categories)",
    "internal_consent_mgt_delete": "delete consent metadata",
    "internal_consent_mgt_view": "list another user's consents",
    "internal_user_mgt_view": "read any user (/scim2/Users/{id})",
    "internal_user_mgt_list": "list and search users",
    "internal_user_mgt_update": "replace and PATCH users",
    "internal_user_recovery_create": "call the recovery API where the tenant requires it",
    "internal_group_mgt_create": "create groups",
    "internal_group_mgt_view": "read a group",
    "internal_group_mgt_list": "list and search groups",
    "internal_group_mgt_update": "replace and PATCH groups",
    "internal_group_mgt_delete": "delete groups",
    "internal_bulk_resource_create": "send /scim2/Bulk requests",
}


def to_path_item(op: Operation) -> dict[str, Any]:
    """The OpenAPI operation object of ``op`` (responses with its error statuses added, by $ref)."""
    responses: dict[str, Any] = {str(status): response for status, response in op.responses.items()}
    for status in (*op.errors, 404, 503):
        responses.setdefault(str(status), {"$ref": f"#/components/responses/{error_name(op.dialect, status)}"})
    out: dict[str, Any] = {
        "tags": [op.tag],
        "summary": op.summary,
        "operationId": op.operation_id or _operation_id(op),
        "responses": dict(sorted(responses.items())),
    }
    if op.description:
        out["description"] = op.description
    if op.parameters:
        out["parameters"] = list(op.parameters)
    if op.request is not None:
        out["requestBody"] = op.request
    out["security"] = [dict(s) for s in op.security]
    out.update(op.extra)
    return out


def _operation_id(op: Operation) -> str:
    words = [w for w in op.path.replace("{", "").replace("}", "").replace(".", "-").split("/") if w]
    parts = [op.method.lower()]
    for word in words:
        parts.extend(p[:1].upper() + p[1:] for p in word.replace("_", "-").split("-") if p)
    return "".join(parts)

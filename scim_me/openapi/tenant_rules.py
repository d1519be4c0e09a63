"""What My Account reads about the tenant: WSO2's validation rules and identity-governance
preferences (``/api/server/v1``), and the app launcher (``/api/users/v1/me/applications``)."""

from __future__ import annotations

from typing import Any

from scim_me.api.tenant_rules import PreferenceSearch
from scim_me.openapi.spec import ANY_CREDENTIAL
from scim_me.openapi.spec import USER
from scim_me.openapi.spec import Operation
from scim_me.openapi.spec import body
from scim_me.openapi.spec import ok
from scim_me.openapi.spec import path_param
from scim_me.openapi.spec import query
from scim_me.openapi.spec import ref

TAG_RULES = "Tenant rules (validation rules, governance preferences)"
TAG_APPS = "App launcher"
APPLICATIONS = "/api/users/v1/me/applications"

_STRING = {"type": "string"}


def schemas() -> dict[str, Any]:
    key_value = {
        "type": "object",
        "required": ["key", "value"],
        "properties": {"key": _STRING, "value": _STRING},
    }
    rule = {
        "type": "object",
        "required": ["validator", "properties"],
        "properties": {"validator": _STRING, "properties": {"type": "array", "items": key_value}},
    }
    return {
        "ValidationRuleField": {
            "type": "object",
            "required": ["field"],
            "properties": {
                "field": {"type": "string", "enum": ["password", "username"]},
                "rules": {"type": "array", "items": rule},
                "regEx": {"type": "array", "items": rule},
            },
            "example": {
                "field": "password",
                "rules": [
                    {
                        "validator": "LengthValidator",
                        "properties": [{"key": "min.length", "value": "8"}, {"key": "max.length", "value": "256"}],
                    }
                ],
            },
        },
        "Application": {
            "type": "object",
            "required": ["id", "name", "accessUrl"],
            "properties": {
                "id": {"type": "string", "description": "the client id"},
                "name": _STRING,
                "accessUrl": {"type": "string", "format": "uri"},
            },
        },
        "ApplicationList": {
            "type": "object",
            "required": ["totalResults", "startIndex", "count", "applications", "links"],
            "properties": {
                "totalResults": {"type": "integer"},
                "startIndex": {"type": "integer", "description": "offset + 1"},
                "count": {"type": "integer"},
                "applications": {"type": "array", "items": ref("Application")},
                "links": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {"href": _STRING, "rel": {"type": "string", "enum": ["next", "previous"]}},
                    },
                },
            },
        },
        "GovernancePreference": {
            "type": "object",
            "required": ["connector-name", "properties"],
            "properties": {
                "connector-name": _STRING,
                "properties": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["name", "value"],
                        "properties": {"name": _STRING, "value": _STRING},
                    },
                },
            },
        },
    }


OPERATIONS = [
    Operation(
        "GET",
        "/api/server/v1/validation-rules",
        "The password and username rules the tenant enforces (WSO2 input-validation shape)",
        TAG_RULES,
        {200: ok({"type": "array", "items": ref("ValidationRuleField")})},
        "wso2",
        (401, 429),
        security=ANY_CREDENTIAL,
        description=(
            "Generated from the tenant's password policy and the username rules, so a form shows "
            "exactly what the server checks. WSO2's validators (LengthValidator, NumeralValidator, "
            "UpperCaseValidator, LowerCaseValidator, SpecialCharacterValidator, "
            "UniqueCharacterValidator, RepeatedCharacterValidator, AlphanumericValidator) plus "
            "scim-me's own (CommonPasswordValidator, ContextWordsValidator, PrecisUsernameValidator). "
            "Any authenticated caller of the tenant."
        ),
    ),
    Operation(
        "POST",
        "/api/server/v1/identity-governance/preferences",
        "Which self-service features are on: governance connector properties, from the tenant's settings",
        TAG_RULES,
        {200: ok({"type": "array", "items": ref("GovernancePreference")})},
        "wso2",
        (400, 401, 403, 413, 415, 429),
        security=USER,
        request=body(
            {"type": "array", "items": PreferenceSearch},
            example=[
                {"connector-name": "self-sign-up", "properties": ["SelfRegistration.Enable"]},
                {"connector-name": "account-recovery", "properties": ["Recovery.Question.Password.Enable"]},
            ],
        ),
        description=(
            "Connectors: self-sign-up, lite-user-sign-up, user-email-verification, user-claim-update, "
            "account.lock.handler, passwordHistory, passwordPolicy, passwordExpiry, account-recovery, "
            "and scim-me's own scim-me.mfa. Without `properties`, every property of the connector. "
            "IDG-50011: unknown connector; IDG-50012: unknown property; IDG-60001: malformed body."
        ),
    ),
    Operation(
        "GET",
        APPLICATIONS,
        "The app launcher: the tenant's discoverable applications with their access URLs",
        TAG_APPS,
        {200: ok(ref("ApplicationList"))},
        "wso2",
        (400, 401, 403, 429, 501),
        security=USER,
        parameters=[
            query("limit", "page size (default and maximum: the server's page sizes)", {"type": "integer"}),
            query("offset", "0-based index of the first application", {"type": "integer"}),
            query("filter", "`name eq|sw|ew|co value` (APP-10002 / APP-10003 otherwise)"),
            query("attributes", "Not supported (501 APP-15004)"),
            query("sortBy", "Not supported (501 APP-15007)"),
            query("sortOrder", "Not supported (501 APP-15007)"),
        ],
    ),
    Operation(
        "GET",
        f"{APPLICATIONS}/{{application_id}}",
        "One discoverable application (404 APP-10001 otherwise)",
        TAG_APPS,
        {200: ok(ref("Application"))},
        "wso2",
        (401, 403, 429),
        security=USER,
        parameters=[path_param("application_id", "The application's client id")],
    ),
]

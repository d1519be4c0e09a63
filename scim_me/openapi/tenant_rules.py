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
from scim_me.openapi.spec import ref

TAG_RULES = "Tenant rules (validation rules, governance preferences)"

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
]

"""WSO2's FIDO2 API for passkeys, ``/api/users/v2/me/webauthn`` (api/webauthn.py, docs/passkeys.md)."""

from __future__ import annotations

from typing import Any

from scim_me.openapi.spec import FORM
from scim_me.openapi.spec import JSON
from scim_me.openapi.spec import USER_BEARER
from scim_me.openapi.spec import Operation
from scim_me.openapi.spec import body
from scim_me.openapi.spec import no_body
from scim_me.openapi.spec import ok
from scim_me.openapi.spec import path_param
from scim_me.openapi.spec import ref

TAG = "Passkeys (FIDO2)"
BASE = "/api/users/v2/me/webauthn"
_STRING = {"type": "string"}
_NULLABLE_STRING = {"type": ["string", "null"]}


def schemas() -> dict[str, Any]:
    return {
        "WebauthnCredential": {
            "type": "object",
            "description": "A passkey as WSO2's FIDO2 API lists it, less the public key (it never leaves the server).",
            "required": ["credential", "displayName", "registrationTime", "lastUsedTime"],
            "properties": {
                "credential": {
                    "type": "object",
                    "required": ["credentialId"],
                    "properties": {
                        "credentialId": {"type": "string", "description": "base64url"},
                        "id": {"type": "string", "description": "the same as credentialId"},
                        "userHandle": _STRING,
                        "signatureCount": {"type": "integer"},
                    },
                },
                "displayName": _NULLABLE_STRING,
                "registrationTime": {"type": "string", "format": "date-time"},
                "lastUsedTime": {"type": ["string", "null"], "format": "date-time"},
                "signatureCount": {"type": "integer"},
                "isUsernamelessSupported": {"type": "boolean"},
                "userVerified": {"type": "boolean"},
                "backupEligible": {"type": "boolean"},
                "transports": {"type": "array", "items": _STRING},
                "userIdentity": {"type": "object"},
            },
        },
        "WebauthnRegistrationStart": {
            "type": "object",
            "required": ["requestId", "publicKeyCredentialCreationOptions"],
            "properties": {
                "requestId": {"type": "string", "description": "send it back to finish-registration"},
                "publicKeyCredentialCreationOptions": {
                    "type": "object",
                    "description": "WebAuthn creation options; binary members base64url-encoded",
                    "required": ["rp", "user", "challenge", "pubKeyCredParams", "excludeCredentials"],
                },
            },
        },
    }


_APP_ID = {
    "type": "object",
    "required": ["appId"],
    "properties": {"appId": {"type": "string", "description": "the origin registering the passkey"}},
}
_FINISH = {
    "type": "object",
    "required": ["requestId", "credential"],
    "properties": {
        "requestId": _STRING,
        "credential": {
            "type": "object",
            "description": "the PublicKeyCredential; response.attestationObject and clientDataJSON base64url",
        },
    },
}
_RENAME = {
    "type": "array",
    "items": {
        "type": "object",
        "required": ["operation", "path", "value"],
        "properties": {
            "operation": {"const": "REPLACE"},
            "path": {"const": "/displayName"},
            "value": {"type": "string", "minLength": 1, "maxLength": 64},
        },
    },
}
_CREDENTIAL_ID = path_param("credential_id", "The credential id (base64url)")


def _start(suffix: str, summary: str) -> Operation:
    return Operation(
        "POST",
        f"{BASE}/{suffix}",
        summary,
        TAG,
        {200: ok(ref("WebauthnRegistrationStart"))},
        "wso2",
        (400, 401, 403, 404, 409, 413),
        security=USER_BEARER,
        request=body(_APP_ID, media=(FORM, JSON), example={"appId": "https://myaccount.example.com"}),
    )


OPERATIONS = [
    _start("start-registration", "Start registering a security key (second factor; user verification preferred)"),
    _start(
        "start-usernameless-registration",
        "Start registering a passkey (discoverable, user verification required: passwordless sign-in)",
    ),
    Operation(
        "POST",
        f"{BASE}/finish-registration",
        "Finish a registration: the authenticator's answer to the requestId's challenge",
        TAG,
        {200: ok(ref("WebauthnCredential"))},
        "wso2",
        (400, 401, 403, 404, 409, 413),
        security=USER_BEARER,
        request=body(_FINISH),
    ),
    Operation(
        "GET",
        BASE,
        "The caller's passkeys",
        TAG,
        {200: ok({"type": "array", "items": ref("WebauthnCredential")})},
        "wso2",
        (401, 403, 404),
        security=USER_BEARER,
    ),
    Operation(
        "PATCH",
        f"{BASE}/{{credential_id}}",
        "Rename a passkey (a REPLACE of /displayName, as WSO2's My Account sends it)",
        TAG,
        {200: ok(ref("WebauthnCredential"))},
        "wso2",
        (400, 401, 403, 404, 413),
        security=USER_BEARER,
        parameters=[_CREDENTIAL_ID],
        request=body(_RENAME, example=[{"operation": "REPLACE", "path": "/displayName", "value": "YubiKey 5"}]),
    ),
    Operation(
        "DELETE",
        f"{BASE}/{{credential_id}}",
        "Remove a passkey (a recent sign-in may be required: step-up)",
        TAG,
        {200: no_body("Removed (an empty body, as WSO2)")},
        "wso2",
        (400, 401, 403, 404),
        security=USER_BEARER,
        parameters=[_CREDENTIAL_ID],
    ),
]

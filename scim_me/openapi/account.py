"""WSO2's My Account REST APIs under ``/api/users/v1/me`` and ``/api/identity/user/v1.0``:
password, MFA (TOTP, backup codes, authenticators), security overview and history, e-mail change,
sessions, authorized apps, data export; and the page the verification mail links to.

Request bodies are the marshmallow schemas the endpoints load with (converted by apispec)."""

from __future__ import annotations

from typing import Any

from scim_me.api.account import ChangePasswordRequest
from scim_me.api.email_verification import CodeRequest
from scim_me.api.mfa import AuthenticatorsRequest
from scim_me.api.mfa import TotpRequest
from scim_me.api.resend_code import AccountResendRequest
from scim_me.openapi.spec import FORM
from scim_me.openapi.spec import NONE
from scim_me.openapi.spec import USER
from scim_me.openapi.spec import USER_BEARER
from scim_me.openapi.spec import Operation
from scim_me.openapi.spec import body
from scim_me.openapi.spec import html
from scim_me.openapi.spec import no_body
from scim_me.openapi.spec import ok
from scim_me.openapi.spec import path_param
from scim_me.openapi.spec import query
from scim_me.openapi.spec import redirect
from scim_me.openapi.spec import ref
from scim_me.web.code_requests import ResendRequest

TAG_PASSWORD = "Password"
TAG_MFA = "MFA"
TAG_SECURITY = "Security overview and history"
TAG_EMAIL = "E-mail change"
TAG_PRIVACY = "Sessions, authorized apps and export"

_STRING = {"type": "string"}
_NULLABLE_STRING = {"type": ["string", "null"]}
_OBJECT = {"type": "object"}
ME = "/api/users/v1/me"


def schemas() -> dict[str, Any]:
    session = {
        "type": "object",
        "required": ["id", "applications", "loginTime", "lastAccessTime"],
        "properties": {
            "id": _STRING,
            "applications": {"type": "array", "items": _OBJECT},
            "userAgent": _STRING,
            "ip": _STRING,
            "loginTime": {"type": "string", "description": "epoch milliseconds, as a string"},
            "lastAccessTime": {"type": "string", "description": "epoch milliseconds, as a string"},
        },
    }
    event = {
        "type": "object",
        "required": ["id", "kind", "time", "timestamp"],
        "properties": {
            "id": _STRING,
            "kind": {"type": "string", "example": "password.changed"},
            "time": _STRING,
            "timestamp": _STRING,
            "ip": _NULLABLE_STRING,
            "userAgent": _NULLABLE_STRING,
            "clientId": _NULLABLE_STRING,
            "details": _OBJECT,
        },
    }
    return {
        "SecurityOverview": {
            "type": "object",
            "required": ["userId"],
            "properties": {
                "userId": _STRING,
                "alerts": _OBJECT,
                "email": {"type": ["object", "null"]},
                "mfa": {"type": ["object", "null"]},
                "password": {"type": ["object", "null"]},
                "sessions": _OBJECT,
            },
        },
        "SecurityEvent": event,
        "SecurityEvents": {
            "type": "object",
            "required": ["totalResults", "count", "events", "links"],
            "properties": {
                "totalResults": {"type": "integer"},
                "count": {"type": "integer"},
                "startIndex": {"type": "integer"},
                "nextCursor": _STRING,
                "events": {"type": "array", "items": ref("SecurityEvent")},
                "links": {
                    "type": "array",
                    "items": {"type": "object", "properties": {"rel": _STRING, "href": _STRING}},
                },
            },
        },
        "PendingEmailChange": {
            "type": "object",
            "required": ["address"],
            "properties": {
                "address": _STRING,
                "type": _NULLABLE_STRING,
                "primary": {"type": "boolean"},
                "requestedTime": _NULLABLE_STRING,
                "expiryTime": _NULLABLE_STRING,
            },
        },
        "Session": session,
        "Sessions": {
            "type": "object",
            "description": "The live sign-in sessions ({} when the user has none, as WSO2)",
            "properties": {"userId": _STRING, "sessions": {"type": "array", "items": ref("Session")}},
        },
        "AuthorizedAppV1": {
            "type": "object",
            "required": ["appId", "clientId"],
            "properties": {"appId": _STRING, "clientId": _STRING},
        },
        "AuthorizedAppV2": {
            "type": "object",
            "required": ["id", "name", "clientId", "approvedScopes"],
            "properties": {
                "id": _STRING,
                "name": _STRING,
                "clientId": _STRING,
                "approvedScopes": {"type": "array", "items": _STRING},
            },
        },
        "DataExport": {
            "type": "object",
            "description": "Every feature's section of the caller's data; never a secret.",
            "additionalProperties": True,
        },
    }


def _wso2(status: int = 200, schema: Any = None, description: str = "OK") -> dict[int, dict[str, Any]]:
    return {status: ok(schema, description) if schema is not None else no_body(description)}


_EMPTY_200 = {200: no_body("Done (an empty body, as WSO2)")}
_APP_ID = path_param("application_id", "The application's client_id (v1 also accepts its name)")

OPERATIONS = [
    Operation(
        "POST",
        f"{ME}/change-password",
        "Change the caller's password; ends other sessions unless revokeOtherSessions is false. "
        "400: PWD-10000 no body, UE-10000 a member missing or mistyped, PWD-10002 new equals current, "
        "PWD-10001 wrong current password, PWD-10003 policy, PWD-10006 read-only user. "
        "HTTP Basic: 401 saying a bearer token is needed",
        TAG_PASSWORD,
        _wso2(204, description="Changed"),
        "wso2",
        (400, 401, 403, 409, 413, 429),
        security=({"bearer": []}, {"oauth2": ["internal_login"]}, {"oauth2": ["internal_user_password_update"]}),
        request=body(ChangePasswordRequest),
    ),
    Operation(
        "GET",
        f"{ME}/totp",
        "Start (or show) a TOTP enrolment: the otpauth QR code as a data URL",
        TAG_MFA,
        _wso2(200, {"type": "object", "required": ["qrCodeUrl"], "properties": {"qrCodeUrl": _STRING}}),
        security=USER_BEARER,
    ),
    Operation(
        "POST",
        f"{ME}/totp",
        "TOTP actions: INIT, REFRESH, VIEW (→ qrCodeUrl) or VALIDATE a code (→ isValid)",
        TAG_MFA,
        _wso2(
            200,
            {
                "type": "object",
                "properties": {"qrCodeUrl": _STRING, "isValid": {"type": "boolean"}},
                "minProperties": 1,
            },
        ),
        "wso2",
        (400, 401, 403, 413, 415, 429),
        security=USER_BEARER,
        request=body(TotpRequest, required=False, example={"action": "VALIDATE", "verificationCode": "123456"}),
    ),
    Operation("DELETE", f"{ME}/totp", "Remove TOTP", TAG_MFA, _EMPTY_200, security=USER_BEARER),
    Operation(
        "GET",
        f"{ME}/totp/secret",
        "The pending enrolment's secret (to type in by hand)",
        TAG_MFA,
        _wso2(200, {"type": "object", "required": ["secret"], "properties": {"secret": _STRING}}),
        security=USER_BEARER,
    ),
    Operation(
        "GET",
        f"{ME}/totp/qr-code",
        "The enrolment QR code as an image (SVG by default, PNG by ?format=png or Accept)",
        TAG_MFA,
        {
            200: {
                "description": "The QR code",
                "content": {
                    "image/svg+xml": {"schema": _STRING},
                    "image/png": {"schema": {"type": "string", "format": "binary"}},
                },
            }
        },
        "wso2",
        (400, 401, 403, 406),
        security=USER_BEARER,
        parameters=[query("format", "svg or png", {"type": "string", "enum": ["svg", "png"]})],
    ),
    Operation(
        "GET",
        f"{ME}/backup-codes",
        "How many backup codes remain",
        TAG_MFA,
        _wso2(
            200,
            {
                "type": "object",
                "required": ["remainingBackupCodesCount"],
                "properties": {"remainingBackupCodesCount": {"type": "integer"}},
            },
        ),
        security=USER_BEARER,
    ),
    Operation(
        "POST",
        f"{ME}/backup-codes",
        "A new set of backup codes (shown once; replaces the old set)",
        TAG_MFA,
        _wso2(
            200,
            {
                "type": "object",
                "required": ["backupCodes"],
                "properties": {"backupCodes": {"type": "array", "items": _STRING}},
            },
        ),
        "wso2",
        (400, 401, 403, 413, 429),
        security=USER_BEARER,
    ),
    Operation("DELETE", f"{ME}/backup-codes", "Remove the backup codes", TAG_MFA, _EMPTY_200, security=USER_BEARER),
    Operation(
        "GET",
        f"{ME}/mfa/authenticators",
        "The user's enabled authenticators (comma-separated)",
        TAG_MFA,
        _wso2(
            200,
            {"type": "object", "required": ["enabledAuthenticators"], "properties": {"enabledAuthenticators": _STRING}},
        ),
        security=USER_BEARER,
    ),
    Operation(
        "POST",
        f"{ME}/mfa/authenticators",
        "Choose the enabled authenticators",
        TAG_MFA,
        _wso2(
            200,
            {"type": "object", "required": ["enabledAuthenticators"], "properties": {"enabledAuthenticators": _STRING}},
        ),
        "wso2",
        (400, 401, 403, 413, 415),
        security=USER_BEARER,
        request=body(AuthenticatorsRequest, required=False, example={"enabledAuthenticators": "TOTP,BackupCode"}),
    ),
    Operation(
        "GET",
        f"{ME}/security",
        "Security overview: password, sessions, recent alerts, e-mail, MFA",
        TAG_SECURITY,
        _wso2(200, ref("SecurityOverview")),
    ),
    Operation(
        "GET",
        f"{ME}/security-events",
        "The caller's security history, newest first",
        TAG_SECURITY,
        _wso2(200, ref("SecurityEvents")),
        parameters=[
            query("limit", "1..100 (default 20)", {"type": "integer"}),
            query("offset", "Skip this many", {"type": "integer"}),
            query("cursor", "nextCursor of the previous page"),
            query("kind", "Event kinds or families, comma-separated or repeated"),
            query("since", "ISO-8601 or epoch milliseconds"),
            query("until", "ISO-8601 or epoch milliseconds"),
        ],
    ),
    Operation(
        "GET",
        f"{ME}/email-change",
        "The pending e-mail change (404 EVU-10003 when none)",
        TAG_EMAIL,
        _wso2(200, ref("PendingEmailChange")),
    ),
    Operation(
        "DELETE",
        f"{ME}/email-change",
        "Cancel the pending e-mail change",
        TAG_EMAIL,
        _wso2(204, description="Cancelled (or nothing was pending)"),
    ),
    Operation(
        "POST",
        "/api/identity/user/v1.0/validate-code",
        (
            "Confirm an e-mail change, or a new account's address (an administrator's verifyEmail, or a"
            " self-registration the tenant confirms), with the mailed code (18001 invalid or used, 18002"
            " expired)"
        ),
        TAG_EMAIL,
        _wso2(202, description="Confirmed"),
        "wso2",
        (400, 409, 413, 415),
        security=NONE,
        request=body(CodeRequest, example={"code": "5kQp8Z", "properties": []}),
    ),
    Operation(
        "POST",
        "/api/identity/user/v1.0/me/validate-code",
        "Confirm the caller's e-mail change with the mailed code",
        TAG_EMAIL,
        _wso2(202, description="Confirmed"),
        "wso2",
        (400, 401, 403, 409, 413, 415, 429),
        request=body(CodeRequest),
    ),
    Operation(
        "POST",
        "/api/identity/user/v1.0/me/resend-code",
        "A new code for the pending e-mail change",
        TAG_EMAIL,
        _wso2(201, description="Sent"),
        "wso2",
        (400, 401, 403, 409, 413, 415, 429),
        request=body(
            ResendRequest,
            example={"properties": [{"key": "RecoveryScenario", "value": "EMAIL_VERIFICATION_ON_UPDATE"}]},
        ),
    ),
    Operation(
        "POST",
        "/api/identity/user/v1.0/resend-code",
        (
            "Mail a new confirmation code to a new account held until its address is confirmed (created by an"
            " administrator with verifyEmail, or self-registered) (the previous code stops working; a fresh"
            " lifetime starts). RecoveryScenario EMAIL_VERIFICATION or"
            " SELF_SIGN_UP, or none, as on WSO2; any other is 400 UMG-10000, as is a malformed body or a realm"
            " other than PRIMARY. 201 with no body for every username, whether it exists, waits for"
            " confirmation or not (WSO2 answers 400 for the last two: scim-me tells an anonymous caller"
            " nothing). 429 UAR-60001 with Retry-After past the recovery mail limits, per account and per"
            " client IP"
        ),
        TAG_EMAIL,
        _wso2(201, description="Accepted (mailed only to an account that waits for confirmation)"),
        "wso2",
        (400, 413, 415, 429),
        security=NONE,
        request=body(
            AccountResendRequest,
            example={
                "user": {"username": "kim", "realm": "PRIMARY"},
                "properties": [{"key": "RecoveryScenario", "value": "EMAIL_VERIFICATION"}],
            },
        ),
    ),
    Operation(
        "POST",
        "/accountrecoveryendpoint/confirm-email/resend",
        (
            "The sign-in page's button for an account waiting for its address to be confirmed (shown after its"
            " right password): the resend-code service, then 303 back to the authorization request"
        ),
        TAG_EMAIL,
        {200: html("Sent (or nothing to send: the same page)"), 303: redirect("Back to the sign-in page")},
        "html",
        (400, 429),
        security=NONE,
        request=body(
            {"type": "object", "properties": {"csrf_token": _STRING, "username": _STRING}}, (FORM,), required=False
        ),
    ),
    Operation(
        "GET",
        "/accountrecoveryendpoint/confirm-email",
        "The page the verification mail links to (the code stays in the URL fragment)",
        TAG_EMAIL,
        {200: html()},
        "html",
        (),
        security=NONE,
    ),
    Operation(
        "POST",
        "/accountrecoveryendpoint/confirm-email",
        "The page's confirm button",
        TAG_EMAIL,
        {200: html("Confirmed")},
        "html",
        (400,),
        security=NONE,
        request=body({"type": "object", "properties": {"code": _STRING}}, (FORM,), required=False),
    ),
    Operation(
        "GET",
        f"{ME}/sessions",
        "The caller's live sign-in sessions",
        TAG_PRIVACY,
        _wso2(200, ref("Sessions")),
        "wso2",
        (401, 403, 429, 501),
        parameters=[query(name, "Not supported (501)") for name in ("limit", "offset", "filter", "sort")],
    ),
    Operation(
        "DELETE",
        f"{ME}/sessions",
        "End every session but the current one (includeCurrent=true: all)",
        TAG_PRIVACY,
        _wso2(204, description="Ended"),
        "wso2",
        (400, 401, 403, 429),
        parameters=[query("includeCurrent", "true or false", {"type": "string", "enum": ["true", "false"]})],
    ),
    Operation(
        "DELETE",
        f"{ME}/sessions/{{session_id}}",
        "End one session (its tokens stop working at once)",
        TAG_PRIVACY,
        _wso2(204, description="Ended"),
        "wso2",
        (400, 401, 403, 429),
        parameters=[path_param("session_id", "A session id from the list")],
    ),
    Operation(
        "GET",
        f"{ME}/authorized-apps",
        "The applications the user authorized (v1 shape)",
        TAG_PRIVACY,
        _wso2(200, {"type": "array", "items": ref("AuthorizedAppV1")}),
        "wso2",
        (401, 403, 429),
    ),
    Operation(
        "DELETE",
        f"{ME}/authorized-apps",
        "Revoke every authorized application",
        TAG_PRIVACY,
        _wso2(204, description="Revoked"),
        "wso2",
        (401, 403, 429),
    ),
    Operation(
        "GET",
        f"{ME}/authorized-apps/{{application_id}}",
        "One authorized application (v1 shape)",
        TAG_PRIVACY,
        _wso2(200, ref("AuthorizedAppV1")),
        "wso2",
        (401, 403, 429),
        parameters=[_APP_ID],
    ),
    Operation(
        "DELETE",
        f"{ME}/authorized-apps/{{application_id}}",
        "Revoke one application: its tokens end on every worker and its consent is forgotten",
        TAG_PRIVACY,
        _wso2(204, description="Revoked"),
        "wso2",
        (401, 403, 429),
        parameters=[_APP_ID],
    ),
    Operation(
        "GET",
        "/api/users/v2/me/authorized-apps",
        "The applications the user authorized (v2 shape)",
        TAG_PRIVACY,
        _wso2(200, {"type": "array", "items": ref("AuthorizedAppV2")}),
        "wso2",
        (401, 403, 429),
    ),
    Operation(
        "DELETE",
        "/api/users/v2/me/authorized-apps",
        "Revoke every authorized application",
        TAG_PRIVACY,
        _wso2(204, description="Revoked"),
        "wso2",
        (401, 403, 429),
        operation_id="deleteApiUsersV2MeAuthorizedAppsAll",
    ),
    Operation(
        "GET",
        "/api/users/v2/me/authorized-apps/{application_id}",
        "One authorized application (v2 shape)",
        TAG_PRIVACY,
        _wso2(200, ref("AuthorizedAppV2")),
        "wso2",
        (401, 403, 429),
        parameters=[path_param("application_id", "The application's client_id")],
    ),
    Operation(
        "DELETE",
        "/api/users/v2/me/authorized-apps/{application_id}",
        "Revoke one application",
        TAG_PRIVACY,
        _wso2(204, description="Revoked"),
        "wso2",
        (401, 403, 429),
        parameters=[path_param("application_id", "The application's client_id")],
    ),
    Operation(
        "GET",
        "/api/identity/user/v1.0/me",
        "Complete data export (profile, receipts, sessions, apps, security events, ...)",
        TAG_PRIVACY,
        {
            200: {
                "description": "The export (a file download with ?download=true)",
                "content": {"application/json": {"schema": ref("DataExport")}},
            }
        },
        "wso2",
        (400, 401, 403, 429),
        parameters=[query("download", "true: as an attachment", {"type": "string", "enum": ["true", "false"]})],
    ),
]

__all__ = ["OPERATIONS", "USER", "schemas"]

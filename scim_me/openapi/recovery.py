"""WSO2's account recovery API (``/api/users/v2/recovery``: password and username flows) and the
recovery pages under ``/accountrecoveryendpoint``. Request bodies are the endpoints' own
marshmallow schemas."""

from __future__ import annotations

from typing import Any

from scim_me.api.recovery import ConfirmRequest
from scim_me.api.recovery import InitRequest
from scim_me.api.recovery import RecoverRequest
from scim_me.api.recovery import ResendRequest
from scim_me.api.recovery import ResetRequest
from scim_me.openapi.spec import FORM
from scim_me.openapi.spec import NONE
from scim_me.openapi.spec import Operation
from scim_me.openapi.spec import Security
from scim_me.openapi.spec import body
from scim_me.openapi.spec import html
from scim_me.openapi.spec import ok
from scim_me.openapi.spec import redirect
from scim_me.openapi.spec import ref

TAG = "Account recovery"
BASE = "/api/users/v2/recovery"
# Anonymous by default; a tenant may require an application token with internal_user_recovery_create.
RECOVERY_SECURITY: Security = ({}, {"bearer": []}, {"oauth2": ["internal_user_recovery_create"]})
_STRING = {"type": "string"}
_LINKS = {
    "type": "array",
    "items": {"type": "object", "properties": {"rel": _STRING, "href": _STRING, "type": _STRING}},
}


def schemas() -> dict[str, Any]:
    return {
        "RecoveryChannels": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["mode", "channelInfo", "links"],
                "properties": {
                    "mode": _STRING,
                    "flowConfirmationCode": _STRING,
                    "channelInfo": {
                        "type": "object",
                        "properties": {
                            "recoveryCode": _STRING,
                            "channels": {"type": "array", "items": {"type": "object"}},
                        },
                    },
                    "links": _LINKS,
                },
            },
        },
        "RecoveryNotified": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": _STRING,
                "message": _STRING,
                "flowConfirmationCode": _STRING,
                "notificationChannel": _STRING,
                "resendCode": _STRING,
                "links": _LINKS,
            },
        },
        "RecoveryConfirmed": {
            "type": "object",
            "required": ["resetCode"],
            "properties": {"resetCode": _STRING, "links": _LINKS},
        },
        "RecoveryDone": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {"code": _STRING, "message": _STRING},
        },
    }


_ERRORS = (400, 401, 403, 406, 412, 413, 415, 429)
_INIT_EXAMPLE = {"claims": [{"uri": "http://wso2.org/claims/username", "value": "kim"}], "properties": []}


def _api(path: str, summary: str, responses: dict[int, Any], request: Any, example: Any = None) -> Operation:
    more = {"example": example} if example is not None else {}
    return Operation(
        "POST", f"{BASE}/{path}", summary, TAG, responses, "wso2", _ERRORS, security=RECOVERY_SECURITY,
        request=body(request, **more),
    )  # fmt: skip


def _page(path: str, summary: str) -> list[Operation]:
    form = body({"type": "object", "additionalProperties": {"type": "string"}}, (FORM,), required=False)
    responses = {200: html(), 302: redirect("On to the next step")}
    return [
        Operation("GET", path, summary, TAG, responses, "html", (400, 401, 429), security=NONE),
        Operation("POST", path, summary + " (its form)", TAG, responses, "html", (400, 401, 429), security=NONE,
                  request=form, operation_id="post" + path.replace("/", "_").replace(".", "_").replace("-", "_")),
    ]  # fmt: skip


OPERATIONS = [
    _api("password/init", "Start a password recovery: the user's channels", {200: ok(ref("RecoveryChannels"))},
         InitRequest, _INIT_EXAMPLE),
    _api("username/init", "Start a username recovery", {200: ok(ref("RecoveryChannels"))}, InitRequest,
         {"claims": [{"uri": "http://wso2.org/claims/emailaddress", "value": "kim@example.com"}]}),
    _api("password/recover", "Send the code through the chosen channel", {202: ok(ref("RecoveryNotified"))},
         RecoverRequest),
    _api("password/resend", "Send a new code", {202: ok(ref("RecoveryNotified"))}, ResendRequest),
    _api("password/confirm", "Confirm the mailed code: a reset code", {200: ok(ref("RecoveryConfirmed"))},
         ConfirmRequest),
    _api("password/reset", "Set the new password (412 with a new resetCode when the policy refuses it)",
         {200: ok(ref("RecoveryDone"))}, ResetRequest),
    _api("username/recover", "Mail the username", {202: ok(ref("RecoveryNotified"))}, RecoverRequest),
    *_page("/accountrecoveryendpoint/recoverpassword.do", "The password recovery page"),
    *_page("/accountrecoveryendpoint/recoverusername.do", "The username recovery page"),
    *_page("/accountrecoveryendpoint/password-reset", "The page an administrator's forced-reset mail links to"),
]  # fmt: skip

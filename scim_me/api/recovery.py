"""WSO2's user account recovery API v2 (``/api/users/v2/recovery/...``, bare and under
``/t/{tenant}/``): the calls a business app makes to build its own "forgot password" and "forgot
username" pages. Paths, bodies, status codes and error codes follow WSO2's definition
(identity-api-user ``org.wso2.carbon.identity.rest.api.user.recovery.v1``; docs-is
``user-account-recovery.yaml``); what scim-me decided where WSO2 leaves room is in
docs/account-recovery.md. The logic is ``services/recovery.py``, shared with the sign-in page.

Callers authenticate as the tenant says (``recovery_api_auth``): ``client`` (default, WSO2's
``internal_user_recovery_create`` scope on a bearer token, e.g. the app's client-credentials
token) or ``anonymous``.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint
from flask import Response
from flask import g
from marshmallow import fields

from scim_me.core.recovery import ClaimsError
from scim_me.core.recovery import read_claims
from scim_me.errors import PWR
from scim_me.errors import UAR
from scim_me.errors import UNR
from scim_me.errors import ApiError
from scim_me.errors import ApiErrorKind
from scim_me.errors import ScimError
from scim_me.errors import reason
from scim_me.services import recovery
from scim_me.services.recovery import CHANNEL_ID
from scim_me.services.recovery import RecoveryRefused
from scim_me.storage import recovery_flows as flows
from scim_me.storage.events import Actor
from scim_me.storage.tenants import TenantRecord
from scim_me.web.bodies import Body
from scim_me.web.bodies import StrictString
from scim_me.web.bodies import Wso2Body
from scim_me.web.bodies import messages
from scim_me.web.bodies import read_body
from scim_me.web.context import request_actor
from scim_me.web.context import require_tenant
from scim_me.web.context import settings
from scim_me.web.guards import authenticate
from scim_me.web.guards import require_scope
from scim_me.web.rest import json_response

bp = Blueprint("recovery", __name__)

RECOVERY_SCOPE = "internal_user_recovery_create"
BASE = "/api/users/v2/recovery"

_CLAIMS = "claims is required: a list of {{uri, value}} objects."
_PROPERTIES = "properties must be a list of {{key, value}} objects."


class InitRequest(Body):
    not_an_object = _CLAIMS.format()

    claims = fields.List(fields.Dict(error_messages=messages(_CLAIMS)), required=True, error_messages=messages(_CLAIMS))
    properties = fields.List(fields.Raw(), load_default=list, error_messages=messages(_PROPERTIES))


def _required(name: str) -> StrictString:
    text = f"{name} is required and must be a non-empty string."
    return StrictString(required=True, error_messages=messages(text))


class RecoverRequest(Body):
    not_an_object = "recoveryCode and channelId are required."

    recoveryCode = _required("recoveryCode")
    channelId = _required("channelId")
    properties = fields.List(fields.Raw(), load_default=list, error_messages=messages(_PROPERTIES))


class ResendRequest(Body):
    not_an_object = "resendCode is required."

    resendCode = _required("resendCode")
    properties = fields.List(fields.Raw(), load_default=list, error_messages=messages(_PROPERTIES))


class ConfirmRequest(Body):
    not_an_object = "confirmationCode and otp are required."

    confirmationCode = _required("confirmationCode")
    otp = _required("otp")
    properties = fields.List(fields.Raw(), load_default=list, error_messages=messages(_PROPERTIES))


class ResetRequest(Body):
    not_an_object = "resetCode and password are required."

    resetCode = _required("resetCode")
    password = _required("password")
    flowConfirmationCode = StrictString(
        load_default=None, error_messages=messages("flowConfirmationCode must be a string.")
    )
    properties = fields.List(fields.Raw(), load_default=list, error_messages=messages(_PROPERTIES))


# Bad bodies, as WSO2's definition answers each call (400).
_INIT_BODY = Wso2Body(UAR.kind("10001"))
_PASSWORD_BODY = Wso2Body(PWR.kind("10001"))
_RESEND_BODY = Wso2Body(UAR.kind("10001"))
_USERNAME_BODY = Wso2Body(UNR.kind("10001"))

_PASSWORD_OFF = PWR.kind("10004", "Forbidden", 403)
_USERNAME_OFF = UNR.kind("10001", "Forbidden", 403)

# RecoveryRefused.reason → WSO2's code (IdentityRecoveryConstants) and status (RecoveryUtil's
# client-error map: invalid and expired codes 406, no user 404, policy 412).
_REFUSALS: dict[str, ApiErrorKind] = {
    "unknown_user": UAR.kind("10002", "Not Found", 404),
    "no_channel": UAR.kind("10003", "Not Found", 404),
    "invalid_recovery_code": UAR.kind("10001", "Not Acceptable", 406),
    "expired_recovery_code": UAR.kind("10013", "Not Acceptable", 406),
    "invalid_channel": UAR.kind("10004", "Bad Request", 400),
    "invalid_resend_code": UAR.kind("10012", "Not Acceptable", 406),
    "invalid_flow": UAR.kind("10015", "Not Acceptable", 406),
    "expired_flow": UAR.kind("10016", "Not Acceptable", 406),
    "invalid_code": UAR.kind("10001", "Not Acceptable", 406),
    "invalid_reset_code": UAR.kind("10001", "Not Acceptable", 406),
    "expired_reset_code": UAR.kind("10013", "Not Acceptable", 406),
    # scim-me's own (WSO2 has no rate limit here): 429 with Retry-After.
    "throttled": UAR.kind("60001", "Too Many Requests", 429),
}


class RetryError(ApiError):
    """412 for a password the policy refuses: the ``resetCode`` stays valid and is returned with
    the next call (WSO2's ``RetryErrorResponse``)."""

    def __init__(self, description: str, code: str, reset_code: str, link: dict[str, str]) -> None:
        super().__init__(description, status=412, code=code, message="Retry")
        self.reset_code = reset_code
        self.link = link

    def to_dict(self, trace_id: str | None = None) -> dict[str, Any]:
        return {**super().to_dict(trace_id), "resetCode": self.reset_code, "links": [self.link]}


def _refused(exc: RecoveryRefused) -> ApiError:
    kind = _REFUSALS[exc.reason]
    headers = {"Retry-After": str(exc.retry_after)} if exc.retry_after else None
    return kind(exc.detail, headers=headers)


def _tenant(enabled_flag: str, off: ApiErrorKind) -> TenantRecord:
    tenant = require_tenant(UAR.code("10005"))
    if tenant.settings.recovery_api_auth != "anonymous":
        try:
            principal = authenticate(tenant, allow_basic=False)
            require_scope(principal, RECOVERY_SCOPE)
        except ScimError as exc:  # 401 / 403, answered in this API's dialect (scim-me's 6xxxx numbers)
            raise UAR.error(
                f"60{exc.status}",
                exc.detail,
                status=exc.status,
                message=reason(exc.status),
                headers=exc.headers,
            ) from exc
    if not getattr(tenant.settings, enabled_flag):
        what = "Password" if enabled_flag == "password_recovery" else "Username"
        raise off(f"{what} recovery is not enabled.")
    return tenant


def _caller() -> Actor:
    principal = g.get("principal")
    return request_actor(principal.client_id if principal is not None else None)


def _link(tenant: TenantRecord, rel: str, step: str) -> dict[str, str]:
    return {"rel": rel, "href": f"/t/{tenant.name}{BASE}/{step}", "type": "POST"}


def _init(kind: str) -> Response:
    flag, off = ("password_recovery", _PASSWORD_OFF) if kind == flows.PASSWORD else ("username_recovery", _USERNAME_OFF)
    tenant = _tenant(flag, off)
    body = read_body(InitRequest(), _INIT_BODY)
    try:
        identifier = read_claims(body["claims"], want_email=kind == flows.USERNAME)
    except ClaimsError as exc:
        raise _INIT_BODY.error(str(exc)) from exc
    try:
        started = recovery.start(settings(), tenant, identifier, kind, _caller())
    except RecoveryRefused as exc:
        raise _refused(exc) from exc
    entry: dict[str, Any] = {"mode": "recoverWithNotifications"}
    if started.flow_code is not None:
        entry["flowConfirmationCode"] = started.flow_code
    entry["channelInfo"] = {
        "recoveryCode": started.recovery_code,
        "channels": [{"id": CHANNEL_ID, "type": "EMAIL", "value": started.channel_value, "preferred": True}],
    }
    entry["links"] = [_link(tenant, "next", f"{kind}/recover")]
    return json_response([entry])


@bp.post(f"{BASE}/password/init")
def password_init() -> Response:
    return _init(flows.PASSWORD)


@bp.post(f"{BASE}/username/init")
def username_init() -> Response:
    return _init(flows.USERNAME)


@bp.post(f"{BASE}/password/recover")
def password_recover() -> Response:
    tenant = _tenant("password_recovery", _PASSWORD_OFF)
    body = read_body(RecoverRequest(), _PASSWORD_BODY)
    try:
        notified = recovery.send(settings(), tenant, body["recoveryCode"], body["channelId"], flows.PASSWORD, _caller())
    except RecoveryRefused as exc:
        raise _refused(exc) from exc
    assert notified is not None
    return _notified(
        tenant, notified, "PWR-02001", "Password recovery information sent via user preferred notification channel."
    )


@bp.post(f"{BASE}/password/resend")
def password_resend() -> Response:
    tenant = _tenant("password_recovery", _PASSWORD_OFF)
    body = read_body(ResendRequest(), _RESEND_BODY)
    try:
        notified = recovery.resend(settings(), tenant, body["resendCode"], _caller())
    except RecoveryRefused as exc:
        raise _refused(exc) from exc
    return _notified(tenant, notified, "UAR-02001", "Confirmation code resent to the user.")


def _notified(tenant: TenantRecord, notified: recovery.Notified, code: str, message: str) -> Response:
    payload = {
        "code": code,
        "message": message,
        "flowConfirmationCode": notified.flow_code,
        "notificationChannel": "EMAIL",
        "resendCode": notified.resend_code,
        "links": [_link(tenant, "next", "password/confirm"), _link(tenant, "resend", "password/resend")],
    }
    return json_response(payload, status=202)


@bp.post(f"{BASE}/password/confirm")
def password_confirm() -> Response:
    tenant = _tenant("password_recovery", _PASSWORD_OFF)
    body = read_body(ConfirmRequest(), _PASSWORD_BODY)
    try:
        reset_code = recovery.confirm(settings(), tenant, body["confirmationCode"], body["otp"], _caller())
    except RecoveryRefused as exc:
        raise _refused(exc) from exc
    return json_response({"resetCode": reset_code, "links": [_link(tenant, "next", "password/reset")]})


@bp.post(f"{BASE}/password/reset")
def password_reset() -> Response:
    tenant = _tenant("password_recovery", _PASSWORD_OFF)
    body = read_body(ResetRequest(), _PASSWORD_BODY)
    try:
        recovery.reset(
            settings(),
            tenant,
            body["resetCode"],
            body["password"],
            _caller(),
            flow_code=body["flowConfirmationCode"],
        )
    except RecoveryRefused as exc:
        if exc.reason in ("policy", "history"):
            code = PWR.code("10005" if exc.reason == "history" else "10006")
            raise RetryError(exc.detail, code, body["resetCode"], _link(tenant, "next", "password/reset")) from exc
        raise _refused(exc) from exc
    return json_response({"code": "PWR-02005", "message": "Successful password reset."})


@bp.post(f"{BASE}/username/recover")
def username_recover() -> Response:
    tenant = _tenant("username_recovery", _USERNAME_OFF)
    body = read_body(RecoverRequest(), _USERNAME_BODY)
    try:
        recovery.send(settings(), tenant, body["recoveryCode"], body["channelId"], flows.USERNAME, _caller())
    except RecoveryRefused as exc:
        raise _refused(exc) from exc
    payload = {
        "code": "UNR-02001",
        "message": "Username recovery information sent via user preferred notification channel.",
        "notificationChannel": "EMAIL",
    }
    return json_response(payload, status=202)

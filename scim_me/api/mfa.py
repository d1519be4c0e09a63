"""MFA self-service on WSO2's paths (wso2-api.md §5, §6, §8), under ``/t/{tenant}`` and bare:

- ``/api/users/v1/me/totp`` GET, POST (INIT, REFRESH, VIEW, VALIDATE), DELETE;
  ``/api/users/v1/me/totp/secret`` GET;
- ``/api/users/v1/me/totp/qr-code`` GET (beyond WSO2: the QR code as SVG or PNG, chosen by
  ``Accept`` or ``?format=svg|png``, so an app needs no QR library);
- ``/api/users/v1/me/backup-codes`` GET, POST, DELETE;
- ``/api/users/v1/me/mfa/authenticators`` GET, POST.

Scope ``internal_login``. HTTP Basic is refused with 403 (TOTP-10005 / BCA-10005), except for
VALIDATE, as WSO2 does. Errors are WSO2's ``{code, message, description, traceId}``; bad input is
a 400 with a message saying what is wrong (WSO2 answers a missing code with 505).
Status codes follow WSO2's implementation, not its spec (INIT and backup-code POST are 200).
"""

from __future__ import annotations

import io
import re
from typing import Any

import segno
from flask import Blueprint
from flask import Response
from flask import request
from marshmallow import fields
from marshmallow import validate

from scim_me.auth import mfa
from scim_me.auth import passkeys
from scim_me.core import otp
from scim_me.core.schemas import WSO2_URN
from scim_me.errors import BCA
from scim_me.errors import MFA
from scim_me.errors import TOTP
from scim_me.errors import ApiError
from scim_me.errors import Wso2Family
from scim_me.storage import mfa as store
from scim_me.storage.caller import UserFacts
from scim_me.storage.events import Actor
from scim_me.storage.tenants import TenantRecord
from scim_me.storage.users import StoredUser
from scim_me.web.bodies import Body
from scim_me.web.bodies import StrictString
from scim_me.web.bodies import Wso2Body
from scim_me.web.bodies import load
from scim_me.web.bodies import messages
from scim_me.web.bodies import read_body
from scim_me.web.bodies import read_json
from scim_me.web.context import request_actor
from scim_me.web.context import settings
from scim_me.web.guards import sends_basic
from scim_me.web.principal import Principal
from scim_me.web.rest import factor_caller
from scim_me.web.rest import json_response
from scim_me.web.rest import require_factor_step_up
from scim_me.web.sections import register_export_section
from scim_me.web.sections import register_overview_section
from scim_me.web.sections import register_user_attributes

bp = Blueprint("mfa", __name__)

ME = "/api/users/v1/me"
ACTIONS = ("INIT", "REFRESH", "VIEW", "VALIDATE")
_AUTHENTICATOR = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
MAX_AUTHENTICATORS = 16


def _body_dialect(family: Wso2Family, members: dict[str, tuple[str, str]] | None = None) -> Wso2Body:
    """``-10008`` for a body that is not a JSON object; a member may carry its own code. These
    APIs have always read bodies whatever their Content-Type, and an empty body is ``{}``."""
    kinds = {name: family.kind(number, message) for name, (number, message) in (members or {}).items()}
    return Wso2Body(family.kind("10008"), kinds, check_type=False)


_ACTION_REQUIRED = f"'action' is required: one of {', '.join(ACTIONS)}."
_ACTION_INVALID = "'action' must be one of {choices}; got {input!r}."


class TotpRequest(Body):
    action = StrictString(
        required=True,
        validate=validate.OneOf(ACTIONS, error=_ACTION_INVALID),
        error_messages={
            "required": _ACTION_REQUIRED,
            "null": _ACTION_REQUIRED,
            "invalid": _ACTION_INVALID.replace("{choices}", ", ".join(ACTIONS)),
        },
    )
    # Only VALIDATE needs it; otp.normalize_code owns what a code may look like (string or number).
    verificationCode = fields.Raw(allow_none=True)


class AuthenticatorsRequest(Body):
    enabledAuthenticators = StrictString(
        required=True, error_messages=messages("'enabledAuthenticators' must be a comma-separated string.")
    )


_TOTP_BODY = _body_dialect(TOTP, {"action": ("10002", "Invalid action.")})
_BCA_BODY = _body_dialect(BCA)
_MFA_BODY = _body_dialect(MFA, {"enabledAuthenticators": ("10002", "Bad Request")})


def _ctx(principal: Principal) -> Actor:
    return request_actor(principal.client_id)


def _empty() -> Response:
    # WSO2 answers DELETE with 200 and an empty body.
    return Response(b"", status=200)


def _uri(tenant: TenantRecord, user: StoredUser, secret: str) -> str:
    return mfa.provisioning_uri(settings(), tenant.name, user.user_name, secret)


# -- TOTP -----------------------------------------------------------------------------------------


@bp.get(f"{ME}/totp")
def get_totp() -> Response:
    tenant, user, _principal = factor_caller(TOTP)
    secret = mfa.pending_secret(settings(), tenant.id, user.id, fresh=False)
    return json_response({"qrCodeUrl": otp.qr_code_url(_uri(tenant, user, secret))})


@bp.post(f"{ME}/totp")
def post_totp() -> Response:
    # WSO2 lets HTTP Basic through for VALIDATE only, so for Basic the action is read first; a
    # bearer caller is authenticated before the body is looked at.
    basic = sends_basic()
    validating = False
    if basic:
        raw = read_json(_TOTP_BODY, optional=True)
        load(Body(), raw, _TOTP_BODY)  # an object, or -10008 before anything else
        validating = isinstance(raw, dict) and raw.get("action") == "VALIDATE"
    tenant, user, principal = factor_caller(TOTP, allow_basic=validating)
    body = read_body(TotpRequest(), _TOTP_BODY, optional=True)
    return _totp_action(tenant, user, principal, body, body["action"])


def _totp_action(
    tenant: TenantRecord, user: StoredUser, principal: Principal, body: dict[str, Any], action: str
) -> Response:
    s = settings()
    if action in ("INIT", "REFRESH", "VIEW"):
        secret = mfa.pending_secret(s, tenant.id, user.id, fresh=action != "VIEW")
        return json_response({"qrCodeUrl": otp.qr_code_url(_uri(tenant, user, secret))})
    if "verificationCode" not in body:
        raise TOTP.error("10004", "VALIDATE needs 'verificationCode'.")
    try:
        code = otp.normalize_code(body["verificationCode"], s.totp_digits)
    except otp.CodeFormatError as exc:
        raise TOTP.error("10004", f"Invalid 'verificationCode': {exc}.") from exc
    verdict = mfa.validate_enrolment_or_code(s, tenant.id, user.id, code, _ctx(principal))
    if verdict.reason == "not_enrolled":
        raise TOTP.error(
            "10007", "There is no TOTP secret to validate against: start with INIT.", message="No TOTP enrolment."
        )
    if verdict.reason in ("locked", "hard_locked"):
        raise _locked(TOTP, verdict)
    return json_response({"isValid": verdict.ok})


def _locked(family: Wso2Family, verdict: mfa.Verdict) -> ApiError:
    if verdict.reason == "hard_locked":
        return family.error(
            "10006",
            "Too many wrong codes: MFA is locked until an administrator unlocks it.",
            status=429,
            message="Too Many Requests",
        )
    return family.error(
        "10006",
        f"Too many wrong codes: MFA is locked; retry in {verdict.retry_after} seconds.",
        status=429,
        message="Too Many Requests",
        headers={"Retry-After": str(verdict.retry_after)},
    )


@bp.delete(f"{ME}/totp")
def delete_totp() -> Response:
    tenant, user, principal = factor_caller(TOTP)
    require_factor_step_up(TOTP, principal)
    mfa.disable_totp(tenant.id, user.id, _ctx(principal))
    return _empty()


@bp.get(f"{ME}/totp/secret")
def get_totp_secret() -> Response:
    tenant, user, _principal = factor_caller(TOTP)
    return json_response({"secret": mfa.pending_secret(settings(), tenant.id, user.id, fresh=False)})


@bp.get(f"{ME}/totp/qr-code")
def get_totp_qr_code() -> Response:
    """The enrolment QR code as an image: SVG (default) or PNG, by ``?format=`` or ``Accept``."""
    tenant, user, _principal = factor_caller(TOTP)
    wanted = request.args.get("format")
    if wanted is None:
        best = request.accept_mimetypes.best_match(["image/svg+xml", "image/png"])
        wanted = "png" if best == "image/png" else "svg"
        if request.accept_mimetypes and best is None:
            raise TOTP.error(
                "10009", "The QR code is served as image/svg+xml or image/png.", status=406, message="Not Acceptable"
            )
    if wanted not in ("svg", "png"):
        raise TOTP.error("10009", "'format' must be 'svg' or 'png'.")
    secret = mfa.pending_secret(settings(), tenant.id, user.id, fresh=False)
    qr = segno.make(_uri(tenant, user, secret), error="m", micro=False)
    out = io.BytesIO()
    if wanted == "png":
        qr.save(out, kind="png", scale=6, border=4)
        return Response(out.getvalue(), mimetype="image/png")
    qr.save(out, kind="svg", scale=6, border=4, xmldecl=False)
    return Response(out.getvalue(), mimetype="image/svg+xml")


# -- backup codes ---------------------------------------------------------------------------------


@bp.get(f"{ME}/backup-codes")
def get_backup_codes() -> Response:
    tenant, user, _principal = factor_caller(BCA)
    return json_response({"remainingBackupCodesCount": store.get_state(tenant.id, user.id).backup_codes_remaining})


@bp.post(f"{ME}/backup-codes")
def post_backup_codes() -> Response:
    tenant, user, principal = factor_caller(BCA)
    read_body(Body(), _BCA_BODY, optional=True)  # no members, but a body must still be JSON
    require_factor_step_up(BCA, principal)  # a new set ends the old codes, which may be the user's last way in
    codes = mfa.regenerate_backup_codes(settings(), tenant.id, user.id, _ctx(principal))
    return json_response({"backupCodes": codes})


@bp.delete(f"{ME}/backup-codes")
def delete_backup_codes() -> Response:
    tenant, user, principal = factor_caller(BCA)
    require_factor_step_up(BCA, principal)
    mfa.remove_backup_codes(tenant.id, user.id, _ctx(principal))
    return _empty()


# -- enabled authenticators -----------------------------------------------------------------------


def _active_authenticators(state: store.MfaState, tenant_id: int, user_id: str) -> str:
    names = (["TOTP"] if state.totp_active else []) + (["BackupCode"] if state.backup_codes_enabled else [])
    names += ["Passkey"] if passkeys.has_passkeys(tenant_id, user_id) else []
    return ",".join(names)


@bp.get(f"{ME}/mfa/authenticators")
def get_authenticators() -> Response:
    """The user's chosen list (WSO2's ``enabledAuthenticators`` claim), or, when none was chosen,
    the authenticators the user has set up."""
    tenant, user, _principal = factor_caller(MFA)
    state = store.get_state(tenant.id, user.id)
    value = state.enabled_authenticators
    return json_response(
        {"enabledAuthenticators": value if value is not None else _active_authenticators(state, tenant.id, user.id)}
    )


@bp.post(f"{ME}/mfa/authenticators")
def post_authenticators() -> Response:
    tenant, user, principal = factor_caller(MFA)
    value = read_body(AuthenticatorsRequest(), _MFA_BODY, optional=True)["enabledAuthenticators"]
    names = [name.strip() for name in value.split(",") if name.strip()]
    if len(names) > MAX_AUTHENTICATORS or not all(_AUTHENTICATOR.match(name) for name in names):
        raise MFA.error(
            "10002",
            f"'enabledAuthenticators' is a comma-separated list of at most {MAX_AUTHENTICATORS} authenticator names.",
        )
    normalized = ",".join(dict.fromkeys(names))
    state = store.get_state(tenant.id, user.id)
    current = state.enabled_authenticators
    active = _active_authenticators(state, tenant.id, user.id)
    before = set((current if current is not None else active).split(",")) - {""}
    after = set(names) if names else set(active.split(",")) - {""}
    if before - after:
        require_factor_step_up(MFA, principal)  # an authenticator leaves the list: turning a factor off
    # An empty list clears the choice: GET reports the authenticators set up again.
    store.set_enabled_authenticators(tenant.id, user.id, normalized or None)
    if not normalized:
        normalized = active  # the choice is not what is set up: still current
    return json_response({"enabledAuthenticators": normalized})


# -- what other views show ------------------------------------------------------------------------


def _summary(tenant_id: int, user_id: str) -> dict[str, Any]:
    """MFA state for the data export and the security overview: state only, never a secret."""
    state = store.get_state(tenant_id, user_id)
    return {
        "totpEnabled": state.totp_active,
        "totpEnrolledAt": state.totp_enabled_at.isoformat() + "Z" if state.totp_enabled_at else None,
        "totpEnrolmentPending": state.totp_pending,
        "backupCodeEnabled": state.backup_codes_enabled,
        "remainingBackupCodesCount": state.backup_codes_remaining,
        "enabledAuthenticators": state.enabled_authenticators or _active_authenticators(state, tenant_id, user_id),
        "failedAttempts": state.failures,
        "lockedUntil": state.locked_until.isoformat() + "Z" if state.locked_until else None,
    }


def _scim_attributes(tenant: TenantRecord, user: StoredUser, facts: UserFacts) -> dict[str, dict[str, Any]]:
    """``urn:scim:wso2:schema`` totpEnabled / backupCodeEnabled: strings in the wso2 dialect (as
    WSO2 stores claims), booleans in rfc. Like WSO2's claims they appear once the user has set
    anything up (a user who never touched MFA has neither claim)."""
    if not facts.mfa_configured:
        return {}
    values = {"totpEnabled": facts.totp_active, "backupCodeEnabled": facts.backup_codes}
    if tenant.dialect == "wso2":
        return {WSO2_URN: {k: "true" if v else "false" for k, v in values.items()}}
    return {WSO2_URN: values}


register_export_section("mfa", _summary)
register_overview_section("mfa", lambda subject: _summary(subject.tenant.id, subject.user.id))
register_user_attributes("mfa", _scim_attributes)

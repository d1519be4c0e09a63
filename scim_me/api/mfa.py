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
import json
import re
from typing import Any

import segno
from flask import Blueprint
from flask import Response
from flask import request

from scim_me.auth import mfa
from scim_me.core import otp
from scim_me.core.schemas import WSO2_URN
from scim_me.errors import ApiError
from scim_me.errors import ScimError
from scim_me.storage import mfa as store
from scim_me.storage.caller import UserFacts
from scim_me.storage.tenants import TenantRecord
from scim_me.storage.users import StoredUser
from scim_me.storage.users import get_user
from scim_me.web.context import current_tenant
from scim_me.web.context import settings
from scim_me.web.guards import authenticate
from scim_me.web.principal import LOGIN_SCOPE
from scim_me.web.principal import Principal
from scim_me.web.sections import register_export_section
from scim_me.web.sections import register_overview_section
from scim_me.web.sections import register_user_attributes

bp = Blueprint("mfa", __name__)

ME = "/api/users/v1/me"
ACTIONS = ("INIT", "REFRESH", "VIEW", "VALIDATE")
_AUTHENTICATOR = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
MAX_AUTHENTICATORS = 16


def _error(prefix: str, number: str, status: int, message: str, description: str, **headers: str) -> ApiError:
    return ApiError(description, status=status, code=f"{prefix}-{number}", message=message, headers=headers or None)


def _caller(prefix: str, *, allow_basic: bool = False) -> tuple[TenantRecord, StoredUser, Principal]:
    """The signed-in user, or WSO2's errors: 401 ``-10001``, Basic 403 ``-10005``, scope 403."""
    tenant = current_tenant()
    scheme = request.headers.get("Authorization", "").partition(" ")[0].lower()
    if scheme == "basic" and not allow_basic:
        # Refused before the password is checked: this API is no password oracle.
        raise _error(
            prefix,
            "10005",
            403,
            "Forbidden",
            "This operation is not supported with basic authentication; use an OAuth2 bearer token.",
        )
    try:
        principal = authenticate(tenant)
    except ScimError as exc:
        raise _error(prefix, "10001", exc.status, "Access denied.", exc.detail, **exc.headers) from exc
    if LOGIN_SCOPE not in principal.scopes:
        raise _error(
            prefix,
            "10001",
            403,
            "Access denied.",
            f"The access token does not have the '{LOGIN_SCOPE}' scope.",
            **{"WWW-Authenticate": f'Bearer realm="scim-me", error="insufficient_scope", scope="{LOGIN_SCOPE}"'},
        )
    if principal.user_id is None:
        raise _error(prefix, "10001", 403, "Access denied.", "This endpoint needs a token issued to a user.")
    user = principal.user or get_user(principal.tenant.id, principal.user_id)
    if user is None:
        raise _error(prefix, "10001", 401, "Access denied.", "The token's user does not exist.")
    return principal.tenant, user, principal


def _ctx(principal: Principal) -> mfa.Context:
    return mfa.Context(
        ip=request.remote_addr or "",
        user_agent=request.headers.get("User-Agent", ""),
        client_id=principal.client_id,
        channel="api",
    )


def _json(payload: Any, status: int = 200) -> Response:
    return Response(json.dumps(payload), status=status, mimetype="application/json")


def _empty() -> Response:
    # WSO2 answers DELETE with 200 and an empty body.
    return Response(b"", status=200)


def _body(prefix: str) -> dict[str, Any]:
    if not request.get_data(cache=True):
        return {}
    try:
        body = json.loads(request.get_data(cache=True))
    except (ValueError, UnicodeDecodeError) as exc:
        raise _error(prefix, "10008", 400, "Bad Request", "The request body is not valid JSON.") from exc
    if not isinstance(body, dict):
        raise _error(prefix, "10008", 400, "Bad Request", "The request body must be a JSON object.")
    return body


def _uri(tenant: TenantRecord, user: StoredUser, secret: str) -> str:
    return mfa.provisioning_uri(settings(), tenant.name, user.user_name, secret)


# -- TOTP -----------------------------------------------------------------------------------------


@bp.get(f"{ME}/totp")
def get_totp() -> Response:
    tenant, user, _principal = _caller("TOTP")
    secret = mfa.pending_secret(settings(), tenant.id, user.id, fresh=False)
    return _json({"qrCodeUrl": otp.qr_code_url(_uri(tenant, user, secret))})


@bp.post(f"{ME}/totp")
def post_totp() -> Response:
    # WSO2 lets HTTP Basic through for VALIDATE only, so for Basic the action is read first; a
    # bearer caller is authenticated before the body is looked at.
    basic = request.headers.get("Authorization", "").partition(" ")[0].lower() == "basic"
    validate = basic and _body("TOTP").get("action") == "VALIDATE"
    tenant, user, principal = _caller("TOTP", allow_basic=validate)
    body = _body("TOTP")
    return _totp_action(tenant, user, principal, body, body.get("action"))


def _totp_action(
    tenant: TenantRecord, user: StoredUser, principal: Principal, body: dict[str, Any], action: Any
) -> Response:
    if action is None:
        raise _error("TOTP", "10002", 400, "Invalid action.", f"'action' is required: one of {', '.join(ACTIONS)}.")
    if not isinstance(action, str) or action not in ACTIONS:
        raise _error(
            "TOTP", "10002", 400, "Invalid action.", f"'action' must be one of {', '.join(ACTIONS)}; got {action!r}."
        )
    s = settings()
    if action in ("INIT", "REFRESH", "VIEW"):
        secret = mfa.pending_secret(s, tenant.id, user.id, fresh=action != "VIEW")
        return _json({"qrCodeUrl": otp.qr_code_url(_uri(tenant, user, secret))})
    if "verificationCode" not in body:
        raise _error("TOTP", "10004", 400, "Bad Request", "VALIDATE needs 'verificationCode'.")
    try:
        code = otp.normalize_code(body["verificationCode"], s.totp_digits)
    except otp.CodeFormatError as exc:
        raise _error("TOTP", "10004", 400, "Bad Request", f"Invalid 'verificationCode': {exc}.") from exc
    verdict = mfa.validate_enrolment_or_code(s, tenant.id, user.id, code, _ctx(principal))
    if verdict.reason == "not_enrolled":
        raise _error(
            "TOTP",
            "10007",
            400,
            "No TOTP enrolment.",
            "There is no TOTP secret to validate against: start with INIT.",
        )
    if verdict.reason in ("locked", "hard_locked"):
        raise _locked("TOTP", verdict)
    return _json({"isValid": verdict.ok})


def _locked(prefix: str, verdict: mfa.Verdict) -> ApiError:
    if verdict.reason == "hard_locked":
        return _error(
            prefix,
            "10006",
            429,
            "Too Many Requests",
            "Too many wrong codes: MFA is locked until an administrator unlocks it.",
        )
    return _error(
        prefix,
        "10006",
        429,
        "Too Many Requests",
        f"Too many wrong codes: MFA is locked; retry in {verdict.retry_after} seconds.",
        **{"Retry-After": str(verdict.retry_after)},
    )


@bp.delete(f"{ME}/totp")
def delete_totp() -> Response:
    tenant, user, principal = _caller("TOTP")
    mfa.disable_totp(tenant.id, user.id, _ctx(principal))
    return _empty()


@bp.get(f"{ME}/totp/secret")
def get_totp_secret() -> Response:
    tenant, user, _principal = _caller("TOTP")
    return _json({"secret": mfa.pending_secret(settings(), tenant.id, user.id, fresh=False)})


@bp.get(f"{ME}/totp/qr-code")
def get_totp_qr_code() -> Response:
    """The enrolment QR code as an image: SVG (default) or PNG, by ``?format=`` or ``Accept``."""
    tenant, user, _principal = _caller("TOTP")
    wanted = request.args.get("format")
    if wanted is None:
        best = request.accept_mimetypes.best_match(["image/svg+xml", "image/png"])
        wanted = "png" if best == "image/png" else "svg"
        if request.accept_mimetypes and best is None:
            raise _error("TOTP", "10009", 406, "Not Acceptable", "The QR code is served as image/svg+xml or image/png.")
    if wanted not in ("svg", "png"):
        raise _error("TOTP", "10009", 400, "Bad Request", "'format' must be 'svg' or 'png'.")
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
    tenant, user, _principal = _caller("BCA")
    return _json({"remainingBackupCodesCount": store.get_state(tenant.id, user.id).backup_codes_remaining})


@bp.post(f"{ME}/backup-codes")
def post_backup_codes() -> Response:
    tenant, user, principal = _caller("BCA")
    codes = mfa.regenerate_backup_codes(settings(), tenant.id, user.id, _ctx(principal))
    return _json({"backupCodes": codes})


@bp.delete(f"{ME}/backup-codes")
def delete_backup_codes() -> Response:
    tenant, user, principal = _caller("BCA")
    mfa.remove_backup_codes(tenant.id, user.id, _ctx(principal))
    return _empty()


# -- enabled authenticators -----------------------------------------------------------------------


def _active_authenticators(state: store.MfaState) -> str:
    names = (["TOTP"] if state.totp_active else []) + (["BackupCode"] if state.backup_codes_enabled else [])
    return ",".join(names)


@bp.get(f"{ME}/mfa/authenticators")
def get_authenticators() -> Response:
    """The user's chosen list (WSO2's ``enabledAuthenticators`` claim), or, when none was chosen,
    the authenticators the user has set up."""
    tenant, user, _principal = _caller("MFA")
    state = store.get_state(tenant.id, user.id)
    value = state.enabled_authenticators
    return _json({"enabledAuthenticators": value if value is not None else _active_authenticators(state)})


@bp.post(f"{ME}/mfa/authenticators")
def post_authenticators() -> Response:
    tenant, user, _principal = _caller("MFA")
    body = _body("MFA")
    value = body.get("enabledAuthenticators")
    if not isinstance(value, str):
        raise _error("MFA", "10002", 400, "Bad Request", "'enabledAuthenticators' must be a comma-separated string.")
    names = [name.strip() for name in value.split(",") if name.strip()]
    if len(names) > MAX_AUTHENTICATORS or not all(_AUTHENTICATOR.match(name) for name in names):
        raise _error(
            "MFA",
            "10002",
            400,
            "Bad Request",
            f"'enabledAuthenticators' is a comma-separated list of at most {MAX_AUTHENTICATORS} authenticator names.",
        )
    normalized = ",".join(dict.fromkeys(names))
    # An empty list clears the choice: GET reports the authenticators set up again.
    store.set_enabled_authenticators(tenant.id, user.id, normalized or None)
    if not normalized:
        normalized = _active_authenticators(store.get_state(tenant.id, user.id))
    return _json({"enabledAuthenticators": normalized})


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
        "enabledAuthenticators": state.enabled_authenticators or _active_authenticators(state),
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
register_overview_section("mfa", _summary)
register_user_attributes("mfa", _scim_attributes)

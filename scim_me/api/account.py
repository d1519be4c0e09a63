"""``POST /api/users/v1/me/change-password`` (WSO2 identity-api-user, added 2026-02): change the
caller's password with the current one, on WSO2's path and error codes (identity-api-user
``api.user.password.common.Constants.ErrorMessage``; product-is ``PasswordUpdateValidationTest``).

- 204 on success. Unless ``revokeOtherSessions`` is false (default true, as WSO2 revokes on a
  password update), every other session and grant of the user ends on every worker; the
  caller's token, its grant and its sign-in session stay.
- ``PWD-10000`` 400: no body at all (or one that is not a JSON object): "The request is missing
  required data."
- ``UE-10000`` 400: WSO2's bean validation: ``currentPassword`` or ``newPassword`` missing (``{}``
  included), null, empty or not a string; ``revokeOtherSessions`` not a boolean. The
  description names the member.
- ``PWD-10002`` 400: the new password equals the current one (checked first, as WSO2 does: no
  password hash runs, so it tells nothing about the stored password).
- ``PWD-10001`` 400: the current password is wrong. The check goes through ``verify_login`` (the
  one password check), so it counts towards the account's lockout like a failed sign-in.
- ``PWD-10003`` 400: the new password breaks the tenant's policy; the description names the rule.
- ``PWD-10004`` 429 with ``Retry-After``: password checks are locked for this account or IP; no
  hash was computed. (WSO2's 10004 is a failed pre-update action, which scim-me does not have.)
- ``PWD-10006`` 400: the user is read-only (a read-only user store, or provisioned read-only):
  WSO2's "Password update not supported".
- 401 without a bearer token (OAuth2 only, as WSO2's spec: HTTP Basic would be a second way to
  guess the current password): HTTP Basic is told so, before any password is checked; 403
  without the scope the tenant asks for.
"""

from __future__ import annotations

import hmac

from flask import Blueprint
from flask import Response
from flask import g
from flask import request
from marshmallow import validate

from scim_me.auth.credentials import must_change_password
from scim_me.auth.credentials import new_password_hash
from scim_me.auth.login import LoginThrottled
from scim_me.auth.login import lockout_policy
from scim_me.auth.login import verify_login
from scim_me.core.password_policy import PolicyViolation
from scim_me.errors import PWD
from scim_me.errors import UE
from scim_me.errors import ConflictError
from scim_me.errors import NotFoundError
from scim_me.errors import UnauthorizedError
from scim_me.services.password_state import after_password_change
from scim_me.services.read_only import is_read_only
from scim_me.storage.db import write_transaction
from scim_me.storage.users import get_user
from scim_me.storage.users import set_password_hash
from scim_me.web.bodies import Body
from scim_me.web.bodies import StrictBoolean
from scim_me.web.bodies import StrictString
from scim_me.web.bodies import Wso2Body
from scim_me.web.bodies import messages
from scim_me.web.bodies import read_body
from scim_me.web.context import current_tenant
from scim_me.web.context import settings
from scim_me.web.guards import BASIC_NOT_SUPPORTED
from scim_me.web.guards import authenticate
from scim_me.web.guards import require_scope
from scim_me.web.guards import require_user
from scim_me.web.guards import sends_basic
from scim_me.web.principal import LOGIN_SCOPE

bp = Blueprint("account", __name__)

PASSWORD_UPDATE_SCOPE = "internal_user_password_update"


def _scopes(tenant_scope: str) -> tuple[str, ...]:
    if tenant_scope == PASSWORD_UPDATE_SCOPE:
        return (PASSWORD_UPDATE_SCOPE,)
    return (LOGIN_SCOPE, PASSWORD_UPDATE_SCOPE)


_CURRENT = "currentPassword is required and must be a string."
_NEW = "newPassword is required and must be a string."


class ChangePasswordRequest(Body):
    not_an_object = "The body must be a JSON object with currentPassword and newPassword."

    currentPassword = StrictString(
        required=True, validate=validate.Length(min=1, error=_CURRENT), error_messages=messages(_CURRENT)
    )
    newPassword = StrictString(
        required=True, validate=validate.Length(min=1, error=_NEW), error_messages=messages(_NEW)
    )
    revokeOtherSessions = StrictBoolean(
        load_default=True, error_messages=messages("revokeOtherSessions must be a boolean.")
    )


# WSO2's codes and messages (identity-api-user, api.user.password.common.Constants.ErrorMessage).
_MISSING_DATA = PWD.kind("10000", "Invalid request")
_BEAN = UE.kind("10000", "Invalid Request")
# No body, or one that is not a JSON object, is PWD-10000 (400, also for another Content-Type);
# a member missing or of the wrong type is UE-10000, as WSO2's bean validation answers.
_BODY = Wso2Body(
    _MISSING_DATA,
    dict.fromkeys(("currentPassword", "newPassword", "revokeOtherSessions"), _BEAN),
    media_status=400,
)
_SAME = PWD.kind("10002", "Cannot reuse current password")
_THROTTLED = PWD.kind("10004", "Too many attempts.", 429)
_WRONG_CURRENT = PWD.kind("10001", "Invalid current password")
_POLICY = PWD.kind("10003", "Password policy violation")
_READ_ONLY = PWD.kind("10006", "Password update not supported")


@bp.post("/api/users/v1/me/change-password")
def change_password() -> Response:
    tenant = current_tenant()
    if sends_basic():
        # WSO2's spec: OAuth2 only. 401 as before, now saying why (as the TOTP API does).
        raise UnauthorizedError(BASIC_NOT_SUPPORTED, headers={"WWW-Authenticate": 'Bearer realm="scim-me"'})
    principal = authenticate(tenant, allow_basic=False)
    tenant = principal.tenant
    require_scope(principal, *_scopes(tenant.settings.change_password_scope))
    user_id = require_user(principal)
    user = principal.user or get_user(tenant.id, user_id)
    if user is None:
        raise NotFoundError("User not found in the user store.")
    body = read_body(ChangePasswordRequest(), _BODY)
    current, new, revoke = body["currentPassword"], body["newPassword"], body["revokeOtherSessions"]
    if is_read_only(tenant, user):
        raise _READ_ONLY("Password updates are not permitted for a read-only user.")
    if hmac.compare_digest(current.encode(), new.encode()):
        raise _SAME("The new password must be different from the current password.")
    params = settings().hash_params()
    try:
        proven = verify_login(
            tenant.id,
            user,
            current,
            params,
            channel="change_password",
            ip=request.remote_addr or "",
            user_agent=request.headers.get("User-Agent", ""),
            client_id=principal.client_id,
            record_success=False,
            lockout=lockout_policy(settings()),
        )
    except LoginThrottled as exc:
        raise _THROTTLED(
            "Too many failed password attempts. Try again later.", headers={"Retry-After": str(exc.retry_after)}
        ) from exc
    if proven is None:
        raise _WRONG_CURRENT("The current password provided is incorrect.")
    # An expired password may still be changed here (that is the way out); one an administrator
    # revoked may not: the reset link mailed to the user is.
    if must_change_password(settings(), tenant, user) == "forced":
        raise _WRONG_CURRENT("An administrator requires a new password: use the reset link mailed to you.")
    try:
        new_hash = new_password_hash(
            tenant, settings(), params, new, user_name=user.user_name, profile=user.profile, user=user
        )
    except PolicyViolation as exc:
        raise _POLICY(exc.detail) from exc
    # One transaction: the new hash, its history, the other sessions ended, the event and the
    # notice land together or not at all (no new password with the old sessions still alive).
    with write_transaction():
        if not set_password_hash(tenant.id, user.id, new_hash, expected=user.password_hash):
            raise ConflictError("The password was changed by another request; sign in again with the new one.")
        after_password_change(tenant, user, g.get("principal"), channel="change_password", revoke_others=revoke)
    return Response(status=204)

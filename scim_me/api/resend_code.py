"""WSO2's anonymous ``POST /api/identity/user/v1.0/resend-code`` (identity-governance
``ResendCodeApiServiceImpl``), for the one case scim-me has: a new account held until its address
is confirmed (``services/verify_email.py``), created by an administrator with ``verifyEmail`` or
self-registered while the tenant confirms registrations (``services/self_registration.py``).

``{"user": {"username", "realm"}, "properties": [{"key": "RecoveryScenario", "value": ...}]}`` →
201 with no body. The scenarios WSO2 resends this account's code for are ``EMAIL_VERIFICATION``
and ``SELF_SIGN_UP`` (its handlers store either code under the latter); with none WSO2 resends the
self sign-up confirmation, the same code. Any other scenario is 400. Whichever is named, the
account's own confirmation is resent (the self sign-up's for a self-registered account).

Unlike WSO2, which answers 400 "User recovery data is not found" for an unknown user or one with
nothing pending, the answer is 201 for every name: an anonymous caller must not learn which
accounts exist or wait for confirmation. The mails are limited per account and per client IP
(the account-recovery limits, 429 with ``Retry-After``). The body is read with the pieces of the
signed-in ``/me/resend-code`` (``web/code_requests.py``).
"""

from __future__ import annotations

from flask import Blueprint
from flask import Response
from marshmallow import fields
from marshmallow import validate

from scim_me.errors import UAR
from scim_me.services import verify_email
from scim_me.services.recovery import RecoveryRefused
from scim_me.web.bodies import Body
from scim_me.web.bodies import StrictString
from scim_me.web.bodies import messages
from scim_me.web.bodies import read_body
from scim_me.web.code_requests import BAD_REQUEST
from scim_me.web.code_requests import RESEND_BODY
from scim_me.web.code_requests import ResendRequest
from scim_me.web.code_requests import recovery_scenario
from scim_me.web.context import request_actor
from scim_me.web.context import require_tenant
from scim_me.web.context import settings

bp = Blueprint("resend_code", __name__)

# The RecoveryScenario values WSO2's resend-code serves a held new account under (or none).
SCENARIOS = ("EMAIL_VERIFICATION", "SELF_SIGN_UP")
PRIMARY = "PRIMARY"  # scim-me's one user store, as WSO2 names its primary one
_USER = "user is required: an object with a username (a non-empty string) and an optional realm."
_REALM = "user.realm must be a string."
# Over the recovery mail limits: answered as the recovery API answers them (api/recovery.py).
THROTTLED = UAR.kind("60001", "Too Many Requests", 429)


class UserRef(Body):
    """WSO2's ``User`` of this API: ``{username, realm}``."""

    error_messages = {"type": _USER}  # what marshmallow says of a user that is not an object
    username = StrictString(
        required=True, validate=validate.Regexp(r"\s*\S", error=_USER), error_messages=messages(_USER)
    )
    realm = StrictString(load_default=None, error_messages=messages(_REALM))


class AccountResendRequest(ResendRequest):
    not_an_object = _USER

    user = fields.Nested(UserRef, required=True, error_messages=messages(_USER))


@bp.post("/api/identity/user/v1.0/resend-code")
def resend_code() -> Response:
    tenant = require_tenant("UMG-10004")
    body = read_body(AccountResendRequest(), RESEND_BODY)
    scenario = recovery_scenario(body["properties"])
    if scenario is not None and scenario not in SCENARIOS:
        raise BAD_REQUEST(f"Unsupported RecoveryScenario: only {' and '.join(SCENARIOS)} are resent here.")
    realm = body["user"]["realm"]
    if realm is not None and realm.upper() != PRIMARY:
        raise BAD_REQUEST(f"Unknown realm: the only user store is {PRIMARY}.")
    try:
        verify_email.resend(settings(), tenant, body["user"]["username"].strip(), request_actor())
    except RecoveryRefused as exc:
        raise THROTTLED(exc.detail, headers={"Retry-After": str(exc.retry_after)}) from exc
    return Response(status=201)

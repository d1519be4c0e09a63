"""Verified e-mail change ("email verification on update"), the HTTP and transaction side.

The SCIM ``/Me`` write path holds and stores a change through ``services/email_change.py``; the
endpoints below redeem the code, on WSO2's paths (``api.identity.user`` v1.0, wso2-api.md §8):

- ``POST /api/identity/user/v1.0/validate-code`` ``{"code", "properties"}`` → 202: the code
  alone proves control of the new address (the link may be opened on another device, signed out);
  codes carry 192 random bits, so they cannot be guessed. It also redeems the code mailed to a
  new account held until its address is confirmed (an administrator's ``verifyEmail``, or a
  self-registration: services/verify_email.py), as WSO2's does.
- ``POST /api/identity/user/v1.0/me/validate-code`` → 202: the same for the signed-in user; the
  code must be theirs.
- ``POST /api/identity/user/v1.0/me/resend-code`` ``{"properties": [{"key": "RecoveryScenario",
  "value": "EMAIL_VERIFICATION_ON_UPDATE"}]}`` → 201: a fresh code (the old one stops working).
- ``GET|DELETE /api/users/v1/me/email-change``: the pending change (address, expiry) / cancel it.
- ``GET|POST /accountrecoveryendpoint/confirm-email``: the page the mailed link opens. The code
  sits in the link's fragment (``#code=...``), which browsers never send, so it reaches no access
  log; the page moves it into a form that is POSTed by the user's click, so a mail scanner that
  fetches links does not confirm anything.

A code works once, for ``email_change_code_lifetime`` (24 h), and only for the latest request:
a newer change request replaces the pending one.
"""

from __future__ import annotations

import logging
from datetime import datetime
from datetime import timedelta
from typing import Any

from flask import Blueprint
from flask import Response
from flask import render_template
from flask import request
from marshmallow import fields
from marshmallow import validate

from scim_me.core.email_change import apply_verified
from scim_me.core.email_change import code_digest
from scim_me.core.email_change import code_matches
from scim_me.core.email_change import key
from scim_me.core.email_change import new_code
from scim_me.core.email_change import with_pending
from scim_me.core.timestamps import iso_or_none
from scim_me.errors import EVU
from scim_me.errors import ApiError
from scim_me.errors import ConflictError
from scim_me.notify.mail import Mail
from scim_me.notify.notices import current_mailer
from scim_me.services import verify_email
from scim_me.services.email_change import check_mail_budget
from scim_me.services.email_change import client_ip
from scim_me.services.email_change import take_address_budget
from scim_me.services.email_change import user_agent
from scim_me.services.email_change import verification_mail
from scim_me.services.verify_email import EXPIRED_CODE
from scim_me.services.verify_email import INVALID_CODE
from scim_me.storage import email_changes
from scim_me.storage.db import write_transaction
from scim_me.storage.email_changes import PendingChange
from scim_me.storage.events import record_event
from scim_me.storage.tenants import TenantRecord
from scim_me.storage.users import StoredUser
from scim_me.storage.users import get_user
from scim_me.storage.users import now
from scim_me.storage.users import update_user
from scim_me.web.bodies import Body
from scim_me.web.bodies import StrictString
from scim_me.web.bodies import Wso2Body
from scim_me.web.bodies import messages
from scim_me.web.bodies import read_body
from scim_me.web.code_requests import BAD_REQUEST
from scim_me.web.code_requests import PROPERTIES
from scim_me.web.code_requests import RESEND_BODY
from scim_me.web.code_requests import ResendRequest
from scim_me.web.code_requests import recovery_scenario
from scim_me.web.context import current_tenant
from scim_me.web.context import request_actor
from scim_me.web.context import require_tenant
from scim_me.web.context import settings
from scim_me.web.guards import authenticate
from scim_me.web.guards import require_scope
from scim_me.web.guards import require_user
from scim_me.web.principal import LOGIN_SCOPE
from scim_me.web.rest import json_response

bp = Blueprint("email_verification", __name__)
log = logging.getLogger("scim_me.email_change")

SCENARIO = "EMAIL_VERIFICATION_ON_UPDATE"
_UNKNOWN_TENANT = "UMG-10004"  # the 404 code of this API family
_PAGE_HEADERS = {
    # The page's one inline script (fragment → form field) is allowed by its hash-free nonce-less
    # 'unsafe-inline'; nothing else may load, and the page cannot be framed.
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}


_CODE_REQUIRED = "A verification code (a string) is required."


class CodeRequest(Body):
    not_an_object = _CODE_REQUIRED

    code = StrictString(
        required=True, validate=validate.Regexp(r"\s*\S", error=_CODE_REQUIRED), error_messages=messages(_CODE_REQUIRED)
    )
    properties = fields.List(
        fields.Dict(error_messages=messages(PROPERTIES)), load_default=list, error_messages=messages(PROPERTIES)
    )


_BODY = Wso2Body(BAD_REQUEST, {"_schema": INVALID_CODE, "code": INVALID_CODE}, reason_messages=True)


def _invalid() -> ApiError:
    return INVALID_CODE(
        "The verification code is not valid: it is wrong, was already used, or a newer request replaced it."
    )


def _expired() -> ApiError:
    return EXPIRED_CODE("The verification code has expired; change the e-mail address again to get a new one.")


def _mask(address: str) -> str:
    local, _, domain = address.rpartition("@")
    return f"{local[:1]}***@{domain}" if local else address


def _notice_mail(tenant_name: str, user: StoredUser, pending: PendingChange, when: datetime) -> Mail | None:
    """The notice to the address the account had when the change was asked for."""
    change = pending.change
    if not change.previous or key(change.previous) == key(change.address):
        return None
    account = f"your account {user.user_name} (organization {tenant_name})"
    if change.make_primary:
        subject = "Your e-mail address was changed"
        what = (
            f"The e-mail address of {account} was changed to {_mask(change.address)}."
            " Mail for this account now goes there."
        )
    else:
        subject = "A new e-mail address was added"
        what = f"The address {_mask(change.address)} was added to {account}."
    ip = client_ip()
    text = (
        f"Hello,\n\n{what}\n\nWhen: {when:%Y-%m-%d %H:%M:%S} UTC\n"
        + (f"From IP address: {ip}\n" if ip else "")
        + "\nIf this was you, there is nothing to do.\n"
        "If it was not, someone may have access to your account: change your password now and contact"
        " your administrator.\n"
    )
    return Mail(to=change.previous, subject=subject, text=text, kind="email.changed")


# --- redeeming the code ------------------------------------------------------------------------


def _drop_expired(pending: PendingChange) -> None:
    """Forget an expired change: the row and the user's ``pendingEmails``, both or neither."""
    with write_transaction():
        if not email_changes.take(pending):
            return
        # Read under the transaction's lock (SQLite's writer lock, PostgreSQL's row lock), so
        # the compare-and-set below cannot lose to another writer.
        user = get_user(pending.tenant_id, pending.user_id, for_update=True)
        if user is not None and update_user(user, with_pending(user.profile, None)) is None:
            raise ConflictError("The user is being changed by many requests at once; retry.")


def confirm(pending: PendingChange, tenant: TenantRecord) -> StoredUser:
    """Apply ``pending`` once: the new address becomes the user's, the old one gets a notice."""
    if pending.expires_at <= now():
        _drop_expired(pending)
        raise _expired()
    stamp = now()
    with write_transaction():
        if not email_changes.take(pending):
            raise _invalid()  # a concurrent redemption, or a newer request, got there first
        user = get_user(pending.tenant_id, pending.user_id, for_update=True)  # as in _drop_expired
        if user is None:
            raise _invalid()
        updated = update_user(user, apply_verified(user.profile, pending.change))
        if updated is None:
            raise ConflictError("The user is being changed by many requests at once; retry.")
        record_event(
            tenant.id,
            user.id,
            "email.changed",
            ip=client_ip(),
            user_agent=user_agent(),
            details={"from": pending.change.previous, "to": pending.change.address},
        )
        notice = _notice_mail(tenant.name, updated, pending, stamp)
        mailer = current_mailer()
        if notice is not None and mailer is not None:
            # Queued in this transaction (the outbox): the old address hears of every change.
            mailer.send_later(notice)
    log.info("e-mail change confirmed for user %s", updated.id)
    return updated


def _code() -> str:
    return str(read_body(CodeRequest(), _BODY)["code"]).strip()


def _redeem_anonymous(tenant: TenantRecord, code: str) -> bool:
    """Redeem a mailed code: an e-mail change's (False), else a new account's confirmation of its
    address (True: an administrator's verifyEmail or a self-registration, services/verify_email.py).
    WSO2 answers both on the same endpoint."""
    if len(code) > 128:
        raise _invalid()
    pending = email_changes.find_by_code_hash(code_digest(code))
    if pending is not None and pending.tenant_id == tenant.id and code_matches(code, pending.code_hash):
        confirm(pending, tenant)
        return False
    confirmation = verify_email.find_confirmation(tenant, code)
    if confirmation is None:
        raise _invalid()
    verify_email.confirm(tenant, confirmation, request_actor())
    return True


@bp.post("/api/identity/user/v1.0/validate-code")
def validate_code() -> Response:
    tenant = require_tenant(_UNKNOWN_TENANT)
    _redeem_anonymous(tenant, _code())
    return Response(status=202)


def _me() -> tuple[TenantRecord, str]:
    principal = authenticate(current_tenant())
    require_scope(principal, LOGIN_SCOPE)
    return principal.tenant, require_user(principal)


@bp.post("/api/identity/user/v1.0/me/validate-code")
def validate_my_code() -> Response:
    tenant, user_id = _me()
    code = _code()
    pending = email_changes.find_for_user(tenant.id, user_id)
    if pending is None or not code_matches(code, pending.code_hash):
        raise _invalid()
    confirm(pending, tenant)
    return Response(status=202)


@bp.post("/api/identity/user/v1.0/me/resend-code")
def resend_code() -> Response:
    tenant, user_id = _me()
    scenario = recovery_scenario(read_body(ResendRequest(), RESEND_BODY)["properties"])
    if scenario not in (None, SCENARIO):
        raise BAD_REQUEST(f"Only the {SCENARIO} scenario is supported.")
    pending = email_changes.find_for_user(tenant.id, user_id)
    user = get_user(tenant.id, user_id)
    if pending is None or user is None or pending.expires_at <= now():
        raise EVU.error("10001", "There is no pending e-mail change to verify.")
    check_mail_budget(tenant.id, user_id, api=True)
    code = new_code()
    expires = now() + timedelta(seconds=settings().email_change_code_lifetime)
    with write_transaction():
        take_address_budget(pending.change.address, api=True)
        if not email_changes.replace_code(pending, code_digest(code), expires):
            raise EVU.error("10002", "The pending change was just replaced; try again.", status=409)
        record_event(
            tenant.id,
            user_id,
            "email.change_requested",
            ip=client_ip(),
            user_agent=user_agent(),
            details={"address": pending.change.address, "resent": True},
        )
        mail = verification_mail(tenant, user, pending.change.address, code, expires)
        mailer = current_mailer()
        if mailer is not None:
            # In this transaction: the old code dies only with the new one's mail queued.
            mailer.send_later(mail)
    return Response(status=201)


@bp.get("/api/users/v1/me/email-change")
def get_pending() -> Response:
    tenant, user_id = _me()
    pending = email_changes.find_for_user(tenant.id, user_id)
    if pending is None or pending.expires_at <= now():
        raise EVU.error("10003", "There is no pending e-mail change.", status=404, message="Not Found")
    return json_response(
        {
            "address": pending.change.address,
            "type": pending.change.email_type,
            "primary": pending.change.make_primary,
            "requestedTime": iso_or_none(pending.created_at),
            "expiryTime": iso_or_none(pending.expires_at),
        }
    )


@bp.delete("/api/users/v1/me/email-change")
def cancel_pending() -> Response:
    tenant, user_id = _me()
    pending = email_changes.find_for_user(tenant.id, user_id)
    if pending is not None:
        _drop_expired(pending)  # the same clean-up: the row and pendingEmails go
    return Response(status=204)


# --- the page the link opens ---------------------------------------------------------------------


def _page(template: str, status: int = 200, **context: Any) -> Response:
    tenant = current_tenant()
    body = render_template(template, tenant_name=tenant.name if tenant else "", **context)
    response = Response(body, status=status, mimetype="text/html")
    response.headers.update(_PAGE_HEADERS)
    return response


@bp.get("/accountrecoveryendpoint/confirm-email")
def confirm_page() -> Response:
    require_tenant(_UNKNOWN_TENANT)
    return _page("confirm_email.html")


@bp.post("/accountrecoveryendpoint/confirm-email")
def confirm_page_post() -> Response:
    tenant = require_tenant(_UNKNOWN_TENANT)
    code = (request.form.get("code") or "").strip()
    try:
        new_account = _redeem_anonymous(tenant, code)
    except ApiError as error:
        return _page("message.html", 400, heading=error.message, message=error.description)
    if new_account:
        return _page(
            "message.html",
            heading="E-mail address confirmed",
            message="Your e-mail address is confirmed: your account can now sign in.",
        )
    return _page(
        "message.html",
        heading="E-mail address confirmed",
        message="Your new e-mail address is confirmed and is now used for your account.",
    )

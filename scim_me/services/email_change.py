"""Verified e-mail change, the part the SCIM ``/Me`` write path runs: hold a new address back
until it is verified, store the pending change with its code in the write's transaction, and mail
the code once that commits. The endpoints that redeem codes live in ``api/email_verification.py``."""

from __future__ import annotations

from datetime import datetime
from datetime import timedelta
from typing import Any
from typing import NoReturn

from flask import request

from scim_me.core.email_change import RequestedChange
from scim_me.core.email_change import code_digest
from scim_me.core.email_change import hold_new_address
from scim_me.core.email_change import new_code
from scim_me.core.email_change import unverify_if_primary_changed
from scim_me.errors import EVU
from scim_me.errors import ScimError
from scim_me.notify.mail import Mail
from scim_me.notify.notices import current_mailer
from scim_me.notify.notices import tenant_url
from scim_me.services.recovery import take_address_mail_slot
from scim_me.storage import email_changes
from scim_me.storage.events import list_events
from scim_me.storage.events import record_event
from scim_me.storage.tenants import TenantRecord
from scim_me.storage.users import StoredUser
from scim_me.storage.users import now
from scim_me.web.context import settings

_MAILED = frozenset({"email.change_requested"})  # one per verification mail (requests and resends)


def client_ip() -> str:
    return request.remote_addr or ""


def user_agent() -> str:
    return request.headers.get("User-Agent", "")


def hold_email_change(
    tenant: TenantRecord, user: StoredUser, new_profile: dict[str, Any]
) -> tuple[dict[str, Any], RequestedChange | None]:
    """What a /Me write stores now, and the change that waits for verification (if any)."""
    if not tenant.settings.verify_email_on_update:
        return unverify_if_primary_changed(user.profile, new_profile), None
    held, change = hold_new_address(user.profile, new_profile)
    if change is not None:
        check_mail_budget(tenant.id, user.id)
    return held, change


class TooManyMailsError(ScimError):
    """429: this account asked for too many verification mails within the hour."""

    status = 429


def check_mail_budget(tenant_id: int, user_id: str, api: bool = False) -> None:
    """At most ``email_change_mails_per_hour`` verification mails per account and hour: a stolen
    token must not turn the server into a mail cannon against someone else's address."""
    limit = settings().email_change_mails_per_hour
    since = now() - timedelta(hours=1)
    recent = list_events(tenant_id, user_id, limit=limit, kinds=_MAILED, since=since)
    if len(recent) < limit:
        return
    wait = max(1, int((recent[-1].occurred_at + timedelta(hours=1) - now()).total_seconds()) + 1)
    _refuse(f"Too many verification mails for this account; try again in {wait} seconds.", wait, api)


def take_address_budget(address: str, api: bool = False) -> None:
    """In the transaction that queues a verification mail to ``address``: count it against the
    address, whichever account asks (services/recovery.py ``take_address_mail_slot``); past the
    limit, 429 and the transaction rolls back. The per-account budget alone lets many accounts
    take turns mailing one address."""
    wait = take_address_mail_slot(settings(), address)
    if wait:
        _refuse(f"Too many verification mails to this address; try again in {wait} seconds.", wait, api)


def _refuse(message: str, wait: int, api: bool) -> NoReturn:
    if api:
        raise EVU.error("10004", message, status=429, message="Too Many Requests", headers={"Retry-After": str(wait)})
    raise TooManyMailsError(message, headers={"Retry-After": str(wait)})


def store_email_change(tenant: TenantRecord, user: StoredUser, change: RequestedChange) -> None:
    """Inside the /Me write's transaction: replace the pending change, record the request, and mail
    the code to the new address once the transaction commits."""
    take_address_budget(change.address)
    code = new_code()
    stamp = now()
    expires = stamp + timedelta(seconds=settings().email_change_code_lifetime)
    email_changes.put_change(
        tenant.id,
        user.id,
        change,
        code_digest(code),
        created_at=stamp,
        expires_at=expires,
        ip=client_ip(),
        user_agent=user_agent(),
    )
    record_event(
        tenant.id,
        user.id,
        "email.change_requested",
        ip=client_ip(),
        user_agent=user_agent(),
        details={"address": change.address},
    )
    mail = verification_mail(tenant, user, change.address, code, expires)
    mailer = current_mailer()
    if mailer is not None:
        mailer.send_later(mail)  # the outbox row commits (or rolls back) with the change


def verification_mail(tenant: TenantRecord, user: StoredUser, address: str, code: str, expires: datetime) -> Mail:
    link = f"{tenant_url(settings(), tenant.name)}/accountrecoveryendpoint/confirm-email#code={code}"
    hours = max(1, round(settings().email_change_code_lifetime / 3600))
    text = (
        "Hello,\n\n"
        f"Someone, hopefully you, asked to use this address for the account {user.user_name}"
        f" (organization {tenant.name}).\n\n"
        f"To confirm it, open this link within {hours} hours (until {expires:%Y-%m-%d %H:%M} UTC):\n\n"
        f"{link}\n\n"
        f"or enter this code where you asked for the change:\n\nVerification code: {code}\n\n"
        "The code works once. If you did not ask for this, ignore this mail: the address will not be used.\n"
    )
    return Mail(to=address, subject="Confirm your new e-mail address", text=text, kind="email.verify")

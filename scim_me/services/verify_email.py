"""WSO2's "verify email" on user creation: an administrator's ``POST /scim2/Users`` with
``verifyEmail`` true (identity-governance ``UserEmailVerificationHandler``).

WSO2 removes the flag before the user is stored, sets ``accountState`` ``PENDING_EV``, mails an
``EmailConfirm`` confirmation code and, with ``EmailVerification.LockOnCreation`` (on by
default), locks the account with ``lockedReason`` ``PENDING_EMAIL_VERIFICATION``. Confirming the
code (``POST /api/identity/user/v1.0/validate-code``, or the mailed link's page) unlocks the
account and sets ``emailVerified`` true (``UserSelfRegistrationManager``). A new code is mailed
on request (``POST /api/identity/user/v1.0/resend-code``, or the sign-in page's button after the
right password): :func:`resend`.

Here the hold is a hard lock in the lockout table whose row says why (storage/throttle.py
``PENDING_EMAIL``), so the right password is refused on every channel as any lock does (the
password is still checked, so wrong ones count as usual and the sign-in page can tell the right
one why), and an administrator's or operator's unlock lifts it too. The code is a recovery flow
(``VERIFY_EMAIL``) holding only digests: the code's, and the address's it was mailed to, so it
confirms that address only, and only the latest one works. Creating, resending and confirming
are one transaction each.

The same machinery confirms an account registered through self-registration (``POST /scim2/Me``
with the tenant's ``self_registration_confirm`` on, services/self_registration.py), as WSO2's self
sign-up lock on creation does (identity-governance ``UserSelfRegistrationHandler`` and
``SelfRegistrationUtils.lockUserAccount``: ``accountState`` ``PENDING_SR``, ``lockedReason``
``PENDING_SELF_REGISTRATION``; the code stored as ``SELF_SIGN_UP``/``CONFIRM_SIGN_UP``). Its hold
(``PENDING_SIGN_UP``) and its flow (``SELF_SIGN_UP``) have kinds of their own, so the account
shows that state, its mails say that the user registered, and its confirmation is recorded as a
self sign-up's; everything else (lifetime, resend, the sign-in page, one code at a time) is shared.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from scim_me.config import Settings
from scim_me.core.email_change import key
from scim_me.core.recovery import code_digest
from scim_me.core.recovery import new_code
from scim_me.core.schemas import WSO2_URN
from scim_me.errors import RECOVERY
from scim_me.errors import ApiError
from scim_me.errors import ConflictError
from scim_me.notify.mail import Mail
from scim_me.notify.notices import current_mailer
from scim_me.notify.notices import primary_email
from scim_me.notify.notices import tenant_url
from scim_me.services.recovery import account_window
from scim_me.services.recovery import take_address_mail_slot
from scim_me.services.recovery import take_mail_slot
from scim_me.storage import recovery_flows as flows
from scim_me.storage.db import write_transaction
from scim_me.storage.events import Actor
from scim_me.storage.recovery_flows import FlowRecord
from scim_me.storage.tenants import TenantRecord
from scim_me.storage.throttle import hold_for_email
from scim_me.storage.throttle import hold_for_sign_up
from scim_me.storage.throttle import lift_email_hold
from scim_me.storage.throttle import lock_state
from scim_me.storage.users import StoredUser
from scim_me.storage.users import find_user
from scim_me.storage.users import get_user
from scim_me.storage.users import now
from scim_me.storage.users import update_user

log = logging.getLogger("scim_me.verify_email")

# The identity-recovery codes validate-code answers with, for this scenario and an e-mail change's.
INVALID_CODE = RECOVERY.kind("18001", "Invalid Code")
EXPIRED_CODE = RECOVERY.kind("18002", "Expired Code")


def _invalid() -> ApiError:
    return INVALID_CODE("The verification code is not valid: it is wrong or was already used.")


def _address_digest(address: str) -> str:
    return code_digest(key(address))


def hold_until_confirmed(
    settings: Settings, tenant: TenantRecord, user: StoredUser, address: str, *, sign_up: bool = False
) -> None:
    """In the transaction that created ``user``: the hold, a confirmation code and its mail to
    ``address``, so the account never waits for a mail that was not queued. ``sign_up``: the
    account registered itself (PENDING_SR), else an administrator asked for verifyEmail
    (PENDING_EV)."""
    (hold_for_sign_up if sign_up else hold_for_email)(tenant.id, user.user_name, now())
    _issue(settings, tenant, user.user_name, (user, address), sign_up=sign_up)


def resend(settings: Settings, tenant: TenantRecord, user_name: str, caller: Actor) -> None:
    """A new code for the account ``user_name`` names, if it is held for its address: the older
    codes die and the mail to its current primary address is queued, in one transaction (a
    failure sends nothing and the old code still works). Raises ``RecoveryRefused("throttled")``
    past the recovery mail limits (per account and per client IP, shared with "forgot password");
    past the address's own limit it mails nothing and answers as for anybody.

    Anonymous callers must learn nothing: an unknown name, an account that is not held (or held
    without an address) and a held one cost the same statements (the limits, the user, its lock
    row, then one write transaction that counts a mail against the address, stores a flow and
    ends the older ones of that name: a decoy nobody can redeem when no account is waiting) and
    answer the same; only the held account's transaction also queues the mail, which leaves from
    the sender thread."""
    account = account_window(tenant.id, user_name)
    take_mail_slot(settings, tenant.id, account, caller)
    user = find_user(tenant.id, user_name)
    state = lock_state(tenant.id, user_name, now())  # read for an unknown name too
    address = primary_email(user.profile) if user is not None and state.email_pending else None
    # The address's own limit, counted for every name (an unknown one on a key of its own, so the
    # statements stay the same). Past it the account gets the decoy: no mail and the code mailed
    # before still works. A 429 here would tell that the name is a held account.
    with write_transaction():
        flooded = take_address_mail_slot(settings, address or f"\0{account}")
        to = (user, address) if user is not None and address and not flooded else None
        _issue(settings, tenant, user_name, to, sign_up=state.sign_up)
    if to is not None:
        log.info("confirmation code resent for user %s", to[0].id)
    elif address and user is not None:
        log.warning("confirmation code not resent for user %s: its address had its mails for now", user.id)


def _issue(
    settings: Settings, tenant: TenantRecord, user_name: str, to: tuple[StoredUser, str] | None, *, sign_up: bool
) -> None:
    """A confirmation flow with a fresh code and lifetime for ``to`` (the user and the address it
    confirms), its mail queued and the user's older flows ended; with ``to`` None, a decoy with
    nobody behind it that supersedes the earlier decoys of ``user_name`` (the same statements)."""
    code = new_code()
    flow_id = flows.create_flow(
        tenant.id,
        to[0].id if to is not None else None,
        account_window(tenant.id, user_name),
        flows.SELF_SIGN_UP if sign_up and to is not None else flows.VERIFY_EMAIL,
        flows.NOTIFIED,
        expires_at=now() + timedelta(seconds=settings.recovery_link_lifetime),
        flow_code_hash=code_digest(code),
        # Not a one-time code here: the address the code confirms (only that one, see confirm).
        otp_hash=_address_digest(to[1]) if to is not None else None,
    )
    if to is None:
        flows.end_unowned_flows(tenant.id, account_window(tenant.id, user_name), flows.CONFIRM_KINDS, keep=flow_id)
        return
    user, address = to
    flows.end_flows(tenant.id, user.id, flows.CONFIRM_KINDS, keep=flow_id)  # only the latest code works
    mailer = current_mailer()
    if mailer is not None:
        # Into the outbox, in the caller's transaction: the code and its mail commit together.
        mailer.send_later(_confirmation_mail(settings, tenant, user, address, code, sign_up=sign_up))


def _confirmation_mail(
    settings: Settings, tenant: TenantRecord, user: StoredUser, address: str, code: str, *, sign_up: bool
) -> Mail:
    link = f"{tenant_url(settings, tenant.name)}/accountrecoveryendpoint/confirm-email#code={code}"
    hours = max(1, settings.recovery_link_lifetime // 3600)
    if sign_up:
        # Anybody may register with any address: the mail says so, and what ignoring it does.
        what = f"The account {user.user_name} was registered with this e-mail address (organization {tenant.name})."
        after = (
            " one.\n\nIf you did not register this account, ignore this mail: the account cannot be used"
            " unless this address is confirmed.\n"
        )
        kind = "account.confirm_sign_up"
    else:
        what = f"An account {user.user_name} was created for you (organization {tenant.name})."
        after = " one, or ask your administrator.\n"
        kind = "account.verify_email"
    text = (
        "Hello,\n\n"
        f"{what}\n\n"
        f"Confirm your e-mail address to start using it: open this link within {hours} hours:\n\n"
        f"{link}\n\n"
        f"or enter this code where you were asked to:\n\nVerification code: {code}\n\n"
        "The code works once, and only the latest one mailed. Until the address is confirmed the"
        " account cannot sign in; if the code expired, sign in with your password to ask for a new" + after
    )
    return Mail(to=address, subject="Confirm your e-mail address", text=text, kind=kind)


def find_confirmation(tenant: TenantRecord, code: str) -> FlowRecord | None:
    """The tenant's pending confirmation the code belongs to, or None (the code is another
    kind's, spent, or unknown)."""
    flow = flows.find_flow(tenant.id, flow_code_hash=code_digest(code))
    if flow is None or flow.kind not in flows.CONFIRM_KINDS or flow.step != flows.NOTIFIED or flow.user_id is None:
        return None
    return flow


def confirm(tenant: TenantRecord, flow: FlowRecord, caller: Actor) -> StoredUser:
    """Spend the code: ``emailVerified`` true, the hold lifted, the events recorded, in one
    transaction; refused when expired, spent meanwhile, or the address is no longer the user's."""
    if flow.expired(now()):
        raise EXPIRED_CODE(
            "The verification code has expired; sign in with your password to have a new one mailed, or ask"
            " your administrator."
        )
    with write_transaction():
        spent = flows.advance(flow, "flow_code_hash", flow.flow_code_hash, flow_code_hash=None, step=flows.DONE)
        if not spent:
            raise _invalid()  # a concurrent redemption got there first
        user = get_user(tenant.id, flow.user_id or "", for_update=True)  # the CAS below cannot lose
        address = primary_email(user.profile) if user is not None else None
        if user is None or address is None or _address_digest(address) != flow.otp_hash:
            # An administrator changed the address since: the code proves nothing about the new one.
            raise _invalid()
        updated = update_user(user, _verified(user))
        if updated is None:
            raise ConflictError("The user is being changed by many requests at once; retry.")
        lifted = lift_email_hold(tenant.id, user.user_name)
        channel = "self_sign_up" if flow.kind == flows.SELF_SIGN_UP else "verify_email"
        caller.record(tenant.id, user.id, "email.verified", {"address": address, "channel": channel})
        if lifted:
            caller.record(tenant.id, user.id, "account.unlocked", {"channel": channel})
    log.info("address confirmed for new user %s (%s)", user.id, channel)
    return updated


def _verified(user: StoredUser) -> dict[str, object]:
    extension = user.profile.get(WSO2_URN)
    return {**user.profile, WSO2_URN: {**(extension if isinstance(extension, dict) else {}), "emailVerified": True}}

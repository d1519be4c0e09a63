"""Account recovery: the one implementation behind WSO2's recovery API v2
(``api/recovery.py``), the sign-in page's recovery pages (``api/recovery_pages.py``), the
administrator's forced reset (CLI, SCIM admin) and the change of an expired password at sign-in.

Password recovery, as WSO2's ``PasswordRecoveryManager`` (docs/account-recovery.md):

1. ``start`` (init): the claims name an account → a ``recoveryCode`` and a ``flowConfirmationCode``
   and the channel list (one e-mail channel). Nothing is mailed yet.
2. ``send`` (recover): ``recoveryCode`` + channel → the code is mailed to the account's verified
   address; a new ``flowConfirmationCode`` and a ``resendCode`` come back. ``resend`` mails a new
   code (the previous one dies).
3. ``confirm``: ``flowConfirmationCode`` + the mailed code → a ``resetCode``.
4. ``reset``: ``resetCode`` (+ its ``flowConfirmationCode``) + the new password, through the
   tenant's policy (history included) → the password is set; every session and token of the user
   ends on every worker (the revocation is in the database), ``password.reset`` is recorded and
   the user gets a notice mail. MFA stays: the next sign-in still asks for the second factor.

No enumeration: an unknown account, one without a verified address, a disabled or hard-locked
one gets a flow too, with no user behind it; it answers every step exactly as a real one (same
status, same body shape and lengths, the same database writes), mails nothing, and its codes
never confirm. WSO2's "notify user existence" tenant switch (off by default) turns that off.

Limits: every code is single-use and short-lived (settings ``recovery_*_lifetime``); a mailed
code is bound to its flow (HMAC over the flow id) and only the latest one works; mails (recover
and resend) are counted per account (what was typed: userName or address, known or not) and per
client IP in a window, wrong codes per flow, per account and per IP; over a limit → 429 with
``Retry-After``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from datetime import timedelta
from typing import Any

from scim_me.auth.credentials import new_password_hash
from scim_me.auth.credentials import password_replaced
from scim_me.config import ConfigError
from scim_me.config import Settings
from scim_me.core.email_change import key as email_key
from scim_me.core.password_policy import PolicyViolation
from scim_me.core.passwords import verify_password
from scim_me.core.recovery import Identifier
from scim_me.core.recovery import code_digest
from scim_me.core.recovery import mask_email
from scim_me.core.recovery import new_code
from scim_me.core.recovery import new_otp
from scim_me.core.recovery import otp_digest
from scim_me.core.recovery import otp_key
from scim_me.core.recovery import otp_matches
from scim_me.core.recovery import reset_forced
from scim_me.core.recovery import verified_address
from scim_me.core.recovery import with_forced_reset
from scim_me.notify.mail import Mail
from scim_me.notify.mail import Mailer
from scim_me.notify.mail import build_mailer
from scim_me.notify.notices import current_mailer
from scim_me.notify.notices import primary_email
from scim_me.notify.notices import tenant_url
from scim_me.storage import recovery_flows as flows
from scim_me.storage.db import after_commit
from scim_me.storage.db import write_transaction
from scim_me.storage.events import Actor
from scim_me.storage.external_issuers import find_user_by_email
from scim_me.storage.recovery_flows import FlowRecord
from scim_me.storage.sessions import end_other_sessions
from scim_me.storage.tenants import TenantRecord
from scim_me.storage.throttle import RECOVERY_SEND
from scim_me.storage.throttle import RECOVERY_TRY
from scim_me.storage.throttle import lift_timed_lock
from scim_me.storage.throttle import lock_state
from scim_me.storage.throttle import slot_wait
from scim_me.storage.throttle import take_slot
from scim_me.storage.throttle import window_key
from scim_me.storage.users import StoredUser
from scim_me.storage.users import find_user
from scim_me.storage.users import get_user
from scim_me.storage.users import now
from scim_me.storage.users import set_password_hash
from scim_me.storage.users import update_user
from scim_me.storage.users import user_name_key

log = logging.getLogger("scim_me.recovery")
EXPIRED = flows.EXPIRED

CHANNEL_ID = "1"  # the one channel: e-mail to the verified address
HIDDEN_ADDRESS = "********"  # the channel's value when naming it would tell whether the account exists


class RecoveryRefused(Exception):
    """A step is refused. ``reason`` is one of the names in docs/account-recovery.md; each caller
    answers it in its own dialect (WSO2 error codes, a page)."""

    def __init__(self, reason: str, detail: str = "", retry_after: int = 0) -> None:
        self.reason = reason
        self.detail = detail
        self.retry_after = retry_after
        super().__init__(f"{reason}: {detail}")


@dataclass(frozen=True)
class Started:
    recovery_code: str
    flow_code: str | None  # password recovery only
    channel_value: str


@dataclass(frozen=True)
class Notified:
    flow_code: str
    resend_code: str


# -- helpers ---------------------------------------------------------------------------------------


def _expiry(seconds: int) -> datetime:
    return now() + timedelta(seconds=seconds)


def _account_key(tenant: TenantRecord, identifier: Identifier) -> str:
    if identifier.user_name is not None:
        return account_window(tenant.id, identifier.user_name)
    return window_key("recovery-account", f"{tenant.id}\0{identifier.subject}")


def account_window(tenant_id: int, user_name: str) -> str:
    """The counters' key of the account a userName names, known or not: its recovery mails of
    every kind count together here."""
    return window_key("recovery-account", f"{tenant_id}\0u:{user_name_key(user_name)}")


def _usable(tenant: TenantRecord, user: StoredUser | None) -> str | None:
    """The address recovery may mail for ``user``, or None when the account cannot recover
    (unknown, no verified address, disabled, inactive, locked until an operator unlocks it).
    The lock is read for an unknown account too, so both cost the same queries."""
    locked = lock_state(tenant.id, user.user_name if user is not None else "", now()).hard
    if user is None or locked:
        return None
    profile = user.profile
    wso2 = profile.get("urn:scim:wso2:schema") or {}
    if profile.get("active") is False or (isinstance(wso2, dict) and wso2.get("accountDisabled") in (True, "true")):
        return None
    return verified_address(profile)


def _mailer(settings: Settings) -> tuple[Mailer | None, bool]:
    """The app's background mailer, or (outside a request: the CLI) one that sends inline."""
    mailer = current_mailer()
    if mailer is not None:
        return mailer, False
    try:
        return build_mailer(settings), True
    except ConfigError as exc:  # a misconfigured mailer must not fail the operator's command
        log.warning("mail is not configured (%s); recovery mail not sent", exc)
        return None, True
    except OSError:
        log.warning("mail is not configured; recovery mail not sent")
        return None, True


def _mail(settings: Settings, mail: Mail) -> None:
    """In a request, queued in the outbox inside the current transaction: the mail exists exactly
    when the step that sends it commits, and it leaves from the sender thread, never inline (a
    slow SMTP server must not show in the timing of a real account's answer). The CLI sends it
    once the change has committed."""
    mailer, inline = _mailer(settings)
    if mailer is None:
        return
    if inline:
        sender = mailer

        def deliver() -> None:
            sender.deliver(mail)

        after_commit(deliver)
    else:
        mailer.send_later(mail)


def _take_send(settings: Settings, tenant: TenantRecord, flow: FlowRecord, caller: Actor) -> None:
    take_mail_slot(settings, tenant.id, flow.account_key, caller)


def take_mail_slot(settings: Settings, tenant_id: int, account_key: str, caller: Actor) -> None:
    """Count one recovery mail against the account (``account_key``, known or not) and the
    client IP; over either limit → ``RecoveryRefused("throttled")`` with the seconds to wait."""
    window = settings.recovery_send_window_seconds
    stamp = now()
    wait = take_slot(account_key, RECOVERY_SEND, tenant_id, settings.recovery_sends_per_window, window, stamp)
    if not wait:
        wait = _ip_send_wait(settings, caller, stamp)
    if wait:
        raise RecoveryRefused("throttled", "Too many recovery mails; try again later.", wait)


def take_ip_mail_slot(settings: Settings, caller: Actor, detail: str) -> None:
    """Count one event against the client IP's mail limit alone (an anonymous self-registration,
    which mails a confirmation to an address of the caller's choosing, or would create an account
    without one); over it → ``RecoveryRefused("throttled", detail)`` with the seconds to wait. The
    counter is the one recovery and resend-code mails count on, so alternating endpoints mails no
    more."""
    wait = _ip_send_wait(settings, caller, now())
    if wait:
        raise RecoveryRefused("throttled", detail, wait)


def take_address_mail_slot(settings: Settings, address: str) -> int:
    """Count one mail to ``address``, an address nobody has confirmed yet (whoever asked may have
    typed somebody else's); 0 when it may leave, else the seconds until the window ends (the
    refused mail is not counted). Keyed on the address alone, across accounts, clients and
    tenants: the per-account and per-IP limits do not stop many accounts, or many clients, from
    naming one address, and its owner's mailbox is one."""
    key = window_key("unconfirmed-address", email_key(address))
    window = settings.recovery_send_window_seconds
    return take_slot(key, RECOVERY_SEND, None, settings.recovery_address_sends_per_window, window, now())


def _ip_send_wait(settings: Settings, caller: Actor, stamp: datetime) -> int:
    if not caller.ip:
        return 0
    key = window_key("recovery-send-ip", caller.ip)
    window = settings.recovery_send_window_seconds
    return take_slot(key, RECOVERY_SEND, None, settings.recovery_ip_sends_per_window, window, stamp)


def _try_keys(settings: Settings, account_key: str | None, caller: Actor) -> list[tuple[str, int]]:
    """The wrong-code counters: the flow's account (when the flow is known) and the client IP."""
    keys = []
    if account_key:
        keys.append((window_key("recovery-try", account_key), settings.recovery_account_attempts_per_window))
    if caller.ip:
        keys.append((window_key("recovery-try-ip", caller.ip), settings.recovery_ip_attempts_per_window))
    return keys


def _check_tries(settings: Settings, account_key: str | None, caller: Actor) -> None:
    """Refuse before any code is compared while the account's or the IP's wrong codes are spent."""
    for key, limit in _try_keys(settings, account_key, caller):
        wait = slot_wait(key, limit, settings.recovery_send_window_seconds, now())
        if wait:
            raise RecoveryRefused("throttled", "Too many wrong codes; try again later.", wait)


def _wrong_code(settings: Settings, tenant: TenantRecord, flow: FlowRecord | None, caller: Actor) -> None:
    """Count a wrong code against the flow (which dies at its limit), the account and the IP."""
    if flow is not None:
        with write_transaction():  # the count that reaches the limit ends the flow with it
            if flows.count_attempt(flow) >= settings.recovery_max_attempts:
                flows.advance(
                    flow, "flow_code_hash", flow.flow_code_hash, flow_code_hash=None, otp_hash=None, step=flows.DONE
                )
    for key, limit in _try_keys(settings, flow.account_key if flow else None, caller):
        take_slot(key, RECOVERY_TRY, tenant.id, limit, settings.recovery_send_window_seconds, now())


# -- password and username recovery ----------------------------------------------------------------


def start(settings: Settings, tenant: TenantRecord, identifier: Identifier, kind: str, caller: Actor) -> Started:
    """Init: a flow for the account ``identifier`` names (or a flow with nobody behind it)."""
    if caller.ip:  # every init stores a flow: one client may not fill the table
        key = window_key("recovery-init-ip", caller.ip)
        limit, window = settings.recovery_ip_inits_per_window, settings.recovery_send_window_seconds
        wait = take_slot(key, RECOVERY_SEND, None, limit, window, now())
        if wait:
            raise RecoveryRefused("throttled", "Too many recovery requests; try again later.", wait)
    if identifier.user_name is not None:
        user = find_user(tenant.id, identifier.user_name)
    else:
        user = find_user_by_email(tenant.id, identifier.email or "")
    address = _usable(tenant, user)
    if tenant.settings.notify_user_existence:
        if user is None:
            raise RecoveryRefused("unknown_user", "No user found.")
        if address is None:
            raise RecoveryRefused("no_channel", "No verified channels found for user.")
        shown = mask_email(address)
    else:
        shown = mask_email(identifier.email) if identifier.email else HIDDEN_ADDRESS
    recovery_code = new_code()
    flow_code = new_code() if kind == flows.PASSWORD else None
    flows.create_flow(
        tenant.id,
        user.id if user is not None and address is not None else None,
        _account_key(tenant, identifier),
        kind,
        flows.INIT,
        expires_at=_expiry(settings.recovery_code_lifetime),
        ip=caller.ip,
        recovery_code_hash=code_digest(recovery_code),
        flow_code_hash=code_digest(flow_code) if flow_code else None,
    )
    return Started(recovery_code, flow_code, shown)


def _flow_by(tenant: TenantRecord, kind: str, step: str, missing: str, expired: str, **digest: str) -> FlowRecord:
    flow = flows.find_flow(tenant.id, **digest)
    if flow is None or flow.kind != kind or flow.step != step:
        raise RecoveryRefused(missing, "The code is not valid.")
    if flow.expired(now()):
        raise RecoveryRefused(expired, "The code has expired.")
    return flow


def send(
    settings: Settings, tenant: TenantRecord, recovery_code: str, channel_id: str, kind: str, caller: Actor
) -> Notified | None:
    """Recover: mail the code (password) or the username (username) through the channel. Returns
    the next codes for password recovery, None for username recovery."""
    flow = _flow_by(
        tenant,
        kind,
        flows.INIT,
        "invalid_recovery_code",
        "expired_recovery_code",
        recovery_code_hash=code_digest(recovery_code),
    )
    if channel_id != CHANNEL_ID:
        raise RecoveryRefused("invalid_channel", "Channel ID does not exist.")
    _take_send(settings, tenant, flow, caller)
    if kind == flows.USERNAME:
        with write_transaction():  # the spent code and its mail commit together
            spent = flows.advance(
                flow, "recovery_code_hash", flow.recovery_code_hash, recovery_code_hash=None, step=flows.DONE
            )
            if not spent:
                raise RecoveryRefused("invalid_recovery_code", "The code is not valid.")
            _mail_username(settings, tenant, flow.user_id)
        return None
    return _notify(settings, tenant, flow, "recovery_code_hash", flow.recovery_code_hash, caller)


def resend(settings: Settings, tenant: TenantRecord, resend_code: str, caller: Actor) -> Notified:
    """A new mailed code for the flow; the previous code and resend code stop working."""
    flow = _flow_by(
        tenant,
        flows.PASSWORD,
        flows.NOTIFIED,
        "invalid_resend_code",
        "invalid_resend_code",
        resend_code_hash=code_digest(resend_code),
    )
    _take_send(settings, tenant, flow, caller)
    return _notify(settings, tenant, flow, "resend_code_hash", flow.resend_code_hash, caller)


def _notify(
    settings: Settings, tenant: TenantRecord, flow: FlowRecord, guard: str, expected: str | None, caller: Actor
) -> Notified:
    otp = new_otp(settings.recovery_otp_digits)
    flow_code, resend_code = new_code(), new_code()
    # One transaction: the flow moves on, the older flows die and the mail is queued together or
    # not at all (never "code sent" without a mail), with one durable commit whether or not an
    # account is behind the flow.
    with write_transaction():
        moved = flows.advance(
            flow,
            guard,
            expected,
            recovery_code_hash=None,
            step=flows.NOTIFIED,
            flow_code_hash=code_digest(flow_code),
            resend_code_hash=code_digest(resend_code),
            otp_hash=otp_digest(otp_key(settings.master_key()), flow.id, otp),
            expires_at=_expiry(settings.recovery_code_lifetime),
        )
        if not moved:
            raise RecoveryRefused("invalid_recovery_code", "The code is not valid.")
        # Only the latest flow of the account works: an older one (and its mailed code) dies. A
        # flow with nobody behind it runs the same queries (on no rows), so its answer takes as long.
        if flow.user_id is not None:
            flows.end_flows(tenant.id, flow.user_id, (flows.PASSWORD,), keep=flow.id)
        else:
            flows.end_unowned_flows(tenant.id, flow.account_key, (flows.PASSWORD,), keep=flow.id)
        user = get_user(tenant.id, flow.user_id or "")
        address = _usable(tenant, user)
        if user is not None and address is not None:
            _mail(settings, _code_mail(settings, tenant, user, address, otp))
    return Notified(flow_code, resend_code)


def confirm(settings: Settings, tenant: TenantRecord, flow_code: str, otp: str, caller: Actor) -> str:
    """The mailed code, with its flow's ``flowConfirmationCode`` → a ``resetCode``."""
    flow = flows.find_flow(tenant.id, flow_code_hash=code_digest(flow_code))
    _check_tries(settings, flow.account_key if flow else None, caller)
    if flow is None or flow.kind != flows.PASSWORD or flow.step != flows.NOTIFIED:
        _wrong_code(settings, tenant, None, caller)
        raise RecoveryRefused("invalid_flow", "The confirmation code is not valid.")
    if flow.expired(now()):
        raise RecoveryRefused("expired_flow", "The confirmation code has expired.")
    matches = otp_matches(otp_key(settings.master_key()), flow.id, otp, flow.otp_hash)
    if not matches or flow.user_id is None:
        _wrong_code(settings, tenant, flow, caller)
        raise RecoveryRefused("invalid_code", "The code is not valid.")
    reset_code = new_code()
    moved = flows.advance(
        flow,
        "otp_hash",
        flow.otp_hash,
        otp_hash=None,
        resend_code_hash=None,
        step=flows.CONFIRMED,
        reset_code_hash=code_digest(reset_code),
        expires_at=_expiry(settings.recovery_reset_code_lifetime),
    )
    if not moved:
        raise RecoveryRefused("invalid_code", "The code is not valid.")
    return reset_code


def reset(
    settings: Settings,
    tenant: TenantRecord,
    reset_code: str,
    password: str,
    caller: Actor,
    *,
    flow_code: str | None = None,
    kinds: tuple[str, ...] = (flows.PASSWORD,),
) -> StoredUser:
    """Set the new password with a ``resetCode`` (or a forced-reset link's or an expired
    password's code, ``kinds``). A policy violation leaves the code usable for another try."""
    flow = flows.find_flow(tenant.id, reset_code_hash=code_digest(reset_code))
    if flow is None or flow.kind not in kinds or flow.step != flows.CONFIRMED or flow.user_id is None:
        raise RecoveryRefused("invalid_reset_code", "The reset code is not valid.")
    if flow.expired(now()):
        raise RecoveryRefused("expired_reset_code", "The reset code has expired.")
    if flow_code is not None and code_digest(flow_code) != flow.flow_code_hash:
        raise RecoveryRefused("invalid_flow", "The confirmation code does not belong to this reset code.")
    user = get_user(tenant.id, flow.user_id)
    if user is None:
        raise RecoveryRefused("invalid_reset_code", "The reset code is not valid.")
    try:
        new_hash = new_password_hash(
            tenant,
            settings,
            settings.hash_params(),
            password,
            user_name=user.user_name,
            profile=user.profile,
            user=user,
            user_initiated=False,  # a forgotten password is not bound by the minimum-age rule
        )
    except PolicyViolation as exc:
        raise RecoveryRefused("history" if exc.rule == "history" else "policy", exc.detail) from exc
    if flow.kind == flows.EXPIRED and verify_password(password, user.password_hash, settings.hash_params()):
        raise RecoveryRefused("history", "The new password must differ from the expired one.")
    # One transaction, the hash computed before it: the code is spent exactly when the password
    # changes, and no session or flow outlives the new password however the process ends.
    with write_transaction():
        if lock_state(tenant.id, user.user_name, now()).hard:
            # Locked until an administrator or operator unlocks it (since the code was mailed):
            # a mailbox proves who the user is, not that the lock should end.
            raise RecoveryRefused("invalid_reset_code", "The reset code is not valid.")
        if not flows.advance(flow, "reset_code_hash", flow.reset_code_hash, reset_code_hash=None, step=flows.DONE):
            raise RecoveryRefused("invalid_reset_code", "The reset code is not valid.")
        _store_password(tenant, user, new_hash)
        password_replaced(tenant, settings, user)
        ended = end_other_sessions(tenant.id, user.id)
        flows.end_flows(tenant.id, user.id, flows.RESET_KINDS)
        lift_timed_lock(tenant.id, user.user_name)  # proving the mailbox ends a lock the guessing caused
        caller.record(
            tenant.id,
            user.id,
            # An invited user's first password replaces none: no "your password was reset" notice.
            "password.set" if flow.kind == flows.INVITE else "password.reset",
            {"channel": {flows.PASSWORD: "recovery"}.get(flow.kind, flow.kind), "ended": ended},
        )
    return get_user(tenant.id, user.id) or user


def _store_password(tenant: TenantRecord, user: StoredUser, new_hash: str) -> None:
    """The new hash; a forced reset's flag goes with it (one compare-and-set, retried when a
    concurrent profile write moved the version)."""
    current: StoredUser | None = user
    for _ in range(5):
        if current is None:
            break
        if not reset_forced(current.profile):
            if set_password_hash(tenant.id, current.id, new_hash):
                return
        elif update_user(current, with_forced_reset(current.profile, False), password_hash=new_hash) is not None:
            return
        current = get_user(tenant.id, user.id)
    raise RecoveryRefused("invalid_reset_code", "The account changed meanwhile; start again.")


def _mail_username(settings: Settings, tenant: TenantRecord, user_id: str | None) -> None:
    user = get_user(tenant.id, user_id or "")
    address = _usable(tenant, user)
    if user is None or address is None:
        return
    text = (
        "Hello,\n\n"
        f"Someone, hopefully you, asked for the username of the account with this address"
        f" (organization {tenant.name}).\n\nUsername: {user.user_name}\n\n"
        "If you did not ask for it, you can ignore this mail.\n"
    )
    _mail(settings, Mail(to=address, subject="Your username", text=text, kind="recovery.username"))


def _code_mail(settings: Settings, tenant: TenantRecord, user: StoredUser, address: str, otp: str) -> Mail:
    minutes = max(1, settings.recovery_code_lifetime // 60)
    text = (
        "Hello,\n\n"
        f"Someone, hopefully you, asked to reset the password of the account {user.user_name}"
        f" (organization {tenant.name}).\n\n"
        f"Recovery code: {otp}\n\n"
        f"Enter it where you asked for the reset, within {minutes} minutes. It works once.\n"
        "If you did not ask for this, ignore this mail: your password stays as it is.\n"
    )
    return Mail(to=address, subject="Your password recovery code", text=text, kind="recovery.code")


# -- forced reset (administrator) and expired passwords --------------------------------------------


def force_password_reset(
    settings: Settings, tenant: TenantRecord, user: StoredUser, caller: Actor, *, channel: str = "cli"
) -> bool:
    """WSO2's ``forcePasswordReset`` from the operator's CLI: sets the flag on ``user``, then
    :func:`require_new_password`, in one transaction. Returns whether a link was mailed (False:
    the account has no address; the operator must set a password)."""
    with write_transaction():
        current: StoredUser | None = user
        for _ in range(5):
            if current is None or reset_forced(current.profile):
                break
            if update_user(current, with_forced_reset(current.profile, True)) is not None:
                break
            current = get_user(tenant.id, user.id)
        return require_new_password(settings, tenant, user, caller, channel=channel)


def require_new_password(
    settings: Settings,
    tenant: TenantRecord,
    user: StoredUser,
    caller: Actor,
    *,
    channel: str,
    by: dict[str, Any] | None = None,
) -> bool:
    """What ``forcePasswordReset`` becoming true means, inside the transaction that set it (the
    CLI, or an administrator's SCIM write): the old password already stops signing in on every
    channel (it reads the flag); every session and token of the user ends, older recovery flows
    die, ``password.reset_required`` is recorded, and a link to choose a new password is queued
    for the user's primary address. Returns whether one was (False: no address)."""
    end_other_sessions(tenant.id, user.id)
    flows.end_flows(tenant.id, user.id, flows.RESET_KINDS)
    caller.record(tenant.id, user.id, "password.reset_required", {"channel": channel, **({"by": by} if by else {})})
    address = primary_email(user.profile)
    if not address:
        return False
    link = _password_link(settings, tenant, user, flows.FORCED)
    hours = max(1, settings.recovery_link_lifetime // 3600)
    text = (
        "Hello,\n\n"
        f"Your administrator asks you to choose a new password for the account {user.user_name}"
        f" (organization {tenant.name}). Your current password no longer signs in.\n\n"
        f"Choose the new one here within {hours} hours:\n\n{link}\n\n"
        'The link works once. If it expired, use "Forgot password?" on the sign-in page.\n'
    )
    _mail(settings, Mail(to=address, subject="Choose a new password", text=text, kind="recovery.forced"))
    return True


def invite_user(settings: Settings, tenant: TenantRecord, user: StoredUser, address: str) -> None:
    """WSO2's ``askPassword``: in the transaction that created ``user`` (without a password), a
    link to choose the first password, queued for ``address``."""
    link = _password_link(settings, tenant, user, flows.INVITE)
    hours = max(1, settings.recovery_link_lifetime // 3600)
    text = (
        "Hello,\n\n"
        f"An account {user.user_name} was created for you (organization {tenant.name}).\n\n"
        f"Choose its password here within {hours} hours:\n\n{link}\n\n"
        "The link works once. If it expired, ask your administrator for a new invitation, or use"
        ' "Forgot password?" on the sign-in page.\n'
    )
    _mail(settings, Mail(to=address, subject="Choose your password", text=text, kind="recovery.invite"))


def _password_link(settings: Settings, tenant: TenantRecord, user: StoredUser, kind: str) -> str:
    """A new flow of ``kind`` whose reset code a mailed link carries (in the fragment: no access
    log or link scanner sees it), for the password page."""
    code = new_code()
    flows.create_flow(
        tenant.id,
        user.id,
        window_key("recovery-account", f"{tenant.id}\0u:{user_name_key(user.user_name)}"),
        kind,
        flows.CONFIRMED,
        expires_at=_expiry(settings.recovery_link_lifetime),
        reset_code_hash=code_digest(code),
    )
    return f"{tenant_url(settings, tenant.name)}/accountrecoveryendpoint/password-reset#code={code}"


def start_expired_change(settings: Settings, tenant: TenantRecord, user: StoredUser, caller: Actor) -> str:
    """A one-time code that lets the sign-in page set a new password for ``user``, whose correct
    but expired password was just given (it lives as long as an MFA challenge)."""
    code = new_code()
    flows.end_flows(tenant.id, user.id, (flows.EXPIRED,))
    flows.create_flow(
        tenant.id,
        user.id,
        window_key("recovery-account", f"{tenant.id}\0u:{user_name_key(user.user_name)}"),
        flows.EXPIRED,
        flows.CONFIRMED,
        expires_at=_expiry(settings.mfa_signin_seconds),
        ip=caller.ip,
        reset_code_hash=code_digest(code),
    )
    return code

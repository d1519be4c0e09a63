"""The one place a password is checked against a stored hash: the sign-in page, the password
grant, HTTP Basic on /Me and the change-password API's current password all come here, so
throttling, lockout and the security history apply to every channel alike.

Lockout (``storage/throttle.py``): every check first reserves itself against the account's and
the client IP's counters. While either is locked the check is refused with
:class:`LoginThrottled` *before* any hash runs; each caller answers that in its own dialect
(429 with ``Retry-After``; 401 with ``Auth-Failure-Reason: account locked`` on Basic). A new
account held until its address is confirmed is the exception: its hold guards no password, so
the password is checked and failures count as usual, and only the right one is refused, with
:class:`AccountHeld` (a :class:`LoginThrottled`, so each channel answers it as a lock).

Enumeration: an unknown userName costs one dummy hash (``verify_password``), has its own counter
and locks after the same number of failures as a real account, so the status, the body and the
work of each step are the same whether the name exists or not.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from scim_me.core.accounts import is_disabled
from scim_me.core.passwords import HashParams
from scim_me.core.passwords import hash_password
from scim_me.core.passwords import hash_slot
from scim_me.core.passwords import needs_rehash
from scim_me.core.passwords import verify_password
from scim_me.storage.db import write_transaction
from scim_me.storage.events import Actor
from scim_me.storage.events import count_events
from scim_me.storage.throttle import LockoutPolicy
from scim_me.storage.throttle import account_key
from scim_me.storage.throttle import ip_key
from scim_me.storage.throttle import reserve
from scim_me.storage.throttle import succeeded
from scim_me.storage.users import StoredUser
from scim_me.storage.users import now
from scim_me.storage.users import upgrade_password_hash

CHANNELS = frozenset({"signin", "password_grant", "basic", "change_password"})
_LOCKED_KIND = frozenset({"signin.locked"})


class LoginThrottled(Exception):
    """The account or the client IP is locked; retry after ``retry_after`` seconds."""

    def __init__(self, retry_after: int, reason: str) -> None:
        self.retry_after = retry_after
        self.reason = reason  # "account" or "ip"
        super().__init__(f"password checks are locked ({reason}) for {retry_after} s")


class AccountHeld(LoginThrottled):
    """The password is right, but the account waits for its address to be confirmed (an
    administrator's verifyEmail): it signs nothing in. Every channel answers it as the account
    lock it is; the sign-in page says why and offers a new confirmation mail. Raised only after
    the password is proven, so it tells a guesser nothing."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(retry_after, "account")


def lockout_policy(settings: Any) -> LockoutPolicy:
    return LockoutPolicy(
        max_failures=settings.login_max_failures,
        lock_seconds=settings.login_lock_seconds,
        max_lock_seconds=settings.login_max_lock_seconds,
        hard_lock_failures=settings.login_hard_lock_failures,
        ip_max_failures=settings.login_ip_max_failures,
        ip_window_seconds=settings.login_ip_window_seconds,
    )


def verify_login(
    tenant_id: int,
    user: StoredUser | None,
    password: str,
    params: HashParams,
    *,
    channel: str,
    ip: str = "",
    user_agent: str = "",
    client_id: str | None = None,
    record_success: bool = True,
    attempted_name: str | None = None,
    lockout: LockoutPolicy,
) -> StoredUser | None:
    """Return ``user`` when ``password`` is theirs, else None; raise :class:`LoginThrottled`
    while the account (``user``, or the unknown ``attempted_name``) or the IP is locked.

    An unknown user still costs one hash (``verify_password`` runs a dummy), so timing does not
    reveal which names exist."""
    if channel not in CHANNELS:
        raise ValueError(f"unknown login channel {channel!r}")
    policy = lockout
    name = user.user_name if user is not None else attempted_name
    account = account_key(tenant_id, name) if name else None
    address = ip_key(ip) if ip else None
    actor = Actor(ip, user_agent, client_id)
    details: dict[str, Any] = {"channel": channel}
    # The turn is taken before the reservation: a check refused a turn (503) is no attempt at all.
    with hash_slot(params):
        reservation = reserve(tenant_id, account, address, policy, now())
        if not reservation.allowed:
            # One signin.locked event a minute per account is history enough; one per refused
            # attempt would let a flood of them fill the table (and queue writers) at no cost.
            if user is not None and not count_events(
                tenant_id, user.id, kinds=_LOCKED_KIND, since=now() - timedelta(seconds=60)
            ):
                actor.record(
                    tenant_id,
                    user.id,
                    "signin.locked",
                    {**details, "reason": reservation.reason, "retry_after": reservation.retry_after},
                )
            raise LoginThrottled(reservation.retry_after, reservation.reason)
        ok = verify_password(password, user.password_hash if user else None, params)
    if user is None or not ok:
        if user is not None:
            with write_transaction():  # the failure and the lock it causes: both in the history, or neither
                # failures in a row, this one included: the failed_signins alert (services/alerts.py)
                actor.record(tenant_id, user.id, "signin.failure", {**details, "failures": reservation.failures})
                if reservation.locks:
                    actor.record(
                        tenant_id,
                        user.id,
                        "account.locked",
                        {
                            **details,
                            "failures": reservation.failures,
                            "seconds": policy.lock_for(reservation.failures),
                            "hard": reservation.hard_locks,
                        },
                    )
        return None
    # The right password that still opens nothing: an account disabled by an administrator
    # (``active`` false), or one held until its address is confirmed. Said only after the
    # password is proven, so a guesser learns nothing from it.
    refused = "disabled" if is_disabled(user.profile) else "email_pending" if reservation.held else None
    upgraded = None
    if (
        refused is None
        and channel != "change_password"
        and user.password_hash
        and needs_rehash(user.password_hash, params)
    ):
        # Hashed with older parameters (argon2_* raised since): the proven password is hashed
        # again now, once, with today's (security.md T-PW-5). A password about to be replaced is not.
        upgraded = hash_password(password, params)
    with write_transaction():  # the counters start afresh with the history saying why: one commit
        succeeded(account, address, now(), held=reservation.held)
        if upgraded is not None and user.password_hash:
            upgrade_password_hash(tenant_id, user.id, user.password_hash, upgraded)
        if refused is not None:
            actor.record(tenant_id, user.id, "signin.failure", {**details, "reason": refused})
        elif record_success:
            actor.record(tenant_id, user.id, "signin.success", details)
    if refused == "email_pending":
        raise AccountHeld(policy.max_lock_seconds)
    return None if refused is not None else user

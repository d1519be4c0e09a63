"""Failed-password counters shared by every worker: one row per account (tenant + userName, known
or not) and one per client IP, in the database.

An attempt *reserves* its password check before any hash runs, in one write transaction
(SQLite ``BEGIN IMMEDIATE`` behind the writer queue; PostgreSQL ``SELECT ... FOR UPDATE``): the
check counts as a failure up front, and the reservation that reaches the limit sets the lock at
once. So however many requests race, at most ``max_failures`` hashes run before the lock, and
the requests that lose the race are refused without computing one. A success then deletes the
account's row (the counter resets) and takes its reservation back from the IP's count.

Unknown userNames get rows too: an account that does not exist locks exactly like one that
does, so the lock itself does not tell an attacker which names are real. Keys are SHA-256
digests, never the name (people type passwords into the username field).
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from datetime import datetime
from datetime import timedelta

import peewee

from scim_me.core.accounts import lock_key
from scim_me.storage.db import current_database
from scim_me.storage.db import is_sqlite
from scim_me.storage.db import write_transaction
from scim_me.storage.models import LoginThrottle
from scim_me.storage.users import user_name_key

ACCOUNT = "account"
IP = "ip"
# An account row whose hard lock holds a new account until its address is confirmed (WSO2's
# verifyEmail: accountState PENDING_EV); the row's kind is what tells it from an administrator's
# lock, so every path that deletes the row (an administrator's or operator's unlock) lifts it.
PENDING_EMAIL = "pending_ev"
# The same hold for an account registered through self-registration (POST /scim2/Me) while the
# tenant's self_registration_confirm is on (WSO2's self sign-up lock on creation: accountState
# PENDING_SR, lockedReason PENDING_SELF_REGISTRATION). It behaves as PENDING_EMAIL in every way;
# only what the account shows (and the mails' wording) differ.
PENDING_SIGN_UP = "pending_sr"
# The holds that confirming the address lifts.
HOLDS = (PENDING_EMAIL, PENDING_SIGN_UP)
# Doubling stops here; the cap (login_max_lock_seconds) applies long before.
_MAX_DOUBLINGS = 20


@dataclass(frozen=True)
class LockoutPolicy:
    max_failures: int = 5
    lock_seconds: int = 60
    max_lock_seconds: int = 900
    hard_lock_failures: int = 100
    ip_max_failures: int = 20
    ip_window_seconds: int = 60

    def lock_for(self, failures: int) -> int:
        """Seconds of lock after ``failures`` consecutive failures: 0 below the limit, then
        lock_seconds, doubling with every further failure, capped at max_lock_seconds."""
        if failures < self.max_failures:
            return 0
        doublings = min(failures - self.max_failures, _MAX_DOUBLINGS)
        return int(min(self.lock_seconds * 2**doublings, self.max_lock_seconds))


@dataclass(frozen=True)
class Reservation:
    """The outcome of asking to check a password."""

    allowed: bool
    # When refused: why ("account" or "ip") and how many seconds until a retry can succeed.
    reason: str = ""
    retry_after: int = 0
    # When allowed: the account's consecutive failures counting this attempt, and whether this
    # attempt (should it fail) is the one that locked the account.
    failures: int = 0
    locks: bool = False
    hard_locks: bool = False
    # The account is held until its address is confirmed (one of ``HOLDS``): the password is
    # checked and failures count as for any account, but even the right one signs nothing in.
    held: bool = False


@dataclass(frozen=True)
class LockState:
    locked: bool
    hard: bool
    until: datetime | None
    failures: int
    # Held until the address is confirmed (one of ``HOLDS``), not by failures or an administrator.
    email_pending: bool = False
    # ... and that hold is a self-registration's (``PENDING_SIGN_UP``), not an administrator's verifyEmail.
    sign_up: bool = False


def account_key(tenant_id: int, user_name: str) -> str:
    return lock_key(tenant_id, user_name_key(user_name))


def ip_key(ip: str) -> str:
    return hashlib.sha256(f"ip\0{ip}".encode("utf-8", "surrogatepass")).hexdigest()


def _seconds_until(moment: datetime, now: datetime) -> int:
    return max(1, math.ceil((moment - now).total_seconds()))


def _row(key: str, kind: str, tenant_id: int | None, now: datetime) -> LoginThrottle:
    """The row for ``key``, created if missing, locked against concurrent writers (PostgreSQL;
    SQLite's IMMEDIATE transaction already holds the database write lock)."""
    LoginThrottle.insert(
        key=key, kind=kind, tenant_id=tenant_id, failures=0, window_start=now, updated_at=now
    ).on_conflict_ignore().execute()
    query = LoginThrottle.select().where(LoginThrottle.key == key)
    if not is_sqlite(current_database()):
        query = query.for_update()
    return query.get()


def _holds_for_email(row: LoginThrottle) -> bool:
    """The row's hard lock is a new account's wait for its address, not a lock against guessing:
    its password is still checked (so the sign-in page can tell the right one why it waits)."""
    return bool(row.hard_locked) and row.kind in HOLDS


def _refusal(row: LoginThrottle | None, kind: str, policy: LockoutPolicy, now: datetime) -> Reservation | None:
    if row is None:
        return None
    if kind == ACCOUNT and row.hard_locked and not _holds_for_email(row):
        return Reservation(False, ACCOUNT, policy.max_lock_seconds)
    if row.locked_until is not None and row.locked_until > now:
        return Reservation(False, kind, _seconds_until(row.locked_until, now))
    return None


def _locked_already(account: str | None, ip: str | None, policy: LockoutPolicy, now: datetime) -> Reservation | None:
    """A plain read first: an attempt against a lock is refused without taking the write lock,
    so a flood of them does not queue every other writer behind it (SQLite has one writer)."""
    keys = [k for k in (ip, account) if k]
    rows = {row.key: row for row in LoginThrottle.select().where(LoginThrottle.key.in_(keys))} if keys else {}
    return _refusal(rows.get(ip) if ip else None, IP, policy, now) or _refusal(
        rows.get(account) if account else None, ACCOUNT, policy, now
    )


def reserve(tenant_id: int, account: str | None, ip: str | None, policy: LockoutPolicy, now: datetime) -> Reservation:
    """Count one password check against the account and the IP, or refuse it while locked."""
    refused = _locked_already(account, ip, policy, now)
    if refused is not None:
        return refused
    # Decided again under the write lock: the read above may be stale by now.
    with write_transaction():
        ip_row = _row(ip, IP, None, now) if ip else None
        if ip_row is not None and ip_row.locked_until is not None and ip_row.locked_until > now:
            return Reservation(False, IP, _seconds_until(ip_row.locked_until, now))
        account_row = _row(account, ACCOUNT, tenant_id, now) if account else None
        held = account_row is not None and _holds_for_email(account_row)
        if account_row is not None:
            if account_row.hard_locked and not held:
                return Reservation(False, ACCOUNT, policy.max_lock_seconds)
            if account_row.locked_until is not None and account_row.locked_until > now:
                return Reservation(False, ACCOUNT, _seconds_until(account_row.locked_until, now))
        failures = 0
        locks = hard = False
        if account_row is not None:
            failures = account_row.failures + 1
            lock = policy.lock_for(failures)
            locks = lock > 0
            hard = bool(policy.hard_lock_failures) and failures >= policy.hard_lock_failures
            LoginThrottle.update(
                failures=failures,
                locked_until=now + timedelta(seconds=lock) if locks else None,
                # A held account stays held; guessing up to the hard lock makes it an ordinary
                # hard lock (kind ACCOUNT), which confirming the address does not lift.
                hard_locked=hard or held,
                kind=ACCOUNT if hard else account_row.kind,
                updated_at=now,
            ).where(LoginThrottle.key == account).execute()
        if ip_row is not None:
            window_start = ip_row.window_start
            ip_failures = ip_row.failures
            if window_start + timedelta(seconds=policy.ip_window_seconds) <= now:
                window_start, ip_failures = now, 0
            ip_failures += 1
            ip_locked = ip_failures >= policy.ip_max_failures
            LoginThrottle.update(
                failures=ip_failures,
                window_start=window_start,
                locked_until=now + timedelta(seconds=policy.ip_window_seconds) if ip_locked else None,
                updated_at=now,
            ).where(LoginThrottle.key == ip).execute()
    return Reservation(True, failures=failures, locks=locks, hard_locks=hard, held=held)


def succeeded(account: str | None, ip: str | None, now: datetime, *, held: bool = False) -> None:
    """The reserved check passed: the account starts afresh (a ``held`` one keeps its hold, its
    failures reset); the IP gets its reservation back."""
    with write_transaction():
        if account and held:
            # Only while still a hold: an administrator's lock (or a confirmation) since the
            # reservation must not be turned back into a hold.
            LoginThrottle.update(failures=0, locked_until=None, updated_at=now).where(
                (LoginThrottle.key == account) & LoginThrottle.kind.in_(HOLDS)
            ).execute()
        elif account:
            LoginThrottle.delete().where(LoginThrottle.key == account).execute()
        if ip:
            LoginThrottle.update(
                failures=peewee.Case(None, [(LoginThrottle.failures > 0, LoginThrottle.failures - 1)], 0),
                locked_until=None,
                updated_at=now,
            ).where(LoginThrottle.key == ip).execute()


def lock_state(tenant_id: int, user_name: str, now: datetime) -> LockState:
    row = LoginThrottle.get_or_none(LoginThrottle.key == account_key(tenant_id, user_name))
    if row is None:
        return LockState(False, False, None, 0)
    return lock_state_of(row.failures, row.locked_until, bool(row.hard_locked), now, row.kind)


def lock_state_of(
    failures: int, locked_until: datetime | None, hard_locked: bool, now: datetime, kind: str = ACCOUNT
) -> LockState:
    """The lock an account's throttle row describes at ``now``."""
    timed = locked_until is not None and locked_until > now
    pending = hard_locked and kind in HOLDS
    until = locked_until if timed else None
    return LockState(hard_locked or timed, hard_locked, until, failures, pending, pending and kind == PENDING_SIGN_UP)


def _hold(tenant_id: int, user_name: str, now: datetime, kind: str) -> None:
    """A hard lock with no failures counted, the row marked ``kind`` (why it holds)."""
    key = account_key(tenant_id, user_name)
    with write_transaction():
        _row(key, kind, tenant_id, now)
        LoginThrottle.update(kind=kind, failures=0, locked_until=None, hard_locked=True, updated_at=now).where(
            LoginThrottle.key == key
        ).execute()


def lock_account(tenant_id: int, user_name: str, now: datetime) -> None:
    """An administrator's lock: held until someone unlocks it (a hard lock), with no failures
    counted, which is how the profile tells it from a lock that failures caused (lockedReason).
    It replaces a hold for an unconfirmed address: confirming the address no longer lifts it."""
    _hold(tenant_id, user_name, now, ACCOUNT)


def hold_for_email(tenant_id: int, user_name: str, now: datetime) -> None:
    """WSO2's lock on creation for ``verifyEmail``: held until the address is confirmed
    (:func:`lift_email_hold`) or an administrator or operator unlocks the account."""
    _hold(tenant_id, user_name, now, PENDING_EMAIL)


def hold_for_sign_up(tenant_id: int, user_name: str, now: datetime) -> None:
    """WSO2's self sign-up lock on creation: :func:`hold_for_email` for a self-registered account
    (it shows PENDING_SR), lifted the same ways."""
    _hold(tenant_id, user_name, now, PENDING_SIGN_UP)


def lift_email_hold(tenant_id: int, user_name: str) -> bool:
    """Lift the hold :func:`hold_for_email` or :func:`hold_for_sign_up` set, and only that (an
    administrator's lock set since stays); True when there was one."""
    with write_transaction():
        deleted = (
            LoginThrottle.delete()
            .where((LoginThrottle.key == account_key(tenant_id, user_name)) & LoginThrottle.kind.in_(HOLDS))
            .execute()
        )
    return bool(deleted)


def lift_timed_lock(tenant_id: int, user_name: str) -> None:
    """Reset the counter and lift a lock that failures set for a while; a lock held until an
    administrator or operator lifts it stays (a password reset by mail does not lift it)."""
    with write_transaction():
        LoginThrottle.delete().where(
            (LoginThrottle.key == account_key(tenant_id, user_name)) & (LoginThrottle.hard_locked == False)  # noqa: E712
        ).execute()


def unlock(tenant_id: int, user_name: str) -> bool:
    """Lift a lock (hard or timed) and reset the counter; True when there was a row to clear."""
    with write_transaction():
        deleted = LoginThrottle.delete().where(LoginThrottle.key == account_key(tenant_id, user_name)).execute()
    return bool(deleted)


def prune(now: datetime, idle: timedelta = timedelta(days=1)) -> int:
    """Drop rows that lock nothing and were last touched ``idle`` ago (unknown names, old IPs)."""
    cutoff = now - idle
    with write_transaction():
        return int(
            LoginThrottle.delete()
            .where(
                (LoginThrottle.updated_at < cutoff)
                & (LoginThrottle.hard_locked == False)  # noqa: E712 (peewee expression)
                & (LoginThrottle.locked_until.is_null() | (LoginThrottle.locked_until < now))
            )
            .execute()
        )


# -- windowed counters (account recovery: mails sent, wrong codes) ---------------------------------
# Same table, other keys: a row counts events in a fixed window from its first event; the event
# that would exceed ``limit`` is refused with the seconds until the window ends (RFC 6585 §4).
RECOVERY_SEND = "recovery_send"
RECOVERY_TRY = "recovery_try"


def window_key(kind: str, subject: str) -> str:
    return hashlib.sha256(f"{kind}\0{subject}".encode("utf-8", "surrogatepass")).hexdigest()


def take_slot(key: str, kind: str, tenant_id: int | None, limit: int, window_seconds: int, now: datetime) -> int:
    """Count one event on ``key``; 0 when allowed, else the seconds until the window ends (the
    refused event is not counted)."""
    with write_transaction():
        row = _row(key, kind, tenant_id, now)
        window_start, used = row.window_start, row.failures
        if window_start + timedelta(seconds=window_seconds) <= now:
            window_start, used = now, 0
        refused = used >= limit
        # A refusal writes too (the row's last use only): a refused and an allowed event cost the
        # same statements, so where the answer must not tell which (resend-code), neither does
        # the work.
        LoginThrottle.update(failures=used + (0 if refused else 1), window_start=window_start, updated_at=now).where(
            LoginThrottle.key == key
        ).execute()
    return _seconds_until(window_start + timedelta(seconds=window_seconds), now) if refused else 0


def slot_wait(key: str, limit: int, window_seconds: int, now: datetime) -> int:
    """Without counting: 0 when ``key`` has room in its window, else the seconds to wait."""
    row = LoginThrottle.get_or_none(LoginThrottle.key == key)
    if row is None or row.window_start + timedelta(seconds=window_seconds) <= now or row.failures < limit:
        return 0
    return _seconds_until(row.window_start + timedelta(seconds=window_seconds), now)

"""MFA state of a user: the sealed TOTP secrets (active and pending), the last accepted TOTP step,
the shared failure counter and lock, backup codes as keyed digests, and the sign-in challenges.

Everything that decides whether a code is accepted is a single conditional UPDATE, so two
workers (or two requests on one worker) can never both accept the same TOTP step or the same
backup code, and no failure increment is lost (security.md T-CONC-5, T-CONC-6, T-CONC-9).
Nothing here sees a plain secret: callers seal and digest before storing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from datetime import timedelta

from scim_me.storage.db import write_transaction
from scim_me.storage.models import MfaBackupCode
from scim_me.storage.models import MfaChallenge
from scim_me.storage.models import User
from scim_me.storage.models import UserMfa
from scim_me.storage.users import now


@dataclass(frozen=True)
class MfaState:
    totp_active: bool = False
    totp_pending: bool = False
    totp_enabled_at: datetime | None = None
    last_used_step: int | None = None
    failures: int = 0
    locked_until: datetime | None = None
    enabled_authenticators: str | None = None
    backup_codes_total: int = 0
    backup_codes_remaining: int = 0
    configured: bool = False  # the user has touched MFA (a row exists)

    @property
    def backup_codes_enabled(self) -> bool:
        return self.backup_codes_total > 0


@dataclass(frozen=True)
class SealedSecrets:
    active: str | None
    pending: str | None


@dataclass(frozen=True)
class Attempt:
    """The outcome of asking to evaluate one code: allowed, or locked for ``retry_after`` s."""

    allowed: bool
    failures: int
    retry_after: int = 0
    locked_now: bool = False
    hard_locked: bool = False


# A hard lock (security.md T-MFA-5: 100 consecutive failures) is a lock that does not run out.
HARD_LOCK_UNTIL = datetime(9999, 1, 1)


def _ensure_row(tenant_id: int, user_id: str) -> None:
    """Create the user's row if missing (inside the caller's write transaction)."""
    UserMfa.insert(user=user_id, tenant=tenant_id, updated_at=now()).on_conflict_ignore().execute()


def _row(tenant_id: int, user_id: str) -> UserMfa | None:
    return UserMfa.get_or_none((UserMfa.user == user_id) & (UserMfa.tenant == tenant_id))


def _bump_user(tenant_id: int, user_id: str) -> None:
    """The SCIM view shows totpEnabled/backupCodeEnabled: a change is a new version (ETag)."""
    User.update(version=User.version + 1, updated_at=now()).where(
        (User.id == user_id) & (User.tenant == tenant_id)
    ).execute()


def get_state(tenant_id: int, user_id: str) -> MfaState:
    row = _row(tenant_id, user_id)
    codes = MfaBackupCode.select().where((MfaBackupCode.user == user_id) & (MfaBackupCode.tenant == tenant_id))
    total = codes.count()
    remaining = codes.where(MfaBackupCode.used_at.is_null()).count() if total else 0
    if row is None:
        return MfaState(backup_codes_total=total, backup_codes_remaining=remaining)
    return MfaState(
        totp_active=row.totp_secret is not None,
        totp_pending=row.totp_pending is not None,
        totp_enabled_at=row.totp_enabled_at,
        last_used_step=row.last_used_step,
        failures=row.failures,
        locked_until=row.locked_until,
        enabled_authenticators=row.enabled_authenticators,
        backup_codes_total=total,
        backup_codes_remaining=remaining,
        configured=True,
    )


def sealed_secrets(tenant_id: int, user_id: str) -> SealedSecrets:
    row = _row(tenant_id, user_id)
    if row is None:
        return SealedSecrets(None, None)
    return SealedSecrets(row.totp_secret, row.totp_pending)


def set_pending(tenant_id: int, user_id: str, sealed: str, *, only_if_none: bool = False) -> str:
    """Store a new pending secret (INIT/REFRESH), or keep the existing one when ``only_if_none``
    (GET/VIEW: two tabs asking at once must see the same secret). Returns the stored one."""
    with write_transaction():
        _ensure_row(tenant_id, user_id)
        query = UserMfa.update(totp_pending=sealed, updated_at=now()).where(UserMfa.user == user_id)
        if only_if_none:
            query = query.where(UserMfa.totp_pending.is_null())
        query.execute()
        row = _row(tenant_id, user_id)
        assert row is not None and row.totp_pending is not None
        return str(row.totp_pending)


def promote_pending(tenant_id: int, user_id: str, pending: str, step: int) -> bool:
    """Make ``pending`` the active secret, consuming ``step``, unless the pending secret changed
    meanwhile (a REFRESH raced this VALIDATE) or the step was already used. The old active secret
    is gone in the same statement: re-enrolment invalidates it."""
    with write_transaction():
        won = (
            UserMfa.update(
                totp_secret=pending,
                totp_pending=None,
                totp_enabled_at=now(),
                last_used_step=step,
                failures=0,
                locked_until=None,
                updated_at=now(),
            )
            .where(
                (UserMfa.user == user_id)
                & (UserMfa.tenant == tenant_id)
                & (UserMfa.totp_pending == pending)
                & (UserMfa.last_used_step.is_null() | (UserMfa.last_used_step < step))
            )
            .execute()
        )
        if won == 1:
            _bump_user(tenant_id, user_id)
    return bool(won == 1)


def consume_step(tenant_id: int, user_id: str, active: str, step: int) -> bool:
    """Accept a TOTP step of the active secret once (RFC 6238 §5.2): only a step later than the
    last accepted one moves ``last_used_step``; of parallel requests exactly one wins. A success
    resets the failure counter and lock."""
    with write_transaction():
        won = (
            UserMfa.update(last_used_step=step, failures=0, locked_until=None, updated_at=now())
            .where(
                (UserMfa.user == user_id)
                & (UserMfa.tenant == tenant_id)
                & (UserMfa.totp_secret == active)
                & (UserMfa.last_used_step.is_null() | (UserMfa.last_used_step < step))
            )
            .execute()
        )
    return bool(won == 1)


def take_attempt(
    tenant_id: int, user_id: str, max_failures: int, delays: list[int], hard_limit: int | None = None
) -> Attempt:
    """Reserve one code evaluation, before evaluating it.

    The counter goes up first and a success resets it, so under parallel guessing at most
    ``max_failures`` codes are evaluated before the lock: the increment is one UPDATE guarded by
    "not locked", which the database serializes across workers. Reaching the threshold locks for
    ``delays[failures - max_failures]`` seconds (the last delay repeats: growing delays, capped).
    """
    stamp = now()
    with write_transaction():
        _ensure_row(tenant_id, user_id)
        taken = (
            UserMfa.update(failures=UserMfa.failures + 1, updated_at=stamp)
            .where(
                (UserMfa.user == user_id)
                & (UserMfa.tenant == tenant_id)
                & (UserMfa.locked_until.is_null() | (UserMfa.locked_until <= stamp))
            )
            .execute()
        )
        row = _row(tenant_id, user_id)
        assert row is not None
        if taken != 1:
            until = row.locked_until or stamp
            if until >= HARD_LOCK_UNTIL:
                return Attempt(False, row.failures, hard_locked=True)
            wait = max(1, int((until - stamp).total_seconds() + 0.999))
            return Attempt(False, row.failures, retry_after=wait)
        locked_now = False
        if hard_limit is not None and row.failures >= hard_limit:
            UserMfa.update(locked_until=HARD_LOCK_UNTIL).where(UserMfa.user == user_id).execute()
            locked_now = True
        elif row.failures >= max_failures:
            delay = delays[min(row.failures - max_failures, len(delays) - 1)]
            UserMfa.update(locked_until=stamp + timedelta(seconds=delay)).where(UserMfa.user == user_id).execute()
            locked_now = True
        return Attempt(True, row.failures, locked_now=locked_now)


def reset_failures(tenant_id: int, user_id: str) -> None:
    with write_transaction():
        UserMfa.update(failures=0, locked_until=None, updated_at=now()).where(
            (UserMfa.user == user_id) & (UserMfa.tenant == tenant_id)
        ).execute()


def clear_totp(tenant_id: int, user_id: str) -> bool:
    """Remove the active and pending secrets; True when there was an active one. The failure
    counter goes too: the caller proved a full sign-in (a bearer token) to get here."""
    with write_transaction():
        row = _row(tenant_id, user_id)
        had = row is not None and row.totp_secret is not None
        UserMfa.update(
            totp_secret=None, totp_pending=None, totp_enabled_at=None, failures=0, locked_until=None, updated_at=now()
        ).where((UserMfa.user == user_id) & (UserMfa.tenant == tenant_id)).execute()
        if had:
            _bump_user(tenant_id, user_id)
    return had


def replace_backup_codes(tenant_id: int, user_id: str, digests: list[str]) -> None:
    """A new set replaces the old one entirely: every old code stops working at once."""
    stamp = now()
    with write_transaction():
        _ensure_row(tenant_id, user_id)
        MfaBackupCode.delete().where((MfaBackupCode.user == user_id) & (MfaBackupCode.tenant == tenant_id)).execute()
        MfaBackupCode.insert_many(
            [{"tenant": tenant_id, "user": user_id, "digest": d, "created_at": stamp} for d in digests]
        ).execute()
        _bump_user(tenant_id, user_id)


def delete_backup_codes(tenant_id: int, user_id: str) -> bool:
    with write_transaction():
        removed = (
            MfaBackupCode.delete()
            .where((MfaBackupCode.user == user_id) & (MfaBackupCode.tenant == tenant_id))
            .execute()
        )
        if removed:
            _bump_user(tenant_id, user_id)
    return bool(removed)


def use_backup_code(tenant_id: int, user_id: str, digest: str) -> str:
    """Spend a backup code: "used" (this call spent it), "spent" (it was used before) or "unknown".
    Compare-and-set on ``used_at``, so of parallel uses exactly one succeeds."""
    stamp = now()
    with write_transaction():
        won = (
            MfaBackupCode.update(used_at=stamp)
            .where(
                (MfaBackupCode.user == user_id)
                & (MfaBackupCode.tenant == tenant_id)
                & (MfaBackupCode.digest == digest)
                & MfaBackupCode.used_at.is_null()
            )
            .execute()
        )
        if won == 1:
            UserMfa.update(failures=0, locked_until=None, updated_at=stamp).where(UserMfa.user == user_id).execute()
            _bump_user(tenant_id, user_id)
            return "used"
    exists = MfaBackupCode.get_or_none(
        (MfaBackupCode.user == user_id) & (MfaBackupCode.tenant == tenant_id) & (MfaBackupCode.digest == digest)
    )
    return "spent" if exists is not None else "unknown"


def set_enabled_authenticators(tenant_id: int, user_id: str, value: str | None) -> None:
    with write_transaction():
        _ensure_row(tenant_id, user_id)
        UserMfa.update(enabled_authenticators=value, updated_at=now()).where(UserMfa.user == user_id).execute()


# -- the sign-in page's second step ---------------------------------------------------------------


@dataclass(frozen=True)
class ChallengeRecord:
    id_hash: str
    tenant_id: int
    user_id: str
    client_id: str
    attempts: int
    expires_at: datetime


def create_challenge(tenant_id: int, user_id: str, client_id: str, id_hash: str, seconds: int) -> None:
    stamp = now()
    with write_transaction():
        MfaChallenge.create(
            id_hash=id_hash,
            tenant=tenant_id,
            user=user_id,
            client_id=client_id,
            created_at=stamp,
            expires_at=stamp + timedelta(seconds=seconds),
        )
        # Old rows are useless after expiry; sweeping here keeps the table small without a job.
        MfaChallenge.delete().where(MfaChallenge.expires_at < stamp - timedelta(hours=1)).execute()


def find_challenge(tenant_id: int, id_hash: str) -> ChallengeRecord | None:
    row = MfaChallenge.get_or_none(
        (MfaChallenge.id_hash == id_hash)
        & (MfaChallenge.tenant == tenant_id)
        & MfaChallenge.completed_at.is_null()
        & (MfaChallenge.expires_at > now())
    )
    if row is None:
        return None
    return ChallengeRecord(
        row.id_hash,
        row.tenant_id,  # type: ignore[attr-defined]
        row.user_id,  # type: ignore[attr-defined]
        row.client_id,
        row.attempts,
        row.expires_at,
    )


def count_challenge_attempt(id_hash: str, limit: int) -> bool:
    """One more answer to this challenge; False (and the challenge ends) past ``limit``."""
    with write_transaction():
        taken = (
            MfaChallenge.update(attempts=MfaChallenge.attempts + 1)
            .where(
                (MfaChallenge.id_hash == id_hash)
                & MfaChallenge.completed_at.is_null()
                & (MfaChallenge.attempts < limit)
            )
            .execute()
        )
        if taken != 1:
            MfaChallenge.update(completed_at=now()).where(MfaChallenge.id_hash == id_hash).execute()
    return bool(taken == 1)


def complete_challenge(id_hash: str) -> bool:
    """End the challenge; True for the one request that ended it."""
    with write_transaction():
        won = (
            MfaChallenge.update(completed_at=now())
            .where((MfaChallenge.id_hash == id_hash) & MfaChallenge.completed_at.is_null())
            .execute()
        )
    return bool(won == 1)

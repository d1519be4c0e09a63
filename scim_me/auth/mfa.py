"""The MFA rules, shared by the self-service API and the sign-in page.

- Secrets are generated here, sealed with the master key (AES-256-GCM, bound to the tenant and
  user, ``scim_me.crypto``) and only then stored; backup codes are stored as HMAC-SHA-256 digests
  keyed by a key derived from the master key, so a dump of the database alone holds neither.
- Every code check first reserves an attempt on the user's shared failure counter
  (``storage.mfa.take_attempt``): while the MFA lock holds, no code is evaluated at all.
- A TOTP code is accepted once per step (RFC 6238 §5.2), atomically across workers.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import time
from dataclasses import dataclass

from scim_me.config import Settings
from scim_me.core import otp
from scim_me.crypto import SealError
from scim_me.crypto import seal
from scim_me.crypto import unseal
from scim_me.storage import mfa as store
from scim_me.storage import passkeys as passkey_store
from scim_me.storage.db import write_transaction
from scim_me.storage.events import Actor
from scim_me.storage.events import record_event

log = logging.getLogger("scim_me.mfa")


@dataclass(frozen=True)
class Verdict:
    """``ok`` with the method that passed ("totp" or "backup_code"), or why not:
    "wrong", "replayed", "spent" (backup code used before), "locked" (for ``retry_after`` s),
    "hard_locked" (until an operator unlocks it), "not_enrolled"."""

    ok: bool
    reason: str
    method: str | None = None
    retry_after: int = 0


def policy(settings: Settings) -> otp.TotpPolicy:
    return otp.TotpPolicy(settings.totp_digits, settings.totp_algorithm, settings.totp_period)


def lock_delays(settings: Settings) -> list[int]:
    """1, 2, 4, ... times ``mfa_lock_seconds``, capped at ``mfa_lock_max_seconds``."""
    delays: list[int] = []
    delay = settings.mfa_lock_seconds
    while delay < settings.mfa_lock_max_seconds:
        delays.append(delay)
        delay *= 2
    delays.append(settings.mfa_lock_max_seconds)
    return delays


def _context(tenant_id: int, user_id: str) -> str:
    return f"mfa-totp:{tenant_id}:{user_id}"


def _seal(settings: Settings, tenant_id: int, user_id: str, secret: str) -> str:
    return seal(settings.master_key(), secret.encode("ascii"), _context(tenant_id, user_id))


def _unseal(settings: Settings, tenant_id: int, user_id: str, sealed: str) -> str:
    # A value that does not open with this key fails closed: SealError propagates as a 500 and
    # the code is refused, never accepted (security.md T-MFA-6).
    return unseal(settings.master_key(), sealed, _context(tenant_id, user_id)).decode("ascii")


def _backup_key(settings: Settings) -> bytes:
    return hmac.new(settings.master_key(), b"scim-me backup codes v1", hashlib.sha256).digest()


def backup_digest(settings: Settings, tenant_id: int, user_id: str, code: str) -> str:
    """Keyed digest of a normalized backup code, bound to its user (same code, other user: other digest)."""
    message = f"{tenant_id}:{user_id}:{code}".encode()
    return hmac.new(_backup_key(settings), message, hashlib.sha256).hexdigest()


# -- enrolment ------------------------------------------------------------------------------------


def pending_secret(settings: Settings, tenant_id: int, user_id: str, *, fresh: bool) -> str:
    """The pending secret, plain, for the enrolment response. ``fresh`` (INIT/REFRESH) always
    makes a new one; otherwise an existing pending secret is reused. The active secret is never
    returned: once enrolled it does not leave the server (a stolen token must not be able to
    clone the authenticator); asking again starts a new pending enrolment that only a VALIDATE
    makes active."""
    sealed = _seal(settings, tenant_id, user_id, otp.new_secret())
    stored = store.set_pending(tenant_id, user_id, sealed, only_if_none=not fresh)
    return _unseal(settings, tenant_id, user_id, stored)


def provisioning_uri(settings: Settings, tenant_name: str, user_name: str, secret: str) -> str:
    issuer = settings.totp_issuer or tenant_name
    return otp.provisioning_uri(secret, user_name, issuer, policy(settings))


def _attempt(settings: Settings, tenant_id: int, user_id: str) -> store.Attempt:
    return store.take_attempt(
        tenant_id, user_id, settings.mfa_max_failures, lock_delays(settings), settings.mfa_hard_lock_failures
    )


def _locked(attempt: store.Attempt) -> Verdict:
    if attempt.hard_locked:
        return Verdict(False, "hard_locked")
    return Verdict(False, "locked", retry_after=attempt.retry_after)


def _failed(
    tenant_id: int, user_id: str, ctx: Actor, reason: str, attempt: store.Attempt, kind: str = "mfa.totp.failure"
) -> Verdict:
    with write_transaction():  # the failure and the lock it causes: both in the history, or neither
        ctx.record(tenant_id, user_id, kind, {"channel": ctx.channel, "reason": reason})
        if attempt.locked_now:
            ctx.record(tenant_id, user_id, "mfa.locked", {"channel": ctx.channel, "failures": attempt.failures})
    return Verdict(False, reason)


def validate_enrolment_or_code(
    settings: Settings, tenant_id: int, user_id: str, code: str, ctx: Actor, *, at: float | None = None
) -> Verdict:
    """The API's VALIDATE: against the pending secret when there is one (success activates it and
    consumes the step, so the enrolment code cannot also be the first sign-in's code), else
    against the active one."""
    secrets_ = store.sealed_secrets(tenant_id, user_id)
    if secrets_.pending is None and secrets_.active is None:
        return Verdict(False, "not_enrolled")
    attempt = _attempt(settings, tenant_id, user_id)
    if not attempt.allowed:
        return _locked(attempt)
    now = time.time() if at is None else at
    if secrets_.pending is not None:
        secret = _unseal(settings, tenant_id, user_id, secrets_.pending)
        step = otp.matching_step(secret, code, now, policy(settings))
        if step is None:
            return _failed(tenant_id, user_id, ctx, "wrong", attempt)
        with write_transaction():  # the factor is on exactly when its event is recorded
            if store.promote_pending(tenant_id, user_id, secrets_.pending, step):
                ctx.record(tenant_id, user_id, "mfa.totp.enrolled", {"channel": ctx.channel})
                return Verdict(True, "ok", "totp")
        return _failed(tenant_id, user_id, ctx, "replayed", attempt)
    return _check_active(settings, tenant_id, user_id, secrets_.active, code, ctx, now, attempt)


def _check_active(
    settings: Settings,
    tenant_id: int,
    user_id: str,
    active: str | None,
    code: str,
    ctx: Actor,
    now: float,
    attempt: store.Attempt,
) -> Verdict:
    assert active is not None
    secret = _unseal(settings, tenant_id, user_id, active)
    step = otp.matching_step(secret, code, now, policy(settings))
    if step is None:
        return _failed(tenant_id, user_id, ctx, "wrong", attempt)
    with write_transaction():  # the accepted step and its event
        if store.consume_step(tenant_id, user_id, active, step):
            ctx.record(tenant_id, user_id, "mfa.totp.validated", {"channel": ctx.channel})
            return Verdict(True, "ok", "totp")
    return _failed(tenant_id, user_id, ctx, "replayed", attempt)


# A factor's change and its event (with what listens to it in its transaction: the notice, the
# alert, the trusted devices revoked) commit together: a change nobody is told of, or that leaves
# trusted devices skipping a removed factor, cannot happen; nor can a retry find the change done
# and record nothing.


def disable_totp(tenant_id: int, user_id: str, ctx: Actor) -> None:
    with write_transaction():
        if store.clear_totp(tenant_id, user_id):
            ctx.record(tenant_id, user_id, "mfa.totp.disabled")


# -- backup codes ---------------------------------------------------------------------------------


def regenerate_backup_codes(settings: Settings, tenant_id: int, user_id: str, ctx: Actor) -> list[str]:
    codes = otp.new_backup_codes(settings.backup_code_count, settings.backup_code_length)
    digests = [backup_digest(settings, tenant_id, user_id, c) for c in codes]
    with write_transaction():
        store.replace_backup_codes(tenant_id, user_id, digests)
        ctx.record(tenant_id, user_id, "mfa.backup_codes.generated", {"count": len(codes)})
    return codes


def remove_backup_codes(tenant_id: int, user_id: str, ctx: Actor) -> None:
    with write_transaction():
        if store.delete_backup_codes(tenant_id, user_id):
            ctx.record(tenant_id, user_id, "mfa.backup_codes.removed")


def operator_reset(tenant_id: int, user_id: str, *, unlock_only: bool) -> None:
    """``scim-me user mfa-unlock`` / ``mfa-reset``: the recovery path for a locked user or a lost
    authenticator without backup codes (ASVS 6.4.4: an operator process). The caller holds one
    transaction around it and the passkeys' reset, so a reset is whole or not at all."""
    store.reset_failures(tenant_id, user_id)
    if unlock_only:
        record_event(tenant_id, user_id, "account.unlocked", details={"by": "operator", "scope": "mfa"})
        return
    if store.clear_totp(tenant_id, user_id):
        record_event(tenant_id, user_id, "mfa.totp.disabled", details={"by": "operator"})
    if store.delete_backup_codes(tenant_id, user_id):
        record_event(tenant_id, user_id, "mfa.backup_codes.removed", details={"by": "operator"})


# -- sign-in --------------------------------------------------------------------------------------


def required(tenant_id: int, user_id: str) -> bool:
    """Whether signing in needs a second factor: an active (validated) TOTP or a passkey. A
    pending secret never gates sign-in; backup codes stand in for the TOTP, they are not a factor
    of their own (a user whose last backup code is spent must not be locked out, nor silently
    downgraded)."""
    return store.get_state(tenant_id, user_id).totp_active or passkey_store.count_passkeys(tenant_id, user_id) > 0


@dataclass(frozen=True)
class Answer:
    """A second-factor answer whose attempt is reserved: a TOTP ``code`` or a ``backup`` code
    (both None: not a well-formed answer of either kind)."""

    tenant_id: int
    user_id: str
    code: str | None
    backup: str | None
    attempt: store.Attempt


def reserve_second_factor(settings: Settings, tenant_id: int, user_id: str, answer: str) -> Answer | Verdict:
    """Count an attempt at the user's second factor, before anything is evaluated: the count
    commits on its own, so neither a failure later in the caller's transaction nor parallel
    answers can evaluate codes past the lock. A Verdict when no code may be evaluated."""
    state = store.get_state(tenant_id, user_id)
    if not state.totp_active:
        return Verdict(False, "not_enrolled")
    try:
        code: str | None = otp.normalize_code(answer, settings.totp_digits)
    except otp.CodeFormatError:
        code = None
    backup = None if code is not None else otp.normalize_backup_code(answer, settings.backup_code_length)
    attempt = _attempt(settings, tenant_id, user_id)
    if not attempt.allowed:
        return _locked(attempt)
    return Answer(tenant_id, user_id, code, backup, attempt)


def check_second_factor(settings: Settings, answer: Answer, ctx: Actor, *, at: float | None = None) -> Verdict:
    """Evaluate a reserved answer: a TOTP code of the active secret, or one of the user's backup
    codes, spent (and its event recorded) in the caller's transaction, if it has one, so that
    the spend commits with what it lets the user do."""
    tenant_id, user_id, attempt = answer.tenant_id, answer.user_id, answer.attempt
    now = time.time() if at is None else at
    if answer.code is not None:
        active = store.sealed_secrets(tenant_id, user_id).active
        if active is None:  # disabled meanwhile
            return Verdict(False, "not_enrolled")
        return _check_active(settings, tenant_id, user_id, active, answer.code, ctx, now, attempt)
    if answer.backup is None:
        return _failed(tenant_id, user_id, ctx, "wrong", attempt)
    with write_transaction():  # the spend and its event
        outcome = store.use_backup_code(tenant_id, user_id, backup_digest(settings, tenant_id, user_id, answer.backup))
        if outcome == "used":
            remaining = store.get_state(tenant_id, user_id).backup_codes_remaining
            ctx.record(tenant_id, user_id, "mfa.backup_codes.used", {"remaining": remaining})
            return Verdict(True, "ok", "backup_code")
    return _failed(tenant_id, user_id, ctx, "spent" if outcome == "spent" else "wrong", attempt)


def verify_second_factor(
    settings: Settings, tenant_id: int, user_id: str, answer: str, ctx: Actor, *, at: float | None = None
) -> Verdict:
    """:func:`reserve_second_factor` then :func:`check_second_factor`."""
    reserved = reserve_second_factor(settings, tenant_id, user_id, answer)
    if isinstance(reserved, Verdict):
        return reserved
    return check_second_factor(settings, reserved, ctx, at=at)


__all__ = ["Answer", "SealError", "Verdict"]

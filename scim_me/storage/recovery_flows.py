"""Account-recovery flows: one row per flow, holding only digests of its codes.

Every step is a compare-and-set on the row's current code digest (``UPDATE ... WHERE id = ? AND
<code>_hash = ?``), so a code works once even when requests race on several workers: the loser
changes zero rows. A step that moves the flow on clears the digests of the codes it spent.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from scim_me.storage.db import write_transaction
from scim_me.storage.models import RecoveryFlow
from scim_me.storage.users import now

# kinds
PASSWORD = "password"
USERNAME = "username"
FORCED = "forced"  # an administrator's forced reset: a mailed link that holds the reset code
EXPIRED = "expired"  # a sign-in with an expired password: the change page holds the reset code
INVITE = "invite"  # an administrator's invitation (askPassword): a mailed link to choose the first password
# A new account's address to confirm (an administrator's verifyEmail): a mailed code that
# confirms it and lifts the account's hold; it ends in no password, so it is not a reset kind.
VERIFY_EMAIL = "verify_email"
# The same for an account registered through self-registration (WSO2's SELF_SIGN_UP scenario):
# its own kind, so the confirmation is recorded and mailed as the self sign-up it is.
SELF_SIGN_UP = "self_sign_up"
# The kinds whose code confirms a new account's address (only the latest of a user's works).
CONFIRM_KINDS = (VERIFY_EMAIL, SELF_SIGN_UP)
# The kinds whose code ends in a new password.
RESET_KINDS = (PASSWORD, FORCED, EXPIRED, INVITE)
# steps
INIT = "init"  # recoveryCode handed out, nothing mailed yet
NOTIFIED = "notified"  # the code was mailed; flowConfirmationCode + code → confirmed
CONFIRMED = "confirmed"  # resetCode handed out
DONE = "done"


@dataclass(frozen=True)
class FlowRecord:
    id: str
    tenant_id: int
    user_id: str | None
    account_key: str
    kind: str
    step: str
    recovery_code_hash: str | None
    flow_code_hash: str | None
    resend_code_hash: str | None
    reset_code_hash: str | None
    otp_hash: str | None
    attempts: int
    return_to: str | None
    created_at: datetime
    expires_at: datetime

    def expired(self, at: datetime) -> bool:
        return self.expires_at <= at


def _record(row: RecoveryFlow) -> FlowRecord:
    return FlowRecord(
        id=row.id,
        tenant_id=row.tenant_id,  # type: ignore[attr-defined]
        user_id=row.user_id,  # type: ignore[attr-defined]
        account_key=row.account_key,
        kind=row.kind,
        step=row.step,
        recovery_code_hash=row.recovery_code_hash,
        flow_code_hash=row.flow_code_hash,
        resend_code_hash=row.resend_code_hash,
        reset_code_hash=row.reset_code_hash,
        otp_hash=row.otp_hash,
        attempts=row.attempts,
        return_to=row.return_to,
        created_at=row.created_at,
        expires_at=row.expires_at,
    )


def new_flow_id() -> str:
    return str(uuid.uuid4())


def create_flow(
    tenant_id: int,
    user_id: str | None,
    account_key: str,
    kind: str,
    step: str,
    *,
    expires_at: datetime,
    flow_id: str | None = None,
    ip: str = "",
    return_to: str | None = None,
    **digests: str | None,
) -> str:
    """Store a new flow with the digests given (``recovery_code_hash=...``); returns its id."""
    flow_id = flow_id or new_flow_id()
    with write_transaction():
        RecoveryFlow.create(
            id=flow_id,
            tenant=tenant_id,
            user=user_id,
            account_key=account_key,
            kind=kind,
            step=step,
            created_at=now(),
            expires_at=expires_at,
            ip=ip[:64],
            return_to=return_to,
            **digests,
        )
    return flow_id


def find_flow(tenant_id: int, **digest: str) -> FlowRecord | None:
    """The tenant's flow whose ``<name>_hash`` is the one digest given."""
    ((name, value),) = digest.items()
    row = RecoveryFlow.get_or_none((RecoveryFlow.tenant == tenant_id) & (getattr(RecoveryFlow, name) == value))
    return _record(row) if row else None


def get_flow(flow_id: str) -> FlowRecord | None:
    row = RecoveryFlow.get_or_none(RecoveryFlow.id == flow_id)
    return _record(row) if row else None


def advance(flow: FlowRecord, guard: str, expected: str | None, **changes: Any) -> bool:
    """Apply ``changes`` if the flow's ``guard`` digest is still ``expected``; True for the one
    request that did (a spent or superseded code changes nothing)."""
    column = getattr(RecoveryFlow, guard)
    condition = (RecoveryFlow.id == flow.id) & (column.is_null() if expected is None else column == expected)
    with write_transaction():
        changed = RecoveryFlow.update(**changes).where(condition).execute()
    return bool(changed == 1)


def count_attempt(flow: FlowRecord) -> int:
    """One more wrong code for this flow; returns the count."""
    with write_transaction():
        RecoveryFlow.update(attempts=RecoveryFlow.attempts + 1).where(RecoveryFlow.id == flow.id).execute()
    row = RecoveryFlow.get_or_none(RecoveryFlow.id == flow.id)
    return int(row.attempts) if row else 0


def has_live_flow(tenant_id: int, user_id: str, kinds: tuple[str, ...], at: datetime) -> bool:
    """Whether the user has a flow of ``kinds`` whose code still works at ``at``."""
    query = RecoveryFlow.select(RecoveryFlow.id).where(
        (RecoveryFlow.tenant == tenant_id)
        & (RecoveryFlow.user == user_id)
        & RecoveryFlow.kind.in_(kinds)
        & (RecoveryFlow.expires_at > at)
    )
    return bool(query.exists())


def end_flows(tenant_id: int, user_id: str, kinds: tuple[str, ...], *, keep: str | None = None) -> int:
    """Kill the user's flows of ``kinds`` (all their codes), but ``keep``: only the latest works."""
    query = RecoveryFlow.delete().where(
        (RecoveryFlow.tenant == tenant_id) & (RecoveryFlow.user == user_id) & RecoveryFlow.kind.in_(kinds)
    )
    if keep:
        query = query.where(RecoveryFlow.id != keep)
    with write_transaction():
        return int(query.execute())


def end_unowned_flows(tenant_id: int, account_key: str, kinds: tuple[str, ...], *, keep: str) -> int:
    """The same for flows with nobody behind them, by what was typed: a decoy flow supersedes the
    earlier decoys of the same name exactly as a real one does (same statement, same rows)."""
    query = RecoveryFlow.delete().where(
        (RecoveryFlow.tenant == tenant_id)
        & RecoveryFlow.user.is_null()
        & (RecoveryFlow.account_key == account_key)
        & RecoveryFlow.kind.in_(kinds)
        & (RecoveryFlow.id != keep)
    )
    with write_transaction():
        return int(query.execute())

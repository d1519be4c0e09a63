"""Pending e-mail changes: one row per user (``user_id`` is unique), replaced by a newer request.
Only the SHA-256 digest of the verification code is stored.

Redeeming is ``DELETE ... WHERE id = ? AND code_hash = ?`` inside the transaction that applies the
change: of two concurrent redemptions exactly one deletes the row, so a code works once.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime

from scim_me.core.email_change import RequestedChange
from scim_me.storage.models import EmailChange


@dataclass(frozen=True)
class PendingChange:
    id: str
    tenant_id: int
    user_id: str
    change: RequestedChange
    code_hash: str
    created_at: datetime
    expires_at: datetime


def _pending(row: EmailChange) -> PendingChange:
    return PendingChange(
        id=row.id,
        tenant_id=row.tenant_id,  # type: ignore[attr-defined]
        user_id=row.user_id,  # type: ignore[attr-defined]
        change=RequestedChange(
            address=row.address,
            email_type=row.email_type,
            make_primary=row.make_primary,
            flagged_primary=row.flagged_primary,
            removes=tuple(json.loads(row.removes or "[]")),
            previous=row.previous,
        ),
        code_hash=row.code_hash,
        created_at=row.created_at,
        expires_at=row.expires_at,
    )


def put_change(
    tenant_id: int,
    user_id: str,
    change: RequestedChange,
    code_hash: str,
    *,
    created_at: datetime,
    expires_at: datetime,
    ip: str = "",
    user_agent: str = "",
) -> str:
    """Store ``change`` as the user's pending change, replacing (cancelling) any earlier one.
    Call inside the write transaction that stores ``pendingEmails``."""
    change_id = str(uuid.uuid4())
    replaced = {
        EmailChange.id: change_id,
        EmailChange.address: change.address,
        EmailChange.email_type: change.email_type,
        EmailChange.make_primary: change.make_primary,
        EmailChange.flagged_primary: change.flagged_primary,
        EmailChange.removes: json.dumps(list(change.removes)),
        EmailChange.previous: change.previous,
        EmailChange.code_hash: code_hash,
        EmailChange.created_at: created_at,
        EmailChange.expires_at: expires_at,
        EmailChange.ip: ip[:64],
        EmailChange.user_agent: user_agent[:512],
    }
    # An upsert, not delete + insert: two concurrent requests cannot both insert (PostgreSQL would
    # answer the second with a unique violation). The row gets a new id, so the old code is dead.
    EmailChange.insert({**replaced, EmailChange.tenant: tenant_id, EmailChange.user: user_id}).on_conflict(
        conflict_target=[EmailChange.user], update=replaced
    ).execute()
    return change_id


def find_for_user(tenant_id: int, user_id: str) -> PendingChange | None:
    row = EmailChange.get_or_none((EmailChange.tenant == tenant_id) & (EmailChange.user == user_id))
    return _pending(row) if row else None


def find_by_code_hash(code_hash: str) -> PendingChange | None:
    row = EmailChange.get_or_none(EmailChange.code_hash == code_hash)
    return _pending(row) if row else None


def take(pending: PendingChange) -> bool:
    """Delete ``pending`` if it is still the same request with the same code; True for the one
    caller that did."""
    query = EmailChange.delete().where((EmailChange.id == pending.id) & (EmailChange.code_hash == pending.code_hash))
    return bool(query.execute() == 1)


def replace_code(pending: PendingChange, code_hash: str, expires_at: datetime) -> bool:
    """A fresh code (and expiry) for the same change; the old code stops working."""
    query = EmailChange.update(code_hash=code_hash, expires_at=expires_at).where(
        (EmailChange.id == pending.id) & (EmailChange.code_hash == pending.code_hash)
    )
    return bool(query.execute() == 1)


def cancel(tenant_id: int, user_id: str) -> bool:
    query = EmailChange.delete().where((EmailChange.tenant == tenant_id) & (EmailChange.user == user_id))
    return bool(query.execute() == 1)

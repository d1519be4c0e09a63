"""Previous password hashes, kept only as far back as the tenant's history rule looks."""

from __future__ import annotations

from datetime import datetime

from scim_me.storage.db import write_transaction
from scim_me.storage.models import PasswordHistory


def recent_hashes(tenant_id: int, user_id: str, limit: int) -> list[str]:
    """The user's ``limit`` most recent previous hashes, newest first."""
    if limit <= 0:
        return []
    query = (
        PasswordHistory.select(PasswordHistory.password_hash)
        .where((PasswordHistory.tenant == tenant_id) & (PasswordHistory.user == user_id))
        .order_by(PasswordHistory.created_at.desc(), PasswordHistory.id.desc())
        .limit(limit)
    )
    return [row.password_hash for row in query]


def remember(tenant_id: int, user_id: str, old_hash: str | None, keep: int, at: datetime) -> None:
    """Store the hash a password change replaced and forget what lies beyond ``keep`` entries.
    With ``keep`` 0 (no history rule) every stored hash of the user is dropped: old hashes are
    kept no longer than a rule needs them."""
    with write_transaction():
        if keep > 0 and old_hash:
            PasswordHistory.create(tenant=tenant_id, user=user_id, password_hash=old_hash, created_at=at)
        mine = (PasswordHistory.tenant == tenant_id) & (PasswordHistory.user == user_id)
        kept = [
            row.id
            for row in PasswordHistory.select(PasswordHistory.id)
            .where(mine)
            .order_by(PasswordHistory.created_at.desc(), PasswordHistory.id.desc())
            .limit(max(keep, 0))
        ]
        stale = PasswordHistory.delete().where(mine)
        if kept:
            stale = stale.where(PasswordHistory.id.not_in(kept))
        stale.execute()

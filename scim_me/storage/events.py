"""The account's security history: sign-ins, failures, lockouts, password, MFA, consent and
email changes. Every feature records what it did here; the security-overview API, the data
export and the lockout counters read it back.

Kinds are short dotted names (``signin.success``, ``mfa.totp.enrolled``, ...); ``KINDS`` lists
the ones in use so the API can document them. Details never hold secrets.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from scim_me.storage.db import write_transaction
from scim_me.storage.models import SecurityEvent
from scim_me.storage.users import now

KINDS: frozenset[str] = frozenset(
    {
        "signin.success",
        "signin.failure",
        "signin.locked",
        "account.locked",
        "account.unlocked",
        "password.changed",
        "password.reset",
        "mfa.totp.enrolled",
        "mfa.totp.validated",
        "mfa.totp.disabled",
        "mfa.totp.failure",
        "mfa.backup_codes.generated",
        "mfa.backup_codes.used",
        "mfa.backup_codes.removed",
        "mfa.locked",
        "consent.given",
        "consent.revoked",
        "app.revoked",
        "session.ended",
        "data.exported",
        "email.change_requested",
        "email.changed",
        "profile.updated",
    }
)


@dataclass(frozen=True)
class EventRecord:
    id: int
    user_id: str
    kind: str
    occurred_at: datetime
    ip: str
    user_agent: str
    client_id: str | None
    details: dict[str, Any]


def _record(row: SecurityEvent) -> EventRecord:
    return EventRecord(
        id=row.id,
        user_id=row.user_id,  # type: ignore[attr-defined]
        kind=row.kind,
        occurred_at=row.occurred_at,
        ip=row.ip,
        user_agent=row.user_agent,
        client_id=row.client_id,
        details=json.loads(row.details or "{}"),
    )


def record_event(
    tenant_id: int,
    user_id: str,
    kind: str,
    *,
    ip: str = "",
    user_agent: str = "",
    client_id: str | None = None,
    details: dict[str, Any] | None = None,
    at: datetime | None = None,
) -> None:
    """Append one event. Unknown kinds are a programming error, refused loudly."""
    if kind not in KINDS:
        raise ValueError(f"unknown security event kind {kind!r}")
    with write_transaction(SecurityEvent._meta.database):
        SecurityEvent.create(
            tenant=tenant_id,
            user=user_id,
            kind=kind,
            occurred_at=at or now(),
            ip=ip[:64],
            user_agent=user_agent[:512],
            client_id=client_id,
            details=json.dumps(details or {}, sort_keys=True),
        )


def list_events(
    tenant_id: int,
    user_id: str,
    *,
    limit: int = 50,
    offset: int = 0,
    kinds: frozenset[str] | None = None,
    since: datetime | None = None,
) -> list[EventRecord]:
    """The user's events, newest first."""
    query = SecurityEvent.select().where((SecurityEvent.tenant == tenant_id) & (SecurityEvent.user == user_id))
    if kinds:
        query = query.where(SecurityEvent.kind.in_(sorted(kinds)))
    if since is not None:
        query = query.where(SecurityEvent.occurred_at >= since)
    query = query.order_by(SecurityEvent.occurred_at.desc(), SecurityEvent.id.desc()).limit(limit).offset(offset)
    return [_record(row) for row in query]


def count_events(
    tenant_id: int, user_id: str, *, kinds: frozenset[str] | None = None, since: datetime | None = None
) -> int:
    query = SecurityEvent.select().where((SecurityEvent.tenant == tenant_id) & (SecurityEvent.user == user_id))
    if kinds:
        query = query.where(SecurityEvent.kind.in_(sorted(kinds)))
    if since is not None:
        query = query.where(SecurityEvent.occurred_at >= since)
    return int(query.count())

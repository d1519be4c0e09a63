"""The account's security history: sign-ins, failures, lockouts, password, MFA, consent and
email changes. Every feature records what it did here; the security-overview API, the data
export and the lockout counters read it back.

Kinds are short dotted names (``signin.success``, ``mfa.totp.enrolled``, ...); ``KINDS`` lists
the ones in use so the API can document them (docs/security-events.md). Details never hold secrets.

Listeners (``subscribe``) react to events, e.g. the notification mails: they run only after the
transaction that recorded the event commits, so a rolled-back change never mails anyone, and a
failing listener never fails the write (it is logged). A listener subscribed ``in_transaction``
(security alerts, revoking trusted devices) runs inside the recording transaction instead: what
it writes commits or rolls back with the event, and its failure fails the change.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import peewee

from scim_me.storage.db import after_commit
from scim_me.storage.db import write_transaction
from scim_me.storage.models import SecurityEvent
from scim_me.storage.users import now

KINDS: frozenset[str] = frozenset(
    {
        "signin.success",
        "signin.failure",
        "signin.locked",
        "signin.new_device",
        "signin.new_network",
        "account.locked",
        "account.unlocked",
        "account.created",
        "account.disabled",
        "account.enabled",
        "group.joined",
        "group.left",
        "password.changed",
        "password.reset",
        "password.reset_required",
        "password.set",
        "mfa.totp.enrolled",
        "mfa.totp.validated",
        "mfa.totp.disabled",
        "mfa.totp.failure",
        "mfa.backup_codes.generated",
        "mfa.backup_codes.used",
        "mfa.backup_codes.removed",
        "mfa.locked",
        "mfa.passkey.registered",
        "mfa.passkey.renamed",
        "mfa.passkey.removed",
        "mfa.passkey.validated",
        "mfa.passkey.failure",
        "consent.given",
        "consent.revoked",
        "app.revoked",
        "session.ended",
        "device.trusted",
        "device.revoked",
        "data.exported",
        "email.change_requested",
        "email.changed",
        "email.verified",
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


Listener = Callable[[int, EventRecord], None]
# name -> (kinds, listener); keyed by name so building the app again (tests) replaces, not doubles.
_LISTENERS: dict[str, tuple[frozenset[str], Listener]] = {}
_IN_TRANSACTION: dict[str, tuple[frozenset[str], Listener]] = {}


def subscribe(name: str, kinds: frozenset[str] | set[str], listener: Listener, *, in_transaction: bool = False) -> None:
    """Call ``listener(tenant_id, event)`` after the commit of every recorded event of ``kinds``;
    ``in_transaction``: inside the transaction that records it, right after the row."""
    unknown = set(kinds) - KINDS
    if unknown:
        raise ValueError(f"unknown security event kinds {sorted(unknown)}")
    (_IN_TRANSACTION if in_transaction else _LISTENERS)[name] = (frozenset(kinds), listener)


def unsubscribe(name: str) -> None:
    _LISTENERS.pop(name, None)
    _IN_TRANSACTION.pop(name, None)


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


@dataclass(frozen=True)
class Actor:
    """Who acted, as the security history records it: the client's address and user agent, the
    OAuth client, and the channel the factor events name (``api``, ``signin``, ``cli``)."""

    ip: str = ""
    user_agent: str = ""
    client_id: str | None = None
    channel: str = "api"

    def record(self, tenant_id: int, user_id: str, kind: str, details: dict[str, Any] | None = None) -> None:
        """A security event of ``user_id``, with this actor as who did it."""
        record_event(
            tenant_id, user_id, kind, ip=self.ip, user_agent=self.user_agent, client_id=self.client_id, details=details
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
) -> EventRecord:
    """Append one event and return it. Unknown kinds are a programming error, refused loudly."""
    if kind not in KINDS:
        raise ValueError(f"unknown security event kind {kind!r}")
    with write_transaction():
        row = SecurityEvent.create(
            tenant=tenant_id,
            user=user_id,
            kind=kind,
            occurred_at=at or now(),
            ip=ip[:64],
            user_agent=user_agent[:512],
            client_id=client_id,
            details=json.dumps(details or {}, sort_keys=True),
        )
        event = _record(row)
        for kinds, listener in list(_IN_TRANSACTION.values()):
            if kind in kinds:
                listener(tenant_id, event)
        for kinds, listener in list(_LISTENERS.values()):
            if kind in kinds:
                after_commit(lambda listener=listener: listener(tenant_id, event))  # type: ignore[misc]
    return event


def _filtered(
    tenant_id: int, user_id: str, kinds: frozenset[str] | None, since: datetime | None, until: datetime | None
) -> peewee.ModelSelect[SecurityEvent]:
    query = SecurityEvent.select().where((SecurityEvent.tenant == tenant_id) & (SecurityEvent.user == user_id))
    if kinds:
        query = query.where(SecurityEvent.kind.in_(sorted(kinds)))
    if since is not None:
        query = query.where(SecurityEvent.occurred_at >= since)
    if until is not None:
        query = query.where(SecurityEvent.occurred_at < until)
    return query


def list_events(
    tenant_id: int,
    user_id: str,
    *,
    limit: int = 50,
    offset: int = 0,
    kinds: frozenset[str] | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    before: tuple[datetime, int] | None = None,
) -> list[EventRecord]:
    """The user's events, newest first. ``before`` (the time and id of the last event of the
    previous page) is keyset paging: stable while new events arrive, unlike ``offset``."""
    query = _filtered(tenant_id, user_id, kinds, since, until)
    if before is not None:
        at, event_id = before
        query = query.where(
            (SecurityEvent.occurred_at < at) | ((SecurityEvent.occurred_at == at) & (SecurityEvent.id < event_id))
        )
    query = query.order_by(SecurityEvent.occurred_at.desc(), SecurityEvent.id.desc()).limit(limit).offset(offset)
    return [_record(row) for row in query]


def count_events(
    tenant_id: int,
    user_id: str,
    *,
    kinds: frozenset[str] | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> int:
    return int(_filtered(tenant_id, user_id, kinds, since, until).count())

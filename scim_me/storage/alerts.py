"""Security alerts (``security_alerts``): the events a user should look at, with whether they did.

An alert is raised once per occurrence: its ``dedupe_key`` is unique (``event:{id}`` for an alert
of one event, ``failed_signins:{first failure id}`` for a burst), and a second insert of the same
key is ignored, not an error, so two workers raising the same alert at once leave one row and
never fail the change that raised it. Acknowledging keeps the row (the history).
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import peewee

from scim_me.storage.db import write_transaction
from scim_me.storage.grants import digest
from scim_me.storage.models import SecurityAlert
from scim_me.storage.users import now


@dataclass(frozen=True)
class AlertRecord:
    id: str
    user_id: str
    type: str
    raised_at: datetime
    acknowledged_at: datetime | None
    ip: str
    user_agent: str
    event_id: int | None
    details: dict[str, Any]


def _record(row: SecurityAlert) -> AlertRecord:
    return AlertRecord(
        id=row.id,
        user_id=row.user_id,  # type: ignore[attr-defined]
        type=row.type,
        raised_at=row.raised_at,
        acknowledged_at=row.acknowledged_at,
        ip=row.ip,
        user_agent=row.user_agent,
        event_id=row.event_id,
        details=json.loads(row.details or "{}"),
    )


def insert_alert(
    tenant_id: int,
    user_id: str,
    alert_type: str,
    dedupe_key: str,
    *,
    event_id: int | None = None,
    ip: str = "",
    user_agent: str = "",
    details: dict[str, Any] | None = None,
    at: datetime | None = None,
    action_code: str | None = None,
    action_expires_at: datetime | None = None,
) -> str | None:
    """Raise one alert; its id, or None when this occurrence was already raised."""
    alert_id = str(uuid.uuid4())
    with write_transaction():
        (
            SecurityAlert.insert(
                id=alert_id,
                tenant=tenant_id,
                user=user_id,
                type=alert_type,
                dedupe_key=dedupe_key[:128],
                event_id=event_id,
                raised_at=at or now(),
                ip=ip[:64],
                user_agent=user_agent[:512],
                details=json.dumps(details or {}, sort_keys=True),
                action_hash=digest(action_code) if action_code else None,
                action_expires_at=action_expires_at,
            )
            .on_conflict_ignore()
            .execute()
        )
        # What an ignored INSERT answers differs (SQLite: a stale rowid; PostgreSQL: None), so ask.
        exists = SecurityAlert.select(SecurityAlert.id).where(SecurityAlert.id == alert_id).exists()
    return alert_id if exists else None


def _mine(tenant_id: int, user_id: str) -> peewee.Expression:
    return (SecurityAlert.tenant == tenant_id) & (SecurityAlert.user == user_id)


def list_alerts(tenant_id: int, user_id: str, *, limit: int, offset: int) -> list[AlertRecord]:
    """Unacknowledged first, then newest first."""
    acknowledged = peewee.Case(None, [(SecurityAlert.acknowledged_at.is_null(), 0)], 1)
    query = (
        SecurityAlert.select()
        .where(_mine(tenant_id, user_id))
        .order_by(acknowledged, SecurityAlert.raised_at.desc(), SecurityAlert.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return [_record(row) for row in query]


def count_alerts(tenant_id: int, user_id: str, *, unacknowledged_only: bool = False) -> int:
    query = SecurityAlert.select().where(_mine(tenant_id, user_id))
    if unacknowledged_only:
        query = query.where(SecurityAlert.acknowledged_at.is_null())
    return int(query.count())


def get_alert(tenant_id: int, user_id: str, alert_id: str) -> AlertRecord | None:
    if len(alert_id) > 36:
        return None
    row = SecurityAlert.get_or_none(_mine(tenant_id, user_id) & (SecurityAlert.id == alert_id))
    return _record(row) if row is not None else None


def acknowledge(tenant_id: int, user_id: str, alert_id: str) -> AlertRecord | None:
    """Mark the user's alert acknowledged (the first time counts); None when it is not theirs."""
    with write_transaction():
        SecurityAlert.update(acknowledged_at=now()).where(
            _mine(tenant_id, user_id) & (SecurityAlert.id == alert_id) & SecurityAlert.acknowledged_at.is_null()
        ).execute()
        return get_alert(tenant_id, user_id, alert_id)


def find_by_action(tenant_id: int, code: str) -> AlertRecord | None:
    """The alert whose "this wasn't me" link holds ``code``, while the link is valid."""
    if not code or len(code) > 128:
        return None
    row = SecurityAlert.get_or_none(
        (SecurityAlert.tenant == tenant_id)
        & (SecurityAlert.action_hash == digest(code))
        & (SecurityAlert.action_expires_at > now())
    )
    return _record(row) if row is not None else None


def attach_action(dedupe_key: str, code: str, expires_at: datetime) -> bool:
    """Give the alert of ``dedupe_key`` a "this wasn't me" link code (only its digest is kept)."""
    with write_transaction():
        changed = (
            SecurityAlert.update(action_hash=digest(code), action_expires_at=expires_at)
            .where(SecurityAlert.dedupe_key == dedupe_key)
            .execute()
        )
    return bool(changed)


def spend_action(alert_id: str) -> bool:
    """Use the link once: True for the request that spent it."""
    with write_transaction():
        changed = (
            SecurityAlert.update(
                action_hash=None,
                action_expires_at=None,
                acknowledged_at=peewee.fn.COALESCE(SecurityAlert.acknowledged_at, now()),
            )
            .where((SecurityAlert.id == alert_id) & SecurityAlert.action_hash.is_null(False))
            .execute()
        )
    return bool(changed)

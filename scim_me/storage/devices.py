"""Trusted devices (``trusted_devices``): browsers that skip the second factor until they expire
or are revoked. Only the digest of the cookie's token is stored; revoking deletes the row, so the
next sign-in from that browser, on any worker, asks for the second factor again."""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime
from datetime import timedelta

from scim_me.storage.db import write_transaction
from scim_me.storage.grants import digest
from scim_me.storage.models import TrustedDevice
from scim_me.storage.models import UserSession
from scim_me.storage.users import now


@dataclass(frozen=True)
class DeviceRecord:
    id: str
    user_id: str
    name: str
    user_agent: str
    created_at: datetime
    last_used_at: datetime
    last_ip: str
    expires_at: datetime


def _record(row: TrustedDevice) -> DeviceRecord:
    return DeviceRecord(
        id=row.id,
        user_id=row.user_id,  # type: ignore[attr-defined]
        name=row.name,
        user_agent=row.user_agent,
        created_at=row.created_at,
        last_used_at=row.last_used_at,
        last_ip=row.last_ip,
        expires_at=row.expires_at,
    )


def add_device(
    tenant_id: int, user_id: str, name: str, user_agent: str, ip: str, lifetime: timedelta
) -> tuple[DeviceRecord, str]:
    """Trust a device; return it and the cookie's token (only its digest is stored)."""
    token = secrets.token_urlsafe(32)
    stamp = now()
    with write_transaction():
        row = TrustedDevice.create(
            id=str(uuid.uuid4()),
            tenant=tenant_id,
            user=user_id,
            token_hash=digest(token),
            name=name[:255],
            user_agent=user_agent[:512],
            created_at=stamp,
            last_used_at=stamp,
            last_ip=ip[:64],
            expires_at=stamp + lifetime,
        )
    return _record(row), token


def find_device(tenant_id: int, user_id: str, token: str) -> DeviceRecord | None:
    """The user's live device of this cookie token."""
    if not token or len(token) > 128:
        return None
    row = TrustedDevice.get_or_none(
        (TrustedDevice.token_hash == digest(token))
        & (TrustedDevice.tenant == tenant_id)
        & (TrustedDevice.user == user_id)
        & (TrustedDevice.expires_at > now())
    )
    return _record(row) if row is not None else None


def touch_device(device_id: str, ip: str) -> None:
    with write_transaction():
        TrustedDevice.update(last_used_at=now(), last_ip=ip[:64]).where(TrustedDevice.id == device_id).execute()


def list_devices(tenant_id: int, user_id: str) -> list[DeviceRecord]:
    """The user's live devices, most recently used first."""
    query = (
        TrustedDevice.select()
        .where(
            (TrustedDevice.tenant == tenant_id) & (TrustedDevice.user == user_id) & (TrustedDevice.expires_at > now())
        )
        .order_by(TrustedDevice.last_used_at.desc(), TrustedDevice.id)
    )
    return [_record(row) for row in query]


def has_devices(tenant_id: int, user_id: str) -> bool:
    query = TrustedDevice.select(TrustedDevice.id).where(
        (TrustedDevice.tenant == tenant_id) & (TrustedDevice.user == user_id)
    )
    return bool(query.exists())


def revoke_device(tenant_id: int, user_id: str, device_id: str) -> bool:
    """Revoke one of the user's live devices; False when there is none of that id."""
    if len(device_id) > 36:
        return False
    with write_transaction():
        deleted = (
            TrustedDevice.delete()
            .where(
                (TrustedDevice.id == device_id)
                & (TrustedDevice.tenant == tenant_id)
                & (TrustedDevice.user == user_id)
                & (TrustedDevice.expires_at > now())
            )
            .execute()
        )
    return bool(deleted)


def revoke_all(tenant_id: int, user_id: str) -> int:
    with write_transaction():
        return int(
            TrustedDevice.delete()
            .where((TrustedDevice.tenant == tenant_id) & (TrustedDevice.user == user_id))
            .execute()
        )


def attach_to_session(session_id: str, device_id: str) -> None:
    """The session's browser holds this device: revoking the device ends the session."""
    with write_transaction():
        UserSession.update(device_id=device_id).where(UserSession.id == session_id).execute()


def sessions_of(tenant_id: int, user_id: str, device_ids: list[str] | None) -> list[str]:
    """The live sessions of the user's browsers holding these devices (all of them: None)."""
    query = UserSession.select(UserSession.id).where(
        (UserSession.tenant == tenant_id)
        & (UserSession.user == user_id)
        & UserSession.ended_at.is_null()
        & UserSession.device_id.is_null(False)
    )
    if device_ids is not None:
        query = query.where(UserSession.device_id.in_(device_ids))
    return [row.id for row in query]

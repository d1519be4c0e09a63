"""Tenants and their per-tenant settings (dialect, self-registration, self-delete, ...)."""

from __future__ import annotations

import json
import re
from dataclasses import asdict
from dataclasses import dataclass
from dataclasses import replace
from datetime import UTC
from datetime import datetime
from typing import Any

import peewee

from scim_me.storage.models import Tenant

DIALECTS = ("wso2", "rfc")
SELF_REGISTRATION_MODES = ("off", "open", "scope")
_NAME = re.compile(r"^[a-z0-9](?:[a-z0-9.-]{0,253}[a-z0-9])?$")


class TenantError(ValueError):
    """A tenant name or setting is invalid, or the tenant already exists."""


@dataclass(frozen=True)
class TenantSettings:
    """What a tenant's operator can switch; defaults are the safe ones."""

    self_registration: str = "off"
    self_delete: bool = False
    password_update_in_me: bool = True
    # Whether /scim2/Me accepts this tenant's own access tokens; off when an external issuer
    # (storage/external_issuers.py) is the only one this tenant trusts.
    accept_local_tokens: bool = True

    @classmethod
    def from_json(cls, text: str) -> TenantSettings:
        raw: dict[str, Any] = json.loads(text or "{}")
        known = {k: v for k, v in raw.items() if k in cls.__dataclass_fields__}
        return cls(**known)

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)


@dataclass(frozen=True)
class TenantRecord:
    id: int
    name: str
    dialect: str
    settings: TenantSettings


def _record(row: Tenant) -> TenantRecord:
    return TenantRecord(row.id, row.name, row.dialect, TenantSettings.from_json(row.settings))


def check_name(name: str) -> str:
    lowered = name.strip().lower()
    if not _NAME.match(lowered):
        raise TenantError(f"invalid tenant name {name!r}: use lower-case letters, digits, '.' and '-'")
    return lowered


def create_tenant(name: str, dialect: str = "wso2", settings: TenantSettings | None = None) -> TenantRecord:
    if dialect not in DIALECTS:
        raise TenantError(f"dialect must be one of {', '.join(DIALECTS)}")
    settings = settings or TenantSettings()
    validate_settings(settings)
    try:
        row = Tenant.create(
            name=check_name(name),
            dialect=dialect,
            settings=settings.to_json(),
            created_at=datetime.now(UTC).replace(tzinfo=None),
        )
    except peewee.IntegrityError as exc:
        raise TenantError(f"tenant {name!r} already exists") from exc
    return _record(row)


def validate_settings(settings: TenantSettings) -> None:
    if settings.self_registration not in SELF_REGISTRATION_MODES:
        raise TenantError(f"self_registration must be one of {', '.join(SELF_REGISTRATION_MODES)}")


def find_tenant(name: str) -> TenantRecord | None:
    lowered = name.lower()
    if not _NAME.fullmatch(lowered):
        # Every stored name passed check_name. The name comes from the URL (/t/{name}/...), so it
        # may hold anything, NUL included, which PostgreSQL refuses with an error, not a miss.
        return None
    row = Tenant.get_or_none(Tenant.name == lowered)
    return _record(row) if row else None


def list_tenants() -> list[TenantRecord]:
    return [_record(row) for row in Tenant.select().order_by(Tenant.name)]


def update_tenant(name: str, *, dialect: str | None = None, **changes: Any) -> TenantRecord:
    current = find_tenant(name)
    if current is None:
        raise TenantError(f"no tenant {name!r}")
    settings = replace(current.settings, **{k: v for k, v in changes.items() if v is not None})
    validate_settings(settings)
    new_dialect = dialect or current.dialect
    if new_dialect not in DIALECTS:
        raise TenantError(f"dialect must be one of {', '.join(DIALECTS)}")
    Tenant.update(dialect=new_dialect, settings=settings.to_json()).where(Tenant.id == current.id).execute()
    return TenantRecord(current.id, current.name, new_dialect, settings)

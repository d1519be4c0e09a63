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
CHANGE_PASSWORD_SCOPES = ("internal_login", "internal_user_password_update")
RECOVERY_API_AUTH = ("client", "anonymous")
_POLICY_COUNTS = (
    "password_min_length",
    "password_max_length",
    "password_min_upper",
    "password_min_lower",
    "password_min_digits",
    "password_min_special",
    "password_min_unique",
    "password_max_repeated",
    "password_history_count",
    "password_min_age_hours",
    "password_max_age_days",
)
_SESSION_LIFETIMES = ("session_idle_minutes", "session_absolute_hours")
# max_auth_age when a tenant has not chosen one. WSO2 has no such check, so a wso2 tenant behaves
# as WSO2 does; an rfc tenant gets the recommended 5 minutes (security.md T-MFA-9 / T-AC-4, the
# figure OWASP ASVS 7.5 re-authentication guidance and most identity providers use).
STEP_UP_DEFAULTS = {"wso2": 0, "rfc": 300}
_NAME = re.compile(r"^[a-z0-9](?:[a-z0-9.-]{0,253}[a-z0-9])?$")


class TenantError(ValueError):
    """A tenant name or setting is invalid, or the tenant already exists."""


@dataclass(frozen=True)
class TenantSettings:
    """What a tenant's operator can switch; defaults are the safe ones."""

    self_registration: str = "off"
    # A self-registered account (POST /scim2/Me) is held until the user confirms the e-mail address
    # with a mailed code (accountState PENDING_SR), as WSO2's self sign-up "lock on creation", on by
    # default there too; off, the account signs in at once (services/self_registration.py).
    self_registration_confirm: bool = True
    self_delete: bool = False
    password_update_in_me: bool = True
    # Whether /scim2/Me accepts this tenant's own access tokens; off when an external issuer
    # (storage/external_issuers.py) is the only one this tenant trusts.
    accept_local_tokens: bool = True
    # WSO2 "email verification on update": a new address waits for its mailed code (docs/email-change.md).
    verify_email_on_update: bool = False
    # Password policy (core/password_policy.py). 0 for a length means the server-wide default
    # (password_min_length / password_max_length); 0 for a count or an age turns the rule off.
    password_min_length: int = 0
    password_max_length: int = 0
    password_min_upper: int = 0
    password_min_lower: int = 0
    password_min_digits: int = 0
    password_min_special: int = 0
    password_min_unique: int = 0
    password_max_repeated: int = 0
    password_blocklist: bool = True
    password_context_words: bool = True
    password_history_count: int = 0
    password_min_age_hours: int = 0
    password_max_age_days: int = 0
    # The scope POST /api/users/v1/me/change-password needs: WSO2's dedicated
    # internal_user_password_update, or internal_login (which then also accepts the former).
    change_password_scope: str = "internal_login"
    # Sign-in sessions (storage/sessions.py) end after this long without use (a browser visit
    # or a refresh under one of their grants), and this long after the sign-in however much
    # they are used. NIST SP 800-63B-4 AAL2 allows at most 1 h of inactivity; 12 h absolute is
    # the stricter Rev. 3 figure. Keep the idle lifetime at least the access token lifetime, or
    # an app that only refreshes finds its session idle.
    session_idle_minutes: int = 60
    session_absolute_hours: int = 12
    # Account recovery (docs/account-recovery.md). Who may call /api/users/v2/recovery/*:
    # "client" (WSO2's default: a bearer token with internal_user_recovery_create, e.g. an app's
    # client_credentials token) or "anonymous" (anybody; the sign-in page's recovery pages never
    # need either). WSO2's "notify user existence": off, every answer is the same whether the
    # account exists or not; on, an unknown or unusable account is told (404 UAR-10002).
    password_recovery: bool = True
    username_recovery: bool = True
    recovery_api_auth: str = "client"
    notify_user_existence: bool = False
    # Users whose ``roles`` name this role are the tenant's administrators: HTTP Basic gives them
    # the admin scopes (core/accounts.ADMIN_SCOPES), and only their user tokens may carry them.
    admin_role: str = "admin"
    # RFC 9470 step-up: disabling MFA, removing or regenerating backup codes, changing the
    # e-mail address and self-delete need a sign-in at most this many seconds old (the token's
    # auth_time). None: the dialect's default (STEP_UP_DEFAULTS); 0: no such check.
    max_auth_age: int | None = None
    # WSO2's read-only user store (e.g. a read-only LDAP): every user reads ``isReadOnlyUser``
    # true and no profile or password change is accepted (services/read_only.py).
    read_only_user_store: bool = False
    # Trusted devices (docs/trusted-devices.md): at the second-factor step a user may tick "trust
    # this device", and sign-ins from that browser skip the second factor for this many days
    # (fixed from the moment it was trusted, at most 365). 0, the default, turns the feature off:
    # skipping a factor is a choice the tenant's operator makes, not one a user makes for them.
    trusted_device_days: int = 0

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

    @property
    def max_auth_age(self) -> int:
        """Seconds a sign-in stays recent enough for the step-up actions; 0 when off."""
        chosen = self.settings.max_auth_age
        return STEP_UP_DEFAULTS.get(self.dialect, 0) if chosen is None else chosen

    def __hash__(self) -> int:
        # Part of the key of every cached /Me body: hashing all the settings once per record (a
        # worker keeps it for tenant_cache_seconds), not on every request.
        cached: int | None = self.__dict__.get("_hash")
        if cached is None:
            cached = hash((self.id, self.name, self.dialect, self.settings))
            object.__setattr__(self, "_hash", cached)
        return cached


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
    if settings.change_password_scope not in CHANGE_PASSWORD_SCOPES:
        raise TenantError(f"change_password_scope must be one of {', '.join(CHANGE_PASSWORD_SCOPES)}")
    if settings.recovery_api_auth not in RECOVERY_API_AUTH:
        raise TenantError(f"recovery_api_auth must be one of {', '.join(RECOVERY_API_AUTH)}")
    for name in _POLICY_COUNTS:
        value = getattr(settings, name)
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise TenantError(f"{name} must be an integer >= 0")
    for name in _SESSION_LIFETIMES:
        value = getattr(settings, name)
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise TenantError(f"{name} must be an integer >= 1")
    if not isinstance(settings.admin_role, str) or len(settings.admin_role) > 255:
        raise TenantError("admin_role must be a role name of at most 255 characters")
    age = settings.max_auth_age
    if age is not None and (not isinstance(age, int) or isinstance(age, bool) or age < 0):
        raise TenantError("max_auth_age must be an integer >= 0 (seconds; 0 turns step-up off)")
    days = settings.trusted_device_days
    if not isinstance(days, int) or isinstance(days, bool) or not 0 <= days <= 365:
        raise TenantError("trusted_device_days must be an integer from 0 (off) to 365")
    if settings.password_max_length > 1024:
        raise TenantError("password_max_length must be at most 1024")
    if settings.password_max_length and settings.password_min_length > settings.password_max_length:
        raise TenantError("password_min_length must not exceed password_max_length")


def get_tenant(tenant_id: int) -> TenantRecord | None:
    row = Tenant.get_or_none(Tenant.id == tenant_id)
    return _record(row) if row else None


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

"""The one function every path that sets a password goes through (SCIM PATCH/PUT/POST /Me, the
change-password API, the CLI): it applies the tenant's password policy
(``core/password_policy.py``) and returns the argon2id hash to store; and the one function that
records what a change replaced (password history).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from scim_me.auth.blocklist import common_passwords
from scim_me.config import Settings
from scim_me.core.password_policy import PasswordPolicy
from scim_me.core.password_policy import check_new_password
from scim_me.core.password_policy import context_words
from scim_me.core.password_policy import expiry_time
from scim_me.core.passwords import HashParams
from scim_me.core.passwords import hash_password
from scim_me.core.passwords import verify_password
from scim_me.core.recovery import reset_forced
from scim_me.storage.password_history import recent_hashes
from scim_me.storage.password_history import remember
from scim_me.storage.tenants import TenantRecord
from scim_me.storage.tenants import TenantSettings
from scim_me.storage.users import StoredUser
from scim_me.storage.users import now

# "the name of the service" (NIST SP 800-63B §5.1.1.2 context-specific words)
SERVICE_WORDS = ("scim-me", "scimme")


# policy_for runs for every /Me body (the password expiry attributes): the policy of a tenant's
# settings object, kept while that object (cached per worker) and the server settings are the same.
_POLICIES: dict[int, tuple[TenantSettings, Settings, PasswordPolicy]] = {}


def policy_for(tenant_settings: TenantSettings, settings: Settings) -> PasswordPolicy:
    cached = _POLICIES.get(id(tenant_settings))
    if cached is not None and cached[0] is tenant_settings and cached[1] is settings:
        return cached[2]
    policy = _policy(tenant_settings, settings)
    if len(_POLICIES) >= 256:
        _POLICIES.clear()
    _POLICIES[id(tenant_settings)] = (tenant_settings, settings, policy)  # holding it keeps the id unique
    return policy


def _policy(tenant_settings: TenantSettings, settings: Settings) -> PasswordPolicy:
    ts = tenant_settings
    min_length = ts.password_min_length or settings.password_min_length
    max_length = max(ts.password_max_length or settings.password_max_length, min_length)
    return PasswordPolicy(
        min_length=min_length,
        max_length=max_length,
        min_upper=ts.password_min_upper,
        min_lower=ts.password_min_lower,
        min_digits=ts.password_min_digits,
        min_special=ts.password_min_special,
        min_unique=ts.password_min_unique,
        max_repeated=ts.password_max_repeated,
        blocklist=ts.password_blocklist,
        context_words=ts.password_context_words,
        history_count=ts.password_history_count,
        min_age=timedelta(hours=ts.password_min_age_hours),
        max_age=timedelta(days=ts.password_max_age_days),
    )


def profile_emails(profile: dict[str, Any]) -> list[str]:
    """E-mail addresses of a stored or submitted profile (objects, or WSO2's bare strings)."""
    found: list[str] = []
    for item in profile.get("emails") or []:
        value = item.get("value") if isinstance(item, dict) else item
        if isinstance(value, str):
            found.append(value)
    return found


def new_password_hash(
    tenant: TenantRecord,
    settings: Settings,
    params: HashParams,
    password: object,
    *,
    user_name: str | None,
    profile: dict[str, Any],
    user: StoredUser | None = None,
    user_initiated: bool = True,
) -> str:
    """Check ``password`` against the tenant's policy and hash it.

    ``user`` is the account whose password is replaced (None when one is created): its current
    and previous hashes feed the history rule, its last change the minimum-age rule, which only
    binds the user (``user_initiated``), never an administrator resetting the password.
    Raises :class:`~scim_me.core.password_policy.PolicyViolation`.
    """
    policy = policy_for(tenant.settings, settings)
    words = context_words(user_name, profile_emails(profile))
    words += SERVICE_WORDS

    def reused(normalized: str) -> bool:
        if user is None:
            return False
        candidates = [user.password_hash, *recent_hashes(tenant.id, user.id, policy.history_count - 1)]
        # Every candidate is checked (no early exit), so the time taken says nothing about which.
        matches = [verify_password(normalized, h, params) for h in candidates if h]
        return any(matches)

    normalized = check_new_password(
        password,
        policy,
        words=words,
        blocklist=common_passwords(settings.password_blocklist_file) if policy.blocklist else frozenset(),
        changed_at=user.password_changed_at if user else None,
        now=now(),
        enforce_min_age=user_initiated and user is not None,
        reused=reused,
    )
    return hash_password(normalized, params)


def password_replaced(tenant: TenantRecord, settings: Settings, previous: StoredUser) -> None:
    """After a password change: keep the replaced hash as far back as the history rule looks."""
    keep = max(policy_for(tenant.settings, settings).history_count - 1, 0)
    remember(tenant.id, previous.id, previous.password_hash, keep, now())


def must_change_password(settings: Settings, tenant: TenantRecord, user: StoredUser) -> str | None:
    """Why a correct password may not sign in: ``forced`` (an administrator's forced reset,
    WSO2's ``forcePasswordReset``) or ``expired`` (the tenant's maximum age); None when it may.
    Pure reads of the user row already loaded: no query."""
    if reset_forced(user.profile):
        return "forced"
    expires = expiry_time(user.password_changed_at, policy_for(tenant.settings, settings))
    if expires is not None and expires <= now():
        return "expired"
    return None

"""Account state an administrator sets and every sign-in path obeys: whether an account is
disabled, and whether a user holds the tenant's administrator role.

Both read the stored profile only, so the hot path decides them from the user row it already
loaded (storage/caller.py), without a query.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from scim_me.core.schemas import WSO2_URN

# What an administrator may do through /scim2/Users, /Groups and /Bulk (WSO2's scope names).
USER_SCOPES = (
    "internal_user_mgt_create",
    "internal_user_mgt_list",
    "internal_user_mgt_view",
    "internal_user_mgt_update",
    "internal_user_mgt_delete",
)
GROUP_SCOPES = (
    "internal_group_mgt_create",
    "internal_group_mgt_list",
    "internal_group_mgt_view",
    "internal_group_mgt_update",
    "internal_group_mgt_delete",
)
BULK_SCOPE = "internal_bulk_resource_create"
ADMIN_SCOPES = frozenset((*USER_SCOPES, *GROUP_SCOPES, BULK_SCOPE))


def is_disabled(profile: Mapping[str, Any]) -> bool:
    """RFC 7643 §4.1.1 ``active`` false, or WSO2's ``accountDisabled`` true: no sign-in, no token."""
    if profile.get("active") is False:
        return True
    wso2 = profile.get(WSO2_URN)
    return isinstance(wso2, Mapping) and wso2.get("accountDisabled") is True


def is_read_only_user(store_read_only: bool, profile: Mapping[str, Any]) -> bool:
    """WSO2's ``isReadOnlyUser``: the tenant's user store is read-only (a tenant setting), or the
    user was provisioned read-only (``isReadOnlyUser`` stored in the WSO2 extension, which only
    the operator's ``scim-me user create --read-only`` writes: the attribute is readOnly)."""
    if store_read_only:
        return True
    extension = profile.get(WSO2_URN)
    return isinstance(extension, Mapping) and extension.get("isReadOnlyUser") in (True, "true")


def holds_role(profile: Mapping[str, Any], role: str) -> bool:
    """Whether the profile's ``roles`` name ``role`` (by ``value`` or ``display``, any case)."""
    if not role:
        return False
    wanted = role.casefold()
    for item in profile.get("roles") or []:
        names = (item.get("value"), item.get("display")) if isinstance(item, Mapping) else (item,)
        if any(isinstance(name, str) and name.casefold() == wanted for name in names):
            return True
    return False


def admin_scopes_for(profile: Mapping[str, Any], admin_role: str, scope: str | None) -> str | None:
    """``scope`` without the admin scopes unless the profile holds the tenant's admin role."""
    if not scope or holds_role(profile, admin_role):
        return scope
    return " ".join(s for s in scope.split() if s not in ADMIN_SCOPES)


def lock_key(tenant_id: int, name_key: str) -> str:
    """The key of an account's failed-password counter (storage/throttle.py): a digest of the
    tenant and the folded userName (``user_name_key``), so an unknown name locks alike. The list
    statement of /scim2/Users computes the same in SQL (storage/caller.py ``lock_key_sql``)."""
    raw = f"account\0{tenant_id}\0{name_key}"
    return hashlib.sha256(raw.encode("utf-8", "surrogatepass")).hexdigest()


def take_account_locked(profile: dict[str, Any]) -> bool | None:
    """An administrator's ``accountLocked`` (``urn:scim:wso2:schema``), taken out of ``profile``:
    the lock lives in the lockout table, never in the profile (it is shown from there). True or
    False when the write names it, None when it does not (a PUT that leaves it out changes no
    lock)."""
    extension = profile.get(WSO2_URN)
    if not isinstance(extension, dict) or "accountLocked" not in extension:
        return None
    rest = {name: value for name, value in extension.items() if name != "accountLocked"}
    if rest:
        profile[WSO2_URN] = rest
    else:
        del profile[WSO2_URN]
    return extension["accountLocked"] is True

"""The one place a password is checked against a stored hash: the sign-in page, the password
grant and HTTP Basic on /Me all come here, so throttling, lockout and the security history
apply to every channel alike.
"""

from __future__ import annotations

from scim_me.core.passwords import HashParams
from scim_me.core.passwords import verify_password
from scim_me.storage.events import record_event
from scim_me.storage.users import StoredUser

CHANNELS = frozenset({"signin", "password_grant", "basic", "change_password"})


def verify_login(
    tenant_id: int,
    user: StoredUser | None,
    password: str,
    params: HashParams,
    *,
    channel: str,
    ip: str = "",
    user_agent: str = "",
    client_id: str | None = None,
    record_success: bool = True,
) -> StoredUser | None:
    """Return ``user`` when ``password`` is theirs, else None. An unknown user still costs one
    hash (``verify_password`` runs a dummy), so timing does not reveal which names exist."""
    if channel not in CHANNELS:
        raise ValueError(f"unknown login channel {channel!r}")
    ok = verify_password(password, user.password_hash if user else None, params)
    if user is None:
        return None
    if not ok:
        record_event(
            tenant_id,
            user.id,
            "signin.failure",
            ip=ip,
            user_agent=user_agent,
            client_id=client_id,
            details={"channel": channel},
        )
        return None
    if record_success:
        record_event(
            tenant_id,
            user.id,
            "signin.success",
            ip=ip,
            user_agent=user_agent,
            client_id=client_id,
            details={"channel": channel},
        )
    return user

"""An account's row in the lockout table, written as the lockout code leaves it, for tests that
start from a locked account (storage/throttle.py)."""

from __future__ import annotations

from typing import Any

from scim_me.storage.models import LoginThrottle
from scim_me.storage.tenants import TenantRecord
from scim_me.storage.throttle import account_key
from scim_me.storage.users import now


def lock_row(app: Any, tenant: TenantRecord, user_name: str, **columns: Any) -> None:
    """The account's throttle row with ``columns`` (``failures``, ``locked_until``,
    ``hard_locked``)."""
    with app.extensions["scim_me"].db.connection_context():
        LoginThrottle.create(
            key=account_key(tenant.id, user_name),
            kind="account",
            tenant_id=tenant.id,
            window_start=now(),
            updated_at=now(),
            **columns,
        )

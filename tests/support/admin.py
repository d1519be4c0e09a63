"""Helpers for the admin SCIM endpoints (/scim2/Users, /Groups, /Bulk): an administrator
holding the tenant's admin role, and client_credentials tokens with WSO2's admin scopes."""

from __future__ import annotations

from typing import Any

from scim_me.core.accounts import ADMIN_SCOPES
from scim_me.storage.events import list_events
from scim_me.storage.tenants import TenantRecord
from scim_me.storage.users import StoredUser
from tests.factories import basic
from tests.factories import bearer
from tests.factories import make_token
from tests.factories import make_user

PASSWORD = "correct-horse-9"
ALL_ADMIN = " ".join(sorted(ADMIN_SCOPES))
USER_URN = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_URN = "urn:ietf:params:scim:schemas:core:2.0:Group"
ENTERPRISE_URN = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
LIST_URN = "urn:ietf:params:scim:api:messages:2.0:ListResponse"


def make_admin(app: Any, tenant: TenantRecord, user_name: str = "admin") -> StoredUser:
    return make_user(app, tenant, user_name, PASSWORD, roles=[{"value": "admin", "display": "admin"}])


def admin_basic(user_name: str = "admin") -> dict[str, str]:
    return basic(user_name, PASSWORD)


def client_headers(app: Any, tenant: TenantRecord, scope: str = ALL_ADMIN) -> dict[str, str]:
    """A client_credentials token of the ``provisioner`` client (no user) with ``scope``."""
    return bearer(make_token(app, tenant, None, scope, client_id="provisioner"))


def events_of(app: Any, tenant: TenantRecord, user_id: str) -> list[Any]:
    with app.extensions["scim_me"].db.connection_context():
        return list_events(tenant.id, user_id, limit=100)


def base(tenant: TenantRecord | None) -> str:
    return f"/t/{tenant.name}" if tenant is not None else ""

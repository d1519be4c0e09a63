"""Read-only users, as WSO2 has them: a user in a read-only user store (the tenant's
``read_only_user_store`` setting) or one provisioned read-only (``scim-me user create
--read-only``).

- ``isReadOnlyUser`` (returned on request, as WSO2 My Account asks for it with
  ``attributes=urn:scim:wso2:schema.isReadOnlyUser``) comes from the tenant's settings and the
  user row already loaded: no statement of its own on ``GET /scim2/Me``. In the wso2 dialect it
  is the string ``"true"``/``"false"`` under ``urn:scim:wso2:schema``, and ``"true"`` under the
  enterprise extension too for a read-only user (WSO2's default extension file also puts it
  there, and older My Account releases read it there); My Account and the Console compare it
  with ``"true"``. In the rfc dialect it is a
  boolean, shown only for a read-only user.
- A read-only user's profile, password and account cannot be changed through any API: WSO2's
  user store refuses the write (user-core 30002). SCIM answers 400 ``mutability``
  (:class:`ReadOnlyUserError`), the change-password API ``PWD-10006``. MFA, sessions, consents
  and security history are not in the user store and stay the user's own.
"""

from __future__ import annotations

from typing import Any

from scim_me.core.accounts import is_read_only_user
from scim_me.core.schemas import ENTERPRISE_URN
from scim_me.core.schemas import WSO2_URN
from scim_me.errors import ReadOnlyUserError
from scim_me.storage.caller import UserFacts
from scim_me.storage.tenants import TenantRecord
from scim_me.storage.users import StoredUser
from scim_me.web.sections import register_user_attributes


def is_read_only(tenant: TenantRecord, user: StoredUser) -> bool:
    return is_read_only_user(tenant.settings.read_only_user_store, user.profile)


def check_writable(tenant: TenantRecord, user: StoredUser | None = None) -> None:
    """Refuse a write to ``user`` (or, without one, a new user in ``tenant``) when it is read-only."""
    if tenant.settings.read_only_user_store or (user is not None and is_read_only(tenant, user)):
        raise ReadOnlyUserError()


def _scim_attributes(tenant: TenantRecord, user: StoredUser, facts: UserFacts) -> dict[str, dict[str, Any]]:
    read_only = is_read_only(tenant, user)
    if tenant.dialect == "wso2":
        if not read_only:
            return {WSO2_URN: {"isReadOnlyUser": "false"}}
        # Under the enterprise URN only when true: a client that names the whole (standard)
        # enterprise extension is not handed a WSO2 flag; an absent value reads as not read-only.
        return {WSO2_URN: {"isReadOnlyUser": "true"}, ENTERPRISE_URN: {"isReadOnlyUser": "true"}}
    return {WSO2_URN: {"isReadOnlyUser": True}} if read_only else {}


register_user_attributes("read_only", _scim_attributes)

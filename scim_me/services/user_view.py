"""The SCIM representation of a stored user, shared by ``/scim2/Me`` and the data export."""

from __future__ import annotations

from typing import Any

from scim_me.core.schemas import SchemaRegistry
from scim_me.core.timestamps import iso
from scim_me.storage.caller import UserFacts
from scim_me.storage.caller import load_facts
from scim_me.storage.tenants import TenantRecord
from scim_me.storage.users import StoredUser
from scim_me.web.context import base_url
from scim_me.web.sections import user_attributes


def entity_tag(version: int) -> str:
    return f'W/"{version}"'


def user_location(user_id: str) -> str:
    return f"{base_url()}/scim2/Users/{user_id}"


def represent(
    user: StoredUser, tenant: TenantRecord, reg: SchemaRegistry, facts: UserFacts | None = None
) -> dict[str, Any]:
    """The full SCIM representation of a stored user, before projection. ``facts`` are those
    read with ``user`` (storage/caller.py); without them they are read now."""
    profile = user.profile
    computed = user_attributes(tenant, user, facts if facts is not None else load_facts(user))
    if computed:
        # Features' read-only state (MFA, ...) lives outside the profile; shown, never stored.
        profile = {**profile}
        for urn, values in computed.items():
            profile[urn] = {**profile.get(urn, {}), **values}
    if tenant.dialect == "wso2":
        # WSO2 lists every configured user schema, whatever the user has values for.
        schemas = reg.user_schema_ids()
    else:
        schemas = [reg.core.id, *(ext.id for ext in reg.extensions if profile.get(ext.id))]
    resource: dict[str, Any] = {"schemas": schemas, "id": user.id}
    resource.update(profile)
    resource["meta"] = {
        "resourceType": "User",
        "created": iso(user.created_at),
        "lastModified": iso(user.updated_at),
        "location": user_location(user.id),
        "version": entity_tag(user.version),
    }
    return resource

"""Tenants (``storage/tenants.py``) and lookups with hostile names on both backends.

Tenant names come from the URL and userNames from HTTP Basic: a lookup of something that can
never be stored (a NUL, an over-long name) is a miss, not a database error (PostgreSQL refuses
NUL in strings and over-long varchar values; SQLite accepts both).
"""

from __future__ import annotations

import base64
from typing import Any

import pytest

from scim_me.errors import InvalidValueError
from scim_me.storage.tenants import TenantError
from scim_me.storage.tenants import TenantSettings
from scim_me.storage.tenants import create_tenant
from scim_me.storage.tenants import find_tenant
from scim_me.storage.tenants import list_tenants
from scim_me.storage.tenants import update_tenant
from scim_me.storage.users import create_user
from scim_me.storage.users import find_user
from scim_me.storage.users import get_user
from tests.factories import make_tenant
from tests.factories import make_user

UNSTORABLE_NAMES = ["a\x00b", "\x00", "a" * 256, "acme\n"]


def test_create_find_list_update(db: Any) -> None:
    created = create_tenant("Acme", "rfc", TenantSettings(self_delete=True))
    assert (created.name, created.dialect, created.settings.self_delete) == ("acme", "rfc", True)
    assert find_tenant("ACME") == created
    with pytest.raises(TenantError, match="already exists"):
        create_tenant("acme")
    with pytest.raises(TenantError, match="invalid tenant name"):
        create_tenant("-acme")
    updated = update_tenant("acme", dialect="wso2", self_registration="open")
    assert find_tenant("acme") == updated
    assert (updated.dialect, updated.settings.self_registration, updated.settings.self_delete) == ("wso2", "open", True)
    assert [t.name for t in list_tenants()] == ["acme"]


@pytest.mark.parametrize("name", UNSTORABLE_NAMES)
def test_find_tenant_with_an_unstorable_name_is_a_miss(db: Any, name: str) -> None:
    create_tenant("acme")
    assert find_tenant(name) is None
    assert find_tenant("acme") is not None  # the connection is still usable


@pytest.mark.parametrize("name", ["ki\x00m", "k" * 256, "\u00df" * 128])  # the last folds to 256 chars
def test_user_lookups_and_creation_with_unstorable_names(db: Any, name: str) -> None:
    tenant = create_tenant("acme")
    kim = create_user(tenant.id, {"userName": "kim"}, None)
    assert find_user(tenant.id, name) is None
    assert get_user(tenant.id, name) is None
    with pytest.raises(InvalidValueError):
        create_user(tenant.id, {"userName": name}, None)
    assert find_user(tenant.id, "kim") == kim


def test_longest_storable_user_name(db: Any) -> None:
    tenant = create_tenant("acme")
    name = "K" * 255
    created = create_user(tenant.id, {"userName": name}, None)
    assert find_user(tenant.id, name.lower()) == created


def test_hostile_names_over_http_are_401_and_404_not_500(app: Any, client: Any) -> None:
    tenant = make_tenant(app, "acme")
    make_user(app, tenant, "kim")
    for user_name in ["ki\x00m", "k" * 300]:
        raw = base64.b64encode(f"{user_name}:correct-horse-9".encode()).decode()
        response = client.get("/t/acme/scim2/Me", headers={"Authorization": f"Basic {raw}"})
        assert response.status_code == 401, response.json
    assert client.get("/t/a%00b/scim2/ServiceProviderConfig").status_code == 404
    assert client.get("/t/a%00b/scim2/Me", headers={"Authorization": "Bearer x"}).status_code == 401

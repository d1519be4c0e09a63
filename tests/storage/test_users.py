"""User rows (``storage/users.py``): compare-and-set updates, tenant cascade, userName uniqueness."""

from __future__ import annotations

import os
from typing import Any

import pytest

from scim_me.auth.keys import create_signing_key
from scim_me.errors import UniquenessError
from scim_me.storage.models import SigningKey
from scim_me.storage.models import Tenant
from scim_me.storage.models import User
from scim_me.storage.tenants import create_tenant
from scim_me.storage.users import create_user
from scim_me.storage.users import delete_user
from scim_me.storage.users import find_user
from scim_me.storage.users import get_user
from scim_me.storage.users import list_users
from scim_me.storage.users import set_password_hash
from scim_me.storage.users import update_user


def test_update_user_is_compare_and_set_on_version(db: Any) -> None:
    tenant = create_tenant("acme")
    original = create_user(tenant.id, {"userName": "kim"}, "hash-1")
    assert original.version == 1

    first = update_user(original, {"userName": "kim", "displayName": "First"})
    assert first is not None
    assert first.version == 2
    written = get_user(tenant.id, original.id)
    assert written == first

    stale = update_user(original, {"userName": "kim", "displayName": "Second"}, password_hash="hash-2")
    assert stale is None
    after = get_user(tenant.id, original.id)
    assert after == written  # nothing written: profile, version, hash and timestamps as before
    assert after is not None
    assert after.profile == {"userName": "kim", "displayName": "First"}
    assert after.password_hash == "hash-1"

    second = update_user(first, {"userName": "kim", "displayName": "Second"}, password_hash="hash-2")
    assert second is not None
    assert get_user(tenant.id, original.id) == second
    assert second.version == 3
    assert second.password_hash == "hash-2"
    assert second.password_changed_at is not None


def test_update_user_never_crosses_tenants(db: Any) -> None:
    acme = create_tenant("acme")
    other = create_tenant("other")
    kim = create_user(acme.id, {"userName": "kim"}, None)
    forged = type(kim)(**{**kim.__dict__, "tenant_id": other.id})
    assert update_user(forged, {"userName": "kim", "displayName": "x"}) is None
    assert get_user(other.id, kim.id) is None
    assert get_user(acme.id, kim.id) == kim
    assert delete_user(other.id, kim.id) is False
    assert get_user(acme.id, kim.id) == kim


def test_set_password_hash_bumps_the_version(db: Any) -> None:
    tenant = create_tenant("acme")
    kim = create_user(tenant.id, {"userName": "kim"}, "hash-1")
    assert set_password_hash(tenant.id, kim.id, "hash-2") is True
    after = get_user(tenant.id, kim.id)
    assert after is not None
    assert (after.version, after.password_hash) == (2, "hash-2")
    assert update_user(kim, {"userName": "kim", "nickName": "k"}) is None  # the old ETag is stale now
    assert set_password_hash(tenant.id, "no-such-id", "hash-3") is False


def test_delete_user_with_a_stale_version_deletes_nothing(db: Any) -> None:
    tenant = create_tenant("acme")
    kim = create_user(tenant.id, {"userName": "kim"}, None)
    assert update_user(kim, {"userName": "kim", "title": "x"}) is not None
    assert delete_user(tenant.id, kim.id, version=1) is False
    assert get_user(tenant.id, kim.id) is not None
    assert delete_user(tenant.id, kim.id, version=2) is True
    assert get_user(tenant.id, kim.id) is None
    assert delete_user(tenant.id, kim.id) is False


def test_deleting_a_tenant_cascades_to_its_users_and_keys(db: Any) -> None:
    master = os.urandom(32)
    acme = create_tenant("acme")
    other = create_tenant("other")
    create_signing_key(acme.id, master, "ES256")
    create_signing_key(other.id, master, "ES256")
    for name in ("kim", "lee"):
        create_user(acme.id, {"userName": name}, None)
    survivor = create_user(other.id, {"userName": "kim"}, None)

    assert Tenant.delete().where(Tenant.id == acme.id).execute() == 1

    assert User.select().where(User.tenant == acme.id).count() == 0
    assert SigningKey.select().where(SigningKey.tenant == acme.id).count() == 0
    assert list_users(other.id) == [survivor]
    assert SigningKey.select().where(SigningKey.tenant == other.id).count() == 1


FULL_WIDTH_KIM = "\uff4b\uff49\uff4d"  # NFKC folds it to "kim"


@pytest.mark.parametrize("taken", ["kim", "KIM", "Kim", FULL_WIDTH_KIM])
def test_user_name_is_unique_per_tenant_ignoring_case(db: Any, taken: str) -> None:
    acme = create_tenant("acme")
    other = create_tenant("other")
    kim = create_user(acme.id, {"userName": "Kim"}, None)

    with pytest.raises(UniquenessError) as raised:
        create_user(acme.id, {"userName": taken}, None)
    assert raised.value.status == 409
    assert raised.value.to_dict()["scimType"] == "uniqueness"

    # The failed insert left the connection usable and wrote nothing.
    assert [u.user_name for u in list_users(acme.id)] == ["Kim"]
    assert find_user(acme.id, taken) == kim
    # Another tenant may use the same name.
    elsewhere = create_user(other.id, {"userName": taken}, None)
    assert find_user(other.id, "kim") == elsewhere
    assert get_user(acme.id, elsewhere.id) is None


def test_a_listed_user_decodes_its_profile_when_read_and_is_the_stored_user() -> None:
    """storage/user_query.py's pages hold ListedUser: the same user as user_from_row gives."""
    import dataclasses
    from datetime import datetime

    from scim_me.storage.users import listed_user_from_row
    from scim_me.storage.users import user_from_row

    stamp = datetime(2026, 1, 1, 12, 0, 0, 5)
    row = ("u1", 1, "kim", '{"userName": "kim", "emails": [{"value": "k@example.com"}]}', 3, stamp, stamp, "h", None)
    listed, stored = listed_user_from_row(row), user_from_row(row)
    assert "profile" not in vars(listed)  # nothing decoded yet
    assert (listed.id, listed.version, listed.created_at) == ("u1", 3, stamp)
    assert listed == stored and stored == listed and [listed] == [stored]
    assert listed.profile == {"userName": "kim", "emails": [{"value": "k@example.com"}]}
    assert listed.profile is listed.profile  # decoded once
    assert listed != dataclasses.replace(stored, version=4)
    assert dataclasses.replace(listed, version=4).profile == stored.profile
    assert dataclasses.asdict(listed_user_from_row(row)) == dataclasses.asdict(stored)
    with pytest.raises(dataclasses.FrozenInstanceError):
        listed.profile = {}  # type: ignore[misc]

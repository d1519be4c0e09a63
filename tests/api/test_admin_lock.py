"""WSO2's account lock through SCIM: an administrator sets ``urn:scim:wso2:schema``
``accountLocked`` on ``/scim2/Users/{id}`` (PATCH, PUT, POST). A lock holds until an
administrator or operator lifts it, refuses the password on every channel, and ends every
session and token of the user; the profile shows ``accountLocked`` with ``lockedReason``
``ADMIN_INITIATED``. The lock lives in the lockout table, never in the stored profile."""

from __future__ import annotations

import pytest

from tests.factories import basic
from tests.factories import make_tenant
from tests.factories import make_user
from tests.factories import patch_body
from tests.support.admin import USER_URN
from tests.support.admin import client_headers
from tests.support.admin import events_of
from tests.support.privacy import PASSWORD
from tests.support.privacy import make_spa
from tests.support.privacy import sign_in
from tests.support.statements import count_statements

USERS = "/t/acme/scim2/Users"
ME = "/t/acme/scim2/Me"
WSO2 = "urn:scim:wso2:schema"
LOCK = patch_body({"op": "replace", "path": f"{WSO2}:accountLocked", "value": True})
UNLOCK = patch_body({"op": "replace", "path": f"{WSO2}:accountLocked", "value": False})


@pytest.fixture
def tenant(app):
    return make_tenant(app, "acme")


@pytest.fixture
def admin(app, tenant):
    return client_headers(app, tenant)


@pytest.fixture
def kim(app, tenant):
    return make_user(app, tenant, "kim", PASSWORD)


def test_a_locked_account_is_signed_out_and_refused_until_unlocked(app, client, tenant, kim, admin):
    signed = sign_in(app, tenant, make_spa(app, tenant, "Portal"), "kim")
    assert client.get(ME, headers=signed.headers).status_code == 200
    begins: list[str] = []
    with count_statements(app, begins):
        locked = client.patch(f"{USERS}/{kim.id}", json=LOCK, headers=admin)
    assert locked.status_code == 200, locked.get_json()
    assert len(begins) == 1, begins  # the lock, the ended sessions and the event together
    assert locked.get_json()[WSO2]["accountLocked"] is True
    assert locked.get_json()[WSO2]["lockedReason"] == "ADMIN_INITIATED"
    assert "unlockTime" not in locked.get_json()[WSO2]  # held until unlocked
    assert locked.headers["ETag"] != 'W/"1"'  # the representation changed: so did the version
    assert client.get(ME, headers=signed.headers).status_code == 401
    assert client.get(ME, headers=basic("kim", PASSWORD)).status_code == 401
    events = {e.kind: e.details for e in events_of(app, tenant, kim.id)}
    assert events["account.locked"]["reason"] == "admin"
    assert events["account.locked"]["by"] == {"channel": "scim_users", "clientId": "provisioner"}

    unlocked = client.patch(f"{USERS}/{kim.id}", json=UNLOCK, headers=admin)
    assert unlocked.status_code == 200, unlocked.get_json()
    assert "accountLocked" not in unlocked.get_json().get(WSO2, {})
    assert client.get(ME, headers=basic("kim", PASSWORD)).status_code == 200
    assert "account.unlocked" in [e.kind for e in events_of(app, tenant, kim.id)]


def test_a_deleted_locked_user_leaves_no_lock_on_its_name(app, client, tenant, kim, admin):
    """The lock is kept by the name (the lockout table), so it must go with the user: the next
    user of the name starts unlocked."""
    assert client.patch(f"{USERS}/{kim.id}", json=LOCK, headers=admin).status_code == 200
    assert client.delete(f"{USERS}/{kim.id}", headers=admin).status_code == 204
    body = {"schemas": [USER_URN], "userName": "kim", "password": "t1meMa$heen-7"}
    created = client.post(USERS, json=body, headers=admin)
    assert created.status_code == 201, created.get_json()
    assert "accountLocked" not in created.get_json().get(WSO2, {})
    assert client.get(ME, headers=basic("kim", "t1meMa$heen-7")).status_code == 200


def test_a_put_that_leaves_the_lock_out_changes_no_lock(app, client, kim, admin):
    assert client.patch(f"{USERS}/{kim.id}", json=LOCK, headers=admin).status_code == 200
    current = client.get(f"{USERS}/{kim.id}", headers=admin).get_json()
    body = {key: value for key, value in current.items() if key not in ("meta", WSO2)}
    replaced = client.put(f"{USERS}/{kim.id}", json={**body, "title": "Engineer"}, headers=admin)
    assert replaced.status_code == 200, replaced.get_json()
    assert replaced.get_json()[WSO2]["accountLocked"] is True
    # A GET's body sent back unchanged (the lock in it) keeps the lock too.
    again = client.put(f"{USERS}/{kim.id}", json={k: v for k, v in current.items() if k != "meta"}, headers=admin)
    assert again.status_code == 200 and again.get_json()[WSO2]["accountLocked"] is True
    assert client.get(ME, headers=basic("kim", PASSWORD)).status_code == 401


def test_a_user_created_locked_cannot_sign_in(app, client, tenant, admin):
    body = {"schemas": [USER_URN], "userName": "lee", "password": "t1meMa$heen-7", WSO2: {"accountLocked": True}}
    created = client.post(USERS, json=body, headers=admin)
    assert created.status_code == 201, created.get_json()
    assert created.get_json()[WSO2]["accountLocked"] is True
    assert client.get(ME, headers=basic("lee", "t1meMa$heen-7")).status_code == 401


def test_the_lock_is_not_stored_in_the_profile(app, client, tenant, kim, admin):
    from scim_me.storage.users import get_user

    assert client.patch(f"{USERS}/{kim.id}", json=LOCK, headers=admin).status_code == 200
    with app.extensions["scim_me"].db.connection_context():
        stored = get_user(tenant.id, kim.id)
    assert stored is not None and "accountLocked" not in stored.profile.get(WSO2, {})


def test_the_user_cannot_lock_or_unlock_themselves(client, kim):
    response = client.patch(ME, json=UNLOCK, headers=basic("kim", PASSWORD))
    assert response.status_code == 400
    assert response.get_json()["scimType"] == "mutability"


def test_a_regular_token_cannot_lock_anybody(app, client, tenant, kim):
    make_user(app, tenant, "lee", PASSWORD)
    response = client.patch(f"{USERS}/{kim.id}", json=LOCK, headers=basic("lee", PASSWORD))
    assert response.status_code == 403
    assert client.get(ME, headers=basic("kim", PASSWORD)).status_code == 200


def test_locking_an_account_that_failures_locked_for_a_while_holds_it(app, client, tenant, kim, admin):
    from datetime import timedelta

    from scim_me.storage.users import now
    from tests.support.lockout import lock_row

    lock_row(app, tenant, "kim", failures=5, locked_until=now() + timedelta(minutes=5))
    timed = client.get(f"{USERS}/{kim.id}", headers=admin).get_json()[WSO2]
    assert timed["lockedReason"] == "MAX_ATTEMPTS_EXCEEDED" and "unlockTime" in timed
    held = client.patch(f"{USERS}/{kim.id}", json=LOCK, headers=admin).get_json()[WSO2]
    assert held["lockedReason"] == "ADMIN_INITIATED" and "unlockTime" not in held

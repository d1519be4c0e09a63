"""A /scim2/Users page is spliced from each user's JSON text, kept per worker under what the
text is a function of (services/user_view.user_texts): the user's version, the facts the page
statement read (groups, MFA, the account lock), the tenant, the base URL and the selectors.

These tests list a page (so each user's text is kept), change something a user's view shows,
and list again: the page must show the change, as ``GET /scim2/Users/{id}`` (never kept) does.
Some changes are made behind the writers' backs (rows inserted without bumping the user's
version), so the facts themselves must be part of what a kept text is found by. And the page's
bytes are what encoding the whole ListResponse at once gives."""

from __future__ import annotations

import json
from datetime import datetime

import pytest

from scim_me.core.schemas import WSO2_URN
from scim_me.storage.models import GroupMember
from scim_me.storage.models import MfaBackupCode
from scim_me.storage.models import UserMfa
from scim_me.storage.tenants import update_tenant
from tests.factories import basic
from tests.factories import make_user

USERS = "/t/acme/scim2/Users"
GROUPS = "/t/acme/scim2/Groups"
PASSWORD = "correct-horse-9"
WRONG = "wrong-password-1"


@pytest.fixture
def app(database_url, tmp_path):
    from tests.support.apps import build_app

    # Tenant records re-read on every request: a settings change shows at once.
    application = build_app(database_url, tmp_path, tenant_cache_seconds=0)
    yield application
    application.extensions["scim_me"].db.close_all()


def _listed(client, auth, query="count=50"):
    response = client.get(f"{USERS}?{query}", headers=auth)
    assert response.status_code == 200, response.json
    return {resource["id"]: resource for resource in response.json.get("Resources", [])}


def _alone(client, auth, user_id, query=""):
    response = client.get(f"{USERS}/{user_id}{'?' + query if query else ''}", headers=auth)
    assert response.status_code == 200, response.json
    return response.json


def _agrees(client, auth, user_id, query=""):
    """What the page shows of the user is what reading the user shows now."""
    listed = _listed(client, auth, f"count=50&{query}" if query else "count=50")[user_id]
    assert listed == _alone(client, auth, user_id, query)
    return listed


@pytest.mark.parametrize(
    "query",
    [
        "count=50",
        "count=2",
        "count=2&startIndex=2",
        "count=0",
        "count=50&cursor=",
        "count=1&cursor=",
        "count=50&attributes=userName,emails.value",
        "count=50&excludedAttributes=emails",
        "count=50&startIndex=99",
    ],
)
@pytest.mark.parametrize("dialect", ["wso2", "rfc"])
def test_the_page_is_byte_for_byte_one_encoded_list_response(app, client, tenant, auth, query, dialect):
    if dialect == "rfc":
        with app.extensions["scim_me"].db.connection_context():
            update_tenant("acme", dialect="rfc")
    make_user(app, tenant, "Jürgen", emails=[{"value": "j@example.com", "type": "work"}, {"value": "j@home.example"}])
    make_user(app, tenant, "kim", name={"givenName": "Kim", "familyName": "Ñúñez"}, displayName='Kim "K" \\ Ñ')
    make_user(app, tenant, "lee")
    for _ in range(2):  # rendered, then spliced from the kept texts
        response = client.get(f"{USERS}?{query}", headers=auth)
        assert response.status_code == 200, response.json
        assert response.mimetype == "application/scim+json"
        text = response.get_data(as_text=True)
        assert text == json.dumps(json.loads(text), ensure_ascii=False)


def test_joining_renaming_and_leaving_a_group_shows_on_the_next_page(app, client, tenant, auth):
    kim = make_user(app, tenant, "kim")
    make_user(app, tenant, "lee")
    assert "groups" not in _agrees(client, auth, kim.id)
    group = client.post(GROUPS, json={"displayName": "Ops", "members": [{"value": kim.id}]}, headers=auth)
    assert group.status_code == 201, group.json
    assert [g["display"] for g in _agrees(client, auth, kim.id)["groups"]] == ["Ops"]
    renamed = client.patch(
        f"{GROUPS}/{group.json['id']}",
        json={
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "replace", "path": "displayName", "value": "Operations"}],
        },
        headers=auth,
    )
    assert renamed.status_code in (200, 204), renamed.get_data(as_text=True)
    assert [g["display"] for g in _agrees(client, auth, kim.id)["groups"]] == ["Operations"]
    left = client.patch(
        f"{GROUPS}/{group.json['id']}",
        json={
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "remove", "path": f'members[value eq "{kim.id}"]'}],
        },
        headers=auth,
    )
    assert left.status_code in (200, 204), left.get_data(as_text=True)
    assert "groups" not in _agrees(client, auth, kim.id)


def test_facts_changed_without_a_new_version_show_on_the_next_page(app, client, tenant, auth):
    """Membership and MFA rows written behind the writers' backs (no version bump): the kept
    text is found by the facts too, so the page still shows them."""
    kim = make_user(app, tenant, "kim")
    group = client.post(GROUPS, json={"displayName": "Ops"}, headers=auth)
    assert group.status_code == 201, group.json
    before = _agrees(client, auth, kim.id)
    assert "groups" not in before and "totpEnabled" not in before.get(WSO2_URN, {})
    stamp = datetime(2026, 1, 1)
    with app.extensions["scim_me"].db.connection_context():
        GroupMember.insert(group=group.json["id"], user=kim.id, tenant=tenant.id, added_at=stamp).execute()
        UserMfa.insert(user=kim.id, tenant=tenant.id, updated_at=stamp).execute()
        MfaBackupCode.insert(user=kim.id, tenant=tenant.id, digest="d" * 64, created_at=stamp).execute()
    after = _agrees(client, auth, kim.id)
    assert after["meta"]["version"] == before["meta"]["version"]
    assert [g["display"] for g in after["groups"]] == ["Ops"]
    assert after[WSO2_URN]["backupCodeEnabled"] == "true"
    assert after[WSO2_URN]["totpEnabled"] == "false"


def test_a_locked_account_shows_on_the_next_page(app, client, tenant, auth):
    kim = make_user(app, tenant, "kim", PASSWORD)
    assert "accountLocked" not in _agrees(client, auth, kim.id).get(WSO2_URN, {})
    for _ in range(5):
        assert client.get("/t/acme/scim2/Me", headers=basic("kim", WRONG)).status_code == 401
    locked = _agrees(client, auth, kim.id)
    assert locked[WSO2_URN]["accountLocked"] is True


def test_profile_and_password_changes_show_on_the_next_page(app, client, tenant, auth):
    kim = make_user(app, tenant, "kim", PASSWORD)
    with app.extensions["scim_me"].db.connection_context():
        update_tenant("acme", password_max_age_days=30)
    expiry = f"attributes={WSO2_URN}:passwordExpiryTime,displayName"
    first = _agrees(client, auth, kim.id, expiry)
    changed = client.patch(
        f"{USERS}/{kim.id}",
        json={
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [
                {"op": "replace", "path": "displayName", "value": "Kim K"},
                {"op": "replace", "path": "password", "value": "another-horse-7"},
            ],
        },
        headers=auth,
    )
    assert changed.status_code == 200, changed.json
    second = _agrees(client, auth, kim.id, expiry)
    assert second["displayName"] == "Kim K"
    assert second[WSO2_URN]["passwordExpiryTime"] != first[WSO2_URN]["passwordExpiryTime"]


def test_tenant_settings_and_selectors_are_part_of_the_key(app, client, tenant, auth):
    kim = make_user(app, tenant, "kim", PASSWORD, emails=[{"value": "kim@example.com"}])
    wso2 = _agrees(client, auth, kim.id)
    assert wso2["emails"] == ["kim@example.com"]
    assert _agrees(client, auth, kim.id, "attributes=userName") == {
        "schemas": wso2["schemas"],
        "id": kim.id,
        "userName": "kim",
        "meta": wso2["meta"],
    }
    with app.extensions["scim_me"].db.connection_context():
        update_tenant("acme", dialect="rfc")
    rfc = _agrees(client, auth, kim.id)
    assert rfc["emails"] == [{"value": "kim@example.com"}]
    expiry = f"attributes={WSO2_URN}:passwordExpiryTime"
    assert WSO2_URN not in _agrees(client, auth, kim.id, expiry)
    with app.extensions["scim_me"].db.connection_context():
        update_tenant("acme", password_max_age_days=30)
    assert "passwordExpiryTime" in _agrees(client, auth, kim.id, expiry)[WSO2_URN]

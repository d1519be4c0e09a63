"""Password changes through /scim2/Me (PATCH and PUT): the credential changes, the length policy
applies, the tenant switch blocks it, and the plaintext never appears in any response."""

from __future__ import annotations

import pytest

from scim_me.errors import SCIM_ERROR_URN
from tests.factories import basic
from tests.factories import bearer
from tests.factories import load_user
from tests.factories import make_tenant
from tests.factories import make_token
from tests.factories import make_user
from tests.factories import patch_body
from tests.support.apps import build_app

ME = "/t/acme/scim2/Me"
OLD = "correct-horse-9"
NEW = "battery-staple-42"
# The seed request, byte for byte except for the password.
SEED = '{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"add","value":{"password":"<new-password>"}}]}'  # noqa: E501


@pytest.fixture
def kim(app, tenant):
    return make_user(app, tenant, "kim", OLD, nickName="kim-k")


@pytest.fixture
def token(app, tenant, kim):
    return make_token(app, tenant, kim)


def seed_request(password: str) -> bytes:
    return SEED.replace("<new-password>", password).encode()


def login(client, password: str, user_name: str = "kim") -> int:
    return int(client.get(ME, headers=basic(user_name, password)).status_code)


def test_seed_request_changes_the_password(app, client, tenant, kim, token):
    response = client.patch(
        ME, data=seed_request(NEW), headers=bearer(token, **{"Content-Type": "application/scim+json"})
    )
    assert response.status_code == 200, response.json
    assert NEW.encode() not in response.data
    assert "password" not in response.json
    assert response.json["nickName"] == "kim-k"
    assert response.headers["ETag"] == 'W/"2"'
    assert login(client, OLD) == 401
    assert login(client, NEW) == 200
    stored = load_user(app, tenant, kim.id)
    assert stored.profile == kim.profile  # the password is a credential, not a profile member
    assert stored.password_hash != kim.password_hash
    assert NEW not in (stored.password_hash or "")
    assert stored.password_changed_at > kim.password_changed_at


def test_current_password_proves_itself_with_basic_auth(client, kim):
    # WSO2 My Account: the same PATCH, authenticated with Basic username@tenant:currentPassword.
    response = client.patch(
        ME, data=seed_request(NEW), headers={**basic("kim@acme", OLD), "Content-Type": "application/json"}
    )
    assert response.status_code == 200, response.json
    wrong = client.patch(
        ME, data=seed_request("another-pass-1"), headers={**basic("kim", OLD), "Content-Type": "application/json"}
    )
    assert wrong.status_code == 401
    assert login(client, NEW) == 200


@pytest.mark.parametrize(
    "operation",
    [
        {"op": "replace", "value": {"password": NEW}},
        {"op": "replace", "path": "password", "value": NEW},
        {"op": "add", "path": "urn:ietf:params:scim:schemas:core:2.0:User:password", "value": NEW},
        {"op": "ADD", "value": {"PassWord": NEW}},
    ],
)
def test_other_patch_forms_change_the_password(client, kim, token, operation):
    response = client.patch(ME, json=patch_body(operation), headers=bearer(token))
    assert response.status_code == 200, response.json
    assert NEW.encode() not in response.data
    assert login(client, NEW) == 200
    assert login(client, OLD) == 401


def test_password_and_profile_change_together(app, client, tenant, kim, token):
    ops = patch_body({"op": "add", "value": {"password": NEW, "nickName": "shaggy"}})
    response = client.patch(ME, json=ops, headers=bearer(token))
    assert response.status_code == 200, response.json
    assert response.json["nickName"] == "shaggy"
    assert load_user(app, tenant, kim.id).version == 2
    assert login(client, NEW) == 200


def test_setting_the_same_password_again_still_counts_as_a_change(app, client, tenant, kim, token):
    response = client.patch(ME, data=seed_request(OLD), headers=bearer(token, **{"Content-Type": "application/json"}))
    assert response.status_code == 200, response.json
    assert response.headers["ETag"] == 'W/"2"'
    assert login(client, OLD) == 200


def test_put_with_a_password_changes_it(client, kim, token):
    response = client.put(ME, json={"userName": "kim", "nickName": "kim-k", "password": NEW}, headers=bearer(token))
    assert response.status_code == 200, response.json
    assert NEW.encode() not in response.data
    assert login(client, NEW) == 200
    assert login(client, OLD) == 401


def test_put_without_a_password_keeps_it(client, kim, token):
    response = client.put(ME, json={"userName": "kim"}, headers=bearer(token))
    assert response.status_code == 200, response.json
    assert login(client, OLD) == 200


def test_password_is_normalised_before_hashing(client, kim, token):
    # NFKC: full-width letters are the same password as their ASCII forms (NIST SP 800-63B).
    full_width = "".join(chr(ord(c) + 0xFEE0) for c in "battery") + "-staple-42"
    response = client.patch(
        ME, data=seed_request(full_width), headers=bearer(token, **{"Content-Type": "application/json"})
    )
    assert response.status_code == 200, response.json
    assert login(client, NEW) == 200


@pytest.mark.parametrize(
    ("password", "detail"),
    [
        ("short", "Password policy violation (minLength): the password must be at least 8 characters long."),
        ("x" * 257, "Password policy violation (maxLength): the password must be at most 256 characters long."),
        # Length is counted in code points after NFKC, not bytes: 7 characters, 21 bytes.
        ("\u00e9" * 7, "Password policy violation (minLength): the password must be at least 8 characters long."),
    ],
)
def test_length_policy_is_invalid_value_and_not_echoed(app, client, tenant, kim, token, password, detail):
    response = client.patch(
        ME, data=seed_request(password), headers=bearer(token, **{"Content-Type": "application/json"})
    )
    assert response.status_code == 400
    assert response.json == {
        "schemas": [SCIM_ERROR_URN],
        "status": "400",
        "scimType": "invalidValue",
        "detail": detail,
    }
    assert password.encode() not in response.data
    stored = load_user(app, tenant, kim.id)
    assert (stored.version, stored.password_hash) == (1, kim.password_hash)
    assert login(client, OLD) == 200


def test_eight_code_points_are_enough(client, kim, token):
    password = "\u00e9" * 8
    response = client.patch(ME, json=patch_body({"op": "add", "value": {"password": password}}), headers=bearer(token))
    assert response.status_code == 200, response.json
    assert login(client, password) == 200


@pytest.mark.parametrize("value", [12345678, ["correct-horse-10"], {"value": "correct-horse-10"}, True])
def test_a_password_that_is_not_a_string_is_invalid_value(app, client, tenant, kim, token, value):
    response = client.patch(
        ME, json=patch_body({"op": "replace", "path": "password", "value": value}), headers=bearer(token)
    )
    assert response.status_code == 400
    assert response.json["schemas"] == [SCIM_ERROR_URN]
    assert response.json["status"] == "400"
    assert response.json["scimType"] == "invalidValue"
    assert b"correct-horse-10" not in response.data
    assert load_user(app, tenant, kim.id).version == 1


def test_configured_length_limits_apply(database_url, tmp_path):
    app = build_app(database_url, tmp_path, password_min_length=12, password_max_length=16)
    try:
        client = app.test_client()
        tenant = make_tenant(app, "acme")
        token = make_token(app, tenant, make_user(app, tenant, "kim", OLD))
        headers = bearer(token, **{"Content-Type": "application/json"})
        too_short = client.patch(ME, data=seed_request("eleven-char"), headers=headers)
        assert (
            too_short.json["detail"]
            == "Password policy violation (minLength): the password must be at least 12 characters long."
        )
        too_long = client.patch(ME, data=seed_request("seventeen-chars-x"), headers=headers)
        assert (
            too_long.json["detail"]
            == "Password policy violation (maxLength): the password must be at most 16 characters long."
        )
        assert client.patch(ME, data=seed_request("sixteen-chars-xx"), headers=headers).status_code == 200
    finally:
        app.extensions["scim_me"].db.close_all()


@pytest.fixture
def locked_tenant(app):
    return make_tenant(app, "acme", password_update_in_me=False)


@pytest.mark.parametrize(
    ("method", "body"),
    [
        ("patch", seed_request(NEW)),
        ("patch", seed_request("short")),
        ("put", b'{"userName": "kim", "password": "battery-staple-42"}'),
    ],
)
def test_tenant_switch_blocks_password_updates(app, client, locked_tenant, method, body):
    kim = make_user(app, locked_tenant, "kim", OLD)
    token = make_token(app, locked_tenant, kim)
    response = getattr(client, method)(ME, data=body, headers=bearer(token, **{"Content-Type": "application/json"}))
    assert response.status_code == 400
    assert response.json == {
        "schemas": [SCIM_ERROR_URN],
        "status": "400",
        "scimType": "invalid request",
        "detail": "Password update is not allowed for scim2/Me endpoint",
    }
    assert NEW.encode() not in response.data
    assert load_user(app, locked_tenant, kim.id).version == 1
    assert login(client, OLD) == 200


def test_tenant_switch_leaves_profile_updates_alone(app, client, locked_tenant):
    kim = make_user(app, locked_tenant, "kim", OLD)
    token = make_token(app, locked_tenant, kim)
    response = client.patch(ME, json=patch_body({"op": "add", "value": {"nickName": "k"}}), headers=bearer(token))
    assert response.status_code == 200, response.json


def test_tenant_switch_does_not_block_self_registration(app, client):
    make_tenant(app, "acme", password_update_in_me=False, self_registration="open", self_registration_confirm=False)
    response = client.post(ME, json={"userName": "newbie", "password": NEW})
    assert response.status_code == 201, response.json
    assert NEW.encode() not in response.data
    assert login(client, NEW, "newbie") == 200


def test_password_absent_from_other_error_bodies(app, client, tenant, kim, token):
    ops = patch_body({"op": "add", "value": {"password": NEW}}, {"op": "replace", "path": "userName", "value": "x"})
    response = client.patch(ME, json=ops, headers=bearer(token))
    assert response.status_code == 400
    assert response.json["scimType"] == "mutability"
    assert NEW.encode() not in response.data
    stale = client.patch(
        ME, data=seed_request(NEW), headers=bearer(token, **{"If-Match": 'W/"9"', "Content-Type": "application/json"})
    )
    assert stale.status_code == 412
    assert NEW.encode() not in stale.data
    assert login(client, OLD) == 200

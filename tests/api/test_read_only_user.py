"""``isReadOnlyUser`` (WSO2 My Account reads it with
``GET /scim2/Me?attributes=urn:scim:wso2:schema.isReadOnlyUser``): true when the tenant's user
store is read-only or the user was provisioned read-only; such a user's profile, password and
account cannot be changed (WSO2's user store refuses the write: user-core 30002)."""

from __future__ import annotations

import pytest

from scim_me.core.schemas import ENTERPRISE_URN
from scim_me.core.schemas import WSO2_URN
from scim_me.errors import ReadOnlyUserError
from scim_me.storage.tenants import update_tenant
from tests.factories import assert_wso2_error
from tests.factories import bearer
from tests.factories import make_tenant
from tests.factories import make_token
from tests.factories import make_user
from tests.factories import patch_body
from tests.factories import scim_error
from tests.support.admin import PASSWORD
from tests.support.admin import client_headers

T = "/t/acme"
ME = f"{T}/scim2/Me"
ASK = f"{ME}?attributes={WSO2_URN}.isReadOnlyUser"
CHANGE = f"{T}/api/users/v1/me/change-password"
NEW = "a-brand-new-passphrase"


@pytest.fixture
def tenant(app):
    return make_tenant(app, "acme", self_delete=True, change_password_scope="internal_login")


def _refused(response) -> bool:
    """WSO2's user store refuses the write; SCIM says so as a 400 ``mutability``."""
    assert response.status_code == 400, response.get_data(as_text=True)
    assert response.json == scim_error(400, ReadOnlyUserError.default_detail, "mutability")
    return True


def _read_only_user(app, tenant, name="ro"):
    return make_user(app, tenant, name, PASSWORD, nickName="ro", **{WSO2_URN: {"isReadOnlyUser": True}})


def _store_read_only(app, on=True):
    with app.app_context(), app.extensions["scim_me"].db.connection_context():
        update_tenant("acme", read_only_user_store=on)
    app.extensions["scim_me"]._tenants.clear()  # the per-worker tenant cache


def test_my_accounts_request_gets_the_flag_alone(app, client, tenant):
    kim = make_user(app, tenant, "kim", PASSWORD)
    body = client.get(ASK, headers=bearer(make_token(app, tenant, kim))).json
    assert body[WSO2_URN] == {"isReadOnlyUser": "false"}  # a string, as My Account compares it
    assert set(body) == {"schemas", "id", "meta", WSO2_URN}
    ro = _read_only_user(app, tenant)
    assert client.get(ASK, headers=bearer(make_token(app, tenant, ro))).json[WSO2_URN] == {"isReadOnlyUser": "true"}


def test_older_my_account_reads_it_from_the_enterprise_extension(app, client, tenant):
    ro = _read_only_user(app, tenant)
    body = client.get(
        f"{ME}?attributes={ENTERPRISE_URN}.isReadOnlyUser", headers=bearer(make_token(app, tenant, ro))
    ).json
    assert body[ENTERPRISE_URN] == {"isReadOnlyUser": "true"}


def test_returned_only_on_request(app, client, tenant):
    ro = _read_only_user(app, tenant)
    body = client.get(ME, headers=bearer(make_token(app, tenant, ro))).json
    assert "isReadOnlyUser" not in body.get(WSO2_URN, {}) and "isReadOnlyUser" not in body.get(ENTERPRISE_URN, {})


def test_a_read_only_store_makes_every_user_read_only(app, client, tenant):
    kim = make_user(app, tenant, "kim", PASSWORD)
    _store_read_only(app)
    token = bearer(make_token(app, tenant, kim))
    assert client.get(ASK, headers=token).json[WSO2_URN] == {"isReadOnlyUser": "true"}
    refused = client.patch(ME, json=patch_body({"op": "replace", "value": {"nickName": "x"}}), headers=token)
    assert _refused(refused)
    # Nobody is added to a read-only store: not by an administrator, not by self-registration.
    admin = client_headers(app, tenant)
    created = client.post(f"{T}/scim2/Users", json={"userName": "new", "password": PASSWORD}, headers=admin)
    assert _refused(created)
    _store_read_only(app, on=False)
    assert client.get(ASK, headers=token).json[WSO2_URN] == {"isReadOnlyUser": "false"}
    assert (
        client.patch(ME, json=patch_body({"op": "replace", "value": {"nickName": "x"}}), headers=token).status_code
        == 200
    )


def test_a_read_only_user_cannot_change_profile_password_or_account(app, client, tenant):
    ro = _read_only_user(app, tenant)
    token = bearer(make_token(app, tenant, ro))
    patch = client.patch(ME, json=patch_body({"op": "replace", "value": {"nickName": "x"}}), headers=token)
    assert _refused(patch)
    put = client.put(ME, json={"userName": "ro", "nickName": "x"}, headers=token)
    assert _refused(put)
    password = client.patch(ME, json=patch_body({"op": "replace", "path": "password", "value": NEW}), headers=token)
    assert _refused(password)
    body = assert_wso2_error(
        client.post(CHANGE, json={"currentPassword": PASSWORD, "newPassword": NEW}, headers=token), 400, "PWD-10006"
    )
    assert body["message"] == "Password update not supported"
    assert _refused(client.delete(ME, headers=token))
    admin = client_headers(app, tenant)
    by_admin = client.patch(
        f"{T}/scim2/Users/{ro.id}", json=patch_body({"op": "replace", "value": {"nickName": "x"}}), headers=admin
    )
    assert _refused(by_admin)
    assert _refused(client.delete(f"{T}/scim2/Users/{ro.id}", headers=admin))
    # Nothing changed; reading still works.
    after = client.get(ME, headers=token)
    assert after.status_code == 200 and after.json["nickName"] == "ro"

"""DELETE /scim2/Me: self-delete per the tenant's ``self_delete`` switch."""

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

ME = "/t/acme/scim2/Me"
PASSWORD = "correct-horse-9"


def test_self_delete_off_is_403_and_keeps_the_user(app, client):
    tenant = make_tenant(app, "acme")  # self_delete defaults to False
    kim = make_user(app, tenant, "kim", PASSWORD)
    response = client.delete(ME, headers=bearer(make_token(app, tenant, kim)))
    assert response.status_code == 403
    assert response.json == {
        "schemas": [SCIM_ERROR_URN],
        "status": "403",
        "detail": "Self-delete is not enabled for this tenant.",
    }
    assert load_user(app, tenant, kim.id) is not None


@pytest.fixture
def tenant(app):
    return make_tenant(app, "acme", self_delete=True)


@pytest.fixture
def kim(app, tenant):
    return make_user(app, tenant, "kim", PASSWORD, nickName="kim-k")


@pytest.fixture
def token(app, tenant, kim):
    return make_token(app, tenant, kim)


def test_self_delete_removes_the_user_and_its_credentials(app, client, tenant, kim, token):
    other = make_user(app, tenant, "lee", PASSWORD)
    response = client.delete(ME, headers=bearer(token))
    assert response.status_code == 204
    assert response.data == b""
    assert load_user(app, tenant, kim.id) is None
    assert load_user(app, tenant, other.id) is not None

    after = client.get(ME, headers=bearer(token))
    assert after.status_code == 401
    assert after.json == {
        "schemas": [SCIM_ERROR_URN],
        "status": "401",
        "detail": "Authorization failure. The token's user does not exist.",
    }
    assert client.get(ME, headers=basic("kim", PASSWORD)).status_code == 401
    assert client.delete(ME, headers=bearer(token)).status_code == 401
    assert client.get(ME, headers=basic("lee", PASSWORD)).status_code == 200


def test_self_delete_with_basic_credentials(app, client, tenant, kim):
    response = client.delete(ME, headers=basic("kim", PASSWORD))
    assert response.status_code == 204
    assert load_user(app, tenant, kim.id) is None


def test_the_user_name_is_free_again_after_delete(app, client, tenant, kim, token):
    assert client.delete(ME, headers=bearer(token)).status_code == 204
    again = make_user(app, tenant, "kim", "new-password-1")
    assert again.id != kim.id
    assert client.get(ME, headers=bearer(token)).status_code == 401
    assert client.get(ME, headers=basic("kim", "new-password-1")).status_code == 200


def test_the_next_user_of_the_name_inherits_no_failed_sign_ins(app, client, tenant, kim, token):
    """The lockout row is keyed by the name: it goes with the user, in the deleting transaction."""
    from scim_me.storage.throttle import lock_state
    from scim_me.storage.users import now

    for _ in range(3):
        assert client.get(ME, headers=basic("kim", "wrong-password-1")).status_code == 401
    with app.extensions["scim_me"].db.connection_context():
        assert lock_state(tenant.id, "kim", now()).failures == 3
    assert client.delete(ME, headers=bearer(token)).status_code == 204
    make_user(app, tenant, "kim", "new-password-1")
    with app.extensions["scim_me"].db.connection_context():
        assert lock_state(tenant.id, "kim", now()).failures == 0


def test_delete_scope_alone_is_enough(app, client, tenant, kim):
    token = make_token(app, tenant, kim, scope="internal_user_mgt_delete")
    assert client.delete(ME, headers=bearer(token)).status_code == 204


def test_a_token_without_login_or_delete_scope_is_403(app, client, tenant, kim):
    token = make_token(app, tenant, kim, scope="openid profile")
    response = client.delete(ME, headers=bearer(token))
    assert response.status_code == 403
    assert load_user(app, tenant, kim.id) is not None


def test_an_application_token_cannot_delete(app, client, tenant, kim):
    token = make_token(app, tenant, None, scope="internal_login internal_user_mgt_delete")
    response = client.delete(ME, headers=bearer(token))
    assert response.status_code == 403
    assert response.json == {
        "schemas": [SCIM_ERROR_URN],
        "status": "403",
        "detail": "This endpoint needs a token issued to a user.",
    }


def test_stale_if_match_is_412_and_keeps_the_user(app, client, tenant, kim, token):
    bumped = client.patch(ME, json=patch_body({"op": "add", "value": {"title": "Dr"}}), headers=bearer(token))
    assert bumped.headers["ETag"] == 'W/"2"'
    response = client.delete(ME, headers=bearer(token, **{"If-Match": 'W/"1"'}))
    assert response.status_code == 412
    assert response.json == {
        "schemas": [SCIM_ERROR_URN],
        "status": "412",
        "detail": 'The user is at version W/"2", not W/"1".',
    }
    assert response.headers["ETag"] == 'W/"2"'
    assert load_user(app, tenant, kim.id) is not None


@pytest.mark.parametrize("if_match", ['W/"1"', '"1"', "*", 'W/"7", W/"1"'])
def test_matching_if_match_deletes(app, client, tenant, kim, token, if_match):
    response = client.delete(ME, headers=bearer(token, **{"If-Match": if_match}))
    assert response.status_code == 204
    assert load_user(app, tenant, kim.id) is None


def test_delete_without_credentials_is_401(app, client, tenant, kim):
    response = client.delete(ME)
    assert response.status_code == 401
    assert load_user(app, tenant, kim.id) is not None

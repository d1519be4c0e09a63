"""End-to-end flows against the live server: WSO2 My Account's password change, tenant isolation."""

from __future__ import annotations

import pytest

from tests.e2e.support import HTTP_TIMEOUT_S
from tests.e2e.support import assert_scim_error
from tests.e2e.support import session
from tests.factories import bearer
from tests.support.live_server import DEFAULT_PASSWORD
from tests.support.live_server import LiveServer

pytestmark = pytest.mark.e2e


def test_my_account_password_change_request(live_server: LiveServer) -> None:
    """The request WSO2 My Account sends (identity-apps ``change-password.ts``): PATCH /Me with HTTP
    Basic ``username@tenant:currentPassword``, ``Content-Type: application/json`` and this body."""
    new_password = "a-brand-new-passphrase-2026"
    body = (
        '{"Operations":[{"op":"add","value":{"password":"' + new_password + '"}}],'
        '"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"]}'
    )
    with session() as http:
        changed = http.patch(
            live_server.me_url(),
            data=body,
            auth=("kim@acme", DEFAULT_PASSWORD),
            headers={"Content-Type": "application/json"},
            timeout=HTTP_TIMEOUT_S,
        )
        assert changed.status_code == 200, changed.text
        assert changed.json()["userName"] == "kim"
        assert "password" not in changed.json()

        old = http.get(live_server.me_url(), auth=("kim@acme", DEFAULT_PASSWORD), timeout=HTTP_TIMEOUT_S)
        assert_scim_error(old, 401)
        new = http.get(live_server.me_url(), auth=("kim@acme", new_password), timeout=HTTP_TIMEOUT_S)
        assert new.status_code == 200, new.text
        assert new.json()["userName"] == "kim"


def test_token_of_one_tenant_is_refused_by_another(live_server: LiveServer) -> None:
    token = live_server.token("kim", tenant="acme")
    with session() as http:
        own = http.get(live_server.me_url("acme"), headers=bearer(token), timeout=HTTP_TIMEOUT_S)
        assert own.status_code == 200, own.text
        foreign = http.get(live_server.me_url("other"), headers=bearer(token), timeout=HTTP_TIMEOUT_S)
        assert_scim_error(foreign, 401)
        assert foreign.headers["WWW-Authenticate"].startswith("Bearer")
        assert "userName" not in foreign.json()

"""``scim-me user create --read-only`` provisions a read-only user (WSO2 ``isReadOnlyUser``), and
``tenant update --set read_only_user_store=true`` makes the tenant's whole user store read-only."""

from __future__ import annotations

from typing import Any

from scim_me.storage.tenants import find_tenant
from scim_me.storage.users import find_user
from tests.cli.support import PASSWORD
from tests.cli.support import Cli
from tests.factories import bearer
from tests.factories import make_token

ASK = "/t/acme/scim2/Me?attributes=urn:scim:wso2:schema.isReadOnlyUser"


def _flag(app: Any, user_name: str) -> str:
    with app.app_context(), app.extensions["scim_me"].db.connection_context():
        tenant = find_tenant("acme")
        user = find_user(tenant.id, user_name)
    app.extensions["scim_me"]._tenants.clear()
    body = app.test_client().get(ASK, headers=bearer(make_token(app, tenant, user))).json
    return str(body["urn:scim:wso2:schema"]["isReadOnlyUser"])


def test_read_only_user_and_read_only_store(ready: Cli, app_on: Any) -> None:
    ready.ok("user", "create", "--tenant", "acme", "--username", "ro", "--password", PASSWORD, "--read-only")
    assert (_flag(app_on, "ro"), _flag(app_on, "kim")) == ("true", "false")
    ready.ok("tenant", "update", "acme", "--set", "read_only_user_store=true")
    assert _flag(app_on, "kim") == "true"

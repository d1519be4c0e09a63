"""Fixtures of the account-security tests: tenant acme, user kim, a public password-grant client."""

from __future__ import annotations

import pytest

from scim_me.storage.clients import create_client
from tests.account.support import PASSWORD
from tests.factories import make_tenant
from tests.factories import make_user


@pytest.fixture
def tenant(app):
    return make_tenant(app, "acme")


@pytest.fixture
def kim(app, tenant):
    return make_user(app, tenant, "kim", PASSWORD, emails=[{"value": "kim.berry@example.com", "primary": True}])


@pytest.fixture
def spa(app, tenant):
    with app.extensions["scim_me"].db.connection_context():
        record, _ = create_client(
            tenant.id,
            "spa",
            public=True,
            redirect_uris=["http://localhost:5173/cb"],
            allowed_origins=[],
            grant_types=["password", "refresh_token"],
            scope="openid internal_login internal_user_password_update",
        )
    return record

"""Fixtures of the account-recovery tests: tenant acme (recovery API open to anonymous callers),
user kim with a verified address, a public password-grant client, mail through a real SMTP
server on loopback."""

from __future__ import annotations

import pytest

from scim_me.storage.clients import create_client
from tests.factories import make_tenant
from tests.factories import make_user
from tests.recovery.support import ADDRESS
from tests.recovery.support import PASSWORD
from tests.recovery.support import WSO2
from tests.support.apps import mailing_app


@pytest.fixture
def app(database_url, tmp_path, mail):
    with mailing_app(database_url, tmp_path, mail) as application:
        yield application


@pytest.fixture
def tenant(app):
    return make_tenant(app, "acme", recovery_api_auth="anonymous")


@pytest.fixture
def kim(app, tenant):
    return make_user(
        app, tenant, "kim", PASSWORD, emails=[{"value": ADDRESS, "primary": True}], **{WSO2: {"emailVerified": True}}
    )


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
            scope="openid internal_login",
        )
    return record

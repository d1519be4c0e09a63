"""Every token issued for a user says when the user authenticated (``auth_time``, RFC 9068
§2.2.1 for access tokens, OIDC Core §2 for ID tokens) and how (``amr``, RFC 8176), so a resource
server can ask for a more recent sign-in (RFC 9470). A refreshed token keeps the original
sign-in (OIDC Core §12.2); a client_credentials token has no user and no ``auth_time``."""

from __future__ import annotations

import base64
import json
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from typing import Any

import pytest
import time_machine

from scim_me.storage.clients import create_client
from tests.factories import make_tenant
from tests.factories import make_user
from tests.support.privacy import PASSWORD
from tests.support.privacy import make_spa
from tests.support.privacy import sign_in

TOKEN = "/t/acme/oauth2/token"


def _claims(jwt: str) -> dict[str, Any]:
    return json.loads(base64.urlsafe_b64decode(jwt.split(".")[1] + "=="))  # type: ignore[no-any-return]


@pytest.fixture
def start() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


@pytest.fixture
def tenant(app):
    tenant = make_tenant(app, "acme")
    make_user(app, tenant, "kim", PASSWORD)
    return tenant


def _confidential(app, tenant, grants):
    with app.extensions["scim_me"].db.connection_context():
        return create_client(
            tenant.id, "script", public=False, grant_types=grants, redirect_uris=[], allowed_origins=[]
        )


def test_code_flow_tokens_carry_the_sessions_sign_in_and_keep_it_on_refresh(app, tenant, start):
    spa = make_spa(app, tenant)
    with time_machine.travel(start, tick=False) as clock:
        signed = sign_in(app, tenant, spa, "kim")
        first = _claims(signed.access_token)
        assert first["auth_time"] == int(start.timestamp())
        assert first["amr"] == ["pwd"]
        clock.shift(timedelta(minutes=30))
        refreshed = signed.browser.post(
            TOKEN,
            data={"grant_type": "refresh_token", "refresh_token": signed.refresh_token, "client_id": spa.client_id},
        )
        assert refreshed.status_code == 200, refreshed.json
        access = _claims(refreshed.json["access_token"])
        assert access["iat"] == int(start.timestamp()) + 1800
        assert access["auth_time"] == int(start.timestamp())  # the sign-in, not the refresh
        id_token = _claims(refreshed.json["id_token"])
        assert id_token["auth_time"] == int(start.timestamp())  # OIDC Core §12.2
        assert id_token["amr"] == ["pwd"]


def test_password_grant_tokens_carry_the_password_check_and_keep_it_on_refresh(app, tenant, start):
    client, secret = _confidential(app, tenant, ["password", "refresh_token"])
    with time_machine.travel(start, tick=False) as clock:
        issued = app.test_client().post(
            TOKEN,
            data={"grant_type": "password", "username": "kim", "password": PASSWORD, "scope": "internal_login"},
            auth=(client.client_id, secret),
        )
        assert issued.status_code == 200, issued.json
        assert _claims(issued.json["access_token"])["auth_time"] == int(start.timestamp())
        clock.shift(timedelta(minutes=20))
        refreshed = app.test_client().post(
            TOKEN,
            data={"grant_type": "refresh_token", "refresh_token": issued.json["refresh_token"]},
            auth=(client.client_id, secret),
        )
        assert refreshed.status_code == 200, refreshed.json
        assert _claims(refreshed.json["access_token"])["auth_time"] == int(start.timestamp())


def test_client_credentials_tokens_have_no_auth_time(app, tenant):
    client, secret = _confidential(app, tenant, ["client_credentials"])
    issued = app.test_client().post(TOKEN, data={"grant_type": "client_credentials"}, auth=(client.client_id, secret))
    assert issued.status_code == 200, issued.json
    claims = _claims(issued.json["access_token"])
    assert "auth_time" not in claims and "amr" not in claims

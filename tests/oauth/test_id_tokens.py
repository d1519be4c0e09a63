"""ID tokens as WSO2 / Asgardeo issue them: one on every grant that asks for ``openid``
(authorization_code, refresh_token and password), each carrying ``username``, the claim the
Asgardeo SDK reads as the signed-in user's username (@asgardeo/auth-js
``AuthenticationHelper.getAuthenticatedUserInfo``: ``username`` from ``payload.username``,
``displayName`` from ``preferred_username`` or given/family name)."""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC
from datetime import datetime
from typing import Any

import pytest
import time_machine
from joserfc import jwt
from joserfc.jwk import KeySet

from scim_me.storage.clients import create_client
from tests.factories import make_tenant
from tests.factories import make_user
from tests.support.privacy import PASSWORD
from tests.support.privacy import make_spa
from tests.support.privacy import sign_in

TOKEN = "/t/acme/oauth2/token"
ISSUER = "http://localhost/t/acme/oauth2/token"


@pytest.fixture
def tenant(app):
    return make_tenant(app, "acme")


@pytest.fixture
def kim(app, tenant):
    return make_user(app, tenant, "kim", PASSWORD, name={"givenName": "Kim", "familyName": "Jensen"})


@pytest.fixture
def script(app, tenant):
    with app.extensions["scim_me"].db.connection_context():
        return create_client(
            tenant.id,
            "script",
            public=False,
            grant_types=["password", "refresh_token", "client_credentials"],
            redirect_uris=[],
            allowed_origins=[],
            scope="openid internal_login profile",
        )


def _verified(client: Any, token: str, audience: str) -> dict[str, Any]:
    keys = KeySet.import_key_set(client.get("/t/acme/oauth2/jwks").json)
    claims: dict[str, Any] = jwt.decode(token, keys, algorithms=["RS256"]).claims
    assert claims["iss"] == ISSUER and claims["aud"] == [audience] and claims["azp"] == audience
    return claims


def _at_hash(access_token: str) -> str:
    digest = hashlib.sha256(access_token.encode()).digest()
    return base64.urlsafe_b64encode(digest[:16]).rstrip(b"=").decode()


def test_code_and_refresh_id_tokens_carry_username(app, client, tenant, kim):
    spa = make_spa(app, tenant)
    signed = sign_in(app, tenant, spa, "kim")  # scope "openid internal_login": no profile claims
    assert signed.id_token is not None
    first = _verified(client, signed.id_token, spa.client_id)
    assert first["sub"] == kim.id and first["username"] == "kim"
    assert "preferred_username" not in first and "given_name" not in first  # those need "profile"
    refreshed = signed.browser.post(
        TOKEN, data={"grant_type": "refresh_token", "refresh_token": signed.refresh_token, "client_id": spa.client_id}
    )
    assert refreshed.status_code == 200, refreshed.json
    again = _verified(client, refreshed.json["id_token"], spa.client_id)
    assert again["username"] == "kim" and again["sub"] == kim.id


def test_password_grant_with_openid_returns_an_id_token(client, kim, script):
    record, secret = script
    now = datetime.now(UTC).replace(microsecond=0)
    with time_machine.travel(now, tick=False):
        issued = client.post(
            TOKEN,
            data={"grant_type": "password", "username": "kim", "password": PASSWORD, "scope": "openid profile"},
            auth=(record.client_id, secret),
        )
    assert issued.status_code == 200, issued.json
    body = issued.json
    assert set(body) == {"access_token", "refresh_token", "id_token", "token_type", "expires_in", "scope"}
    claims = _verified(client, body["id_token"], record.client_id)
    assert claims["sub"] == kim.id and claims["username"] == "kim"
    assert claims["given_name"] == "Kim" and claims["family_name"] == "Jensen"
    assert claims["preferred_username"] == "kim"
    assert claims["auth_time"] == int(now.timestamp()) and claims["amr"] == ["pwd"]  # this very password check
    assert claims["at_hash"] == _at_hash(body["access_token"])
    refreshed = client.post(
        TOKEN,
        data={"grant_type": "refresh_token", "refresh_token": body["refresh_token"]},
        auth=(record.client_id, secret),
    )
    assert refreshed.status_code == 200, refreshed.json
    assert _verified(client, refreshed.json["id_token"], record.client_id)["username"] == "kim"


def test_no_id_token_without_openid_or_without_a_user(client, kim, script):
    record, secret = script
    plain = client.post(
        TOKEN,
        data={"grant_type": "password", "username": "kim", "password": PASSWORD, "scope": "internal_login"},
        auth=(record.client_id, secret),
    )
    assert plain.status_code == 200 and "id_token" not in plain.json
    app_token = client.post(
        TOKEN, data={"grant_type": "client_credentials", "scope": "openid"}, auth=(record.client_id, secret)
    )
    assert app_token.status_code == 200, app_token.json
    assert "id_token" not in app_token.json

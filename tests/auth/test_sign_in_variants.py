"""A password signs in exactly as it was set (security.md T-PW-1): one character more or less, or
another case, is a wrong password. No rotation (T-PW-2): 400 days later the same password still
signs in. A password change keeps the second factor (T-MFA-8): TOTP stays on and still guards
sign-in."""

from __future__ import annotations

import base64
import time
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs
from urllib.parse import urlsplit

import pytest
import time_machine

from scim_me.core import otp
from tests.factories import bearer
from tests.factories import make_tenant
from tests.factories import make_token
from tests.factories import make_user
from tests.factories import password_client

PASSWORD = "Correct-Horse-9"
TOKEN = "/t/acme/oauth2/token"


@pytest.fixture
def kim(app):
    tenant = make_tenant(app, "acme")
    return tenant, make_user(app, tenant, "kim", PASSWORD)


@pytest.fixture
def grant(app, client, kim):
    tenant, _user = kim
    auth = password_client(app, tenant).auth

    def send(password: str) -> Any:
        data = {"grant_type": "password", "username": "kim", "password": password, "scope": "internal_login"}
        return client.post(TOKEN, data=data, headers=auth)

    return send


def test_only_the_password_as_set_signs_in(grant):
    for variant in (PASSWORD + "x", PASSWORD[:-1], PASSWORD.upper(), PASSWORD.swapcase()):
        assert grant(variant).status_code in (400, 401), variant
    assert grant(PASSWORD).status_code == 200


def test_a_password_still_signs_in_400_days_later(grant):
    with time_machine.travel(time.time() + timedelta(days=400).total_seconds(), tick=True):
        assert grant(PASSWORD).status_code == 200


def test_a_password_change_keeps_totp_on_and_guarding_sign_in(app, client, kim, grant):
    tenant, user = kim
    auth = bearer(make_token(app, tenant, user))
    at = (int(time.time()) // 30) * 30 + 5.0
    with time_machine.travel(at, tick=False):
        init = client.post("/t/acme/api/users/v1/me/totp", json={"action": "INIT"}, headers=auth).get_json()
        seed = parse_qs(urlsplit(base64.b64decode(init["qrCodeUrl"]).decode()).query)["secret"][0]
        code = otp.code_at(seed, at, otp.TotpPolicy())
        validated = client.post(
            "/t/acme/api/users/v1/me/totp", json={"action": "VALIDATE", "verificationCode": code}, headers=auth
        )
        assert validated.get_json() == {"isValid": True}
    changed = client.post(
        "/t/acme/api/users/v1/me/change-password",
        json={"currentPassword": PASSWORD, "newPassword": "Another-Horse-42"},
        headers=auth,
    )
    assert changed.status_code == 204, changed.get_data(as_text=True)
    me = client.get("/t/acme/scim2/Me", headers=auth)
    assert me.status_code == 200 and me.get_json()["urn:scim:wso2:schema"]["totpEnabled"] == "true"
    # The new password alone still opens nothing: the password grant refuses a user with MFA.
    refused = grant("Another-Horse-42")
    assert refused.status_code in (400, 401, 403) and "access_token" not in refused.get_data(as_text=True)

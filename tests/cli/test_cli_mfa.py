"""Operator recovery for MFA: ``scim-me user mfa-unlock`` (lock and counter only) and
``scim-me user mfa-reset`` (lost authenticator: TOTP and backup codes removed)."""

from __future__ import annotations

import base64
import time
from typing import Any
from urllib.parse import parse_qs
from urllib.parse import urlsplit

import time_machine

from scim_me.core import otp
from scim_me.storage.mfa import get_state
from scim_me.storage.tenants import find_tenant
from scim_me.storage.users import find_user
from tests.cli.support import Cli
from tests.factories import bearer
from tests.factories import make_token

API = "/t/acme/api/users/v1/me"


def _kim(app: Any) -> tuple[Any, Any]:
    with app.app_context(), app.extensions["scim_me"].db.connection_context():
        tenant = find_tenant("acme")
        return tenant, find_user(tenant.id, "kim")


def _state(app: Any) -> Any:
    tenant, user = _kim(app)
    with app.extensions["scim_me"].db.connection_context():
        return get_state(tenant.id, user.id)


def test_unlock_clears_the_lock_and_reset_removes_every_factor(ready: Cli, app_on: Any) -> None:
    tenant, user = _kim(app_on)
    client = app_on.test_client()
    auth = bearer(make_token(app_on, tenant, user))
    at = (int(time.time()) // 30) * 30 + 5.0
    with time_machine.travel(at, tick=False):
        init = client.post(f"{API}/totp", json={"action": "INIT"}, headers=auth).json
        secret = parse_qs(urlsplit(base64.b64decode(init["qrCodeUrl"]).decode()).query)["secret"][0]
        code = int(otp.code_at(secret, at, otp.TotpPolicy()))
        assert client.post(f"{API}/totp", json={"action": "VALIDATE", "verificationCode": code}, headers=auth).json
        client.post(f"{API}/backup-codes", headers=auth)
        wrong = (code + 1) % 1_000_000
        for _ in range(5):
            client.post(f"{API}/totp", json={"action": "VALIDATE", "verificationCode": wrong}, headers=auth)
        assert _state(app_on).locked_until is not None

    assert ready.ok("user", "mfa-unlock", "--tenant", "acme", "--username", "kim").strip() == "mfa unlocked"
    state = _state(app_on)
    assert (state.failures, state.locked_until, state.totp_active, state.backup_codes_remaining) == (0, None, True, 10)

    assert ready.ok("user", "mfa-reset", "--tenant", "acme", "--username", "kim").strip() == "mfa reset"
    state = _state(app_on)
    assert (state.totp_active, state.backup_codes_total) == (False, 0)
    assert "no user 'nobody'" in ready.fails("user", "mfa-reset", "--tenant", "acme", "--username", "nobody")

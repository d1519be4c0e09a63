"""Helpers of the account-security tests."""

from __future__ import annotations

import base64
from typing import Any

from scim_me.storage.events import count_events

PASSWORD = "correct-horse-9"
ME = "/t/acme/scim2/Me"
TOKEN = "/t/acme/oauth2/token"
CHANGE = "/t/acme/api/users/v1/me/change-password"


def basic_auth(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def from_ip(ip: str) -> dict[str, Any]:
    return {"environ_base": {"REMOTE_ADDR": ip}}


def events(app: Any, tenant: Any, user: Any, *kinds: str) -> int:
    """How many events of ``kinds`` the user has: a real count of what the server recorded
    (a ``signin.failure`` is written exactly once per password hash that did not match)."""
    with app.app_context(), app.extensions["scim_me"].db.connection_context():
        return count_events(tenant.id, user.id, kinds=frozenset(kinds))


def password_token(client: Any, spa: Any, user: str = "kim", password: str = PASSWORD, **extra: Any) -> Any:
    data = {
        "grant_type": "password",
        "username": user,
        "password": password,
        "client_id": spa.client_id,
        "scope": "openid internal_login internal_user_password_update",
    }
    return client.post(TOKEN, data=data, **extra)

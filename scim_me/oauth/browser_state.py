"""OIDC Session Management 1.0 on the issuer's side: the OP browser-state cookie and the
``session_state`` parameter of authorization responses.

The cookie (``scim_me_opbs_{tenant id}``) holds a random value that changes whenever this
browser signs in or out of the tenant; the check-session page (``/oidc/checksession``) reads it
with a script and recomputes each app's ``session_state``, so an app whose value no longer
matches learns that the sign-in state changed. It is deliberately separate from the session
cookie (HttpOnly, ``SameSite=Lax``, a secret): the browser state is readable by scripts and is
sent to the check-session page when another site frames it, so it must prove nothing and
reveal nothing. Over https it is ``SameSite=None; Secure`` (a cross-site frame can only read
such a cookie, and only where the browser allows third-party cookies); over plain http, as every
cookie of this server, it is not ``Secure``, so it is ``SameSite=Lax`` and only apps on the
issuer's site can use it.
"""

from __future__ import annotations

import re
from typing import Any
from typing import Literal
from urllib.parse import parse_qs
from urllib.parse import urlsplit

from authlib.common.urls import add_params_to_uri
from flask import Response
from flask import g
from flask import request

from scim_me.core.session_state import browser_origin
from scim_me.core.session_state import new_browser_state
from scim_me.core.session_state import session_state
from scim_me.storage.clients import ClientRecord
from scim_me.storage.tenants import TenantRecord

_VALUE = re.compile(r"^[A-Za-z0-9_-]{16,64}$")


def cookie_name(tenant: TenantRecord) -> str:
    return f"scim_me_opbs_{tenant.id}"


def read_browser_state(tenant: TenantRecord) -> str | None:
    """The browser state the request's cookie holds, if it is one this server could have set."""
    value = request.cookies.get(cookie_name(tenant), "")
    return value if _VALUE.match(value) else None


def cookie_policy() -> tuple[bool, Literal["None", "Lax"]]:
    """``(Secure, SameSite)`` for the browser-state cookie of this request (see the module docstring)."""
    secure = request.is_secure
    return secure, "None" if secure else "Lax"


def set_browser_state(response: Response, tenant: TenantRecord, value: str) -> None:
    """Send the browser state: readable by scripts, no Expires (it ends with the browser, as
    the session cookie does), the whole origin (the check-session page exists per tenant)."""
    secure, same_site = cookie_policy()
    response.set_cookie(cookie_name(tenant), value, path="/", secure=secure, httponly=False, samesite=same_site)


def change_browser_state(response: Response, tenant: TenantRecord) -> None:
    """A sign-in or sign-out happened: every ``session_state`` issued so far stops matching."""
    set_browser_state(response, tenant, new_browser_state())


def use_browser_state(value: str) -> None:
    """The browser state the authorization response of this request is computed for."""
    g.op_browser_state = value


def client_origins(client: ClientRecord) -> list[str]:
    """The origins an app of this client runs at: those of its redirect URIs (where the
    authorization response lands, so its ``session_state`` names that origin) and its allowed
    (CORS) origins, in the browser's serialization."""
    origins = {browser_origin(uri) for uri in client.redirect_uris}
    origins.update(browser_origin(origin) for origin in client.allowed_origins)
    return sorted(origin for origin in origins if origin)


class SessionStateParameter:
    """OIDC Session Management §3: a successful authentication response carries
    ``session_state``, computed for the client, the redirect URI's origin and the browser
    state :func:`use_browser_state` named for this request (none named: no parameter)."""

    def __call__(self, authorization_server: Any) -> None:
        authorization_server.register_hook("after_create_authorization_response", self.add_session_state)

    def add_session_state(self, authorization_server: Any, response: Any) -> None:
        value = g.get("op_browser_state")
        location = getattr(response, "location", None)
        if not value or not location:
            return
        parts = urlsplit(location)
        query = parse_qs(parts.query)
        client_id = request.values.get("client_id", "")
        origin = browser_origin(location)
        if "code" not in query or "error" in query or not client_id or origin is None:
            return
        response.location = add_params_to_uri(location, {"session_state": session_state(client_id, origin, value)})

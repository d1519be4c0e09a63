"""``/oidc/checksession``: the OP iframe of OpenID Connect Session Management 1.0 (§3.2), at
WSO2's path, bare and under ``/t/{tenant}/``; discovery names it ``check_session_iframe``.

An app (the Asgardeo SDKs with ``enableOIDCSessionManagement``) frames it with
``?client_id=...`` and posts ``"client_id session_state"`` every few seconds; the page answers
from the OP browser-state cookie (:mod:`scim_me.oauth.browser_state`) without a request to the
server. The page is per client: only that client's origins (its redirect URIs' and its allowed
origins) may frame it (CSP ``frame-ancestors``) and get an answer to a message. Its one script
runs by nonce; nothing else may load.
"""

from __future__ import annotations

import secrets

from flask import Blueprint
from flask import Response
from flask import render_template
from flask import request

from scim_me.oauth.browser_state import client_origins
from scim_me.oauth.browser_state import cookie_name
from scim_me.storage.clients import find_client
from scim_me.web.context import current_tenant
from scim_me.web.pages import message

bp = Blueprint("checksession", __name__)


@bp.get("/oidc/checksession")
def check_session_iframe() -> Response:
    tenant = current_tenant()
    if tenant is None:
        return message("Unknown organization", "This link names an organization that does not exist.", 404)
    given = request.args.getlist("client_id")
    client = find_client(tenant.id, given[0]) if len(given) == 1 else None
    origins = client_origins(client) if client is not None else []
    if client is None or not origins:
        # WSO2 answers "Invalid OP IFrame Request" (200); a 400 says the same to a person and a
        # test, and the page stays unframeable (message pages forbid framing).
        return message("Invalid check-session request", "Give the client_id of a registered app.", 400)
    nonce = secrets.token_urlsafe(16)
    config = {"clientId": client.client_id, "origins": origins, "cookie": cookie_name(tenant)}
    body = render_template("checksession.html", tenant_name=tenant.name, config=config, nonce=nonce)
    headers = {
        "Content-Security-Policy": (
            f"default-src 'none'; script-src 'nonce-{nonce}'; base-uri 'none'; form-action 'none'; "
            f"frame-ancestors {' '.join(origins)}"
        ),
        "Cache-Control": "no-store",
        "Referrer-Policy": "no-referrer",
        "X-Content-Type-Options": "nosniff",
    }
    return Response(body, mimetype="text/html", headers=headers)

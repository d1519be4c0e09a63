"""Server-rendered pages of the issuer (sign-in, consent, MFA, logout, account recovery): one
look, one set of protections. Pages forbid framing and every other origin (CSP), are never
cached, send no referrer; forms carry a CSRF token bound to the browser's signed cookie."""

from __future__ import annotations

import hmac
import secrets
from typing import Any

from flask import Response
from flask import render_template
from flask import request
from flask import session as browser

from scim_me.web.context import current_tenant

PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
}


def page(template: str, status: int = 200, headers: dict[str, str] | None = None, **context: Any) -> Response:
    tenant = current_tenant()
    body = render_template(template, tenant_name=tenant.name if tenant else "", **context)
    return Response(body, status=status, mimetype="text/html", headers={**PAGE_HEADERS, **(headers or {})})


def message(heading: str, text: str, status: int) -> Response:
    return page("message.html", status, heading=heading, message=text)


def csrf_token() -> str:
    token = browser.get("csrf")
    if not token:
        token = browser["csrf"] = secrets.token_urlsafe(32)
    return str(token)


def check_csrf() -> bool:
    expected = browser.get("csrf")
    given = request.form.get("csrf_token", "")
    return bool(expected) and hmac.compare_digest(str(expected), given)

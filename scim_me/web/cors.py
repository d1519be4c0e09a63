"""CORS with WSO2's semantics (wso2-api.md §10).

- A tenant's allowed origins are the union of its clients' allowed origins and the server-level
  ``cors_allowed_origins``: an origin allowed for one app is allowed for every app of the tenant.
- Preflights (OPTIONS with ``Access-Control-Request-Method``) need no token. A disallowed origin
  gets 403 ``text/plain``; an unsupported method 405. Allowed ones get the origin echoed, the
  methods, the requested headers, credentials and max-age.
- Actual requests from an allowed origin get ``Access-Control-Allow-Origin`` (never ``*``),
  credentials and the exposed ``Location``/``ETag``; a disallowed origin is not rejected, the
  header is simply left off and the browser blocks the response.
"""

from __future__ import annotations

from flask import Flask
from flask import Response
from flask import request

from scim_me.storage.clients import ClientError
from scim_me.storage.clients import normalize_origin
from scim_me.web.context import current_request
from scim_me.web.context import current_tenant
from scim_me.web.context import settings
from scim_me.web.context import state

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
# RFC 9700 §2.6: no CORS on the browser-facing pages; they are navigated to, never fetched.
NO_CORS = ("/oauth2/authorize", "/oidc/logout")
EXPOSED = "Location, ETag, WWW-Authenticate"


def _allowed(origin: str) -> bool:
    try:
        wanted = normalize_origin(origin)
    except ClientError:
        return False
    server = {o.strip().lower().rstrip("/") for o in settings().cors_allowed_origins.split(",") if o.strip()}
    if wanted in server:
        return True
    tenant = current_tenant()
    return tenant is not None and wanted in state().tenant_origins(tenant)


def _preflight() -> Response | None:
    if current_request().method != "OPTIONS":
        return None
    origin = request.headers.get("Origin")
    method = request.headers.get("Access-Control-Request-Method")
    if not origin or not method or request.path in NO_CORS:
        return None
    if not _allowed(origin):
        return Response("CORS origin denied", status=403, mimetype="text/plain", headers={"Vary": "Origin"})
    if method.upper() not in METHODS:
        return Response("Unsupported HTTP method", status=405, mimetype="text/plain", headers={"Vary": "Origin"})
    response = Response(status=200)
    response.headers["Access-Control-Allow-Origin"] = origin
    response.headers["Access-Control-Allow-Credentials"] = "true"
    response.headers["Access-Control-Allow-Methods"] = ", ".join(METHODS)
    requested = request.headers.get("Access-Control-Request-Headers")
    if requested:
        response.headers["Access-Control-Allow-Headers"] = requested
    response.headers["Access-Control-Max-Age"] = str(settings().cors_max_age)
    response.headers["Vary"] = "Origin"
    return response


def _decorate(response: Response) -> Response:
    origin = current_request().environ.get("HTTP_ORIGIN")
    if not origin or request.path in NO_CORS:
        return response
    response.vary.add("Origin")
    if "Access-Control-Allow-Origin" not in response.headers and _allowed(origin):
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Access-Control-Allow-Credentials"] = "true"
        response.headers["Access-Control-Expose-Headers"] = EXPOSED
    return response


def register_cors(app: Flask) -> None:
    app.before_request(_preflight)
    app.after_request(_decorate)

"""WSO2-style tenant routing: ``/t/{tenant}/...`` selects a tenant, bare paths the default one.

Done as WSGI middleware (as WSO2's tenant rewrite valve does) so every blueprint is written once:
the ``/t/{tenant}`` prefix moves from ``PATH_INFO`` to ``SCRIPT_NAME``, which makes Flask's
``url_for`` and ``request.script_root`` produce tenant-qualified URLs by themselves.
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Iterable
from typing import Any

TENANT_KEY = "scim_me.tenant"

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class TenantPrefixMiddleware:
    def __init__(self, app: WSGIApp, default_tenant: str) -> None:
        self.app = app
        self.default_tenant = default_tenant

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "") or ""
        tenant = self.default_tenant
        if path.startswith("/t/"):
            name, sep, rest = path[3:].partition("/")
            if name:
                tenant = name.lower()
                environ["SCRIPT_NAME"] = environ.get("SCRIPT_NAME", "") + f"/t/{tenant}"
                environ["PATH_INFO"] = sep + rest if sep else "/"
        environ[TENANT_KEY] = tenant
        return self.app(environ, start_response)

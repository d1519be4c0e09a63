"""Serves the contract: ``/api/openapi.json`` (bare and per tenant) and the Swagger UI page at
``/api/docs``, whose assets come from the PyPI package ``swagger-ui-py`` (Swagger UI 5, which
renders OpenAPI 3.1) and are served by the app itself under a strict Content-Security-Policy:
the page loads nothing from any other host."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

from flask import Blueprint
from flask import Response
from flask import current_app
from flask import request

from scim_me.errors import ApiError
from scim_me.openapi.document import build_document
from scim_me.web.context import base_url
from scim_me.web.context import registry
from scim_me.web.context import require_tenant
from scim_me.web.context import settings

bp = Blueprint("openapi", __name__)

ASSETS_DIR = Path(__file__).with_name("assets")
# The files the page needs, and where each comes from (the package's static folder, or ours).
ASSETS = {
    "swagger-ui.css": ("swagger", "text/css"),
    "swagger-ui-bundle.js": ("swagger", "text/javascript"),
    "favicon-32x32.png": ("swagger", "image/png"),
    "docs.js": ("ours", "text/javascript"),
}
# Swagger UI sets element styles from script (allowed) and shows its icons as data: images.
PAGE_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self';"
    " font-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>scim-me API reference</title>
<link rel="stylesheet" href="{root}/api/docs/swagger-ui.css">
<link rel="icon" type="image/png" href="{root}/api/docs/favicon-32x32.png">
</head>
<body>
<div id="swagger-ui" data-spec-url="{root}/api/openapi.json"></div>
<script src="{root}/api/docs/swagger-ui-bundle.js"></script>
<script src="{root}/api/docs/docs.js"></script>
</body>
</html>
"""


def swagger_ui_dir() -> Path:
    """The static folder of the installed ``swagger_ui`` package, found without importing it."""
    spec = importlib.util.find_spec("swagger_ui")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the swagger-ui-py package is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "static"


def document_for_request() -> dict[str, Any]:
    """The document for this URL's tenant, built once per worker for each base URL."""
    # Bare paths serve the document even before the default tenant exists; /t/{unknown} is 404.
    tenant = require_tenant("UMG-404").name if request.script_root else settings().default_tenant
    root = base_url()
    cache: dict[str, dict[str, Any]] = current_app.extensions.setdefault("scim_me.openapi", {})
    found = cache.get(root)
    if found is None:
        if request.script_root:
            servers: list[dict[str, Any]] = [{"url": root, "description": f"tenant {tenant}"}]
        else:
            servers = [
                {"url": root, "description": f"the default tenant ({settings().default_tenant})"},
                {
                    "url": root + "/t/{tenant}",
                    "description": "a named tenant",
                    "variables": {"tenant": {"default": settings().default_tenant}},
                },
            ]
        found = cache[root] = build_document(registry(), servers=servers, base=root)
    return found


@bp.get("/api/openapi.json")
def openapi_json() -> Response:
    text = json.dumps(document_for_request(), ensure_ascii=False)
    return Response(text, mimetype="application/json", headers={"Cache-Control": "no-cache"})


@bp.get("/api/docs")
def docs_page() -> Response:
    if request.script_root:
        require_tenant("UMG-404")
    page = _PAGE.format(root=request.script_root)
    headers = {
        "Content-Security-Policy": PAGE_CSP,
        "X-Frame-Options": "DENY",
        "Referrer-Policy": "no-referrer",
        "Cache-Control": "no-cache",
    }
    return Response(page, mimetype="text/html", headers=headers)


@bp.get("/api/docs/<asset>")
def docs_asset(asset: str) -> Response:
    if asset not in ASSETS:
        raise ApiError(f"No asset {asset[:64]!r}.", status=404, code="UMG-404", message="Not Found")
    source, media = ASSETS[asset]
    folder = swagger_ui_dir() if source == "swagger" else ASSETS_DIR
    data = (folder / asset).read_bytes()
    return Response(data, mimetype=media, headers={"Cache-Control": "public, max-age=86400"})

"""The contract's own routes: the OpenAPI document and the Swagger UI page that renders it."""

from __future__ import annotations

from scim_me.openapi.spec import JSON
from scim_me.openapi.spec import NONE
from scim_me.openapi.spec import Operation
from scim_me.openapi.spec import html
from scim_me.openapi.spec import ok
from scim_me.openapi.spec import path_param

TAG = "API reference"

OPERATIONS = [
    Operation(
        "GET",
        "/api/openapi.json",
        "This OpenAPI 3.1 document (its servers name the tenant of the URL it was read from)",
        TAG,
        {200: ok({"type": "object", "required": ["openapi", "info", "paths"]}, media=JSON)},
        "wso2",
        (),
        security=NONE,
    ),
    Operation(
        "GET",
        "/api/docs",
        "Swagger UI for this document (served by the app, no third-party host)",
        TAG,
        {200: html("The Swagger UI page")},
        "wso2",
        (),
        security=NONE,
    ),
    Operation(
        "GET",
        "/api/docs/{asset}",
        "The Swagger UI page's scripts, styles and icon",
        TAG,
        {
            200: {
                "description": "The asset",
                "content": {
                    "text/javascript": {"schema": {"type": "string"}},
                    "text/css": {"schema": {"type": "string"}},
                    "image/png": {"schema": {"type": "string", "format": "binary"}},
                },
            }
        },
        "wso2",
        (),
        security=NONE,
        parameters=[
            path_param(
                "asset",
                "One of the page's files",
                {"type": "string", "enum": ["swagger-ui.css", "swagger-ui-bundle.js", "docs.js", "favicon-32x32.png"]},
            )
        ],
    ),
]

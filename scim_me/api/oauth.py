"""OAuth2/OIDC endpoints on WSO2's paths: ``/oauth2/token`` (password, client_credentials and
refresh_token grants so far), ``/oauth2/revoke`` (RFC 7009) and ``/oauth2/jwks``."""

from __future__ import annotations

from typing import Any

from flask import Blueprint
from flask import Response
from flask import current_app

from scim_me.api.context import current_tenant
from scim_me.api.handlers import json_body
from scim_me.auth.keys import jwks
from scim_me.errors import ApiError

bp = Blueprint("oauth", __name__)


def _server() -> Any:
    return current_app.extensions["scim_me.oauth"]


def _tenant_or_404() -> Any:
    tenant = current_tenant()
    if tenant is None:
        raise ApiError("No such tenant.", status=404, code="OAUTH-404", message="Not Found")
    return tenant


@bp.get("/oauth2/jwks")
def get_jwks() -> Response:
    tenant = _tenant_or_404()
    response = json_body(jwks(tenant.id), mimetype="application/json")
    response.headers["Cache-Control"] = "public, max-age=300"
    return response


@bp.post("/oauth2/token")
def issue_token() -> Response:
    _tenant_or_404()
    response: Response = _server().create_token_response()
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"
    return response


@bp.post("/oauth2/revoke")
def revoke_token() -> Response:
    _tenant_or_404()
    response: Response = _server().create_endpoint_response("revocation")
    return response

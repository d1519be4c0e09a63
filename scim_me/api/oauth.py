"""OAuth2/OIDC endpoints on WSO2's paths. So far: the tenant's JWKS (``/oauth2/jwks``), so
resource servers elsewhere can verify the access tokens this tenant signs."""

from __future__ import annotations

from flask import Blueprint
from flask import Response

from scim_me.api.context import current_tenant
from scim_me.api.handlers import json_body
from scim_me.auth.keys import jwks
from scim_me.errors import ApiError

bp = Blueprint("oauth", __name__)


@bp.get("/oauth2/jwks")
def get_jwks() -> Response:
    tenant = current_tenant()
    if tenant is None:
        raise ApiError("No such tenant.", status=404, code="OAUTH-404", message="Not Found")
    response = json_body(jwks(tenant.id), mimetype="application/json")
    response.headers["Cache-Control"] = "public, max-age=300"
    return response

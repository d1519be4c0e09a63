"""OAuth2/OIDC endpoints on WSO2's paths: ``/oauth2/token`` (password, client_credentials and
refresh_token grants so far), ``/oauth2/revoke`` (RFC 7009), ``/oauth2/introspect`` (RFC 7662),
``/oauth2/userinfo`` and ``/oauth2/jwks``."""

from __future__ import annotations

import functools
from collections.abc import Callable

from authlib.oauth2.rfc6749 import InvalidClientError
from authlib.oauth2.rfc6749 import InvalidRequestError
from flask import Blueprint
from flask import Response
from flask import request

from scim_me.auth.keys import jwks
from scim_me.errors import OAUTH
from scim_me.oauth.claims import user_claims
from scim_me.oauth.requests import basic_credentials_malformed
from scim_me.oauth.requests import malformed_parameters
from scim_me.oauth.requests import repeated_description
from scim_me.oauth.requests import repeated_parameter
from scim_me.web.context import current_tenant
from scim_me.web.context import oauth_server
from scim_me.web.context import require_tenant
from scim_me.web.guards import authenticate
from scim_me.web.guards import require_scope
from scim_me.web.rest import json_response

bp = Blueprint("oauth", __name__)

_UNKNOWN_TENANT = "OAUTH-404"  # the 404 code of this API family


@bp.get("/oauth2/jwks")
def get_jwks() -> Response:
    tenant = require_tenant(_UNKNOWN_TENANT)
    return json_response(jwks(tenant.id), headers={"Cache-Control": "public, max-age=300"})


def _shown_type(mimetype: str) -> str:
    """The request's media type as an error may repeat it (RFC 6749 section 5.2's characters)."""
    if mimetype and all(c.isalnum() or c in "/+.-" for c in mimetype) and mimetype.isascii():
        return mimetype
    return "another media type"


def _checked(view: Callable[[], Response]) -> Callable[[], Response]:
    """What the endpoints authlib answers check first: the tenant exists, HTTP Basic client
    credentials decode (else ``invalid_client`` 401 with ``WWW-Authenticate: Basic``, RFC 6749
    §5.2), every parameter is well-formed (RFC 6749 Appendix A) and none repeats (§3.2:
    parameters "MUST NOT be included more than once"; authlib takes the first)."""

    @functools.wraps(view)
    def checked() -> Response:
        require_tenant(_UNKNOWN_TENANT)
        error: InvalidClientError | InvalidRequestError
        form_body = request.get_data(cache=True) if request.mimetype == "application/x-www-form-urlencoded" else b""
        problem = malformed_parameters(request.query_string, form_body)
        name = repeated_parameter(request.args, request.form) if problem is None else None
        if request.content_length and request.mimetype != "application/x-www-form-urlencoded":
            # A JSON body is the usual mistake: authlib would read no parameters from it and answer
            # "unsupported_grant_type" or "invalid_client", which hides the real cause.
            error = InvalidRequestError(
                # (ASCII only: RFC 6749 section 5.2 limits error_description to it.)
                "The body must be application/x-www-form-urlencoded parameters (RFC 6749 section 4.1.3), "
                f"not {_shown_type(request.mimetype)}."
            )
        elif basic_credentials_malformed(request.headers.get("Authorization")):
            error = InvalidClientError("The HTTP Basic client credentials do not decode.", status_code=401)
        elif problem is not None:
            error = InvalidRequestError(problem)
        elif name is not None:
            error = InvalidRequestError(repeated_description(name))
        else:
            return view()
        response: Response = oauth_server().handle_error_response(None, error)
        response.headers["Cache-Control"] = "no-store"
        return response

    return checked


@bp.post("/oauth2/token")
@_checked
def issue_token() -> Response:
    response: Response = oauth_server().create_token_response()
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"
    return response


@bp.route("/oauth2/userinfo", methods=["GET", "POST"])
def userinfo() -> Response:
    """OIDC Core §5.3: the caller's claims for the scopes of its access token."""
    principal = authenticate(current_tenant(), allow_basic=False)
    require_scope(principal, "openid")
    user = principal.user
    if user is None:
        raise OAUTH.error("403", "This endpoint needs a token issued to a user.", status=403, message="Forbidden")
    return json_response(user_claims(user.id, user.profile, set(principal.scopes)))


@bp.post("/oauth2/introspect")
@_checked
def introspect() -> Response:
    """RFC 7662, for confidential clients: an unknown, expired, revoked or another client's
    token is exactly ``{"active": false}``."""
    response: Response = oauth_server().create_endpoint_response("introspection")
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/oauth2/revoke")
@_checked
def revoke_token() -> Response:
    response: Response = oauth_server().create_endpoint_response("revocation")
    return response

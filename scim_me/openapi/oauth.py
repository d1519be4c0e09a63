"""OAuth 2.0 / OpenID Connect on WSO2's paths: token, revocation (RFC 7009), introspection
(RFC 7662), userinfo, JWKS, discovery, and the browser endpoints (authorize, logout, check session)."""

from __future__ import annotations

from typing import Any

from scim_me.openapi.spec import CLIENT
from scim_me.openapi.spec import FORM
from scim_me.openapi.spec import JSON
from scim_me.openapi.spec import NONE
from scim_me.openapi.spec import Operation
from scim_me.openapi.spec import body
from scim_me.openapi.spec import html
from scim_me.openapi.spec import no_body
from scim_me.openapi.spec import ok
from scim_me.openapi.spec import query
from scim_me.openapi.spec import redirect
from scim_me.openapi.spec import ref

TAG = "OAuth 2.0 / OIDC"
TAG_BROWSER = "Sign-in pages"

_STRING = {"type": "string"}


def schemas() -> dict[str, Any]:
    return {
        "TokenRequest": {
            "type": "object",
            "required": ["grant_type"],
            "properties": {
                "grant_type": {
                    "type": "string",
                    "enum": ["authorization_code", "refresh_token", "password", "client_credentials"],
                },
                "code": _STRING,
                "redirect_uri": _STRING,
                "code_verifier": _STRING,
                "refresh_token": _STRING,
                "username": _STRING,
                "password": _STRING,
                "scope": _STRING,
                "client_id": _STRING,
                "client_secret": _STRING,
            },
            "example": {
                "grant_type": "password",
                "username": "kim",
                "password": "demo-password-2026",
                "scope": "openid internal_login",
            },
        },
        "TokenResponse": {
            "type": "object",
            "required": ["access_token", "token_type"],
            "properties": {
                "access_token": _STRING,
                "token_type": {"type": "string", "example": "Bearer"},
                "expires_in": {"type": "integer"},
                "refresh_token": _STRING,
                "id_token": _STRING,
                "scope": _STRING,
            },
        },
        "TokenOnly": {
            "type": "object",
            "required": ["token"],
            "properties": {
                "token": _STRING,
                "token_type_hint": _STRING,
                "client_id": _STRING,
                "client_secret": _STRING,
            },
        },
        "Introspection": {
            "type": "object",
            "required": ["active"],
            "properties": {
                "active": {"type": "boolean"},
                "scope": _STRING,
                "client_id": _STRING,
                "username": _STRING,
                "token_type": _STRING,
                "exp": {"type": "integer"},
                "iat": {"type": "integer"},
                "nbf": {"type": "integer"},
                "sub": _STRING,
                "aud": {"anyOf": [_STRING, {"type": "array", "items": _STRING}]},
                "iss": _STRING,
                "jti": _STRING,
            },
            "example": {"active": False},
        },
        "UserInfo": {
            "type": "object",
            "required": ["sub"],
            "properties": {"sub": _STRING, "email": _STRING, "email_verified": {"type": "boolean"}, "name": _STRING},
        },
        "Jwks": {
            "type": "object",
            "required": ["keys"],
            "properties": {
                "keys": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["kty", "kid"],
                        "properties": {"kty": _STRING, "kid": _STRING},
                    },
                }
            },
        },
        "OpenIdConfiguration": {
            "type": "object",
            "required": ["issuer", "authorization_endpoint", "token_endpoint", "jwks_uri"],
            "properties": {
                "issuer": _STRING,
                "authorization_endpoint": _STRING,
                "token_endpoint": _STRING,
                "userinfo_endpoint": _STRING,
                "jwks_uri": _STRING,
                "revocation_endpoint": _STRING,
                "introspection_endpoint": _STRING,
                "end_session_endpoint": _STRING,
                "check_session_iframe": _STRING,
                "code_challenge_methods_supported": {"type": "array", "items": _STRING},
            },
        },
    }


_FORM_ONLY = (FORM,)
_NO_STORE = {"Cache-Control": {"schema": {"type": "string", "example": "no-store"}}}
_AUTHORIZE_PARAMS = [
    query("response_type", "code", {"type": "string", "example": "code"}),
    query("client_id", "The client"),
    query("redirect_uri", "Exactly a registered redirect URI (or omitted when the client has one)"),
    query("scope", "Space-separated scopes", {"type": "string", "example": "openid internal_login"}),
    query("state", "Returned to the client unchanged"),
    query("code_challenge", "PKCE challenge (RFC 7636)"),
    query("code_challenge_method", "S256 only", {"type": "string", "example": "S256"}),
    query("prompt", "none | login | consent"),
    query("max_age", "Seconds since the last sign-in", {"type": "string"}),
    query("nonce", "Copied into the ID token"),
]
_DISCOVERY = ok(ref("OpenIdConfiguration"))

OPERATIONS = [
    Operation(
        "POST",
        "/oauth2/token",
        "Issue tokens: authorization_code (PKCE), refresh_token (rotating), password, client_credentials; "
        "an id_token (with username) on every user grant asking for openid. A failed client authentication "
        "is 401 invalid_client naming the possible causes (a wrong secret and an unknown client_id read alike); "
        "a body that is not form-encoded is invalid_request saying so",
        TAG,
        {200: ok(ref("TokenResponse"), headers=_NO_STORE)},
        "oauth",
        (400, 401, 429),
        security=CLIENT,
        request=body(ref("TokenRequest"), _FORM_ONLY),
    ),
    Operation(
        "POST",
        "/oauth2/revoke",
        "RFC 7009 revocation: an unknown token also answers 200",
        TAG,
        {200: no_body("Revoked (or unknown)")},
        "oauth",
        (400, 401),
        security=CLIENT,
        request=body(ref("TokenOnly"), _FORM_ONLY),
    ),
    Operation(
        "POST",
        "/oauth2/introspect",
        "RFC 7662 introspection for confidential clients; another client's token is {active: false}",
        TAG,
        {200: ok(ref("Introspection"), headers=_NO_STORE)},
        "oauth",
        (400, 401),
        security=({"clientBasic": []},),
        request=body(ref("TokenOnly"), _FORM_ONLY),
    ),
    Operation(
        "GET",
        "/oauth2/userinfo",
        "OIDC claims of the token's user, by scope",
        TAG,
        {200: ok(ref("UserInfo"))},
        "wso2",
        (401, 403),
        security=({"bearer": []}, {"oauth2": ["openid"]}),
    ),
    Operation(
        "POST",
        "/oauth2/userinfo",
        "OIDC claims of the token's user, by scope",
        TAG,
        {200: ok(ref("UserInfo"))},
        "wso2",
        (401, 403),
        security=({"bearer": []}, {"oauth2": ["openid"]}),
        operation_id="postOauth2UserinfoForm",
    ),
    Operation(
        "GET",
        "/oauth2/jwks",
        "The tenant's public signing keys",
        TAG,
        {200: ok(ref("Jwks"))},
        "wso2",
        (),
        security=NONE,
    ),
    Operation(
        "GET",
        "/oauth2/token/.well-known/openid-configuration",
        "OIDC discovery at WSO2's path (issuer {base}/oauth2/token)",
        TAG,
        {200: _DISCOVERY},
        "html",
        (),
        security=NONE,
    ),
    Operation(
        "GET",
        "/oauth2/oidcdiscovery/.well-known/openid-configuration",
        "OIDC discovery at WSO2's older path",
        TAG,
        {200: _DISCOVERY},
        "html",
        (),
        security=NONE,
    ),
    Operation(
        "GET",
        "/.well-known/openid-configuration",
        "OIDC discovery at the standard path",
        TAG,
        {200: _DISCOVERY},
        "html",
        (),
        security=NONE,
    ),
    Operation(
        "GET",
        "/oauth2/authorize",
        "Authorization code + PKCE: the sign-in page, the consent page, or a redirect with the code",
        TAG_BROWSER,
        {
            200: html("Sign-in, consent or second-factor page"),
            302: redirect("Back to the client with code (and session_state) or error"),
        },
        "html",
        (400, 401, 403, 429),
        security=NONE,
        parameters=_AUTHORIZE_PARAMS,
    ),
    Operation(
        "POST",
        "/oauth2/authorize",
        "The sign-in, second-factor and consent forms (CSRF-protected)",
        TAG_BROWSER,
        {200: html("The next page"), 302: redirect("Back to the client with code (and session_state) or error")},
        "html",
        (400, 401, 403, 429),
        security=NONE,
        parameters=_AUTHORIZE_PARAMS,
        request=body(
            {
                "type": "object",
                "properties": {
                    "action": {"type": "string", "enum": ["login", "mfa", "consent"]},
                    "username": _STRING,
                    "password": _STRING,
                    "code": _STRING,
                    "decision": _STRING,
                    "csrf_token": _STRING,
                },
            },
            _FORM_ONLY,
        ),
        operation_id="postOauth2AuthorizeForm",
    ),
    Operation(
        "GET",
        "/oidc/logout",
        "RP-initiated logout; without a valid id_token_hint the user is asked to confirm",
        TAG_BROWSER,
        {200: html("Confirmation page, or signed out"), 302: redirect("To post_logout_redirect_uri")},
        "html",
        (400,),
        security=NONE,
        parameters=[
            query("id_token_hint", "An ID token this tenant issued to the signed-in user"),
            query("post_logout_redirect_uri", "A registered redirect URI of the client"),
            query("client_id", "The client"),
            query("state", "Returned on the redirect"),
        ],
    ),
    Operation(
        "POST",
        "/oidc/logout",
        "RP-initiated logout (form post, or the confirmation form)",
        TAG_BROWSER,
        {200: html("Confirmation page, or signed out"), 302: redirect("To post_logout_redirect_uri")},
        "html",
        (400,),
        security=NONE,
        request=body(
            {
                "type": "object",
                "properties": {
                    "id_token_hint": _STRING,
                    "post_logout_redirect_uri": _STRING,
                    "client_id": _STRING,
                    "state": _STRING,
                    "action": _STRING,
                    "csrf_token": _STRING,
                },
            },
            _FORM_ONLY,
            required=False,
        ),
        operation_id="postOidcLogoutForm",
    ),
    Operation(
        "GET",
        "/oidc/checksession",
        "OIDC Session Management 1.0 OP iframe: answers the client's origins' postMessage"
        ' "client_id session_state" with changed / unchanged / error; frameable by those origins only',
        TAG_BROWSER,
        {200: html("The check-session page (a script, no content)")},
        "html",
        (400,),
        security=NONE,
        parameters=[
            query("client_id", "The app's client (its redirect URIs' and allowed origins may frame the page)"),
            query("redirect_uri", "Sent by the Asgardeo SDKs; not used (redirect URIs match exactly)"),
        ],
    ),
]

__all__ = ["JSON", "OPERATIONS", "schemas"]

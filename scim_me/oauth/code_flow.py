"""Authorization code + PKCE (S256 only) with OpenID Connect ID tokens, on authlib's grants.

RFC 9700 §2.1.1 and security.md §3d: authlib's CodeChallenge accepts ``plain`` and defaults a
missing method to ``plain``; here every authorization request must carry a ``code_challenge``
with ``code_challenge_method=S256``, for public and confidential clients alike.
"""

from __future__ import annotations

import time
from typing import Any

from authlib.oauth2.rfc6749 import InvalidRequestError
from authlib.oauth2.rfc6749 import grants
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oauth2.rfc9207 import IssuerParameter
from authlib.oidc.core import OpenIDCode
from authlib.oidc.core import OpenIDToken
from flask import g

from scim_me.auth.keys import signing_key
from scim_me.core.accounts import is_disabled
from scim_me.oauth.claims import id_token_claims
from scim_me.oauth.requests import repeated_description
from scim_me.oauth.requests import repeated_parameter
from scim_me.storage.codes import CodeRecord
from scim_me.storage.codes import code_expiry
from scim_me.storage.codes import find_code
from scim_me.storage.codes import save_code
from scim_me.storage.users import StoredUser
from scim_me.storage.users import get_user
from scim_me.web.context import current_tenant
from scim_me.web.context import settings
from scim_me.web.context import tenant_issuer


class S256Only(CodeChallenge):  # type: ignore[misc]
    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]
    DEFAULT_CODE_CHALLENGE_METHOD = "S256"

    def validate_code_challenge(self, grant: Any, redirect_uri: str) -> None:
        data = grant.request.payload.data
        if not data.get("code_challenge"):
            raise InvalidRequestError("PKCE is required: send a 'code_challenge'.")
        if data.get("code_challenge_method") != "S256":
            raise InvalidRequestError("Only 'code_challenge_method=S256' is supported.")
        super().validate_code_challenge(grant, redirect_uri)

    def get_authorization_code_challenge(self, authorization_code: CodeRecord) -> str | None:
        return authorization_code.code_challenge

    def get_authorization_code_challenge_method(self, authorization_code: CodeRecord) -> str | None:
        return authorization_code.code_challenge_method


class AuthorizationCodeGrant(grants.AuthorizationCodeGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]

    @staticmethod
    def validate_no_multiple_request_parameter(request: Any) -> None:
        """RFC 6749 §3.1: no parameter of the authorization request may repeat (authlib checks
        only five). The error has no redirect URI on purpose: which of two values would we trust?"""
        name = repeated_parameter(request.args, request.form)
        if name is not None:
            raise InvalidRequestError(repeated_description(name), state=request.args.get("state"))

    def save_authorization_code(self, code: str, request: Any) -> None:
        tenant = current_tenant()
        assert tenant is not None
        session = g.get("signin_session")
        data = request.payload.data
        save_code(
            code,
            CodeRecord(
                code_hash="",
                tenant_id=tenant.id,
                client_pk=request.client.record.id,
                user_id=request.user.id,
                session_id=session.id if session else None,
                # "" when the request named none (the single registered URI was used): the
                # token request then needs none either (RFC 6749 §4.1.3).
                redirect_uri=request.payload.redirect_uri or "",
                scope=request.payload.scope or "",
                nonce=data.get("nonce"),
                code_challenge=data.get("code_challenge"),
                code_challenge_method=data.get("code_challenge_method"),
                auth_time=session.auth_time if session else int(time.time()),
                expires_at=code_expiry(settings().code_lifetime),
                amr=session.amr if session else "pwd",
            ),
        )

    def query_authorization_code(self, code: str, client: Any) -> CodeRecord | None:
        record = find_code(code, client.record.id)  # spent with its tokens (server._redeem)
        if record is not None:
            g.oauth_code = record
        return record

    def delete_authorization_code(self, authorization_code: CodeRecord) -> None:
        """Nothing to do: the code is spent with the tokens it buys (server._redeem)."""

    def authenticate_user(self, authorization_code: CodeRecord) -> StoredUser | None:
        user = get_user(authorization_code.tenant_id, authorization_code.user_id)
        # A code issued just before an administrator disabled the account buys no token.
        return None if user is None or is_disabled(user.profile) else user


def tenant_signing_key() -> tuple[str, str, Any]:
    """``(kid, alg, private key)`` of the tenant's active key, read once per request: the access
    token, the ID token and its header all need it."""
    if "signing_key" not in g:
        tenant = current_tenant()
        assert tenant is not None
        g.signing_key = signing_key(tenant.id, settings().master_key())
    return g.signing_key  # type: ignore[no-any-return]


class _TenantSigned:
    """ID tokens signed with the tenant's key; ``iss`` is WSO2's ``{base}/oauth2/token``."""

    def _key(self) -> tuple[str, str, Any]:
        return tenant_signing_key()

    def resolve_client_private_key(self, client: Any) -> Any:
        return self._key()[2]

    def get_client_algorithm(self, client: Any) -> str:
        return self._key()[1]

    def get_encode_header(self, client: Any) -> dict[str, str]:
        kid, alg, _ = self._key()
        return {"alg": alg, "kid": kid, "typ": "JWT"}

    def get_client_claims(self, client: Any) -> dict[str, Any]:
        s = settings()
        tenant = current_tenant()
        assert tenant is not None
        now = int(time.time())
        return {
            "iss": tenant_issuer(tenant),
            "aud": [client.get_client_id()],
            "azp": client.get_client_id(),
            "iat": now,
            "exp": now + s.access_token_lifetime,
        }

    def generate_user_info(self, user: StoredUser, scope: str) -> dict[str, Any]:
        return id_token_claims(user.id, user.user_name, user.profile, set(scope.split()))


class OpenIDTokens(_TenantSigned, OpenIDCode):  # type: ignore[misc]
    """ID tokens for the authorization code grant."""

    def exists_nonce(self, nonce: str, request: Any) -> bool:
        return False  # codes are single use, so a nonce cannot be replayed through them


class IssuedIDTokens(_TenantSigned, OpenIDToken):  # type: ignore[misc]
    """An ID token on every password or refresh grant with the ``openid`` scope, as WSO2 issues
    one on every grant that asks for ``openid``: the Asgardeo SDK validates an ID token in every
    token response and signs out without one.

    ``auth_time`` and ``amr`` are the authentication the token stands for (OIDC Core §12.2: a
    refresh keeps the original sign-in's; authlib would put the current time), as the access
    token's own claims say (set by the token generator in ``g.token_authentication``)."""

    def get_client_claims(self, client: Any) -> dict[str, Any]:
        claims = super().get_client_claims(client)
        authentication = g.get("token_authentication")
        if authentication is not None:
            claims["auth_time"], claims["amr"] = authentication
        return claims


class TenantIssuerParameter(IssuerParameter):  # type: ignore[misc]
    """RFC 9207: every authorization response, errors included, names the issuer in ``iss``,
    so a client that talks to several issuers can tell whose code it got (mix-up defense)."""

    def get_issuer(self) -> str | None:
        tenant = current_tenant()
        if tenant is None:
            return None
        return tenant_issuer(tenant)

    def add_to(self, response: Any) -> Any:
        """For the redirects built outside ``create_authorization_response`` (early errors)."""
        self.add_issuer_parameter(None, response)
        return response

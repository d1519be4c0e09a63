"""The token endpoint, built on authlib's server components.

One :class:`AuthorizationServer` per app (authlib registers grants on the instance, so a
module-level server would pile up grants across ``create_app`` calls). Grants:
authorization_code, password (per-client switch, for Postman and tests), client_credentials
(confidential clients) and refresh_token (rotation on every use; a reused refresh token revokes
the whole grant). Access tokens are the JWTs the SCIM API verifies; every one is recorded by
``jti`` under its grant. Every user grant asking for ``openid`` also gets an ID token.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from typing import Any

from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.oauth2 import rfc7009
from authlib.oauth2 import rfc7662
from authlib.oauth2.rfc6749 import ClientMixin
from authlib.oauth2.rfc6749 import InvalidClientError
from authlib.oauth2.rfc6749 import InvalidGrantError
from authlib.oauth2.rfc6749 import grants
from authlib.oauth2.rfc6749.util import scope_to_list
from flask import Flask
from flask import g
from flask import request as flask_request

from scim_me.auth.credentials import must_change_password
from scim_me.auth.login import LoginThrottled
from scim_me.auth.login import lockout_policy
from scim_me.auth.login import verify_login
from scim_me.auth.mfa import required as mfa_required
from scim_me.auth.tokens import AccessClaims
from scim_me.auth.tokens import TokenError
from scim_me.auth.tokens import mint_access_token
from scim_me.auth.tokens import unverified_claim
from scim_me.auth.tokens import verify_access_token
from scim_me.core.accounts import admin_scopes_for
from scim_me.core.accounts import is_disabled
from scim_me.oauth.browser_state import SessionStateParameter
from scim_me.oauth.client_auth import named_failure
from scim_me.oauth.code_flow import AuthorizationCodeGrant
from scim_me.oauth.code_flow import IssuedIDTokens
from scim_me.oauth.code_flow import OpenIDTokens
from scim_me.oauth.code_flow import S256Only
from scim_me.oauth.code_flow import TenantIssuerParameter
from scim_me.oauth.code_flow import tenant_signing_key
from scim_me.oauth.lifetimes import grant_past_absolute_lifetime
from scim_me.oauth.lifetimes import refresh_expiry
from scim_me.storage.clients import ClientRecord
from scim_me.storage.clients import find_client
from scim_me.storage.clients import verify_client_secret
from scim_me.storage.codes import CodeRecord
from scim_me.storage.codes import refuse_replay
from scim_me.storage.codes import spend_code
from scim_me.storage.db import write_transaction
from scim_me.storage.grants import GrantRecord
from scim_me.storage.grants import access_token_grant
from scim_me.storage.grants import expiry
from scim_me.storage.grants import find_grant
from scim_me.storage.grants import find_refresh_token
from scim_me.storage.grants import is_access_token_revoked
from scim_me.storage.grants import new_grant
from scim_me.storage.grants import record_tokens
from scim_me.storage.grants import refresh_token_grant
from scim_me.storage.grants import revoke_access_token
from scim_me.storage.grants import revoke_grant
from scim_me.storage.grants import spend_refresh_token
from scim_me.storage.sessions import SessionLimits
from scim_me.storage.sessions import end_session
from scim_me.storage.sessions import expired_session_of_token
from scim_me.storage.sessions import use_session
from scim_me.storage.tenants import TenantRecord
from scim_me.storage.users import StoredUser
from scim_me.storage.users import find_user
from scim_me.storage.users import get_user
from scim_me.web.context import current_tenant
from scim_me.web.context import settings
from scim_me.web.context import tenant_issuer

_SECRET_METHODS = ("client_secret_basic", "client_secret_post")
_ALL_METHODS = [*_SECRET_METHODS, "none"]


class Client(ClientMixin):  # type: ignore[misc]
    """authlib's view of a registered client."""

    def __init__(self, record: ClientRecord) -> None:
        self.record = record

    def get_client_id(self) -> str:
        return self.record.client_id

    def get_default_redirect_uri(self) -> str | None:
        # RFC 6749 §3.1.2.3: the parameter may be left out only when exactly one URI is
        # registered; with several, authlib refuses the request (without redirecting).
        return self.record.redirect_uris[0] if len(self.record.redirect_uris) == 1 else None

    def get_allowed_scope(self, scope: str | None) -> str:
        allowed = scope_to_list(self.record.scope) or []
        if not scope:
            return " ".join(allowed)
        return " ".join(s for s in scope_to_list(scope) if s in allowed)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri in self.record.redirect_uris  # exact string match (RFC 9700 §2.1)

    def check_client_secret(self, client_secret: str) -> bool:
        return verify_client_secret(self.record, client_secret)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        if self.record.is_public:
            return method == "none"
        return method in _SECRET_METHODS

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code" and "authorization_code" in self.record.grant_types

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in self.record.grant_types


class RefreshCredential:
    """A spent refresh token's grant, as authlib's RefreshTokenGrant expects it."""

    def __init__(self, grant: GrantRecord) -> None:
        self.grant = grant

    def check_client(self, client: Client) -> bool:
        return client.record.id == self.grant.client_pk

    def get_scope(self) -> str:
        return self.grant.scope

    def is_expired(self) -> bool:
        return False

    def is_revoked(self) -> bool:
        return self.grant.revoked


class LockedOutError(InvalidGrantError):  # type: ignore[misc]
    """A password grant while the account or the client IP is locked: 429 (RFC 6585 §4) with
    ``Retry-After``, error ``invalid_grant`` (RFC 6749 §5.2: the resource owner credentials can
    not be used). No password hash ran; an unknown username locks alike."""

    status_code = 429

    def __init__(self, retry_after: int) -> None:
        super().__init__(description="Too many failed sign-in attempts. Try again later.")
        self.retry_after = retry_after

    def get_headers(self) -> list[tuple[str, str]]:
        return [*super().get_headers(), ("Retry-After", str(self.retry_after))]


class PasswordGrant(grants.ResourceOwnerPasswordCredentialsGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS = _ALL_METHODS
    _client: Client | None = None

    def authenticate_token_endpoint_client(self) -> Client:
        # Kept so the security event of this sign-in can name the client (authlib attaches the
        # client to the request only after the password is checked).
        self._client = super().authenticate_token_endpoint_client()
        return self._client

    def authenticate_user(self, username: str, password: str) -> StoredUser | None:
        tenant = current_tenant()
        if tenant is None:
            return None
        try:
            user = verify_login(
                tenant.id,
                find_user(tenant.id, username),
                password,
                settings().hash_params(),
                channel="password_grant",
                ip=flask_request.remote_addr or "",
                user_agent=flask_request.headers.get("User-Agent", ""),
                client_id=self._client.get_client_id() if self._client else None,
                attempted_name=username,
                lockout=lockout_policy(settings()),
            )
        except LoginThrottled as exc:
            raise LockedOutError(exc.retry_after) from exc
        if user is None:
            # RFC 6749 §5.2: wrong resource owner credentials are an invalid grant (400); authlib
            # would answer invalid_request, and the client itself did authenticate.
            raise InvalidGrantError("The username or password is incorrect.")
        # The password grant has no step for a second factor: a user with MFA active must sign in
        # through /oauth2/authorize, or the grant would be a way around MFA (security.md T-MFA-8).
        # Said only after the password is proven, so it reveals nothing to a guesser.
        if user is not None and mfa_required(tenant.id, user.id):
            raise InvalidGrantError(
                "This account uses multi-factor authentication, which the password grant cannot complete. "
                "Sign in through the authorization endpoint (authorization code with PKCE)."
            )
        # RFC 6749 §5.2 invalid_grant: the credentials are right but may no longer be used. Said
        # only after the password is proven. The sign-in page lets the user choose a new one.
        why = must_change_password(settings(), tenant, user)
        if why == "expired":
            raise InvalidGrantError(
                "The password has expired. Choose a new one by signing in through the authorization endpoint."
            )
        if why == "forced":
            raise InvalidGrantError(
                "An administrator requires a new password for this account: use the reset link mailed to the user."
            )
        return user


class ClientCredentialsGrant(grants.ClientCredentialsGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS = list(_SECRET_METHODS)


class RefreshTokenGrant(grants.RefreshTokenGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS = _ALL_METHODS
    INCLUDE_NEW_REFRESH_TOKEN = True

    def authenticate_refresh_token(self, refresh_token: str) -> RefreshCredential | None:
        # authlib authenticates the client before it asks for the token: storage checks the
        # binding (another client's token is refused untouched). The token is spent with the new
        # tokens, once they are signed (_renew).
        client: Client = self.request.client
        lookup = find_refresh_token(refresh_token, client.record.id)
        if lookup.grant is None or grant_past_absolute_lifetime(lookup.grant, settings()):
            return None
        g.oauth_grant = lookup.grant
        g.oauth_refresh_hash = lookup.token_hash
        return RefreshCredential(lookup.grant)

    def authenticate_user(self, credential: RefreshCredential) -> StoredUser | None:
        if credential.grant.user_id is None:
            return None
        user = get_user(credential.grant.tenant_id, credential.grant.user_id)
        return None if user is None or is_disabled(user.profile) else user

    def revoke_old_credential(self, credential: RefreshCredential) -> None:
        """Nothing to do: the token was marked used when it was authenticated."""


class IssuedToken:
    """A token named in a revocation request: an access token (by jti) or a refresh token."""

    def __init__(self, grant: GrantRecord, jti: str | None) -> None:
        self.grant = grant
        self.jti = jti

    def check_client(self, client: Client) -> bool:
        return client.record.id == self.grant.client_pk


class RevocationEndpoint(rfc7009.RevocationEndpoint):  # type: ignore[misc]
    """RFC 7009. Revoking an access token ends that token; revoking a refresh token ends its
    whole grant. Unknown tokens answer 200 as the RFC requires (no oracle); a token of another
    client is refused and left alone."""

    CLIENT_AUTH_METHODS = _ALL_METHODS

    def query_token(self, token_string: str, token_type_hint: str | None) -> IssuedToken | None:
        if token_type_hint != "refresh_token":
            jti = unverified_claim(token_string, "jti")  # unverified: it only finds a grant
            grant_id = access_token_grant(jti) if jti else None
            grant = find_grant(grant_id) if grant_id else None
            if grant is not None:
                return IssuedToken(grant, jti)
        if token_type_hint != "access_token":
            grant = refresh_token_grant(token_string)
            if grant is not None:
                return IssuedToken(grant, None)
        return None

    def revoke_token(self, token: IssuedToken, request: Any) -> None:
        if token.jti is None:
            revoke_grant(token.grant.id)
        else:
            revoke_access_token(token.jti)


class IntrospectedToken:
    """A verified access token of this tenant, as RFC 7662 reports it."""

    def __init__(self, claims: AccessClaims, revoked: bool, now: int) -> None:
        self.claims = claims
        self.revoked = revoked
        self.now = now

    def is_expired(self) -> bool:
        return self.claims.expires_at < self.now

    def is_revoked(self) -> bool:
        return self.revoked


class IntrospectionEndpoint(rfc7662.IntrospectionEndpoint):  # type: ignore[misc]
    CLIENT_AUTH_METHODS = list(_SECRET_METHODS)

    def query_token(self, token_string: str, token_type_hint: str | None) -> IntrospectedToken | None:
        if token_type_hint == "refresh_token":
            return None
        tenant = current_tenant()
        if tenant is None:
            return None
        s = settings()
        current = int(time.time())
        try:
            claims = verify_access_token(
                token_string,
                tenant_id=tenant.id,
                issuer=tenant_issuer(tenant),
                audience=s.resource_audience,
                leeway=0,
                now=current,
            )
        except TokenError:
            return None
        revoked = bool(claims.token_id and is_access_token_revoked(claims.token_id))
        if not revoked and claims.token_id and claims.claims.get("sub_type", "user") == "user":
            # A token whose sign-in session expired is over, as the bearer lookup says at /Me.
            expired = expired_session_of_token(claims.token_id, SessionLimits.of(tenant.settings))
            if expired is not None:
                end_session(expired)
                revoked = True
        return IntrospectedToken(claims, revoked, current)

    def check_permission(self, token: IntrospectedToken, client: Client, request: Any) -> bool:
        return token.claims.client_id == client.record.client_id

    def introspect_token(self, token: IntrospectedToken) -> dict[str, Any]:
        claims = token.claims.claims
        payload = {
            "active": True,
            "scope": claims.get("scope", ""),
            "client_id": token.claims.client_id,
            "token_type": "Bearer",
            "exp": claims.get("exp"),
            "iat": claims.get("iat"),
            "nbf": claims.get("nbf"),
            "sub": claims.get("sub"),
            "aud": claims.get("aud"),
            "iss": claims.get("iss"),
            "jti": claims.get("jti"),
        }
        if claims.get("username"):
            payload["username"] = claims["username"]
        return {k: v for k, v in payload.items() if v is not None}


def _query_client(client_id: str) -> Client | None:
    tenant = current_tenant()
    if tenant is None:
        return None
    record = find_client(tenant.id, client_id)
    return Client(record) if record else None


def _save_token(token: dict[str, Any], request: Any) -> None:
    """Tokens are recorded when generated (see :func:`_generate`)."""


def _generate(
    grant_type: str,
    client: Client,
    user: StoredUser | None = None,
    scope: str | None = None,
    expires_in: int | None = None,
    include_refresh_token: bool = True,
) -> dict[str, Any]:
    s = settings()
    tenant = current_tenant()
    assert tenant is not None  # a client was found in this tenant
    # authlib's password and client_credentials grants pass the requested scope through as is:
    # a client only ever gets the scopes it is registered for.
    scope = client.get_allowed_scope(scope)
    if user is not None:
        # A user token carries the admin scopes only for a holder of the tenant's admin role
        # (core/accounts.py); a client allowed them does not make its every user an admin.
        scope = admin_scopes_for(user.profile, tenant.settings.admin_role, scope)
    grant: GrantRecord | None = g.get("oauth_grant")
    code = g.get("oauth_code")
    unstored: GrantRecord | None = None
    if grant is None:
        # Stored with its tokens below: one durable commit for the request, and never a grant
        # without one. A code's grant is linked to the code as it is spent, for a replay to revoke.
        session_id = code.session_id if code is not None else None
        grant = unstored = new_grant(tenant.id, client.record.id, user.id if user else None, scope or "", session_id)
    lifetime = s.access_token_lifetime
    jti = secrets.token_urlsafe(24)
    extra: dict[str, Any] = {"grant_type": grant_type, "jti": jti}
    if user is None:
        extra["sub_type"] = "application"
    else:
        extra["username"] = user.user_name
        # RFC 9068 §2.2.1: when the user authenticated, so a resource server can ask for a more
        # recent sign-in (RFC 9470 step-up). A refreshed token keeps the original sign-in.
        g.token_authentication = _authentication(grant, code)  # the ID token says the same
        extra["auth_time"], extra["amr"] = g.token_authentication
    access_token = mint_access_token(
        tenant_id=tenant.id,
        issuer=tenant_issuer(tenant),
        subject=user.id if user else client.record.client_id,
        client_id=client.record.client_id,
        scopes=scope or "",
        audience=s.resource_audience,
        lifetime=lifetime,
        master_key=s.master_key(),
        extra=extra,
        key=tenant_signing_key(),
    )
    refresh_token = None
    if include_refresh_token and user is not None and "refresh_token" in client.record.grant_types:
        refresh_token = secrets.token_urlsafe(32)

    def record() -> None:
        record_tokens(
            grant.id,
            jti,
            expiry(lifetime),
            refresh_token,
            refresh_expiry(grant, s) if refresh_token else None,
            unstored=unstored,
        )

    spent: str | None = g.get("oauth_refresh_hash")
    if spent is not None:
        _renew(grant, spent, tenant, record)
    elif code is not None:
        _redeem(code, grant, record)
    else:
        record()
    token: dict[str, Any] = {
        "access_token": access_token,
        "token_type": "Bearer",
        "expires_in": lifetime,
        "scope": scope or "",
    }
    if refresh_token:
        token["refresh_token"] = refresh_token
    return token


def _renew(grant: GrantRecord, token_hash: str, tenant: TenantRecord, record: Callable[[], None]) -> None:
    """The refresh grant's writes, once the new tokens are signed: the presented token spent, the
    sign-in session counted as used and the new tokens stored, in one transaction and one durable
    commit. A failure leaves the presented token unspent, so the client's retry is not taken for a
    reuse that would end the grant."""
    outcome = "renewed"
    with write_transaction():
        if not spend_refresh_token(token_hash):
            outcome = "reused"  # another request spent it since it was read
        elif grant.session_id and not use_session(grant.session_id, SessionLimits.of(tenant.settings)):
            outcome = "expired"  # the session ended here, and its grants with it
        else:
            record()
    if outcome == "reused":
        revoke_grant(grant.id)  # RFC 9700 §4.14.2: a refresh token used twice ends its grant
    if outcome != "renewed":
        raise InvalidGrantError()  # as authlib answers a refresh token it refuses


class _CodeSpent(Exception):
    """Another redemption spent the code since it was read: roll this one's grant back."""


def _redeem(code: CodeRecord, grant: GrantRecord, record: Callable[[], None]) -> None:
    """The code grant's writes, once the tokens are signed: the grant and its tokens stored and the
    code spent and linked to the grant, in one transaction and one durable commit. A failure
    leaves the code unspent, so the client's retry still works. A code spent since it was read
    is a replay: the grant the other redemption produced is revoked (RFC 6749 §4.1.2)."""
    try:
        with write_transaction():
            record()
            if not spend_code(code.code_hash, grant.id):
                raise _CodeSpent
    except _CodeSpent:
        refuse_replay(code.code_hash)
        raise InvalidGrantError() from None


def _authentication(grant: GrantRecord, code: Any) -> tuple[int, list[str]]:
    """``auth_time`` and ``amr`` of a token for a user: the code's (its session's sign-in), the
    refreshed grant's, or, for the password grant, this very request's password check."""
    if code is not None:
        return code.auth_time, code.get_amr()
    if grant.auth_time is not None:
        return grant.auth_time, (grant.amr or "pwd").split()
    return int(time.time()), ["pwd"]


class TenantAuthorizationServer(AuthorizationServer):  # type: ignore[misc]
    """authlib's server; a failed client authentication names its possible causes
    (oauth/client_auth.py) on the token, revocation and introspection endpoints alike."""

    def authenticate_client(self, request: Any, methods: Any, endpoint: str = "token") -> Any:
        try:
            return super().authenticate_client(request, methods, endpoint)
        except InvalidClientError as failure:
            raise named_failure(request, failure) from failure


def build_authorization_server(app: Flask) -> AuthorizationServer:
    server = TenantAuthorizationServer(app, query_client=_query_client, save_token=_save_token)
    server.register_token_generator("default", _generate)
    server.register_grant(AuthorizationCodeGrant, [S256Only(required=True), OpenIDTokens(require_nonce=False)])
    server.register_grant(PasswordGrant, [IssuedIDTokens()])
    server.register_grant(ClientCredentialsGrant)
    server.register_grant(RefreshTokenGrant, [IssuedIDTokens()])
    server.register_endpoint(RevocationEndpoint)
    server.register_endpoint(IntrospectionEndpoint)
    server.register_extension(TenantIssuerParameter())  # RFC 9207
    server.register_extension(SessionStateParameter())  # OIDC Session Management 1.0
    return server

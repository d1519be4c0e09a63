"""Who is calling: a bearer access token of this tenant, or HTTP Basic (WSO2 My Account uses
Basic on /Me to prove the current password).

Tokens in the query string are never read (RFC 6750 §2.3 is not supported on purpose: URLs end
up in logs). Failures are 401 with ``WWW-Authenticate: Bearer``; a valid token without the
needed scope is 403 ``insufficient_scope``.
"""

from __future__ import annotations

import base64
import binascii
import time

from flask import request

from scim_me.auth.credentials import must_change_password
from scim_me.auth.external import unverified_issuer
from scim_me.auth.login import LoginThrottled
from scim_me.auth.login import lockout_policy
from scim_me.auth.login import verify_login
from scim_me.auth.mfa import required as mfa_required
from scim_me.auth.tokens import TokenError
from scim_me.auth.tokens import check_claim_times
from scim_me.auth.tokens import verify_access_token
from scim_me.core.accounts import ADMIN_SCOPES
from scim_me.core.accounts import holds_role
from scim_me.core.accounts import is_disabled
from scim_me.errors import ForbiddenError
from scim_me.errors import TooManyRequestsError
from scim_me.storage.caller import load_caller
from scim_me.storage.external_issuers import find_issuer
from scim_me.storage.grants import is_access_token_revoked
from scim_me.storage.sessions import SessionLimits
from scim_me.storage.sessions import end_session
from scim_me.storage.tenants import TenantRecord
from scim_me.storage.users import find_user
from scim_me.web.context import app_globals
from scim_me.web.context import current_request
from scim_me.web.context import settings
from scim_me.web.context import state
from scim_me.web.context import tenant_issuer
from scim_me.web.external_auth import authenticate_external
from scim_me.web.principal import LOGIN_SCOPE
from scim_me.web.principal import Principal
from scim_me.web.principal import auth_time_of
from scim_me.web.principal import unauthorized

# What an API that takes OAuth2 bearer tokens only tells an HTTP Basic caller (WSO2's TOTP and
# backup-code APIs: "not supported with basic authentication").
BASIC_NOT_SUPPORTED = "This operation is not supported with basic authentication; use an OAuth2 bearer token."


def sends_basic() -> bool:
    """Whether the request authenticates with HTTP Basic. An API that refuses Basic says so
    before any password is checked, so it is no password oracle."""
    header: str = current_request().environ.get("HTTP_AUTHORIZATION", "")
    return header.partition(" ")[0].lower() == "basic"


def authenticate(tenant: TenantRecord | None, *, allow_basic: bool = True, defer_revocation: bool = False) -> Principal:
    """Return the caller of this request or raise 401.

    ``defer_revocation``: a client_credentials token's revocation is not checked here but by
    the caller, through :class:`DeferredRevocation` (a list page reads it with the page: one
    statement fewer). Such a principal is not kept for the request: any other authenticate()
    checks the token in full."""
    found = app_globals()
    cached = found.get("principal")
    if cached is not None:
        return cached  # type: ignore[no-any-return]
    header = current_request().environ.get("HTTP_AUTHORIZATION", "")
    scheme, _, credentials = header.partition(" ")
    scheme = scheme.lower()
    credentials = credentials.strip()
    if tenant is None:
        raise unauthorized("Unknown tenant." if header else None)
    if scheme == "bearer" and credentials:
        principal = _bearer(tenant, credentials, defer_revocation)
        if principal.revocation_pending:
            return principal
    elif scheme == "basic" and credentials and allow_basic:
        principal = _basic(tenant, credentials)
    else:
        raise unauthorized()
    found.principal = principal
    return principal


def _bearer(tenant: TenantRecord, token: str, defer_revocation: bool = False) -> Principal:
    s = settings()
    issuer = tenant_issuer(tenant)
    cache = state().verified_tokens
    # Routing only: the unverified ``iss`` picks the verifier, which then checks everything. A
    # token this worker already verified as this tenant's own needs no routing (nor the parse).
    verified = cache.get((tenant.id, issuer, s.resource_audience, token))
    if verified is None:
        claimed = unverified_issuer(token)
        if claimed is not None and claimed != issuer:
            external = find_issuer(tenant.id, claimed)
            if external is not None:
                return authenticate_external(tenant, token, external)
    if not tenant.settings.accept_local_tokens:
        raise unauthorized("This tenant accepts tokens of its external issuers only.")
    try:
        if verified is not None:
            check_claim_times(verified.claims, int(time.time()), s.token_leeway)  # as verify_access_token does
            claims = verified
        else:
            claims = verify_access_token(
                token,
                tenant_id=tenant.id,
                issuer=issuer,
                audience=s.resource_audience,
                leeway=s.token_leeway,
                cache=cache,
            )
    except TokenError as exc:
        raise unauthorized(str(exc)) from exc
    # Revocation is checked on every request, never cached: it reaches every worker at once.
    if claims.claims.get("sub_type", "user") != "user":
        pending = defer_revocation and bool(claims.token_id)
        if claims.token_id and not pending and is_access_token_revoked(claims.token_id):
            raise unauthorized("The access token has been revoked.")
        return Principal(
            tenant,
            None,
            claims.client_id,
            claims.scopes,
            "bearer",
            token_id=claims.token_id,
            revocation_pending=pending,
        )
    # One statement: the token's revocation, its sign-in session's expiry, the user and what /Me
    # shows beside the profile.
    caller = load_caller(tenant.id, claims.subject, claims.token_id, SessionLimits.of(tenant.settings))
    if caller is None:
        if claims.token_id and is_access_token_revoked(claims.token_id):
            raise unauthorized("The access token has been revoked.")
        raise unauthorized("The token's user does not exist.")
    if caller.token_revoked:
        raise unauthorized("The access token has been revoked.")
    if caller.expired_session is not None:
        # The session outlived its idle or absolute lifetime: end it as a sign-out does, so its
        # refresh tokens and other access tokens stop too (this token's grant among them).
        end_session(caller.expired_session)
        raise unauthorized("The sign-in session of this access token has expired.")
    user = caller.user
    if is_disabled(user.profile):
        # Read from the row the statement already loaded: refusing costs no query.
        raise unauthorized("The account is disabled.")
    return Principal(
        tenant,
        user.id,
        claims.client_id,
        claims.scopes,
        "bearer",
        user,
        token_id=claims.token_id,
        facts=caller.facts,
        auth_time=auth_time_of(claims.claims),
    )


class DeferredRevocation:
    """The revocation check of a principal authenticated with ``defer_revocation``, done by the
    statement the endpoint runs anyway when it can carry it (``jti``: pass it on, then
    :meth:`settle` with what the statement read), else by its own statement.

    As a context manager around the endpoint's work: an error raised there, before the check
    was made (a 403 for a missing scope, a 400 for a bad filter), is preceded by the check, so a
    revoked token is answered 401, as when the check ran first."""

    def __init__(self, principal: Principal) -> None:
        self.jti = principal.token_id if principal.revocation_pending else None

    def __enter__(self) -> DeferredRevocation:
        return self

    def __exit__(self, kind: object, error: object, trace: object) -> None:
        if error is not None:
            self.check()

    def check(self) -> None:
        """Check now, by a statement of its own (unless checked already)."""
        jti, self.jti = self.jti, None
        if jti is not None and is_access_token_revoked(jti):
            raise unauthorized("The access token has been revoked.")

    def settle(self, revoked: bool | None) -> None:
        """What the endpoint's statement read (None: it could not tell, e.g. no row came back)."""
        if revoked is None:
            self.check()
            return
        if self.jti is not None:
            self.jti = None
            if revoked:
                raise unauthorized("The access token has been revoked.")


def _basic(tenant: TenantRecord, credentials: str) -> Principal:
    try:
        decoded = base64.b64decode(credentials, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise unauthorized("Malformed Basic credentials.") from exc
    user_name, sep, password = decoded.partition(":")
    if not sep:
        raise unauthorized("Malformed Basic credentials.")
    # WSO2 sends ``username@tenant``; a userName may itself contain '@' (e-mail as username), and
    # its domain may be the tenant's name (``kim@example.com`` in tenant ``example.com``): when the
    # name without the suffix is not a user, the name as sent is tried.
    user = None
    head, at, domain = user_name.rpartition("@")
    if at and head and domain.lower() == tenant.name:
        user = find_user(tenant.id, head)
    if user is None:
        user = find_user(tenant.id, user_name)
    # Success is not recorded: Basic re-proves the password on every call, a history of those
    # would drown the sign-ins that matter.
    try:
        user = verify_login(
            tenant.id,
            user,
            password,
            settings().hash_params(),
            channel="basic",
            ip=request.remote_addr or "",
            user_agent=request.headers.get("User-Agent", ""),
            record_success=False,
            attempted_name=user_name,
            lockout=lockout_policy(settings()),
        )
    except LoginThrottled as exc:
        retry = {"Retry-After": str(exc.retry_after)}
        if exc.reason == "ip":
            raise TooManyRequestsError(headers=retry) from exc
        # WSO2's auth valve: 401 plus Auth-Failure-Reason when SET_ACCOUNT_LOCK_AUTH_FAILURE_REASON
        # is on. An unknown name locks alike, so the header reveals nothing about who exists.
        error = unauthorized("Invalid username or password.")
        error.headers.update({"Auth-Failure-Reason": "account locked", **retry})
        raise error from exc
    if user is None:
        raise unauthorized("Invalid username or password.")
    # A password alone must not open what the sign-in page guards with a second factor
    # (security.md T-MFA-8). Checked only after the password is proven: no oracle for guessers.
    if not settings().mfa_allow_basic and mfa_required(tenant.id, user.id):
        raise unauthorized(
            "This account uses multi-factor authentication: HTTP Basic is not enough, use a bearer token."
        )
    # A password an administrator revoked or that expired no longer authenticates new requests
    # (tokens issued before keep working until they end).
    why = must_change_password(settings(), tenant, user)
    if why is not None:
        raise unauthorized(
            "The password has expired: choose a new one at sign-in."
            if why == "expired"
            else "An administrator requires a new password: use the reset link mailed to you."
        )
    # Basic proves the password: it stands for the user's own login scope, and for a holder of
    # the tenant's admin role the admin scopes too (WSO2 admins call /scim2/Users with Basic);
    # and for a sign-in as recent as this request (RFC 9470 step-up).
    scopes = frozenset({LOGIN_SCOPE})
    if holds_role(user.profile, tenant.settings.admin_role):
        scopes |= ADMIN_SCOPES
    return Principal(tenant, user.id, None, scopes, "basic", user, auth_time=int(time.time()))


def require_scope(principal: Principal, *scopes: str) -> None:
    """403 unless the caller holds at least one of ``scopes``."""
    if not scopes or principal.scopes.intersection(scopes):
        return
    wanted = " ".join(scopes)
    raise ForbiddenError(
        headers={"WWW-Authenticate": f'Bearer realm="scim-me", error="insufficient_scope", scope="{wanted}"'}
    )


def require_admin(principal: Principal, *scopes: str) -> None:
    """403 unless the caller holds one of ``scopes``; a user (token or Basic) must also still
    hold the tenant's admin role, read from the row loaded while authenticating (no query)."""
    require_scope(principal, *scopes)
    user = principal.user
    if principal.user_id is not None and (
        user is None or not holds_role(user.profile, principal.tenant.settings.admin_role)
    ):
        raise ForbiddenError()


def require_user(principal: Principal) -> str:
    if principal.user_id is None:
        raise ForbiddenError("This endpoint needs a token issued to a user.")
    return principal.user_id

"""Callers with an external issuer's access token (resource-server mode): verify it, then map
its user claim to a local user. See ``auth/external.py`` for the checks and their reasons."""

from __future__ import annotations

import hashlib
import time

from scim_me.auth.external import KeysUnavailable
from scim_me.auth.external import verify_external_token
from scim_me.auth.tokens import AccessClaims
from scim_me.core.accounts import is_disabled
from scim_me.errors import UnavailableError
from scim_me.storage.external_issuers import ExternalIssuerRecord
from scim_me.storage.external_issuers import find_user_by_email
from scim_me.storage.tenants import TenantRecord
from scim_me.storage.users import StoredUser
from scim_me.storage.users import find_user
from scim_me.storage.users import get_user
from scim_me.web.context import settings
from scim_me.web.context import state
from scim_me.web.principal import Principal
from scim_me.web.principal import auth_time_of
from scim_me.web.principal import unauthorized


def authenticate_external(tenant: TenantRecord, token: str, config: ExternalIssuerRecord) -> Principal:
    s = settings()
    app_state = state()
    # The whole configuration is in the key: a changed claim mapping must not serve old results.
    fingerprint = hashlib.sha256(repr(config).encode()).hexdigest()
    cache_key = (tenant.id, f"external:{fingerprint}", config.audience, token)
    claims = app_state.verified_tokens.get(cache_key)
    try:
        if claims is None or claims.expires_at + s.token_leeway < _now():
            claims = verify_external_token(
                token,
                config,
                cache=app_state.jwks,
                leeway=s.token_leeway,
                ttl=s.external_jwks_cache_seconds,
                min_refresh=s.external_jwks_refresh_min_seconds,
                timeout=s.external_jwks_timeout,
            )
            app_state.verified_tokens.put(cache_key, claims)
    except KeysUnavailable as exc:
        raise UnavailableError(
            "The token's issuer cannot be reached to verify it; retry shortly.", headers={"Retry-After": "30"}
        ) from exc
    except ValueError as exc:  # TokenError, or a JWKS this server cannot use
        raise unauthorized(str(exc) if str(exc).endswith(".") else "The access token is invalid.") from exc
    user = _local_user(tenant, config, claims)
    if user is None:
        raise unauthorized("The token's user does not exist.")
    if is_disabled(user.profile):
        raise unauthorized("The account is disabled.")
    return Principal(
        tenant,
        user.id,
        claims.client_id,
        claims.scopes,
        "bearer",
        user,
        issuer=config.issuer,
        auth_time=auth_time_of(claims.claims),
    )


def _local_user(tenant: TenantRecord, config: ExternalIssuerRecord, claims: AccessClaims) -> StoredUser | None:
    value = claims.subject
    if config.user_attribute == "userName":
        return find_user(tenant.id, value)
    if config.user_attribute == "id":
        return get_user(tenant.id, value) if len(value) <= 36 else None
    # emails: only an address the external issuer asserts as verified names anybody (OIDC Core
    # §5.7: without ``email_verified: true`` the claim says nothing about who holds the mailbox).
    if claims.claims.get("email_verified") is not True:
        return None
    return find_user_by_email(tenant.id, value)


def _now() -> int:
    return int(time.time())

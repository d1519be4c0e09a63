"""Who the caller of a request is, and the 401 every authentication failure answers."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from scim_me.errors import UnauthorizedError
from scim_me.storage.caller import UserFacts
from scim_me.storage.tenants import TenantRecord
from scim_me.storage.users import StoredUser

LOGIN_SCOPE = "internal_login"


@dataclass(frozen=True)
class Principal:
    tenant: TenantRecord
    user_id: str | None
    client_id: str | None
    scopes: frozenset[str]
    method: str  # "bearer" or "basic"
    # The user row read while authenticating, so the endpoint does not read it again.
    user: StoredUser | None = None
    # The access token's ``jti`` (bearer only): lets an endpoint find the caller's own grant and
    # session, e.g. to keep them when ending all the others.
    token_id: str | None = None
    # The external issuer of the caller's token (resource-server mode); None for our own tokens
    # and Basic. Such a caller has no grant or session here, and ``token_id`` is None.
    issuer: str | None = None
    # What features hold beside ``user``'s profile, read with it (our own bearer tokens only).
    facts: UserFacts | None = None
    # When the user last authenticated (epoch seconds): the token's ``auth_time`` claim (None
    # when it has none), or now for HTTP Basic, which proves the password on this very request.
    auth_time: int | None = None
    # A client_credentials token whose revocation the endpoint checks itself, with a statement
    # it runs anyway (web/guards.py ``DeferredRevocation``).
    revocation_pending: bool = False


def auth_time_of(claims: Mapping[str, Any]) -> int | None:
    """A token's ``auth_time`` (OIDC Core §2: a JSON number of epoch seconds), None when absent
    or not a number."""
    value = claims.get("auth_time")
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return int(value)


def _challenge(error: str | None = None, description: str | None = None) -> dict[str, str]:
    parts = ['Bearer realm="scim-me"']
    if error:
        parts.append(f'error="{error}"')
    if description:
        parts.append(f'error_description="{description}"')
    return {"WWW-Authenticate": ", ".join(parts)}


def unauthorized(description: str | None = None) -> UnauthorizedError:
    return UnauthorizedError(
        None if description is None else f"Authorization failure. {description}",
        headers=_challenge("invalid_token" if description else None, description),
    )

"""How long a grant may live.

Refresh tokens rotate on every use and each new one lives ``refresh_token_lifetime`` (WSO2's
default: 1 day). Without a cap, a client that refreshes at least once a day would keep a grant,
and the sign-in behind it, alive forever: a stolen refresh token would never die on its own.
So every grant also has an absolute lifetime (``refresh_token_absolute_lifetime``, default 7
days, counted from the sign-in or password grant that created it): no refresh token outlives it,
and after it the user signs in again (RFC 9700 §4.14.2, "refresh tokens SHOULD expire").
"""

from __future__ import annotations

from datetime import datetime
from datetime import timedelta

from scim_me.config import Settings
from scim_me.storage.grants import GrantRecord
from scim_me.storage.users import now


def grant_deadline(grant: GrantRecord, settings: Settings) -> datetime | None:
    if grant.created_at is None:
        return None
    return grant.created_at + timedelta(seconds=settings.refresh_token_absolute_lifetime)


def grant_past_absolute_lifetime(grant: GrantRecord, settings: Settings) -> bool:
    deadline = grant_deadline(grant, settings)
    return deadline is not None and deadline <= now()


def refresh_expiry(grant: GrantRecord, settings: Settings) -> datetime:
    """A new refresh token's expiry: its own lifetime, never past the grant's deadline."""
    own = now() + timedelta(seconds=settings.refresh_token_lifetime)
    deadline = grant_deadline(grant, settings)
    return min(own, deadline) if deadline is not None else own

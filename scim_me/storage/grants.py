"""Grants (one client acting for one user, or for itself) and the tokens issued under them.

Access tokens are JWTs checked locally; their ``jti`` is recorded here so a revocation, a
logout or a reused refresh token reaches every worker at the next request. Refresh tokens are
stored as SHA-256 digests and rotate on every use: marking one used is a compare-and-set, so of
two racing requests exactly one wins and the other counts as reuse, which revokes the grant.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from typing import Any

from scim_me.storage.db import current_database
from scim_me.storage.db import execute_write
from scim_me.storage.db import sql_datetime
from scim_me.storage.db import write_transaction
from scim_me.storage.models import OAuthAccessToken
from scim_me.storage.models import OAuthGrant
from scim_me.storage.models import OAuthRefreshToken
from scim_me.storage.models import UserSession
from scim_me.storage.users import now


@dataclass(frozen=True)
class GrantRecord:
    id: str
    tenant_id: int
    client_pk: int
    user_id: str | None
    scope: str
    session_id: str | None
    revoked: bool
    # When the grant began (naive UTC): refresh rotation never extends a grant past
    # ``created_at + refresh_token_absolute_lifetime``.
    created_at: datetime | None = None
    # When the user last authenticated for this grant (epoch seconds; OIDC ``auth_time``) and
    # how (RFC 8176 ``amr``, space-separated): the sign-in of its session, or for a grant without
    # one (the password grant) its creation. Read with the refresh token only (find_refresh_token);
    # None for a grant with no user.
    auth_time: int | None = None
    amr: str | None = None


def digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _grant(row: OAuthGrant) -> GrantRecord:
    return GrantRecord(
        id=row.id,
        tenant_id=row.tenant_id,  # type: ignore[attr-defined]
        client_pk=row.client_pk,  # type: ignore[attr-defined]
        user_id=row.user_id,  # type: ignore[attr-defined]
        scope=row.scope,
        session_id=row.session_id,
        revoked=row.revoked_at is not None,
        created_at=row.created_at,
    )


def new_grant(
    tenant_id: int, client_pk: int, user_id: str | None, scope: str, session_id: str | None = None
) -> GrantRecord:
    """A grant as :func:`create_grant` stores it, not stored yet: :func:`record_tokens` stores it
    with its first tokens, in one transaction (one durable commit per token request)."""
    return GrantRecord(
        id=str(uuid.uuid4()),
        tenant_id=tenant_id,
        client_pk=client_pk,
        user_id=user_id,
        scope=scope,
        session_id=session_id,
        revoked=False,
        created_at=now(),
    )


# The token endpoint's writes (a grant and its first tokens, or a refresh's new tokens) run on
# every token request: hand-written, since building them with peewee costs more than running them.
_INSERT_GRANT_SQL = (
    "INSERT INTO oauth_grants (id, tenant_id, client_pk, user_id, session_id, scope, created_at) "
    "VALUES (?, ?, ?, ?, ?, ?, ?)"
)
_INSERT_ACCESS_TOKEN_SQL = "INSERT INTO oauth_access_tokens (jti, grant_id, expires_at) VALUES (?, ?, ?)"
_INSERT_REFRESH_TOKEN_SQL = (
    "INSERT INTO oauth_refresh_tokens (token_hash, grant_id, expires_at, created_at) VALUES (?, ?, ?, ?)"
)


def _insert(sql: str, *params: Any) -> None:
    db = current_database()
    values = [sql_datetime(db, value) if isinstance(value, datetime) else value for value in params]
    db.execute_sql(sql.replace("?", db.param), values)


def _insert_grant(grant: GrantRecord) -> None:
    params = (grant.id, grant.tenant_id, grant.client_pk, grant.user_id, grant.session_id, grant.scope)
    _insert(_INSERT_GRANT_SQL, *params, grant.created_at)


def create_grant(
    tenant_id: int, client_pk: int, user_id: str | None, scope: str, session_id: str | None = None
) -> GrantRecord:
    grant = new_grant(tenant_id, client_pk, user_id, scope, session_id)
    with write_transaction():
        _insert_grant(grant)
    return grant


def find_grant(grant_id: str) -> GrantRecord | None:
    row = OAuthGrant.get_or_none(OAuthGrant.id == grant_id)
    return _grant(row) if row else None


def record_tokens(
    grant_id: str,
    jti: str,
    access_expires: datetime,
    refresh_token: str | None,
    refresh_expires: datetime | None,
    *,
    unstored: GrantRecord | None = None,
) -> None:
    """Remember an issued access token (and its refresh token, by digest) under the grant; with
    ``unstored`` (from :func:`new_grant`), store that grant first, in the same transaction."""
    with write_transaction():
        if unstored is not None:
            _insert_grant(unstored)
        _insert(_INSERT_ACCESS_TOKEN_SQL, jti, grant_id, access_expires)
        if refresh_token is not None and refresh_expires is not None:
            _insert(_INSERT_REFRESH_TOKEN_SQL, digest(refresh_token), grant_id, refresh_expires, now())


def revoke_grant(grant_id: str) -> None:
    """End a grant: every access token issued under it stops working on every worker."""
    stamp = now()
    with write_transaction():
        OAuthGrant.update(revoked_at=stamp).where(
            (OAuthGrant.id == grant_id) & OAuthGrant.revoked_at.is_null()
        ).execute()
        OAuthAccessToken.update(revoked_at=stamp).where(
            (OAuthAccessToken.grant == grant_id) & OAuthAccessToken.revoked_at.is_null()
        ).execute()


def revoke_access_token(jti: str) -> bool:
    with write_transaction():
        changed = (
            OAuthAccessToken.update(revoked_at=now())
            .where((OAuthAccessToken.jti == jti) & OAuthAccessToken.revoked_at.is_null())
            .execute()
        )
    return bool(changed)


def access_token_grant(jti: str) -> str | None:
    row = OAuthAccessToken.get_or_none(OAuthAccessToken.jti == jti)
    return row.grant_id if row else None  # type: ignore[attr-defined]


# A token is revoked when its record or its grant says so. The grant is consulted too: a grant
# revoked while one of its tokens was being recorded (a replayed code racing its first
# redemption) must still refuse that token. Written as a condition so that a statement the
# caller runs anyway can carry it (a list page read for a client_credentials caller: web/guards.py
# ``DeferredRevocation``); is_access_token_revoked runs it alone.
REVOKED_TOKEN_SQL = (
    "EXISTS (SELECT 1 FROM oauth_access_tokens rt JOIN oauth_grants rg ON rg.id = rt.grant_id "
    "WHERE rt.jti = ? AND (rt.revoked_at IS NOT NULL OR rg.revoked_at IS NOT NULL))"
)


def is_access_token_revoked(jti: str) -> bool:
    """True for a recorded token that was revoked, or whose grant was. Tokens minted outside
    the issuer (the development CLI) have no record and are governed by their expiry alone."""
    db = current_database()
    row = db.execute_sql(f"SELECT {REVOKED_TOKEN_SQL}".replace("?", db.param), (jti,)).fetchone()
    return bool(row[0])


def refresh_token_grant(token: str) -> GrantRecord | None:
    """The grant a refresh token (used or not) belongs to."""
    row = OAuthRefreshToken.get_or_none(OAuthRefreshToken.token_hash == digest(token))
    return find_grant(row.grant_id) if row else None  # type: ignore[attr-defined]


@dataclass(frozen=True)
class RefreshLookup:
    """A presented refresh token: the grant it may renew (None: refused) and its digest."""

    grant: GrantRecord | None
    token_hash: str


# The refresh grant's read: the token with its grant and the sign-in of the grant's session (so
# a refreshed token keeps the original auth_time), in one statement.
_REFRESH_SQL = (
    "SELECT r.expires_at, g.id, g.tenant_id, g.client_pk, g.user_id, g.scope, g.session_id, g.revoked_at, "
    "g.created_at, s.login_time, s.amr, r.used_at FROM oauth_refresh_tokens r "
    "JOIN oauth_grants g ON g.id = r.grant_id LEFT JOIN user_sessions s ON s.id = g.session_id WHERE r.token_hash = ?"
)


_SPEND_REFRESH_SQL = "UPDATE oauth_refresh_tokens SET used_at = ? WHERE token_hash = ? AND used_at IS NULL"


def find_refresh_token(token: str, client_pk: int) -> RefreshLookup:
    """The grant a refresh token presented by the client ``client_pk`` may renew, read only: the
    token is spent with the new tokens (:func:`spend_refresh_token`). A token spent already is a
    reuse and revokes its whole grant (RFC 9700 §4.14.2). A token of another client is refused
    untouched: revoking for it would let anyone holding a leaked token end its owner's grant
    (RFC 6749 §6: the token is bound to its client)."""
    db = current_database()
    token_hash = digest(token)
    row = db.execute_sql(_REFRESH_SQL.replace("?", db.param), (token_hash,)).fetchone()
    if row is None:
        return RefreshLookup(None, token_hash)
    created_at = OAuthGrant.created_at.python_value(row[8])  # type: ignore[no-untyped-call]
    signed_in = UserSession.login_time.python_value(row[9]) if row[9] is not None else None  # type: ignore[no-untyped-call]
    grant = GrantRecord(
        id=row[1],
        tenant_id=row[2],
        client_pk=row[3],
        user_id=row[4],
        scope=row[5],
        session_id=row[6],
        revoked=row[7] is not None,
        created_at=created_at,
        auth_time=epoch_seconds(signed_in or created_at) if row[4] is not None else None,
        amr=(row[10] or "pwd") if row[4] is not None else None,
    )
    expires_at = OAuthRefreshToken.expires_at.python_value(row[0])  # type: ignore[no-untyped-call]
    if grant.revoked or expires_at < now() or grant.client_pk != client_pk:
        return RefreshLookup(None, token_hash)
    if row[11] is not None:
        revoke_grant(grant.id)
        return RefreshLookup(None, token_hash)
    return RefreshLookup(grant, token_hash)


def spend_refresh_token(token_hash: str) -> bool:
    """Mark the token used, in the caller's transaction with the tokens that replace it. False
    when another request spent it first: a reuse, whose grant the caller revokes."""
    db = current_database()
    spent = sql_datetime(db, now())
    return bool(execute_write(_SPEND_REFRESH_SQL.replace("?", db.param), (spent, token_hash)).rowcount == 1)


def epoch_seconds(stamp: datetime) -> int:
    """A stored naive-UTC time as epoch seconds (``timestamp()`` would read it as local time)."""
    return int(stamp.replace(tzinfo=UTC).timestamp())


def expiry(seconds: int) -> datetime:
    return now() + timedelta(seconds=seconds)

"""Sign-in sessions of the issuer: one per sign-in, named by an opaque id, found by the digest
of the browser's cookie. Ending a session revokes every grant (and so every token) it made.

A session also ends by itself: after the tenant's idle lifetime without use, or its absolute
lifetime after the sign-in (:class:`SessionLimits`). Expiry is noticed wherever a session is
read (the browser's cookie, a refresh under one of its grants, the sessions API, and every
request with an access token of one of its grants: storage/caller.py compares in the same
statement) and then ends the session exactly as a sign-out does, grants and tokens included.
Using an access token does not count as use of its session (it would be a write on every
request); a browser visit or a refresh does.

Every session is a not-remembered one: its cookie has no ``Expires`` (it ends with the browser)
and the server ends it by the tenant's idle and absolute lifetimes. There is no "remember me"
that would outlive the browser."""

from __future__ import annotations

import functools
import secrets
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
from scim_me.storage.grants import digest
from scim_me.storage.grants import revoke_grant
from scim_me.storage.models import OAuthGrant
from scim_me.storage.models import UserSession
from scim_me.storage.tenants import TenantSettings
from scim_me.storage.users import now


@dataclass(frozen=True)
class SessionLimits:
    """How long a session lives: ``idle`` since its last use, ``absolute`` since the sign-in."""

    idle: timedelta
    absolute: timedelta

    @classmethod
    def of(cls, settings: TenantSettings) -> SessionLimits:
        return _limits(settings.session_idle_minutes, settings.session_absolute_hours)

    def expired(self, row: UserSession, at: datetime) -> bool:
        return at - row.last_access > self.idle or at - row.login_time > self.absolute


@functools.lru_cache(maxsize=64)
def _limits(idle_minutes: int, absolute_hours: int) -> SessionLimits:
    # Every authenticated request asks (web/guards.py): two timedeltas each time cost more than
    # a cache lookup, and a tenant's lifetimes rarely change.
    return SessionLimits(timedelta(minutes=idle_minutes), timedelta(hours=absolute_hours))


@dataclass(frozen=True)
class SessionRecord:
    id: str
    tenant_id: int
    user_id: str
    user_agent: str
    ip: str
    login_time: datetime
    last_access: datetime
    auth_time: int
    amr: str = "pwd"  # RFC 8176 authentication methods, space-separated ("pwd otp" after a second factor)


def _record(row: UserSession) -> SessionRecord:
    return SessionRecord(
        id=row.id,
        tenant_id=row.tenant_id,  # type: ignore[attr-defined]
        user_id=row.user_id,  # type: ignore[attr-defined]
        user_agent=row.user_agent,
        ip=row.ip,
        login_time=row.login_time,
        last_access=row.last_access,
        # Stored as naive UTC: a naive datetime's timestamp() would read it as local time.
        auth_time=int(row.login_time.replace(tzinfo=UTC).timestamp()),
        amr=row.amr,
    )


def start_session(
    tenant_id: int, user_id: str, user_agent: str, ip: str, amr: str = "pwd"
) -> tuple[SessionRecord, str]:
    """Record a sign-in; return it and the cookie secret (only its digest is stored)."""
    secret = secrets.token_urlsafe(32)
    stamp = now()
    with write_transaction():
        row = UserSession.create(
            id=str(uuid.uuid4()),
            tenant=tenant_id,
            user=user_id,
            secret_hash=digest(secret),
            user_agent=user_agent[:512],
            ip=ip[:64],
            login_time=stamp,
            last_access=stamp,
            amr=amr,
        )
    return _record(row), secret


def find_session(tenant_id: int, secret: str, limits: SessionLimits) -> SessionRecord | None:
    """The live session of this cookie secret; an expired one is ended (with its tokens)."""
    if not secret or len(secret) > 128:
        return None
    row = UserSession.get_or_none(
        (UserSession.secret_hash == digest(secret)) & (UserSession.tenant == tenant_id) & UserSession.ended_at.is_null()
    )
    return _live(row, limits)


def _live(row: UserSession | None, limits: SessionLimits) -> SessionRecord | None:
    if row is None:
        return None
    if limits.expired(row, now()):
        end_session(row.id)
        return None
    return _record(row)


_USE_SESSION_SQL = (
    "UPDATE user_sessions SET last_access = ? "
    "WHERE id = ? AND ended_at IS NULL AND last_access >= ? AND login_time >= ?"
)


def use_session(session_id: str, limits: SessionLimits) -> bool:
    """A refresh under one of the session's grants: True and the session counts as used now when
    it is live; False when it ended or expired (an expired one is ended here, with its grants).
    One compare-and-set statement on the refresh path: the touch happens only if still live."""
    stamp = now()
    db = current_database()
    params = [sql_datetime(db, stamp), session_id]
    params += [sql_datetime(db, stamp - limits.idle), sql_datetime(db, stamp - limits.absolute)]
    # In the refresh grant's transaction, with the spent token and the new tokens.
    touched = execute_write(_USE_SESSION_SQL.replace("?", db.param), params).rowcount
    if touched:
        return True
    end_session(session_id)  # expired (or already ended: then this changes nothing)
    return False


def end_session(session_id: str) -> None:
    """End the session and revoke every grant it made, on every worker: one transaction."""
    with write_transaction():
        UserSession.update(ended_at=now()).where(
            (UserSession.id == session_id) & UserSession.ended_at.is_null()
        ).execute()
        for grant in OAuthGrant.select(OAuthGrant.id).where(OAuthGrant.session_id == session_id):
            revoke_grant(grant.id)


def list_user_sessions(tenant_id: int, user_id: str, limits: SessionLimits) -> list[SessionRecord]:
    """The user's live sessions, most recently used first; expired ones are ended here."""
    query = (
        UserSession.select()
        .where((UserSession.tenant == tenant_id) & (UserSession.user == user_id) & UserSession.ended_at.is_null())
        .order_by(UserSession.last_access.desc(), UserSession.id)
    )
    return [record for record in (_live(row, limits) for row in list(query)) if record is not None]


def get_user_session(tenant_id: int, user_id: str, session_id: str, limits: SessionLimits) -> SessionRecord | None:
    """One of the user's live sessions; None for an ended or expired one or anybody else's."""
    if not session_id or len(session_id) > 36:
        return None
    row = UserSession.get_or_none(
        (UserSession.id == session_id)
        & (UserSession.tenant == tenant_id)
        & (UserSession.user == user_id)
        & UserSession.ended_at.is_null()
    )
    return _live(row, limits)


@dataclass(frozen=True)
class SessionApplication:
    client_pk: int
    client_id: str
    name: str


def session_applications(session_ids: list[str]) -> dict[str, list[SessionApplication]]:
    """The clients that signed in through each session (its unrevoked grants)."""
    from scim_me.storage.models import OAuthClient

    found: dict[str, list[SessionApplication]] = {sid: [] for sid in session_ids}
    if not session_ids:
        return found
    query = (
        OAuthGrant.select(OAuthGrant.session_id, OAuthClient.id, OAuthClient.client_id, OAuthClient.name)
        .join(OAuthClient)
        .where(OAuthGrant.session_id.in_(session_ids) & OAuthGrant.revoked_at.is_null())
        .order_by(OAuthClient.name, OAuthClient.client_id)
        .distinct()
    )
    rows: list[Any] = list(query.tuples())
    for row in rows:
        apps = found[row[0]]
        if all(app.client_pk != row[1] for app in apps):
            apps.append(SessionApplication(row[1], row[2], row[3]))
    return found


def touch_session(session_id: str) -> None:
    """Record that the session was used now (its ``lastAccessTime``)."""
    with write_transaction():
        UserSession.update(last_access=now()).where(
            (UserSession.id == session_id) & UserSession.ended_at.is_null()
        ).execute()


def session_of_token(jti: str | None) -> str | None:
    """The sign-in session an access token was issued under (via its grant), if any."""
    from scim_me.storage.grants import access_token_grant
    from scim_me.storage.grants import find_grant

    if not jti:
        return None
    grant_id = access_token_grant(jti)
    grant = find_grant(grant_id) if grant_id else None
    return grant.session_id if grant else None


def expired_session_of_token(jti: str, limits: SessionLimits) -> str | None:
    """The sign-in session an access token was issued under when it has ended or expired by
    ``limits`` (introspection's view of what the bearer lookup compares in SQL); else None."""
    session_id = session_of_token(jti)
    row = UserSession.get_or_none(UserSession.id == session_id) if session_id else None
    if row is None:
        return None
    return row.id if row.ended_at is not None or limits.expired(row, now()) else None


def end_other_sessions(
    tenant_id: int, user_id: str, *, keep_grant_id: str | None = None, keep_session_id: str | None = None
) -> int:
    """End every session of the user but ``keep_session_id`` and revoke every grant of the user
    (so every access and refresh token, on every worker) but ``keep_grant_id`` and the grants of
    the kept session. Returns how many grants and sessions ended."""
    stamp = now()
    ended = 0
    with write_transaction():
        sessions = UserSession.update(ended_at=stamp).where(
            (UserSession.tenant == tenant_id) & (UserSession.user == user_id) & UserSession.ended_at.is_null()
        )
        if keep_session_id:
            sessions = sessions.where(UserSession.id != keep_session_id)
        ended += sessions.execute()
        grants = OAuthGrant.select(OAuthGrant.id, OAuthGrant.session_id).where(
            (OAuthGrant.tenant == tenant_id) & (OAuthGrant.user == user_id) & OAuthGrant.revoked_at.is_null()
        )
        for grant in list(grants):
            if grant.id == keep_grant_id or (keep_session_id and grant.session_id == keep_session_id):
                continue
            revoke_grant(grant.id)
            ended += 1
    return int(ended)

"""Sign-in sessions of the issuer: one per sign-in, named by an opaque id, found by the digest
of the browser's cookie. Ending a session revokes every grant (and so every token) it made."""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime

from scim_me.storage.db import write_transaction
from scim_me.storage.grants import digest
from scim_me.storage.grants import revoke_grant
from scim_me.storage.models import OAuthGrant
from scim_me.storage.models import UserSession
from scim_me.storage.users import now


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
        auth_time=int(row.login_time.timestamp()),
        amr=row.amr,
    )


def start_session(
    tenant_id: int, user_id: str, user_agent: str, ip: str, amr: str = "pwd"
) -> tuple[SessionRecord, str]:
    """Record a sign-in; return it and the cookie secret (only its digest is stored)."""
    secret = secrets.token_urlsafe(32)
    stamp = now()
    with write_transaction(UserSession._meta.database):
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


def find_session(tenant_id: int, secret: str) -> SessionRecord | None:
    if not secret or len(secret) > 128:
        return None
    row = UserSession.get_or_none(
        (UserSession.secret_hash == digest(secret)) & (UserSession.tenant == tenant_id) & UserSession.ended_at.is_null()
    )
    return _record(row) if row else None


def end_session(session_id: str) -> None:
    """End the session and revoke every grant it made, on every worker."""
    with write_transaction(UserSession._meta.database):
        UserSession.update(ended_at=now()).where(
            (UserSession.id == session_id) & UserSession.ended_at.is_null()
        ).execute()
    for grant in OAuthGrant.select(OAuthGrant.id).where(OAuthGrant.session_id == session_id):
        revoke_grant(grant.id)


def end_other_sessions(
    tenant_id: int, user_id: str, *, keep_grant_id: str | None = None, keep_session_id: str | None = None
) -> int:
    """End every session of the user but ``keep_session_id`` and revoke every grant of the user
    (so every access and refresh token, on every worker) but ``keep_grant_id`` and the grants of
    the kept session. Returns how many grants and sessions ended."""
    stamp = now()
    ended = 0
    with write_transaction(UserSession._meta.database):
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

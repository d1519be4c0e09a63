"""Authorization codes: stored by digest, short-lived, single use. Redeeming is a
compare-and-set, so of parallel redemptions exactly one wins; a replayed code revokes the grant
its first redemption created (RFC 6749 §4.1.2)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from datetime import timedelta

from scim_me.storage.db import write_transaction
from scim_me.storage.grants import digest
from scim_me.storage.grants import revoke_grant
from scim_me.storage.models import OAuthCode
from scim_me.storage.users import now


@dataclass(frozen=True)
class CodeRecord:
    code_hash: str
    tenant_id: int
    client_pk: int
    user_id: str
    session_id: str | None
    redirect_uri: str
    scope: str
    nonce: str | None
    code_challenge: str | None
    code_challenge_method: str | None
    auth_time: int
    expires_at: datetime
    amr: str = "pwd"  # copied from the sign-in session: the ID token's ``amr`` (RFC 8176)

    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope

    def get_nonce(self) -> str | None:
        return self.nonce

    def get_auth_time(self) -> int:
        return self.auth_time

    def get_acr(self) -> None:
        return None

    def get_amr(self) -> list[str]:
        return self.amr.split()


def save_code(code: str, record: CodeRecord) -> None:
    with write_transaction():
        OAuthCode.create(
            code_hash=digest(code),
            tenant=record.tenant_id,
            client=record.client_pk,
            user=record.user_id,
            session_id=record.session_id,
            redirect_uri=record.redirect_uri,
            scope=record.scope,
            nonce=record.nonce,
            code_challenge=record.code_challenge,
            code_challenge_method=record.code_challenge_method,
            auth_time=record.auth_time,
            expires_at=record.expires_at,
            amr=record.amr,
        )


def redeem_code(code: str, client_pk: int) -> CodeRecord | None:
    """Spend a code of this client; None when unknown, expired, another client's or reused."""
    row = OAuthCode.get_or_none(OAuthCode.code_hash == digest(code))
    if row is None or row.client_pk != client_pk:  # type: ignore[attr-defined]
        return None
    with write_transaction():
        won = (
            OAuthCode.update(used_at=now())
            .where((OAuthCode.code_hash == row.code_hash) & OAuthCode.used_at.is_null())
            .execute()
        )
    if won != 1:
        with write_transaction():
            OAuthCode.update(replayed_at=now()).where(OAuthCode.code_hash == row.code_hash).execute()
        # Read the link again after marking the replay: the first redemption either linked its
        # grant before this (revoked here) or will see replayed_at when it links (revoked there).
        fresh = OAuthCode.get_or_none(OAuthCode.code_hash == row.code_hash)
        if fresh is not None and fresh.grant_id:
            revoke_grant(fresh.grant_id)
        return None
    if row.expires_at < now():
        return None
    return CodeRecord(
        code_hash=row.code_hash,
        tenant_id=row.tenant_id,  # type: ignore[attr-defined]
        client_pk=row.client_pk,  # type: ignore[attr-defined]
        user_id=row.user_id,  # type: ignore[attr-defined]
        session_id=row.session_id,
        redirect_uri=row.redirect_uri,
        scope=row.scope,
        nonce=row.nonce,
        code_challenge=row.code_challenge,
        code_challenge_method=row.code_challenge_method,
        auth_time=row.auth_time,
        expires_at=row.expires_at,
        amr=row.amr,
    )


def link_grant(code_hash: str, grant_id: str) -> None:
    """Remember which grant a code produced, so a replay can revoke it; a replay that came in
    before the link revokes it now."""
    with write_transaction():
        OAuthCode.update(grant_id=grant_id).where(OAuthCode.code_hash == code_hash).execute()
    row = OAuthCode.get_or_none(OAuthCode.code_hash == code_hash)
    if row is not None and row.replayed_at is not None:
        revoke_grant(grant_id)


def code_expiry(seconds: int) -> datetime:
    return now() + timedelta(seconds=seconds)

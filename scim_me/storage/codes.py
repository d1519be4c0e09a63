"""Authorization codes: stored by digest, short-lived, single use. Spending is a compare-and-set
in the transaction that stores the grant and tokens it buys, so of parallel redemptions exactly
one wins, and a failure before the commit leaves the code unspent; a replayed code revokes the
grant its first redemption created (RFC 6749 §4.1.2)."""

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


def find_code(code: str, client_pk: int) -> CodeRecord | None:
    """A code of this client, unspent: :func:`spend_code` spends it with what it buys. None when
    unknown, expired, another client's or spent; a spent one is a replay, whose first grant is
    revoked here (RFC 6749 §4.1.2)."""
    row = OAuthCode.get_or_none(OAuthCode.code_hash == digest(code))
    if row is None or row.client_pk != client_pk:  # type: ignore[attr-defined]
        return None
    if row.used_at is not None:
        refuse_replay(row.code_hash)
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


def spend_code(code_hash: str, grant_id: str) -> bool:
    """Spend the code and remember the grant it produced, in one compare-and-set (in the caller's
    transaction, the one that stores that grant): True for the one redemption that did. The
    grant is linked as the code is spent, so any later replay finds it to revoke."""
    with write_transaction():
        won = (
            OAuthCode.update(used_at=now(), grant_id=grant_id)
            .where((OAuthCode.code_hash == code_hash) & OAuthCode.used_at.is_null())
            .execute()
        )
    return bool(won == 1)


def refuse_replay(code_hash: str) -> None:
    """A spent code came again: mark it, and revoke the grant its redemption produced."""
    with write_transaction():
        OAuthCode.update(replayed_at=now()).where(OAuthCode.code_hash == code_hash).execute()
        row = OAuthCode.get_or_none(OAuthCode.code_hash == code_hash)
        if row is not None and row.grant_id:
            revoke_grant(row.grant_id)


def code_expiry(seconds: int) -> datetime:
    return now() + timedelta(seconds=seconds)

"""Passkeys: a user's WebAuthn credentials and the single-use ceremonies that create and use them.

- A credential row holds the public key only (COSE bytes as the authenticator sent them,
  base64url); nothing here could sign anything. Credential ids are unique within a tenant, so a
  sign-in without a username finds its user by the id alone, and never across tenants.
- A ceremony (``start-registration``, a sign-in's options) is a row keyed by the digest of the
  request id the client round-trips; :func:`spend_ceremony` spends it with one conditional UPDATE,
  so a replayed or concurrent finish finds nothing (one winner across workers). A sign-in reads
  it first (:func:`find_ceremony`) and spends it with the sign-in it unlocks.
- The signature counter only moves forward: :func:`advance_counter` is one conditional UPDATE, so
  two assertions with the same counter (a cloned authenticator racing the real one) cannot both
  pass (WebAuthn §6.1.1).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from datetime import timedelta

import peewee

from scim_me.storage.db import write_transaction
from scim_me.storage.models import WebauthnChallenge
from scim_me.storage.models import WebauthnCredential
from scim_me.storage.users import now

MAX_CREDENTIALS = 32  # per user: excludeCredentials and allowCredentials stay small


class DuplicateCredentialError(Exception):
    """The credential id is already registered in this tenant."""


@dataclass(frozen=True)
class PasskeyRecord:
    id: int
    tenant_id: int
    user_id: str
    credential_id: str
    public_key: str
    sign_count: int
    display_name: str
    discoverable: bool
    user_verified: bool
    backup_eligible: bool
    aaguid: str
    transports: tuple[str, ...]
    created_at: datetime
    last_used_at: datetime | None


@dataclass(frozen=True)
class Ceremony:
    tenant_id: int
    user_id: str | None
    purpose: str
    challenge: str
    origin: str
    client_id: str


def _record(row: WebauthnCredential) -> PasskeyRecord:
    return PasskeyRecord(
        id=row.id,
        tenant_id=row.tenant_id,  # type: ignore[attr-defined]
        user_id=row.user_id,  # type: ignore[attr-defined]
        credential_id=row.credential_id,
        public_key=row.public_key,
        sign_count=row.sign_count,
        display_name=row.display_name,
        discoverable=row.discoverable,
        user_verified=row.user_verified,
        backup_eligible=row.backup_eligible,
        aaguid=row.aaguid,
        transports=tuple(t for t in row.transports.split(",") if t),
        created_at=row.created_at,
        last_used_at=row.last_used_at,
    )


# -- credentials ------------------------------------------------------------------------------------


def list_passkeys(tenant_id: int, user_id: str) -> list[PasskeyRecord]:
    rows = (
        WebauthnCredential.select()
        .where((WebauthnCredential.tenant == tenant_id) & (WebauthnCredential.user == user_id))
        .order_by(WebauthnCredential.created_at, WebauthnCredential.id)
    )
    return [_record(row) for row in rows]


def count_passkeys(tenant_id: int, user_id: str) -> int:
    return int(
        WebauthnCredential.select()
        .where((WebauthnCredential.tenant == tenant_id) & (WebauthnCredential.user == user_id))
        .count()
    )


def find_passkey(tenant_id: int, credential_id: str) -> PasskeyRecord | None:
    """The tenant's credential with this id, whoever owns it (a username-less sign-in)."""
    row = WebauthnCredential.get_or_none(
        (WebauthnCredential.tenant == tenant_id) & (WebauthnCredential.credential_id == credential_id)
    )
    return _record(row) if row is not None else None


def add_passkey(
    tenant_id: int,
    user_id: str,
    *,
    credential_id: str,
    public_key: str,
    sign_count: int,
    display_name: str,
    discoverable: bool,
    user_verified: bool,
    backup_eligible: bool,
    aaguid: str,
    transports: tuple[str, ...],
) -> PasskeyRecord:
    stamp = now()
    try:
        with write_transaction():
            row = WebauthnCredential.create(
                tenant=tenant_id,
                user=user_id,
                credential_id=credential_id,
                public_key=public_key,
                sign_count=sign_count,
                display_name=display_name,
                discoverable=discoverable,
                user_verified=user_verified,
                backup_eligible=backup_eligible,
                aaguid=aaguid,
                transports=",".join(transports)[:255],
                created_at=stamp,
            )
    except peewee.IntegrityError as exc:
        raise DuplicateCredentialError(credential_id) from exc
    return _record(row)


def rename_passkey(tenant_id: int, user_id: str, credential_id: str, display_name: str) -> PasskeyRecord | None:
    with write_transaction():
        changed = (
            WebauthnCredential.update(display_name=display_name)
            .where(_owned(tenant_id, user_id, credential_id))
            .execute()
        )
    if not changed:
        return None
    row = WebauthnCredential.get_or_none(_owned(tenant_id, user_id, credential_id))
    return _record(row) if row is not None else None


def delete_passkey(tenant_id: int, user_id: str, credential_id: str) -> bool:
    with write_transaction():
        gone = WebauthnCredential.delete().where(_owned(tenant_id, user_id, credential_id)).execute()
    return bool(gone)


def delete_all_passkeys(tenant_id: int, user_id: str) -> int:
    with write_transaction():
        gone = int(
            WebauthnCredential.delete()
            .where((WebauthnCredential.tenant == tenant_id) & (WebauthnCredential.user == user_id))
            .execute()
        )
    return gone


def advance_counter(passkey: PasskeyRecord, new_count: int) -> bool:
    """Record a use. The counter must grow (or both stay 0, for authenticators without one);
    False when another use got there first or the counter went back: a clone (WebAuthn §6.1.1)."""
    if new_count == 0 and passkey.sign_count == 0:
        moves = (WebauthnCredential.sign_count == 0,)
    else:
        moves = (WebauthnCredential.sign_count < new_count,)
    with write_transaction():
        changed = (
            WebauthnCredential.update(sign_count=new_count, last_used_at=now())
            .where((WebauthnCredential.id == passkey.id), *moves)
            .execute()
        )
    return bool(changed == 1)


def _owned(tenant_id: int, user_id: str, credential_id: str) -> peewee.Expression:
    return (
        (WebauthnCredential.tenant == tenant_id)
        & (WebauthnCredential.user == user_id)
        & (WebauthnCredential.credential_id == credential_id)
    )


# -- ceremonies -------------------------------------------------------------------------------------


def start_ceremony(
    tenant_id: int,
    user_id: str | None,
    id_hash: str,
    *,
    purpose: str,
    challenge: str,
    seconds: int,
    origin: str = "",
    client_id: str = "",
) -> None:
    stamp = now()
    with write_transaction():
        WebauthnChallenge.create(
            id_hash=id_hash,
            tenant=tenant_id,
            user=user_id,
            purpose=purpose,
            challenge=challenge,
            origin=origin[:512],
            client_id=client_id[:64],
            created_at=stamp,
            expires_at=stamp + timedelta(seconds=seconds),
        )
        # Spent and expired rows are useless; sweeping here keeps the table small without a job.
        WebauthnChallenge.delete().where(WebauthnChallenge.expires_at < stamp - timedelta(hours=1)).execute()


def take_ceremony(tenant_id: int, id_hash: str, purposes: tuple[str, ...]) -> Ceremony | None:
    """Spend the ceremony: the one caller that marks it used gets it; expired, spent, another
    tenant's or another purpose's is None."""
    with write_transaction():
        ceremony = find_ceremony(tenant_id, id_hash, purposes)
        if ceremony is None or not spend_ceremony(tenant_id, id_hash):
            return None
    return ceremony


def find_ceremony(tenant_id: int, id_hash: str, purposes: tuple[str, ...]) -> Ceremony | None:
    """The open ceremony (not spent, not expired, this tenant's, one of ``purposes``), left open:
    :func:`spend_ceremony` spends it, in the transaction of whatever it unlocks."""
    row = WebauthnChallenge.get_or_none(
        (WebauthnChallenge.id_hash == id_hash)
        & (WebauthnChallenge.tenant == tenant_id)
        & WebauthnChallenge.purpose.in_(purposes)
        & WebauthnChallenge.used_at.is_null()
        & (WebauthnChallenge.expires_at > now())
    )
    if row is None:
        return None
    return Ceremony(
        tenant_id=tenant_id,
        user_id=row.user_id,  # type: ignore[attr-defined]
        purpose=row.purpose,
        challenge=row.challenge,
        origin=row.origin,
        client_id=row.client_id,
    )


def spend_ceremony(tenant_id: int, id_hash: str) -> bool:
    """Mark the ceremony used; True for the one caller that did (it was open until then)."""
    stamp = now()
    with write_transaction():
        won = (
            WebauthnChallenge.update(used_at=stamp)
            .where(
                (WebauthnChallenge.id_hash == id_hash)
                & (WebauthnChallenge.tenant == tenant_id)
                & WebauthnChallenge.used_at.is_null()
                & (WebauthnChallenge.expires_at > stamp)
            )
            .execute()
        )
    return bool(won == 1)

"""Remembered consent: a user allowed a client some scopes; the next authorize for the same or
fewer scopes does not ask again. Revoking an authorized app (a later feature) deletes it."""

from __future__ import annotations

from scim_me.storage.db import write_transaction
from scim_me.storage.models import OAuthConsent
from scim_me.storage.users import now


def has_consent(tenant_id: int, user_id: str, client_pk: int, scope: str) -> bool:
    row = OAuthConsent.get_or_none(
        (OAuthConsent.tenant == tenant_id) & (OAuthConsent.user == user_id) & (OAuthConsent.client == client_pk)
    )
    return row is not None and set(scope.split()) <= set(row.scope.split())


def grant_consent(tenant_id: int, user_id: str, client_pk: int, scope: str) -> None:
    with write_transaction():
        row = OAuthConsent.get_or_none(
            (OAuthConsent.tenant == tenant_id) & (OAuthConsent.user == user_id) & (OAuthConsent.client == client_pk)
        )
        if row is None:
            OAuthConsent.create(tenant=tenant_id, user=user_id, client=client_pk, scope=scope, granted_at=now())
        else:
            merged = " ".join(sorted(set(row.scope.split()) | set(scope.split())))
            OAuthConsent.update(scope=merged, granted_at=now()).where(OAuthConsent.id == row.id).execute()


def forget_consent(tenant_id: int, user_id: str, client_pk: int) -> bool:
    """Forget what the user allowed the client (a revoked authorized app): the next authorize
    asks again. Joins the caller's transaction when there is one."""
    with write_transaction():
        deleted = (
            OAuthConsent.delete()
            .where(
                (OAuthConsent.tenant == tenant_id) & (OAuthConsent.user == user_id) & (OAuthConsent.client == client_pk)
            )
            .execute()
        )
    return bool(deleted)

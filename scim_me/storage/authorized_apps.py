"""Authorized apps: the clients a user has let act for them (WSO2's ``/me/authorized-apps``).

An app is authorized while the user's remembered consent for it exists, or while one of its
grants for the user is alive (not revoked, with an unexpired access token or an unspent,
unexpired refresh token). Revoking an app revokes every grant of the user for it (so every
token, on every worker at the next request) and forgets the remembered consent, so the next
sign-in through that app asks again; all in one transaction.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import peewee

from scim_me.storage.consents import forget_consent
from scim_me.storage.db import write_transaction
from scim_me.storage.models import OAuthAccessToken
from scim_me.storage.models import OAuthClient
from scim_me.storage.models import OAuthConsent
from scim_me.storage.models import OAuthGrant
from scim_me.storage.models import OAuthRefreshToken
from scim_me.storage.users import now


@dataclass(frozen=True)
class AuthorizedApp:
    client_pk: int
    client_id: str
    name: str
    approved_scopes: tuple[str, ...]
    grant_ids: tuple[str, ...]
    consented: bool


def _live_grants(tenant_id: int, user_id: str, at: datetime) -> Any:
    live_access = OAuthAccessToken.select(OAuthAccessToken.jti).where(
        (OAuthAccessToken.grant == OAuthGrant.id)
        & (OAuthAccessToken.expires_at > at)
        & OAuthAccessToken.revoked_at.is_null()
    )
    live_refresh = OAuthRefreshToken.select(OAuthRefreshToken.token_hash).where(
        (OAuthRefreshToken.grant == OAuthGrant.id)
        & (OAuthRefreshToken.expires_at > at)
        & OAuthRefreshToken.used_at.is_null()
    )
    return OAuthGrant.select(OAuthGrant.id, OAuthGrant.client, OAuthGrant.scope).where(
        (OAuthGrant.tenant == tenant_id)
        & (OAuthGrant.user == user_id)
        & OAuthGrant.revoked_at.is_null()
        & (peewee.fn.EXISTS(live_access) | peewee.fn.EXISTS(live_refresh))
    )


def list_authorized_apps(tenant_id: int, user_id: str) -> list[AuthorizedApp]:
    at = now()
    scopes: dict[int, set[str]] = defaultdict(set)
    grants: dict[int, list[str]] = defaultdict(list)
    consented: set[int] = set()
    for consent in OAuthConsent.select().where((OAuthConsent.tenant == tenant_id) & (OAuthConsent.user == user_id)):
        pk = consent.client_pk  # type: ignore[attr-defined]
        consented.add(pk)
        scopes[pk].update(consent.scope.split())
    for grant in _live_grants(tenant_id, user_id, at):
        pk = grant.client_pk
        grants[pk].append(grant.id)
        scopes[pk].update(grant.scope.split())
    pks = sorted(set(scopes) | set(grants))
    if not pks:
        return []
    clients = {c.id: c for c in OAuthClient.select().where(OAuthClient.id.in_(pks) & (OAuthClient.tenant == tenant_id))}
    apps = [
        AuthorizedApp(
            client_pk=pk,
            client_id=clients[pk].client_id,
            name=clients[pk].name,
            approved_scopes=tuple(sorted(scopes[pk])),
            grant_ids=tuple(sorted(grants[pk])),
            consented=pk in consented,
        )
        for pk in pks
        if pk in clients
    ]
    return sorted(apps, key=lambda app: (app.name.lower(), app.client_id))


def find_authorized_app(tenant_id: int, user_id: str, client_id: str) -> AuthorizedApp | None:
    return next((app for app in list_authorized_apps(tenant_id, user_id) if app.client_id == client_id), None)


def revoke_authorized_app(tenant_id: int, user_id: str, client_pk: int) -> int:
    """Revoke every grant of ``user_id`` for the client and forget the remembered consent.
    Returns how many grants were revoked."""
    stamp = now()
    with write_transaction():
        ids = [
            row.id
            for row in OAuthGrant.select(OAuthGrant.id).where(
                (OAuthGrant.tenant == tenant_id)
                & (OAuthGrant.user == user_id)
                & (OAuthGrant.client == client_pk)
                & OAuthGrant.revoked_at.is_null()
            )
        ]
        if ids:
            OAuthGrant.update(revoked_at=stamp).where(
                OAuthGrant.id.in_(ids) & OAuthGrant.revoked_at.is_null()
            ).execute()
            OAuthAccessToken.update(revoked_at=stamp).where(
                OAuthAccessToken.grant.in_(ids) & OAuthAccessToken.revoked_at.is_null()
            ).execute()
        forget_consent(tenant_id, user_id, client_pk)
    return len(ids)

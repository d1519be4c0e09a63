"""OAuth clients of a tenant: redirect URIs (matched exactly, RFC 9700 §2.1), allowed CORS
origins, grant types and scopes. A confidential client's secret is shown once at creation and
stored as a SHA-256 digest: it is 256 random bits, so a slow hash would add nothing."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from datetime import UTC
from datetime import datetime
from typing import Any
from urllib.parse import SplitResult
from urllib.parse import urlsplit

import peewee

from scim_me.storage.db import current_database
from scim_me.storage.db import write_transaction
from scim_me.storage.models import OAuthClient
from scim_me.storage.prepared import execute as execute_statement

GRANT_TYPES = ("authorization_code", "refresh_token", "password", "client_credentials")
ACCESS_URL_LENGTH = 2048
_LOOPBACK = ("127.0.0.1", "localhost", "[::1]", "::1")


class ClientError(ValueError):
    """A client definition is invalid; the message says which field and why."""


@dataclass(frozen=True)
class ClientRecord:
    id: int
    tenant_id: int
    client_id: str
    name: str
    is_public: bool
    first_party: bool
    redirect_uris: tuple[str, ...]
    allowed_origins: tuple[str, ...]
    grant_types: tuple[str, ...]
    scope: str
    secret_hash: str | None
    # Listed in the users' app launcher (GET /api/users/v1/me/applications) with its access URL.
    discoverable: bool = False
    access_url: str | None = None


# The columns of a ClientRecord, in the order of its fields and of _FIND_CLIENT_SQL.
_COLUMNS = (
    "id", "tenant_id", "client_id", "name", "is_public", "first_party", "redirect_uris", "allowed_origins",
    "grant_types", "scope", "secret_hash", "discoverable", "access_url",
)  # fmt: skip


def _record(row: OAuthClient) -> ClientRecord:
    return _from_columns(tuple(getattr(row, column) for column in _COLUMNS))


def _from_columns(columns: tuple[Any, ...]) -> ClientRecord:
    """A client from its ``_COLUMNS`` (a model's attributes or a hand-written statement's row, whose
    booleans SQLite gives as integers)."""
    pk, tenant, public_id, name, public, first_party, uris, origins, grants, scope, secret, listed, url = columns
    return ClientRecord(
        id=pk,
        tenant_id=tenant,
        client_id=public_id,
        name=name,
        is_public=bool(public),
        first_party=bool(first_party),
        redirect_uris=tuple(json.loads(uris)),
        allowed_origins=tuple(json.loads(origins)),
        grant_types=tuple(json.loads(grants)),
        scope=scope,
        secret_hash=secret,
        discoverable=bool(listed),
        access_url=url,
    )


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def check_redirect_uri(uri: str) -> str:
    """An absolute http(s) URI without a fragment; plain http only on loopback (RFC 9700 §2.6)."""
    parts = urlsplit(uri)
    if parts.scheme not in ("https", "http") or not parts.hostname or "#" in uri or not _valid_port(parts):
        raise ClientError(f"redirect URI {uri!r} must be an absolute http(s) URI without a fragment")
    if parts.scheme == "http" and parts.hostname not in _LOOPBACK:
        raise ClientError(f"redirect URI {uri!r} must use https (plain http only on loopback)")
    return uri


def check_access_url(url: str) -> str:
    """Where the app launcher sends a user: an absolute http(s) URL without credentials; plain
    http only on loopback, as for redirect URIs. At most 2048 characters (the column)."""
    parts = urlsplit(url)
    if (
        parts.scheme not in ("https", "http")
        or not parts.hostname
        or "@" in parts.netloc
        or not _valid_port(parts)
        or len(url) > ACCESS_URL_LENGTH
        or any(c.isspace() or ord(c) < 32 for c in url)
    ):
        raise ClientError(
            f"access URL {url!r} must be an absolute http(s) URL of at most {ACCESS_URL_LENGTH} characters"
        )
    if parts.scheme == "http" and parts.hostname not in _LOOPBACK:
        raise ClientError(f"access URL {url!r} must use https (plain http only on loopback)")
    return url


def _discovery(discoverable: bool, access_url: str | None) -> str | None:
    url = check_access_url(access_url) if access_url else None
    if discoverable and url is None:
        raise ClientError("a discoverable client needs an --access-url (where the app launcher sends users)")
    return url


def _valid_port(parts: SplitResult) -> bool:
    try:
        port = parts.port
    except ValueError:
        return False
    return port is None or 0 < port < 65536


def normalize_origin(origin: str) -> str:
    """``scheme://host[:port]`` in lower case, one trailing slash ignored (WSO2 compares so)."""
    text = origin.strip()
    if text.endswith("/"):
        text = text[:-1]
    parts = urlsplit(text)
    malformed = parts.path or parts.query or parts.fragment or "#" in text or "@" in parts.netloc
    if parts.scheme not in ("http", "https") or not parts.hostname or malformed or not _valid_port(parts):
        raise ClientError(f"allowed origin {origin!r} must be scheme://host[:port]")
    return f"{parts.scheme}://{parts.netloc}".lower()


def create_client(
    tenant_id: int,
    name: str,
    *,
    public: bool,
    redirect_uris: list[str],
    allowed_origins: list[str],
    grant_types: list[str],
    scope: str = "openid internal_login",
    first_party: bool = False,
    discoverable: bool = False,
    access_url: str | None = None,
) -> tuple[ClientRecord, str | None]:
    """Register a client; return it and, for a confidential client, its secret (shown once)."""
    if not name.strip():
        raise ClientError("a client needs a name")
    unknown = sorted(set(grant_types) - set(GRANT_TYPES))
    if unknown or not grant_types:
        raise ClientError(f"grant types must be among {', '.join(GRANT_TYPES)}")
    if public and "client_credentials" in grant_types:
        raise ClientError("client_credentials needs a confidential client (without --public)")
    if "authorization_code" in grant_types and not redirect_uris:
        raise ClientError("authorization_code needs at least one --redirect-uri")
    uris = [check_redirect_uri(uri) for uri in redirect_uris]
    origins = sorted({normalize_origin(origin) for origin in allowed_origins})
    url = _discovery(discoverable, access_url)
    secret = None if public else secrets.token_urlsafe(32)
    try:
        with write_transaction():
            row = OAuthClient.create(
                tenant=tenant_id,
                client_id=secrets.token_urlsafe(18),
                name=name.strip(),
                secret_hash=_digest(secret) if secret else None,
                is_public=public,
                first_party=first_party,
                redirect_uris=json.dumps(uris),
                allowed_origins=json.dumps(origins),
                grant_types=json.dumps(sorted(set(grant_types))),
                scope=" ".join(scope.split()),
                created_at=datetime.now(UTC).replace(tzinfo=None),
                discoverable=discoverable,
                access_url=url,
            )
    except peewee.IntegrityError as exc:  # pragma: no cover - a 144-bit id collision
        raise ClientError("could not register the client; retry") from exc
    return _record(row), secret


# Every token request reads its client: hand-written, since composing it with peewee's query
# builder costs more than running it (as storage/users.get_user); prepared on PostgreSQL.
_FIND_CLIENT_SQL = f"SELECT {', '.join(_COLUMNS)} FROM oauth_clients WHERE client_id = ? AND tenant_id = ?"  # noqa: S608 (fixed column names)


def find_client(tenant_id: int, client_id: str) -> ClientRecord | None:
    if not client_id or len(client_id) > 64:
        return None
    db = current_database()
    found = execute_statement(_FIND_CLIENT_SQL.replace("?", db.param), (client_id, tenant_id), recurring=True)
    columns = found.fetchone()
    return None if columns is None else _from_columns(columns)


def list_clients(tenant_id: int) -> list[ClientRecord]:
    query = OAuthClient.select().where(OAuthClient.tenant == tenant_id).order_by(OAuthClient.name, OAuthClient.id)
    return [_record(row) for row in query]


def update_client(
    tenant_id: int,
    client_id: str,
    *,
    name: str | None = None,
    discoverable: bool | None = None,
    access_url: str | None = None,
) -> ClientRecord | None:
    """Change what the app launcher shows of a client: its name, whether it is listed, its access
    URL (``""`` clears it). None when there is no such client."""
    row = OAuthClient.get_or_none((OAuthClient.client_id == client_id) & (OAuthClient.tenant == tenant_id))
    if row is None:
        return None
    changes: dict[str, object] = {}
    if name is not None:
        if not name.strip():
            raise ClientError("a client needs a name")
        changes["name"] = name.strip()
    listed = row.discoverable if discoverable is None else discoverable
    url = row.access_url if access_url is None else (access_url or None)
    changes["access_url"] = _discovery(listed, url)
    changes["discoverable"] = listed
    with write_transaction():
        OAuthClient.update(**changes).where(OAuthClient.id == row.id).execute()
    return find_client(tenant_id, client_id)


def list_discoverable_clients(tenant_id: int) -> list[ClientRecord]:
    """The clients the tenant's app launcher lists, by name."""
    query = (
        OAuthClient.select()
        .where((OAuthClient.tenant == tenant_id) & (OAuthClient.discoverable == True))  # noqa: E712 (SQL)
        .order_by(OAuthClient.name, OAuthClient.id)
    )
    return [_record(row) for row in query]


def delete_client(tenant_id: int, client_id: str) -> bool:
    query = OAuthClient.delete().where((OAuthClient.client_id == client_id) & (OAuthClient.tenant == tenant_id))
    with write_transaction():
        return bool(query.execute() == 1)


def rotate_client_secret(tenant_id: int, client_id: str, *, revoke_grants: bool = True) -> str | None:
    """A new secret for a confidential client (the old one stops working at once; only the digest
    is stored); with ``revoke_grants`` every grant issued to the client ends too, as a leaked
    secret may have minted tokens. None when there is no such client."""
    from scim_me.storage.models import OAuthGrant

    row = OAuthClient.get_or_none((OAuthClient.client_id == client_id) & (OAuthClient.tenant == tenant_id))
    if row is None:
        return None
    if row.is_public:
        raise ClientError("a public client has no secret to rotate")
    secret = secrets.token_urlsafe(32)
    with write_transaction():
        OAuthClient.update(secret_hash=_digest(secret)).where(OAuthClient.id == row.id).execute()
        if revoke_grants:
            OAuthGrant.update(revoked_at=datetime.now(UTC).replace(tzinfo=None)).where(
                (OAuthGrant.client == row.id) & OAuthGrant.revoked_at.is_null()
            ).execute()
    return secret


def verify_client_secret(client: ClientRecord, secret: str) -> bool:
    """Constant-time comparison of a presented secret with the stored digest."""
    if client.secret_hash is None or not secret:
        return False
    return hmac.compare_digest(_digest(secret), client.secret_hash)


def tenant_origins(tenant_id: int) -> set[str]:
    """The union of every client's allowed origins in the tenant (WSO2 CORS semantics)."""
    origins: set[str] = set()
    for row in OAuthClient.select(OAuthClient.allowed_origins).where(OAuthClient.tenant == tenant_id):
        origins.update(json.loads(row.allowed_origins))
    return origins

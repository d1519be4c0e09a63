"""External issuers a tenant trusts (resource-server mode): an OIDC issuer's access tokens are
accepted on /scim2/Me when they verify against its keys (a JWKS URL, fetched and cached, or a
static JWKS) and name the configured audience; one claim names the local user."""

from __future__ import annotations

import json
from dataclasses import dataclass
from dataclasses import field
from typing import Any
from urllib.parse import urlsplit

import peewee

from scim_me.core.email_change import WSO2_URN
from scim_me.core.email_change import primary_address
from scim_me.core.search_values import INDEXED_PREFIX
from scim_me.core.search_values import fold
from scim_me.storage.db import current_database
from scim_me.storage.db import write_transaction
from scim_me.storage.models import ExternalIssuer
from scim_me.storage.models import User
from scim_me.storage.models import UserValue
from scim_me.storage.users import StoredUser
from scim_me.storage.users import get_user
from scim_me.storage.users import now

# Asymmetric only: HS* would let anyone holding the "public" key mint tokens, and ``none`` is
# no signature at all (RFC 8725 §3.1, §3.2).
ALLOWED_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA")
DEFAULT_ALGORITHMS = ("RS256", "PS256", "ES256")
USER_ATTRIBUTES = ("userName", "id", "emails")
SCOPE_CLAIMS = ("scope", "scp")
# The scopes an external token keeps when its issuer has no scope map: the self-service scope
# every local user holds. Admin scopes must be mapped explicitly.
DEFAULT_SCOPE_MAP = {"internal_login": "internal_login"}


class ExternalIssuerError(ValueError):
    """The configuration is invalid; the message says what to change."""


@dataclass(frozen=True)
class ExternalIssuerRecord:
    tenant_id: int
    issuer: str
    audience: str
    jwks_uri: str | None = None
    jwks: dict[str, Any] | None = None
    user_claim: str = "sub"
    user_attribute: str = "userName"
    scope_claim: str = "scope"
    algorithms: tuple[str, ...] = DEFAULT_ALGORITHMS
    # External scope name -> local scope name (e.g. ``scim:me`` -> ``internal_login``). An
    # allow-list: a scope not named here is dropped; empty means DEFAULT_SCOPE_MAP.
    scope_map: dict[str, str] = field(default_factory=dict)


def _record(row: ExternalIssuer) -> ExternalIssuerRecord:
    return ExternalIssuerRecord(
        tenant_id=row.tenant_id,  # type: ignore[attr-defined]
        issuer=row.issuer,
        audience=row.audience,
        jwks_uri=row.jwks_uri,
        jwks=json.loads(row.jwks) if row.jwks else None,
        user_claim=row.user_claim,
        user_attribute=row.user_attribute,
        scope_claim=row.scope_claim,
        algorithms=tuple(json.loads(row.algorithms or "[]")) or DEFAULT_ALGORITHMS,
        scope_map=json.loads(row.scope_map or "{}"),
    )


def _check_url(value: str, what: str) -> None:
    parts = urlsplit(value)
    if parts.scheme not in ("https", "http") or not parts.netloc or parts.fragment:
        raise ExternalIssuerError(f"{what} must be an absolute http(s) URL without a fragment: {value!r}")


def validate(record: ExternalIssuerRecord) -> None:
    _check_url(record.issuer, "the issuer")
    if (record.jwks_uri is None) == (record.jwks is None):
        raise ExternalIssuerError("give exactly one of a JWKS URL or a static JWKS")
    if record.jwks_uri is not None:
        _check_url(record.jwks_uri, "the JWKS URL")
    if record.jwks is not None:
        keys = record.jwks.get("keys") if isinstance(record.jwks, dict) else None
        if not isinstance(keys, list) or not keys:
            raise ExternalIssuerError('a static JWKS is a JSON object {"keys": [...]} with at least one key')
        if any(not isinstance(k, dict) or k.get("kty") not in ("RSA", "EC", "OKP") for k in keys):
            raise ExternalIssuerError("a static JWKS may hold public RSA, EC or OKP keys only")
        if any("d" in k for k in keys):
            raise ExternalIssuerError("a static JWKS must hold public keys only (found a private key)")
    if not record.audience:
        raise ExternalIssuerError("an audience is required: a token for another API must be refused")
    bad = [a for a in record.algorithms if a not in ALLOWED_ALGORITHMS]
    if bad or not record.algorithms:
        raise ExternalIssuerError(f"algorithms must be among {', '.join(ALLOWED_ALGORITHMS)} (got {bad})")
    if record.user_attribute not in USER_ATTRIBUTES:
        raise ExternalIssuerError(f"the user attribute must be one of {', '.join(USER_ATTRIBUTES)}")
    if record.scope_claim not in SCOPE_CLAIMS:
        raise ExternalIssuerError(f"the scope claim must be one of {', '.join(SCOPE_CLAIMS)}")
    if not record.user_claim:
        raise ExternalIssuerError("the user claim must be named")


def add_issuer(record: ExternalIssuerRecord) -> ExternalIssuerRecord:
    validate(record)
    try:
        with write_transaction():
            ExternalIssuer.create(
                tenant=record.tenant_id,
                issuer=record.issuer,
                audience=record.audience,
                jwks_uri=record.jwks_uri,
                jwks=json.dumps(record.jwks) if record.jwks is not None else None,
                user_claim=record.user_claim,
                user_attribute=record.user_attribute,
                scope_claim=record.scope_claim,
                algorithms=json.dumps(list(record.algorithms)),
                scope_map=json.dumps(record.scope_map, sort_keys=True),
                created_at=now(),
            )
    except peewee.IntegrityError as exc:
        raise ExternalIssuerError(f"the issuer {record.issuer!r} is already configured for this tenant") from exc
    return record


def remove_issuer(tenant_id: int, issuer: str) -> bool:
    with write_transaction():
        removed = (
            ExternalIssuer.delete()
            .where((ExternalIssuer.tenant == tenant_id) & (ExternalIssuer.issuer == issuer))
            .execute()
        )
    return bool(removed)


def find_issuer(tenant_id: int, issuer: str) -> ExternalIssuerRecord | None:
    if len(issuer) > 512 or "\x00" in issuer:
        return None  # never stored (PostgreSQL refuses NUL in a query parameter)
    # Read on every request with an external token (so a removal applies at once): plain SQL,
    # as building the peewee query costs more than running it.
    db = current_database()
    row = db.execute_sql(_FIND_SQL.replace("?", db.param), (tenant_id, issuer)).fetchone()
    if row is None:
        return None
    return ExternalIssuerRecord(
        tenant_id=row[0],
        issuer=row[1],
        audience=row[2],
        jwks_uri=row[3],
        jwks=json.loads(row[4]) if row[4] else None,
        user_claim=row[5],
        user_attribute=row[6],
        scope_claim=row[7],
        algorithms=tuple(json.loads(row[8] or "[]")) or DEFAULT_ALGORITHMS,
        scope_map=json.loads(row[9] or "{}"),
    )


_FIND_SQL = (
    "SELECT tenant_id, issuer, audience, jwks_uri, jwks, user_claim, user_attribute, scope_claim, algorithms, "
    "scope_map FROM external_issuers WHERE tenant_id = ? AND issuer = ?"
)


def list_issuers(tenant_id: int) -> list[ExternalIssuerRecord]:
    rows = ExternalIssuer.select().where(ExternalIssuer.tenant == tenant_id).order_by(ExternalIssuer.issuer)
    return [_record(row) for row in rows]


def find_user_by_email(tenant_id: int, email: str) -> StoredUser | None:
    """The one user of the tenant whose *verified* address this is (compared
    case-insensitively); None when nobody or more than one user has it verified: an ambiguous
    address must not pick an account.

    Only the primary address with ``urn:scim:wso2:schema`` ``emailVerified`` true counts (that
    flag is read-only through /Me and is cleared when the primary address changes without
    verification). Any other address a user wrote into their own ``emails`` proves nothing: it
    must neither sign them in as the address's owner nor, by making the address ambiguous, lock
    the owner out."""
    wanted = email.strip().lower()
    if not wanted or len(wanted) > 320 or "\x00" in wanted or "@" not in wanted:
        return None
    # user_values narrows the candidates through its (tenant_id, attr, sub, head) index (one probe,
    # not a scan of every profile of the tenant); the parsed profile decides.
    folded = fold(wanted)
    holders = UserValue.select(UserValue.user).where(
        (UserValue.tenant_id == tenant_id)
        & (UserValue.attr == "emails")
        & (UserValue.sub == "value")
        & (UserValue.head == folded[:INDEXED_PREFIX])
        & (UserValue.folded == folded)
    )
    rows = User.select(User.id, User.profile).where((User.tenant == tenant_id) & User.id.in_(holders))
    matches = [row.id for row in rows if _verified_email(row.profile) == wanted]
    if len(matches) != 1:
        return None
    return get_user(tenant_id, matches[0])


def _verified_email(profile_text: str) -> str | None:
    try:
        profile = json.loads(profile_text or "{}")
    except ValueError:
        return None
    extension = profile.get(WSO2_URN) if isinstance(profile, dict) else None
    if not isinstance(extension, dict) or extension.get("emailVerified") is not True:
        return None
    address = primary_address(profile)
    return address.strip().lower() if address else None

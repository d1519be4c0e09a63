"""Per-tenant signing keys: generated here, stored with the private half sealed (AES-GCM).

Public keys are cached per worker (they are not secret); a token naming an unknown ``kid``
triggers one reload, so a key created by another worker or instance is found.
"""

from __future__ import annotations

import json
import secrets
import threading
from datetime import UTC
from datetime import datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from joserfc.jwk import ECKey
from joserfc.jwk import KeySet
from joserfc.jwk import RSAKey

from scim_me.crypto import seal
from scim_me.crypto import unseal
from scim_me.storage.db import current_database
from scim_me.storage.models import SigningKey
from scim_me.storage.prepared import execute as execute_statement

ALGORITHMS = ("RS256", "ES256")
_lock = threading.Lock()
# Caches are keyed by the database too, so two apps in one process (tests) never share keys.
_public_cache: dict[tuple[int, int], dict[str, Any]] = {}
_private_cache: dict[tuple[int, int, str], Any] = {}
# Importing an RSA key costs more than verifying a signature with it: keep the parsed ones.
_key_set_cache: dict[tuple[int, int, str], KeySet] = {}


def _scope() -> int:
    return id(current_database())


def _context(kid: str) -> str:
    return f"signing-key:{kid}"


def create_signing_key(tenant_id: int, master_key: bytes, alg: str = "RS256") -> str:
    """Generate and store a new active key for the tenant; return its ``kid``."""
    if alg not in ALGORITHMS:
        raise ValueError(f"alg must be one of {', '.join(ALGORITHMS)}")
    kid = secrets.token_urlsafe(12)
    params: Any = {"kid": kid, "alg": alg, "use": "sig"}
    key: Any = (
        RSAKey.generate_key(2048, parameters=params, private=True)
        if alg == "RS256"
        else ECKey.generate_key("P-256", parameters=params, private=True)
    )
    private_pem = key.as_pem(private=True)
    SigningKey.create(
        kid=kid,
        tenant=tenant_id,
        alg=alg,
        public_jwk=json.dumps(key.as_dict(private=False)),
        private_key=seal(master_key, private_pem, _context(kid)),
        active=True,
        created_at=datetime.now(UTC).replace(tzinfo=None),
    )
    with _lock:
        _public_cache.pop((_scope(), tenant_id), None)
    return kid


def rotate_signing_key(tenant_id: int, master_key: bytes, alg: str | None = None) -> str:
    """A new key that signs from now on (``alg``: default, the newest key's); the older keys stay
    in the JWKS and keep verifying the tokens they signed. Every instance signs with the newest
    key at its next token (it is read from the database), and one that meets the new ``kid``
    re-reads the public keys once. Returns the new ``kid``."""
    if alg is None:
        newest = (
            SigningKey.select(SigningKey.alg)
            .where((SigningKey.tenant == tenant_id) & (SigningKey.active == True))  # noqa: E712
            .order_by(SigningKey.created_at.desc())
            .first()
        )
        alg = newest.alg if newest is not None else "RS256"
    return create_signing_key(tenant_id, master_key, alg)


def public_keys(tenant_id: int, *, refresh: bool = False) -> dict[str, Any]:
    """Return ``{kid: public JWK dict}`` for the tenant's keys (active or retired)."""
    with _lock:
        cached = _public_cache.get((_scope(), tenant_id))
    if cached is not None and not refresh:
        return cached
    keys = {row.kid: json.loads(row.public_jwk) for row in SigningKey.select().where(SigningKey.tenant == tenant_id)}
    with _lock:
        _public_cache[(_scope(), tenant_id)] = keys
    return keys


def public_key_set(tenant_id: int, kid: str) -> KeySet | None:
    """Return a key set holding the key ``kid`` of this tenant, or None if it has no such key."""
    keys = public_keys(tenant_id)
    if kid not in keys:
        keys = public_keys(tenant_id, refresh=True)
    if kid not in keys:
        return None
    cache_key = (_scope(), tenant_id, kid)
    with _lock:
        cached = _key_set_cache.get(cache_key)
    if cached is None:
        cached = KeySet.import_key_set({"keys": [keys[kid]]})
        with _lock:
            _key_set_cache[cache_key] = cached
    return cached


def signing_key(tenant_id: int, master_key: bytes) -> tuple[str, str, Any]:
    """Return ``(kid, alg, private key)`` of the tenant's newest active key."""
    db = current_database()
    # Read on every token request (not cached across requests, so a rotation applies at once on
    # every worker): hand-written, as building it with peewee costs more than running it.
    found = execute_statement(_SIGNING_KEY_SQL.replace("?", db.param), (tenant_id, True), recurring=True).fetchone()
    if found is None:
        raise LookupError("the tenant has no active signing key")
    kid, alg, sealed = found
    cache_key = (_scope(), tenant_id, kid)
    with _lock:
        cached = _private_cache.get(cache_key)
    if cached is None:
        cached = _open_private_key(unseal(master_key, sealed, _context(kid)), kid, alg)
        with _lock:
            _private_cache[cache_key] = cached
    return kid, alg, cached


def _open_private_key(pem: bytes, kid: str, alg: str) -> Any:
    """The joserfc key of a PEM this module generated. OpenSSL's RSA consistency check (42 ms
    for 2048 bits, far more than signing) is skipped: it guards against malformed or hostile keys,
    and this one was generated here and comes out of AES-GCM, authenticated with its ``kid``."""
    raw = load_pem_private_key(pem, password=None, unsafe_skip_rsa_key_validation=True)
    parameters: Any = {"kid": kid, "alg": alg}
    if alg == "RS256" and isinstance(raw, rsa.RSAPrivateKey):
        return RSAKey(raw, pem, parameters)
    if alg == "ES256" and isinstance(raw, ec.EllipticCurvePrivateKey):
        return ECKey(raw, pem, parameters)
    raise LookupError(f"signing key {kid} does not hold an {alg} key")


_SIGNING_KEY_SQL = (
    "SELECT kid, alg, private_key FROM signing_keys WHERE tenant_id = ? AND active = ? ORDER BY created_at DESC LIMIT 1"
)


def jwks(tenant_id: int) -> dict[str, Any]:
    """The tenant's public JWKS document."""
    return {"keys": list(public_keys(tenant_id, refresh=True).values())}


def newest_key_opens(master_key: bytes) -> bool:
    """Whether the newest active signing key of any tenant decrypts with ``master_key`` (readiness:
    a swapped or wrong key file shows here, before a token fails to sign). True with no keys yet."""
    row = SigningKey.select().where(SigningKey.active == True).order_by(SigningKey.created_at.desc()).first()  # noqa: E712
    if row is None:
        return True
    unseal(master_key, row.private_key, _context(row.kid))
    return True

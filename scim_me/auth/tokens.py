"""JWT access tokens: minted with the tenant's key, verified locally on every request.

Checks, in order: the header's ``alg`` is in the allowlist (no ``none``, no HMAC, so the
RSA-public-key-as-HMAC-secret confusion cannot happen), ``typ`` is ``at+jwt`` (an ID token is not
an access token), the ``kid`` is one of this tenant's keys, then ``iss``, ``aud``, ``exp``,
``nbf`` with a bounded leeway, and a subject. The claims checks (:func:`check_claims`) and the
unverified peek at a claim (:func:`unverified_claim`) serve external issuers' tokens too.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jws import extract_compact

from scim_me.auth.keys import ALGORITHMS
from scim_me.auth.keys import public_key_set
from scim_me.auth.keys import signing_key

ACCESS_TOKEN_TYPE = "at+jwt"
MAX_TOKEN_LENGTH = 8192
# Header parameters by which a token would name its own key (or demand extensions): never trusted.
UNTRUSTED_HEADERS = ("jku", "jwk", "x5u", "x5c", "crit")


class TokenError(ValueError):
    """The token is not acceptable; the message is safe to show (it never echoes the token)."""


@dataclass(frozen=True)
class AccessClaims:
    subject: str
    client_id: str | None
    scopes: frozenset[str]
    token_id: str | None
    expires_at: int
    claims: dict[str, Any]

    @classmethod
    def of(cls, claims: dict[str, Any], *, subject: str, scopes: frozenset[str], expires_at: int) -> AccessClaims:
        """The verified ``claims`` of a token; the client is ``client_id``, else ``azp``."""
        client = claims.get("client_id") or claims.get("azp")
        jti = claims.get("jti")
        return cls(
            subject=subject,
            client_id=client if isinstance(client, str) else None,
            scopes=scopes,
            token_id=jti if isinstance(jti, str) else None,
            expires_at=expires_at,
            claims=dict(claims),
        )


def issuer_for(base_url: str, tenant: str, default_tenant: str) -> str:
    """WSO2's issuer: ``{base}/oauth2/token``, tenant-qualified except for the default tenant."""
    base = base_url.rstrip("/")
    prefix = "" if tenant == default_tenant else f"/t/{tenant}"
    return f"{base}{prefix}/oauth2/token"


def mint_access_token(
    *,
    tenant_id: int,
    issuer: str,
    subject: str,
    client_id: str,
    scopes: str,
    audience: str,
    lifetime: int,
    master_key: bytes,
    now: int | None = None,
    extra: dict[str, Any] | None = None,
    key: tuple[str, str, Any] | None = None,
) -> str:
    """Sign an access token for ``subject`` with the tenant's active key (``key``, when the
    caller has read it already: ``(kid, alg, private key)``)."""
    kid, alg, private = key if key is not None else signing_key(tenant_id, master_key)
    issued = int(time.time()) if now is None else now
    claims: dict[str, Any] = {
        "iss": issuer,
        "sub": subject,
        "aud": [client_id, audience] if client_id != audience else [audience],
        "azp": client_id,
        "client_id": client_id,
        "scope": scopes,
        "iat": issued,
        "nbf": issued,
        "exp": issued + lifetime,
        "jti": secrets.token_urlsafe(16),
    }
    claims.update(extra or {})
    return str(jwt.encode({"alg": alg, "kid": kid, "typ": ACCESS_TOKEN_TYPE}, claims, private, algorithms=[alg]))


class VerifiedTokens:
    """A bounded LRU of tokens whose signature and claims checked out, for one app."""

    def __init__(self, size: int = 4096) -> None:
        self.size = size
        self._items: OrderedDict[tuple[int, str, str, str], AccessClaims] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[int, str, str, str]) -> AccessClaims | None:
        with self._lock:
            hit = self._items.get(key)
            if hit is not None:
                self._items.move_to_end(key)
            return hit

    def put(self, key: tuple[int, str, str, str], claims: AccessClaims) -> None:
        with self._lock:
            self._items[key] = claims
            while len(self._items) > self.size:
                self._items.popitem(last=False)


def verify_access_token(
    token: str,
    *,
    tenant_id: int,
    issuer: str,
    audience: str,
    leeway: int,
    now: int | None = None,
    cache: VerifiedTokens | None = None,
) -> AccessClaims:
    """Verify signature and claims; raise :class:`TokenError` with a short reason.

    A token whose signature and claims checked out is remembered per worker (bounded LRU), so
    the next request with it only re-checks the clock: parsing and verifying the JWS costs more
    than the rest of a GET /Me. Revocation and the user's existence are checked by the caller
    on every request, never cached here.
    """
    current = int(time.time()) if now is None else now
    cache_key = (tenant_id, issuer, audience, token)
    hit = cache.get(cache_key) if cache is not None else None
    if hit is not None:
        check_claim_times(hit.claims, current, leeway)
        return hit
    verified = _verify(token, tenant_id=tenant_id, issuer=issuer, audience=audience, leeway=leeway, now=current)
    if cache is not None:
        cache.put(cache_key, verified)
    return verified


def _verify(token: str, *, tenant_id: int, issuer: str, audience: str, leeway: int, now: int) -> AccessClaims:
    if not is_compact(token):
        raise TokenError("The access token is malformed.")
    header = unverified_header(token)
    if header.get("alg") not in ALGORITHMS:
        raise TokenError("The access token's algorithm is not accepted.")
    if str(header.get("typ", "")).lower() not in (ACCESS_TOKEN_TYPE, "application/" + ACCESS_TOKEN_TYPE):
        raise TokenError("The token is not an access token.")
    if any(name in header for name in UNTRUSTED_HEADERS):
        raise TokenError("The access token names keys this server does not trust.")
    kid = header.get("kid")
    keys = public_key_set(tenant_id, kid) if isinstance(kid, str) else None
    if keys is None:
        raise TokenError("The access token was not signed by this tenant.")
    claims = signed_claims(token, keys, list(ALGORITHMS))
    exp = check_claims(claims, issuer=issuer, audience=audience, now=now, leeway=leeway)
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject:
        raise TokenError("The access token has no subject.")
    scope = claims.get("scope", "")
    scopes = frozenset(scope.split()) if isinstance(scope, str) else frozenset()
    return AccessClaims.of(claims, subject=subject, scopes=scopes, expires_at=exp)


def unverified_header(token: str) -> dict[str, Any]:
    """The protected header of a compact JWS, before any check; raises :class:`TokenError`."""
    try:
        return extract_compact(token.encode("ascii")).headers()
    except (JoseError, ValueError, UnicodeError) as exc:
        raise TokenError("The access token is malformed.") from exc


def signed_claims(token: str, keys: Any, algorithms: list[str]) -> dict[str, Any]:
    """The claims of ``token`` once its signature checks out with one of ``keys``."""
    try:
        return jwt.decode(token, keys, algorithms=algorithms).claims
    except (JoseError, ValueError) as exc:
        raise TokenError("The access token's signature is invalid.") from exc


def check_claims(claims: dict[str, Any], *, issuer: str, audience: str, now: int, leeway: int) -> int:
    """The registered claims every access token must pass, ours or an external issuer's
    (RFC 9068 §4): ``iss`` exactly, ``aud`` containing ``audience``, then the times
    (:func:`check_claim_times`). Returns ``exp``; raises :class:`TokenError`."""
    if claims.get("iss") != issuer:
        raise TokenError("The access token was issued for another tenant or issuer.")
    aud = claims.get("aud")
    audiences = [aud] if isinstance(aud, str) else aud if isinstance(aud, list) else []
    if audience not in audiences:
        raise TokenError("The access token is not meant for this API (audience).")
    return check_claim_times(claims, now, leeway)


def check_claim_times(claims: dict[str, Any], now: int, leeway: int) -> int:
    """``exp`` (required, RFC 7519 §4.1.4) and ``nbf`` (optional, §4.1.5) against ``now``, each
    with ``leeway`` seconds for clock skew. Returns ``exp``; raises :class:`TokenError`."""
    exp = claims.get("exp")
    if not isinstance(exp, int) or isinstance(exp, bool) or exp + leeway < now:
        raise TokenError("The access token has expired.")
    nbf = claims.get("nbf")
    if nbf is not None and (not isinstance(nbf, int) or nbf - leeway > now):
        raise TokenError("The access token is not valid yet.")
    return exp


def is_compact(token: str) -> bool:
    """Whether ``token`` is shaped like a compact JWS at all (three parts, bounded length)."""
    return bool(token) and len(token) <= MAX_TOKEN_LENGTH and token.count(".") == 2


def unverified_claim(token: str, name: str) -> str | None:
    """The string claim ``name`` of ``token``, read without any check: only to choose a verifier
    or to find a record by it, never to trust it. None when absent or unreadable."""
    if not is_compact(token):
        return None
    try:
        claims = json.loads(extract_compact(token.encode("ascii")).payload)
    except (JoseError, ValueError, UnicodeError):
        return None
    value = claims.get(name) if isinstance(claims, dict) else None
    return value if isinstance(value, str) else None

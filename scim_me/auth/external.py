"""Access tokens from an external OIDC issuer (resource-server mode, issue 3).

A bearer token is routed by its *unverified* ``iss`` to the verifier of that issuer (see
``web/guards.py``); nothing else is read before the signature checks out. Then, as RFC 9068 §4
and RFC 8725 ask: the header's ``alg`` is in the issuer's allow-list (asymmetric algorithms only:
no ``none``, no HS*, so a public key can never serve as an HMAC secret), the header names no key
of its own (``jku``/``jwk``/``x5u``/``x5c``), the ``kid`` is one of the issuer's keys, then
``iss`` exactly, ``aud`` contains the configured audience, ``exp``/``nbf`` within the leeway.

Keys come from a static JWKS or from the issuer's JWKS URL: fetched with bounded timeouts and
size, cached per worker for ``external_jwks_cache_seconds``, refetched at once when a token names
an unknown ``kid`` (key rotation) but at most every ``external_jwks_refresh_min_seconds`` (so a
stream of made-up kids cannot turn this server into a request amplifier). When the issuer is
unreachable the last good keys keep working; with none at all the request is 503, not 401: the
token may be fine, and a 401 would send every client into a pointless sign-in loop.

External tokens are not subject to this server's revocation list: it only knows the tokens it
issued. Their lifetime is the external issuer's business (keep them short there).
"""

from __future__ import annotations

import json
import logging
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from scim_me.auth.tokens import UNTRUSTED_HEADERS
from scim_me.auth.tokens import AccessClaims
from scim_me.auth.tokens import TokenError
from scim_me.auth.tokens import check_claims
from scim_me.auth.tokens import signed_claims
from scim_me.auth.tokens import unverified_claim
from scim_me.auth.tokens import unverified_header
from scim_me.storage.external_issuers import ALLOWED_ALGORITHMS
from scim_me.storage.external_issuers import DEFAULT_SCOPE_MAP
from scim_me.storage.external_issuers import ExternalIssuerRecord

log = logging.getLogger(__name__)

MAX_JWKS_BYTES = 256 * 1024
_TOKEN_TYPES = ("jwt", "at+jwt", "application/at+jwt")


class KeysUnavailable(RuntimeError):
    """The issuer's keys could not be fetched and none are cached."""


def unverified_issuer(token: str) -> str | None:
    """The ``iss`` a token claims, read without any check: only for choosing a verifier."""
    return unverified_claim(token, "iss")


def public_key_set(document: Any) -> KeySet:
    """The usable public signing keys of a JWKS document; symmetric, private and encryption
    keys are dropped (a JWKS URL is public: an ``oct`` key there would be anyone's secret)."""
    keys = document.get("keys") if isinstance(document, dict) else None
    if not isinstance(keys, list):
        raise ValueError("not a JWKS document")
    usable = [k for k in keys if isinstance(k, dict) and _public_signing_key(k)]
    return KeySet.import_key_set({"keys": usable})


def _public_signing_key(key: dict[str, Any]) -> bool:
    return key.get("kty") in ("RSA", "EC", "OKP") and "d" not in key and key.get("use", "sig") == "sig"


class _RefuseRedirects(urllib.request.HTTPRedirectHandler):
    """The configured JWKS URL is the trust anchor: a redirect must not choose where the keys
    come from (an open redirect on the issuer's host would hand the key set to anyone). A 3xx
    is then an HTTPError, a failed fetch like any other."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_NO_REDIRECTS = urllib.request.build_opener(_RefuseRedirects)


def _fetch(url: str, timeout: float) -> KeySet:
    if not url.startswith(("https://", "http://")):
        raise ValueError("a JWKS URL is http(s)")  # also checked when configured
    request = urllib.request.Request(  # noqa: S310 - http(s) only, checked just above
        url, headers={"Accept": "application/json", "User-Agent": "scim-me"}
    )
    with _NO_REDIRECTS.open(request, timeout=timeout) as response:
        body = response.read(MAX_JWKS_BYTES + 1)
    if len(body) > MAX_JWKS_BYTES:
        raise ValueError("the JWKS document is too large")
    return public_key_set(json.loads(body))


@dataclass
class _Entry:
    keys: KeySet | None
    fetched_at: float  # monotonic time of the last successful fetch
    attempted_at: float  # monotonic time of the last attempt, successful or not


class JwksCache:
    """Per-worker cache of external issuers' keys, by JWKS URL."""

    def __init__(self) -> None:
        self._entries: dict[str, _Entry] = {}
        self._lock = threading.Lock()

    def keys(self, url: str, kid: str | None, *, ttl: int, min_refresh: int, timeout: float) -> KeySet:
        now = time.monotonic()
        with self._lock:
            entry = self._entries.get(url)
        stale = entry is None or entry.keys is None or entry.fetched_at + ttl <= now
        unknown_kid = entry is not None and entry.keys is not None and not _has_kid(entry.keys, kid)
        may_retry = entry is None or entry.attempted_at + min_refresh <= now
        if (stale or unknown_kid) and may_retry:
            entry = self._refresh(url, entry, now, timeout)
        if entry is None or entry.keys is None:
            raise KeysUnavailable(url)
        return entry.keys

    def _refresh(self, url: str, entry: _Entry | None, now: float, timeout: float) -> _Entry | None:
        try:
            keys = _fetch(url, timeout)
        except (OSError, ValueError, JoseError, urllib.error.URLError) as exc:
            log.warning("could not fetch the JWKS at %s: %s", url, type(exc).__name__)
            failed = _Entry(entry.keys if entry else None, entry.fetched_at if entry else 0.0, now)
            with self._lock:
                self._entries[url] = failed
            return failed
        fresh = _Entry(keys, now, now)
        with self._lock:
            self._entries[url] = fresh
        return fresh


def _has_kid(keys: KeySet, kid: str | None) -> bool:
    if kid is None:
        return len(keys.keys) == 1
    return any(key.kid == kid for key in keys.keys)


def verify_external_token(
    token: str,
    config: ExternalIssuerRecord,
    *,
    cache: JwksCache,
    leeway: int,
    ttl: int,
    min_refresh: int,
    timeout: float,
    now: int | None = None,
) -> AccessClaims:
    """Verify an external access token; raise :class:`TokenError` (401) or
    :class:`KeysUnavailable` (503). ``subject`` of the result is the value of the configured
    user claim, for the caller to map to a local user."""
    current = int(time.time()) if now is None else now
    header = unverified_header(token)
    allowed = [alg for alg in config.algorithms if alg in ALLOWED_ALGORITHMS]
    if header.get("alg") not in allowed:
        raise TokenError("The access token's algorithm is not accepted.")
    if any(name in header for name in UNTRUSTED_HEADERS):
        raise TokenError("The access token names keys this server does not trust.")
    typ = header.get("typ")
    if typ is not None and str(typ).lower() not in _TOKEN_TYPES:
        raise TokenError("The token is not an access token.")
    kid = header.get("kid")
    if kid is not None and not isinstance(kid, str):
        raise TokenError("The access token is malformed.")
    if config.jwks is not None:
        keys = public_key_set(config.jwks)
    else:
        assert config.jwks_uri is not None  # validate() wants exactly one of the two
        keys = cache.keys(config.jwks_uri, kid, ttl=ttl, min_refresh=min_refresh, timeout=timeout)
    if not _has_kid(keys, kid):
        raise TokenError("The access token was not signed by a key of its issuer.")
    claims = signed_claims(token, keys, allowed)
    exp = check_claims(claims, issuer=config.issuer, audience=config.audience, now=current, leeway=leeway)
    subject = claims.get(config.user_claim)
    if not isinstance(subject, str) or not subject:
        raise TokenError(f"The access token has no '{config.user_claim}' claim naming its user.")
    scopes = _scopes(claims.get(config.scope_claim), config.scope_map)
    return AccessClaims.of(claims, subject=subject, scopes=scopes, expires_at=exp)


def _scopes(value: Any, mapping: dict[str, str]) -> frozenset[str]:
    """``scope`` is a space-separated string (RFC 9068 §2.2.3); ``scp`` (Azure AD, Okta) a list
    or a string. The issuer's scope map is an allow-list: a scope it names becomes its local
    scope, any other is dropped, so an external issuer cannot hand out this server's admin
    scopes (``internal_consent_mgt_add``, ...) unless the operator mapped one to them. Without a
    map, :data:`DEFAULT_SCOPE_MAP` applies (self-service only)."""
    if isinstance(value, str):
        names = value.split()
    elif isinstance(value, list):
        names = [v for v in value if isinstance(v, str)]
    else:
        names = []
    allowed = mapping or DEFAULT_SCOPE_MAP
    return frozenset(allowed[name] for name in names if name in allowed)

"""OIDC RP-Initiated Logout 1.0 §2: which logout requests may end a session without asking.

A logout URL is a plain GET any site can make the browser send, so ending the session on it
alone is logout CSRF (security.md 10.6.2). Only an ``id_token_hint`` that this tenant signed for
the signed-in user proves the request comes from an app the user signed in to; anything else
(no hint, a hint for another user, another issuer's or a forged one) gets a confirmation page.
An expired hint is still accepted: the spec asks the OP to take ID tokens past ``exp`` when the
user's session is live, and an app signing out is exactly when its ID token is old.
"""

from __future__ import annotations

from dataclasses import dataclass

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jws import extract_compact

from scim_me.auth.keys import ALGORITHMS
from scim_me.auth.keys import public_key_set
from scim_me.auth.tokens import ACCESS_TOKEN_TYPE
from scim_me.auth.tokens import is_compact


@dataclass(frozen=True)
class LogoutHint:
    """A verified ``id_token_hint``: whom it names and the apps it was issued to."""

    subject: str
    audiences: tuple[str, ...]


def verify_id_token_hint(token: str, *, tenant_id: int, issuer: str) -> LogoutHint | None:
    """The hint's subject and audiences when this tenant signed it as an ID token for
    ``issuer``; None for anything else. Its age is not checked (see the module docstring)."""
    if not is_compact(token):
        return None
    try:
        header = extract_compact(token.encode("ascii")).headers()
    except (JoseError, ValueError, UnicodeError):
        return None
    kid = header.get("kid")
    if header.get("alg") not in ALGORITHMS or not isinstance(kid, str):
        return None
    if any(name in header for name in ("jku", "jwk", "x5u", "x5c", "crit")):
        return None
    if str(header.get("typ", "")).lower() in (ACCESS_TOKEN_TYPE, "application/" + ACCESS_TOKEN_TYPE):
        return None  # an access token is not an ID token
    keys = public_key_set(tenant_id, kid)
    if keys is None:
        return None
    try:
        claims = jwt.decode(token, keys, algorithms=list(ALGORITHMS)).claims
    except (JoseError, ValueError):
        return None
    subject = claims.get("sub")
    aud = claims.get("aud")
    audiences: tuple[str, ...] = ()
    if isinstance(aud, str):
        audiences = (aud,)
    elif isinstance(aud, list):
        audiences = tuple(a for a in aud if isinstance(a, str))
    if claims.get("iss") != issuer or not isinstance(subject, str) or not audiences:
        return None
    return LogoutHint(subject, audiences)

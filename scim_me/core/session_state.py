"""OpenID Connect Session Management 1.0: the ``session_state`` value and browser origins.

§3: ``session_state = hash(client_id + " " + origin + " " + OP browser state + " " + salt) + "." + salt``.
WSO2 computes it exactly so (``DefaultOIDCSessionStateManager``): SHA-256 in lower-case hex,
the salt 16 random bytes in unpadded base64url; the check-session page recomputes it in the
browser from the message's origin (``MessageEvent.origin``), so the origin here must be the
browser's serialization of the redirect URI's origin (lower-case scheme and host, no default
port), or a page at the right origin would always read "changed".
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from urllib.parse import urlsplit

_DEFAULT_PORTS = {"http": 80, "https": 443}


def browser_origin(url: str) -> str | None:
    """``scheme://host[:port]`` as a browser serializes the URL's origin (HTML §7.5, RFC 6454
    §6.2); None for anything but an absolute http(s) URL."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    host = parts.hostname
    if scheme not in _DEFAULT_PORTS or not host:
        return None
    if ":" in host:  # an IPv6 literal: urlsplit drops the brackets
        host = f"[{host}]"
    return f"{scheme}://{host}" if port is None or port == _DEFAULT_PORTS[scheme] else f"{scheme}://{host}:{port}"


def new_salt() -> str:
    """16 random bytes, unpadded base64url (WSO2's salt)."""
    return base64.urlsafe_b64encode(secrets.token_bytes(16)).rstrip(b"=").decode("ascii")


def session_state(client_id: str, origin: str, browser_state: str, salt: str | None = None) -> str:
    """The ``session_state`` for one client at one origin in one OP browser state."""
    salt = new_salt() if salt is None else salt
    text = f"{client_id} {origin} {browser_state} {salt}"
    return hashlib.sha256(text.encode("utf-8")).hexdigest() + "." + salt


def new_browser_state() -> str:
    """A fresh OP browser state: random, unrelated to any session secret, so the cookie that
    carries it (readable by scripts, sent to other sites' frames) reveals nothing."""
    return secrets.token_urlsafe(24)

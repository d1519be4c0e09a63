"""Reverse proxies the operator trusts (setting ``trusted_proxies``): from those addresses only,
``X-Forwarded-Proto`` says whether the client used https (so cookies get ``Secure``) and
``X-Forwarded-For`` names the client address the per-IP limits count (werkzeug's ProxyFix, but
for listed proxy addresses only: a header from anybody else is ignored, or any client could
pick the address its failed sign-ins are counted against, security.md T-HTTP-6).

The client is the right-most ``X-Forwarded-For`` entry that is not itself a trusted proxy (each
proxy appends the address it received the request from; entries left of an untrusted one were
written by the client and prove nothing).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import Any

from scim_me.config import Network


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        return None


class TrustedProxies:
    """WSGI middleware applying the forwarded headers of trusted proxies only."""

    def __init__(self, app: Any, networks: Iterable[Network]) -> None:
        self.app = app
        self.networks = tuple(networks)

    def _trusted(self, text: str) -> bool:
        address = _address(text)
        return address is not None and any(address in network for network in self.networks)

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        peer = environ.get("REMOTE_ADDR", "")
        if self._trusted(peer):
            client = peer
            for entry in reversed(environ.get("HTTP_X_FORWARDED_FOR", "").split(",")):
                if _address(entry) is None:
                    break  # garbage from the client side: keep the last address a proxy vouched for
                client = entry.strip()
                if not self._trusted(client):
                    break
            environ["REMOTE_ADDR"] = client
            # The proxy next to us writes the last value.
            proto = environ.get("HTTP_X_FORWARDED_PROTO", "").split(",")[-1].strip().lower()
            if proto in ("http", "https"):
                environ["wsgi.url_scheme"] = proto
        return self.app(environ, start_response)

"""Request rules the OAuth2/OIDC endpoints share beyond what authlib checks.

- RFC 6749 §3.1 and §3.2: request parameters MUST NOT be included more than once. authlib checks
  five parameters at the authorization endpoint and none at the token endpoint; a repeated
  ``code_challenge``, ``redirect_uri`` or ``code`` would otherwise be resolved silently by taking
  one of the values, which is how parameter-pollution attacks get their foothold.
- OIDC Core §3.1.2.1 ``prompt``: ``none`` never shows a page (``login_required`` /
  ``consent_required`` go back to the client), ``login`` asks for the password again even when
  the browser has a live session; so does a session older than ``max_age`` seconds.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Mapping
from typing import Any

from werkzeug.datastructures import MultiDict


def repeated_parameter(*sources: MultiDict[str, str]) -> str | None:
    """The name of the first parameter sent more than once in any of ``sources``."""
    for source in sources:
        for name, values in source.lists():
            if len(values) > 1:
                return name
    return None


def requested_prompts(values: Mapping[str, Any]) -> frozenset[str]:
    return frozenset(str(values.get("prompt") or "").split())


FRESH_LOGIN_KEY = "fresh_login"


def request_fingerprint(query_string: bytes) -> str:
    """Names one authorization request (its exact query: state, PKCE challenge, ...), so a
    password entered for it satisfies ``prompt=login`` for that request and no other."""
    return hashlib.sha256(query_string).hexdigest()


def sign_in_too_old(auth_time: int, max_age: str | None) -> bool:
    """OIDC Core §3.1.2.1 ``max_age``: the user must sign in again when the session's sign-in is
    older. A value that is not a non-negative integer counts as 0 (the safe reading)."""
    if max_age is None:
        return False
    allowed = int(max_age) if max_age.isdigit() else 0
    return time.time() - auth_time > allowed

"""Request rules the OAuth2/OIDC endpoints share beyond what authlib checks.

- RFC 6749 §3.1 and §3.2: request parameters MUST NOT be included more than once. authlib checks
  five parameters at the authorization endpoint and none at the token endpoint; a repeated
  ``code_challenge``, ``redirect_uri`` or ``code`` would otherwise be resolved silently by taking
  one of the values, which is how parameter-pollution attacks get their foothold.
- RFC 6749 Appendix A: each parameter's characters. A value that is not UTF-8 once
  percent-decoded, a broken escape (``%zz``), a control character or NUL, a ``"`` in a
  ``response_type`` are answered ``invalid_request`` here (authlib would put some of them into an
  error description it then refuses to build: a 500), and never reach a query.
- RFC 6749 §2.3.1 / RFC 7617 §2: HTTP Basic client credentials that do not decode (bad base64,
  not UTF-8, no colon, control characters) are ``invalid_client`` 401, never an exception.
- OIDC Core §3.1.2.1 ``prompt``: ``none`` never shows a page (``login_required`` /
  ``consent_required`` go back to the client), ``login`` asks for the password again even when
  the browser has a live session; so does a session older than ``max_age`` seconds.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl
from urllib.parse import unquote

from werkzeug.datastructures import MultiDict

# RFC 6749 §5.2: error_description is NQSCHAR only (printable ASCII without '"' and '\\');
# authlib refuses to build an error whose description has anything else (a ValueError, so a 500).
_NQSCHAR = re.compile(r"[\x20\x21\x23-\x5b\x5d-\x7e]*")


def describable(text: str) -> bool:
    """Whether ``text`` may be quoted in an ``error_description``."""
    return len(text) <= 64 and _NQSCHAR.fullmatch(text) is not None


def repeated_description(name: str) -> str:
    """The error_description for a repeated parameter, naming it when it can be named."""
    return f"The parameter '{name}' is repeated." if describable(name) else "A parameter is repeated."


def repeated_parameter(*sources: MultiDict[str, str]) -> str | None:
    """The name of the first parameter sent more than once in any of ``sources``."""
    for source in sources:
        for name, values in source.lists():
            if len(values) > 1:
                return name
    return None


# RFC 6749 Appendix A. VSCHAR = %x20-7E; NQCHAR = %x21 / %x23-5B / %x5D-7E (space-separated lists
# of them: scope, response_type, ...); UNICODECHARNOCRLF (username, password and any parameter
# without a grammar of its own) = %x09 / %x20-7E / %x80-D7FF / %xE000-FFFD / %x10000-10FFFF.
_VSCHAR = re.compile(r"[\x20-\x7e]*")
_NQCHAR_LIST = re.compile(r"(?:[\x21\x23-\x5b\x5d-\x7e]+(?: [\x21\x23-\x5b\x5d-\x7e]+)*)?")
_UNICODE_NO_CRLF = re.compile("[\t\x20-\x7e\x80-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]*")
_GRAMMARS: dict[str, re.Pattern[str]] = {
    **dict.fromkeys(
        ("response_type", "grant_type", "scope", "token_type_hint", "code_challenge_method", "response_mode", "prompt"),
        _NQCHAR_LIST,
    ),
    **dict.fromkeys(
        (
            "client_id",
            "client_secret",
            "state",
            "code",
            "redirect_uri",
            "refresh_token",
            "token",
            "code_verifier",
            "code_challenge",
            "id_token_hint",
            "post_logout_redirect_uri",
            "max_age",
        ),
        _VSCHAR,
    ),
}
_BROKEN_ESCAPE = re.compile(rb"%(?![0-9A-Fa-f]{2})")
_PLAIN_NAME = re.compile(r"[A-Za-z0-9_.-]{1,64}")


def malformed_parameters(*encoded: bytes) -> str | None:
    """Why one of the form-encoded parameter strings ``encoded`` (a query string, a form body) is
    not well-formed per RFC 6749 Appendix A, or None. The reason is safe in an error description."""
    for raw in encoded:
        if not raw:
            continue
        if _BROKEN_ESCAPE.search(raw):
            return "A parameter has a broken percent-encoding."
        try:
            pairs = parse_qsl(raw.decode("utf-8"), keep_blank_values=True, encoding="utf-8", errors="strict")
        except UnicodeDecodeError:  # also a lone surrogate: Python's UTF-8 codec refuses to decode one
            return "A parameter is not UTF-8 once percent-decoded."
        for name, value in pairs:
            if not _PLAIN_NAME.fullmatch(name):
                if not _UNICODE_NO_CRLF.fullmatch(name):
                    return "A parameter name has characters it may not."
                continue  # a parameter no endpoint reads: only its name's characters matter
            if not _GRAMMARS.get(name, _UNICODE_NO_CRLF).fullmatch(value):
                return f"The parameter '{name}' has characters it may not."
    return None


def basic_credentials_malformed(authorization: str | None) -> bool:
    """True when ``authorization`` uses the Basic scheme but its credentials do not decode into a
    client_id and client_secret (RFC 7617 §2: base64 of user-id ":" password; RFC 6749 §2.3.1:
    each form-urlencoded UTF-8, both VSCHAR per Appendix A)."""
    if not authorization:
        return False
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "basic":
        return False
    try:
        decoded = base64.b64decode(token.strip(), validate=True).decode("utf-8")
        client_id, colon, secret = decoded.partition(":")
        parts = [unquote(part, errors="strict") for part in (client_id, secret)]
    except (binascii.Error, ValueError):  # UnicodeDecodeError is a ValueError
        return True
    return not colon or not all(_VSCHAR.fullmatch(part) for part in parts)


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

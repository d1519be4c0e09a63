"""Content negotiation and safe JSON parsing for SCIM requests.

Accept: missing, ``*/*``, ``application/*``, ``application/json`` or ``application/scim+json``
(anything else is 406, as WSO2). Content-Type on bodies: ``application/scim+json`` or
``application/json`` with at most ``charset=utf-8`` (anything else is 415). Bodies are parsed
strictly: duplicate keys, nesting deeper than the configured limit, non-UTF-8, lone UTF-16
surrogates (``"\\ud800"``, which no database column can store), NUL (``"\\u0000"``, which
PostgreSQL's jsonb and text refuse: one rule on both backends) and non-finite numbers (NaN,
Infinity, ``1e400``) are ``invalidSyntax``. This is the one JSON parser: the WSO2 REST APIs reach
it through ``web/bodies.py``, which renders its errors in their own dialect.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from scim_me.errors import InvalidSyntaxError
from scim_me.errors import NotAcceptableError
from scim_me.errors import PayloadTooLargeError
from scim_me.errors import UnsupportedMediaTypeError
from scim_me.web.context import current_request
from scim_me.web.context import settings

_ACCEPTABLE = {"*/*", "application/*", "application/json", "application/scim+json"}
_BODY_TYPES = {"application/json", "application/scim+json"}
_UNSTORABLE = re.compile(r"[\x00\ud800-\udfff]")


def check_accept() -> None:
    header = current_request().environ.get("HTTP_ACCEPT", "").strip()
    if not header:
        return
    for part in header.split(","):
        media = part.split(";", 1)[0].strip().lower()
        if media in _ACCEPTABLE:
            return
    raise NotAcceptableError(f"{header} is not supported.")


def check_content_type() -> None:
    raw = current_request().environ.get("CONTENT_TYPE", "")
    media, _, params = raw.partition(";")
    if media.strip().lower() not in _BODY_TYPES:
        shown = raw or "(missing)"
        raise UnsupportedMediaTypeError(
            f"Content-Type {shown} is not supported; use application/scim+json or application/json."
        )
    for param in params.split(";"):
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset" and value.strip().strip('"').lower() not in ("utf-8", "utf8"):
            raise UnsupportedMediaTypeError("Only the utf-8 charset is supported.")


def _reject_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise InvalidSyntaxError(f"Duplicate member {key!r} in the JSON body.")
        result[key] = value
    return result


def _reject_constant(name: str) -> Any:
    raise InvalidSyntaxError(f"{name} is not valid JSON.")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise InvalidSyntaxError(f"The number {_clip(text)} is out of range.")
    return value


def _check_string(text: str) -> None:
    found = _UNSTORABLE.search(text)
    if found is None:
        return
    if found.group() == "\x00":
        raise InvalidSyntaxError("The JSON body contains a NUL character (\\u0000), which no value may hold.")
    raise InvalidSyntaxError("The JSON body contains an unpaired UTF-16 surrogate escape.")


def _walk(value: Any, limit: int, strings: bool) -> None:
    """Reject more than ``limit`` nested objects/arrays (the outermost is level 1; scalars add
    none) and, when ``strings``, any key or string holding a lone surrogate or NUL."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
            if strings:
                for key in item:
                    _check_string(key)
        elif isinstance(item, list):
            children = item
        else:
            if strings and isinstance(item, str):
                _check_string(item)
            continue
        if level > limit:
            raise InvalidSyntaxError(f"The JSON body is nested deeper than {limit} levels.")
        stack.extend((child, level + 1) for child in children)


def parse_body(*, check_type: bool = True) -> Any:
    """Return the parsed JSON body of a request, enforcing the limits above. ``check_type`` is
    off only for the MFA API, which has always read its bodies whatever their Content-Type."""
    if check_type:
        check_content_type()
    config = settings()
    limit = config.max_body_bytes
    req = current_request()
    length = req.content_length
    if length is not None and length > limit:
        raise PayloadTooLargeError()
    raw = req.get_data(cache=True)
    if len(raw) > limit:
        raise PayloadTooLargeError()
    if not raw.strip():
        raise InvalidSyntaxError("The request body is empty.")
    try:
        text = raw.decode("utf-8")
        value = json.loads(
            text, object_pairs_hook=_reject_duplicates, parse_constant=_reject_constant, parse_float=_finite
        )
    except InvalidSyntaxError:
        raise
    except RecursionError as exc:
        raise InvalidSyntaxError("The JSON body is nested too deeply.") from exc
    except (UnicodeDecodeError, ValueError) as exc:
        raise InvalidSyntaxError(f"The request body is not valid JSON: {_short(exc)}") from exc
    # Raw UTF-8 cannot encode a surrogate and JSON allows no raw NUL, so only a \u escape can
    # smuggle either in; and each level of nesting needs a bracket of its own, so a body with few
    # brackets and no escape needs no walk at all.
    escapes = "\\u" in text
    depth = config.max_json_depth
    if escapes or text.count("{") + text.count("[") > depth:
        _walk(value, depth, strings=escapes)
    return value


def _short(exc: Exception) -> str:
    return _clip(str(exc))


def _clip(text: str) -> str:
    return text if len(text) < 120 else text[:117] + "..."

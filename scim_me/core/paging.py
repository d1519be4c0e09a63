"""Paging parameters and cursors for list and search responses.

Index paging is RFC 7644 §3.4.2.4: ``startIndex`` is 1-based (less than 1 is read as 1),
``count`` is the page size (negative is read as 0; 0 asks for ``totalResults`` alone; more than
the maximum is cut to it, as "the service provider MUST NOT return more results than
specified" allows fewer). Cursor paging is RFC 9865: ``cursor`` (empty for the first page)
with ``count``; answers carry ``nextCursor`` / ``previousCursor``.

A cursor is keyset state, not a server-side session: the sort key and id of the page's edge,
the direction, and a digest of the query it belongs to, signed with HMAC-SHA-256. A cursor
that was altered, was issued by another server or for another filter or sort is
``invalidCursor`` (RFC 9865 §2.3). Keyset cursors never expire: the next page is the users
after the edge, whoever was added or removed meanwhile (no duplicates, no gaps).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from scim_me.errors import InvalidCursorError
from scim_me.errors import InvalidValueError

DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000
MAX_CURSOR_LENGTH = 1024
_CURSOR_VERSION = 1
_MAC_BYTES = 16


@dataclass(frozen=True)
class PageParams:
    """A page request, validated. ``cursor`` is None for index paging, ``""`` for the first
    cursor page."""

    start_index: int = 1
    count: int = DEFAULT_PAGE_SIZE
    cursor: str | None = None
    sort_by: str | None = None
    descending: bool = False


def _integer(name: str, raw: str | int | None) -> int | None:
    if raw is None or isinstance(raw, int):
        return raw
    text = raw.strip()
    if not text.lstrip("-").isdigit() or len(text) > 12:
        raise InvalidValueError(f"{name} must be an integer.")
    return int(text)


def page_params(
    args: Mapping[str, Any], *, default_size: int = DEFAULT_PAGE_SIZE, max_size: int = MAX_PAGE_SIZE
) -> PageParams:
    """Read ``startIndex``, ``count``, ``cursor``, ``sortBy``, ``sortOrder`` (query parameters,
    or the members of a ``/.search`` body, RFC 7644 §3.4.3)."""
    start = _integer("startIndex", args.get("startIndex"))
    count = _integer("count", args.get("count"))
    cursor = args.get("cursor")
    if cursor is not None and not isinstance(cursor, str):
        raise InvalidCursorError("cursor must be a string.")
    if cursor is not None and start is not None:
        raise InvalidValueError("Use either startIndex (index paging) or cursor (cursor paging), not both.")
    sort_by = args.get("sortBy")
    if sort_by is not None and (not isinstance(sort_by, str) or not sort_by.strip()):
        raise InvalidValueError("sortBy must name an attribute.")
    order = args.get("sortOrder")
    if order is not None and (not isinstance(order, str) or order.lower() not in ("ascending", "descending")):
        raise InvalidValueError('sortOrder must be "ascending" or "descending".')
    size = default_size if count is None else min(max(count, 0), max_size)
    return PageParams(
        start_index=max(start or 1, 1),
        count=size,
        cursor=cursor,
        sort_by=sort_by.strip() if sort_by else None,
        descending=order is not None and order.lower() == "descending",
    )


def query_digest(*parts: str | None) -> str:
    """What a cursor is bound to: the filter and the sort (a cursor of one query is refused by
    another, whose order it does not describe)."""
    text = json.dumps(parts, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def encode_cursor(key: bytes, digest: str, direction: str, edge: list[Any]) -> str:
    """An opaque cursor: ``edge`` (sort key parts and id) past which the page in ``direction``
    (``next`` or ``previous``) lies."""
    payload = json.dumps([_CURSOR_VERSION, digest, direction, edge], separators=(",", ":")).encode()
    mac = hmac.new(key, payload, hashlib.sha256).digest()[:_MAC_BYTES]
    return _b64(payload) + "." + _b64(mac)


def decode_cursor(key: bytes, digest: str, token: str) -> tuple[str, list[Any]]:
    """The direction and edge of a cursor this server issued for the query ``digest``;
    ``invalidCursor`` for anything else."""
    if len(token) > MAX_CURSOR_LENGTH or token.count(".") != 1:
        raise InvalidCursorError("The cursor is not valid.")
    body, mac_text = token.split(".")
    try:
        payload = _unb64(body)
        mac = _unb64(mac_text)
    except (binascii.Error, ValueError) as exc:
        raise InvalidCursorError("The cursor is not valid.") from exc
    expected = hmac.new(key, payload, hashlib.sha256).digest()[:_MAC_BYTES]
    if not hmac.compare_digest(mac, expected):
        raise InvalidCursorError("The cursor is not valid.")
    try:
        version, cursor_digest, direction, edge = json.loads(payload)
    except (ValueError, TypeError) as exc:  # signed by us, so only an old format gets here
        raise InvalidCursorError("The cursor is not valid.") from exc
    if version != _CURSOR_VERSION or direction not in ("next", "previous") or not isinstance(edge, list):
        raise InvalidCursorError("The cursor is not valid.")
    if cursor_digest != digest:
        raise InvalidCursorError("The cursor belongs to another filter or sort order.")
    return direction, edge

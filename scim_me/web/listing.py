"""Query parameters and the ListResponse shared by ``GET /scim2/Users`` and ``/scim2/Groups`` and
their ``/.search`` forms (RFC 7644 §3.4.2, §3.4.3).

The parameters come from the query string (GET) or a SearchRequest body (POST ``/.search``);
either way they end up as one :class:`Query`.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from flask import request

from scim_me.errors import InvalidSyntaxError
from scim_me.errors import InvalidValueError
from scim_me.web.context import settings
from scim_me.web.handlers import json_text

LIST_URN = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
SEARCH_URN = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"
# RFC 7644 §3.4.2.4 leaves the page size to the provider: settings ``default_page_size`` (100, as
# WSO2 pages) and ``max_page_size`` (200, WSO2's ``filter.maxResults``); /ServiceProviderConfig
# advertises them.
DEFAULT_COUNT = 100
# RFC 7644 §3.7.4: the most operations one /scim2/Bulk request may carry (WSO2's default);
# the payload limit is the server's body limit (max_body_bytes). Both in /ServiceProviderConfig.
BULK_MAX_OPERATIONS = 1000
_QUERY_KEYS = ("attributes", "excludedAttributes", "filter", "sortBy", "sortOrder", "startIndex", "count", "cursor")
_SEARCH_KEYS = {"schemas", *(key.lower() for key in _QUERY_KEYS)}


@dataclass(frozen=True)
class Query:
    filter: str | None = None
    sort_by: str | None = None
    descending: bool = False
    start_index: int = 1
    count: int = DEFAULT_COUNT
    attributes: str | None = None
    excluded: str | None = None
    # RFC 9865: "" asks for the first cursor page, a nextCursor/previousCursor for another.
    cursor: str | None = None

    @property
    def offset(self) -> int:
        return self.start_index - 1


def _integer(name: str, raw: Any) -> int:
    if isinstance(raw, bool):
        raise InvalidValueError(f"{name} must be an integer.")
    if isinstance(raw, int):
        return raw
    if isinstance(raw, str) and raw.strip().lstrip("-").isdigit() and len(raw) < 12:
        return int(raw)
    raise InvalidValueError(f"{name} must be an integer.")


def _sort_order(raw: Any) -> bool:
    if raw is None:
        return False
    if not isinstance(raw, str) or raw.lower() not in ("ascending", "descending"):
        raise InvalidValueError('sortOrder must be "ascending" or "descending".')
    return raw.lower() == "descending"


def _joined(name: str, raw: Any) -> str | None:
    """``attributes`` in a SearchRequest is a JSON array of strings; in a URL a comma list."""
    if raw is None:
        return None
    if isinstance(raw, str):
        return raw
    if isinstance(raw, list) and all(isinstance(item, str) for item in raw):
        return ",".join(raw)
    raise InvalidValueError(f"{name} must be an array of attribute names.")


def _query(values: Mapping[str, Any]) -> Query:
    if values.get("attributes") is not None and values.get("excludedAttributes") is not None:
        raise InvalidValueError("attributes and excludedAttributes cannot be given together.")
    raw_filter = values.get("filter")
    if raw_filter is not None and not isinstance(raw_filter, str):
        raise InvalidValueError("filter must be a string.")
    sort_by = values.get("sortBy")
    if sort_by is not None and not isinstance(sort_by, str):
        raise InvalidValueError("sortBy must be an attribute name.")
    cursor = values.get("cursor")
    if cursor is not None and not isinstance(cursor, str):
        raise InvalidValueError("cursor must be a string.")
    start = values.get("startIndex")
    count = values.get("count")
    # §3.4.2.4: a startIndex below 1 is 1, a negative count is 0; more than the maximum is the maximum.
    start_index = max(_integer("startIndex", start), 1) if start is not None else 1
    limits = settings()
    size = limits.default_page_size if count is None else min(max(_integer("count", count), 0), limits.max_page_size)
    return Query(
        filter=raw_filter or None,
        sort_by=sort_by or None,
        descending=_sort_order(values.get("sortOrder")),
        start_index=start_index,
        count=size,
        attributes=_joined("attributes", values.get("attributes")),
        excluded=_joined("excludedAttributes", values.get("excludedAttributes")),
        cursor=cursor,
    )


def query_from_args() -> Query:
    return _query(request.args)


def query_from_search(body: Any) -> Query:
    """A SearchRequest (§3.4.3): its members by name, any case; unknown members are invalidSyntax."""
    if not isinstance(body, Mapping):
        raise InvalidSyntaxError("The body must be a SearchRequest JSON object.")
    schemas = body.get("schemas")
    if schemas is not None and (not isinstance(schemas, list) or SEARCH_URN not in schemas):
        raise InvalidSyntaxError(f"A SearchRequest has the schema {SEARCH_URN}.")
    canonical = {key.lower(): key for key in _QUERY_KEYS}
    values: dict[str, Any] = {}
    for key, value in body.items():
        if key.lower() not in _SEARCH_KEYS:
            raise InvalidSyntaxError(f"Unknown SearchRequest member {key}.")
        if key.lower() in canonical:
            values[canonical[key.lower()]] = value
    return _query(values)


def list_body(
    total: int,
    query: Query,
    resources: list[Any],
    *,
    next_cursor: str | None = None,
    previous_cursor: str | None = None,
) -> dict[str, Any]:
    """A ListResponse (§3.4.2); with ``count=0`` only the total (§3.4.2.4). A cursor page
    (RFC 9865 §2.2) has ``nextCursor`` / ``previousCursor`` where there is a neighbour and no
    ``startIndex``."""
    body: dict[str, Any] = {"schemas": [LIST_URN], "totalResults": total}
    if query.cursor is None:
        body["startIndex"] = query.start_index
    body["itemsPerPage"] = len(resources)
    if next_cursor:
        body["nextCursor"] = next_cursor
    if previous_cursor:
        body["previousCursor"] = previous_cursor
    if query.count > 0:
        body["Resources"] = resources
    return body


def list_text(
    total: int,
    query: Query,
    texts: list[str],
    *,
    next_cursor: str | None = None,
    previous_cursor: str | None = None,
) -> str:
    """``list_body`` as JSON text (``handlers.json_text``), from the resources' texts: each user
    is encoded once (and kept: services/user_view.user_texts), not again inside the page.
    ``Resources`` is the body's last member, spelled as ``json.dumps`` spells a list."""
    body: dict[str, Any] = list_body(total, query, texts, next_cursor=next_cursor, previous_cursor=previous_cursor)
    if "Resources" not in body:
        return json_text(body)
    body["Resources"] = []  # the texts go between these brackets, the body's last characters
    head = json_text(body)
    return f"{head[:-2]}{', '.join(texts)}]}}"


def cursor_key() -> bytes:
    """The key that signs RFC 9865 cursors: derived from the master key, so every worker agrees
    and a cursor cannot be forged or moved to another query."""
    return hmac.new(settings().master_key(), b"scim-me list cursor", hashlib.sha256).digest()

"""HTTP helpers for the live-server tests: per-thread sessions, ETags, SCIM error bodies. The
server itself is tests/support/live_server.py."""

from __future__ import annotations

import re
from typing import Any

import requests

from tests.factories import ERROR_URN
from tests.factories import SCIM_JSON

HTTP_TIMEOUT_S = 30.0
EXTERNAL_AUDIENCE = "https://scim.example.org/api"
_ETAG = re.compile(r'^W/"(\d+)"$')


def session() -> requests.Session:
    """A new ``requests`` session; every client thread makes its own (sessions are not thread-safe)."""
    new = requests.Session()
    new.headers["Accept"] = SCIM_JSON
    return new


def version_of(etag: str | None) -> int:
    """The integer in a ``W/"N"`` ETag (the server's format); fails loudly on anything else."""
    match = _ETAG.match(etag or "")
    assert match, f"unexpected ETag {etag!r}"
    return int(match.group(1))


def email_values(resource: dict[str, Any]) -> list[str]:
    """The e-mail addresses of a User; the wso2 dialect renders untyped ones as bare strings."""
    values: list[str] = []
    for item in resource.get("emails") or []:
        values.append(item if isinstance(item, str) else item["value"])
    return values


def assert_scim_error(response: requests.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, (response.status_code, response.text)
    body = response.json()
    assert body["schemas"] == [ERROR_URN], body
    assert body["status"] == str(status), body
    assert isinstance(body.get("detail"), str), body
    return body  # type: ignore[no-any-return]

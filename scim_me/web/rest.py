"""Small helpers shared by the WSO2 REST APIs: the caller, the one JSON response helper, paging
parameters in WSO2's error dialect, entity tags, and the request facts that security events
record. Request bodies are read through ``web/bodies.py``."""

from __future__ import annotations

import json
from collections.abc import Callable
from collections.abc import Mapping
from typing import Any

from flask import Response
from flask import request

from scim_me.errors import ApiError
from scim_me.errors import Wso2Family
from scim_me.storage.events import record_event
from scim_me.web.context import current_tenant
from scim_me.web.guards import authenticate
from scim_me.web.principal import LOGIN_SCOPE
from scim_me.web.principal import Principal


def caller() -> Principal:
    """The authenticated caller (bearer, or Basic which stands for ``internal_login``)."""
    return authenticate(current_tenant())


def is_self_service(principal: Principal) -> bool:
    return principal.user_id is not None and LOGIN_SCOPE in principal.scopes


def json_response(payload: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    """A WSO2 REST API's JSON body (``application/json``); a user's data, so ``no-store`` unless
    ``headers`` say how it may be cached. SCIM bodies go through ``handlers.json_body``."""
    response = Response(
        json.dumps(payload, ensure_ascii=False), status=status, mimetype="application/json", headers=headers
    )
    response.headers.setdefault("Cache-Control", "no-store")
    return response


def empty(status: int) -> Response:
    return Response(status=status, headers={"Cache-Control": "no-store"})


def paging(make_error: Callable[[str], ApiError], default_limit: int = 100, max_limit: int = 1000) -> tuple[int, int]:
    """``limit`` and ``offset`` query parameters: non-negative integers; ``limit=0`` (or none)
    means the default, as WSO2; a limit above the maximum is capped."""
    values: dict[str, int] = {}
    for name in ("limit", "offset"):
        raw = request.args.get(name)
        if raw is None or raw == "":
            values[name] = 0
            continue
        if not raw.isdigit() or len(raw) > 9:
            raise make_error(f"'{name}' must be a non-negative integer, not {raw!r}.")
        values[name] = int(raw)
    limit = values["limit"] or default_limit
    return min(limit, max_limit), values["offset"]


def if_none_match(tag: str) -> bool:
    """True when the client already holds this representation (RFC 9110 §13.1.2)."""
    header = request.headers.get("If-None-Match")
    if not header:
        return False
    return header.strip() == "*" or tag in [part.strip().removeprefix("W/") for part in header.split(",")]


def if_match_fails(tag: str) -> bool:
    """True when the client sent If-Match naming another representation (RFC 9110 §13.1.1)."""
    header = request.headers.get("If-Match")
    if header is None or header.strip() == "*":
        return False
    return tag not in [part.strip() for part in header.split(",")]


def conditional_get(payload: Any, tag: str) -> Response:
    if if_none_match(tag):
        return Response(status=304, headers={"ETag": tag, "Cache-Control": "no-store"})
    return json_response(payload, headers={"ETag": tag})


def record(principal: Principal, user_id: str, kind: str, **details: Any) -> None:
    """A security event for ``user_id`` with this request's IP, user agent and client."""
    record_event(
        principal.tenant.id,
        user_id,
        kind,
        ip=request.remote_addr or "",
        user_agent=request.headers.get("User-Agent", ""),
        client_id=principal.client_id,
        details=details,
    )


def self_service_caller(family: Wso2Family) -> Principal:
    """The caller, who must be a user acting for themself (``internal_login``); else 403 with
    ``code``."""
    principal = caller()
    if not is_self_service(principal):
        raise family.error(
            "60403",
            "This endpoint needs a token issued to a user with the internal_login scope.",
            status=403,
            message="Forbidden",
        )
    return principal

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
from scim_me.errors import ScimError
from scim_me.errors import StepUpRequiredError
from scim_me.errors import Wso2Family
from scim_me.storage.events import record_event
from scim_me.storage.tenants import TenantRecord
from scim_me.storage.users import StoredUser
from scim_me.storage.users import get_user
from scim_me.web.context import current_tenant
from scim_me.web.guards import BASIC_NOT_SUPPORTED
from scim_me.web.guards import authenticate
from scim_me.web.guards import sends_basic
from scim_me.web.principal import LOGIN_SCOPE
from scim_me.web.principal import Principal
from scim_me.web.step_up import require_recent_sign_in


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


def factor_caller(family: Wso2Family, *, allow_basic: bool = False) -> tuple[TenantRecord, StoredUser, Principal]:
    """The signed-in user of a factor API (TOTP, backup codes, MFA, FIDO), or the family's
    errors: 401 ``-10001``, Basic 403 ``-10005`` (refused before any password is checked, so no
    password oracle), a token without ``internal_login`` or without a user 403 ``-10001``."""
    tenant = current_tenant()
    if not allow_basic and sends_basic():
        raise family.error("10005", BASIC_NOT_SUPPORTED, status=403, message="Forbidden")
    try:
        principal = authenticate(tenant)
    except ScimError as exc:
        raise family.error(
            "10001", exc.detail, status=exc.status, message="Access denied.", headers=exc.headers
        ) from exc
    if LOGIN_SCOPE not in principal.scopes:
        raise family.error(
            "10001",
            f"The access token does not have the '{LOGIN_SCOPE}' scope.",
            status=403,
            message="Access denied.",
            headers={"WWW-Authenticate": f'Bearer realm="scim-me", error="insufficient_scope", scope="{LOGIN_SCOPE}"'},
        )
    if principal.user_id is None:
        raise family.error(
            "10001", "This endpoint needs a token issued to a user.", status=403, message="Access denied."
        )
    user = principal.user or get_user(principal.tenant.id, principal.user_id)
    if user is None:
        raise family.error("10001", "The token's user does not exist.", status=401, message="Access denied.")
    return principal.tenant, user, principal


def require_factor_step_up(family: Wso2Family, principal: Principal) -> None:
    """RFC 9470 step-up for turning a factor off (scim_me.web.step_up), in this family's body:
    code ``-60001`` (scim-me's own; WSO2 has no such check)."""
    try:
        require_recent_sign_in(principal)
    except StepUpRequiredError as exc:
        raise family.error(
            "60001", exc.detail, status=exc.status, message="Re-authentication required.", headers=exc.headers
        ) from exc

"""``/scim2/Me`` (RFC 7644 §3.11) and ``/scim2/Users/{own id}``: read, PATCH, PUT, self-registration
POST and self-delete for the authenticated user, in the tenant named by the URL.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint
from flask import Response
from flask import request

from scim_me.core.patch import apply_patch
from scim_me.core.recovery import UpdateRequests
from scim_me.core.recovery import take_body_requests
from scim_me.core.recovery import take_patch_requests
from scim_me.core.replace import replace_resource
from scim_me.errors import ForbiddenError
from scim_me.errors import NotFoundError
from scim_me.errors import PreconditionFailedError
from scim_me.errors import TooManyRequestsError
from scim_me.services import self_registration
from scim_me.services.read_only import check_writable
from scim_me.services.recovery import RecoveryRefused
from scim_me.services.user_view import entity_tag
from scim_me.services.user_view import user_response
from scim_me.services.user_write import Writer
from scim_me.services.user_write import check_if_match
from scim_me.services.user_write import remove_user
from scim_me.services.user_write import write_user
from scim_me.storage.caller import UserFacts
from scim_me.storage.tenants import TenantRecord
from scim_me.storage.users import StoredUser
from scim_me.storage.users import get_user
from scim_me.web.context import app_globals
from scim_me.web.context import current_request
from scim_me.web.context import current_tenant
from scim_me.web.context import registry
from scim_me.web.context import request_actor
from scim_me.web.context import require_tenant
from scim_me.web.context import settings
from scim_me.web.guards import authenticate
from scim_me.web.guards import require_scope
from scim_me.web.guards import require_user
from scim_me.web.negotiation import check_accept
from scim_me.web.negotiation import parse_body
from scim_me.web.principal import LOGIN_SCOPE
from scim_me.web.step_up import require_recent_sign_in
from scim_me.web.validation import load_patch_request

bp = Blueprint("scim_me", __name__)

CREATE_SCOPE = "internal_user_mgt_create"
DELETE_SCOPE = "internal_user_mgt_delete"


def respond(user: StoredUser, tenant: TenantRecord, facts: UserFacts | None, status: int = 200) -> Response:
    return user_response(user, tenant, facts, status)


def _me(scopes: tuple[str, ...] = (LOGIN_SCOPE,)) -> tuple[TenantRecord, StoredUser, UserFacts | None]:
    """The caller's tenant and user, with the facts read with the user (None when not read)."""
    principal = authenticate(current_tenant())
    require_scope(principal, *scopes)
    user_id = require_user(principal)
    user = principal.user if principal.user is not None else get_user(principal.tenant.id, user_id)
    if user is None:
        raise NotFoundError("User not found in the user store.")
    return principal.tenant, user, principal.facts if principal.user is not None else None


# Every handler authenticates before it looks at Accept, Content-Type or the body, as WSO2's
# auth valve does: a caller without valid credentials learns nothing but 401.


@bp.get("/scim2/Me")
def get_me() -> Response:
    tenant, user, facts = _me()
    check_accept()
    req = current_request()
    if "HTTP_IF_NONE_MATCH" in req.environ and req.if_none_match.contains_weak(str(user.version)):
        response = Response(status=304)
        response.headers["ETag"] = entity_tag(user.version)
        return response
    return respond(user, tenant, facts)


def _write(
    tenant: TenantRecord, user: StoredUser, facts: UserFacts | None, mutate: Any, requests: UpdateRequests
) -> Response:
    """The caller's own change, through the write path /Users shares (services/user_write.py)."""
    writer = Writer(tenant, app_globals().get("principal"))
    if_match = current_request().environ.get("HTTP_IF_MATCH")
    updated, facts = write_user(writer, user, facts, mutate, if_match=if_match, requests=requests)
    return respond(updated, tenant, facts)


@bp.patch("/scim2/Me")
def patch_me() -> Response:
    tenant, user, facts = _me()
    check_accept()
    body = parse_body()
    # verifyEmail is a request, never stored (services/user_write.py): taken out before the engine.
    sent = load_patch_request(body)
    operations, requests = take_patch_requests(sent, admin=False)
    reg = registry()
    config = settings()
    limits = {"max_operations": config.max_operations, "max_values": config.max_values_per_attribute}
    # Operations that only set verifyEmail leave nothing for the engine (it refuses an empty list).
    return _write(
        tenant,
        user,
        facts,
        lambda profile: apply_patch(profile, operations, reg, **limits) if operations or not sent else profile,
        requests,
    )


@bp.put("/scim2/Me")
def put_me() -> Response:
    tenant, user, facts = _me()
    check_accept()
    body, requests = take_body_requests(parse_body(), admin=False)
    reg = registry()
    return _write(tenant, user, facts, lambda profile: replace_resource(profile, body, reg), requests)


@bp.post("/scim2/Me")
def register_me() -> Response:
    """Self-registration, per the tenant's ``self_registration`` mode (off, open, scope); held
    until the address is confirmed when the tenant says so (services/self_registration.py)."""
    tenant = require_tenant()
    mode = tenant.settings.self_registration
    if mode == "off":
        raise ForbiddenError("Self-registration is disabled for this tenant.")
    principal = authenticate(tenant, allow_basic=False) if mode == "scope" else None
    if principal is not None:
        require_scope(principal, CREATE_SCOPE)
    check_writable(tenant)  # a read-only user store takes no new user
    check_accept()
    body = parse_body()
    caller = request_actor(principal.client_id if principal is not None else None)
    try:
        user = self_registration.register(tenant, body, caller, anonymous=principal is None)
    except RecoveryRefused as exc:
        raise TooManyRequestsError(exc.detail, headers={"Retry-After": str(exc.retry_after)}) from exc
    return respond(user, tenant, None, status=201)


@bp.delete("/scim2/Me")
def delete_me() -> Response:
    tenant, user, _facts = _me((LOGIN_SCOPE, DELETE_SCOPE))
    if not tenant.settings.self_delete:
        raise ForbiddenError("Self-delete is not enabled for this tenant.")
    check_writable(tenant, user)
    require_recent_sign_in(authenticate(tenant))  # RFC 9470 step-up: nothing is more final
    conditional = check_if_match(user.version, request.headers.get("If-Match"))
    if not remove_user(tenant.id, user, version=user.version if conditional else None):
        raise PreconditionFailedError("The user changed while this request ran.")
    return Response(status=204)

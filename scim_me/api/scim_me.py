"""``/scim2/Me`` (RFC 7644 §3.11) and ``/scim2/Users/{own id}``: read, PATCH, PUT, self-registration
POST and self-delete for the authenticated user, in the tenant named by the URL.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint
from flask import Response
from flask import g
from flask import request

from scim_me.auth.credentials import new_password_hash
from scim_me.core.bounds import check_value_counts
from scim_me.core.patch import apply_patch
from scim_me.core.projection import parse_attribute_list
from scim_me.core.projection import project
from scim_me.core.projection import render_wso2_emails
from scim_me.core.replace import new_resource
from scim_me.core.replace import replace_resource
from scim_me.errors import ConflictError
from scim_me.errors import ForbiddenError
from scim_me.errors import InvalidRequestError
from scim_me.errors import InvalidValueError
from scim_me.errors import NotFoundError
from scim_me.errors import PreconditionFailedError
from scim_me.services.email_change import hold_email_change
from scim_me.services.email_change import store_email_change
from scim_me.services.password_state import after_password_change
from scim_me.services.user_view import entity_tag
from scim_me.services.user_view import represent
from scim_me.services.user_view import user_location
from scim_me.storage.caller import UserFacts
from scim_me.storage.db import write_transaction
from scim_me.storage.tenants import TenantRecord
from scim_me.storage.users import StoredUser
from scim_me.storage.users import create_user
from scim_me.storage.users import delete_user
from scim_me.storage.users import get_user
from scim_me.storage.users import update_user
from scim_me.web.context import base_url
from scim_me.web.context import current_tenant
from scim_me.web.context import registry
from scim_me.web.context import require_tenant
from scim_me.web.context import settings
from scim_me.web.context import state
from scim_me.web.guards import authenticate
from scim_me.web.guards import require_scope
from scim_me.web.guards import require_user
from scim_me.web.handlers import SCIM_JSON
from scim_me.web.handlers import json_text
from scim_me.web.negotiation import check_accept
from scim_me.web.negotiation import parse_body
from scim_me.web.principal import LOGIN_SCOPE
from scim_me.web.validation import load_patch_request

bp = Blueprint("scim_me", __name__)

CREATE_SCOPE = "internal_user_mgt_create"
DELETE_SCOPE = "internal_user_mgt_delete"
_NO_PASSWORD: Any = object()


def respond(user: StoredUser, tenant: TenantRecord, facts: UserFacts | None, status: int = 200) -> Response:
    selected = request.args.get("attributes")
    left_out = request.args.get("excludedAttributes")
    # The body is a function of the user's version (profile, timestamps), the facts read with it
    # (features' state, the lock as of now), the tenant (dialect, policy), the URL and the
    # selectors: rendered once per worker for all of them, as the features' attribute providers
    # compute from these alone (web/sections.py).
    key = (tenant, base_url(), user.id, user.version, facts, selected, left_out)
    cache = state().user_bodies
    text = cache.get(key) if facts is not None else None
    if text is None:
        reg = registry()
        attributes = parse_attribute_list(selected, reg)
        excluded = parse_attribute_list(left_out, reg)
        body = project(represent(user, tenant, reg, facts), reg, attributes=attributes, excluded=excluded)
        if tenant.dialect == "wso2":
            body = render_wso2_emails(body)
        text = json_text(body)
        if facts is not None:
            cache.put(key, text)
    response = Response(text, status=status, mimetype=SCIM_JSON)
    response.headers["Location"] = user_location(user.id)
    response.headers["ETag"] = entity_tag(user.version)
    response.headers["Cache-Control"] = "no-store"
    return response


def _me(scopes: tuple[str, ...] = (LOGIN_SCOPE,)) -> tuple[TenantRecord, StoredUser, UserFacts | None]:
    """The caller's tenant and user, with the facts read with the user (None when not read)."""
    principal = authenticate(current_tenant())
    require_scope(principal, *scopes)
    user_id = require_user(principal)
    user = principal.user if principal.user is not None else get_user(principal.tenant.id, user_id)
    if user is None:
        raise NotFoundError("User not found in the user store.")
    return principal.tenant, user, principal.facts if principal.user is not None else None


def _check_if_match(user: StoredUser) -> bool:
    """412 when If-Match names another version; True when the client sent If-Match."""
    header = request.headers.get("If-Match")
    if header is None:
        return False
    if not request.if_match.contains_weak(str(user.version)) and not request.if_match.star_tag:
        raise PreconditionFailedError(
            f"The user is at version {entity_tag(user.version)}, not {header}.",
            headers={"ETag": entity_tag(user.version)},
        )
    return True


def _password_hash(tenant: TenantRecord, password: object, user: StoredUser, profile: dict[str, Any]) -> str:
    """Hash a password sent to PATCH/PUT /Me, unless the tenant turned that off (WSO2 updateMe)."""
    if not tenant.settings.password_update_in_me:
        raise InvalidRequestError("Password update is not allowed for scim2/Me endpoint")
    return _new_password_hash(tenant, password, profile, user)


def _new_password_hash(
    tenant: TenantRecord, password: object, profile: dict[str, Any], user: StoredUser | None = None
) -> str:
    """Apply the tenant's password policy and hash; a violation is 400 ``invalidValue`` naming
    the rule, and the password is never part of an error message."""
    user_name = profile.get("userName") if isinstance(profile.get("userName"), str) else None
    return new_password_hash(
        tenant,
        settings(),
        settings().hash_params(),
        password,
        user_name=user_name or (user.user_name if user else None),
        profile=profile,
        user=user,
    )


# Every handler authenticates before it looks at Accept, Content-Type or the body, as WSO2's
# auth valve does: a caller without valid credentials learns nothing but 401.


@bp.get("/scim2/Me")
def get_me() -> Response:
    tenant, user, facts = _me()
    check_accept()
    if request.if_none_match and request.if_none_match.contains_weak(str(user.version)):
        response = Response(status=304)
        response.headers["ETag"] = entity_tag(user.version)
        return response
    return respond(user, tenant, facts)


@bp.get("/scim2/Users/<user_id>")
def get_own_user(user_id: str) -> Response:
    tenant, user, facts = _me()
    check_accept()
    if user_id != user.id:
        # Another user's id and a non-existent id answer alike: nothing leaks across users.
        raise NotFoundError()
    return respond(user, tenant, facts)


def _check_bounds(profile: dict[str, Any]) -> None:
    # The stored size is checked by storage, on the JSON text it writes (max_bytes below).
    check_value_counts(profile, max_values=settings().max_values_per_attribute)


def _write(tenant: TenantRecord, user: StoredUser, facts: UserFacts | None, mutate: Any) -> Response:
    """Change and compare-and-set the caller's user; re-read and retry on a lost race unless If-Match."""
    hashed: dict[str, str] = {}
    for _attempt in range(settings().patch_retries):
        conditional = _check_if_match(user)
        new_profile = mutate(user.profile)
        _check_bounds(new_profile)
        password = new_profile.pop("password", _NO_PASSWORD)
        # With "verify email on update" a new address waits in pendingEmails (email_verification.py).
        new_profile, email_change = hold_email_change(tenant, user, new_profile)
        password_hash: Any = _NO_PASSWORD
        if password is not _NO_PASSWORD:
            if not isinstance(password, str):
                raise InvalidValueError("The password must be a string.")
            if password not in hashed:
                hashed[password] = _password_hash(tenant, password, user, new_profile)
            password_hash = hashed[password]
        if password_hash is _NO_PASSWORD and new_profile == user.profile and email_change is None:
            return respond(user, tenant, facts)
        with write_transaction():
            limit = settings().max_profile_bytes
            updated = (
                update_user(user, new_profile, max_bytes=limit)
                if password_hash is _NO_PASSWORD
                else update_user(user, new_profile, password_hash=password_hash, max_bytes=limit)
            )
            if updated is not None and email_change is not None:
                store_email_change(tenant, updated, email_change)
        if updated is not None:
            if password_hash is not _NO_PASSWORD:
                after_password_change(tenant, user, g.get("principal"), channel="scim_me", revoke_others=True)
                facts = None  # read again after a password change rather than reason about the lock
            # The write changed the profile only (the user_name column and the features' rows
            # stay), so the facts read with the user still describe it.
            return respond(updated, tenant, facts)
        fresh = get_user(tenant.id, user.id)
        if fresh is None:
            raise NotFoundError("User not found in the user store.")
        if conditional:
            raise PreconditionFailedError(
                f"The user changed while this request ran; it is now at {entity_tag(fresh.version)}.",
                headers={"ETag": entity_tag(fresh.version)},
            )
        user, facts = fresh, None
    raise ConflictError("The user is being changed by many requests at once; retry.", headers={"Retry-After": "1"})


@bp.patch("/scim2/Me")
def patch_me() -> Response:
    tenant, user, facts = _me()
    check_accept()
    body = parse_body()
    operations = load_patch_request(body)
    reg = registry()
    limits = {"max_operations": settings().max_operations, "max_values": settings().max_values_per_attribute}
    return _write(tenant, user, facts, lambda profile: apply_patch(profile, operations, reg, **limits))


@bp.put("/scim2/Me")
def put_me() -> Response:
    tenant, user, facts = _me()
    check_accept()
    body = parse_body()
    reg = registry()
    return _write(tenant, user, facts, lambda profile: replace_resource(profile, body, reg))


@bp.post("/scim2/Me")
def register_me() -> Response:
    """Self-registration, per the tenant's ``self_registration`` mode (off, open, scope)."""
    tenant = require_tenant()
    mode = tenant.settings.self_registration
    if mode == "off":
        raise ForbiddenError("Self-registration is disabled for this tenant.")
    if mode == "scope":
        require_scope(authenticate(tenant, allow_basic=False), CREATE_SCOPE)
    check_accept()
    body = parse_body()
    profile = new_resource(body, registry())
    _check_bounds(profile)
    password = profile.pop("password", None)
    if password is None:
        raise InvalidValueError("A password is required to register.")
    # Registration creates the credential; the tenant's password_update_in_me switch only
    # governs changing it through /Me (WSO2 applies it in updateMe, not createUser).
    password_hash = _new_password_hash(tenant, password, profile)
    user = create_user(tenant.id, profile, password_hash, max_bytes=settings().max_profile_bytes)
    return respond(user, tenant, None, status=201)


@bp.delete("/scim2/Me")
def delete_me() -> Response:
    tenant, user, _facts = _me((LOGIN_SCOPE, DELETE_SCOPE))
    if not tenant.settings.self_delete:
        raise ForbiddenError("Self-delete is not enabled for this tenant.")
    _check_if_match(user)
    expected = user.version if request.headers.get("If-Match") else None
    if not delete_user(tenant.id, user.id, version=expected):
        raise PreconditionFailedError("The user changed while this request ran.")
    return Response(status=204)

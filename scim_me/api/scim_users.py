"""``/scim2/Users``: user administration (RFC 7644 §3.3-3.6), WSO2 scopes.

Create (201 + ``Location``, 409 ``uniqueness``), read, replace, PATCH (the PatchOp engine of /Me,
password included), delete (204: the user's sessions, tokens, MFA and consents go with the row),
list with ``filter`` / ``startIndex`` / ``count`` / ``sortBy`` / ``sortOrder`` / ``attributes`` /
``excludedAttributes`` / RFC 9865 ``cursor`` (the filters run in SQL: storage/user_query.py,
docs/scim-filters.md) and the same as a SearchRequest (``POST /scim2/Users/.search``, §3.4.3).

Writes go through ``services/user_write.py``, the path /Me uses, with the schemas as an
administrator writes them (``active``, ``roles``, the enterprise extension and WSO2's account
flags are writable here, read-only on /Me). Each scope is WSO2's (``internal_user_mgt_*``); a
user (token or Basic) must also hold the tenant's admin role. ``GET /scim2/Users/{id}`` of one's
own id needs only ``internal_login``: it is the ``Location`` of /Me.
"""

from __future__ import annotations

from flask import Blueprint
from flask import Response
from flask import request

from scim_me.errors import NotFoundError
from scim_me.services.user_view import entity_tag
from scim_me.services.user_view import user_response
from scim_me.services.user_view import user_texts
from scim_me.services.user_write import admin_writer
from scim_me.services.user_write import create_admin_user
from scim_me.services.user_write import delete_admin_user
from scim_me.services.user_write import patch_admin_user
from scim_me.services.user_write import replace_admin_user
from scim_me.storage.tenants import TenantRecord
from scim_me.storage.user_query import search_users
from scim_me.storage.users import StoredUser
from scim_me.storage.users import get_user
from scim_me.web.context import admin_registry
from scim_me.web.context import current_tenant
from scim_me.web.context import settings
from scim_me.web.guards import DeferredRevocation
from scim_me.web.guards import authenticate
from scim_me.web.guards import require_admin
from scim_me.web.guards import require_scope
from scim_me.web.handlers import SCIM_JSON
from scim_me.web.listing import Query
from scim_me.web.listing import cursor_key
from scim_me.web.listing import list_text
from scim_me.web.listing import query_from_args
from scim_me.web.listing import query_from_search
from scim_me.web.negotiation import check_accept
from scim_me.web.negotiation import parse_body
from scim_me.web.principal import LOGIN_SCOPE
from scim_me.web.principal import Principal

bp = Blueprint("scim_users", __name__)

CREATE = "internal_user_mgt_create"
LIST = "internal_user_mgt_list"
VIEW = "internal_user_mgt_view"
UPDATE = "internal_user_mgt_update"
DELETE = "internal_user_mgt_delete"


def _admin(*scopes: str) -> Principal:
    """The caller, who holds one of ``scopes`` (and, as a user, the tenant's admin role)."""
    principal = authenticate(current_tenant())
    require_admin(principal, *scopes)
    return principal


def _target(tenant: TenantRecord, user_id: str) -> StoredUser:
    user = get_user(tenant.id, user_id)
    if user is None:
        raise NotFoundError(f"User {user_id} not found in the user store.")
    return user


@bp.post("/scim2/Users")
def create() -> Response:
    principal = _admin(CREATE)
    check_accept()
    user = create_admin_user(admin_writer(principal), parse_body())
    return user_response(user, principal.tenant, None, status=201)


@bp.get("/scim2/Users/<user_id>")
def read(user_id: str) -> Response:
    principal = authenticate(current_tenant())
    if not principal.scopes.intersection((VIEW, LIST)):
        # Without admin scopes this is the Location of /Me: one's own user with the login
        # scope, as GET /scim2/Me; another user's id and a missing id answer alike (404).
        require_scope(principal, LOGIN_SCOPE)
        check_accept()
        if user_id != principal.user_id:
            raise NotFoundError()
        user = principal.user or _target(principal.tenant, user_id)
        return user_response(user, principal.tenant, principal.facts if principal.user else None)
    require_admin(principal, VIEW, LIST)
    check_accept()
    user = _target(principal.tenant, user_id)
    if request.if_none_match and request.if_none_match.contains_weak(str(user.version)):
        return Response(status=304, headers={"ETag": entity_tag(user.version)})
    return user_response(user, principal.tenant, None)


@bp.put("/scim2/Users/<user_id>")
def replace(user_id: str) -> Response:
    principal = _admin(UPDATE)
    check_accept()
    body = parse_body()
    user = replace_admin_user(
        admin_writer(principal), _target(principal.tenant, user_id), body, request.headers.get("If-Match")
    )
    return user_response(user, principal.tenant, None)


@bp.patch("/scim2/Users/<user_id>")
def patch(user_id: str) -> Response:
    principal = _admin(UPDATE)
    check_accept()
    body = parse_body()
    user = patch_admin_user(
        admin_writer(principal), _target(principal.tenant, user_id), body, request.headers.get("If-Match")
    )
    return user_response(user, principal.tenant, None)


@bp.delete("/scim2/Users/<user_id>")
def delete(user_id: str) -> Response:
    principal = _admin(DELETE)
    delete_admin_user(principal.tenant, _target(principal.tenant, user_id), request.headers.get("If-Match"))
    return Response(status=204)


def _list(principal: Principal, query: Query, revocation: DeferredRevocation) -> Response:
    page = search_users(
        principal.tenant.id,
        admin_registry(),
        filter=query.filter,
        start_index=query.start_index,
        count=query.count,
        sort_by=query.sort_by,
        sort_order="descending" if query.descending else "ascending",
        cursor=query.cursor,
        # Derived from the master key (a file read and an HMAC): only cursor pages need it.
        cursor_key=cursor_key() if query.cursor is not None else b"",
        max_page_size=settings().max_page_size,
        revocation=revocation.jti,
    )
    revocation.settle(page.revoked)
    texts = user_texts(page.resources, principal.tenant, page.facts, selected=query.attributes, left_out=query.excluded)
    text = list_text(
        page.total_results, query, texts, next_cursor=page.next_cursor, previous_cursor=page.previous_cursor
    )
    return Response(text, mimetype=SCIM_JSON)


# A client_credentials token's revocation is read by the page statement (one statement for a
# lookup, as GET /Me); a 401 for a revoked token still comes before any other error.
@bp.get("/scim2/Users")
def listing() -> Response:
    principal = authenticate(current_tenant(), defer_revocation=True)
    with DeferredRevocation(principal) as revocation:
        require_admin(principal, LIST)
        check_accept()
        return _list(principal, query_from_args(), revocation)


@bp.post("/scim2/Users/.search")
def search() -> Response:
    principal = authenticate(current_tenant(), defer_revocation=True)
    with DeferredRevocation(principal) as revocation:
        require_admin(principal, LIST)
        check_accept()
        return _list(principal, query_from_search(parse_body()), revocation)

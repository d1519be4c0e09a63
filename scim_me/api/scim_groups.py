"""``/scim2/Groups``: group administration (RFC 7644 §3.3-3.6, RFC 7643 §4.2), WSO2 scopes
``internal_group_mgt_*``; the same verbs and query parameters as ``/scim2/Users``.

Members are stored one row each (storage/groups.py); ``GET /scim2/Groups?filter=members.value eq
"{id}"`` is an indexed lookup (storage/group_query.py). Writes: services/group_write.py.
"""

from __future__ import annotations

from flask import Blueprint
from flask import Response
from flask import request

from scim_me.services.group_write import create_admin_group
from scim_me.services.group_write import delete_admin_group
from scim_me.services.group_write import find_group
from scim_me.services.group_write import group_response
from scim_me.services.group_write import patch_admin_group
from scim_me.services.group_write import replace_admin_group
from scim_me.services.group_write import represent_group
from scim_me.services.group_write import wants_members
from scim_me.services.user_view import entity_tag
from scim_me.services.user_write import Writer
from scim_me.storage.group_query import search_groups
from scim_me.storage.groups import members_of_groups
from scim_me.web.context import current_tenant
from scim_me.web.context import group_registry
from scim_me.web.guards import DeferredRevocation
from scim_me.web.guards import authenticate
from scim_me.web.guards import require_admin
from scim_me.web.handlers import json_body
from scim_me.web.listing import Query
from scim_me.web.listing import cursor_key
from scim_me.web.listing import list_body
from scim_me.web.listing import query_from_args
from scim_me.web.listing import query_from_search
from scim_me.web.negotiation import check_accept
from scim_me.web.negotiation import parse_body
from scim_me.web.principal import Principal

bp = Blueprint("scim_groups", __name__)

CREATE = "internal_group_mgt_create"
LIST = "internal_group_mgt_list"
VIEW = "internal_group_mgt_view"
UPDATE = "internal_group_mgt_update"
DELETE = "internal_group_mgt_delete"


def _admin(*scopes: str) -> Principal:
    principal = authenticate(current_tenant())
    require_admin(principal, *scopes)
    return principal


def _writer(principal: Principal) -> Writer:
    return Writer(principal.tenant, principal, admin=True, channel="scim_groups")


@bp.post("/scim2/Groups")
def create() -> Response:
    principal = _admin(CREATE)
    check_accept()
    group = create_admin_group(_writer(principal), parse_body())
    return group_response(group, status=201)


@bp.get("/scim2/Groups/<group_id>")
def read(group_id: str) -> Response:
    principal = _admin(VIEW, LIST)
    check_accept()
    group = find_group(principal.tenant.id, group_id)
    if request.if_none_match and request.if_none_match.contains_weak(str(group.version)):
        return Response(status=304, headers={"ETag": entity_tag(group.version)})
    return group_response(group)


@bp.put("/scim2/Groups/<group_id>")
def replace(group_id: str) -> Response:
    principal = _admin(UPDATE)
    check_accept()
    body = parse_body()
    group = find_group(principal.tenant.id, group_id)
    return group_response(replace_admin_group(_writer(principal), group, body, request.headers.get("If-Match")))


@bp.patch("/scim2/Groups/<group_id>")
def patch(group_id: str) -> Response:
    principal = _admin(UPDATE)
    check_accept()
    body = parse_body()
    group = find_group(principal.tenant.id, group_id)
    return group_response(patch_admin_group(_writer(principal), group, body, request.headers.get("If-Match")))


@bp.delete("/scim2/Groups/<group_id>")
def delete(group_id: str) -> Response:
    principal = _admin(DELETE)
    group = find_group(principal.tenant.id, group_id)
    delete_admin_group(_writer(principal), group, request.headers.get("If-Match"))
    return Response(status=204)


def _list(principal: Principal, query: Query, revocation: DeferredRevocation) -> Response:
    shown = wants_members(query.attributes, query.excluded)
    page = search_groups(
        principal.tenant.id,
        group_registry(),
        filter=query.filter,
        offset=query.offset,
        limit=query.count,
        sort_by=query.sort_by,
        descending=query.descending,
        cursor=query.cursor,
        # Derived from the master key (a file read and an HMAC): only cursor pages need it.
        cursor_key=cursor_key() if query.cursor is not None else b"",
        revocation=revocation.jti,
        members=shown,
    )
    revocation.settle(page.revoked)
    if page.members is not None:
        members = page.members  # read by the page statement (PostgreSQL)
    else:
        members = members_of_groups([g.id for g in page.groups]) if shown and page.groups else {}
    resources = [
        represent_group(group, members.get(group.id), selected=query.attributes, left_out=query.excluded)
        for group in page.groups
    ]
    body = list_body(page.total, query, resources, next_cursor=page.next_cursor, previous_cursor=page.previous_cursor)
    return json_body(body)


# A client_credentials token's revocation is read by the page statement; a 401 for a revoked
# token still comes before any other error (web/guards.py DeferredRevocation).
@bp.get("/scim2/Groups")
def listing() -> Response:
    principal = authenticate(current_tenant(), defer_revocation=True)
    with DeferredRevocation(principal) as revocation:
        require_admin(principal, LIST)
        check_accept()
        return _list(principal, query_from_args(), revocation)


@bp.post("/scim2/Groups/.search")
def search() -> Response:
    principal = authenticate(current_tenant(), defer_revocation=True)
    with DeferredRevocation(principal) as revocation:
        require_admin(principal, LIST)
        check_accept()
        return _list(principal, query_from_search(parse_body()), revocation)

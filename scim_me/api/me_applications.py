"""``GET /api/users/v1/me/applications[/{application-id}]`` (WSO2 identity-api-user
``ApplicationService``): the app launcher, the tenant's clients an operator marked discoverable
(``scim-me client create|update --discoverable --access-url URL``), each with the URL that opens it.

List: ``{totalResults, startIndex, count, applications: [{id, name, accessUrl}], links}``, by
name; ``limit`` (default ``default_page_size``, at most ``max_page_size``) and ``offset`` (0-based);
``links`` holds ``next`` / ``previous`` (tenant-qualified absolute URLs), computed as WSO2 does.
``filter``: ``name eq|sw|ew|co value`` (case-insensitive), WSO2's only filterable attribute.
``id`` is the client id (scim-me has no separate application id, as in authorized-apps).
WSO2 has no per-user visibility for discoverable apps either: every user of the tenant sees them.

Errors, WSO2's: ``APP-10001`` 404 (no such discoverable app), ``APP-10002`` 400 (an attribute
other than ``name``, or an operator other than eq/sw/ew/co), ``APP-10003`` 400 (a filter that does
not parse), ``APP-15004`` 501 (``attributes``), ``APP-15007`` 501 (``sortBy`` / ``sortOrder``);
scim-me's: ``APP-60400`` 400 (a bad ``limit`` / ``offset``), ``APP-60403`` 403 (not a user token
with ``internal_login``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from flask import Blueprint
from flask import Response
from flask import request

from scim_me.errors import APP
from scim_me.errors import ApiError
from scim_me.storage.clients import ClientRecord
from scim_me.storage.clients import list_discoverable_clients
from scim_me.web.context import base_url
from scim_me.web.context import settings
from scim_me.web.rest import json_response
from scim_me.web.rest import paging
from scim_me.web.rest import self_service_caller

bp = Blueprint("me_applications", __name__)

PATH = "/api/users/v1/me/applications"
_FILTER = re.compile(r"^\s*(\S+)\s+(\S+)\s+(.+?)\s*$", re.DOTALL)
_MATCHERS: dict[str, Callable[[str, str], bool]] = {
    "eq": lambda name, value: name == value,
    "sw": lambda name, value: name.startswith(value),
    "ew": lambda name, value: name.endswith(value),
    "co": lambda name, value: value in name,
}


def _application(client: ClientRecord) -> dict[str, Any]:
    return {"id": client.client_id, "name": client.name, "accessUrl": client.access_url}


def _not_implemented() -> None:
    if "attributes" in request.args:
        raise APP.error(
            "15004",
            "Attribute filtering capabilities are not supported in this version of the API.",
            status=501,
            message="Attribute filtering not supported.",
        )
    if "sortBy" in request.args or "sortOrder" in request.args:
        raise APP.error(
            "15007",
            "Sorting capability is not supported in this version of the API.",
            status=501,
            message="Sorting not supported.",
        )


def _matches(filter_text: str | None) -> Callable[[str], bool] | None:
    """A predicate on an app's name for WSO2's one-expression filter; None for no filter."""
    if filter_text is None or not filter_text.strip():
        return None
    found = _FILTER.match(filter_text)
    if found is None:
        raise APP.error("10003", "Provided filter query is invalid.", message="Invalid filter query.")
    attribute, operator, value = found.groups()
    if attribute != "name":
        raise APP.error(
            "10002",
            f"Filtering from {attribute} is not supported.",
            message="Filtering not supported for the given attribute.",
        )
    matcher = _MATCHERS.get(operator)
    if matcher is None:
        raise APP.error(
            "10002", f"Filter operation: {operator} is not supported.", message="Filter operation not supported."
        )
    if len(value) >= 2 and value[0] == value[-1] == '"':
        value = value[1:-1]
    wanted = value.casefold()
    return lambda name: matcher(name.casefold(), wanted)


def _bad_paging(description: str) -> ApiError:
    return APP.error("60400", description)


def _links(limit: int, offset: int, total: int) -> list[dict[str, str]]:
    """WSO2's pagination links: ``next`` while apps remain, ``previous`` after the first page."""

    def link(rel: str, at: int, size: int) -> dict[str, str]:
        return {"href": f"{base_url()}{PATH}?offset={at}&limit={size}", "rel": rel}

    links = []
    if offset + limit < total:
        links.append(link("next", offset + limit, limit))
    if offset > 0:
        if offset - limit >= 0:
            links.append(link("previous", offset - limit, limit))
        else:
            links.append(link("previous", 0, offset))
    return links


@bp.get(PATH)
def list_applications() -> Response:
    principal = self_service_caller(APP)
    _not_implemented()
    wanted = _matches(request.args.get("filter"))
    limit, offset = paging(_bad_paging, settings().default_page_size, settings().max_page_size)
    apps = list_discoverable_clients(principal.tenant.id)
    if wanted is not None:
        apps = [app for app in apps if wanted(app.name)]
    page = apps[offset : offset + limit]
    return json_response(
        {
            "totalResults": len(apps),
            "startIndex": offset + 1,
            "count": len(page),
            "applications": [_application(app) for app in page],
            "links": _links(limit, offset, len(apps)),
        }
    )


@bp.get(f"{PATH}/<application_id>")
def get_application(application_id: str) -> Response:
    principal = self_service_caller(APP)
    for app in list_discoverable_clients(principal.tenant.id):
        if app.client_id == application_id:
            return json_response(_application(app))
    raise APP.error(
        "10001",
        f"Unable to find any application with the provided identifier {application_id}.",
        status=404,
        message="Resource not found.",
    )

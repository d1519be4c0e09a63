"""The SCIM representation of a stored user, shared by ``/scim2/Me`` and the data export."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Mapping
from collections.abc import Sequence
from typing import Any

from flask import Response

from scim_me.core.projection import Selector
from scim_me.core.projection import parse_attribute_list
from scim_me.core.projection import project
from scim_me.core.projection import render_wso2_emails
from scim_me.core.schemas import SchemaRegistry
from scim_me.core.timestamps import iso
from scim_me.storage.caller import UserFacts
from scim_me.storage.caller import load_facts
from scim_me.storage.tenants import TenantRecord
from scim_me.storage.users import StoredUser
from scim_me.web.context import base_url
from scim_me.web.context import current_request
from scim_me.web.context import registry
from scim_me.web.context import state
from scim_me.web.handlers import SCIM_JSON
from scim_me.web.handlers import json_text
from scim_me.web.sections import user_attributes


def entity_tag(version: int) -> str:
    return f'W/"{version}"'


def user_location(user_id: str) -> str:
    return f"{base_url()}/scim2/Users/{user_id}"


def group_values(groups: tuple[tuple[str, str], ...]) -> list[dict[str, str]]:
    base = base_url()
    return [
        {"value": group_id, "$ref": f"{base}/scim2/Groups/{group_id}", "display": name, "type": "direct"}
        for group_id, name in groups
    ]


def represent(
    user: StoredUser, tenant: TenantRecord, reg: SchemaRegistry, facts: UserFacts | None = None
) -> dict[str, Any]:
    """The full SCIM representation of a stored user, before projection. ``facts`` are those
    read with ``user`` (storage/caller.py); without them they are read now."""
    profile = user.profile
    facts = facts if facts is not None else load_facts(user)
    computed = user_attributes(tenant, user, facts)
    if facts.groups:
        # RFC 7643 §4.1.2 ``groups``: readOnly, computed from membership (never stored).
        profile = {**profile, "groups": group_values(facts.groups)}
    if computed:
        # Features' read-only state (MFA, ...) lives outside the profile; shown, never stored.
        profile = {**profile}
        for urn, values in computed.items():
            profile[urn] = {**profile.get(urn, {}), **values}
    if tenant.dialect == "wso2":
        # WSO2 lists every configured user schema, whatever the user has values for.
        schemas = reg.user_schema_ids()
    else:
        schemas = [reg.core.id, *(ext.id for ext in reg.extensions if profile.get(ext.id))]
    resource: dict[str, Any] = {"schemas": schemas, "id": user.id}
    resource.update(profile)
    resource["meta"] = {
        "resourceType": "User",
        "created": iso(user.created_at),
        "lastModified": iso(user.updated_at),
        "location": user_location(user.id),
        "version": entity_tag(user.version),
    }
    return resource


def render_user(
    user: StoredUser,
    tenant: TenantRecord,
    facts: UserFacts | None,
    *,
    selected: str | None = None,
    left_out: str | None = None,
) -> dict[str, Any]:
    """The user as a response shows it: projected by ``attributes`` / ``excludedAttributes``
    (RFC 7644 §3.9) and in the tenant's dialect."""
    reg = registry()
    return _render(user, tenant, facts, reg, parse_attribute_list(selected, reg), parse_attribute_list(left_out, reg))


def _render(
    user: StoredUser,
    tenant: TenantRecord,
    facts: UserFacts | None,
    reg: SchemaRegistry,
    attributes: set[Selector],
    excluded: set[Selector],
) -> dict[str, Any]:
    body = project(represent(user, tenant, reg, facts), reg, attributes=attributes, excluded=excluded)
    if tenant.dialect == "wso2":
        body = render_wso2_emails(body)
    return body


def user_response(user: StoredUser, tenant: TenantRecord, facts: UserFacts | None, status: int = 200) -> Response:
    """A response carrying one user, with ``Location`` and ``ETag``."""
    req = current_request()
    if req.environ.get("QUERY_STRING"):
        selected = req.args.get("attributes")
        left_out = req.args.get("excludedAttributes")
    else:
        selected = left_out = None  # the usual request: no query string to parse
    # The body is a function of the user's version (profile, timestamps), the facts read with it
    # (features' state, the lock as of now), the tenant (dialect, policy), the URL and the
    # selectors: rendered once per worker for all of them, as the features' attribute providers
    # compute from these alone (web/sections.py).
    key = (tenant, base_url(), user.id, user.version, facts, selected, left_out)
    cache = state().user_bodies
    text = cache.get(key) if facts is not None else None
    if text is None:
        text = json_text(render_user(user, tenant, facts, selected=selected, left_out=left_out))
        if facts is not None:
            cache.put(key, text)
    headers = [("Location", user_location(user.id)), ("ETag", entity_tag(user.version)), ("Cache-Control", "no-store")]
    return Response(text, status=status, headers=headers, content_type=SCIM_JSON)


# The rendering contexts of list pages (tenant, base URL, selectors) → a number that stands for
# the context in ``page_bodies`` keys, so a page hashes the tenant (its settings) once, not once
# per user. Numbers are never reused: a context forgotten here (the bound) only costs a render.
_CONTEXTS: dict[tuple[Any, ...], int] = {}
_CONTEXT_NUMBERS = itertools.count(1)
_CONTEXTS_LIMIT = 256
_contexts_lock = threading.Lock()


def _context_number(context: tuple[Any, ...]) -> int:
    found = _CONTEXTS.get(context)
    if found is None:
        with _contexts_lock:
            if len(_CONTEXTS) >= _CONTEXTS_LIMIT:
                _CONTEXTS.clear()
            found = _CONTEXTS.setdefault(context, next(_CONTEXT_NUMBERS))
    return found


def user_texts(
    users: Sequence[StoredUser],
    tenant: TenantRecord,
    facts: Mapping[str, UserFacts],
    *,
    selected: str | None = None,
    left_out: str | None = None,
) -> list[str]:
    """The JSON text of each user of a list page (``/scim2/Users``): what ``render_user``
    gives, encoded. Each text is kept per worker under what it is a function of, as GET /Me's
    body is (``user_response``): the user's version (profile, timestamps, password; group and
    MFA changes bump it too), the facts read with it by the page statement (MFA, groups, the
    lock as of now), the tenant (dialect, settings), the base URL and the selectors."""
    number = _context_number((tenant, base_url(), selected, left_out))
    cache = state().page_bodies
    texts = []
    parsed: tuple[SchemaRegistry, set[Selector], set[Selector]] | None = None  # once per page, if needed
    for user in users:
        user_facts = facts[user.id]
        key = (number, user.id, user.version, user_facts)
        text = cache.get(key)
        if text is None:
            if parsed is None:
                reg = registry()
                parsed = (reg, parse_attribute_list(selected, reg), parse_attribute_list(left_out, reg))
            text = json_text(_render(user, tenant, user_facts, *parsed))
            cache.put(key, text)
        texts.append(text)
    return texts

"""Groups as administrators change them (``/scim2/Groups`` and ``/scim2/Bulk``): create, replace,
PATCH, delete, and the representation.

PATCH (RFC 7644 §3.5.2) splits in two: operations on the group's own attributes (``displayName``,
``externalId``) run through the PatchOp engine of /Me on a small document; operations on
``members`` become row inserts and deletes, in order, so adding or removing one member of a
group of any size touches one row (``members[value eq "{id}"]``, §3.5.2.2, selects members to
remove; ``or`` of such tests selects several). Members are users of the tenant; nested groups
are not supported (``type`` other than ``User`` is ``invalidValue``). Every membership change is
recorded in the member's security history.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from flask import Response
from flask import request

from scim_me.core.filters import Compare
from scim_me.core.filters import Node
from scim_me.core.filters import Or
from scim_me.core.filters import parse_filter
from scim_me.core.patch import apply_patch
from scim_me.core.projection import parse_attribute_list
from scim_me.core.projection import project
from scim_me.core.schemas import GROUP_URN
from scim_me.core.timestamps import iso
from scim_me.errors import ConflictError
from scim_me.errors import InvalidFilterError
from scim_me.errors import InvalidPathError
from scim_me.errors import InvalidSyntaxError
from scim_me.errors import InvalidValueError
from scim_me.errors import NotFoundError
from scim_me.errors import PreconditionFailedError
from scim_me.errors import TooManyError
from scim_me.services.user_view import entity_tag
from scim_me.services.user_write import Writer
from scim_me.services.user_write import check_if_match
from scim_me.services.user_write import record_admin_event
from scim_me.storage.db import write_transaction
from scim_me.storage.groups import Member
from scim_me.storage.groups import StoredGroup
from scim_me.storage.groups import add_members
from scim_me.storage.groups import check_users
from scim_me.storage.groups import create_group
from scim_me.storage.groups import delete_group
from scim_me.storage.groups import get_group
from scim_me.storage.groups import group_members
from scim_me.storage.groups import remove_all_members
from scim_me.storage.groups import remove_members
from scim_me.storage.groups import touch_group
from scim_me.storage.groups import update_group
from scim_me.web.context import base_url
from scim_me.web.context import group_registry
from scim_me.web.context import settings
from scim_me.web.handlers import SCIM_JSON
from scim_me.web.handlers import json_text
from scim_me.web.validation import load_patch_request

_PREFIX = GROUP_URN.lower() + ":"


def group_location(group_id: str) -> str:
    return f"{base_url()}/scim2/Groups/{group_id}"


def user_ref(user_id: str) -> str:
    return f"{base_url()}/scim2/Users/{user_id}"


def wants_members(selected: str | None, left_out: str | None) -> bool:
    """Whether the response shows ``members`` (a large group's members are read only then)."""
    reg = group_registry()
    attributes = parse_attribute_list(selected, reg)
    excluded = parse_attribute_list(left_out, reg)
    key = (GROUP_URN.lower() + ":members").lower()
    names = {name for name, _sub in attributes}
    if attributes and key not in names:
        return False
    return not any(name == key and sub is None for name, sub in excluded)


def represent_group(
    group: StoredGroup, members: list[Member] | None, *, selected: str | None = None, left_out: str | None = None
) -> dict[str, Any]:
    """The Group resource (RFC 7643 §4.2), projected by attributes / excludedAttributes."""
    resource: dict[str, Any] = {"schemas": [GROUP_URN], "id": group.id, "displayName": group.display_name}
    if group.external_id is not None:
        resource["externalId"] = group.external_id
    if members:
        users = f"{base_url()}/scim2/Users/"  # user_ref's, read once for every member
        resource["members"] = [
            {"value": m.user_id, "$ref": users + m.user_id, "display": m.user_name, "type": "User"} for m in members
        ]
    resource["meta"] = {
        "resourceType": "Group",
        "created": iso(group.created_at),
        "lastModified": iso(group.updated_at),
        "location": group_location(group.id),
        "version": entity_tag(group.version),
    }
    reg = group_registry()
    return project(
        resource, reg, attributes=parse_attribute_list(selected, reg), excluded=parse_attribute_list(left_out, reg)
    )


def group_response(group: StoredGroup, status: int = 200) -> Response:
    selected = request.args.get("attributes")
    left_out = request.args.get("excludedAttributes")
    members = group_members(group.id) if wants_members(selected, left_out) else None
    body = represent_group(group, members, selected=selected, left_out=left_out)
    response = Response(json_text(body), status=status, mimetype=SCIM_JSON)
    response.headers["Location"] = group_location(group.id)
    response.headers["ETag"] = entity_tag(group.version)
    return response


def find_group(tenant_id: int, group_id: str) -> StoredGroup:
    group = get_group(tenant_id, group_id)
    if group is None:
        raise NotFoundError(f"Group {group_id} not found.")
    return group


def _member_ids(value: Any) -> list[str]:
    """The user ids of a ``members`` value: an array of ``{"value": id}`` (or one such object)."""
    items = value if isinstance(value, list) else [value]
    ids: list[str] = []
    for item in items:
        if not isinstance(item, Mapping) or not isinstance(item.get("value"), str):
            raise InvalidValueError('Each member is an object with the user id in "value".')
        kind = item.get("type")
        if kind is not None and (not isinstance(kind, str) or kind.lower() != "user"):
            raise InvalidValueError("Group members are users; nested groups are not supported.")
        ids.append(item["value"])
    if len(ids) > settings().max_operations * 10:
        raise TooManyError(f"At most {settings().max_operations * 10} members may be given at once.")
    return ids


def _split_members(body: Mapping[str, Any]) -> tuple[dict[str, Any], Any]:
    """``body`` without its ``members`` key (any case), and that key's value (None if absent)."""
    rest: dict[str, Any] = {}
    members = None
    for key, value in body.items():
        if isinstance(key, str) and key.lower() in ("members", _PREFIX + "members"):
            members = value
        else:
            rest[key] = value
    return rest, members


def _document(group: StoredGroup) -> dict[str, Any]:
    doc: dict[str, Any] = {"displayName": group.display_name}
    if group.external_id is not None:
        doc["externalId"] = group.external_id
    return doc


@dataclass(frozen=True)
class MemberOp:
    kind: str  # add, remove, replace, clear
    ids: tuple[str, ...] = ()


def _selected_ids(node: Node) -> list[str]:
    if isinstance(node, Or):
        return _selected_ids(node.left) + _selected_ids(node.right)
    if isinstance(node, Compare) and node.op == "eq" and node.attr.lower() == "value" and isinstance(node.value, str):
        return [node.value]
    raise InvalidFilterError('Members are selected by value: members[value eq "{id}"] (or several joined by or).')


def _field(operation: Mapping[str, Any], name: str) -> Any:
    for key, value in operation.items():
        if isinstance(key, str) and key.lower() == name:
            return value
    return None


def plan_patch(operations: list[Any]) -> tuple[list[dict[str, Any]], list[MemberOp]]:
    """Split PatchOp operations into those on the group's attributes and those on members."""
    own: list[dict[str, Any]] = []
    members: list[MemberOp] = []
    for operation in operations:
        if not isinstance(operation, Mapping):
            raise InvalidSyntaxError("Each operation must be a JSON object.")
        op = _field(operation, "op")
        path = _field(operation, "path")
        value = _field(operation, "value")
        verb = op.lower() if isinstance(op, str) else op
        if path is None and verb in ("add", "replace") and isinstance(value, Mapping):
            rest, given = _split_members(value)
            if given is not None:
                members.append(MemberOp("add" if verb == "add" else "replace", tuple(_member_ids(given))))
            if rest:
                own.append({**operation, "value": rest})
            continue
        text = path.strip() if isinstance(path, str) else None
        lowered = text.lower() if text else ""
        if lowered.startswith(_PREFIX):
            lowered, text = lowered[len(_PREFIX) :], (text or "")[len(_PREFIX) :]
        if lowered == "members" and verb in ("add", "replace", "remove"):
            if verb == "remove":
                members.append(MemberOp("clear") if value is None else MemberOp("remove", tuple(_member_ids(value))))
            else:
                members.append(MemberOp(verb, tuple(_member_ids(value))))
            continue
        if lowered.startswith("members[") and text is not None:
            if verb != "remove" or not text.endswith("]"):
                raise InvalidPathError('Only remove takes a filtered members path: members[value eq "{id}"].')
            members.append(MemberOp("remove", tuple(_selected_ids(parse_filter(text[len("members[") : -1])))))
            continue
        if lowered.startswith("members"):
            raise InvalidPathError(f"Members cannot be changed through {path}.")
        own.append(dict(operation))
    return own, members


def _apply_members(writer: Writer, group: StoredGroup, ops: list[MemberOp]) -> None:
    for op in ops:
        if op.kind == "add":
            added = add_members(group, op.ids)
            _record(writer, group, added, "group.joined")
        elif op.kind == "remove":
            _record(writer, group, remove_members(group, op.ids), "group.left")
        elif op.kind == "clear":
            _record(writer, group, remove_all_members(group), "group.left")
        else:  # replace
            check_users(group.tenant_id, op.ids)
            current = {m.user_id for m in group_members(group.id)}
            wanted = list(dict.fromkeys(op.ids))
            _record(writer, group, remove_members(group, [i for i in current if i not in set(wanted)]), "group.left")
            _record(writer, group, add_members(group, [i for i in wanted if i not in current]), "group.joined")


def _record(writer: Writer, group: StoredGroup, user_ids: list[str], kind: str) -> None:
    for user_id in user_ids:
        record_admin_event(writer, user_id, kind, {"group": group.id, "displayName": group.display_name})


def create_admin_group(writer: Writer, body: Any) -> StoredGroup:
    """RFC 7644 §3.3 for a Group; 409 ``uniqueness`` for a taken displayName."""
    if not isinstance(body, Mapping):
        raise InvalidValueError("The request body must be a JSON object (a Group resource).")
    doc, given = _split_members(body)
    reg = group_registry()
    shaped = apply_patch({}, [{"op": "add", "value": doc}], reg) if doc else {}
    if not isinstance(shaped.get("displayName"), str):
        raise InvalidValueError("Required attribute displayName is missing.")
    ids = _member_ids(given) if given is not None else []
    with write_transaction():
        group = create_group(writer.tenant.id, shaped.get("displayName"), shaped.get("externalId"), ids)
        _record(writer, group, list(dict.fromkeys(ids)), "group.joined")
    return group


def _write_group(
    writer: Writer, group: StoredGroup, own: list[dict[str, Any]], member_ops: list[MemberOp], if_match: str | None
) -> StoredGroup:
    """Apply attribute operations and member changes in one transaction (compare-and-set)."""
    for _attempt in range(settings().patch_retries):
        conditional = check_if_match(group.version, if_match, "group")
        doc = _document(group)
        new_doc = apply_patch(doc, own, group_registry(), max_operations=settings().max_operations) if own else doc
        with write_transaction():
            if new_doc != doc:
                updated = update_group(group, new_doc.get("displayName"), new_doc.get("externalId"))
            else:
                updated = touch_group(group) if member_ops else group
            if updated is not None:
                _apply_members(writer, updated, member_ops)
        if updated is not None:
            return updated
        fresh = find_group(writer.tenant.id, group.id)
        if conditional:
            raise PreconditionFailedError(
                f"The group changed while this request ran; it is now at {entity_tag(fresh.version)}.",
                headers={"ETag": entity_tag(fresh.version)},
            )
        group = fresh
    raise ConflictError("The group is being changed by many requests at once; retry.", headers={"Retry-After": "1"})


def patch_admin_group(writer: Writer, group: StoredGroup, body: Any, if_match: str | None) -> StoredGroup:
    own, member_ops = plan_patch(load_patch_request(body))
    if len(own) + len(member_ops) > settings().max_operations:
        raise TooManyError(f"At most {settings().max_operations} operations are accepted.")
    if not own and not member_ops:
        raise InvalidSyntaxError("'Operations' must contain at least one operation.")
    return _write_group(writer, group, own, member_ops, if_match)


def replace_admin_group(writer: Writer, group: StoredGroup, body: Any, if_match: str | None) -> StoredGroup:
    """RFC 7644 §3.5.1: the body's displayName, externalId and members replace the group's."""
    if not isinstance(body, Mapping):
        raise InvalidValueError("The request body must be a JSON object (a Group resource).")
    doc, given = _split_members(body)
    shaped = apply_patch({}, [{"op": "add", "value": doc}], group_registry()) if doc else {}
    if not isinstance(shaped.get("displayName"), str):
        raise InvalidValueError("Required attribute displayName is missing.")
    own = [{"op": "replace", "value": {"displayName": shaped["displayName"]}}]
    own.append(
        {"op": "replace", "value": {"externalId": shaped["externalId"]}}
        if "externalId" in shaped
        else {"op": "remove", "path": "externalId"}
    )
    if "externalId" not in shaped and group.external_id is None:
        own.pop()
    ids = _member_ids(given) if given is not None else []
    return _write_group(writer, group, own, [MemberOp("replace", tuple(ids))], if_match)


def delete_admin_group(writer: Writer, group: StoredGroup, if_match: str | None) -> None:
    conditional = check_if_match(group.version, if_match, "group")
    with write_transaction():
        members = [m.user_id for m in group_members(group.id)]
        if not delete_group(group, version=group.version if conditional else None):
            raise PreconditionFailedError("The group changed while this request ran.")
        _record(writer, group, members, "group.left")

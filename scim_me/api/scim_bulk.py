"""``POST /scim2/Bulk`` (RFC 7644 §3.7): many User and Group operations in one request.

- Each operation runs on its own, through the same services as ``/scim2/Users`` and
  ``/scim2/Groups`` (one transaction each); its result is in the BulkResponse with its own
  ``status`` (and ``location`` / ``version``, or the SCIM error as ``response``).
- ``bulkId`` (§3.7.2): a POST names what it creates; ``"bulkId:{id}"`` anywhere in a later
  operation's ``data`` or ``path`` stands for the created resource's id (a group created with
  members created earlier in the same request). Operations whose references are not created yet
  wait for them (so order in the request does not matter); a reference nothing in the request
  creates, or one whose POST failed, is 409 ``invalidValue`` for that operation.
- Circular references (§3.7.1: operations whose POSTs name each other's bulkIds, or a POST its
  own): each operation of the cycle, and each waiting on it, is 409 ``invalidValue`` saying so,
  as §3.7.1 allows ("MAY stop after a failed attempt and instead return HTTP status code 409").
  Nothing of the cycle is written. Users and groups cannot resolve one by a deferred PATCH here:
  a group's members are users (no nested groups), a user's ``groups`` is read-only.
- ``failOnErrors`` (§3.7.3): after that many errors, the rest is not run (and not reported).
- Limits (§3.7.4): ``maxOperations`` and ``maxPayloadSize``, advertised in
  /ServiceProviderConfig; over either is 413 (``tooMany`` for the operation count).
- Authorization: ``internal_bulk_resource_create`` for the request, and the scope of each
  operation's verb (``internal_user_mgt_create`` for a POST to /Users, ...) for that operation:
  a client allowed only bulk cannot do through /Bulk what it may not do directly.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from flask import Blueprint
from flask import Response
from flask import request

from scim_me.core.accounts import BULK_SCOPE
from scim_me.errors import CircularBulkIdError
from scim_me.errors import ForbiddenError
from scim_me.errors import InvalidSyntaxError
from scim_me.errors import InvalidValueError
from scim_me.errors import MethodNotAllowedError
from scim_me.errors import NotFoundError
from scim_me.errors import PayloadTooLargeError
from scim_me.errors import ScimError
from scim_me.errors import TooManyOperationsError
from scim_me.errors import UnresolvedBulkIdError
from scim_me.services.group_write import create_admin_group
from scim_me.services.group_write import delete_admin_group
from scim_me.services.group_write import find_group
from scim_me.services.group_write import group_location
from scim_me.services.group_write import patch_admin_group
from scim_me.services.group_write import replace_admin_group
from scim_me.services.user_view import entity_tag
from scim_me.services.user_view import user_location
from scim_me.services.user_write import Writer
from scim_me.services.user_write import create_admin_user
from scim_me.services.user_write import delete_admin_user
from scim_me.services.user_write import patch_admin_user
from scim_me.services.user_write import replace_admin_user
from scim_me.storage.users import get_user
from scim_me.web.context import current_tenant
from scim_me.web.context import settings
from scim_me.web.guards import authenticate
from scim_me.web.guards import require_admin
from scim_me.web.handlers import json_body
from scim_me.web.listing import BULK_MAX_OPERATIONS
from scim_me.web.negotiation import check_accept
from scim_me.web.negotiation import parse_body
from scim_me.web.principal import Principal

bp = Blueprint("scim_bulk", __name__)

BULK_REQUEST_URN = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
BULK_RESPONSE_URN = "urn:ietf:params:scim:api:messages:2.0:BulkResponse"
_REFERENCE = re.compile(r"^bulkId:(.+)$")
_PATH = re.compile(r"^/(Users|Groups)(?:/([^/]+))?$", re.IGNORECASE)
_SCOPES = {
    ("users", "POST"): "internal_user_mgt_create",
    ("users", "PUT"): "internal_user_mgt_update",
    ("users", "PATCH"): "internal_user_mgt_update",
    ("users", "DELETE"): "internal_user_mgt_delete",
    ("groups", "POST"): "internal_group_mgt_create",
    ("groups", "PUT"): "internal_group_mgt_update",
    ("groups", "PATCH"): "internal_group_mgt_update",
    ("groups", "DELETE"): "internal_group_mgt_delete",
}


def max_payload_size() -> int:
    return int(settings().max_body_bytes)


class _Unresolved(Exception):
    """An operation names a bulkId that no operation has created (yet)."""

    def __init__(self, bulk_id: str) -> None:
        super().__init__(bulk_id)
        self.bulk_id = bulk_id


def _references(value: Any) -> set[str]:
    if isinstance(value, str):
        match = _REFERENCE.match(value)
        return {match.group(1)} if match else set()
    if isinstance(value, Mapping):
        return set().union(*(_references(v) for v in value.values())) if value else set()
    if isinstance(value, list):
        return set().union(*(_references(v) for v in value)) if value else set()
    return set()


def _resolve(value: Any, created: Mapping[str, str]) -> Any:
    if isinstance(value, str):
        match = _REFERENCE.match(value)
        if match is None:
            return value
        if match.group(1) not in created:
            raise _Unresolved(match.group(1))
        return created[match.group(1)]
    if isinstance(value, Mapping):
        return {k: _resolve(v, created) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve(v, created) for v in value]
    return value


def _field(operation: Mapping[str, Any], name: str) -> Any:
    for key, value in operation.items():
        if isinstance(key, str) and key.lower() == name:
            return value
    return None


def _run(
    principal: Principal, writer: Writer, method: str, path: str, data: Any, version: str | None
) -> dict[str, Any]:
    """One operation; its BulkResponse entry without method and bulkId."""
    match = _PATH.match(path)
    if match is None:
        raise InvalidValueError(f"A bulk operation's path is /Users, /Groups or one of theirs: {path}.")
    kind, resource_id = match.group(1).lower(), match.group(2)
    if (resource_id is None) != (method == "POST"):
        raise InvalidValueError(f"{method} takes {'/' + kind.capitalize() if method == 'POST' else 'a resource path'}.")
    scope = _SCOPES.get((kind, method))
    if scope is None:
        raise MethodNotAllowedError(f"{method} is not a bulk operation (POST, PUT, PATCH, DELETE).")
    if not principal.scopes.intersection((scope,)):
        raise ForbiddenError(f"This operation needs the scope {scope}.")
    if_match = version if isinstance(version, str) else None
    tenant = principal.tenant
    if kind == "users":
        if method == "POST":
            user = create_admin_user(writer, data)
            location = user_location(user.id)
            return {"location": location, "version": entity_tag(user.version), "status": "201", "id": user.id}
        assert resource_id is not None
        current = get_user(tenant.id, resource_id)
        if current is None:
            raise NotFoundError(f"User {resource_id} not found in the user store.")
        if method == "DELETE":
            delete_admin_user(tenant, current, if_match)
            return {"location": user_location(current.id), "status": "204"}
        change = replace_admin_user if method == "PUT" else patch_admin_user
        user = change(writer, current, data, if_match)
        return {"location": user_location(user.id), "version": entity_tag(user.version), "status": "200"}
    if method == "POST":
        group = create_admin_group(writer, data)
        return {
            "location": group_location(group.id),
            "version": entity_tag(group.version),
            "status": "201",
            "id": group.id,
        }
    assert resource_id is not None
    found = find_group(tenant.id, resource_id)
    if method == "DELETE":
        delete_admin_group(writer, found, if_match)
        return {"location": group_location(found.id), "status": "204"}
    change_group = replace_admin_group if method == "PUT" else patch_admin_group
    group = change_group(writer, found, data, if_match)
    return {"location": group_location(group.id), "version": entity_tag(group.version), "status": "200"}


def _check_request(body: Any) -> tuple[list[Any], int | None]:
    if not isinstance(body, Mapping):
        raise InvalidSyntaxError("The body must be a BulkRequest JSON object.")
    schemas = body.get("schemas")
    if schemas is not None and (not isinstance(schemas, list) or BULK_REQUEST_URN not in schemas):
        raise InvalidSyntaxError(f"A BulkRequest has the schema {BULK_REQUEST_URN}.")
    operations = body.get("Operations")
    if not isinstance(operations, list) or not operations:
        raise InvalidSyntaxError("'Operations' must be a non-empty JSON array of bulk operations.")
    if len(operations) > BULK_MAX_OPERATIONS:
        raise TooManyOperationsError(
            f"The request has {len(operations)} operations; at most {BULK_MAX_OPERATIONS} are accepted (maxOperations)."
        )
    fail_on_errors = body.get("failOnErrors")
    if fail_on_errors is not None and (
        isinstance(fail_on_errors, bool) or not isinstance(fail_on_errors, int) or fail_on_errors < 1
    ):
        raise InvalidValueError("failOnErrors must be a positive integer.")
    return operations, fail_on_errors


@bp.post("/scim2/Bulk")
def bulk() -> Response:
    principal = authenticate(current_tenant())
    require_admin(principal, BULK_SCOPE)
    check_accept()
    if request.content_length is not None and request.content_length > max_payload_size():
        raise PayloadTooLargeError(f"The size of the bulk operation exceeds the maxPayloadSize ({max_payload_size()}).")
    operations, fail_on_errors = _check_request(parse_body())
    writer = Writer(principal.tenant, principal, admin=True, channel="scim_bulk")
    results: list[dict[str, Any] | None] = [None] * len(operations)
    created: dict[str, str] = {}
    failed_ids: set[str] = set()
    errors = 0

    def stopped() -> bool:
        return fail_on_errors is not None and errors >= fail_on_errors

    # Run what can run; an operation waiting for a bulkId runs once its POST did (§3.7.2). When
    # a pass runs nothing, what still waits names bulkIds nothing creates: each is an error.
    pending = list(range(len(operations)))
    while pending and not stopped():
        waiting: list[int] = []
        for index in pending:
            if stopped():
                break
            outcome = _operation(principal, writer, operations[index], created, failed_ids, final=False)
            if outcome is None:
                waiting.append(index)
                continue
            results[index] = outcome
            errors += int(outcome["status"]) >= 400
        if waiting and len(waiting) == len(pending):
            # Nothing ran: what waits names bulkIds that nothing creates, or that only waiting
            # POSTs create (a cycle, or a chain into one).
            circular = _cyclic(operations, waiting)
            for index in waiting:
                if stopped():
                    break
                results[index] = _operation(
                    principal, writer, operations[index], created, failed_ids, final=True, circular=circular
                )
                errors += 1
            waiting = []
        pending = waiting
    body = {"schemas": [BULK_RESPONSE_URN], "Operations": [r for r in results if r is not None]}
    return json_body(body)


def _cyclic(operations: list[Any], waiting: list[int]) -> set[str]:
    """The bulkIds of waiting POSTs that are part of a reference cycle or wait on one: what is
    left after repeatedly setting aside the POSTs none of whose references is left."""
    references: dict[str, set[str]] = {}
    for index in waiting:
        operation = operations[index]
        bulk_id = _field(operation, "bulkid") if isinstance(operation, Mapping) else None
        if isinstance(bulk_id, str):
            references[bulk_id] = _references(_field(operation, "data"))
    left = set(references)
    while True:
        free = {bulk_id for bulk_id in left if not references[bulk_id] & left}
        if not free:
            return left
        left -= free


def _operation(
    principal: Principal,
    writer: Writer,
    operation: Any,
    created: dict[str, str],
    failed_ids: set[str],
    *,
    final: bool,
    circular: set[str] | None = None,
) -> dict[str, Any] | None:
    """Run one operation: its BulkResponse entry, or None while it waits for a bulkId."""
    if not isinstance(operation, Mapping):
        return _error({"method": None}, InvalidSyntaxError("Each bulk operation is a JSON object."))
    method = _field(operation, "method")
    method = method.upper() if isinstance(method, str) else method
    bulk_id = _field(operation, "bulkid")
    entry: dict[str, Any] = {"method": method}
    if bulk_id is not None:
        entry["bulkId"] = bulk_id
    try:
        if not isinstance(method, str) or not isinstance(_field(operation, "path"), str):
            raise InvalidSyntaxError("A bulk operation has a method and a path.")
        if method == "POST" and not isinstance(bulk_id, str):
            raise InvalidSyntaxError("A POST bulk operation has a bulkId (RFC 7644 §3.7).")
        data = _field(operation, "data")
        path = _field(operation, "path")
        needed = _references(data) | _references(path.rsplit("/", 1)[-1])
        missing = needed - set(created)
        if missing:
            broken = missing & failed_ids
            waits = sorted(missing & (circular or set()))
            if final and waits:
                raise CircularBulkIdError(
                    f"The bulkId {waits[0]} takes part in a circular reference (RFC 7644 §3.7.1): create one of "
                    "the resources without the reference, then add it with a PATCH."
                )
            if broken or final:
                reason = "failed" if broken else "is not created by any operation of this request"
                raise UnresolvedBulkIdError(f"The bulkId {sorted(missing)[0]} {reason}.")
            return None
        data = _resolve(data, created)
        head, _, tail = path.rpartition("/")
        path = f"{head}/{_resolve(tail, created)}" if head else path
        if method in ("POST", "PUT", "PATCH") and data is None:
            raise InvalidSyntaxError(f"A {method} bulk operation has data.")
        result = _run(principal, writer, method, path, data, _field(operation, "version"))
    except ScimError as error:
        if isinstance(bulk_id, str):
            failed_ids.add(bulk_id)
        return _error(entry, error)
    new_id = result.pop("id", None)
    if isinstance(bulk_id, str) and new_id is not None:
        created[bulk_id] = new_id
    return {**entry, **result}


def _error(entry: dict[str, Any], error: ScimError) -> dict[str, Any]:
    return {**entry, "status": str(error.status), "response": error.to_dict()}

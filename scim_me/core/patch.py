"""The SCIM PATCH engine (RFC 7644 §3.5.2), pure: no web framework, no database.

``apply_patch`` runs the operations in order on a deep copy of the resource and returns the new
resource, or raises a typed :class:`~scim_me.errors.ScimError` and leaves the input untouched
(§3.5.2: "the entire request fails and no modifications are applied").

Resources are in canonical form: core and common attributes at the top level, each extension's
attributes in a dict under the extension URN, attribute keys spelled as in the schema. ``id``,
``meta`` and ``schemas`` are not part of the working resource.

Decisions where RFC 7644 leaves room:
- ``add`` through a value filter that matches nothing creates the value when the filter is a
  conjunction of ``eq`` tests (``emails[type eq "work"].value``), as provisioning clients expect;
  any other unmatched filter is ``noTarget``.
- ``replace`` through a filter merges the given sub-attributes into each matching value.
- Unknown attribute names inside a path-less value are ignored (WSO2 behaviour); an unknown
  attribute in a ``path`` is ``invalidPath``.
- Not supported: attribute paths more than one sub-attribute deep (SCIM has none for User).

Cost: one request may carry a thousand operations on one long multi-valued attribute. A
per-request :class:`~scim_me.core.patch_workspace.Workspace` indexes such lists once, remembers
filter matches and defers writes through filters, so the engine's cost is linear in operations +
values for the shapes clients and attackers send (see that module for what stays O(values)).
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Mapping
from collections.abc import MutableMapping
from collections.abc import Sequence
from typing import Any

from scim_me.core.filters import equality_terms
from scim_me.core.patch_workspace import IndexedValues
from scim_me.core.patch_workspace import Workspace
from scim_me.core.patch_workspace import has_primary
from scim_me.core.patch_workspace import is_primary
from scim_me.core.patch_workspace import primary_winner
from scim_me.core.paths import ResolvedPath
from scim_me.core.paths import filter_lookup
from scim_me.core.paths import parse_path
from scim_me.core.schemas import Attribute
from scim_me.core.schemas import Schema
from scim_me.core.schemas import SchemaRegistry
from scim_me.core.values import coerce
from scim_me.core.values import coerce_element
from scim_me.core.values import copy_document
from scim_me.core.values import fold
from scim_me.core.values import is_unassigned
from scim_me.core.values import same_value
from scim_me.errors import InvalidPathError
from scim_me.errors import InvalidSyntaxError
from scim_me.errors import InvalidValueError
from scim_me.errors import MutabilityError
from scim_me.errors import NoTargetError
from scim_me.errors import TooManyError

PATCH_OP_URN = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
DEFAULT_MAX_OPERATIONS = 1000
_OPS = ("add", "replace", "remove")

Resource = dict[str, Any]
Lookup = Callable[[str], Attribute | None]


def apply_patch(
    resource: Mapping[str, Any],
    operations: object,
    registry: SchemaRegistry,
    *,
    max_operations: int = DEFAULT_MAX_OPERATIONS,
    max_values: int | None = None,
) -> Resource:
    """Apply PatchOp ``Operations`` to a copy of ``resource`` and return it (all or nothing).

    More than ``max_operations`` operations is ``tooMany`` before any runs; with ``max_values``,
    an operation that appends a value to a list already that long is ``invalidValue`` at once.
    """
    if not isinstance(operations, list):
        raise InvalidSyntaxError("'Operations' must be a JSON array of operations.")
    if not operations:
        raise InvalidSyntaxError("'Operations' must contain at least one operation.")
    if len(operations) > max_operations:
        raise TooManyError(f"The request has {len(operations)} operations; at most {max_operations} are accepted.")
    working: Resource = copy_document(dict(resource))
    workspace = Workspace(max_values, (registry.core.id, registry.common.id))
    for index, operation in enumerate(operations):
        _apply_operation(working, operation, index, registry, workspace)
    workspace.settle_all()
    finish(resource, working, registry)
    return working


def _member(document: Mapping[str, Any], name: str) -> tuple[bool, Any]:
    if name in document:
        return True, document[name]
    for key, value in document.items():
        if isinstance(key, str) and key.lower() == name:
            return True, value
    return False, None


def _apply_operation(
    working: Resource, operation: object, index: int, registry: SchemaRegistry, workspace: Workspace
) -> None:
    if not isinstance(operation, Mapping):
        raise InvalidSyntaxError(f"Operation {index} must be a JSON object.")
    has_op, op = _member(operation, "op")
    if not has_op or op is None:
        raise InvalidSyntaxError("Operation can not be null.")
    if not isinstance(op, str) or op.lower() not in _OPS:
        raise InvalidSyntaxError(f"Unknown operation: {op}")
    op = op.lower()
    has_path, raw_path = _member(operation, "path")
    has_value, value = _member(operation, "value")
    path = parse_path(raw_path, registry) if has_path and raw_path is not None else None
    # Deferred writes (patch_workspace.py) must be applied before code that reads a list directly.
    if path is None or path.attribute is None:
        workspace.settle_all()
    elif op == "remove" or path.filter is None or path.sub is None:
        workspace.settle(path.attribute)
    if op == "remove":
        if path is None:
            raise NoTargetError("No path value specified for remove operation")
        _remove(working, path, value if has_value else None, registry, workspace)
        return
    if not has_value:
        raise InvalidSyntaxError(f"The value is not provided to perform patch {op} operation.")
    if path is None:
        if not isinstance(value, Mapping):
            raise InvalidValueError(f"A {op} without a path needs a JSON object value.")
        _write_object(working, value, op, registry, registry.core, working, workspace)
        return
    _write_path(working, path, value, op, registry, workspace)


def _container(working: Resource, attr: Attribute, registry: SchemaRegistry, create: bool) -> Any:
    if attr.schema in (registry.core.id, registry.common.id):
        return working
    ext = working.get(attr.schema)
    if ext is None and create:
        ext = working[attr.schema] = {}
    return ext


def _write_object(
    working: Resource,
    value: Mapping[str, Any],
    op: str,
    registry: SchemaRegistry,
    schema: Schema,
    container: MutableMapping[str, Any],
    workspace: Workspace,
) -> None:
    """Path-less add/replace: each key is an attribute, a qualified path or an extension URN."""
    for key, item in value.items():
        if not isinstance(key, str) or key.lower() == "schemas":
            continue
        if ":" in key:
            found, rest = registry.split_urn(key)
            if found is None:
                continue
            if rest:
                try:
                    target = parse_path(key, registry)
                except InvalidPathError:
                    continue  # an unknown attribute in a path-less value is ignored, qualified or not
                _write_path(working, target, item, op, registry, workspace, explicit=False)
                continue
            if found.id in (registry.core.id, registry.common.id):
                if isinstance(item, Mapping):
                    _write_object(working, item, op, registry, registry.core, working, workspace)
                continue
            if item is None and op == "replace":
                _clear_extension(working, found)
                continue
            if not isinstance(item, Mapping):
                raise InvalidValueError(f"The value of {found.id} must be a JSON object.")
            ext = working.setdefault(found.id, {})
            _write_object(working, item, op, registry, found, ext, workspace)
            if not ext:
                working.pop(found.id, None)
            continue
        attr = registry.core_attribute(key) if schema.id == registry.core.id else schema.attribute(key)
        if attr is None or attr.is_read_only:
            continue
        _merge(container, attr, item, op, workspace)


def _merge(container: MutableMapping[str, Any], attr: Attribute, value: Any, op: str, workspace: Workspace) -> None:
    new = coerce(attr, value)
    if new is None:
        if op == "replace":
            container.pop(attr.name, None)
        return
    if attr.multi_valued:
        if op == "replace":
            container[attr.name] = new
            normalize_primary(attr, new, set(range(len(new))))
        else:
            _append(workspace.values(container, attr), new)
    elif attr.is_complex:
        merged = dict(container.get(attr.name) or {})
        merged.update(new)
        container[attr.name] = merged
    else:
        container[attr.name] = new


def _append(values: IndexedValues, new: list[Any]) -> None:
    """Add values to a multi-valued attribute without duplicating equal ones (§3.5.2.1)."""
    touched: set[int] = set()
    for candidate in new:
        position = values.first_equal(candidate)
        if position is None:
            touched.add(values.append(candidate))
            continue
        existing = values.items[position]
        if isinstance(candidate, Mapping) and isinstance(existing, Mapping):
            # "If the target location already contains the value specified, no changes
            # SHOULD be made" (§3.5.2.1): keep the stored spelling, take only new keys
            # and a primary flag the request sets.
            merged = {**candidate, **existing}
            if candidate.get("primary") is True:
                merged["primary"] = True
            values.replace(position, merged)
        touched.add(position)
    values.normalize_primary(touched)


def normalize_primary(attr: Attribute, items: list[Any], touched: set[int]) -> None:
    """Keep at most one ``primary: true`` (RFC 7643 §2.4, RFC 7644 §3.5.2).

    The value this operation set as primary wins; the others are set to false.
    """
    if not has_primary(attr):
        return
    primaries = [i for i, item in enumerate(items) if is_primary(item)]
    if len(primaries) <= 1:
        return
    winner = primary_winner(primaries, touched)
    for index in primaries:
        if index != winner:
            items[index] = {**items[index], "primary": False}


def _check_writable(path: ResolvedPath, verb: str) -> None:
    attr = path.attribute
    if attr is None:
        return
    target = path.sub or attr
    if attr.is_read_only or target.is_read_only:
        raise MutabilityError(f"Can not {verb} a immutable attribute or a read-only attribute: {path.raw}")


def _write_path(
    working: Resource,
    path: ResolvedPath,
    value: Any,
    op: str,
    registry: SchemaRegistry,
    workspace: Workspace,
    *,
    explicit: bool = True,
) -> None:
    attr = path.attribute
    if attr is None:
        if value is None and op == "replace":
            _clear_extension(working, path.schema)
            return
        if not isinstance(value, Mapping):
            raise InvalidValueError(f"The value of {path.schema.id} must be a JSON object.")
        ext = working.setdefault(path.schema.id, {})
        _write_object(working, value, op, registry, path.schema, ext, workspace)
        if not ext:
            working.pop(path.schema.id, None)
        return
    if explicit:
        _check_writable(path, "replace" if op == "replace" else "update")
    elif attr.is_read_only or (path.sub is not None and path.sub.is_read_only):
        return
    container = _container(working, attr, registry, create=True)
    if path.filter is None and path.sub is None:
        _merge(container, attr, value, op, workspace)
    elif path.filter is None and path.sub is not None:
        _write_sub_everywhere(container, attr, path.sub, value)
    else:
        _write_filtered(container, path, value, op, workspace)
    _drop_empty(container, attr, workspace)
    if not container and container is not working:
        working.pop(attr.schema, None)


def _write_sub_everywhere(container: MutableMapping[str, Any], attr: Attribute, sub: Attribute, value: Any) -> None:
    new = coerce_element(sub, value)
    if not attr.multi_valued:
        current = dict(container.get(attr.name) or {})
        _set_or_pop(current, sub, new)
        container[attr.name] = current
        return
    items = [dict(item) for item in container.get(attr.name) or []]
    if not items:
        items = [{}]
    for item in items:
        _set_or_pop(item, sub, new)
    container[attr.name] = items
    normalize_primary(attr, items, set(range(len(items))))


def _set_or_pop(target: MutableMapping[str, Any], sub: Attribute, new: Any) -> None:
    if new is None:
        target.pop(sub.name, None)
    else:
        target[sub.name] = new


def _write_filtered(
    container: MutableMapping[str, Any], path: ResolvedPath, value: Any, op: str, workspace: Workspace
) -> None:
    attr = path.attribute
    assert attr is not None and path.filter is not None
    values = workspace.values(container, attr)
    hits, remembered = values.select(path.filter, _lookup(attr))
    if hits and path.sub is not None and values.can_defer(path.sub):
        new = coerce_element(path.sub, value)
        if new is not None:
            # Every matched value gets the same sub-attribute value: recorded once, applied once.
            values.defer(path.sub, hits, remembered, new)
            return
    values.settle()
    if not hits:
        created = values.append(_seed(attr, path, value, op))
        values.normalize_primary({created})
        return
    for position in hits:
        _update_hit(values, position, path, value, op)
    if not values.empty:
        values.normalize_primary(set(hits))
        return
    # A value became unassigned (or one already was): drop them now, then settle primary on the
    # shorter list with the hits' positions counted before the drop, as this engine always has.
    kept = [item for item in values.items if not is_unassigned(item)]
    container[attr.name] = kept
    normalize_primary(attr, kept, set(hits))


def _seed(attr: Attribute, path: ResolvedPath, value: Any, op: str) -> Any:
    """The value an ``add`` through an unmatched ``eq`` filter creates (see the module docstring)."""
    assert path.filter is not None
    terms = equality_terms(path.filter) if op == "add" and attr.is_complex else None
    if terms is None:
        raise NoTargetError(f"No value matched the filter in path: {path.raw}")
    seed: dict[str, Any] = {}
    for name, term in terms.items():
        sub = attr.sub(name)
        if sub is not None:
            seed[sub.name] = term
    if path.sub is not None:
        seed[path.sub.name] = value
    elif isinstance(value, Mapping):
        seed.update(value)
    else:
        raise InvalidValueError(f"The value for {path.raw} must be a JSON object.")
    return coerce_element(attr, seed)


def _update_hit(values: IndexedValues, position: int, path: ResolvedPath, value: Any, op: str) -> None:
    """Write ``value`` into one value the filter matched (a whole value is merged in)."""
    attr = values.attr
    current = values.items[position]
    updated: Any
    changed: str | None = None
    if path.sub is not None:
        updated = dict(current)
        _set_or_pop(updated, path.sub, coerce_element(path.sub, value))
        changed = path.sub.name
    elif attr.is_complex:
        new = coerce_element(attr, value)
        if new is None:
            if op != "replace":
                return
            updated = None
        else:
            updated = {**current, **new}
    else:
        updated = coerce_element(attr, value)
    values.replace(position, updated, changed)


def _lookup(attr: Attribute) -> Lookup:
    """How a filter inside ``attr[...]`` resolves its attribute names."""
    return lambda name: filter_lookup(attr, name)


def _remove(working: Resource, path: ResolvedPath, value: Any, registry: SchemaRegistry, workspace: Workspace) -> None:
    attr = path.attribute
    if attr is None:
        _clear_extension(working, path.schema)
        return
    target = path.sub or attr
    if attr.is_read_only or target.is_read_only or (target.required and not (attr.multi_valued and path.sub is None)):
        raise MutabilityError(f"Can not remove a required attribute or a read-only attribute: {path.raw}")
    container = _container(working, attr, registry, create=False)
    if container is None or attr.name not in container:
        if path.filter is not None:
            raise NoTargetError(f"No value matched the filter in path: {path.raw}")
        return
    if path.filter is None and path.sub is None:
        if value is not None and attr.multi_valued:
            doomed = coerce(attr, value) or []
            container[attr.name] = [
                item for item in container[attr.name] if not any(_covers(attr, d, item) for d in doomed)
            ]
        else:
            container.pop(attr.name, None)
    elif path.filter is None and path.sub is not None:
        if attr.multi_valued:
            container[attr.name] = [_without(item, path.sub) for item in container[attr.name]]
        else:
            container[attr.name] = _without(container[attr.name], path.sub)
    else:
        _remove_filtered(container, path, workspace)
    _drop_empty(container, attr, workspace)
    if not container and container is not working:
        working.pop(attr.schema, None)


def _remove_filtered(container: MutableMapping[str, Any], path: ResolvedPath, workspace: Workspace) -> None:
    attr = path.attribute
    assert attr is not None and path.filter is not None
    if not isinstance(container[attr.name], list):
        # Odd stored data: iterate it as a list, as this engine always has (null raises TypeError).
        container[attr.name] = list(container[attr.name])
    values = workspace.values(container, attr)
    hits = values.matching(path.filter, _lookup(attr))
    if not hits:
        raise NoTargetError(f"No value matched the filter in path: {path.raw}")
    if path.sub is None:
        doomed = set(hits)
        container[attr.name] = [item for i, item in enumerate(values.items) if i not in doomed]
        return
    for position in hits:
        values.replace(position, _without(values.items[position], path.sub), path.sub.name)


def _covers(attr: Attribute, pattern: Any, item: Any) -> bool:
    """True when every sub-attribute given in ``pattern`` equals the one in ``item``.

    ``{"op": "remove", "path": "emails", "value": [{"value": "x"}]}`` removes the stored
    ``{"value": "x", "type": "home"}``: clients name a value by its ``value``, not by every key.
    """
    if not (isinstance(pattern, Mapping) and isinstance(item, Mapping)):
        return same_value(attr, item, pattern)
    keys = [k for k in pattern if k.lower() not in ("primary", "display")]
    if not keys:
        return False
    return all(fold(attr.sub(k), pattern[k]) == fold(attr.sub(k), item.get(k)) for k in keys)


def _without(item: Any, sub: Attribute) -> Any:
    if not isinstance(item, Mapping):
        return item
    return {k: v for k, v in item.items() if k != sub.name}


def _drop_empty(container: MutableMapping[str, Any], attr: Attribute, workspace: Workspace) -> None:
    current = container.get(attr.name)
    # A list the workspace tracks and knows holds no unassigned value needs no pass over it.
    if isinstance(current, list) and not workspace.known_compact(container, attr):
        current = [item for item in current if not is_unassigned(item)]
        container[attr.name] = current
    if is_unassigned(current) and attr.name in container:
        del container[attr.name]


def _clear_extension(working: Resource, schema: Schema) -> None:
    """Remove what the user may remove from an extension; readOnly values stay."""
    ext = working.get(schema.id)
    if not isinstance(ext, dict):
        return
    kept = {}
    for key, value in ext.items():
        attr = schema.attribute(key)
        if attr is not None and (attr.is_read_only or attr.required):
            kept[key] = value
    if kept:
        working[schema.id] = kept
    else:
        working.pop(schema.id, None)


def finish(original: Mapping[str, Any], result: Resource, registry: SchemaRegistry) -> None:
    """Whole-resource checks after all operations (immutability, required attributes)."""
    top_level = (registry.core.id, registry.common.id)
    for attr in registry.whole_resource_checks:
        source = original if attr.schema in top_level else original.get(attr.schema) or {}
        target = result if attr.schema in top_level else result.get(attr.schema) or {}
        before = source.get(attr.name)
        after = target.get(attr.name)
        locked = attr.mutability == "immutable" or attr.locked_after_set
        if locked and before is not None and after != before:
            raise MutabilityError(f"Attribute {attr.name} cannot be modified.")
        if attr.required and is_unassigned(after) and attr.schema == registry.core.id:
            raise InvalidValueError(f"Required attribute {attr.name} is missing.")
        if attr.is_complex and after is not None:
            _check_required_subs(attr, after)
    for key in list(result):
        if ":" in key and is_unassigned(result[key]):
            del result[key]


def _check_required_subs(attr: Attribute, value: Any) -> None:
    required = [sub for sub in attr.sub_attributes.values() if sub.required]
    if not required:
        return
    items = value if isinstance(value, list) else [value]
    for item in items:
        for sub in required:
            if not isinstance(item, Mapping) or is_unassigned(item.get(sub.name)):
                raise InvalidValueError(f"Required sub-attribute {attr.name}.{sub.name} is missing.")


def patch_operations(body: Mapping[str, Any]) -> Sequence[Any]:
    """Return a PatchOp message's ``Operations`` (case-sensitive, as WSO2)."""
    if "Operations" not in body:
        if "operations" in body:
            raise InvalidSyntaxError("Invalid JSON schema. The member is 'Operations'.")
        raise InvalidSyntaxError("The PatchOp message has no 'Operations'.")
    return body["Operations"]  # type: ignore[no-any-return]


__all__ = ["PATCH_OP_URN", "apply_patch", "finish", "fold", "normalize_primary", "patch_operations"]

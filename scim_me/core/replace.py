"""Whole-resource replacement for PUT (RFC 7644 §3.5.1) and creation for POST (§3.3).

PUT: attributes the client may write are taken from the body, and those it leaves out are
cleared; readOnly attributes keep their stored values whatever the body says (RFC 7644 §3.5.1:
"readOnly ... values provided SHALL be ignored"); immutable and locked attributes may not change.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from scim_me.core.patch import finish
from scim_me.core.schemas import Schema
from scim_me.core.schemas import SchemaRegistry
from scim_me.core.values import coerce
from scim_me.core.values import is_unassigned
from scim_me.errors import InvalidValueError

Resource = dict[str, Any]


def replace_resource(stored: Mapping[str, Any], body: object, registry: SchemaRegistry) -> Resource:
    """Return the resource a PUT of ``body`` produces over ``stored``."""
    if not isinstance(body, Mapping):
        raise InvalidValueError("The request body must be a JSON object (a User resource).")
    result: Resource = {}
    _fill(result, stored, _members(body, registry, registry.core), registry.core, registry)
    _fill(result, stored, _members(body, registry, registry.common), registry.common, registry)
    for ext in registry.extensions:
        raw = _extension_body(body, ext)
        if raw is not None and not isinstance(raw, Mapping):
            raise InvalidValueError(f"The value of {ext.id} must be a JSON object.")
        target: Resource = {}
        source = stored.get(ext.id) or {}
        _fill(target, source, _members(raw or {}, registry, ext), ext, registry)
        if target:
            result[ext.id] = target
    _check_required(result, registry)
    finish(stored, result, registry)
    return result


def _check_required(result: Mapping[str, Any], registry: SchemaRegistry) -> None:
    """A full replacement must carry every required core attribute (RFC 7644 §3.5.1).

    Checked before the mutability rules, so a PUT that leaves ``userName`` out is told the
    attribute is missing (``invalidValue``), not that it may not change (``mutability``).
    A blank string does not satisfy a required attribute either (no user named "").
    """
    for attr in registry.core.attributes.values():
        if not attr.required or attr.is_read_only:
            continue
        value = result.get(attr.name)
        if is_unassigned(value) or (isinstance(value, str) and not value.strip()):
            raise InvalidValueError(f"Required attribute {attr.name} is missing.")


def new_resource(body: object, registry: SchemaRegistry) -> Resource:
    """Return the resource a POST of ``body`` creates (readOnly values are ignored)."""
    return replace_resource({}, body, registry)


def _extension_body(body: Mapping[str, Any], ext: Schema) -> Any:
    for key, value in body.items():
        if isinstance(key, str) and key.lower() == ext.id.lower():
            return value
    return None


def _members(body: Mapping[str, Any], registry: SchemaRegistry, schema: Schema) -> dict[str, Any]:
    """Map the body's keys (any case) to this schema's canonical attribute names."""
    out: dict[str, Any] = {}
    for key, value in body.items():
        if not isinstance(key, str) or ":" in key:
            continue
        attr = schema.attribute(key)
        if attr is not None:
            out[attr.name] = value
    return out


def _fill(
    target: Resource,
    stored: Mapping[str, Any],
    given: Mapping[str, Any],
    schema: Schema,
    registry: SchemaRegistry,
) -> None:
    for attr in schema.attributes.values():
        if attr.is_read_only:
            if attr.name in stored and attr.name not in ("id", "meta"):
                target[attr.name] = stored[attr.name]
            continue
        if attr.name not in given:
            continue
        value = coerce(attr, given[attr.name])
        if value is not None:
            target[attr.name] = value

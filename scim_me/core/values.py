"""Check incoming values against attribute definitions and bring them to canonical form.

Canonical form: attribute keys spelled as in the schema, multi-valued attributes as lists,
complex values as dicts. WSO2's plain-string items (``"emails": ["kim@example.com"]``) become
``{"value": ...}``. In whole-object values readOnly sub-attributes are dropped silently
(WSO2 and RFC 7644 §3.5.2 both ignore them) and unknown keys are ignored, as WSO2 does.
"""

from __future__ import annotations

import copy
import math
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from scim_me.core.schemas import Attribute
from scim_me.errors import InvalidValueError

_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})?$")
MAX_STRING_LENGTH = 65536


_IMMUTABLE = (str, int, float, bool, type(None))


def copy_document(value: Any) -> Any:
    """A deep copy of a JSON document (dicts, lists, scalars), as ``copy.deepcopy`` would make,
    in a fifth of its time: it needs no memo, as a document decoded from JSON shares no
    containers. Anything else is handed to ``copy.deepcopy``."""
    kind = type(value)
    if kind is dict:
        return {key: copy_document(item) for key, item in value.items()}
    if kind is list:
        return [copy_document(item) for item in value]
    if kind in _IMMUTABLE:
        return value
    return copy.deepcopy(value)


def is_unassigned(value: Any) -> bool:
    """RFC 7643 §2.5: null, an empty list or an empty complex value is unassigned."""
    return value is None or value == [] or value == {}


def coerce(attr: Attribute, value: Any, *, drop_read_only: bool = True) -> Any:
    """Validate ``value`` for ``attr`` and return its canonical form (None when unassigned)."""
    if value is None:
        return None
    if attr.multi_valued:
        items = value if isinstance(value, list) else [value]
        out = [coerce_element(attr, item, drop_read_only=drop_read_only) for item in items]
        kept = [item for item in out if not is_unassigned(item)]
        return kept or None
    return coerce_element(attr, value, drop_read_only=drop_read_only)


def coerce_element(attr: Attribute, value: Any, *, drop_read_only: bool = True) -> Any:
    """Validate one value (one item of a multi-valued attribute, or a single value)."""
    if value is None:
        return None
    if attr.is_complex:
        if isinstance(value, str) and attr.sub("value") is not None:
            value = {"value": value}
        if not isinstance(value, Mapping):
            raise InvalidValueError(f"{_label(attr)} must be a complex (JSON object) value.")
        out: dict[str, Any] = {}
        for key, item in value.items():
            sub = attr.sub(key) if isinstance(key, str) else None
            if sub is None or (drop_read_only and sub.is_read_only):
                continue
            checked = coerce_element(sub, item, drop_read_only=drop_read_only)
            if checked is not None:
                out[sub.name] = checked
        return out or None
    return check_simple(attr, value)


def check_simple(attr: Attribute, value: Any) -> Any:
    """Check a simple (non-complex) value against its type and canonical values."""
    kind = attr.type
    if isinstance(value, (list, Mapping)):
        raise InvalidValueError(f"{_label(attr)} must be a single {kind} value.")
    if kind in ("string", "reference", "binary", "dateTime"):
        if not isinstance(value, str):
            raise InvalidValueError(f"{_label(attr)} must be a string.")
        if len(value) > MAX_STRING_LENGTH:
            raise InvalidValueError(f"{_label(attr)} is longer than {MAX_STRING_LENGTH} characters.")
        if kind == "dateTime" and not _is_datetime(value):
            raise InvalidValueError(f"{_label(attr)} must be an xsd:dateTime, e.g. 2024-05-01T10:34:29Z.")
        if attr.canonical_values and not _is_canonical(attr, value):
            allowed = ", ".join(attr.canonical_values)
            raise InvalidValueError(f"{_label(attr)} must be one of: {allowed}.")
        return value
    if kind == "boolean":
        if not isinstance(value, bool):
            raise InvalidValueError(f"{_label(attr)} must be a boolean.")
        return value
    if kind == "integer":
        if isinstance(value, bool) or not isinstance(value, int):
            raise InvalidValueError(f"{_label(attr)} must be an integer.")
        if abs(value) > 2**63 - 1:
            raise InvalidValueError(f"{_label(attr)} is out of range.")
        return value
    if kind == "decimal":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise InvalidValueError(f"{_label(attr)} must be a number.")
        if isinstance(value, float) and not math.isfinite(value):
            raise InvalidValueError(f"{_label(attr)} must be a finite number.")
        return value
    raise InvalidValueError(f"{_label(attr)} has an unsupported type {kind}.")


def _is_canonical(attr: Attribute, value: str) -> bool:
    if attr.case_exact:
        return value in attr.canonical_values
    folded = value.casefold()
    return any(folded == c.casefold() for c in attr.canonical_values)


def _is_datetime(value: str) -> bool:
    if not _DATETIME.match(value):
        return False
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


def _label(attr: Attribute) -> str:
    return f"{attr.parent}.{attr.name}" if attr.parent else attr.name


def fold(attr: Attribute | None, value: Any) -> Any:
    """Return a comparison key for a value, honouring ``caseExact`` (RFC 7643 §2.2)."""
    if isinstance(value, str):
        return value if attr is not None and attr.case_exact else value.casefold()
    if isinstance(value, Mapping) and attr is not None and attr.is_complex:
        return tuple(
            sorted(
                (k.lower(), fold(attr.sub(k), v)) for k, v in value.items() if k.lower() not in ("primary", "display")
            )
        )
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def same_value(attr: Attribute, left: Any, right: Any) -> bool:
    """Equality of two values of one multi-valued attribute, ignoring ``primary``/``display``."""
    return bool(fold(attr, left) == fold(attr, right))

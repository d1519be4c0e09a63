"""Bounds on what one user's profile may hold, so no request can grow a document that every later
request pays for (security.md T-FUZZ: one user with thousands of phone numbers and filtered
operations over them occupied every worker)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from scim_me.errors import InvalidValueError


def check_value_counts(profile: Mapping[str, Any], *, max_values: int) -> None:
    """Raise ``invalidValue`` when a multi-valued attribute, at the top level or inside a schema
    extension, holds more than ``max_values`` values."""
    for name, value in profile.items():
        _check_values(name, value, max_values)
        if isinstance(value, Mapping):
            for sub, inner in value.items():
                _check_values(f"{name}:{sub}", inner, max_values)


def check_stored_size(document: str, *, max_bytes: int) -> None:
    """Raise ``invalidValue`` when the stored JSON text exceeds ``max_bytes`` of UTF-8. Storage calls
    this with the text it is about to write, so the profile is serialised once."""
    if len(document) * 4 <= max_bytes:
        return  # no UTF-8 encoding of this many characters can be larger
    size = len(document.encode("utf-8", "surrogatepass"))
    if size > max_bytes:
        raise InvalidValueError(f"The profile would take {size} bytes; at most {max_bytes} are stored per user.")


def _check_values(name: str, value: Any, max_values: int) -> None:
    if isinstance(value, list) and len(value) > max_values:
        raise InvalidValueError(f"{name} has {len(value)} values; at most {max_values} are accepted.")

"""Bounds on what one user's profile may hold, so no request can grow a document that every later
request pays for (security.md T-FUZZ: one user with thousands of phone numbers and filtered
operations over them occupied every worker)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from scim_me.errors import InvalidValueError


def check_profile_bounds(profile: Mapping[str, Any], *, max_values: int, max_bytes: int) -> None:
    """Raise ``invalidValue`` when a multi-valued attribute (at the top level or inside a schema
    extension) holds more than ``max_values`` values, or the stored document would exceed
    ``max_bytes`` of compact UTF-8 JSON."""
    for name, value in profile.items():
        _check_values(name, value, max_values)
        if isinstance(value, Mapping):
            for sub, inner in value.items():
                _check_values(f"{name}:{sub}", inner, max_values)
    size = len(json.dumps(profile, separators=(",", ":"), ensure_ascii=False).encode("utf-8", "surrogatepass"))
    if size > max_bytes:
        raise InvalidValueError(f"The profile would take {size} bytes; at most {max_bytes} are stored per user.")


def _check_values(name: str, value: Any, max_values: int) -> None:
    if isinstance(value, list) and len(value) > max_values:
        raise InvalidValueError(f"{name} has {len(value)} values; at most {max_values} are accepted.")

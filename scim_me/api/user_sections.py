"""Per-feature sections of the views that describe a whole account.

The data export (``GET /api/identity/user/v1.0/me``) and the security overview
(``GET /api/users/v1/me/security``) each gather what every feature holds about the caller. A
feature registers a section here when its blueprint module is imported, so neither view imports
the features and a new feature adds its section without touching them.

A section is a function ``(tenant_id, user_id) -> JSON-able value``; it must never return a
secret (hashes, TOTP seeds, tokens).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Section = Callable[[int, str], Any]

_EXPORT: dict[str, Section] = {}
_OVERVIEW: dict[str, Section] = {}


def register_export_section(name: str, section: Section) -> None:
    """Add ``name`` to the data export. Registering the same name twice replaces it (app reloads)."""
    _EXPORT[name] = section


def register_overview_section(name: str, section: Section) -> None:
    """Add ``name`` to the security overview."""
    _OVERVIEW[name] = section


def export_sections() -> dict[str, Section]:
    return dict(sorted(_EXPORT.items()))


def overview_sections() -> dict[str, Section]:
    return dict(sorted(_OVERVIEW.items()))

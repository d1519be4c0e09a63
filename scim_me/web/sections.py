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
# Computed, read-only attributes of the user's SCIM view (e.g. ``urn:scim:wso2:schema``
# totpEnabled): ``(tenant, user_id) -> {schema URN: {attribute: value}}``, dialect-aware.
UserAttributes = Callable[[Any, str], dict[str, dict[str, Any]]]
_ATTRIBUTES: dict[str, UserAttributes] = {}


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


def register_user_attributes(name: str, provider: UserAttributes) -> None:
    """Add computed read-only attributes to ``/scim2/Me`` (values a feature holds outside the profile)."""
    _ATTRIBUTES[name] = provider


def user_attributes(tenant: Any, user_id: str) -> dict[str, dict[str, Any]]:
    """Every registered feature's computed attributes, merged per schema URN."""
    merged: dict[str, dict[str, Any]] = {}
    for _name, provider in sorted(_ATTRIBUTES.items()):
        for urn, values in provider(tenant, user_id).items():
            merged.setdefault(urn, {}).update(values)
    return merged

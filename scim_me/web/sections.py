"""Per-feature sections of the views that describe a whole account.

The data export (``GET /api/identity/user/v1.0/me``) and the security overview
(``GET /api/users/v1/me/security``) each gather what every feature holds about the caller. A
feature registers a section here when its blueprint module is imported, so neither view imports
the features and a new feature adds its section without touching them.

An export section is a function ``(tenant_id, user_id) -> JSON-able value``; an overview section
takes the :class:`Subject` instead: the caller's tenant, user row and facts as authentication
read them, so it reads again only what they do not hold. Neither may return a secret (hashes,
TOTP seeds, tokens).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from scim_me.storage.caller import UserFacts
from scim_me.storage.tenants import TenantRecord
from scim_me.storage.users import StoredUser


@dataclass(frozen=True)
class Subject:
    """The account a security overview describes, as the request's authentication read it."""

    tenant: TenantRecord
    user: StoredUser
    facts: UserFacts | None  # None when authentication did not read them (HTTP Basic)


Section = Callable[[int, str], Any]
OverviewSection = Callable[[Subject], Any]

_EXPORT: dict[str, Section] = {}
_OVERVIEW: dict[str, OverviewSection] = {}
# Computed, read-only attributes of the user's SCIM view (e.g. ``urn:scim:wso2:schema``
# totpEnabled): ``(tenant, user, facts) -> {schema URN: {attribute: value}}``, dialect-aware.
# They run on every GET and PATCH of /Me, so they compute from the user row and the facts read
# with it (storage/caller.py) and never query: tests/api/test_query_budget.py counts. They are
# pure functions of (tenant, user, facts): /Me bodies are cached per user version on that basis.
UserAttributes = Callable[[Any, StoredUser, UserFacts], dict[str, dict[str, Any]]]
_ATTRIBUTES: dict[str, UserAttributes] = {}


def register_export_section(name: str, section: Section) -> None:
    """Add ``name`` to the data export. Registering the same name twice replaces it (app reloads)."""
    _EXPORT[name] = section


def register_overview_section(name: str, section: OverviewSection) -> None:
    """Add ``name`` to the security overview."""
    _OVERVIEW[name] = section


def export_sections() -> dict[str, Section]:
    return dict(sorted(_EXPORT.items()))


def overview_sections() -> dict[str, OverviewSection]:
    return dict(sorted(_OVERVIEW.items()))


_PROVIDERS: list[UserAttributes] = []  # _ATTRIBUTES by name: they run for every user of a page


def register_user_attributes(name: str, provider: UserAttributes) -> None:
    """Add computed read-only attributes to ``/scim2/Me`` (values a feature holds outside the profile)."""
    _ATTRIBUTES[name] = provider
    _PROVIDERS[:] = [found for _name, found in sorted(_ATTRIBUTES.items())]


def user_attributes(tenant: Any, user: StoredUser, facts: UserFacts) -> dict[str, dict[str, Any]]:
    """Every registered feature's computed attributes, merged per schema URN."""
    merged: dict[str, dict[str, Any]] = {}
    for provider in _PROVIDERS:
        for urn, values in provider(tenant, user, facts).items():
            if urn in merged:
                merged[urn].update(values)
            else:
                merged[urn] = dict(values)
    return merged

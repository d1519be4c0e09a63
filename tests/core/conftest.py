"""Fixtures for the pure PATCH engine tests: the shipped schemas, a sample /Me user, a custom schema."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from scim_me.core.patch import apply_patch
from scim_me.core.schemas import ENTERPRISE_URN
from scim_me.core.schemas import WSO2_URN
from scim_me.core.schemas import SchemaRegistry
from scim_me.core.schemas import load_custom_schema
from scim_me.core.schemas import load_registry

SCHEMAS_DIR = Path(__file__).resolve().parents[2] / "schemas"

# A stored /Me user in canonical form (no id/meta/schemas, extension data under its URN).
BASE_USER: dict[str, Any] = {
    "userName": "kim",
    "name": {"givenName": "Kim", "familyName": "Jensen"},
    "displayName": "Kim Jensen",
    "emails": [
        {"value": "kim@work.example", "type": "work", "primary": True},
        {"value": "kim@home.example", "type": "home"},
    ],
    "phoneNumbers": [{"value": "+94 11 000 0000", "type": "mobile"}],
    "addresses": [
        {"type": "home", "locality": "Colombo", "country": "LK", "primary": True},
        {"type": "work", "locality": "Kandy", "country": "LK"},
    ],
    "roles": [{"value": "admin", "display": "Administrator"}],
    "groups": [{"value": "g-1", "display": "Staff"}],
    WSO2_URN: {"country": "LK", "accountLocked": False, "emailAddresses": ["kim@x.example"]},
    ENTERPRISE_URN: {
        "department": "R&D",
        "manager": {"value": "m-1", "displayName": "Boss"},
    },
}

# A tenant's custom attributes: caseExact values, typed sub-attributes and an immutable attribute.
CUSTOM_ATTRIBUTES: list[dict[str, Any]] = [
    {"name": "badges", "type": "string", "multiValued": True, "caseExact": True, "mutability": "readWrite"},
    {"name": "badgeId", "type": "string", "multiValued": False, "mutability": "immutable"},
    {"name": "shirtSize", "type": "string", "canonicalValues": ["S", "M", "L"]},
    {"name": "seniority", "type": "integer"},
    {
        "name": "keys",
        "type": "complex",
        "multiValued": True,
        "subAttributes": [
            {"name": "value", "type": "string", "caseExact": True},
            {"name": "label", "type": "string", "caseExact": False},
            {"name": "size", "type": "integer"},
            {"name": "issued", "type": "dateTime"},
            {"name": "primary", "type": "boolean"},
        ],
    },
]

Patcher = Callable[..., dict[str, Any]]


@pytest.fixture(scope="session")
def registry() -> SchemaRegistry:
    return load_registry(SCHEMAS_DIR)


@pytest.fixture(scope="session")
def custom_registry(registry: SchemaRegistry, tmp_path_factory: pytest.TempPathFactory) -> SchemaRegistry:
    path = tmp_path_factory.mktemp("custom") / "tenant.json"
    path.write_text(json.dumps({"attributes": CUSTOM_ATTRIBUTES}), encoding="utf-8")
    return registry.with_custom(load_custom_schema(path))


@pytest.fixture
def user() -> dict[str, Any]:
    return copy.deepcopy(BASE_USER)


@pytest.fixture
def patch(registry: SchemaRegistry, user: dict[str, Any]) -> Patcher:
    """``patch(*operations, resource=user, registry=registry)`` applies a PatchOp's operations."""

    def run(
        *operations: Any, resource: dict[str, Any] | None = None, registry: SchemaRegistry = registry
    ) -> dict[str, Any]:
        return apply_patch(user if resource is None else resource, list(operations), registry)

    return run


@pytest.fixture
def custom_patch(custom_registry: SchemaRegistry, user: dict[str, Any]) -> Patcher:
    """Like ``patch`` but with the tenant's custom extension loaded."""

    def run(*operations: Any, resource: dict[str, Any] | None = None) -> dict[str, Any]:
        return apply_patch(user if resource is None else resource, list(operations), custom_registry)

    return run

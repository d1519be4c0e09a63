"""SCIM schemas loaded from the JSON files in ``schemas/`` (RFC 7643 §7 representation).

The files drive every rule the PATCH engine, PUT and projection enforce: type, multiValued,
required, mutability, returned, caseExact, uniqueness and canonicalValues. ``self-service.json``
narrows mutability for the end user (/Me is a self-service surface: a user may not grant
themselves roles or flip their own account-state flags) and names the attributes the user may
set once but never change (``userName``, as WSO2 does).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
from functools import cached_property
from importlib.resources.abc import Traversable
from typing import Any

CORE_COMMON_URN = "urn:ietf:params:scim:schemas:core:2.0"
USER_URN = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE_URN = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
WSO2_URN = "urn:scim:wso2:schema"
CUSTOM_URN = "urn:scim:schemas:extension:custom:User"

_BASE_FILES = ("core-common.json", "core-user.json", "enterprise-user.json", "wso2-user.json")
_TYPES = {"string", "boolean", "decimal", "integer", "dateTime", "reference", "complex", "binary"}
_MUTABILITY = {"readOnly", "readWrite", "immutable", "writeOnly"}
_RETURNED = {"always", "never", "default", "request"}
_UNIQUENESS = {"none", "server", "global"}


class SchemaFileError(ValueError):
    """A schema file is missing, unreadable or not a valid RFC 7643 §7 schema."""


@dataclass(frozen=True)
class Attribute:
    """One attribute or sub-attribute definition (RFC 7643 §2.2, §7)."""

    name: str
    type: str
    schema: str
    multi_valued: bool = False
    required: bool = False
    case_exact: bool = False
    mutability: str = "readWrite"
    returned: str = "default"
    uniqueness: str = "none"
    canonical_values: tuple[str, ...] = ()
    reference_types: tuple[str, ...] = ()
    description: str = ""
    parent: str | None = None
    sub_attributes: Mapping[str, Attribute] = field(default_factory=dict)
    locked_after_set: bool = False

    @property
    def is_complex(self) -> bool:
        return self.type == "complex"

    @property
    def is_read_only(self) -> bool:
        return self.mutability == "readOnly"

    @property
    def qualified_name(self) -> str:
        """The fully qualified path, e.g. ``urn:...:User:name.givenName``."""
        dotted = f"{self.parent}.{self.name}" if self.parent else self.name
        return f"{self.schema}:{dotted}"

    def sub(self, name: str) -> Attribute | None:
        """Find a sub-attribute by name, case-insensitively (RFC 7643 §2.1)."""
        return self.sub_attributes.get(name.lower())

    def to_dict(self) -> dict[str, Any]:
        """Render the RFC 7643 §7 attribute representation."""
        out: dict[str, Any] = {
            "name": self.name,
            "type": self.type,
            "multiValued": self.multi_valued,
            "description": self.description,
            "required": self.required,
            "caseExact": self.case_exact,
            "mutability": self.mutability,
            "returned": self.returned,
            "uniqueness": self.uniqueness,
        }
        if self.canonical_values:
            out["canonicalValues"] = list(self.canonical_values)
        if self.reference_types:
            out["referenceTypes"] = list(self.reference_types)
        if self.sub_attributes:
            out["subAttributes"] = [s.to_dict() for s in self.sub_attributes.values()]
        return out


@dataclass(frozen=True)
class Schema:
    """A schema: its URN, names and top-level attributes keyed by lower-cased name."""

    id: str
    name: str
    description: str
    attributes: Mapping[str, Attribute]

    def attribute(self, name: str) -> Attribute | None:
        return self.attributes.get(name.lower())

    def to_dict(self) -> dict[str, Any]:
        return {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Schema"],
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "attributes": [a.to_dict() for a in self.attributes.values()],
        }


@dataclass(frozen=True)
class SchemaRegistry:
    """The User resource type: core schema (with the common attributes) and its extensions."""

    common: Schema
    core: Schema
    extensions: tuple[Schema, ...]

    def schema(self, urn: str) -> Schema | None:
        """Find a schema by URN, case-insensitively."""
        key = urn.lower()
        for candidate in (self.core, self.common, *self.extensions):
            if candidate.id.lower() == key:
                return candidate
        return None

    def extension(self, urn: str) -> Schema | None:
        key = urn.lower()
        for ext in self.extensions:
            if ext.id.lower() == key:
                return ext
        return None

    def core_attribute(self, name: str) -> Attribute | None:
        """Find a top-level attribute of the core User or the common schema."""
        return self.core.attribute(name) or self.common.attribute(name)

    def split_urn(self, path: str, *, dotted: bool = False) -> tuple[Schema | None, str]:
        """Split ``urn:...:attr.sub`` into the longest matching schema and the rest.

        ``dotted`` also accepts a dot after the URN (``urn:scim:wso2:schema.isReadOnlyUser``), the
        form WSO2 My Account sends in ``attributes``. Returns ``(None, path)`` when the path
        carries no known schema URN.
        """
        lowered = path.lower()
        separators = (":", ".") if dotted else (":",)
        best: Schema | None = None
        for candidate in (self.core, self.common, *self.extensions):
            urn = candidate.id.lower()
            matched = lowered == urn or any(lowered.startswith(urn + sep) for sep in separators)
            if matched and (best is None or len(candidate.id) > len(best.id)):
                best = candidate
        if best is None:
            return None, path
        return best, path[len(best.id) + 1 :]

    def user_schema_ids(self) -> list[str]:
        return [self.core.id, *(e.id for e in self.extensions)]

    def all_schemas(self) -> Iterator[Schema]:
        yield self.common
        yield self.core
        yield from self.extensions

    @cached_property
    def whole_resource_checks(self) -> tuple[Attribute, ...]:
        """Attributes a finished PATCH/PUT result must be checked against: immutable or locked
        ones, required ones, and complex ones with required sub-attributes."""
        return tuple(
            attr
            for schema in self.all_schemas()
            for attr in schema.attributes.values()
            if attr.mutability == "immutable"
            or attr.locked_after_set
            or attr.required
            or any(sub.required for sub in attr.sub_attributes.values())
        )

    def with_custom(self, custom: Schema | None) -> SchemaRegistry:
        """Return a registry that also carries a tenant's custom extension schema."""
        if custom is None or not custom.attributes:
            return self
        return SchemaRegistry(self.common, self.core, (*self.extensions, custom))


def _parse_attribute(raw: Mapping[str, Any], schema: str, parent: str | None, where: str) -> Attribute:
    try:
        name = raw["name"]
        kind = raw["type"]
    except (KeyError, TypeError) as exc:
        raise SchemaFileError(f"{where}: attribute without name/type: {raw!r}") from exc
    if not isinstance(name, str) or kind not in _TYPES:
        raise SchemaFileError(f"{where}: attribute {name!r} has an unknown type {kind!r}")
    mutability = raw.get("mutability", "readWrite")
    returned = raw.get("returned", "default")
    uniqueness = raw.get("uniqueness", "none")
    if mutability not in _MUTABILITY or returned not in _RETURNED or uniqueness not in _UNIQUENESS:
        raise SchemaFileError(f"{where}: attribute {name!r} has an illegal characteristic")
    subs: dict[str, Attribute] = {}
    if kind == "complex":
        if parent is not None:
            raise SchemaFileError(f"{where}: complex sub-attribute {name!r} (RFC 7643 §2.3.8)")
        if not isinstance(raw.get("subAttributes", []), list):
            raise SchemaFileError(f"{where}: attribute {name!r} has subAttributes that are not a list")
        for sub in raw.get("subAttributes", []):
            parsed = _parse_attribute(sub, schema, name, where)
            subs[parsed.name.lower()] = parsed
    return Attribute(
        name=name,
        type=kind,
        schema=schema,
        multi_valued=_flag(raw, "multiValued", name, where),
        required=_flag(raw, "required", name, where),
        case_exact=_flag(raw, "caseExact", name, where),
        mutability=mutability,
        returned=returned,
        uniqueness=uniqueness,
        canonical_values=_strings(raw, "canonicalValues", name, where),
        reference_types=_strings(raw, "referenceTypes", name, where),
        description=str(raw.get("description", "")),
        parent=parent,
        sub_attributes=subs,
    )


def _flag(raw: Mapping[str, Any], key: str, name: str, where: str) -> bool:
    # bool("false") is True: a quoted flag would silently flip the characteristic.
    value = raw.get(key, False)
    if not isinstance(value, bool):
        raise SchemaFileError(f"{where}: attribute {name!r}: {key} must be true or false, not {value!r}")
    return value


def _strings(raw: Mapping[str, Any], key: str, name: str, where: str) -> tuple[str, ...]:
    value = raw.get(key) or []
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise SchemaFileError(f"{where}: attribute {name!r}: {key} must be a list of strings")
    return tuple(value)


def parse_schema(raw: Mapping[str, Any], where: str, *, default_id: str | None = None) -> Schema:
    """Build a :class:`Schema` from its RFC 7643 §7 JSON representation."""
    if not isinstance(raw, Mapping):
        raise SchemaFileError(f"{where}: a schema needs an 'id' and an 'attributes' list")
    schema_id = raw.get("id", default_id)
    if not isinstance(schema_id, str) or not isinstance(raw.get("attributes"), list):
        raise SchemaFileError(f"{where}: a schema needs an 'id' and an 'attributes' list")
    attrs: dict[str, Attribute] = {}
    for item in raw["attributes"]:
        parsed = _parse_attribute(item, schema_id, None, where)
        if parsed.name.lower() in attrs:
            raise SchemaFileError(f"{where}: attribute {parsed.name!r} defined twice")
        attrs[parsed.name.lower()] = parsed
    return Schema(
        id=schema_id,
        name=str(raw.get("name", schema_id)),
        description=str(raw.get("description", "")),
        attributes=attrs,
    )


def _read_json(path: Traversable) -> Any:
    return _decode(_read_text(path), str(path))


def _override(schema: Schema, paths: Mapping[str, str]) -> Schema:
    """Apply self-service overrides (``readOnly`` or ``lock``) to the named attributes."""
    attrs: dict[str, Attribute] = {}
    for key, attr in schema.attributes.items():
        how = paths.get(attr.qualified_name.lower())
        # A listed attribute covers its sub-attributes too.
        subs = {
            sk: _override_one(sub, paths.get(sub.qualified_name.lower()) or how)
            for sk, sub in attr.sub_attributes.items()
        }
        attr = _override_one(attr, how)
        attrs[key] = _replace(attr, sub_attributes=subs)
    return Schema(schema.id, schema.name, schema.description, attrs)


def _override_one(attr: Attribute, how: str | None) -> Attribute:
    if how == "readOnly":
        return _replace(attr, mutability="readOnly")
    if how == "lock":
        return _replace(attr, locked_after_set=True)
    if how == "readWrite":
        return _replace(attr, mutability="readWrite")
    return attr


def _replace(attr: Attribute, **changes: Any) -> Attribute:
    from dataclasses import replace

    return replace(attr, **changes)


def load_registry(schemas_dir: Traversable, *, admin: bool = False) -> SchemaRegistry:
    """Load the base User schemas and the self-service overrides from ``schemas_dir`` (a folder, or
    the package resources ``importlib.resources.files`` returns).

    With ``admin``, the registry an administrator writes through ``/scim2/Users``: the
    ``readOnlyForSelf`` attributes keep the schema's mutability, the ``writableByAdmin`` ones of
    ``admin.json`` (WSO2's account-state flags) become readWrite, and ``lockedAfterSet`` holds
    for everyone (renaming a user is not supported).

    The files are read every time; what they give is built once a process for the same texts
    (the registry is immutable): every app and CLI command builds two of them."""
    names = (*_BASE_FILES, "self-service.json", "admin.json")
    texts = tuple(_read_text(schemas_dir / name) for name in names)
    return _build_registry(str(schemas_dir), texts, admin)


@functools.lru_cache(maxsize=16)
def _build_registry(where: str, texts: tuple[str | None, ...], admin: bool) -> SchemaRegistry:
    *base, self_service, admin_policy = texts
    parsed = [
        parse_schema(_decode(text, f"{where}/{name}"), name) for name, text in zip(_BASE_FILES, base, strict=True)
    ]
    overrides: dict[str, str] = {}
    policy = _policy(self_service, f"{where}/self-service.json")
    if not admin:
        for path in policy.get("readOnlyForSelf", []):
            overrides[str(path).lower()] = "readOnly"
    else:
        for path in _policy(admin_policy, f"{where}/admin.json").get("writableByAdmin", []):
            overrides[str(path).lower()] = "readWrite"
    for path in policy.get("lockedAfterSet", []):
        overrides[str(path).lower()] = "lock"
    common, core, enterprise, wso2 = (_override(s, overrides) for s in parsed)
    return SchemaRegistry(common=common, core=core, extensions=(enterprise, wso2))


def _read_text(path: Traversable) -> str | None:
    """The file's text; None when there is no such file (the policies are optional)."""
    if not path.is_file():
        return None
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SchemaFileError(f"{path}: {exc}") from exc


def _decode(text: str | None, where: str) -> Any:
    if text is None:
        raise SchemaFileError(f"{where}: no such file")
    try:
        return json.loads(text)
    except ValueError as exc:
        raise SchemaFileError(f"{where}: {exc}") from exc


def _policy(text: str | None, where: str) -> dict[str, Any]:
    if text is None:
        return {}
    policy = _decode(text, where)
    if not isinstance(policy, dict):
        raise SchemaFileError(f"{where}: expected a JSON object")
    return policy


GROUP_URN = "urn:ietf:params:scim:schemas:core:2.0:Group"


def load_group_registry(schemas_dir: Traversable) -> SchemaRegistry:
    """The Group resource type (RFC 7643 §4.2): the common attributes and ``core-group.json``,
    no extensions; the PATCH engine and the projection read it like the User one."""
    common = parse_schema(_read_json(schemas_dir / "core-common.json"), "core-common.json")
    group = parse_schema(_read_json(schemas_dir / "core-group.json"), "core-group.json")
    return SchemaRegistry(common=common, core=group, extensions=())


def load_custom_schema(path: Traversable) -> Schema:
    """Load a tenant's custom attributes (``{"attributes": [...]}``) as the custom extension."""
    raw = _read_json(path)
    if not isinstance(raw, dict):
        raise SchemaFileError(f"{path}: expected a JSON object")
    body = {
        "id": CUSTOM_URN,
        "name": "CustomUser",
        "description": "Custom User",
        "attributes": raw.get("attributes"),
    }
    return parse_schema(body, str(path))

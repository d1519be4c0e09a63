"""PATCH ``path`` parsing and resolution against the schemas (RFC 7644 §3.5.2, Figure 7).

    PATH = attrPath / valuePath [subAttr]

Forms accepted: ``attr``, ``attr.sub``, URN-qualified ``urn:...:attr[.sub]``, a bare extension
URN (the whole extension object), and ``attr[filter][.sub]``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from scim_me.core.filters import Node
from scim_me.core.filters import check_filter
from scim_me.core.filters import parse_filter
from scim_me.core.schemas import Attribute
from scim_me.core.schemas import Schema
from scim_me.core.schemas import SchemaRegistry
from scim_me.errors import InvalidPathError
from scim_me.errors import NoTargetError

MAX_PATH_LENGTH = 2048
_NAME = re.compile(r"^[A-Za-z$][A-Za-z0-9_$-]*$")


@dataclass(frozen=True)
class ResolvedPath:
    """A path bound to schema definitions.

    ``attribute`` is None for a bare extension URN. ``filter`` selects values of a multi-valued
    attribute; ``sub`` names a sub-attribute of a complex attribute.
    """

    raw: str
    schema: Schema
    attribute: Attribute | None
    filter: Node | None = None
    sub: Attribute | None = None

    @property
    def display(self) -> str:
        return self.raw


def _split_filter(raw: str) -> tuple[str, str | None, str]:
    """Split ``head[filter]tail``, honouring quoted strings inside the filter."""
    start = raw.find("[")
    if start < 0:
        if "]" in raw:
            raise InvalidPathError(f"Path value is not a valid syntax: {raw}")
        return raw, None, ""
    depth = 0
    in_string = False
    escaped = False
    for index in range(start, len(raw)):
        char = raw[index]
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
            continue
        if char == '"':
            in_string = True
        elif char == "[":
            depth += 1
        elif char == "]":
            depth -= 1
            if depth == 0:
                return raw[:start], raw[start + 1 : index], raw[index + 1 :]
    raise InvalidPathError(f"Path value is not a valid syntax (unclosed '['): {raw}")


def _check_name(name: str, raw: str) -> None:
    if not _NAME.match(name):
        raise InvalidPathError(f"Path value is not a valid syntax: {raw}")


def parse_path(raw: object, registry: SchemaRegistry) -> ResolvedPath:
    """Parse and resolve a PATCH path; raise ``invalidPath``/``invalidFilter``/``noTarget``."""
    if not isinstance(raw, str):
        raise InvalidPathError("The path must be a string.")
    if not raw.strip():
        raise NoTargetError("Path is empty.")
    if len(raw) > MAX_PATH_LENGTH:
        raise InvalidPathError(f"The path is longer than {MAX_PATH_LENGTH} characters.")
    path = raw.strip()
    head, filter_text, tail = _split_filter(path)
    schema, rest = registry.split_urn(head)
    if schema is None:
        if ":" in head:
            raise InvalidPathError(f"No such attribute with the name : {head} in the current resource")
        rest = head
    if not rest:
        # ``len(head)`` catches a trailing colon: ``urn:scim:wso2:schema:`` names no attribute.
        if schema is None or filter_text is not None or tail or len(head) != len(schema.id):
            raise InvalidPathError(f"Path value is not a valid syntax: {raw}")
        if registry.extension(schema.id) is None:
            raise InvalidPathError(f"The path must name an attribute of {schema.id}: {raw}")
        return ResolvedPath(raw, schema, None)
    parts = rest.split(".")
    if len(parts) > 2 or (filter_text is not None and len(parts) > 1):
        raise InvalidPathError(f"Path value is not a valid syntax: {raw}")
    for part in parts:
        _check_name(part, raw)
    if schema is None:
        attribute = registry.core_attribute(parts[0])
        owner = registry.core if attribute is None or attribute.schema == registry.core.id else registry.common
    else:
        attribute = schema.attribute(parts[0])
        owner = schema
    if attribute is None:
        raise InvalidPathError(f"No such attribute with the name : {parts[0]} in the current resource")
    sub: Attribute | None = None
    sub_name = parts[1] if len(parts) == 2 else None
    if tail:
        if not tail.startswith("."):
            raise InvalidPathError(f"Path value is not a valid syntax: {raw}")
        sub_name = tail[1:]
        _check_name(sub_name, raw)
    if sub_name is not None:
        if not attribute.is_complex:
            raise InvalidPathError(f"{attribute.name} has no sub-attribute {sub_name}")
        sub = attribute.sub(sub_name)
        if sub is None:
            raise InvalidPathError(
                f"No such attribute with the name : {attribute.name}.{sub_name} in the current resource"
            )
    node: Node | None = None
    if filter_text is not None:
        if not attribute.multi_valued:
            raise InvalidPathError(f"A value filter needs a multi-valued attribute: {raw}")
        node = parse_filter(filter_text)
        check_filter(node, lambda name: filter_lookup(attribute, name))
    return ResolvedPath(raw, owner, attribute, node, sub)


def filter_lookup(attribute: Attribute, name: str) -> Attribute | None:
    """Resolve a name used inside ``attr[...]``: a sub-attribute, or ``value`` of a primitive."""
    if attribute.is_complex:
        return attribute.sub(name)
    if name.lower() == "value":
        return attribute
    return None

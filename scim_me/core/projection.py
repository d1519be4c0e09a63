"""Response shaping: ``attributes`` / ``excludedAttributes`` (RFC 7644 §3.9), the ``returned``
characteristic (RFC 7643 §2.2) and the WSO2 dialect's shapes.

Rules:
- ``returned: never`` (password) is never sent; ``always`` (id) is always sent.
- ``returned: request`` is sent only when named in ``attributes``.
- With ``attributes`` only the named attributes (and ``always`` ones) are sent; naming a complex
  attribute sends all its sub-attributes, naming a sub-attribute sends just that one.
- ``excludedAttributes`` removes named ``default`` attributes; ``always`` ones cannot be removed.
- ``schemas`` and ``meta`` are structural and always kept.
"""

from __future__ import annotations

from collections.abc import Iterable
from collections.abc import Mapping
from typing import Any

from scim_me.core.schemas import Attribute
from scim_me.core.schemas import SchemaRegistry

Selector = tuple[str, str | None]  # (qualified attribute name lower-case, sub-attribute or None)


def parse_attribute_list(raw: str | None, registry: SchemaRegistry) -> set[Selector]:
    """Parse a comma-separated ``attributes`` / ``excludedAttributes`` parameter; unknown names are
    ignored (RFC 7644 §3.9). A schema URN may be followed by ``:`` (RFC 7644 §3.10) or by ``.``
    (``urn:scim:wso2:schema.isReadOnlyUser``: WSO2 My Account's form, which WSO2 accepts)."""
    selectors: set[Selector] = set()
    if not raw:
        return selectors
    for part in raw.split(","):
        name = part.strip()
        if not name:
            continue
        schema, rest = registry.split_urn(name, dotted=True)
        if schema is not None and not rest:
            selectors.add((schema.id.lower(), None))
            continue
        dotted = rest if schema is not None else name
        head, _, sub = dotted.partition(".")
        attr = registry.core_attribute(head) if schema is None else schema.attribute(head)
        if attr is None:
            continue
        selectors.add((attr.qualified_name.lower(), sub.lower() or None))
    return selectors


def project(
    resource: Mapping[str, Any],
    registry: SchemaRegistry,
    *,
    attributes: set[Selector] | None = None,
    excluded: set[Selector] | None = None,
) -> dict[str, Any]:
    """Return the representation of ``resource`` honouring ``returned`` and the selectors.

    Members come out in schema order, whatever the stored order: ``schemas``, the common
    attributes (``id``, ``externalId``), the core User attributes as the schema file lists them,
    each extension in registry order (its attributes in schema order), and ``meta`` last.
    Sub-attributes of complex values follow their schema order too.
    """
    attributes = attributes or set()
    excluded = excluded or set()
    members = _by_lower_name(resource)
    out: dict[str, Any] = {}
    if "schemas" in members:
        out["schemas"] = members["schemas"]
    for schema in (registry.common, registry.core):
        for key, attr in schema.attributes.items():  # keyed by lower-cased name
            if key == "meta" or key not in members:
                continue
            shaped = _shape(attr, members[key], attributes, excluded, whole_selected=False)
            if shaped is not _SKIP:
                out[attr.name] = shaped
    for ext in registry.extensions:
        value = members.get(ext.id.lower())
        if not isinstance(value, Mapping):
            continue
        whole = (ext.id.lower(), None)
        if whole in excluded:
            continue
        inner_members = _by_lower_name(value)
        inner: dict[str, Any] = {}
        for key, attr in ext.attributes.items():
            if key not in inner_members:
                continue
            shaped = _shape(attr, inner_members[key], attributes, excluded, whole_selected=whole in attributes)
            if shaped is not _SKIP:
                inner[attr.name] = shaped
        if inner:
            out[ext.id] = inner
    if "meta" in members:
        out["meta"] = members["meta"]
    return out


def _by_lower_name(document: Mapping[str, Any]) -> dict[str, Any]:
    """Index a JSON object by lower-cased member name (attribute names are case-insensitive)."""
    found: dict[str, Any] = {}
    for key, value in document.items():
        if isinstance(key, str):
            found.setdefault(key.lower(), value)
    return found


_SKIP = object()
_NOTHING: frozenset[str] = frozenset()


def _shape(
    attr: Attribute,
    value: Any,
    attributes: set[Selector],
    excluded: set[Selector],
    *,
    whole_selected: bool,
) -> Any:
    if attr.returned == "never":
        return _SKIP
    if attr.returned == "always":
        return value
    if not attributes and not excluded:  # the usual request: what the rules below give then
        if attr.returned == "request":
            return _SKIP
        return _shape_complex(attr, value, None, _NOTHING) if attr.is_complex else value
    key = attr.qualified_name.lower()
    named = (key, None) in attributes or whole_selected
    subs_named = {sub for (name, sub) in attributes if name == key and sub}
    if attr.returned == "request" and not (named or subs_named):
        return _SKIP
    if attributes and not (named or subs_named):
        return _SKIP
    if (key, None) in excluded:
        return _SKIP
    subs_excluded = {sub for (name, sub) in excluded if name == key and sub}
    if not attr.is_complex:
        return value
    keep = None if named or not subs_named else subs_named
    return _shape_complex(attr, value, keep, subs_excluded)


def _shape_complex(attr: Attribute, value: Any, keep: set[str] | None, drop: set[str] | frozenset[str]) -> Any:
    def one(item: Any) -> Any:
        if not isinstance(item, Mapping):
            return item
        given = _by_lower_name(item)
        result = {}
        for lowered, sub in attr.sub_attributes.items():
            if lowered not in given or sub.returned == "never":
                continue
            if sub.returned != "always" and ((keep is not None and lowered not in keep) or lowered in drop):
                continue
            result[sub.name] = given[lowered]
        return result

    if isinstance(value, list):
        shaped = [one(item) for item in value]
        shaped = [item for item in shaped if item not in ({}, None)]
        return shaped if shaped else _SKIP
    shaped_one = one(value)
    return shaped_one if shaped_one else _SKIP


def render_wso2_emails(resource: dict[str, Any]) -> dict[str, Any]:
    """WSO2 dialect: untyped e-mail values go out as plain strings (wso2-api.md §1.5)."""
    emails = resource.get("emails")
    if not isinstance(emails, list):
        return resource
    rendered: list[Any] = []
    for item in emails:
        if isinstance(item, Mapping) and "type" not in item and "value" in item:
            rendered.append(item["value"])
        else:
            rendered.append(item)
    return {**resource, "emails": rendered}


def upper_enums(attribute: Mapping[str, Any]) -> dict[str, Any]:
    """WSO2 dialect: /Schemas enum values in Java upper case (``READ_WRITE``, ``DATE_TIME``)."""
    out = dict(attribute)
    for key in ("type", "mutability", "returned", "uniqueness"):
        if isinstance(out.get(key), str):
            out[key] = _java_case(out[key])
    if "subAttributes" in out:
        out["subAttributes"] = [upper_enums(sub) for sub in out["subAttributes"]]
    return out


def _java_case(value: str) -> str:
    chars: list[str] = []
    for char in value:
        if char.isupper():
            chars.append("_")
        chars.append(char.upper())
    return "".join(chars)


def selected_names(selectors: Iterable[Selector]) -> list[str]:
    return sorted(name if sub is None else f"{name}.{sub}" for name, sub in selectors)

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
    if not attributes and not excluded:
        return _project_default(resource, registry)
    return _project_selected(resource, registry, attributes or set(), excluded or set())


def _project_selected(
    resource: Mapping[str, Any], registry: SchemaRegistry, attributes: set[Selector], excluded: set[Selector]
) -> dict[str, Any]:
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


# What a request without ``attributes`` / ``excludedAttributes`` shows, per registry: the
# attributes in schema order with what ``returned`` lets through, decided once rather than for
# every user of a list page. Entries: (lower-cased name, name, the shown sub-attributes of a
# complex attribute as (lower-cased, name) pairs, or None to show the value as it is).
_Plan = tuple[tuple[str, str, tuple[tuple[str, str], ...] | None], ...]
_PLANS: dict[int, tuple[SchemaRegistry, _Plan, tuple[tuple[str, str, _Plan], ...]]] = {}


def _plan_of(attributes: Mapping[str, Attribute], skip_meta: bool) -> _Plan:
    entries = []
    for key, attr in attributes.items():
        if (skip_meta and key == "meta") or attr.returned in ("never", "request"):
            continue
        subs = None
        if attr.is_complex and attr.returned != "always":
            subs = tuple((lowered, sub.name) for lowered, sub in attr.sub_attributes.items() if sub.returned != "never")
        entries.append((key, attr.name, subs))
    return tuple(entries)


def _default_plan(registry: SchemaRegistry) -> tuple[_Plan, tuple[tuple[str, str, _Plan], ...]]:
    found = _PLANS.get(id(registry))
    if found is not None and found[0] is registry:
        return found[1], found[2]
    core = _plan_of(registry.common.attributes, True) + _plan_of(registry.core.attributes, True)
    extensions = tuple((ext.id.lower(), ext.id, _plan_of(ext.attributes, False)) for ext in registry.extensions)
    if len(_PLANS) > 256:  # registries live as long as their tenant's settings: a bound, not an LRU
        _PLANS.clear()
    _PLANS[id(registry)] = (registry, core, extensions)  # the registry is held: its id stays its own
    return core, extensions


def _project_default(resource: Mapping[str, Any], registry: SchemaRegistry) -> dict[str, Any]:
    """``_project_selected`` without selectors (tests/core/test_projection.py compares them)."""
    core, extensions = _default_plan(registry)
    names = _spellings(resource)
    out: dict[str, Any] = {}
    if "schemas" in names:
        out["schemas"] = resource[names["schemas"]]
    _apply_plan(core, resource, out)
    for lowered, urn, plan in extensions:
        value = resource[names[lowered]] if lowered in names else None
        if type(value) is dict or isinstance(value, Mapping):
            inner: dict[str, Any] = {}
            _apply_plan(plan, value, inner)
            if inner:
                out[urn] = inner
    if "meta" in names:
        out["meta"] = resource[names["meta"]]
    return out


# What a plan takes from a document with given member names (a page's users share a few):
# (plan, member names) → the plan's entries for the members present, as (member, name, subs).
# Keyed by the plan's id; the plan is held in the value, so its id stays its own. Bounded.
_Present = tuple[tuple[str, str, tuple[tuple[str, str], ...] | None], ...]
_PRESENT: dict[tuple[int, tuple[Any, ...]], tuple[_Plan, _Present]] = {}


def _present(plan: _Plan, document: Mapping[str, Any]) -> _Present:
    keys = tuple(document)
    found = _PRESENT.get((id(plan), keys))
    if found is None:
        names = _spellings(document)
        found = (plan, tuple((names[key], name, subs) for key, name, subs in plan if key in names))
        if len(_PRESENT) >= 4096:
            _PRESENT.clear()
        _PRESENT[(id(plan), keys)] = found
    return found[1]


def _apply_plan(plan: _Plan, document: Mapping[str, Any], out: dict[str, Any]) -> None:
    for member, name, subs in _present(plan, document):
        value = document[member]
        if subs is None:
            out[name] = value
            continue
        if isinstance(value, list):
            shaped = [_pick(item, subs) for item in value]
            shaped = [item for item in shaped if item not in ({}, None)]
            if shaped:
                out[name] = shaped
        else:
            one = _pick(value, subs)
            if one:
                out[name] = one


# What ``_pick`` takes from a complex value with given member names: (subs, member names) →
# (subs, (member, name) pairs, whether that is the value itself: every member shown, under its
# own name, in schema order). Keyed and bounded as _PRESENT.
_PICKS: dict[tuple[int, tuple[Any, ...]], tuple[tuple[tuple[str, str], ...], tuple[tuple[str, str], ...], bool]] = {}


def _pick(item: Any, subs: tuple[tuple[str, str], ...]) -> Any:
    if type(item) is not dict and not isinstance(item, Mapping):  # the ABC check costs more
        return item
    keys = tuple(item)
    found = _PICKS.get((id(subs), keys))
    if found is None:
        names = _spellings(item)
        pairs = tuple((names[lowered], name) for lowered, name in subs if lowered in names)
        whole = tuple(member for member, _name in pairs) == keys and all(member == name for member, name in pairs)
        found = (subs, pairs, whole)
        if len(_PICKS) >= 4096:
            _PICKS.clear()
        _PICKS[(id(subs), keys)] = found
    if found[2] and type(item) is dict:
        return item  # what the comprehension below would copy, member for member
    return {name: item[member] for member, name in found[1]}


# Member names as spelled (``emails`` values have the same few) → each lower-cased name's first
# spelling. Bounded: the spellings come from stored profiles.
_SPELLINGS: dict[tuple[Any, ...], dict[str, str]] = {}


def _spellings(document: Mapping[str, Any]) -> dict[str, str]:
    """The member name of ``document`` for each lower-cased name (the first of two spellings)."""
    keys = tuple(document)
    found = _SPELLINGS.get(keys)
    if found is None:
        found = {key.lower(): key for key in reversed(keys) if isinstance(key, str)}
        if len(_SPELLINGS) >= 4096:
            _SPELLINGS.clear()
        _SPELLINGS[keys] = found
    return found


def _by_lower_name(document: Mapping[str, Any]) -> dict[str, Any]:
    """Index a JSON object by lower-cased member name (attribute names are case-insensitive);
    of two names that differ only in case, the first wins (read backwards, it is set last)."""
    members = list(document.items())
    return {key.lower(): value for key, value in reversed(members) if isinstance(key, str)}


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

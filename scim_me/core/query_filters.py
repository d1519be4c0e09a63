"""Search filters over whole resources (RFC 7644 §3.4.2.2): parsed, bound to the schemas, and
evaluated here in Python as the reference the SQL translation (storage/user_query.py) must agree
with (tests/storage/test_filter_property.py holds them to it).

Parsing reuses scim2-filter-parser's grammar and the lexer and ``and``-before-``or`` fix of
core/filters.py. Binding resolves every attribute path against the schema registry: unknown
attributes, write-only ones (``password``), a complex attribute compared as a whole, and operators
RFC 7644 §3.4.2.2 Table 3 forbids for a type are ``invalidFilter``, as are filters longer than
:data:`MAX_FILTER_LENGTH` characters, nested deeper than :data:`MAX_DEPTH` or with more than
:data:`MAX_TESTS` comparisons (each is a subquery: a bound keeps one request bounded).

Semantics (the SQL implements exactly these):

- a comparison on a multi-valued attribute matches when ANY value matches (§3.4.2.2); ``ne`` is
  the negation of ``eq`` (no value equals it; an absent attribute is ``ne`` anything);
- strings compare casefolded unless the (sub-)attribute is caseExact (RFC 7643 §2.2), by code
  point; ``dateTime`` attributes compare as instants when both sides read as xsd:dateTime;
  numbers by value; booleans only ``eq``/``ne``;
- ``pr``: a non-empty value, or for a complex attribute any non-empty sub-attribute;
- ``attr eq null`` is ``not (attr pr)``, ``attr ne null`` is ``attr pr``;
- ``emails[type eq "work" and value co "@x"]`` holds when one and the same value satisfies the
  whole inner filter; ``emails.type eq "work" and emails.value co "@x"`` may use two values;
- ``id`` (caseExact), ``meta.created`` and ``meta.lastModified`` (at the milliseconds shown in
  ``meta``), ``meta.resourceType`` come from the resource record, not the profile.

Not supported (``invalidFilter``): a value path followed by a sub-attribute in a filter
(``emails[type eq "work"].value``, a PATCH path form), a value path nested in a value path,
``meta.location`` / ``meta.version``, and filtering on attributes the server computes rather
than stores (``groups``: use the Groups endpoint's ``members.value``).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from datetime import timedelta
from functools import lru_cache
from typing import Any

from scim2_filter_parser import ast as fast
from scim2_filter_parser.parser import SCIMParser

from scim_me.core.filter_shapes import SlotLexer
from scim_me.core.filters import FilterLexer
from scim_me.core.filters import associate
from scim_me.core.schemas import Attribute
from scim_me.core.schemas import SchemaRegistry
from scim_me.core.search_values import as_number
from scim_me.core.search_values import attribute_key
from scim_me.core.search_values import fold
from scim_me.core.search_values import instant_text
from scim_me.core.search_values import parse_instant
from scim_me.errors import InvalidFilterError
from scim_me.errors import InvalidValueError

MAX_FILTER_LENGTH = 2048
MAX_DEPTH = 16
MAX_TESTS = 32
OPERATORS = ("eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le")
ORDERING = ("eq", "ne", "gt", "ge", "lt", "le")

# Attributes read from the resource record rather than the profile.
ID = "id"
CREATED = "meta.created"
LAST_MODIFIED = "meta.lastmodified"
RESOURCE_TYPE = "meta.resourcetype"
RECORD_DATES = (CREATED, LAST_MODIFIED)


@dataclass(frozen=True)
class Target:
    """A filtered attribute. ``key`` and ``sub`` name it as storage does (core/search_values.py);
    ``record`` names a record field instead (:data:`ID`, :data:`CREATED`, ...)."""

    key: str
    sub: str
    type: str
    case_exact: bool
    complex: bool = False
    record: str | None = None


@dataclass(frozen=True)
class Compare:
    target: Target
    op: str
    value: Any


@dataclass(frozen=True)
class Present:
    target: Target


@dataclass(frozen=True)
class Within:
    """``attr[inner]``: some single value of ``target`` satisfies ``inner`` (whose targets are
    sub-attributes of it)."""

    target: Target
    inner: Node


@dataclass(frozen=True)
class And:
    left: Node
    right: Node


@dataclass(frozen=True)
class Or:
    left: Node
    right: Node


@dataclass(frozen=True)
class Not:
    inner: Node


Node = Compare | Present | Within | And | Or | Not


@dataclass(frozen=True)
class Record:
    """What a filter sees of a user: the stored profile and the record's own fields."""

    id: str
    profile: Mapping[str, Any]
    created: datetime
    last_modified: datetime
    resource_type: str = "User"


# Parsing ----------------------------------------------------------------------------------


def _check_shape(text: str) -> None:
    """Bound nesting before the parser runs (it recurses over parentheses and brackets)."""
    depth = 0
    in_string = False
    escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "([":
            depth += 1
            if depth > MAX_DEPTH:
                raise InvalidFilterError(f"The filter is nested deeper than {MAX_DEPTH} levels.")
        elif char in ")]":
            depth -= 1


@lru_cache(maxsize=256)
def _parse_tree(text: str) -> Any:
    return _parse_with(FilterLexer(), text)


def _parse_with(lexer: Any, text: str) -> Any:
    try:
        tree = SCIMParser().parse(lexer.tokenize(text))
    except RecursionError as exc:
        raise InvalidFilterError("The filter is nested too deeply.") from exc
    except Exception as exc:  # third-party parser on untrusted input: any failure is a bad filter
        raise InvalidFilterError(f"Invalid filter: {text}") from exc
    if tree is None:
        raise InvalidFilterError(f"Invalid filter: {text}")
    return tree


def check_filter_text(text: str) -> None:
    """The bounds on a filter's text that its literals count towards (length, NUL): checked on
    every filter, also one whose shape was compiled before (storage/filter_plans.py)."""
    if len(text) > MAX_FILTER_LENGTH:
        raise InvalidFilterError(f"The filter is longer than {MAX_FILTER_LENGTH} characters.")
    if not text.strip():
        raise InvalidFilterError("The filter is empty.")
    if "\x00" in text:
        raise InvalidFilterError("The filter contains a NUL character.")


def parse_search_filter(text: str, registry: SchemaRegistry) -> Node:
    """Parse and bind a ``filter`` query parameter; ``invalidFilter`` for anything unsupported."""
    check_filter_text(text)
    _check_shape(text)
    binder = _Binder(registry)
    node = binder.convert(_parse_tree(text), None)
    return node


def parse_slotted_filter(text: str, registry: SchemaRegistry) -> tuple[Node, list[tuple[int, int]]]:
    """:func:`parse_search_filter` with each string literal a core/filter_shapes.Literal that
    knows its slot, and where the lexer read each literal (not cached: a shape's first filter)."""
    check_filter_text(text)
    _check_shape(text)
    lexer = SlotLexer()
    node = _Binder(registry).convert(_parse_with(lexer, text), None)
    return node, list(lexer.spans)


class _Binder:
    def __init__(self, registry: SchemaRegistry) -> None:
        self.registry = registry
        self.tests = 0

    def convert(self, node: Any, within: Scope | None) -> Node:
        if not isinstance(node, fast.Filter):
            raise InvalidFilterError("Unsupported filter expression.")
        inner = node.expr
        result: Node
        if node.namespace is not None:
            result = self._value_path(node.namespace, inner, within)
        elif isinstance(inner, fast.Filter):
            result = self.convert(inner, within)
        elif isinstance(inner, fast.LogExpr):
            operands: list[Node] = []
            operators: list[str] = []
            self._flatten(inner, operands, operators, within)
            result = associate(operands, operators, And, Or)
        elif isinstance(inner, fast.AttrExpr):
            result = self._leaf(inner, within)
        else:
            raise InvalidFilterError("Unsupported filter expression.")
        return Not(result) if node.negated else result

    def _flatten(self, expr: Any, operands: list[Node], operators: list[str], within: Scope | None) -> None:
        # An ungrouped chain is a flat token sequence whatever tree the parser built for it.
        for index, side in enumerate((expr.expr1, expr.expr2)):
            if index == 1:
                operators.append(str(expr.op).lower())
            if (
                isinstance(side, fast.Filter)
                and not side.negated
                and side.namespace is None
                and isinstance(side.expr, fast.LogExpr)
            ):
                self._flatten(side.expr, operands, operators, within)
            else:
                operands.append(self.convert(side, within))

    def _value_path(self, namespace: Any, inner: Any, within: Scope | None) -> Node:
        if within is not None:
            raise InvalidFilterError("A value filter cannot be nested in another value filter.")
        if not isinstance(namespace, fast.AttrPath) or not isinstance(namespace.attr_name, str):
            raise InvalidFilterError("Unsupported value filter.")
        if namespace.sub_attr is not None:
            raise InvalidFilterError("A value filter is applied to an attribute, not a sub-attribute.")
        target, attribute = self._resolve(namespace.uri, namespace.attr_name)
        if attribute is None or not target.complex:
            raise InvalidFilterError(f"The attribute {namespace.attr_name} has no sub-attributes to filter on.")
        return Within(target, self.convert(inner, (target, attribute)))

    def _leaf(self, expr: Any, within: Scope | None) -> Node:
        path = expr.attr_path
        if not isinstance(path, fast.AttrPath) or not isinstance(path.attr_name, str):
            raise InvalidFilterError("A value path with a sub-attribute is a PATCH path, not a filter.")
        self.tests += 1
        if self.tests > MAX_TESTS:
            raise InvalidFilterError(f"The filter has more than {MAX_TESTS} comparisons.")
        sub = path.sub_attr.value if path.sub_attr is not None else None
        if within is not None:
            target = self._inner_target(within, path.uri, path.attr_name, sub)
        else:
            target = self._target(path.uri, path.attr_name, sub)
        op = str(expr.value).lower()
        if op == "pr":
            return Present(target)
        if op not in OPERATORS:
            raise InvalidFilterError(f"Unknown operator {op}.")
        value = expr.comp_value.value if expr.comp_value is not None else None
        return _check_compare(Compare(target, op, value))

    def _inner_target(self, within: Scope, uri: Any, name: str, sub: str | None) -> Target:
        whole, attribute = within
        if uri is not None:
            raise InvalidFilterError("Inside a value filter, name sub-attributes without a schema.")
        if sub is not None:
            # ``emails[emails.type eq "work"]``: the attribute named again before the sub-attribute.
            if name.lower() != attribute.name.lower():
                raise InvalidFilterError(f"{name}.{sub} is not a sub-attribute of {attribute.name}.")
            name = sub
        return _sub_target(whole, attribute, name)

    def _resolve(self, uri: str | None, name: str) -> tuple[Target, Attribute | None]:
        """The target of a top-level attribute, and its definition (None for record fields)."""
        registry = self.registry
        if uri is None:
            attribute = registry.core_attribute(name)
        else:
            schema = registry.schema(uri)
            if schema is None:
                raise InvalidFilterError(f"Unknown schema {uri}.")
            attribute = schema.attribute(name)
            if attribute is None and schema.id == registry.core.id:
                attribute = registry.common.attribute(name)
        if attribute is None:
            raise InvalidFilterError(f"No such attribute: {name}.")
        _check_readable(attribute)
        in_core = attribute.schema in (registry.core.id, registry.common.id)
        key = attribute_key(None if in_core else attribute.schema, attribute.name)
        return Target(key, "", attribute.type, attribute.case_exact, complex=attribute.is_complex), attribute

    def _target(self, uri: str | None, name: str, sub: str | None) -> Target:
        whole, attribute = self._resolve(uri, name)
        assert attribute is not None
        record = _record_target(attribute, sub)
        if record is not None:
            return record
        if attribute.name.lower() == "meta":
            raise InvalidFilterError(f"meta.{sub} cannot be filtered on." if sub else "meta cannot be compared.")
        if attribute.name.lower() == "groups" and attribute.schema == self.registry.core.id:
            raise InvalidFilterError("groups is computed from group membership: filter Groups on members.value.")
        if sub is None:
            return whole
        if not attribute.is_complex:
            raise InvalidFilterError(f"{attribute.name} has no sub-attribute {sub}.")
        return _sub_target(whole, attribute, sub)


Scope = tuple[Target, Attribute]


def _sub_target(whole: Target, attribute: Attribute, name: str) -> Target:
    sub = attribute.sub(name)
    if sub is None:
        raise InvalidFilterError(f"{attribute.name} has no sub-attribute {name}.")
    _check_readable(sub)
    return Target(whole.key, sub.name.lower(), sub.type, sub.case_exact)


def _record_target(attribute: Attribute, sub: str | None) -> Target | None:
    name = attribute.name.lower()
    if name == "id" and sub is None:
        return Target(ID, "", "string", True, record=ID)
    if name == "meta" and sub is not None:
        lowered = sub.lower()
        if lowered in ("created", "lastmodified"):
            field = CREATED if lowered == "created" else LAST_MODIFIED
            return Target(field, "", "dateTime", False, record=field)
        if lowered == "resourcetype":
            return Target(RESOURCE_TYPE, "", "string", True, record=RESOURCE_TYPE)
    return None


def _check_readable(attribute: Attribute) -> None:
    if attribute.returned == "never" or attribute.mutability == "writeOnly":
        raise InvalidFilterError(f"{attribute.name} cannot be filtered on.")


def _check_compare(node: Compare) -> Compare:
    """RFC 7644 §3.4.2.2 Table 3, and the literal types our storage compares."""
    target, op, value = node.target, node.op, node.value
    if target.complex:
        raise InvalidFilterError("A complex attribute is compared through its sub-attributes.")
    if value is None:
        if op not in ("eq", "ne"):
            raise InvalidFilterError(f"null can only be compared with eq or ne, not {op}.")
        return node
    if target.type in ("boolean", "binary") and op not in ("eq", "ne"):
        raise InvalidFilterError(f"The operator '{op}' is not supported for {target.type}.")
    if isinstance(value, bool) and op not in ("eq", "ne"):
        raise InvalidFilterError(f"The operator '{op}' is not supported for a boolean.")
    if isinstance(value, (int, float)) and not isinstance(value, bool) and op in ("co", "sw", "ew"):
        raise InvalidFilterError(f"The operator '{op}' is not supported for a number.")
    if target.record in RECORD_DATES and (
        not isinstance(value, str) or parse_instant(value) is None or op not in ORDERING
    ):
        raise InvalidFilterError(f"{target.key} is compared with an xsd:dateTime using {', '.join(ORDERING)}.")
    if target.record is not None and target.record not in RECORD_DATES and not isinstance(value, str):
        raise InvalidFilterError(f"{target.key} is a string.")
    return node


# Reference evaluation ---------------------------------------------------------------------


def _scalar(value: Any) -> bool:
    """A value storage indexes (core/search_values.py): strings, booleans, finite numbers."""
    if isinstance(value, (str, bool)):
        return True
    return isinstance(value, (int, float)) and as_number(value) is not None


def _named(mapping: Mapping[str, Any], name: str) -> list[Any]:
    """Every value under ``name`` (any case: storage lower-cases names)."""
    return [value for key, value in mapping.items() if key.lower() == name]


def _attribute_values(profile: Mapping[str, Any], key: str) -> list[Any]:
    if ":" not in key:
        return _named(profile, key)
    found: list[Any] = []
    for name, container in profile.items():
        if name[:4].lower() == "urn:" and isinstance(container, Mapping):
            for inner_name, value in container.items():
                if attribute_key(name, inner_name) == key:
                    found.append(value)
    return found


def _elements(profile: Mapping[str, Any], key: str) -> list[Mapping[str, Any]]:
    elements: list[Mapping[str, Any]] = []
    for value in _attribute_values(profile, key):
        items = value if isinstance(value, list) else [value]
        elements += [item for item in items if isinstance(item, Mapping)]
    return elements


def _leaves(profile: Mapping[str, Any], target: Target) -> list[Any]:
    leaves: list[Any] = []
    for value in _attribute_values(profile, target.key):
        items = value if isinstance(value, list) else [value]
        for item in items:
            if target.sub == "":
                if target.complex:
                    if isinstance(item, Mapping):  # any sub-attribute's value
                        leaves += [inner for inner in item.values() if _scalar(inner)]
                elif _scalar(item):
                    leaves.append(item)
            elif isinstance(item, Mapping):
                leaves += [inner for inner in _named(item, target.sub) if _scalar(inner)]
    return leaves


def truncate_ms(moment: datetime) -> datetime:
    """An instant as ``meta`` shows it (core/timestamps.iso): to the millisecond."""
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def _record_leaves(record: Record, target: Target) -> list[Any]:
    if target.record == ID:
        return [record.id]
    if target.record == RESOURCE_TYPE:
        return [record.resource_type]
    moment = record.created if target.record == CREATED else record.last_modified
    return [truncate_ms(moment)]


def _present(value: Any) -> bool:
    return value != "" if isinstance(value, str) else True


def compare_value(op: str, actual: Any, expected: Any, target: Target) -> bool:
    """One stored scalar against a literal (never ``ne``: that is ``not eq`` over all values)."""
    if isinstance(actual, datetime):  # meta.created / meta.lastModified
        moment = parse_instant(expected)
        assert moment is not None  # the binder admits only dateTime literals here
        return _order(op, actual, moment.replace(tzinfo=None))
    if isinstance(expected, bool):
        return isinstance(actual, bool) and actual == expected
    if isinstance(expected, (int, float)):
        if isinstance(actual, bool) or not isinstance(actual, (int, float)):
            return False
        return _order(op, float(actual), float(expected))
    if not isinstance(actual, str):
        return False
    if target.type == "dateTime" and op in ORDERING:
        left_instant, right_instant = parse_instant(actual), parse_instant(expected)
        if left_instant is not None and right_instant is not None:
            return _order(op, instant_text(left_instant), instant_text(right_instant))
    left, right = (actual, expected) if target.case_exact else (fold(actual), fold(expected))
    if op == "co":
        return right in left
    if op == "sw":
        return left.startswith(right)
    if op == "ew":
        return left.endswith(right)
    return _order(op, left, right)


def _order(op: str, left: Any, right: Any) -> bool:
    if op == "eq":
        return bool(left == right)
    if op == "gt":
        return bool(left > right)
    if op == "ge":
        return bool(left >= right)
    if op == "lt":
        return bool(left < right)
    if op == "le":
        return bool(left <= right)
    raise AssertionError(op)


def _test(node: Compare | Present, leaves: list[Any]) -> bool:
    if isinstance(node, Present):
        return any(_present(value) for value in leaves)
    if node.value is None:
        present = any(_present(value) for value in leaves)
        return not present if node.op == "eq" else present
    if node.op == "ne":
        return not any(compare_value("eq", value, node.value, node.target) for value in leaves)
    return any(compare_value(node.op, value, node.value, node.target) for value in leaves)


def evaluate(node: Node, record: Record) -> bool:
    """The reference meaning of ``node`` for one user (the module docstring)."""
    if isinstance(node, And):
        return evaluate(node.left, record) and evaluate(node.right, record)
    if isinstance(node, Or):
        return evaluate(node.left, record) or evaluate(node.right, record)
    if isinstance(node, Not):
        return not evaluate(node.inner, record)
    if isinstance(node, Within):
        return any(_evaluate_in(node.inner, element) for element in _elements(record.profile, node.target.key))
    target = node.target
    leaves = _record_leaves(record, target) if target.record else _leaves(record.profile, target)
    return _test(node, leaves)


def _evaluate_in(node: Node, element: Mapping[str, Any]) -> bool:
    if isinstance(node, And):
        return _evaluate_in(node.left, element) and _evaluate_in(node.right, element)
    if isinstance(node, Or):
        return _evaluate_in(node.left, element) or _evaluate_in(node.right, element)
    if isinstance(node, Not):
        return not _evaluate_in(node.inner, element)
    if isinstance(node, Within):
        raise AssertionError("the binder refuses nested value filters")
    leaves = [value for value in _named(element, node.target.sub) if _scalar(value)]
    return _test(node, leaves)


def record_date_bounds(op: str, literal: str) -> tuple[str, datetime | None]:
    """``meta.created op literal`` as a condition on the stored (microsecond) instant, given that
    the attribute shows milliseconds: (SQL operator, bound), or ("false", None) when it can never
    hold (``eq`` with a literal between two milliseconds)."""
    moment = parse_instant(literal)
    assert moment is not None
    naive = moment.replace(tzinfo=None)
    floor = truncate_ms(naive)
    ceil = floor if floor == naive else floor + timedelta(milliseconds=1)
    step = timedelta(milliseconds=1)
    if op == "gt":  # shown > L  <=>  stored >= floor(L) + 1 ms
        return ">=", floor + step
    if op == "ge":  # shown >= L  <=>  stored >= ceil(L)
        return ">=", ceil
    if op == "lt":  # not (shown >= L)
        return "<", ceil
    if op == "le":  # not (shown > L)
        return "<", floor + step
    if floor != naive:
        return "false", None
    return "eq", floor  # eq/ne: floor <= stored < floor + 1 ms


# Sorting ----------------------------------------------------------------------------------


def parse_sort_target(text: str, registry: SchemaRegistry) -> Target:
    """``sortBy`` (RFC 7644 §3.4.2.3) bound to the schemas: a single-valued attribute or a
    sub-attribute of a single-valued complex one, in any schema; ``invalidValue`` otherwise."""
    schema, rest = registry.split_urn(text.strip())
    if schema is not None and schema.id in (registry.core.id, registry.common.id):
        uri: str | None = schema.id
    elif schema is not None:
        uri = schema.id
    else:
        uri = None
    name, _, sub = rest.partition(".")
    if not name or "[" in rest or sub.count(".") or (uri is not None and not rest):
        raise InvalidValueError(f"sortBy {text!r} is not an attribute path.")
    try:
        binder = _Binder(registry)
        target = binder._target(uri, name, sub or None)
        _whole, attribute = binder._resolve(uri, name)
    except InvalidFilterError as exc:
        raise InvalidValueError(f"sortBy: {exc.detail}") from exc
    if attribute is not None and attribute.multi_valued:
        raise InvalidValueError(f"sortBy {text!r}: only single-valued attributes sort.")
    if target.complex:
        raise InvalidValueError(f"sortBy {text!r}: a complex attribute sorts by one of its sub-attributes.")
    return target


SortKey = tuple[bool, Any]


def sort_value(record: Record, target: Target) -> Any:
    """The value ``record`` sorts by (None when it has none): what the SQL sort reads."""
    if target.record == ID:
        return record.id
    if target.record == RESOURCE_TYPE:
        return None
    if target.record in RECORD_DATES:
        return record.created if target.record == CREATED else record.last_modified
    if target.key == "username" and target.sub == "":
        names = [value for value in _leaves(record.profile, target) if isinstance(value, str)]
        return min((user_name_order(value) for value in names), default=None)
    candidates: list[Any] = []
    for value in _leaves(record.profile, target):
        typed = typed_sort_value(value, target)
        if typed is not None:
            candidates.append(typed)
    return min(candidates, default=None)


def typed_sort_value(value: Any, target: Target) -> Any:
    """A stored scalar as the sort compares it, None when it does not sort as the target's type."""
    kind = target.type
    if kind == "boolean":
        return int(value) if isinstance(value, bool) else None
    if kind in ("integer", "decimal"):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return None
        return as_number(value)
    if not isinstance(value, str):
        return None
    if kind == "dateTime":
        moment = parse_instant(value)
        return instant_text(moment) if moment else None
    return value if target.case_exact else fold(value)


def user_name_order(user_name: str) -> str:
    """How userName sorts: by the uniqueness key (NFKC + casefold, storage/users.user_name_key)."""
    return unicodedata.normalize("NFKC", user_name).casefold()

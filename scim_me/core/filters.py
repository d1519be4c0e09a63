"""Value-selection filters inside PATCH paths (RFC 7644 §3.4.2.2, §3.5.2).

Parsing uses scim2-filter-parser's grammar. Two gaps in it are closed here: its lexer reads only
single-digit numbers and strings without escapes (so :class:`FilterLexer` lexes JSON numbers and
strings, and keeps ``true``/``false``/``null`` typed), and its parser gives ``and`` and ``or`` the
same precedence, so ungrouped chains are re-associated with ``and`` binding tighter, as §3.4.2.2
requires. Evaluation is ours and honours each sub-attribute's ``caseExact``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from collections.abc import Hashable
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC
from datetime import datetime
from functools import lru_cache
from typing import Any
from typing import TypeVar

from scim2_filter_parser import ast as fast
from scim2_filter_parser.lexer import SCIMLexer
from scim2_filter_parser.parser import SCIMParser

from scim_me.core.schemas import Attribute
from scim_me.errors import InvalidFilterError
from scim_me.errors import InvalidPathError

MAX_FILTER_LENGTH = 2048
# Bounds checked before the general parser runs, so evaluation cost and recursion stay small
# whatever a client sends: grouping depth (parentheses, ``not (...)``) and comparisons joined
# by ``and``/``or``. Real value filters use one to three comparisons and one level of grouping.
MAX_FILTER_DEPTH = 8
MAX_FILTER_TERMS = 32
COMPARE_OPS = ("eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le")


class FilterLexer(SCIMLexer):  # type: ignore[misc]
    tokens = SCIMLexer.tokens

    @_(r"-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?")  # type: ignore[name-defined, untyped-decorator]  # noqa: F821
    def NUMBER(self, t: Any) -> Any:
        t.value = json.loads(t.value)
        return t

    @_(r'"(?:[^"\\]|\\.)*"')  # type: ignore[name-defined, untyped-decorator]  # noqa: F821
    def COMP_VALUE(self, t: Any) -> Any:
        t.value = json.loads(t.value)
        return t

    @_(r"false")  # type: ignore[name-defined, untyped-decorator]  # noqa: F821
    def FALSE(self, t: Any) -> Any:
        t.value = False
        return t

    @_(r"true")  # type: ignore[name-defined, untyped-decorator]  # noqa: F821
    def TRUE(self, t: Any) -> Any:
        t.value = True
        return t

    @_(r"null")  # type: ignore[name-defined, untyped-decorator]  # noqa: F821
    def NULL(self, t: Any) -> Any:
        t.value = None
        return t


@dataclass(frozen=True)
class Compare:
    op: str
    attr: str
    value: Any


@dataclass(frozen=True)
class Present:
    attr: str


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


Node = Compare | Present | And | Or | Not


@lru_cache(maxsize=512)
def parse_filter(text: str) -> Node:
    """Parse a valFilter (the text inside ``[...]``) into a small immutable tree."""
    if len(text) > MAX_FILTER_LENGTH:
        raise InvalidFilterError(f"The filter is longer than {MAX_FILTER_LENGTH} characters.")
    if not text.strip():
        raise InvalidFilterError("The filter is empty.")
    simple = _parse_simple(text)
    if simple is not None:
        return simple
    _check_complexity(text)
    try:
        tree = SCIMParser().parse(FilterLexer().tokenize(text))
        if tree is None:
            raise InvalidFilterError(f"Invalid filter: {text}")
        return _convert(tree)
    except InvalidFilterError:
        raise
    except RecursionError as exc:
        raise InvalidFilterError("The filter is nested too deeply.") from exc
    except Exception as exc:  # third-party parser on untrusted input: any failure is a bad filter
        raise InvalidFilterError(f"Invalid filter: {text}") from exc


_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_JOIN = re.compile(r"\b(?:and|or)\b", re.IGNORECASE)


def _check_complexity(text: str) -> None:
    """Refuse (``invalidFilter``: the server does not support it, RFC 7644 §3.12) a filter nested
    deeper than MAX_FILTER_DEPTH or joining more than MAX_FILTER_TERMS comparisons."""
    bare = _STRING.sub('""', text)  # brackets and keywords inside string literals do not count
    depth = deepest = 0
    for char in bare:
        if char == "(":
            depth += 1
            deepest = max(deepest, depth)
        elif char == ")":
            depth -= 1
    if deepest > MAX_FILTER_DEPTH:
        raise InvalidFilterError("The filter is nested too deeply.")
    terms = len(_JOIN.findall(bare)) + 1
    if terms > MAX_FILTER_TERMS:
        raise InvalidFilterError(f"The filter joins more than {MAX_FILTER_TERMS} comparisons.")


# Nearly every PATCH filter is one comparison with a string, ``value eq "kim@example.com"``. A
# request may carry thousands of distinct ones and the general parser takes ~50 µs each, so this
# shape is read by one regular expression instead, and only where the general lexer reads the
# same three tokens: a plain name that is not a keyword (any case) and does not begin with a
# literal (the lexer reads ``trueName`` as ``true`` ``Name``), and a string with no escape or
# control character (json.loads would reject the latter).
_SIMPLE = re.compile(r'[ \t]*([A-Za-z][A-Za-z0-9_-]*)[ \t]+([A-Za-z]{2})[ \t]*"([^"\\\x00-\x1f]*)"[ \t]*')
_KEYWORDS = frozenset(("eq", "ne", "co", "sw", "ew", "pr", "gt", "ge", "lt", "le", "and", "or", "not"))


def _parse_simple(text: str) -> Node | None:
    """``name op "string"`` without the general parser; None for any other shape."""
    match = _SIMPLE.fullmatch(text)
    if match is None:
        return None
    name, op, value = match.groups()
    op = op.lower()  # ASCII only: re.IGNORECASE would also take "\u017fw" (long s), which the lexer rejects
    if op not in COMPARE_OPS or name.lower() in _KEYWORDS or name.startswith(("false", "true", "null")):
        return None
    return Compare(op, name, value)


def _convert(node: Any) -> Node:
    if not isinstance(node, fast.Filter) or node.namespace is not None:
        raise InvalidFilterError("Nested value filters are not allowed inside a value path.")
    inner = node.expr
    result: Node
    if isinstance(inner, fast.Filter):
        result = _convert(inner)
    elif isinstance(inner, fast.LogExpr):
        operands: list[Node] = []
        operators: list[str] = []
        _flatten(inner, operands, operators)
        result = associate(operands, operators, And, Or)
    elif isinstance(inner, fast.AttrExpr):
        result = _leaf(inner)
    else:
        raise InvalidFilterError("Unsupported filter expression.")
    return Not(result) if node.negated else result


def _is_bare_chain(node: Any) -> bool:
    return (
        isinstance(node, fast.Filter)
        and not node.negated
        and node.namespace is None
        and isinstance(node.expr, fast.LogExpr)
    )


def _flatten(expr: Any, operands: list[Node], operators: list[str]) -> None:
    # An ungrouped chain is a flat token sequence whatever tree the parser built for it.
    for index, side in enumerate((expr.expr1, expr.expr2)):
        if index == 1:
            operators.append(str(expr.op).lower())
        if _is_bare_chain(side):
            _flatten(side.expr, operands, operators)
        else:
            operands.append(_convert(side))


T = TypeVar("T")


def associate(operands: list[T], operators: list[str], conjoin: Callable[[T, T], T], disjoin: Callable[[T, T], T]) -> T:
    """Rebuild a chain with ``and`` binding tighter than ``or`` (RFC 7644 §3.4.2.2); the PATCH
    filters here and the search filters (core/query_filters.py) build their own nodes."""
    disjuncts: list[T] = []
    current = operands[0]
    for op, operand in zip(operators, operands[1:], strict=True):
        if op == "and":
            current = conjoin(current, operand)
        else:
            disjuncts.append(current)
            current = operand
    disjuncts.append(current)
    result = disjuncts[0]
    for item in disjuncts[1:]:
        result = disjoin(result, item)
    return result


def _leaf(expr: Any) -> Node:
    path = expr.attr_path
    if not isinstance(path, fast.AttrPath) or not isinstance(path.attr_name, str):
        raise InvalidFilterError("Nested value filters are not allowed inside a value path.")
    name = path.attr_name
    if path.sub_attr is not None:
        # ``emails[emails.type eq "work"]`` style: keep the innermost name.
        name = path.sub_attr.value
    op = str(expr.value).lower()
    if op == "pr":
        return Present(name)
    return Compare(op, name, expr.comp_value.value)


def check_filter(node: Node, lookup: Callable[[str], Attribute | None]) -> None:
    """Reject filters on unknown sub-attributes or with operators illegal for their type."""
    if isinstance(node, (And, Or)):
        check_filter(node.left, lookup)
        check_filter(node.right, lookup)
        return
    if isinstance(node, Not):
        check_filter(node.inner, lookup)
        return
    attr = lookup(node.attr)
    if attr is None:
        raise InvalidPathError(f"No such attribute with the name : {node.attr} in the filter")
    if isinstance(node, Compare):
        # RFC 7644 §3.4.2.2 Table 3: gt/ge/lt/le and co/sw/ew are illegal on booleans and binary.
        if attr.type in ("boolean", "binary") and node.op not in ("eq", "ne"):
            raise InvalidFilterError(f"The operator '{node.op}' is not supported for {attr.type}.")
        if attr.type == "complex":
            raise InvalidFilterError(f"Cannot compare the complex attribute {attr.name}.")


def matches(node: Node, element: Any, lookup: Callable[[str], Attribute | None]) -> bool:
    """Evaluate ``node`` against one value of a multi-valued attribute."""
    if isinstance(node, And):
        return matches(node.left, element, lookup) and matches(node.right, element, lookup)
    if isinstance(node, Or):
        return matches(node.left, element, lookup) or matches(node.right, element, lookup)
    if isinstance(node, Not):
        return not matches(node.inner, element, lookup)
    attr = lookup(node.attr)
    actual = read_value(element, node.attr)
    if isinstance(node, Present):
        return actual not in (None, "", [], {})
    return _compare(node.op, actual, node.value, attr)


def read_value(element: Any, name: str) -> Any:
    """The value a filter sees for ``name`` in one element (first key that matches, any case)."""
    if isinstance(element, Mapping):
        lowered = name.lower()
        for key, value in element.items():
            if key.lower() == lowered:
                return value
        return None
    # A multi-valued primitive: its implicit sub-attribute is "value".
    return element if name.lower() == "value" else None


def _compare(op: str, actual: Any, expected: Any, attr: Attribute | None) -> bool:
    if expected is None:
        present = actual is not None
        return (not present) if op == "eq" else present if op == "ne" else False
    if actual is None:
        return op == "ne"
    kind = attr.type if attr else "string"
    if isinstance(expected, bool) or isinstance(actual, bool):
        if not (isinstance(expected, bool) and isinstance(actual, bool)):
            return op == "ne"
        return (actual == expected) if op == "eq" else (actual != expected)
    if isinstance(expected, str) and isinstance(actual, str):
        if kind == "dateTime" and op in ("eq", "ne", "gt", "ge", "lt", "le"):
            left_dt, right_dt = _as_datetime(actual), _as_datetime(expected)
            if left_dt is not None and right_dt is not None:
                return _order(op, left_dt, right_dt)
        case_exact = attr.case_exact if attr else False
        left, right = (actual, expected) if case_exact else (actual.casefold(), expected.casefold())
        if op == "co":
            return right in left
        if op == "sw":
            return left.startswith(right)
        if op == "ew":
            return left.endswith(right)
        return _order(op, left, right)
    if isinstance(expected, (int, float)) and isinstance(actual, (int, float)):
        if op in ("co", "sw", "ew"):
            return False
        return _order(op, actual, expected)
    return op == "ne"


def _order(op: str, left: Any, right: Any) -> bool:
    if op == "eq":
        return bool(left == right)
    if op == "ne":
        return bool(left != right)
    if op == "gt":
        return bool(left > right)
    if op == "ge":
        return bool(left >= right)
    if op == "lt":
        return bool(left < right)
    if op == "le":
        return bool(left <= right)
    return False


def _as_datetime(text: str) -> datetime | None:
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    # xsd:dateTime allows no offset; read it as UTC so that it compares with offset values.
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def equality_terms(node: Node) -> dict[str, Any] | None:
    """Return ``{attr: value}`` when ``node`` is a conjunction of ``eq`` tests, else None.

    Used to build the new value when an ``add`` names a filter that matches nothing (the
    behaviour Entra ID and other provisioning clients rely on).
    """
    if isinstance(node, Compare) and node.op == "eq" and node.value is not None:
        return {node.attr: node.value}
    if isinstance(node, And):
        left = equality_terms(node.left)
        right = equality_terms(node.right)
        if left is None or right is None:
            return None
        return {**left, **right}
    return None


# Equality indexes. The PATCH engine answers ``eq`` filters on long multi-valued attributes by a
# dictionary lookup instead of a scan; these two functions define the keys and which filter
# shapes can use them. Both only ever narrow the values to test: :func:`matches` still decides.


def eq_key(value: Any, attr: Attribute | None) -> Hashable | None:
    """A key such that ``x eq v`` (``v`` a non-null literal) can hold only if ``eq_key(x) == eq_key(v)``.

    Mirrors :func:`_compare`: strings compare casefolded unless ``caseExact``, numbers by value
    (``1 == 1.0``, equal hashes), booleans by value. None for a value that can never equal a
    non-null literal (null, objects, arrays). Not for dateTime attributes (see :func:`eq_indexable`).
    """
    if isinstance(value, str):
        return value if attr is not None and attr.case_exact else value.casefold()
    if isinstance(value, (bool, int, float)):
        return value
    return None


def eq_indexable(attr: Attribute | None) -> bool:
    """False for dateTime: two different strings can be the same instant (``Z`` and ``+00:00``)."""
    return attr is None or attr.type != "dateTime"


def eq_candidates(node: Node, positions: Callable[[str, str, Any], set[int] | None]) -> set[int] | None:
    """Narrow the values ``node`` can match, or None when it can not be narrowed (scan them all).

    ``positions(op, name, literal)`` returns the positions whose ``name`` may pass ``name op
    literal`` (a superset), or None when it has no index for that; ``op`` is ``eq`` (any non-null
    literal) or ``sw``/``ew`` (a string literal: only a string value can pass, see
    :func:`_compare`). Such a test narrows; a conjunction narrows as much as either side does; a
    disjunction only when both sides do.
    """
    if isinstance(node, Compare):
        if node.op == "eq" and node.value is not None:
            return positions("eq", node.attr, node.value)
        if node.op in ("sw", "ew") and isinstance(node.value, str):
            return positions(node.op, node.attr, node.value)
        return None
    if isinstance(node, And):
        left = eq_candidates(node.left, positions)
        right = eq_candidates(node.right, positions)
        if left is None or right is None:
            return right if left is None else left
        return left & right
    if isinstance(node, Or):
        left = eq_candidates(node.left, positions)
        if left is None:
            return None
        right = eq_candidates(node.right, positions)
        return None if right is None else left | right
    return None


# Evaluation for the PATCH engine: a filter is compiled once per request into a predicate (the
# attribute lookups done once, not per value) and the engine remembers its matches; these two
# functions are what it needs for that. Both agree with :func:`matches` by construction.


def compile_filter(node: Node, lookup: Callable[[str], Attribute | None]) -> Callable[[Any], bool]:
    """A predicate equal to ``lambda element: matches(node, element, lookup)``."""
    if isinstance(node, And):
        left, right = compile_filter(node.left, lookup), compile_filter(node.right, lookup)
        return lambda element: left(element) and right(element)
    if isinstance(node, Or):
        left, right = compile_filter(node.left, lookup), compile_filter(node.right, lookup)
        return lambda element: left(element) or right(element)
    if isinstance(node, Not):
        inner = compile_filter(node.inner, lookup)
        return lambda element: not inner(element)
    name = node.attr
    if isinstance(node, Present):
        return lambda element: read_value(element, name) not in (None, "", [], {})
    op, expected, attr = node.op, node.value, lookup(name)
    if isinstance(expected, str) and op in _STRING_TESTS and (attr is None or attr.type != "dateTime"):
        # What _compare does for two strings outside dateTime, with the literal folded once.
        case_exact = attr.case_exact if attr else False
        folded = expected if case_exact else expected.casefold()
        string_test = _STRING_TESTS[op]

        def test(element: Any) -> bool:
            actual = read_value(element, name)
            if isinstance(actual, str):
                return string_test(actual if case_exact else actual.casefold(), folded)
            return _compare(op, actual, expected, attr)

        return test
    return lambda element: _compare(op, actual=read_value(element, name), expected=expected, attr=attr)


_STRING_TESTS: dict[str, Callable[[str, str], bool]] = {
    "eq": str.__eq__,
    "ne": str.__ne__,
    "co": lambda left, right: right in left,
    "sw": str.startswith,
    "ew": str.endswith,
}


@lru_cache(maxsize=512)
def filter_names(node: Node) -> frozenset[str]:
    """The attribute names ``node`` reads, lower-cased (as :func:`read_value` matches them)."""
    if isinstance(node, (And, Or)):
        return filter_names(node.left) | filter_names(node.right)
    if isinstance(node, Not):
        return filter_names(node.inner)
    return frozenset((node.attr.lower(),))

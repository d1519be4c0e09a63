"""Filter shapes: a search filter's text with its string literals taken out.

Provisioning clients (Entra ID, Okta) look users up one at a time with the same filter and another
value: ``userName eq "kim"``, then ``userName eq "lee"``. The two share a *shape* (the text around
the string literals) and, for most attributes, the SQL condition they compile to, with other
parameters. storage/filter_plans.py compiles a shape once and fills in the parameters of later
filters of that shape; this module finds the literals and lets the compiler say which parameter
comes from which literal:

- :func:`shape_of` splits a filter into the text around its string literals and their values,
  with FilterLexer's own pattern and decoding (core/filters.py). Only a string literal can hold a
  double quote (no other token of the grammar matches one), so two filters with the same text
  around their literals are read alike by the lexer, token for token, whatever the literals hold.
- :class:`SlotLexer` lexes as FilterLexer does, but each string literal comes out as a
  :class:`Literal`: a ``str`` that knows its position (slot) among the filter's literals. It flows
  through the binder (core/query_filters.py) into the bound tree unchanged.
- :func:`derive` is how a compiler turns a literal into a statement parameter: from a
  :class:`Literal` it makes a :class:`Derived` that records the slot and the function, so the
  parameter can be recomputed from another filter's literal. A compiler derives a literal only
  where the condition's SQL text does not depend on the literal's value (an equality); any other
  use leaves the slot underived, and the shape is then compiled per filter, as before.

Numbers, ``true``, ``false`` and ``null`` stay in the shape: they change the binding and the SQL.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from scim_me.core.filters import FilterLexer

# FilterLexer's COMP_VALUE pattern (a JSON string).
LITERAL_PATTERN = r'"(?:[^"\\]|\\.)*"'
_LITERAL = re.compile(LITERAL_PATTERN)


class Literal(str):
    """A string literal of a filter: its decoded value, and its slot (0 for the first literal)."""

    slot: int

    def __new__(cls, value: str, slot: int) -> Literal:
        made = super().__new__(cls, value)
        made.slot = slot
        return made


class Derived(str):
    """A statement parameter computed by ``how`` from the literal in ``slot``."""

    slot: int
    how: Callable[[str], str]

    def __new__(cls, value: str, slot: int, how: Callable[[str], str]) -> Derived:
        made = super().__new__(cls, value)
        made.slot = slot
        made.how = how
        return made


def derive(value: Any, how: Callable[[str], str]) -> Any:
    """``how(value)``; recorded as a :class:`Derived` when ``value`` is a :class:`Literal`."""
    result = how(value)
    if isinstance(value, Literal):
        return Derived(result, value.slot, how)
    return result


def same(value: str) -> str:
    """The literal itself, as a plain ``str`` (the identity for :func:`derive`)."""
    return str(value)


@dataclass(frozen=True)
class Shape:
    """``around``: the text before, between and after the string literals (one more part than
    there are literals); ``literals``: their decoded values; ``spans``: where they are in the text."""

    around: tuple[str, ...]
    literals: tuple[str, ...]
    spans: tuple[tuple[int, int], ...]

    def text(self, literals: tuple[str, ...]) -> str:
        """A filter of this shape with other literals."""
        parts = [self.around[0]]
        for value, after in zip(literals, self.around[1:], strict=True):
            parts += [json.dumps(value, ensure_ascii=False), after]
        return "".join(parts)


def shape_of(text: str) -> Shape | None:
    """The shape of ``text``; None when a string literal does not decode (the filter is invalid:
    the parser says how)."""
    around: list[str] = []
    literals: list[str] = []
    spans: list[tuple[int, int]] = []
    last = 0
    for match in _LITERAL.finditer(text):
        start, end = match.span()
        try:
            value = json.loads(match.group())
        except ValueError:
            return None
        around.append(text[last:start])
        literals.append(value)
        spans.append((start, end))
        last = end
    around.append(text[last:])
    return Shape(tuple(around), tuple(literals), tuple(spans))


class SlotLexer(FilterLexer):
    """FilterLexer whose string literals are :class:`Literal` s, numbered in order; ``spans``
    records where each was read (to check it against :func:`shape_of`)."""

    tokens = FilterLexer.tokens

    def __init__(self) -> None:
        self.spans: list[tuple[int, int]] = []

    # The pattern is spelled out: SLY's class namespace reads an unknown capitalised name as its own text.
    @_(r'"(?:[^"\\]|\\.)*"')  # type: ignore[name-defined, untyped-decorator]  # noqa: F821
    def COMP_VALUE(self, t: Any) -> Any:
        self.spans.append((t.index, t.end))
        t.value = Literal(json.loads(t.value), len(self.spans) - 1)
        return t

    def tokenize(self, text: str, lineno: int = 1, index: int = 0) -> Iterator[Any]:
        self.spans = []
        return super().tokenize(text, lineno, index)  # type: ignore[no-any-return]

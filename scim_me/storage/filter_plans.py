"""Search filters compiled once per shape: the SQL condition of ``userName eq "kim"`` serves
``userName eq "lee"`` with other parameters.

A provisioning client looks users up one by one with one filter and another value. Parsing the
filter (scim2-filter-parser), binding it to the schemas and building its SQL with peewee cost
several times what the database takes to answer it. So the condition is compiled for the filter's
*shape* (its text around the string literals, core/filter_shapes.py) and kept, per database
dialect, schema registry (the tenant's: attribute names, types and caseExact decide the SQL) and
tenant, in a bounded LRU; a filter of a known shape costs a regular expression, one
``json.loads`` per literal and the parameters' recomputation.

How a shape is learnt (its first filter):

1. the filter is parsed with its literals tagged by slot (``parse_slotted_filter``) and compiled
   by the caller's function, as any filter is; the lexer must have read the literals exactly where
   :func:`~scim_me.core.filter_shapes.shape_of` found them;
2. each parameter of the condition is a constant of the shape or derived from one literal
   (``derive``, which the compilers call only where the SQL text is the same for every literal:
   equality on a profile attribute, on ``id``, a group's ``members.value``...); a literal used
   any other way (``co``, a date, ``meta.resourceType``) leaves the shape uncompilable, and its
   filters are compiled one by one as before (remembered, so that costs nothing more);
3. the shape is compiled again with other literals, and must give the same SQL text and the
   parameters step 2 predicts: a parameter computed from a literal without ``derive`` fails this.

Errors are never kept: an invalid filter goes the whole way each time, and gets the same 400.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any

import peewee

from scim_me.core.filter_shapes import Derived
from scim_me.core.filter_shapes import Literal
from scim_me.core.filter_shapes import Shape
from scim_me.core.filter_shapes import shape_of
from scim_me.core.query_filters import Node
from scim_me.core.query_filters import check_filter_text
from scim_me.core.query_filters import parse_search_filter
from scim_me.core.query_filters import parse_slotted_filter
from scim_me.core.schemas import SchemaRegistry
from scim_me.errors import InvalidFilterError
from scim_me.storage.db import current_database

LIMIT = 512  # shapes kept per process (least recently used dropped first)

# A parameter of a compiled condition: (slot, how) for one derived from a literal, (None, value)
# for a constant of the shape.
_Recipe = tuple[tuple[int | None, Any], ...]


@dataclass(frozen=True)
class _Plan:
    registry: SchemaRegistry  # held: the key has its id
    sql: str | None  # the condition's SQL text; None: the shape is compiled per filter
    recipe: _Recipe = ()


_lock = threading.Lock()
_plans: OrderedDict[Hashable, _Plan] = OrderedDict()
learnt = 0  # shapes compiled (for tests and benchmarks: a hit leaves it unchanged)


def clear() -> None:
    global learnt
    with _lock:
        _plans.clear()
        learnt = 0


def condition(
    text: str,
    registry: SchemaRegistry,
    scope: Hashable,
    model: Any,
    compile_node: Callable[[Node], Any],
) -> Any:
    """``compile_node(parse_search_filter(text, registry))`` (a peewee condition on ``model``, the
    first table of the statements it goes into) as an ``SQL`` node, from the shape's compiled
    condition when there is one. ``scope``: what else the condition depends on (the tenant id)."""
    check_filter_text(text)
    shape = shape_of(text)
    if shape is None:
        return _render(model, compile_node(parse_search_filter(text, registry)))
    db = current_database()
    key = (type(db), id(registry), scope, model, shape.around)
    with _lock:
        plan = _plans.get(key)
        if plan is not None:
            _plans.move_to_end(key)
    if plan is None or plan.registry is not registry:
        plan, node = _learn(text, shape, registry, model, compile_node)
        with _lock:
            _plans[key] = plan
            while len(_plans) > LIMIT:
                _plans.popitem(last=False)
        if plan.sql is None:
            return _render(model, compile_node(node))
    if plan.sql is None:
        return _render(model, compile_node(parse_search_filter(text, registry)))
    return peewee.SQL(plan.sql, _parameters(plan.recipe, shape.literals))


def _parameters(recipe: _Recipe, literals: tuple[str, ...]) -> list[Any]:
    return [value if slot is None else value(literals[slot]) for slot, value in recipe]


def _render(model: Any, expression: Any) -> Any:
    sql, params = _text(model, expression)
    return peewee.SQL(sql, [_plain(param) for param in params])


_heads: dict[tuple[Any, Any], str] = {}


def _text(model: Any, expression: Any) -> tuple[str, list[Any]]:
    """The SQL of ``expression`` where ``model`` is the first table (aliased as in a SELECT from
    it), in parentheses: it goes into other conditions as it is."""
    dialect = (model, type(current_database()))
    head = _heads.get(dialect)
    if head is None:
        head = _heads.setdefault(dialect, model.select(peewee.SQL("1")).sql()[0] + " WHERE ")
    sql, params = model.select(peewee.SQL("1")).where(expression).sql()
    if not sql.startswith(head):
        raise AssertionError(f"unexpected SQL for a condition: {sql[:80]}")
    return f"({sql[len(head) :]})", list(params)


def _plain(param: Any) -> Any:
    return str(param) if isinstance(param, str) and type(param) is not str else param


def _learn(
    text: str, shape: Shape, registry: SchemaRegistry, model: Any, compile_node: Callable[[Node], Any]
) -> tuple[_Plan, Node]:
    """The plan of ``text``'s shape, and ``text`` bound (raises what the filter raises)."""
    global learnt
    uncompiled = _Plan(registry, None)
    try:
        node, spans = parse_slotted_filter(text, registry)
    except InvalidFilterError:
        parse_search_filter(text, registry)  # the error as the plain parse words it
        raise
    if tuple(spans) != shape.spans:
        return uncompiled, node
    sql, params = _text(model, compile_node(node))
    recipe = _recipe(params, len(shape.literals))
    if recipe is None:
        return uncompiled, node
    # Again with other literals: the same text, the parameters the recipe predicts.
    others = tuple(f"\u2063{index}{value}Z" for index, value in enumerate(shape.literals))
    try:
        other_node, _ = parse_slotted_filter(shape.text(others), registry)
        other_sql, other_params = _text(model, compile_node(other_node))
    except InvalidFilterError:
        return uncompiled, node
    if other_sql != sql or [_plain(param) for param in other_params] != _parameters(recipe, others):
        return uncompiled, node
    with _lock:
        learnt += 1
    return _Plan(registry, sql, recipe), node


def _recipe(params: list[Any], literals: int) -> _Recipe | None:
    """How to compute ``params`` from the literals; None when a literal is used otherwise than
    through ``derive`` (or not at all: then it decided the SQL text)."""
    recipe: list[tuple[int | None, Any]] = []
    derived: set[int] = set()
    for param in params:
        if isinstance(param, Derived):
            recipe.append((param.slot, param.how))
            derived.add(param.slot)
        elif isinstance(param, Literal):
            return None
        else:
            recipe.append((None, param))
    if derived != set(range(literals)):
        return None
    return tuple(recipe)

"""Listing and searching users in SQL: filters (RFC 7644 §3.4.2.2), sorting (§3.4.2.3), index
paging (§3.4.2.4) and cursor paging (RFC 9865), on SQLite and PostgreSQL.

The interface for the /Users endpoints (and /.search, Bulk, admin tools)::

    page = search_users(tenant_id, registry, filter='emails[type eq "work"]', count=100,
                        sort_by="name.familyName", cursor="", cursor_key=key)
    page.total_results, page.resources (StoredUser), page.next_cursor, page.previous_cursor

A filter is parsed and bound by core/query_filters.py, whose ``evaluate`` is the reference
meaning; here it becomes one SQL statement over ``users`` with subqueries on ``user_values``
(one indexed row per searchable value, kept by triggers from ``users.search``; the design and the
query plans are in docs/scim-filters.md). Nothing is filtered in Python. Bad filters, sorts and
cursors raise ``invalidFilter`` / ``invalidValue`` / ``invalidCursor`` before any query runs.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from dataclasses import field
from datetime import datetime
from datetime import timedelta
from typing import Any
from typing import Generic
from typing import TypeVar

import peewee

from scim_me.core.filter_shapes import derive
from scim_me.core.filter_shapes import same
from scim_me.core.paging import DEFAULT_PAGE_SIZE
from scim_me.core.paging import MAX_PAGE_SIZE
from scim_me.core.paging import decode_cursor
from scim_me.core.paging import encode_cursor
from scim_me.core.paging import query_digest
from scim_me.core.query_filters import CREATED
from scim_me.core.query_filters import ID
from scim_me.core.query_filters import LAST_MODIFIED
from scim_me.core.query_filters import ORDERING
from scim_me.core.query_filters import RESOURCE_TYPE
from scim_me.core.query_filters import And
from scim_me.core.query_filters import Compare
from scim_me.core.query_filters import Node
from scim_me.core.query_filters import Not
from scim_me.core.query_filters import Or
from scim_me.core.query_filters import Present
from scim_me.core.query_filters import Target
from scim_me.core.query_filters import Within
from scim_me.core.query_filters import compare_value
from scim_me.core.query_filters import parse_sort_target
from scim_me.core.query_filters import record_date_bounds
from scim_me.core.schemas import SchemaRegistry
from scim_me.core.search_values import INDEXED_PREFIX
from scim_me.core.search_values import fold
from scim_me.core.search_values import instant_text
from scim_me.core.search_values import parse_instant
from scim_me.errors import InvalidCursorError
from scim_me.storage import filter_plans
from scim_me.storage.caller import UserFacts
from scim_me.storage.caller import facts_from_columns
from scim_me.storage.caller import page_fact_sql
from scim_me.storage.db import current_database
from scim_me.storage.db import is_sqlite
from scim_me.storage.grants import REVOKED_TOKEN_SQL
from scim_me.storage.models import User
from scim_me.storage.models import UserValue
from scim_me.storage.prepared import execute as execute_statement
from scim_me.storage.users import StoredUser
from scim_me.storage.users import listed_user_from_row
from scim_me.storage.users import now

T = TypeVar("T")

_MILLISECOND = timedelta(milliseconds=1)
_TRUE = peewee.SQL("1 = 1")
_FALSE = peewee.SQL("1 = 0")


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a list (RFC 7644 §3.4.2 ListResponse, RFC 9865 §2.2).

    ``start_index`` is the 1-based index of the first resource (index paging; None for cursor
    pages); ``next_cursor`` / ``previous_cursor`` are set on cursor pages that have a neighbour.
    """

    total_results: int
    resources: list[T] = field(default_factory=list)
    start_index: int | None = 1
    next_cursor: str | None = None
    previous_cursor: str | None = None
    # What features keep beside each user's profile (MFA, groups, the account lock), by user
    # id: read by the page statement itself (storage/caller.py ``page_fact_sql``).
    facts: dict[str, UserFacts] = field(default_factory=dict)
    # Whether the access token ``search_users`` was asked about (``revocation``) is revoked, as
    # the page statement read it; None when no page statement ran or none was asked.
    revoked: bool | None = None

    @property
    def items_per_page(self) -> int:
        return len(self.resources)


def search_users(
    tenant_id: int,
    registry: SchemaRegistry,
    *,
    filter: str | None = None,
    start_index: int = 1,
    count: int = DEFAULT_PAGE_SIZE,
    sort_by: str | None = None,
    sort_order: str | None = None,
    cursor: str | None = None,
    cursor_key: bytes = b"",
    max_page_size: int = MAX_PAGE_SIZE,
    revocation: str | None = None,
) -> Page[StoredUser]:
    """One page of the tenant's users matching ``filter``.

    - ``registry``: the tenant's schemas (with its custom extension): they decide which
      attributes exist, their types and caseExact.
    - Index paging (``cursor`` None): ``start_index`` 1-based, ``count`` resources at most
      (``count`` 0: ``total_results`` only); ``start_index`` < 1 reads as 1, ``count`` is cut to
      ``[0, max_page_size]`` (RFC 7644 §3.4.2.4).
    - Cursor paging (``cursor`` ``""`` for the first page, else a ``next_cursor`` /
      ``previous_cursor`` of an earlier page of the same filter and sort): RFC 9865; cursors are
      signed with ``cursor_key`` (give every worker the same key).
    - ``sort_by``: any single-valued attribute or sub-attribute (extensions URN-qualified);
      ``sort_order`` ``ascending`` (default) or ``descending``; resources without a value sort
      last ascending, first descending (§3.4.2.3); ties by id. Without ``sort_by``: creation
      order (then id), so index pages stay put while users are added.

    - ``revocation``: an access token's ``jti``; the page statement also reads whether it is
      revoked (storage/grants.py), into ``Page.revoked``: the caller's check costs no statement
      of its own.

    Raises ``InvalidFilterError``, ``InvalidValueError`` (sortBy/sortOrder) or
    ``InvalidCursorError`` (400s) before touching the database.
    """
    if filter is None:
        where = _Everyone(tenant_id, _tenant(tenant_id))
    else:
        # Compiled once per shape of filter, with the tenant's test (storage/filter_plans.py):
        # lookups repeat one shape.
        where = filter_plans.condition(
            filter, registry, tenant_id, User, lambda node: _tenant(tenant_id) & _condition(node, tenant_id, _Aliases())
        )
    order = _order(tenant_id, registry, sort_by, sort_order)
    count = min(max(count, 0), max_page_size)
    if cursor is None:
        return _index_page(where, order, max(start_index, 1), count, revocation)
    if not cursor_key:
        raise InvalidCursorError("Cursor paging is not configured.")
    digest = query_digest(filter, sort_by.lower() if sort_by else None, "d" if order.descending else "a")
    direction, edge = decode_cursor(cursor_key, digest, cursor) if cursor else ("next", None)
    return _cursor_page(where, order, count, direction, edge, cursor_key, digest, revocation)


def _count(where: Any) -> int:
    """``totalResults``: every match, whatever the page (RFC 7644 §3.4.2.4)."""
    if isinstance(where, _Everyone):
        return tenant_user_count(where.tenant_id)
    return int(User.select(peewee.fn.COUNT(peewee.SQL("*"))).where(where).scalar() or 0)


class _Everyone(peewee.ColumnBase):
    """The condition of a search without a filter: the tenant's users, whose number the
    triggers of ``tenant_user_counts`` keep (migration step 20), so ``_count`` reads it instead
    of counting them. Anywhere else it is the condition it wraps."""

    def __init__(self, tenant_id: int, condition: Any) -> None:
        super().__init__()
        self.tenant_id = tenant_id
        self.condition = condition

    def __sql__(self, ctx: Any) -> Any:
        return ctx.sql(self.condition)


_TENANT_USER_COUNT_SQL = "SELECT users FROM tenant_user_counts WHERE tenant_id = ?"


def tenant_user_count(tenant_id: int) -> int:
    """The tenant's number of users, as COUNT(*) would give it (kept by triggers, step 20)."""
    db = current_database()
    row = db.execute_sql(_TENANT_USER_COUNT_SQL.replace("?", db.param), (tenant_id,)).fetchone()
    return int(row[0]) if row is not None else 0


# Filters -----------------------------------------------------------------------------------


def _tenant(tenant_id: int) -> Any:
    return User.tenant == tenant_id


class _Aliases:
    """Fresh table aliases for nested subqueries: ``v1``, ``v2``, ... of ``user_values``.

    The aliases are made once per process and reused: peewee builds a class for each field of
    an alias the first time it is read, six per comparison, which cost more than the rest of
    compiling a lookup. They hold no per-query state, so every query may use them."""

    _made: dict[int, Any] = {}

    def __init__(self) -> None:
        self._numbers = itertools.count(1)

    def value(self) -> Any:
        number = next(self._numbers)
        alias = self._made.get(number)
        if alias is None:
            alias = self._made.setdefault(number, UserValue.alias(f"v{number}"))
        return alias


def _condition(node: Node, tenant_id: int, aliases: _Aliases) -> Any:
    if isinstance(node, And):
        return _condition(node.left, tenant_id, aliases) & _condition(node.right, tenant_id, aliases)
    if isinstance(node, Or):
        return _condition(node.left, tenant_id, aliases) | _condition(node.right, tenant_id, aliases)
    if isinstance(node, Not):
        return ~_condition(node.inner, tenant_id, aliases)
    if isinstance(node, Within):
        marker = aliases.value()
        elements = marker.select(marker.user).where(
            (marker.tenant_id == tenant_id)
            & (marker.attr == node.target.key)
            & (marker.sub == "")
            & marker.exact.is_null()
            & marker.num.is_null()
            & marker.flag.is_null()
            & _inner(node.inner, marker, aliases)
        )
        return User.id.in_(elements)
    target = node.target
    if target.record is not None:
        return _record_condition(node, target)

    def users_with(test: Any) -> Any:
        value = aliases.value()
        sub = value.sub == target.sub if not target.complex else value.sub != ""
        rows = value.select(value.user).where(
            (value.tenant_id == tenant_id) & (value.attr == target.key) & sub & test(value)
        )
        return User.id.in_(rows)

    return _leaf(node, users_with)


def _inner(node: Node, marker: Any, aliases: _Aliases) -> Any:
    """A value filter's inner condition on one element (``marker``: its marker row)."""
    if isinstance(node, And):
        return _inner(node.left, marker, aliases) & _inner(node.right, marker, aliases)
    if isinstance(node, Or):
        return _inner(node.left, marker, aliases) | _inner(node.right, marker, aliases)
    if isinstance(node, Not):
        return ~_inner(node.inner, marker, aliases)
    if isinstance(node, Within):
        raise AssertionError("the binder refuses nested value filters")
    target = node.target

    def element_with(test: Any) -> Any:
        value = aliases.value()
        rows = value.select(peewee.SQL("1")).where(
            (value.user == marker.user)
            & (value.attr == target.key)
            & (value.pos == marker.pos)
            & (value.sub == target.sub)
            & test(value)
        )
        return peewee.fn.EXISTS(rows)

    return _leaf(node, element_with)


def _leaf(node: Compare | Present, having: Any) -> Any:
    """``node`` as "some value passes" tests: ``having(test)`` is true when a value of the target
    passes ``test`` (a function of the row alias)."""
    if isinstance(node, Present):
        return having(_present)
    if node.value is None:
        return having(_present) if node.op == "ne" else ~having(_present)
    if node.op == "ne":
        return ~having(lambda row: _test(row, node.target, "eq", node.value))
    return having(lambda row: _test(row, node.target, node.op, node.value))


def _present(row: Any) -> Any:
    return ((row.exact.is_null(False)) & (row.exact != "")) | row.num.is_null(False) | row.flag.is_null(False)


def _test(row: Any, target: Target, op: str, value: Any) -> Any:
    """One stored value (``row``) against a literal: core/query_filters.compare_value in SQL."""
    if isinstance(value, bool):
        return row.flag == value
    if isinstance(value, (int, float)):
        return _compare(row.num, op, float(value))
    column = row.exact if target.case_exact else row.folded
    if op == "eq" and target.type != "dateTime":
        # The lookups (userName, emails.value, externalId eq): the SQL text is the same for every
        # literal, its parameters derive from it (a compiled shape serves them all:
        # storage/filter_plans.py). As _string_test's ``eq``.
        literal = derive(value, same if target.case_exact else fold)
        return (row.head == derive(value, _head)) & (column == literal)
    literal = value if target.case_exact else fold(value)
    strings = _string_test(column, op, literal, row.head, fold(value), target.case_exact)
    moment = parse_instant(value) if target.type == "dateTime" and op in ORDERING else None
    if moment is None:
        return strings
    return (row.instant.is_null(False) & _compare(row.instant, op, instant_text(moment))) | (
        row.instant.is_null() & strings
    )


def _head(value: str) -> str:
    """What ``head`` holds for a value: the indexed prefix of its folded form."""
    return fold(value)[:INDEXED_PREFIX]


def _string_test(column: Any, op: str, literal: str, head: Any, folded: str, case_exact: bool) -> Any:
    """``column op literal`` by code point, with a condition on ``head`` (the indexed prefix of
    ``folded``) that the index can answer and the full test implies."""
    prefix = folded[:INDEXED_PREFIX]
    if op == "eq":
        return (column == literal) if head is None else (head == prefix) & (column == literal)
    if op in ("gt", "ge", "lt", "le"):
        test = _compare(column, op, literal)
        if head is None or case_exact:
            return test
        return ((head >= prefix) if op in ("gt", "ge") else (head <= prefix)) & test
    if literal == "":
        return column.is_null(False)
    if op == "co":
        return _contains(column, literal)
    if op == "sw":
        test = peewee.fn.substr(column, 1, len(literal)) == literal
        return test if head is None or case_exact else _prefix_range(head, prefix) & test
    # ew
    length = peewee.fn.length(column)
    return (length >= len(literal)) & (peewee.fn.substr(column, length - len(literal) + 1) == literal)


def _contains(column: Any, literal: str) -> Any:
    if is_sqlite(current_database()):
        return peewee.fn.instr(column, literal) > 0
    return peewee.fn.strpos(column, literal) > 0


def _prefix_range(head: Any, prefix: str) -> Any:
    """Strings that start with ``prefix`` lie in ``[prefix, successor)`` in code point order."""
    if len(prefix) >= INDEXED_PREFIX:
        return head == prefix
    upper = _successor(prefix)
    return (head >= prefix) if upper is None else ((head >= prefix) & (head < upper))


def _successor(prefix: str) -> str | None:
    """The least string greater than every string starting with ``prefix`` (None: no bound)."""
    stripped = prefix.rstrip("\U0010ffff")
    if not stripped:
        return None
    following = ord(stripped[-1]) + 1
    if 0xD800 <= following <= 0xDFFF:
        following = 0xE000  # no surrogates in stored text
    return stripped[:-1] + chr(following)


def _compare(column: Any, op: str, value: Any) -> Any:
    if op == "eq":
        return column == value
    if op == "gt":
        return column > value
    if op == "ge":
        return column >= value
    if op == "lt":
        return column < value
    if op == "le":
        return column <= value
    raise AssertionError(op)


def _record_condition(node: Compare | Present, target: Target) -> Any:
    """Tests on the record's own columns: id, meta.created, meta.lastModified, meta.resourceType."""
    if isinstance(node, Present) or (node.value is None and node.op == "ne"):
        return _TRUE
    if node.value is None:
        return _FALSE
    if target.record == RESOURCE_TYPE:
        holds = compare_value("eq" if node.op == "ne" else node.op, "User", node.value, target)
        return _TRUE if holds != (node.op == "ne") else _FALSE
    if target.record == ID:
        ids: Any = User.id if is_sqlite(current_database()) else User.id.collate('"C"')  # code point order
        op = "eq" if node.op == "ne" else node.op
        test = _string_test(ids, op, derive(node.value, same) if op == "eq" else node.value, None, "", True)
        return ~test if node.op == "ne" else test
    column: Any = User.created_at if target.record == CREATED else User.updated_at
    how, bound = record_date_bounds("eq" if node.op == "ne" else node.op, node.value)
    if how == "false":
        test = _FALSE
    elif how == "eq":
        assert bound is not None
        test = (column >= bound) & (column < bound + _MILLISECOND)
    else:
        test = column >= bound if how == ">=" else column < bound
    return ~test if node.op == "ne" else test


# Sorting and paging -------------------------------------------------------------------------


@dataclass(frozen=True)
class _Order:
    """The sort: ``key`` (an SQL expression over ``users``), its direction, whether it can be
    NULL (resources without the attribute) and whether it is unique (then no id tie-break).
    The page query selects it as ``t.sort_key`` from the filtered users (``t``). A profile
    attribute's sort also has its ``walk``: how a search without a filter reads a page of it
    from the attribute's sort index instead (``_walked_rows``)."""

    key: Any
    descending: bool
    nullable: bool = False
    unique: bool = False
    dates: bool = False  # the key is a timestamp column
    walk: _Walk | None = None

    def order_by(self, backwards: bool) -> str:
        down = "DESC" if self.descending != backwards else "ASC"
        terms = []
        if self.nullable:
            # RFC 7644 §3.4.2.3: no value sorts last ascending, first descending.
            terms.append(f"CASE WHEN t.sort_key IS NULL THEN 1 ELSE 0 END {down}")
        terms.append(f"t.sort_key {down}")
        if not self.unique:
            terms.append(f"t.id {down}")
        return ", ".join(terms)

    def beyond(self, edge: list[Any], backwards: bool) -> tuple[str, list[Any]]:
        """Rows strictly past ``edge`` (a cursor's sort value and id) in the traversal order."""
        if len(edge) != 2 or not isinstance(edge[1], str) or (edge[0] is None and not self.nullable):
            raise InvalidCursorError("The cursor is not valid.")
        value, user_id = edge
        if value is not None:
            value = self._bind(value)
        down = self.descending != backwards
        cmp = "<" if down else ">"
        if self.unique:
            return f"t.sort_key {cmp} ?", [value]
        if value is None:
            # Valueless resources come last ascending (first descending), ordered by id.
            if down:
                return f"((t.sort_key IS NULL AND t.id {cmp} ?) OR t.sort_key IS NOT NULL)", [user_id]
            return f"(t.sort_key IS NULL AND t.id {cmp} ?)", [user_id]
        ordered = f"(t.sort_key {cmp} ? OR (t.sort_key = ? AND t.id {cmp} ?))"
        if not self.nullable:
            return ordered, [value, value, user_id]
        if down:
            return f"(t.sort_key IS NOT NULL AND {ordered})", [value, value, user_id]
        return f"(t.sort_key IS NULL OR {ordered})", [value, value, user_id]

    def _bind(self, value: Any) -> Any:
        if self.dates:
            if not isinstance(value, str):
                raise InvalidCursorError("The cursor is not valid.")
            try:
                moment = datetime.fromisoformat(value)
            except ValueError as exc:
                raise InvalidCursorError("The cursor is not valid.") from exc
            return User.created_at.db_value(moment)  # type: ignore[no-untyped-call]
        if isinstance(value, (dict, list)):
            raise InvalidCursorError("The cursor is not valid.")
        return value

    def edge(self, row: tuple[Any, ...]) -> list[Any]:
        """The cursor state of a fetched row: its sort value and id."""
        value = row[_SORT_KEY]
        if self.dates and value is not None:
            value = User.created_at.python_value(value).isoformat()  # type: ignore[no-untyped-call]
        return [value, row[0]]


def _order(tenant_id: int, registry: SchemaRegistry, sort_by: str | None, sort_order: str | None) -> _Order:
    descending = sort_order is not None and sort_order.lower() == "descending"
    target = parse_sort_target(sort_by, registry) if sort_by is not None else None
    if target is None or target.record == RESOURCE_TYPE:
        # Creation order: users added while a client pages through come after its pages.
        return _Order(User.created_at, descending, dates=True)
    if target.record == ID:
        return _Order(User.id, descending, unique=True)
    if target.record in (CREATED, LAST_MODIFIED):
        return _Order(User.created_at if target.record == CREATED else User.updated_at, descending, dates=True)
    if target.key == "username" and target.sub == "":
        # The uniqueness key (NFKC + casefold) is indexed and unique per tenant.
        return _Order(User.user_name_key, descending, unique=True)
    # The least of the user's values (one, unless the profile holds several for a single-valued
    # attribute), read per user: with a filter, for the matches only (an index probe each).
    value = _SORT_VALUES
    least = value.select(peewee.fn.MIN(_sort_column(value, target))).where(
        (value.user == User.id) & (value.attr == target.key) & (value.sub == target.sub)
    )
    return _Order(least, descending, nullable=True, walk=_walk(tenant_id, target))


_SORT_VALUES = UserValue.alias("s")  # made once: see _Aliases


def _sort_column(value: Any, target: Target) -> Any:
    kind = target.type
    if kind == "boolean":
        return peewee.Cast(value.flag, "INTEGER")
    if kind in ("integer", "decimal"):
        return value.num
    if kind == "dateTime":
        return value.instant
    return value.exact if target.case_exact else value.folded


# Walking a sort index ------------------------------------------------------------------------


@dataclass(frozen=True)
class _Walk:
    """How a page sorted by a profile attribute is read without a filter: in two sections, the
    users with a value (by the least of their values, then id) and those without (by id); last
    ascending, first descending (RFC 7644 §3.4.2.3). Each section is read in its order from an
    index and cut to the page, so a page costs what it holds, not what the tenant holds:

    - values: ``user_values``' sort index of the attribute's sort column (migration step 21):
      ``(tenant_id, attr, sub, <indexed>, user_id)``, walked from the cursor's edge. ``indexed``
      is the column itself for numbers, booleans and dates; for strings the first 128 characters
      of the compared one (``head`` of ``folded``, ``exact_head`` of ``exact``, which has no index:
      a caseExact sort reads the attribute's values and sorts them, migration step 21): two strings whose
      prefixes differ compare as their prefixes do, and a prefix shorter than 128 is the whole
      value, so the index order is the sort order but among values of 128 characters or more
      sharing their first 128, which ``_values_sql`` reads whole and sorts by the full value;
    - without a value: ``users (tenant_id, id)`` from the edge (``_valueless_sql``): a window
      of users probed one by one, bounded; where such users are too rare for it to fill the page,
      an anti-join against the sort index, which reads the attribute's values and the tenant's
      users (index only, but O(users): docs/scim-filters.md "Sorting by a profile attribute").
    """

    tenant_id: int
    attr: str
    sub: str
    indexed: str  # the index's sort column
    full: str  # the compared column (``indexed`` unless that is a prefix)
    key: str  # the sort key as selected (the cursors hold it)
    kind: str  # "string", "number", "flag"

    @property
    def no_value(self) -> str:
        """The sort key of a user without a value: NULL of the key's type (a UNION matches them)."""
        return {"number": "CAST(NULL AS DOUBLE PRECISION)", "flag": "CAST(NULL AS INTEGER)"}.get(self.kind, "NULL")

    @property
    def prefixed(self) -> bool:
        return self.indexed != self.full


def _walk(tenant_id: int, target: Target) -> _Walk:
    kind = target.type
    if kind == "boolean":
        return _Walk(tenant_id, target.key, target.sub, "flag", "flag", "CAST(s.flag AS INTEGER)", "flag")
    if kind in ("integer", "decimal"):
        return _Walk(tenant_id, target.key, target.sub, "num", "num", "s.num", "number")
    if kind == "dateTime":
        return _Walk(tenant_id, target.key, target.sub, "instant", "instant", "s.instant", "string")
    if target.case_exact:
        return _Walk(tenant_id, target.key, target.sub, "exact_head", "exact", "s.exact", "string")
    return _Walk(tenant_id, target.key, target.sub, "head", "folded", "s.folded", "string")


def _edge_value(walk: _Walk, value: Any, sqlite: bool) -> Any:
    """A cursor's sort value as the sort column compares it; ``invalidCursor`` when it is none."""
    if walk.kind == "string" and isinstance(value, str):
        return value
    if walk.kind == "number" and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if walk.kind == "flag" and value in (0, 1) and not isinstance(value, bool):
        return value if sqlite else bool(value)
    raise InvalidCursorError("The cursor is not valid.")


def _values_condition(
    walk: _Walk, down: bool, edge: list[Any] | None, sqlite: bool, *, walked: bool = True
) -> tuple[str, list[Any]]:
    """The rows of ``user_values`` (``s``) that are users' least values, past ``edge``: in terms
    the sort index answers (``walked``), or by the full value (for ``_values_sql``'s ``l``)."""
    past = "<" if down else ">"
    index, full = f"s.{walk.indexed}", f"s.{walk.full}"
    condition = f"s.tenant_id = ? AND s.attr = ? AND s.sub = ? AND {index} IS NOT NULL"
    params: list[Any] = [walk.tenant_id, walk.attr, walk.sub]
    if edge is not None and not walked:
        condition += f" AND ({full}, s.user_id) {past} (?, ?)"
        params += [_edge_value(walk, edge[0], sqlite), edge[1]]
    elif edge is not None:
        value = _edge_value(walk, edge[0], sqlite)
        if walk.prefixed and len(value) >= INDEXED_PREFIX:
            head = value[:INDEXED_PREFIX]
            condition += f" AND {index} {past}= ? AND ({index} {past} ? OR ({full}, s.user_id) {past} (?, ?))"
            params += [head, head, value, edge[1]]
        else:
            # A shorter value is its own prefix: the index answers the row comparison.
            condition += f" AND ({index}, s.user_id) {past} (?, ?)"
            params += [value, edge[1]]
    # One row per user: its least value (MIN, whatever the direction), the first stored of equal
    # ones (a profile may hold two equal values where the schema allows one: "familyName" and
    # "FAMILYNAME" are one sub-attribute); the row's identity is the backend's own.
    row = "rowid" if sqlite else "ctid"
    condition += (
        " AND NOT EXISTS (SELECT 1 FROM user_values d WHERE d.user_id = s.user_id AND d.attr = s.attr "  # noqa: S608
        f"AND d.sub = s.sub AND d.{walk.full} IS NOT NULL AND (d.{walk.full}, d.{row}) < ({full}, s.{row}))"
    )
    return condition, params


def _values_sql(walk: _Walk, down: bool, edge: list[Any] | None, limit: int, sqlite: bool) -> tuple[str, list[Any]]:
    """The first ``limit`` users with a value past ``edge`` (a cursor's value and id), by their
    least value then id (``down``: greatest first): (id, sort_key) rows, in no particular order.

    ``w`` walks the index. For strings, it meets the rows in sort order but among rows sharing
    a whole 128-character prefix (values of 128 characters or more); the groups of those that
    ``w`` reached are read whole by ``l`` and sorted by the full value. Every user of the page is
    in ``w`` or ``l``: the rows ``w`` meets before a user's own are of users sorting before it or
    of its own group, so ``w`` reaches the group of every user of the page."""
    direction = "DESC" if down else "ASC"
    index, full = f"s.{walk.indexed}", f"s.{walk.full}"
    condition, params = _values_condition(walk, down, edge, sqlite)
    walked = (
        f"SELECT s.user_id AS id, {walk.key} AS sort_key, {index} AS h FROM user_values s "  # noqa: S608
        f"WHERE {condition} ORDER BY {index} {direction}, s.user_id {direction} LIMIT ?"
    )
    if not walk.prefixed:
        return f"SELECT id, sort_key FROM ({walked}) AS w", [*params, limit]  # noqa: S608
    # ``l`` reads the groups by their prefix (the index), its edge test is on the full value: a
    # test the index could answer too would tempt SQLite to walk the index from the edge.
    grouped, grouped_params = _values_condition(walk, down, edge, sqlite, walked=False)
    sql = (
        f"WITH w AS ({walked}) SELECT id, sort_key FROM w UNION "  # noqa: S608
        f"SELECT id, sort_key FROM (SELECT s.user_id AS id, {walk.key} AS sort_key FROM user_values s "
        f"WHERE {grouped} AND {index} IN (SELECT h FROM w WHERE length(h) >= {INDEXED_PREFIX}) "
        f"ORDER BY {full} {direction}, s.user_id {direction} LIMIT ?) AS l"
    )
    return sql, [*params, limit, *grouped_params, limit]


def _valueless_sql(
    walk: _Walk, down: bool, edge: list[Any] | None, window: int | None, sqlite: bool
) -> tuple[str, list[Any]]:
    """The users without a value past ``edge``'s id (a cursor's), as (id, NULL) rows in no
    particular order (the page statement orders them by id and cuts them to the page).

    With ``window``: among the next ``window`` users by id only, each probed for a value (cheap
    where users without a value are dense, and bounded). Without: all of them, found by an
    anti-join against the attribute's sort index, which reads the attribute's values and the
    tenant's users once each, index only, whatever the page (where such users are rare, the
    probes would find them one per many users). PostgreSQL is kept from planning it as probes
    by ``OFFSET 0`` (the LIMIT above would make them look cheap); SQLite builds a temporary index
    of the subquery of ``NOT IN`` once."""
    params: list[Any] = [walk.tenant_id]
    past = ""
    if edge is not None:
        past = f" AND id {'<' if down else '>'} ?"
        params.append(edge[1])
    has_value = f"d.attr = ? AND d.sub = ? AND d.{walk.indexed} IS NOT NULL"
    if window is not None:
        sql = (
            f"SELECT u.id AS id, {walk.no_value} AS sort_key FROM (SELECT id FROM users WHERE tenant_id = ?{past} "  # noqa: S608
            f"ORDER BY id {'DESC' if down else 'ASC'} LIMIT ?) AS u "
            f"WHERE NOT EXISTS (SELECT 1 FROM user_values d WHERE d.user_id = u.id AND {has_value})"
        )
        return sql, [*params, window, walk.attr, walk.sub]
    values = f"SELECT d.user_id FROM user_values d WHERE d.tenant_id = ? AND {has_value}"  # noqa: S608
    if sqlite:
        sql = f"SELECT id, {walk.no_value} AS sort_key FROM users WHERE tenant_id = ?{past} AND id NOT IN ({values})"  # noqa: S608
    else:
        sql = (
            f"SELECT u.id AS id, {walk.no_value} AS sort_key FROM (SELECT id FROM users u WHERE tenant_id = ?{past} "  # noqa: S608
            f"AND NOT EXISTS ({values} AND d.user_id = u.id) OFFSET 0) AS u"
        )
    return sql, [*params, walk.tenant_id, walk.attr, walk.sub]


def _valued_users(walk: _Walk) -> int:
    """How many users have a value: what a ``startIndex`` past the first section skips of it."""
    db = current_database()
    condition, params = _values_condition(walk, False, None, is_sqlite(db))
    sql = f"SELECT COUNT(*) FROM user_values s WHERE {condition}"  # noqa: S608
    return int(db.execute_sql(sql.replace("?", db.param), params).fetchone()[0])


def _walked_rows(
    order: _Order,
    walk: _Walk,
    *,
    backwards: bool,
    edge: list[Any] | None,
    limit: int,
    offset: int,
    revocation: str | None,
) -> tuple[list[tuple[Any, ...]], bool | None]:
    """``_page_rows`` of a sort by a profile attribute without a filter: the page read section
    by section (``_Walk``), a page statement each, the next only when the page is not full.

    The users without a value: first those of a window of users, four times the page, probed
    one by one (enough where at least one in four users has no value); if that does not fill
    the page, all of them by the anti-join, and then, if the values follow (descending), in the
    same statement as the values (the anti-join is complete, so the two need no third)."""
    if edge is not None and (len(edge) != 2 or not isinstance(edge[1], str)):
        raise InvalidCursorError("The cursor is not valid.")
    sqlite = is_sqlite(current_database())
    down = order.descending != backwards
    sections = ["valueless", "values"] if down else ["values", "valueless"]
    if edge is not None:
        # The cursor's section, and what follows it.
        del sections[: sections.index("valueless" if edge[0] is None else "values")]
    rows: list[tuple[Any, ...]] = []
    revoked: list[bool | None] = [None]

    def read(keys: tuple[str, list[Any]], wanted: int, skip: int) -> list[tuple[Any, ...]]:
        found, checked = _page_statement(
            *keys,
            order,
            backwards=backwards,
            edge=None,
            limit=wanted,
            offset=skip,
            revocation=revocation if revoked[0] is None else None,
        )
        revoked[0] = checked if revoked[0] is None else revoked[0]
        return found

    for number, section in enumerate(sections):
        start = edge if number == 0 else None
        wanted = limit - len(rows)
        if section == "values":
            found = read(_values_sql(walk, down, start, offset + wanted, sqlite), wanted, offset)
        else:
            window = 4 * (offset + wanted) + 16
            found = read(_valueless_sql(walk, down, start, window, sqlite), wanted, offset) if window <= _WINDOW else []
            if len(found) < wanted:
                keys = _valueless_sql(walk, down, start, None, sqlite)
                if number + 1 < len(sections):
                    values = _values_sql(walk, down, None, offset + wanted, sqlite)
                    rows += read(_union(keys, values), wanted, offset)
                    break
                found = read(keys, wanted, offset)
        rows += found
        if len(rows) >= limit:
            break
        # ``startIndex`` past the values: the rest of the offset is in the next section.
        offset = max(offset - _valued_users(walk), 0) if offset and not found else 0
    return rows, revoked[0]


_WINDOW = 1024  # the most users probed one by one for a page (deeper: the anti-join)


def _union(first: tuple[str, list[Any]], second: tuple[str, list[Any]]) -> tuple[str, list[Any]]:
    sql = f"SELECT id, sort_key FROM ({first[0]}) AS a UNION ALL SELECT id, sort_key FROM ({second[0]}) AS b"  # noqa: S608
    return sql, [*first[1], *second[1]]


_PAGE_COLUMNS = (
    "u.id, u.tenant_id, u.user_name, u.profile, u.version, u.created_at, u.updated_at, "
    "u.password_hash, u.password_changed_at, t.sort_key"
)
_SORT_KEY = 9  # the column of t.sort_key in a page row; the facts follow it


def _page_rows(
    where: Any,
    order: _Order,
    *,
    backwards: bool,
    edge: list[Any] | None,
    limit: int,
    offset: int = 0,
    revocation: str | None = None,
) -> tuple[list[tuple[Any, ...]], bool | None]:
    """One page of the filtered users, past ``edge``, in order, with the users' rows and facts.
    With ``revocation`` (a token's jti), also whether that token is revoked: a column of every
    row (an uncorrelated subquery: evaluated once), so known only when the page has a row."""
    if order.walk is not None and isinstance(where, _Everyone):
        return _walked_rows(
            order, order.walk, backwards=backwards, edge=edge, limit=limit, offset=offset, revocation=revocation
        )
    keys_sql, keys_params = _keys(current_database(), where, order)
    return _page_statement(
        keys_sql, keys_params, order, backwards=backwards, edge=edge, limit=limit, offset=offset, revocation=revocation
    )


def _page_statement(
    keys_sql: str,
    keys_params: list[Any],
    order: _Order,
    *,
    backwards: bool,
    edge: list[Any] | None,
    limit: int,
    offset: int,
    revocation: str | None,
) -> tuple[list[tuple[Any, ...]], bool | None]:
    """The page statement: of the users ``keys_sql`` selects (``t``: id and sort key), those past
    ``edge``, in order, cut to the page; the users' rows are read for that page only, so a sort
    over many users moves ids, not profiles."""
    db = current_database()
    page = f"SELECT t.id, t.sort_key FROM ({keys_sql}) AS t"  # noqa: S608 (peewee-built SQL, parameters bound)
    params = list(keys_params)
    if edge is not None:
        condition, values = order.beyond(edge, backwards)
        page += f" WHERE {condition}"
        params += values
    ordering = order.order_by(backwards)
    page += f" ORDER BY {ordering} LIMIT ? OFFSET ?"
    params += [limit, offset]
    # The page's users with their facts (storage/caller.py): one statement for the whole page.
    fact_columns, fact_joins = page_fact_sql(is_sqlite(db))
    if revocation is not None:
        fact_columns += f", {REVOKED_TOKEN_SQL}"
        params.insert(0, revocation)
    sql = (
        f"SELECT {_PAGE_COLUMNS}, {fact_columns} FROM ({page}) AS t JOIN users AS u ON u.id = t.id "  # noqa: S608
        f"{fact_joins} ORDER BY {ordering}"
    )
    # Prepared on PostgreSQL once the text (the filter's shape) recurs: planning it costs more
    # than running it (storage/prepared.py).
    rows = list(execute_statement(sql.replace("?", db.param), params).fetchall())
    if revocation is None or not rows:
        return rows, None
    return [row[:-1] for row in rows], bool(rows[0][-1])


_KEYS: dict[tuple[Any, str], str] = {}


def _keys(db: Any, where: Any, order: _Order) -> tuple[str, list[Any]]:
    """The ids and sort keys of the filtered users: a SELECT over ``users`` (``t1``). Sorted by
    a column of ``users``, its text is the SELECT of the sort column (made once per dialect) and
    the condition's text (compiled once per filter shape, storage/filter_plans.py): peewee builds
    neither per request."""
    if isinstance(order.key, peewee.Field) and isinstance(where, peewee.SQL):
        key = (type(db), order.key.name)
        head = _KEYS.get(key)
        if head is None:
            head = _KEYS.setdefault(key, User.select(User.id, order.key.alias("sort_key")).sql()[0])
        return f"{head} WHERE {where.sql}", list(where.params)
    sql, params = User.select(User.id, peewee.Alias(order.key, "sort_key")).where(where).sql()
    if not isinstance(order.key, peewee.Field):
        # A correlated key (a profile attribute's least value): kept from being merged into the
        # page statement, where it would be read again for each use of ``t.sort_key``.
        sql += " LIMIT -1" if is_sqlite(db) else " OFFSET 0"
    return sql, list(params)


def _page(
    rows: list[tuple[Any, ...]], total: int, start_index: int | None, revoked: bool | None, **cursors: str | None
) -> Page[StoredUser]:
    stamp = now()
    # Profiles decoded when read: a page whose users' texts are kept reads none (user_view.user_texts).
    users = [listed_user_from_row(row) for row in rows]
    facts = {row[0]: facts_from_columns(tuple(row[_SORT_KEY + 1 :]), stamp) for row in rows}
    return Page(total_results=total, resources=users, start_index=start_index, facts=facts, revoked=revoked, **cursors)


def _index_page(
    where: Any, order: _Order, start_index: int, count: int, revocation: str | None = None
) -> Page[StoredUser]:
    if count == 0:
        return Page(total_results=_count(where), resources=[], start_index=start_index)
    rows, revoked = _page_rows(
        where, order, backwards=False, edge=None, limit=count, offset=start_index - 1, revocation=revocation
    )
    # A short page that is not past the end holds the last match: the total needs no COUNT(*)
    # (an equality lookup is one statement). A full page, or none past the start, counts.
    short = 0 < len(rows) < count or (start_index == 1 and not rows)
    return _page(rows, start_index - 1 + len(rows) if short else _count(where), start_index, revoked)


def _cursor_page(
    where: Any,
    order: _Order,
    count: int,
    direction: str,
    edge: list[Any] | None,
    key: bytes,
    digest: str,
    revocation: str | None = None,
) -> Page[StoredUser]:
    backwards = direction == "previous"
    if count == 0:
        return Page(total_results=_count(where), resources=[], start_index=None)
    rows, revoked = _page_rows(where, order, backwards=backwards, edge=edge, limit=count + 1, revocation=revocation)
    more = len(rows) > count
    # The first page with nothing after it holds every match: no COUNT(*) needed.
    total = len(rows) if edge is None and not more else _count(where)
    rows = rows[:count]
    if backwards:
        rows.reverse()
    next_cursor = previous_cursor = None
    if rows:
        # Forward: a next page if one more row was there, a previous one unless this is the
        # first page. Backward: the page we came from is next; a previous one if more rows.
        if more or backwards:
            next_cursor = encode_cursor(key, digest, "next", order.edge(rows[-1]))
        if more if backwards else edge is not None:
            previous_cursor = encode_cursor(key, digest, "previous", order.edge(rows[0]))
    return _page(rows, total, None, revoked, next_cursor=next_cursor, previous_cursor=previous_cursor)

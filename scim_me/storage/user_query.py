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
    The page query selects it as ``t.sort_key`` from the filtered users (``t``)."""

    key: Any
    descending: bool
    nullable: bool = False
    unique: bool = False
    dates: bool = False  # the key is a timestamp column
    joined: Any = None  # a subquery of (sort_user, sort_value) the users are LEFT JOINed to

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
    # One pass over the attribute's rows (its index range), grouped, joined to the users: a
    # correlated subquery per user costs an index probe for every user of the tenant instead.
    value = _SORT_VALUES
    # On SQLite grouped by ``+user_id`` (the same groups): by the bare column SQLite walks the
    # user_id index over every value of every attribute to meet the groups in order, rather than
    # read this attribute's range of the (tenant_id, attr, sub, head) index and sort it.
    groups = peewee.NodeList((peewee.SQL("+"), value.user), glue="") if is_sqlite(current_database()) else value.user
    values = (
        value.select(value.user.alias("sort_user"), peewee.fn.MIN(_sort_column(value, target)).alias("sort_value"))
        .where((value.tenant_id == tenant_id) & (value.attr == target.key) & (value.sub == target.sub))
        .group_by(groups)
        .alias("sorted_values")
    )
    return _Order(values.c.sort_value, descending, nullable=True, joined=values)


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
    """One page of the filtered users (``t``: id and sort key), past ``edge``, in order; the
    users' rows are read for that page only, so a sort over many users moves ids, not profiles.
    With ``revocation`` (a token's jti), also whether that token is revoked: a column of every
    row (an uncorrelated subquery: evaluated once), so known only when the page has a row."""
    db = current_database()
    keys_sql, keys_params = _keys(db, where, order)
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
    """The ids and sort keys of the filtered users: a SELECT over ``users`` (``t1``). Without a
    joined sort, its text is the SELECT of the sort column (made once per dialect) and the
    condition's text (compiled once per filter shape, storage/filter_plans.py): peewee builds
    neither per request."""
    if order.joined is None and isinstance(where, peewee.SQL):
        key = (type(db), order.key.name)
        head = _KEYS.get(key)
        if head is None:
            head = _KEYS.setdefault(key, User.select(User.id, order.key.alias("sort_key")).sql()[0])
        return f"{head} WHERE {where.sql}", list(where.params)
    keys = User.select(User.id, order.key.alias("sort_key"))
    if order.joined is not None:
        keys = keys.join(order.joined, peewee.JOIN.LEFT_OUTER, on=(order.joined.c.sort_user == User.id))
    sql, params = keys.where(where).sql()
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

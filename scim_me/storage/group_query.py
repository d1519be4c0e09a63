"""Pages of a tenant's groups for ``GET /scim2/Groups`` (RFC 7644 §3.4.2), filtered in SQL.

A group has few attributes, all columns: ``displayName`` (compared on its folded key, caseExact
false), ``externalId`` and ``id`` (caseExact), ``meta.created`` / ``meta.lastModified``, and
``members`` (``members.value eq "{id}"`` or ``members[value eq "{id}"]``: an indexed lookup in
the membership table; ``members.display`` by the member's userName; ``members pr``). ``and``,
``or``, ``not`` and grouping combine them. Filters are parsed and bound by the same parser as
/Users (core/query_filters.py, against the Group schema); anything else is 400 ``invalidFilter``
before a query runs.
"""

from __future__ import annotations

import json
from collections.abc import Hashable
from dataclasses import dataclass
from datetime import UTC
from datetime import datetime
from typing import Any

import peewee

from scim_me.core.filter_shapes import derive
from scim_me.core.filter_shapes import same
from scim_me.core.paging import decode_cursor
from scim_me.core.paging import encode_cursor
from scim_me.core.paging import query_digest
from scim_me.core.query_filters import CREATED
from scim_me.core.query_filters import ID
from scim_me.core.query_filters import LAST_MODIFIED
from scim_me.core.query_filters import RESOURCE_TYPE
from scim_me.core.query_filters import And
from scim_me.core.query_filters import Compare
from scim_me.core.query_filters import Node
from scim_me.core.query_filters import Not
from scim_me.core.query_filters import Or
from scim_me.core.query_filters import Present
from scim_me.core.query_filters import Within
from scim_me.core.schemas import SchemaRegistry
from scim_me.core.search_values import parse_instant
from scim_me.errors import InvalidCursorError
from scim_me.errors import InvalidFilterError
from scim_me.errors import InvalidValueError
from scim_me.storage import filter_plans
from scim_me.storage.db import current_database
from scim_me.storage.db import is_sqlite
from scim_me.storage.grants import REVOKED_TOKEN_SQL
from scim_me.storage.groups import Member
from scim_me.storage.groups import StoredGroup
from scim_me.storage.groups import display_key
from scim_me.storage.models import Group
from scim_me.storage.models import GroupMember
from scim_me.storage.models import User
from scim_me.storage.prepared import execute as execute_statement
from scim_me.storage.users import user_name_key

_TRUE = peewee.SQL("1 = 1")
_FALSE = peewee.SQL("1 = 0")
_SORTS: dict[str, Any] = {
    "displayname": Group.display_key,
    "externalid": Group.external_id,
    "id": Group.id,
    "meta.created": Group.created_at,
    "meta.lastmodified": Group.updated_at,
}


@dataclass(frozen=True)
class GroupPage:
    total: int
    groups: list[StoredGroup]
    next_cursor: str | None = None
    previous_cursor: str | None = None
    # Whether the token ``search_groups`` was asked about (``revocation``) is revoked, as the page
    # statement read it; None when it read no row (or none was asked).
    revoked: bool | None = None
    # The page's groups' members, when the page statement read them (``members``, PostgreSQL).
    members: dict[str, list[Member]] | None = None


def _string(column: Any, op: str, value: Any, attr: str) -> Any:
    if op == "pr":
        return column.is_null(False) & (column != "")
    if value is None:
        return column.is_null() if op == "eq" else column.is_null(False)
    if not isinstance(value, str):
        raise InvalidFilterError(f"{attr} is compared with a string.")
    if op == "eq":
        return column == value
    if op == "ne":
        return column.is_null() | (column != value)
    if op == "sw":
        return peewee.fn.SUBSTR(column, 1, len(value)) == value
    if op == "ew":
        return (peewee.fn.LENGTH(column) >= len(value)) & (
            peewee.fn.SUBSTR(column, peewee.fn.LENGTH(column) - len(value) + 1) == value
        )
    if op == "co":
        finder = peewee.fn.INSTR(column, value) if is_sqlite(current_database()) else peewee.fn.STRPOS(column, value)
        return finder > 0
    return {"gt": column > value, "ge": column >= value, "lt": column < value, "le": column <= value}[op]


def _instant(column: Any, op: str, value: Any) -> Any:
    if op == "pr":
        return _TRUE
    moment = parse_instant(value)
    if moment is None:
        raise InvalidFilterError(f"{value} is not an xsd:dateTime.")
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return {
        "eq": column == moment,
        "ne": column != moment,
        "gt": column > moment,
        "ge": column >= moment,
        "lt": column < moment,
        "le": column <= moment,
    }[op]


def _member_test(member: Any, node: Node) -> Any:
    """A condition on one membership row (``member``) from a filter on member sub-attributes."""
    if isinstance(node, And):
        return _member_test(member, node.left) & _member_test(member, node.right)
    if isinstance(node, Or):
        return _member_test(member, node.left) | _member_test(member, node.right)
    if isinstance(node, Not):
        return ~_member_test(member, node.inner)
    if isinstance(node, Present):
        return _TRUE
    if isinstance(node, Compare) and node.op in ("eq", "ne") and isinstance(node.value, str):
        # Parameters derived from the literal: one compiled shape serves every member
        # (storage/filter_plans.py).
        if node.target.sub == "value":
            test = member.user == derive(node.value, same)
        elif node.target.sub == "display":
            person = User.alias()
            key = derive(node.value, user_name_key)
            test = member.user.in_(person.select(person.id).where(person.user_name_key == key))
        elif node.target.sub == "type":
            test = _TRUE if node.value.lower() == "user" else _FALSE
        else:
            raise InvalidFilterError(f"members.{node.target.sub} cannot be filtered on.")
        return test if node.op == "eq" else ~test
    raise InvalidFilterError("Members are filtered by value, display or type with eq, ne or pr.")


def _members(node: Node) -> Any:
    """Groups with a membership row satisfying ``node`` (the membership table's indexes).

    A test that names members (``members.value eq "{id}"``, ``members.display eq``) starts from
    the members: ``id IN (SELECT group_id ... WHERE user_id = ?)`` reads the user_id index once,
    on SQLite as on PostgreSQL; other tests (``pr``, ``ne``) probe each group's members
    (``EXISTS`` on the (group_id, user_id) index)."""
    member = GroupMember.alias()
    if _names_members(node):
        return Group.id.in_(member.select(member.group).where(_member_test(member, node)))
    return peewee.fn.EXISTS(
        member.select(peewee.SQL("1")).where((member.group == Group.id) & _member_test(member, node))
    )


def _names_members(node: Node) -> bool:
    """Whether every membership row ``node`` accepts has a given user (value or display eq)."""
    if isinstance(node, And):
        return _names_members(node.left) or _names_members(node.right)
    if isinstance(node, Or):
        return _names_members(node.left) and _names_members(node.right)
    return isinstance(node, Compare) and node.op == "eq" and node.target.sub in ("value", "display")


def _leaf(node: Compare | Present) -> Any:
    target = node.target
    op = node.op if isinstance(node, Compare) else "pr"
    value = node.value if isinstance(node, Compare) else None
    if target.key == "members":
        return _members(node)
    if op in ("eq", "ne") and isinstance(value, str):
        # The SQL text of these is the same for every literal (storage/filter_plans.py).
        if target.record == ID:
            return _string(Group.id, op, derive(value, same), "id")
        if target.key == "displayname" and target.record is None:
            return _string(Group.display_key, op, derive(value, display_key), "displayName")
        if target.key == "externalid" and target.record is None:
            return _string(Group.external_id, op, derive(value, same), "externalId")
    if target.record == ID:
        return _string(Group.id, op, value, "id")
    if target.record == CREATED:
        return _instant(Group.created_at, op, value)
    if target.record == LAST_MODIFIED:
        return _instant(Group.updated_at, op, value)
    if target.record == RESOURCE_TYPE:
        return _TRUE if op == "pr" or (op == "eq" and value == "Group") or (op == "ne" and value != "Group") else _FALSE
    if target.key == "displayname":
        folded = display_key(value) if isinstance(value, str) else value
        return _string(Group.display_key, op, folded, "displayName")
    if target.key == "externalid":
        return _string(Group.external_id, op, value, "externalId")
    raise InvalidFilterError(f"Groups cannot be filtered on {target.key}.")


def _condition(node: Node) -> Any:
    if isinstance(node, And):
        return _condition(node.left) & _condition(node.right)
    if isinstance(node, Or):
        return _condition(node.left) | _condition(node.right)
    if isinstance(node, Not):
        return ~_condition(node.inner)
    if isinstance(node, Within):
        if node.target.key != "members":
            raise InvalidFilterError(f"Groups cannot be filtered on {node.target.key}.")
        return _members(node.inner)
    return _leaf(node)


@dataclass(frozen=True)
class _Order:
    """A sort of groups: a column, its direction, whether it can be NULL (externalId: no value
    sorts last ascending, first descending, RFC 7644 §3.4.2.3, on both databases) and whether it
    is unique (id: no tie-break)."""

    column: Any
    descending: bool
    nullable: bool = False

    @property
    def unique(self) -> bool:
        return self.column is Group.id

    def order_by(self, backwards: bool) -> list[Any]:
        down = self.descending != backwards
        terms: list[Any] = []
        if self.nullable:
            missing = peewee.Case(None, [(self.column.is_null(), 1)], 0)
            terms.append(missing.desc() if down else missing.asc())
        terms.append(self.column.desc() if down else self.column.asc())
        if not self.unique:
            terms.append(Group.id.desc() if down else Group.id.asc())
        return terms

    def beyond(self, edge: list[Any], backwards: bool) -> Any:
        """Groups strictly past ``edge`` (a cursor's sort value and id) in the traversal order."""
        if len(edge) != 2 or not isinstance(edge[1], str) or isinstance(edge[0], (dict, list, bool)):
            raise InvalidCursorError("The cursor is not valid.")
        value, group_id = edge
        if value is None and not self.nullable:
            raise InvalidCursorError("The cursor is not valid.")
        if value is not None and self.column.name in ("created_at", "updated_at"):
            if not isinstance(value, str):
                raise InvalidCursorError("The cursor is not valid.")
            try:
                value = datetime.fromisoformat(value)
            except ValueError as exc:
                raise InvalidCursorError("The cursor is not valid.") from exc
        down = self.descending != backwards

        def past(column: Any, bound: Any) -> Any:
            return column < bound if down else column > bound

        if self.unique:
            return past(self.column, value)
        if value is None:
            # Valueless groups come last ascending (first descending), ordered by id.
            after = self.column.is_null() & past(Group.id, group_id)
            return (after | self.column.is_null(False)) if down else after
        ordered = past(self.column, value) | ((self.column == value) & past(Group.id, group_id))
        if not self.nullable:
            return ordered
        return (self.column.is_null(False) & ordered) if down else (self.column.is_null() | ordered)

    def edge(self, group: StoredGroup) -> list[Any]:
        # By column name: peewee columns compare (==) into SQL expressions, not booleans.
        name = self.column.name
        value: Any
        if name == "display_key":
            value = display_key(group.display_name)
        elif name in ("created_at", "updated_at"):
            value = getattr(group, name).isoformat()
        else:  # id, external_id
            value = getattr(group, name)
        return [value, group.id]


def search_groups(
    tenant_id: int,
    registry: SchemaRegistry,
    *,
    filter: str | None = None,
    offset: int = 0,
    limit: int = 100,
    sort_by: str | None = None,
    descending: bool = False,
    cursor: str | None = None,
    cursor_key: bytes = b"",
    revocation: str | None = None,
    members: bool = False,
) -> GroupPage:
    """``limit`` groups matching ``filter`` and how many match in all: after ``offset`` (index
    paging), or, with ``cursor`` (``""`` for the first page, else a ``next_cursor`` /
    ``previous_cursor`` of the same filter and sort), by keyset as /Users (RFC 9865)."""
    where = Group.tenant == tenant_id
    if filter is not None:
        # Compiled once per shape of filter, with the tenant's test (storage/filter_plans.py):
        # lookups repeat one shape.
        where = filter_plans.condition(
            filter, registry, tenant_id, Group, lambda node: (Group.tenant == tenant_id) & _condition(node)
        )
    column = _SORTS.get((sort_by or "meta.created").lower())
    if column is None:
        raise InvalidValueError(f"Groups cannot be sorted by {sort_by}; sort by {', '.join(sorted(_SORTS))}.")
    order = _Order(column, descending, nullable=column.name == "external_id")
    if cursor is None:
        if limit <= 0:
            return GroupPage(_count(where), [])
        memo = (order.column.name, descending, order.nullable)
        groups, revoked, found = _rows(where, order.order_by(False), limit, offset, revocation, members, memo)
        # A short page not past the end holds the last match: its own total, no COUNT(*).
        short = 0 < len(groups) < limit or (offset == 0 and not groups)
        return GroupPage(offset + len(groups) if short else _count(where), groups, revoked=revoked, members=found)
    if not cursor_key:
        raise InvalidCursorError("Cursor paging is not configured.")
    digest = query_digest("Groups", filter, sort_by.lower() if sort_by else None, "d" if descending else "a")
    direction, edge = decode_cursor(cursor_key, digest, cursor) if cursor else ("next", None)
    if limit <= 0:
        return GroupPage(_count(where), [])
    backwards = direction == "previous"
    condition = where if edge is None else where & order.beyond(edge, backwards)
    groups, revoked, found = _rows(condition, order.order_by(backwards), limit + 1, 0, revocation, members)
    more = len(groups) > limit
    total = len(groups) if edge is None and not more else _count(where)
    groups = groups[:limit]
    if backwards:
        groups.reverse()
    next_cursor = previous_cursor = None
    if groups:
        if more or backwards:
            next_cursor = encode_cursor(cursor_key, digest, "next", order.edge(groups[-1]))
        if more if backwards else edge is not None:
            previous_cursor = encode_cursor(cursor_key, digest, "previous", order.edge(groups[0]))
    return GroupPage(total, groups, next_cursor, previous_cursor, revoked, found)


def _count(where: Any) -> int:
    return int(Group.select(peewee.fn.COUNT(peewee.SQL("*"))).where(where).scalar() or 0)


_COLUMNS = (
    Group.id,
    Group.tenant,
    Group.display_name,
    Group.external_id,
    Group.version,
    Group.created_at,
    Group.updated_at,
)


# A group's members (id, userName) in the order they were added, as JSON text: a column of the
# page statement on PostgreSQL, where a statement of its own costs a round trip
# (storage/groups.members_of_groups reads them on SQLite).
_MEMBERS_POSTGRESQL = (
    "(SELECT json_agg(json_build_array(m.user_id, mu.user_name) ORDER BY m.id)::text "
    'FROM scim_group_members m JOIN users mu ON mu.id = m.user_id WHERE m.group_id = "t1"."id")'
)


# Page statements whose text was built once: (dialect, condition text, sort, columns) -> the
# text, or None for a sort whose text holds parameters of its own (built per request).
_STATEMENTS: dict[tuple[Any, ...], str | None] = {}


def _statement(
    db: Any, where: Any, order: list[Any], limit: int, offset: int, columns: list[Any], memo: Hashable | None
) -> tuple[str, list[Any]]:
    """The page's SELECT. With a condition compiled per filter shape (an SQL node,
    storage/filter_plans.py) and ``memo`` naming the sort, its text is built by peewee once and
    reused with this request's parameters: the columns' (a token's jti), the condition's, LIMIT
    and OFFSET, in that order, which the first build checks."""
    if memo is None or not isinstance(where, peewee.SQL):
        sql, params = Group.select(*columns).where(where).order_by(*order).offset(offset).limit(limit).sql()
        return sql, list(params)
    column_params = [param for column in columns if isinstance(column, peewee.SQL) for param in column.params or ()]
    expected = [*column_params, *where.params, limit, offset]
    key = (type(db), where.sql, memo, len(columns), len(column_params))
    if key in _STATEMENTS:
        text = _STATEMENTS[key]
        if text is not None:
            return text, expected
    sql, params = Group.select(*columns).where(where).order_by(*order).offset(offset).limit(limit).sql()
    if len(_STATEMENTS) > 1024:
        _STATEMENTS.clear()
    _STATEMENTS[key] = sql if list(params) == expected else None
    return sql, list(params)


def _rows(
    where: Any,
    order: list[Any],
    limit: int,
    offset: int,
    revocation: str | None = None,
    members: bool = False,
    memo: Hashable | None = None,
) -> tuple[list[StoredGroup], bool | None, dict[str, list[Member]] | None]:
    """A page of groups; on PostgreSQL prepared once its text (the filter's shape) recurs, as the
    /Users page (storage/prepared.py): planning costs more than running a lookup. With
    ``revocation`` (a token's jti) also whether that token is revoked, when a row came back;
    with ``members``, on PostgreSQL, each group's members (else None: read them separately)."""
    db = current_database()
    columns: list[Any] = list(_COLUMNS)
    if revocation is not None:
        columns.append(peewee.SQL(REVOKED_TOKEN_SQL.replace("?", db.param), [revocation]))
    with_members = members and not is_sqlite(db)
    if with_members:
        columns.append(peewee.SQL(_MEMBERS_POSTGRESQL))
    sql, params = _statement(db, where, order, limit, offset, columns, memo)
    moment: Any = Group.created_at  # peewee's DateTimeField reads SQLite's text as a datetime
    rows = execute_statement(sql, params).fetchall()
    groups = [
        StoredGroup(row[0], row[1], row[2], row[3], row[4], moment.python_value(row[5]), moment.python_value(row[6]))
        for row in rows
    ]
    revoked = bool(rows[0][7]) if revocation is not None and rows else None
    found = None
    if with_members:
        found = {
            row[0]: [Member(user_id, user_name) for user_id, user_name in json.loads(row[-1] or "[]")] for row in rows
        }
    return groups, revoked, found

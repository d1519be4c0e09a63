"""Sorting /Users by a profile attribute (RFC 7644 §3.4.2.3) on SQLite and PostgreSQL, as
storage/user_query.py reads it without a filter: by walking the attribute's sort index (migration
step 21) section by section, users with a value then those without. Every order here is the
reference's (core/query_filters.sort_value: strings by code point of the folded value unless
caseExact, numbers, booleans and dates by value, the least of several values; no value last
ascending, first descending; ties by id), on both backends, whatever the page size, the paging
(``startIndex`` or cursors, forward and back) and with a filter. And a page costs what it holds:
its work does not grow with the tenant (``test_a_sorted_page_costs_the_same_in_a_tenant_ten_times_larger``).
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from scim_me.core.query_filters import Record
from scim_me.core.query_filters import evaluate
from scim_me.core.query_filters import parse_search_filter
from scim_me.core.query_filters import parse_sort_target
from scim_me.core.query_filters import sort_value
from scim_me.core.schemas import CUSTOM_URN
from scim_me.core.schemas import ENTERPRISE_URN
from scim_me.core.schemas import load_registry
from scim_me.core.schemas import parse_schema
from scim_me.core.usernames import skeleton
from scim_me.errors import InvalidCursorError
from scim_me.storage.db import is_sqlite
from scim_me.storage.models import User
from scim_me.storage.tenants import create_tenant
from scim_me.storage.user_query import search_users
from scim_me.storage.users import create_user
from scim_me.storage.users import get_user
from scim_me.storage.users import search_text
from scim_me.storage.users import user_name_key

CUSTOM = parse_schema(
    {
        "id": CUSTOM_URN,
        "attributes": [
            {"name": "level", "type": "integer"},
            {"name": "since", "type": "dateTime"},
            {"name": "code", "type": "string", "caseExact": True},
            {"name": "flag", "type": "boolean"},
        ],
    },
    "custom",
)
REGISTRY = load_registry(Path(__file__).resolve().parents[2] / "schemas").with_custom(CUSTOM)
KEY = b"cursor-key-for-tests"

LONG = "p" * 128  # the indexed prefix's length: longer values share it and differ after
TITLES: list[Any] = [
    LONG + "b",
    LONG + "a",
    LONG.upper() + "A",  # folds to LONG + "a": a tie, by id
    LONG,
    LONG[:-1],
    LONG[:-1] + "q",
    LONG + "a" + "z" * 300,
    "Ä",
    "z",
    "ä",
    "Z",
    "a",
    "A",
    "",
    "b",
    ["m", "c"],  # two values where the schema allows one: sorts by the least
    None,
    None,
    None,
]
CODES: list[Any] = ["Ä", "z", "ä", "Z", "a", "A", "B", "X" * 130 + "b", "X" * 130 + "a", None, 7]
LEVELS: list[Any] = [3, -1, 2.5, 10, 0, None, "x", True, 3]
SINCE: list[Any] = ["2026-01-02T03:04:05Z", "2026-01-02T04:04:05+02:00", "2025-12-31T23:59:59.5Z", "not a date", None]
FLAGS: list[Any] = [True, False, None, "true"]
SORTS = [
    "title",
    "name.familyName",
    f"{CUSTOM_URN}:code",
    f"{CUSTOM_URN}:level",
    f"{CUSTOM_URN}:since",
    f"{CUSTOM_URN}:flag",
    "active",
    "nickName",  # nobody has one
    f"{ENTERPRISE_URN}:employeeNumber",  # everybody has one
]


def _profile(index: int) -> dict[str, Any]:
    profile: dict[str, Any] = {"userName": f"user{index:02d}", "active": index % 3 != 0}
    title = TITLES[index % len(TITLES)]
    if title is not None:
        profile["title"] = title
    if index % 4:
        name: dict[str, Any] = {"familyName": TITLES[(index * 7) % len(TITLES)] or "Lee"}
        if index % 5 == 0:
            name["FAMILYNAME"] = name["familyName"]  # the same sub-attribute twice, one value
        profile["name"] = name
    custom = {
        "code": CODES[index % len(CODES)],
        "level": LEVELS[index % len(LEVELS)],
        "since": SINCE[index % len(SINCE)],
        "flag": FLAGS[index % len(FLAGS)],
    }
    profile[CUSTOM_URN] = {key: value for key, value in custom.items() if value is not None}
    profile[ENTERPRISE_URN] = {"employeeNumber": str(index % 7)}
    return profile


@pytest.fixture
def population(db: Any) -> tuple[int, list[Record]]:
    tenant = create_tenant("acme")
    other = create_tenant("other")
    records = []
    for index in range(40):
        user = create_user(tenant.id, _profile(index), None)
        create_user(other.id, _profile(index), None)  # another tenant's twin: never listed
        stored = get_user(tenant.id, user.id)
        assert stored is not None
        records.append(Record(stored.id, stored.profile, stored.created_at, stored.updated_at))
    return tenant.id, records


def _reference(records: list[Record], sort_by: str, descending: bool, text: str | None = None) -> list[str]:
    target = parse_sort_target(sort_by, REGISTRY)
    node = parse_search_filter(text, REGISTRY) if text else None
    keyed = []
    for record in records:
        if node is None or evaluate(node, record):
            value = sort_value(record, target)
            keyed.append(((value is None, value if value is not None else 0), record.id))
    ordered = [record_id for _key, record_id in sorted(keyed)]
    return ordered[::-1] if descending else ordered


def _order(descending: bool) -> str:
    return "descending" if descending else "ascending"


def _cursor_walk(tenant_id: int, sort_by: str, descending: bool, count: int, text: str | None = None) -> list[str]:
    """Every page forward from the first, then back from the last: both must be the order."""
    query = {"sort_by": sort_by, "sort_order": _order(descending), "count": count, "cursor_key": KEY, "filter": text}
    pages = [search_users(tenant_id, REGISTRY, cursor="", **query)]
    while pages[-1].next_cursor is not None:
        assert len(pages[-1].resources) == count
        pages.append(search_users(tenant_id, REGISTRY, cursor=pages[-1].next_cursor, **query))
    forward = [user.id for page in pages for user in page.resources]
    assert all(page.total_results == len(forward) for page in pages)
    back = [[user.id for user in pages[-1].resources]]
    page = pages[-1]
    while page.previous_cursor is not None:
        page = search_users(tenant_id, REGISTRY, cursor=page.previous_cursor, **query)
        back.insert(0, [user.id for user in page.resources])
    assert [user_id for ids in back for user_id in ids] == forward, "the pages back differ from the pages forward"
    return forward


@pytest.mark.parametrize("sort_by", SORTS)
@pytest.mark.parametrize("descending", [False, True], ids=["ascending", "descending"])
def test_pages_follow_the_reference_order(population: Any, sort_by: str, descending: bool) -> None:
    tenant_id, records = population
    expected = _reference(records, sort_by, descending)
    whole = search_users(tenant_id, REGISTRY, sort_by=sort_by, sort_order=_order(descending), count=100)
    assert [user.id for user in whole.resources] == expected
    assert whole.total_results == len(records)
    for count in (1, 3, 7):
        assert _cursor_walk(tenant_id, sort_by, descending, count) == expected, count
    for start in (1, 2, 13, 20, 38, 40, 41, 45):
        page = search_users(
            tenant_id, REGISTRY, sort_by=sort_by, sort_order=_order(descending), start_index=start, count=4
        )
        assert [user.id for user in page.resources] == expected[start - 1 : start + 3], start
        assert page.total_results == len(records)


@pytest.mark.parametrize(
    ("sort_by", "text"),
    [
        ("title", "active eq true"),
        ("title", 'title sw "p"'),
        (f"{CUSTOM_URN}:level", f"{CUSTOM_URN}:code pr"),
        ("name.familyName", 'userName eq "user07"'),
        ("name.familyName", 'userName eq "nobody"'),
    ],
)
@pytest.mark.parametrize("descending", [False, True], ids=["ascending", "descending"])
def test_a_filter_and_a_sort(population: Any, sort_by: str, text: str, descending: bool) -> None:
    """With a filter the matches are sorted (storage/user_query.py ``_keys``), same order."""
    tenant_id, records = population
    expected = _reference(records, sort_by, descending, text)
    for count in (2, 100):
        assert _cursor_walk(tenant_id, sort_by, descending, count, text) == expected


def test_case_and_non_ascii_sort_by_the_code_points_of_the_folded_value(db: Any) -> None:
    """caseExact false: "Z" and "z" fold to "z" (U+007A), "Ä" and "ä" to "ä" (U+00E4), so
    z before ä on both backends (no locale collation), and each pair by id; caseExact true:
    by the code points of the values themselves."""
    tenant = create_tenant("acme")
    ids = {}
    for index, name in enumerate(("Ä", "z", "ä", "Z")):
        profile = {"userName": f"user{index}", "title": name, CUSTOM_URN: {"code": name}}
        ids[name] = create_user(tenant.id, profile, None).id
    by_title = [user.profile["title"] for user in search_users(tenant.id, REGISTRY, sort_by="title").resources]
    assert by_title == sorted(["z", "Z"], key=ids.__getitem__) + sorted(["Ä", "ä"], key=ids.__getitem__)
    by_code = search_users(tenant.id, REGISTRY, sort_by=f"{CUSTOM_URN}:code", sort_order="descending")
    assert [user.profile["title"] for user in by_code.resources] == ["ä", "Ä", "z", "Z"]


def test_values_sharing_their_first_128_characters_sort_by_what_follows(db: Any) -> None:
    """The index holds 128 characters of a value: past them, pages still follow the full value,
    across page boundaries in both directions."""
    tenant = create_tenant("acme")
    values = [LONG + "c", LONG + "a", LONG, LONG + "b", LONG[:-1] + "z", LONG + "ab", "q"]
    for index, value in enumerate(values):
        create_user(tenant.id, {"userName": f"user{index}", "title": value}, None)
    expected = sorted(values)
    for descending in (False, True):
        for count in (1, 2, 3):
            walked = _cursor_walk(tenant.id, "title", descending, count)
            titles = [get_user(tenant.id, user_id).profile["title"] for user_id in walked]  # type: ignore[union-attr]
            assert titles == (expected[::-1] if descending else expected), (descending, count)


def test_a_cursor_holding_the_wrong_type_is_invalid_cursor(population: Any) -> None:
    """Cursors are signed, so this is a cursor of another sort signed with the same key and
    digest: refused, not compared across types."""
    from scim_me.core.paging import encode_cursor
    from scim_me.core.paging import query_digest

    tenant_id, _records = population
    for sort_by, value in ((f"{CUSTOM_URN}:level", "x"), ("title", 3), (f"{CUSTOM_URN}:flag", 2), ("title", [])):
        digest = query_digest(None, sort_by.lower(), "a")
        cursor = encode_cursor(KEY, digest, "next", [value, "some-id"])
        with pytest.raises(InvalidCursorError):
            search_users(tenant_id, REGISTRY, sort_by=sort_by, count=2, cursor=cursor, cursor_key=KEY)


# The cost of a page --------------------------------------------------------------------------


def _add_users(tenant_id: int, first: int, count: int) -> None:
    """Bulk-inserted users (the triggers index their values as any insert does)."""
    rows = []
    for index in range(first, first + count):
        profile = {
            "userName": f"bulk{index:06d}",
            "name": {"familyName": f"Family{index % 97:03d}"},
            "title": ["Engineer", "Nurse", "Clerk"][index % 3],
            "active": index % 2 == 0,
            CUSTOM_URN: {"level": index % 11},
        }
        if index % 50 == 0:
            profile.pop("name")  # a few users without a family name
        if index % 2:
            profile["displayName"] = f"User {index}"  # half the users without a display name
        stamp = datetime(2026, 1, 1)
        rows.append(
            {
                "id": str(uuid.uuid4()),
                "tenant": tenant_id,
                "user_name": profile["userName"],
                "user_name_key": user_name_key(profile["userName"]),
                "user_name_skeleton": skeleton(profile["userName"]),
                "profile": json.dumps(profile),
                "search": search_text(profile),
                "created_at": stamp,
                "updated_at": stamp,
            }
        )
    for start in range(0, len(rows), 500):
        User.insert_many(rows[start : start + 500]).execute()


class _Work:
    """The database's work for one call: SQLite's virtual machine instructions (counted by a
    progress handler every 100), PostgreSQL's shared buffers touched (EXPLAIN ANALYZE BUFFERS
    of each statement the call sent)."""

    def __init__(self, db: Any) -> None:
        self.db = db

    def __call__(self, call: Any) -> int:
        if is_sqlite(self.db):
            steps = [0]

            def count() -> int:
                steps[0] += 1
                return 0

            self.db.connection().set_progress_handler(count, 100)
            try:
                call()
            finally:
                self.db.connection().set_progress_handler(None, 100)
            return steps[0]
        sent: list[tuple[str, Any]] = []
        real = self.db.execute_sql

        def capture(sql: str, params: Any = None, *args: Any, **kwargs: Any) -> Any:
            sent.append((sql, params))
            return real(sql, params, *args, **kwargs)

        self.db.execute_sql = capture
        try:
            # In a transaction a text not prepared yet is sent as it is (storage/prepared.py).
            with self.db.atomic():
                call()
        finally:
            del self.db.execute_sql
        buffers = 0
        for sql, params in sent:
            assert not sql.startswith(("PREPARE", "EXECUTE")), sql
            plan = real("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + sql, params).fetchone()[0]
            top = (plan if isinstance(plan, list) else json.loads(plan))[0]["Plan"]
            buffers += top.get("Shared Hit Blocks", 0) + top.get("Shared Read Blocks", 0)
        return buffers


@pytest.mark.parametrize(
    "query",
    [
        {"sort_by": "name.familyName"},
        {"sort_by": "displayName", "sort_order": "descending"},
        {"sort_by": "title", "cursor": "second"},
        {"sort_by": "active", "sort_order": "descending", "cursor": "second"},
        {"sort_by": f"{CUSTOM_URN}:level"},
        {"sort_by": "nickName"},
    ],
    ids=["familyName", "displayName-descending", "title-cursor", "active-descending-cursor", "level", "nobody-has-it"],
)
def test_a_sorted_page_costs_the_same_in_a_tenant_ten_times_larger(db: Any, query: dict[str, Any]) -> None:
    """The walk reads the page's users, not the tenant's: the work for a 20-user page grows
    by less than half when the tenant grows from 300 to 3,000 users (the grouped sort it replaced
    read every value of the attribute, ten times the work). Users without a value are found
    by probing a window of users where they are dense (half the users have no displayName);
    where they are rare, an anti-join reads the tenant (not bounded: docs/scim-filters.md)."""
    tenant = create_tenant("acme")
    work = _Work(db)
    registry = REGISTRY

    def page() -> Any:
        arguments = dict(query)
        if arguments.pop("cursor", None):
            first = search_users(tenant.id, registry, count=20, cursor="", cursor_key=KEY, **arguments)
            arguments.update(cursor=first.next_cursor, cursor_key=KEY)
        return lambda: search_users(tenant.id, registry, count=20, **arguments)

    _add_users(tenant.id, 0, 300)
    if not is_sqlite(db):
        db.execute_sql("ANALYZE")
    small = work(page())
    _add_users(tenant.id, 300, 2700)
    if not is_sqlite(db):
        db.execute_sql("ANALYZE")
    large = work(page())
    assert large < small * 1.5, (small, large)

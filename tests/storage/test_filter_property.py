"""Issue 11 acceptance 3: generated filters (hypothesis, 1,000 per database) select in SQL exactly
the users the reference evaluation (core/query_filters.evaluate) selects in Python, on SQLite and
PostgreSQL; generated sorts order them exactly as the reference does; malformed filters are
``invalidFilter``.

The users are a fixed, seeded population of 40 whose profiles mix every attribute type (core,
enterprise, WSO2 and a custom extension with caseExact, integer, decimal, dateTime, boolean and
multi-valued attributes), wrong-typed values, case and Unicode variants (ß/SS, dotless i,
decomposed accents), empty strings and incomplete complex values. Filters draw their literals
from the same pools, so most of them select some users and not others. The run is reproducible
(fixed seeds, no example database); a failure prints the falsifying filter.
"""

from __future__ import annotations

import contextlib
import json
import random
from datetime import datetime
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck
from hypothesis import given
from hypothesis import seed
from hypothesis import settings
from hypothesis import strategies as st

from scim_me.core.query_filters import Record
from scim_me.core.query_filters import evaluate
from scim_me.core.query_filters import parse_search_filter
from scim_me.core.query_filters import parse_sort_target
from scim_me.core.query_filters import sort_value
from scim_me.core.schemas import CUSTOM_URN
from scim_me.core.schemas import ENTERPRISE_URN
from scim_me.core.schemas import WSO2_URN
from scim_me.core.schemas import load_registry
from scim_me.core.schemas import parse_schema
from scim_me.errors import InvalidFilterError
from scim_me.storage.db import database_proxy
from scim_me.storage.db import open_database
from scim_me.storage.migrations import upgrade
from scim_me.storage.tenants import create_tenant
from scim_me.storage.user_query import search_users
from scim_me.storage.users import create_user
from scim_me.storage.users import get_user
from tests.fixtures.database import database_at

FILTERS_PER_DATABASE = 1000
SHARDS = 2
POPULATION = 40

CUSTOM = parse_schema(
    {
        "id": CUSTOM_URN,
        "attributes": [
            {"name": "level", "type": "integer"},
            {"name": "score", "type": "decimal"},
            {"name": "since", "type": "dateTime"},
            {"name": "code", "type": "string", "caseExact": True},
            {"name": "tags", "type": "string", "multiValued": True},
            {"name": "flags", "type": "boolean"},
            {
                "name": "badges",
                "type": "complex",
                "multiValued": True,
                "subAttributes": [
                    {"name": "name", "type": "string", "caseExact": True},
                    {"name": "earned", "type": "dateTime"},
                    {"name": "rank", "type": "integer"},
                ],
            },
        ],
    },
    "custom",
)
REGISTRY = load_registry(Path(__file__).resolve().parents[2] / "schemas").with_custom(CUSTOM)

STRINGS = [
    "alpha",
    "Alpha",
    "ALPHA",
    "al",
    "alphabet",
    "beta",
    "",
    " ",
    "ß",
    "SS",
    "ss",
    "straße",
    "STRASSE",
    "\u0131",  # dotless i
    "I",
    "i̇",
    "é",
    "e\u0301",
    "日本",
    "a%b_c",
    "x\\y",
    'q"uote',
    "zz",
    "\U0001f600",
    "kim@example.com",
    "KIM@Example.COM",
    "@example.com",
    "work",
    "home",
    "Work",
    "2026-01-02T03:04:05Z",
    "2026-01-02T04:04:05+01:00",
    "2026-01-02T03:04:05.5Z",
    "2025-12-31",
    "2027-06-01T00:00:00",
    "not a date",
]
NUMBERS = [0, 1, -1, 2.5, 3, 10, 1e10, -0.5]
DATES = [
    "2026-01-02T03:04:05Z",
    "2026-01-02T03:04:05.123Z",
    "2026-01-02T03:04:05.1234Z",
    "2026-01-02T04:04:05+01:00",
    "2025-06-01T00:00:00Z",
    "2030-01-01T00:00:00Z",
]

# (path, kind) for the filter generator: kind decides the literals it is compared with.
SIMPLE_PATHS = [
    ("displayName", "string"),
    ("nickName", "string"),
    ("title", "string"),
    ("userType", "string"),
    ("externalId", "string"),
    ("userName", "string"),
    ("active", "boolean"),
    ("name.givenName", "string"),
    ("name.familyName", "string"),
    ("emails.value", "string"),
    ("emails.type", "string"),
    ("emails.primary", "boolean"),
    ("phoneNumbers.value", "string"),
    ("roles.value", "string"),
    ("addresses.postalCode", "string"),
    ("urn:ietf:params:scim:schemas:core:2.0:User:nickName", "string"),
    (f"{ENTERPRISE_URN}:employeeNumber", "string"),
    (f"{ENTERPRISE_URN}:department", "string"),
    (f"{ENTERPRISE_URN}:manager.value", "string"),
    (f"{WSO2_URN}:emailVerified", "boolean"),
    (f"{WSO2_URN}:failedLoginAttempts", "number"),
    (f"{WSO2_URN}:verifiedEmailAddresses", "string"),
    (f"{CUSTOM_URN}:level", "number"),
    (f"{CUSTOM_URN}:score", "number"),
    (f"{CUSTOM_URN}:since", "date"),
    (f"{CUSTOM_URN}:code", "string"),
    (f"{CUSTOM_URN}:tags", "string"),
    (f"{CUSTOM_URN}:flags", "boolean"),
    (f"{CUSTOM_URN}:badges.name", "string"),
    (f"{CUSTOM_URN}:badges.earned", "date"),
    (f"{CUSTOM_URN}:badges.rank", "number"),
    ("meta.created", "record-date"),
    ("meta.lastModified", "record-date"),
    ("meta.resourceType", "string"),
    ("id", "id"),
]
PRESENT_ONLY = ["name", "emails", f"{ENTERPRISE_URN}:manager", f"{CUSTOM_URN}:badges", "addresses"]
VALUE_PATHS = {
    "emails": [("value", "string"), ("type", "string"), ("primary", "boolean"), ("display", "string")],
    "addresses": [("locality", "string"), ("postalCode", "string"), ("primary", "boolean")],
    "roles": [("value", "string"), ("type", "string")],
    f"{CUSTOM_URN}:badges": [("name", "string"), ("earned", "date"), ("rank", "number")],
}
SORTABLE = [
    None,
    "userName",
    "displayName",
    "title",
    "active",
    "name.givenName",
    "name.familyName",
    "meta.created",
    "meta.lastModified",
    "id",
    f"{ENTERPRISE_URN}:employeeNumber",
    f"{ENTERPRISE_URN}:manager.value",
    f"{WSO2_URN}:failedLoginAttempts",
    f"{WSO2_URN}:emailVerified",
    f"{CUSTOM_URN}:level",
    f"{CUSTOM_URN}:score",
    f"{CUSTOM_URN}:since",
    f"{CUSTOM_URN}:code",
    f"{CUSTOM_URN}:flags",
]


# The population ----------------------------------------------------------------------------


def _scalar(rng: random.Random, kind: str) -> Any:
    """Mostly the kind's own values, sometimes another type (stored profiles are not retyped)."""
    roll = rng.random()
    if roll < 0.08:
        return rng.choice([*STRINGS, *NUMBERS, True, False, None])
    if kind == "number":
        return rng.choice(NUMBERS)
    if kind == "boolean":
        return rng.choice([True, False])
    if kind == "date":
        return rng.choice([*DATES, "2026-13-01", "soon"])
    return rng.choice(STRINGS)


def _maybe(rng: random.Random, value: Any, chance: float = 0.6) -> Any:
    return value if rng.random() < chance else None


def _complex(rng: random.Random, subs: list[tuple[str, str]]) -> dict[str, Any]:
    item = {}
    for name, kind in subs:
        if rng.random() < 0.7:
            item[name if rng.random() < 0.9 else name.upper()] = _scalar(rng, kind)
    return item


def _profile(rng: random.Random, index: int) -> dict[str, Any]:
    profile: dict[str, Any] = {"userName": f"user{index:02d}{rng.choice(['', 'a', 'b'])}"}
    for name in ("displayName", "nickName", "title", "userType", "externalId"):
        if rng.random() < 0.6:
            profile[name] = _scalar(rng, "string")
    if rng.random() < 0.7:
        profile["active"] = _scalar(rng, "boolean")
    if rng.random() < 0.7:
        profile["name"] = _complex(rng, [("givenName", "string"), ("familyName", "string")])
    for name in ("emails", "addresses", "roles", "phoneNumbers"):
        if rng.random() < 0.7:
            subs = VALUE_PATHS.get(name, [("value", "string"), ("type", "string")])
            profile[name] = [_complex(rng, subs) for _ in range(rng.randint(0, 3))]
    if rng.random() < 0.6:
        profile[ENTERPRISE_URN] = {
            key: value
            for key, value in {
                "employeeNumber": _maybe(rng, _scalar(rng, "string")),
                "department": _maybe(rng, _scalar(rng, "string")),
                "manager": _maybe(rng, _complex(rng, [("value", "string"), ("displayName", "string")])),
            }.items()
            if value is not None
        }
    if rng.random() < 0.6:
        profile[WSO2_URN] = {
            key: value
            for key, value in {
                "emailVerified": _maybe(rng, _scalar(rng, "boolean")),
                "failedLoginAttempts": _maybe(rng, _scalar(rng, "number")),
                "verifiedEmailAddresses": _maybe(rng, [_scalar(rng, "string") for _ in range(rng.randint(0, 3))]),
            }.items()
            if value is not None
        }
    if rng.random() < 0.7:
        custom: dict[str, Any] = {}
        for name, kind in (("level", "number"), ("score", "number"), ("since", "date"), ("code", "string")):
            if rng.random() < 0.6:
                custom[name] = _scalar(rng, kind)
        if rng.random() < 0.6:
            custom["flags"] = _scalar(rng, "boolean")
        if rng.random() < 0.6:
            custom["tags"] = [_scalar(rng, "string") for _ in range(rng.randint(0, 3))]
        if rng.random() < 0.6:
            custom["badges"] = [_complex(rng, VALUE_PATHS[f"{CUSTOM_URN}:badges"]) for _ in range(rng.randint(0, 3))]
        profile[CUSTOM_URN] = custom
    return profile


def _populate(db: Any) -> tuple[int, list[Record]]:
    rng = random.Random(11)
    tenant = create_tenant("acme")
    other = create_tenant("other")
    base = datetime(2026, 1, 2, 3, 4, 5)
    records: list[Record] = []
    for index in range(POPULATION):
        profile = _profile(rng, index)
        user = create_user(tenant.id, profile, None)
        create_user(other.id, profile, None)  # another tenant's twin: never selected
        # Creation times on and around the literals' milliseconds, a few sharing one.
        created = base + timedelta(microseconds=rng.choice([0, 123000, 123400, 999, 500000]) + index % 7 * 1000)
        modified = created + timedelta(seconds=rng.choice([0, 1, 3600]))
        p = db.param
        db.execute_sql(
            f"UPDATE users SET created_at = {p}, updated_at = {p} WHERE id = {p}", (created, modified, user.id)
        )
        stored = get_user(tenant.id, user.id)
        assert stored is not None
        records.append(Record(stored.id, stored.profile, stored.created_at, stored.updated_at))
    return tenant.id, records


# Filters -------------------------------------------------------------------------------------

OPS = ["eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le"]


def _literal(kind: str, record_ids: list[str]) -> st.SearchStrategy[Any]:
    strings = st.sampled_from(STRINGS) | st.text(alphabet="aAlpßSs\u0130\u0131 é@.-", max_size=6)
    if kind == "number":
        return st.sampled_from(NUMBERS) | st.integers(-3, 12)
    if kind == "boolean":
        return st.booleans()
    if kind in ("date", "record-date"):
        return st.sampled_from(DATES) | strings
    if kind == "id":
        return st.sampled_from(record_ids) | st.sampled_from([r[:8] for r in record_ids]) | strings
    return strings


def _render(value: Any) -> str:
    if value is None:
        return "null"
    return json.dumps(value, ensure_ascii=False)


def _comparison(paths: list[tuple[str, str]], record_ids: list[str]) -> st.SearchStrategy[str]:
    @st.composite
    def build(draw: Any) -> str:
        path, kind = draw(st.sampled_from(paths))
        op = draw(st.sampled_from([*OPS, "pr", "pr"]))
        if op == "pr":
            return f"{path} pr"
        roll = draw(st.integers(0, 19))
        if roll == 0:
            value: Any = None
        elif roll == 1:  # another type's literal
            value = draw(st.sampled_from([*NUMBERS, True, False, "x"]))
        else:
            value = draw(_literal(kind, record_ids))
        return f"{path} {op.upper() if roll == 2 else op} {_render(value)}"

    return build()


def _combine(leaves: st.SearchStrategy[str], depth: int) -> st.SearchStrategy[str]:
    return st.recursive(
        leaves,
        lambda inner: st.one_of(
            st.tuples(inner, st.sampled_from(["and", "or"]), inner).map(lambda t: f"{t[0]} {t[1]} {t[2]}"),
            st.tuples(inner, st.sampled_from(["and", "or"]), inner).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
            inner.map(lambda text: f"not ({text})"),
        ),
        max_leaves=depth,
    )


def _value_path(record_ids: list[str]) -> st.SearchStrategy[str]:
    @st.composite
    def build(draw: Any) -> str:
        attribute = draw(st.sampled_from(sorted(VALUE_PATHS)))
        inner = draw(_combine(_comparison(VALUE_PATHS[attribute], record_ids), 3))
        return f"{attribute}[{inner}]"

    return build()


def filters(record_ids: list[str]) -> st.SearchStrategy[str]:
    leaf = st.one_of(
        _comparison(SIMPLE_PATHS, record_ids),
        _comparison(SIMPLE_PATHS, record_ids),
        st.sampled_from(PRESENT_ONLY).map(lambda path: f"{path} pr"),
        _value_path(record_ids),
    )
    return _combine(leaf, 4)


# The tests ----------------------------------------------------------------------------------


@pytest.fixture
def population(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Any:
    with database_at(backend, tmp_path, request) as url:
        db: Any = open_database(url)
        database_proxy.initialize(db)
        with db.connection_context():
            upgrade(db)
            tenant_id, records = _populate(db)
            yield tenant_id, records
        db.close_all()


def _selected(tenant_id: int, text: str) -> tuple[int, set[str]]:
    page = search_users(tenant_id, REGISTRY, filter=text, count=POPULATION * 2)
    return page.total_results, {user.id for user in page.resources}


@pytest.mark.parametrize("shard", range(SHARDS))
def test_sql_selects_what_the_reference_selects(population: Any, shard: int) -> None:
    tenant_id, records = population
    record_ids = [record.id for record in records]
    seen = {"valid": 0, "invalid": 0, "matched some": 0}

    @seed(shard)
    @settings(
        max_examples=FILTERS_PER_DATABASE // SHARDS,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
    )
    @given(text=filters(record_ids))
    def check(text: str) -> None:
        try:
            node = parse_search_filter(text, REGISTRY)
        except InvalidFilterError:
            seen["invalid"] += 1
            with pytest.raises(InvalidFilterError):
                search_users(tenant_id, REGISTRY, filter=text)
            return
        expected = {record.id for record in records if evaluate(node, record)}
        total, selected = _selected(tenant_id, text)
        assert selected == expected, text
        assert total == len(expected), text
        seen["valid"] += 1
        seen["matched some"] += 0 < len(expected) < len(records)

    check()
    # The generator exercises the SQL, not only the error path, and splits the population.
    assert seen["valid"] >= FILTERS_PER_DATABASE // SHARDS * 0.6, seen
    assert seen["matched some"] >= seen["valid"] * 0.3, seen


def _reference_order(records: list[Record], sort_by: str | None, descending: bool) -> list[str]:
    if sort_by is None:
        keyed = [((False, record.created), record.id) for record in records]
    else:
        target = parse_sort_target(sort_by, REGISTRY)
        keyed = []
        for record in records:
            value = sort_value(record, target)
            keyed.append(((value is None, value if value is not None else 0), record.id))
    ordered = [record_id for _key, record_id in sorted(keyed, key=lambda item: (item[0], item[1]))]
    return ordered[::-1] if descending else ordered


def test_sql_sorts_as_the_reference_sorts(population: Any) -> None:
    """RFC 7644 §3.4.2.3 on every sortable kind: strings by code point (folded unless caseExact),
    numbers, booleans, dateTimes, record dates; no value last ascending, first descending."""
    tenant_id, records = population
    for sort_by in SORTABLE:
        for descending in (False, True):
            order = "descending" if descending else "ascending"
            page = search_users(tenant_id, REGISTRY, sort_by=sort_by, sort_order=order, count=POPULATION)
            assert [user.id for user in page.resources] == _reference_order(records, sort_by, descending), (
                sort_by,
                order,
            )


MALFORMED = [
    "",
    "   ",
    "userName",
    "userName eq",
    'userName eq "unterminated',
    'userName xx "a"',
    'eq "a"',
    'userName eq "a" and',
    'or userName eq "a"',
    '(userName eq "a"',
    'userName eq "a")',
    'emails[type eq "work"',
    'emails[type eq "work"]]',
    "emails[]",
    'userName eq "a" "b"',
    "userName eq 'single'",
    "userName eq tru",
    "userName pr pr",
    'not userName eq "a"',
    '[type eq "a"]',
    'emails[type eq "work"].value eq "a"',
    'userName eq "\x00"',
]


@pytest.mark.parametrize("text", MALFORMED)
def test_malformed_filters_are_invalid_filter(text: str) -> None:
    with pytest.raises(InvalidFilterError):
        search_users(1, REGISTRY, filter=text)  # refused before any SQL runs


@seed(3)
@settings(max_examples=300, deadline=None, database=None)
@given(text=st.text(max_size=60) | filters(["0" * 36]).map(lambda t: t[: len(t) // 2]))
def test_arbitrary_text_is_parsed_or_refused_with_invalid_filter(text: str) -> None:
    """Never another exception: garbage and truncated filters are invalidFilter."""
    with contextlib.suppress(InvalidFilterError):
        parse_search_filter(text, REGISTRY)

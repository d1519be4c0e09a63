"""storage/filter_plans.py and core/filter_shapes.py: a search filter's SQL condition is compiled
once per shape (the text around its string literals), per registry and tenant, and a later filter
of that shape gets the condition another filter of it would compile, with its own parameters;
shapes whose SQL depends on a literal are compiled per filter; errors are never cached.

The property test comparing the results of generated filters with the reference evaluation is
tests/storage/test_filter_property.py (it runs through the cache); here a generated filter and a
second of its shape must compile, warm, to exactly what they compile to cold."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck
from hypothesis import given
from hypothesis import seed
from hypothesis import settings
from hypothesis import strategies as st

from scim_me.core.filter_shapes import LITERAL_PATTERN
from scim_me.core.filter_shapes import SlotLexer
from scim_me.core.filter_shapes import shape_of
from scim_me.core.filters import FilterLexer
from scim_me.core.query_filters import parse_search_filter
from scim_me.core.schemas import CUSTOM_URN
from scim_me.core.schemas import load_group_registry
from scim_me.core.schemas import load_registry
from scim_me.core.schemas import parse_schema
from scim_me.errors import InvalidFilterError
from scim_me.storage import filter_plans
from scim_me.storage.group_query import search_groups
from scim_me.storage.groups import create_group
from scim_me.storage.models import User
from scim_me.storage.tenants import create_tenant
from scim_me.storage.user_query import _Aliases
from scim_me.storage.user_query import _condition
from scim_me.storage.user_query import search_users
from scim_me.storage.users import create_user
from tests.storage.test_filter_property import REGISTRY as PROPERTY_REGISTRY
from tests.storage.test_filter_property import filters

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"
REGISTRY = load_registry(SCHEMAS)
CODE = f"{CUSTOM_URN}:code"


def _custom(case_exact: bool) -> Any:
    return REGISTRY.with_custom(
        parse_schema(
            {"id": CUSTOM_URN, "attributes": [{"name": "code", "type": "string", "caseExact": case_exact}]}, "c"
        )
    )


@pytest.fixture(autouse=True)
def cold() -> Any:
    filter_plans.clear()
    yield
    filter_plans.clear()


def names(tenant_id: int, text: str, registry: Any = REGISTRY) -> list[str]:
    page = search_users(tenant_id, registry, filter=text, sort_by="userName")
    return [user.user_name for user in page.resources]


# Shapes -------------------------------------------------------------------------------------


def test_a_shape_is_the_text_around_the_string_literals() -> None:
    shape = shape_of('userName eq "kim" and emails[value co "a\\"b"] or title eq 3')
    assert shape is not None
    assert shape.around == ("userName eq ", " and emails[value co ", "] or title eq 3")
    assert shape.literals == ("kim", 'a"b')
    assert shape.text(("lee", "x")) == 'userName eq "lee" and emails[value co "x"] or title eq 3'
    assert shape_of('userName eq "a\\qb"') is None  # not JSON: the parser words the error


@pytest.mark.parametrize(
    "text",
    [
        'userName eq "kim"',
        'emails[type eq "work" and value co "@x"] or not (title pr)',
        'name.familyName sw "O\\"Brien" and urn:ietf:params:scim:schemas:core:2.0:User:userName ne "\\u00df"',
        'x eq "unterminated',
        'a eq "1" "2"',
    ],
)
def test_the_slot_lexer_reads_as_the_filter_lexer_and_where_shapes_see_literals(text: str) -> None:
    assert FilterLexer.COMP_VALUE.pattern == SlotLexer.COMP_VALUE.pattern == f"({LITERAL_PATTERN})"  # type: ignore[attr-defined]

    def tokens(lexer: Any) -> list[tuple[str, Any]]:
        try:
            return [(token.type, token.value) for token in lexer.tokenize(text)]
        except Exception as exc:
            return [("error", str(exc))]

    slotted = SlotLexer()
    assert tokens(slotted) == tokens(FilterLexer())
    shape = shape_of(text)
    assert shape is not None
    if "unterminated" not in text:
        assert tuple(slotted.spans) == shape.spans


# The cache ----------------------------------------------------------------------------------


@pytest.fixture
def people(db: Any) -> tuple[int, int]:
    acme = create_tenant("acme")
    other = create_tenant("other")
    for tenant in (acme, other):
        for name in ("kim", "lee", "ann"):
            create_user(
                tenant.id,
                {
                    "userName": f"{name}-{tenant.name}",
                    "emails": [{"value": f"{name}@{tenant.name}.example", "type": "work"}],
                    CUSTOM_URN: {"code": name.upper()},
                },
                None,
            )
    return acme.id, other.id


def test_a_second_filter_of_a_shape_compiles_nothing(people: tuple[int, int]) -> None:
    acme, _ = people
    assert names(acme, 'userName eq "kim-acme"') == ["kim-acme"]
    assert filter_plans.learnt == 1
    assert names(acme, 'userName eq "LEE-ACME"') == ["lee-acme"]  # caseExact false: folded
    assert names(acme, 'emails.value eq "ann@acme.example" or userName eq "kim-acme"') == ["ann-acme", "kim-acme"]
    assert names(acme, 'emails.value eq "kim@acme.example" or userName eq "lee-acme"') == ["kim-acme", "lee-acme"]
    assert names(acme, 'userName eq "nobody"') == []
    assert filter_plans.learnt == 2


def test_another_spelling_of_the_attribute_is_another_shape(people: tuple[int, int]) -> None:
    acme, _ = people
    assert names(acme, 'userName eq "kim-acme"') == ["kim-acme"]
    assert names(acme, 'USERNAME Eq "Lee-Acme"') == ["lee-acme"]
    assert names(acme, 'urn:ietf:params:scim:schemas:core:2.0:User:userName eq "ann-acme"') == ["ann-acme"]
    assert filter_plans.learnt == 3


def test_shapes_are_kept_per_tenant(people: tuple[int, int]) -> None:
    acme, other = people
    assert names(acme, 'userName eq "kim-acme"') == ["kim-acme"]
    assert names(other, 'userName eq "kim-acme"') == []
    assert names(other, 'userName eq "kim-other"') == ["kim-other"]
    assert names(acme, 'userName eq "kim-other"') == []
    assert filter_plans.learnt == 2


def test_shapes_are_kept_per_registry_where_case_exactness_differs(people: tuple[int, int]) -> None:
    acme, _ = people
    exact, folded = _custom(True), _custom(False)
    assert names(acme, f'{CODE} eq "KIM"', exact) == ["kim-acme"]
    assert names(acme, f'{CODE} eq "kim"', exact) == []
    assert names(acme, f'{CODE} eq "kim"', folded) == ["kim-acme"]
    assert names(acme, f'{CODE} eq "LEE"', folded) == ["lee-acme"]
    assert names(acme, f'{CODE} eq "lee"', exact) == []
    assert filter_plans.learnt == 2


@pytest.mark.parametrize(
    ("first", "second", "expected"),
    [
        ('userName co "kim"', 'userName co "lee"', ["lee-acme"]),
        ('userName sw "k"', 'userName sw ""', ["ann-acme", "kim-acme", "lee-acme"]),
        ('meta.resourceType eq "User"', 'meta.resourceType eq "Group"', []),
        ('meta.created gt "2000-01-01T00:00:00Z"', 'meta.created lt "2000-01-01T00:00:00Z"', []),
    ],
)
def test_shapes_whose_sql_depends_on_the_literal_are_compiled_per_filter(
    people: tuple[int, int], first: str, second: str, expected: list[str]
) -> None:
    acme, _ = people
    names(acme, first)
    assert names(acme, second) == expected
    assert filter_plans.learnt == 0


@pytest.mark.parametrize(
    "bad",
    [
        'userName eq "\\q"',  # not a JSON string
        'userName eq "' + "x" * 2100 + '"',  # too long
        'userName eq "a\x01"',  # a control character: json.loads refuses it, as the lexer does
        'userName eq "a',
    ],
)
def test_errors_are_the_same_once_the_shape_is_compiled(people: tuple[int, int], bad: str) -> None:
    acme, _ = people
    with pytest.raises(Exception) as cold_error:
        parse_search_filter(bad, REGISTRY)
        search_users(acme, REGISTRY, filter=bad)
    names(acme, 'userName eq "kim-acme"')
    with pytest.raises(Exception) as warm_error:
        search_users(acme, REGISTRY, filter=bad)
    assert type(warm_error.value) is type(cold_error.value)
    assert str(warm_error.value) == str(cold_error.value)


def test_an_invalid_filter_is_never_kept(people: tuple[int, int]) -> None:
    acme, _ = people
    for _ in range(2):
        with pytest.raises(InvalidFilterError):
            search_users(acme, REGISTRY, filter='password eq "secret"')
    assert filter_plans.learnt == 0


def test_group_lookups_by_member_and_name_share_their_shapes(people: tuple[int, int]) -> None:
    acme, other = people
    kim, lee = (search_users(acme, REGISTRY, filter=f'userName eq "{n}-acme"').resources[0].id for n in ("kim", "lee"))
    create_group(acme, "Red", None, [kim])
    create_group(acme, "Blue", "ext-blue", [lee])
    create_group(other, "Red", "ext-blue", [])  # another tenant's: never found from acme
    groups = load_group_registry(SCHEMAS)

    def found(text: str) -> list[str]:
        # Twice: the second reuses the page statement's text (group_query._statement).
        once = [group.display_name for group in search_groups(acme, groups, filter=text).groups]
        assert [group.display_name for group in search_groups(acme, groups, filter=text).groups] == once
        return once

    assert found(f'members.value eq "{kim}"') == ["Red"]
    assert found(f'members.value eq "{lee}"') == ["Blue"]
    assert found('displayName eq "RED"') == ["Red"]
    assert found('displayName eq "blue"') == ["Blue"]
    assert found('externalId eq "ext-blue"') == ["Blue"]
    assert found('externalId ne "ext-blue"') == ["Red"]
    assert filter_plans.learnt == 5  # the users lookup above, members.value, displayName, externalId eq and ne
    other_red = search_groups(other, groups, filter='displayName eq "red"', members=True)
    assert [(g.display_name, g.external_id) for g in other_red.groups] == [("Red", "ext-blue")]
    by_external = search_groups(acme, groups, filter='displayName ne "x"', sort_by="externalId", limit=1, offset=1)
    assert [g.display_name for g in by_external.groups] == ["Red"]  # no externalId: last ascending


# Warm equals cold, for generated filters ------------------------------------------------------


@seed(7)
@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck), database=None)
@given(data=st.data())
def test_a_compiled_shape_gives_what_compiling_the_filter_gives(db: Any, data: Any) -> None:
    text = data.draw(filters(["0b8f1a2c-aaaa-bbbb-cccc-000000000001"]))
    shape = shape_of(text)
    if shape is None or not shape.literals:
        return
    others = tuple(
        data.draw(st.sampled_from(["", "kim", "Kim@Example.COM", "ß", "2026-01-02T03:04:05Z", 'q"uote', "x" * 200]))
        for _ in shape.literals
    )
    second = shape.text(others)

    def compile_node(node: Any) -> Any:
        return _condition(node, 5, _Aliases())

    try:  # compiled on its own, as without the cache
        expected = _sql(filter_plans._render(User, compile_node(parse_search_filter(second, PROPERTY_REGISTRY))))
    except InvalidFilterError as exc:
        expected = ("invalid", exc.detail)
    filter_plans.clear()
    with contextlib.suppress(InvalidFilterError):
        filter_plans.condition(text, PROPERTY_REGISTRY, 5, User, compile_node)  # warm the shape
    try:
        warm = _sql(filter_plans.condition(second, PROPERTY_REGISTRY, 5, User, compile_node))
    except InvalidFilterError as exc:
        warm = ("invalid", exc.detail)
    assert warm == expected, (text, second)


def _sql(node: Any) -> tuple[str, str]:
    return node.sql, json.dumps(node.params, default=str)

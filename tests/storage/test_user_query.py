"""storage/user_query.py on SQLite and PostgreSQL: filters (RFC 7644 §3.4.2.2), sorting (§3.4.2.3),
index paging (§3.4.2.4) and cursor paging (RFC 9865). The property test that every filter
agrees with the reference evaluation is tests/storage/test_filter_property.py."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from scim_me.core.schemas import ENTERPRISE_URN
from scim_me.core.schemas import load_registry
from scim_me.errors import InvalidCursorError
from scim_me.errors import InvalidFilterError
from scim_me.errors import InvalidValueError
from scim_me.storage.tenants import create_tenant
from scim_me.storage.user_query import search_users
from scim_me.storage.users import create_user

REGISTRY = load_registry(Path(__file__).resolve().parents[2] / "schemas")
KEY = b"cursor-key-for-tests"


@pytest.fixture
def people(db: Any) -> int:
    tenant = create_tenant("acme")
    other = create_tenant("other")
    create_user(
        tenant.id,
        {
            "userName": "kim",
            "name": {"givenName": "Kim", "familyName": "Lee"},
            "emails": [{"value": "Kim@Example.com", "type": "work"}, {"value": "kim@home.org", "type": "home"}],
            "active": True,
        },
        None,
    )
    create_user(
        tenant.id,
        {
            "userName": "bob",
            "name": {"givenName": "Bob"},
            "emails": [{"value": "bob@example.com", "type": "home"}],
            "active": False,
            ENTERPRISE_URN: {"employeeNumber": "42", "manager": {"value": "kim-id"}},
        },
        None,
    )
    create_user(tenant.id, {"userName": "ann", "title": "Boss"}, None)
    create_user(other.id, {"userName": "kim", "emails": [{"value": "kim@example.com", "type": "work"}]}, None)
    return tenant.id


def names(tenant_id: int, filter: str | None = None, **kwargs: Any) -> list[str]:
    page = search_users(tenant_id, REGISTRY, filter=filter, sort_by=kwargs.pop("sort_by", "userName"), **kwargs)
    return [user.user_name for user in page.resources]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('userName eq "KIM"', ["kim"]),  # RFC 7643 §4.1.1: userName is caseExact false
        ('emails[type eq "work" and value co "@example.com"]', ["kim"]),
        ('emails[type eq "home" and value co "@example.com"]', ["bob"]),  # one and the same value
        ('emails.type eq "home" and emails.value co "kim@example"', ["kim"]),  # any values
        ('emails.value ne "bob@example.com"', ["ann", "kim"]),
        ("active eq true", ["kim"]),
        ("active eq false", ["bob"]),
        ("not (active pr)", ["ann"]),
        ('name.givenName sw "b" or title ew "SS"', ["ann", "bob"]),
        ('userName gt "ann" and userName lt "kim"', ["bob"]),
        (f'{ENTERPRISE_URN}:manager.value eq "kim-id"', ["bob"]),
        (f'{ENTERPRISE_URN}:employeeNumber eq "42"', ["bob"]),
        ('urn:ietf:params:scim:schemas:core:2.0:User:userName eq "ann"', ["ann"]),
        ('meta.created gt "2000-01-01T00:00:00Z"', ["ann", "bob", "kim"]),
        ('meta.lastModified lt "2000-01-01T00:00:00Z"', []),
        ('meta.resourceType eq "User"', ["ann", "bob", "kim"]),
        ("title eq null", ["bob", "kim"]),
        ('userName eq "kim" or userName eq "bob" and active eq true', ["kim"]),  # and binds tighter
    ],
)
def test_filters(people: int, text: str, expected: list[str]) -> None:
    assert names(people, text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "userName",
        'userName eq "kim" and',
        'nosuch eq "x"',
        'password eq "secret"',  # never returned, never filtered on (RFC 7643 §4.1.1)
        'emails eq "kim@example.com"',  # a complex attribute is compared through a sub-attribute
        'emails[type eq "work"].value eq "x"',  # a PATCH path, not a filter
        "active gt true",  # RFC 7644 §3.4.2.2 Table 3
        'meta.created gt "yesterday"',
        'emails[value eq "x" and emails[type eq "y"]]',
        'name.nosuch eq "x"',
        'urn:example:nosuch:foo eq "x"',
        "(" * 40 + 'userName eq "x"' + ")" * 40,
        " or ".join(['userName eq "x"'] * 40),
        'userName eq "' + "x" * 3000 + '"',
    ],
)
def test_unsupported_filters_are_invalid_filter(people: int, text: str) -> None:
    with pytest.raises(InvalidFilterError):
        search_users(people, REGISTRY, filter=text)


def test_index_paging_rfc7644_3_4_2_4(people: int) -> None:
    """1-based startIndex; count=0 returns only totalResults; startIndex < 1 reads as 1."""
    page = search_users(people, REGISTRY, start_index=2, count=1, sort_by="userName")
    assert (page.total_results, page.start_index, [u.user_name for u in page.resources]) == (3, 2, ["bob"])
    assert search_users(people, REGISTRY, count=0).resources == []
    assert search_users(people, REGISTRY, count=0).total_results == 3
    assert names(people, start_index=-5, count=2) == ["ann", "bob"]
    assert names(people, start_index=4) == []
    assert names(people, count=10, max_page_size=2) == ["ann", "bob"]


def test_sorting_rfc7644_3_4_2_3(people: int) -> None:
    """Descending reverses; resources without a value come last ascending, first descending."""
    assert names(people, sort_by="name.givenName") == ["bob", "kim", "ann"]
    assert names(people, sort_by="name.givenName", sort_order="descending") == ["ann", "kim", "bob"]
    assert names(people, sort_by="userName", sort_order="descending") == ["kim", "bob", "ann"]
    by_number = names(people, sort_by=f"{ENTERPRISE_URN}:employeeNumber")
    assert by_number[0] == "bob" and set(by_number[1:]) == {"ann", "kim"}  # ties: by id
    with pytest.raises(InvalidValueError):
        names(people, sort_by="emails.value")  # multi-valued
    with pytest.raises(InvalidValueError):
        names(people, sort_by="name")


def test_cursor_paging_rfc9865(people: int) -> None:
    first = search_users(people, REGISTRY, count=2, cursor="", cursor_key=KEY, sort_by="userName")
    assert [u.user_name for u in first.resources] == ["ann", "bob"]
    assert first.previous_cursor is None and first.next_cursor is not None and first.start_index is None
    second = search_users(people, REGISTRY, count=2, cursor=first.next_cursor, cursor_key=KEY, sort_by="userName")
    assert [u.user_name for u in second.resources] == ["kim"]
    assert second.next_cursor is None and second.previous_cursor is not None
    back = search_users(people, REGISTRY, count=2, cursor=second.previous_cursor, cursor_key=KEY, sort_by="userName")
    assert [u.user_name for u in back.resources] == ["ann", "bob"]
    assert back.total_results == 3


def test_altered_or_foreign_cursors_are_invalid_cursor(people: int) -> None:
    """RFC 9865 §2.3 invalidCursor: not issued here, altered, or for another query."""
    first = search_users(people, REGISTRY, count=1, cursor="", cursor_key=KEY, sort_by="userName")
    token = first.next_cursor
    assert token is not None
    for bad in (token[:-2] + ("AA" if not token.endswith("AA") else "BB"), "garbage", "a.b", token + "x"):
        with pytest.raises(InvalidCursorError):
            search_users(people, REGISTRY, count=1, cursor=bad, cursor_key=KEY, sort_by="userName")
    with pytest.raises(InvalidCursorError):
        search_users(people, REGISTRY, count=1, cursor=token, cursor_key=b"another key", sort_by="userName")
    with pytest.raises(InvalidCursorError):
        search_users(people, REGISTRY, count=1, cursor=token, cursor_key=KEY, sort_by="title")


def test_bad_cursors_and_filters_are_refused_before_any_sql(people: int, db: Any) -> None:
    ran: list[str] = []
    real = db.execute_sql
    db.execute_sql = lambda sql, *args, **kwargs: ran.append(sql) or real(sql, *args, **kwargs)
    try:
        with pytest.raises(InvalidCursorError):
            search_users(people, REGISTRY, count=1, cursor="forged.cursor", cursor_key=KEY)
        with pytest.raises(InvalidCursorError):
            search_users(people, REGISTRY, count=1, cursor="", cursor_key=b"")
        with pytest.raises(InvalidFilterError):
            search_users(people, REGISTRY, filter="userName eq")
        with pytest.raises(InvalidValueError):
            search_users(people, REGISTRY, sort_by="emails.value")
    finally:
        del db.execute_sql
    assert ran == []

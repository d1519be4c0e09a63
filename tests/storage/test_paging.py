"""Issue 11 acceptance 5: paging while users are being added. Cursor pages (RFC 9865) neither
repeat nor skip any user that existed before the first page, whatever the sort, while another
thread keeps inserting users (some sorting before the reader's position, some after); totals are
exact; index pages in the default (creation) order hold still while users are added."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from scim_me.core.schemas import ENTERPRISE_URN
from scim_me.core.schemas import load_registry
from scim_me.storage.db import database_proxy
from scim_me.storage.tenants import create_tenant
from scim_me.storage.user_query import search_users
from scim_me.storage.users import create_user

REGISTRY = load_registry(Path(__file__).resolve().parents[2] / "schemas")
KEY = b"paging-test-key"
USERS = 45
PAGE = 7


def _profile(rng: random.Random, name: str) -> dict[str, Any]:
    profile: dict[str, Any] = {"userName": name}
    if rng.random() < 0.7:  # some users have no title: they sort last (first descending)
        profile["title"] = rng.choice(["a", "b", "c", "B"])  # many ties: broken by id
    profile[ENTERPRISE_URN] = {"employeeNumber": str(rng.randint(0, 9))}
    return profile


@pytest.fixture
def tenant_id(db: Any) -> int:
    rng = random.Random(5)
    tenant = create_tenant("acme")
    for index in range(USERS):
        create_user(tenant.id, _profile(rng, f"m{index:03d}"), None)
    return tenant.id


@pytest.fixture
def inserting(db: Any, tenant_id: int) -> Iterator[list[str]]:
    """Another thread (its own connection) adds users until the test ends; their names sort
    before and after the existing ones."""
    stop = threading.Event()
    added: list[str] = []

    def run() -> None:
        rng = random.Random(9)
        database_proxy.obj.connect(reuse_if_open=True)
        try:
            while not stop.is_set() and len(added) < 400:
                name = f"{rng.choice('az')}{len(added):04d}"
                create_user(tenant_id, _profile(rng, name), None)
                added.append(name)
        finally:
            database_proxy.obj.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while len(added) < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    try:
        yield added
    finally:
        stop.set()
        thread.join(timeout=30)


def _more(added: list[str] | None) -> None:
    """Between two pages, until the other thread has added another user."""
    if added is None:
        return
    count = len(added)
    deadline = time.monotonic() + 30
    while len(added) == count and time.monotonic() < deadline:
        time.sleep(0.002)


def _walk(
    tenant_id: int, sort_by: str | None, order: str, backwards: bool = False, added: list[str] | None = None
) -> list[str]:
    """Every user name met paging with cursors, first to last (or last to first)."""
    names: list[str] = []
    page = search_users(tenant_id, REGISTRY, count=PAGE, cursor="", cursor_key=KEY, sort_by=sort_by, sort_order=order)
    names += [user.user_name for user in page.resources]
    while page.next_cursor:
        _more(added)
        page = search_users(
            tenant_id, REGISTRY, count=PAGE, cursor=page.next_cursor, cursor_key=KEY, sort_by=sort_by, sort_order=order
        )
        names += [user.user_name for user in page.resources]
    if not backwards:
        return names
    back: list[str] = []
    while True:
        back = [user.user_name for user in page.resources] + back
        if not page.previous_cursor:
            return back
        page = search_users(
            tenant_id,
            REGISTRY,
            count=PAGE,
            cursor=page.previous_cursor,
            cursor_key=KEY,
            sort_by=sort_by,
            sort_order=order,
        )


@pytest.mark.parametrize(
    ("sort_by", "order"),
    [
        (None, "ascending"),
        ("userName", "ascending"),
        ("userName", "descending"),
        ("title", "ascending"),
        ("title", "descending"),
        (f"{ENTERPRISE_URN}:employeeNumber", "ascending"),
        ("meta.created", "descending"),
    ],
)
def test_cursor_pages_have_no_duplicates_or_gaps_while_users_are_added(
    tenant_id: int, inserting: list[str], sort_by: str | None, order: str
) -> None:
    before = len(inserting)
    names = _walk(tenant_id, sort_by, order, added=inserting)
    assert len(inserting) >= before + USERS // PAGE, "users were added between the pages"
    assert len(names) == len(set(names)), "a user appeared on two pages"
    originals = {f"m{index:03d}" for index in range(USERS)}
    assert originals <= set(names), f"skipped: {sorted(originals - set(names))}"


@pytest.mark.parametrize(
    ("sort_by", "order"), [("title", "ascending"), ("userName", "descending"), (None, "ascending")]
)
def test_previous_cursors_walk_back_over_the_same_users(tenant_id: int, sort_by: str | None, order: str) -> None:
    forward = _walk(tenant_id, sort_by, order)
    assert len(forward) == USERS
    assert _walk(tenant_id, sort_by, order, backwards=True) == forward


def test_totals_are_exact_on_every_page(tenant_id: int) -> None:
    """RFC 7644 §3.4.2.4 totalResults: the number of matches, not of the page."""
    page = search_users(tenant_id, REGISTRY, filter="title pr", count=PAGE, cursor="", cursor_key=KEY)
    expected = page.total_results
    assert 0 < expected < USERS
    seen = len(page.resources)
    while page.next_cursor:
        page = search_users(tenant_id, REGISTRY, filter="title pr", count=PAGE, cursor=page.next_cursor, cursor_key=KEY)
        assert page.total_results == expected
        seen += len(page.resources)
    assert seen == expected


def test_index_pages_in_creation_order_hold_still_while_users_are_added(tenant_id: int, inserting: list[str]) -> None:
    names: list[str] = []
    start = 1
    while start <= USERS:
        page = search_users(tenant_id, REGISTRY, start_index=start, count=PAGE)
        names += [user.user_name for user in page.resources if user.user_name.startswith("m")]
        start += PAGE
        _more(inserting)
    assert names == [f"m{index:03d}" for index in range(USERS)]

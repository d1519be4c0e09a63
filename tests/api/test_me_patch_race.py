"""A write that loses its compare-and-set race (services/user_write.py ``write_user``).

RFC 7644 §3.14: without If-Match a client's change is applied to the resource as it is when the
change lands, so a write that finds the user changed since authentication read it applies the
same operations again to the stored version, and with If-Match answers 412. These tests lose
the race on purpose: the user is read, another write lands, then the first write runs. The
retry happens with the user locked (SQLite's writer lock, a PostgreSQL ``FOR UPDATE`` read) so
it cannot lose again, and it adds statements but never a second durable commit.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from scim_me.errors import PreconditionFailedError
from scim_me.services.user_write import Writer
from scim_me.services.user_write import write_user
from scim_me.storage.caller import load_facts
from scim_me.storage.users import get_user
from scim_me.storage.users import update_user
from tests.factories import make_tenant
from tests.factories import make_user
from tests.support.apps import build_app
from tests.support.statements import count_statements
from tests.support.statements import count_wal_syncs


@pytest.fixture
def app(database_url: str, tmp_path: Any) -> Iterator[Any]:
    # Durable commits, as in production: a test here counts them (count_wal_syncs).
    application = build_app(database_url, tmp_path, sqlite_synchronous="full")
    yield application
    application.extensions["scim_me"].db.close_all()


@pytest.fixture
def raced(app: Any) -> Iterator[tuple[Any, Any, Any]]:
    """(writer, the user as authentication read it, its facts), the stored user meanwhile
    changed by another write (nickName)."""
    tenant = make_tenant(app, "acme")
    kim = make_user(app, tenant, "kim", displayName="Kim")
    with app.test_request_context("/t/acme/scim2/Me"), app.extensions["scim_me"].db.connection_context():
        stale = get_user(tenant.id, kim.id)
        assert stale is not None
        facts = load_facts(stale)
        assert update_user(stale, {**stale.profile, "nickName": "kimmy"}) is not None
        yield Writer(tenant, None), stale, facts


def _set_title(profile: dict[str, Any]) -> dict[str, Any]:
    return {**profile, "title": "Engineer"}


def test_a_lost_race_applies_the_change_to_the_stored_version(app: Any, raced: tuple[Any, Any, Any]) -> None:
    writer, stale, facts = raced
    updated, kept = write_user(writer, stale, facts, _set_title)
    # Both changes are in: the other writer's nickName and this request's title (no lost update).
    assert updated.profile["nickName"] == "kimmy"
    assert updated.profile["title"] == "Engineer"
    assert updated.version == stale.version + 2
    stored = get_user(stale.tenant_id, stale.id)
    assert stored is not None and stored.version == updated.version and stored.profile == updated.profile
    # The other write changed the profile only: the facts read with the caller still hold.
    assert kept == facts


def test_a_lost_race_is_retried_once_with_the_user_locked(app: Any, backend: str, raced: tuple[Any, Any, Any]) -> None:
    writer, stale, facts = raced
    begins: list[str] = []
    with count_statements(app, begins) as seen, count_wal_syncs(app) as syncs:
        write_user(writer, stale, facts, _set_title)
    # PostgreSQL runs the compare-and-set as a prepared statement (storage/prepared.py).
    kinds = ["UPDATE" if sql.startswith("EXECUTE scim_me_statement") else sql.split()[0].upper() for sql in seen]
    # The lost compare-and-set, the re-read, the compare-and-set that wins: nothing else (the
    # facts are not read again).
    assert kinds == ["UPDATE", "SELECT", "UPDATE"], seen
    assert len(begins) == 1, begins  # the retry is one transaction, holding the lock
    if backend == "postgresql":
        assert seen[1].rstrip().upper().endswith("FOR UPDATE"), seen[1]
    else:
        # One durable commit: the lost attempt wrote nothing, so it syncs nothing.
        assert syncs == [1]


def test_a_lost_race_with_if_match_is_412_and_writes_nothing(app: Any, raced: tuple[Any, Any, Any]) -> None:
    writer, stale, facts = raced
    with pytest.raises(PreconditionFailedError) as caught:
        write_user(writer, stale, facts, _set_title, if_match=f'W/"{stale.version}"')
    assert caught.value.headers == {"ETag": f'W/"{stale.version + 1}"'}
    stored = get_user(stale.tenant_id, stale.id)
    assert stored is not None and stored.version == stale.version + 1 and "title" not in stored.profile

"""The statement time budget (``db_statement_timeout_ms``, storage/db.py): a statement that runs
past it is stopped, on both databases, with an error ``over_budget`` recognises; the connection
serves the next statement; a migration step (``without_statement_timeout``) runs unbounded; a
listing stopped so answers 400 ``tooMany`` (RFC 7644 §3.12) and the server goes on serving."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest

from scim_me.errors import SCIM_ERROR_URN
from scim_me.storage.db import database_proxy
from scim_me.storage.db import open_database
from scim_me.storage.db import over_budget
from scim_me.storage.db import without_statement_timeout
from scim_me.storage.db import write_transaction
from scim_me.storage.models import User
from scim_me.storage.users import search_text
from scim_me.storage.users import user_name_key
from scim_me.web.handlers import OVER_BUDGET
from tests.factories import make_tenant
from tests.support.admin import client_headers
from tests.support.apps import build_app
from tests.support.templates import prepare

BUDGET_MS = 25
# Counting to this many takes 0.2-0.5 s on either database: many times the budget.
LONG = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 600000) SELECT COUNT(*) FROM n"


@pytest.fixture
def budgeted(database_url: str) -> Iterator[Any]:
    prepare(database_url)
    db: Any = open_database(database_url, synchronous="normal", statement_timeout_ms=BUDGET_MS)
    database_proxy.initialize(db)
    with db.connection_context():
        yield db
    db.close_all()


def test_a_statement_past_its_budget_is_stopped_and_the_connection_goes_on(budgeted):
    with pytest.raises(Exception) as stopped:
        budgeted.execute_sql(LONG).fetchone()
    assert over_budget(stopped.value), repr(stopped.value)
    assert budgeted.execute_sql("SELECT 1 + 1").fetchone()[0] == 2


def test_a_write_stopped_in_its_transaction_leaves_nothing_and_is_recognised(budgeted):
    budgeted.execute_sql("CREATE TABLE budget_probe (i INTEGER)")
    with pytest.raises(Exception) as stopped, write_transaction(budgeted):
        budgeted.execute_sql("INSERT INTO budget_probe VALUES (0)")
        budgeted.execute_sql(f"INSERT INTO budget_probe {LONG.replace('COUNT(*)', 'i')}")
    # SQLite rolls the transaction back itself, so the block's own ROLLBACK fails while handling
    # the interruption: still recognised as the budget's doing (a 400, not a 500).
    assert over_budget(stopped.value), repr(stopped.value)
    assert budgeted.execute_sql("SELECT COUNT(*) FROM budget_probe").fetchone()[0] == 0


def test_a_migration_step_runs_without_the_budget(budgeted):
    with write_transaction(budgeted), without_statement_timeout(budgeted):
        assert budgeted.execute_sql(LONG).fetchone()[0] == 600000
    # Lifted for that transaction only.
    with pytest.raises(Exception) as stopped:
        budgeted.execute_sql(LONG).fetchone()
    assert over_budget(stopped.value)


def test_without_a_budget_the_statement_runs_to_its_end(database_url):
    prepare(database_url)
    db: Any = open_database(database_url, synchronous="normal", statement_timeout_ms=0)
    database_proxy.initialize(db)
    with db.connection_context():
        assert db.execute_sql(LONG).fetchone()[0] == 600000
    db.close_all()


def _add_users(tenant_id: int, count: int) -> None:
    stamp = datetime(2026, 1, 1)
    rows = []
    for index in range(count):
        profile = {"userName": f"many{index:05d}", "name": {"familyName": f"F{index % 89:02d}", "givenName": "G"}}
        rows.append(
            {
                "id": str(uuid.uuid4()),
                "tenant": tenant_id,
                "user_name": profile["userName"],
                "user_name_key": user_name_key(profile["userName"]),
                "user_name_skeleton": profile["userName"],
                "profile": json.dumps(profile),
                "search": search_text(profile),
                "created_at": stamp,
                "updated_at": stamp,
            }
        )
    for start in range(0, count, 500):
        User.insert_many(rows[start : start + 500]).execute()


def test_a_listing_past_the_budget_answers_too_many_and_the_server_goes_on(database_url, tmp_path, caplog):
    seeding = build_app(database_url, tmp_path, db_statement_timeout_ms=0)
    tenant = make_tenant(seeding, "acme")
    with seeding.extensions["scim_me"].db.connection_context():
        _add_users(tenant.id, 10000)
    # The same database served with a budget a few times shorter than the listing below takes
    # (70-110 ms here) and far longer than the statements around it.
    app = build_app(database_url, tmp_path, db_statement_timeout_ms=20)
    client = app.test_client()
    admin = client_headers(app, tenant)
    # A substring of every family name, sorted by it: every user's values are read and sorted.
    listing = client.get(
        '/t/acme/scim2/Users?filter=name.familyName co "F"&sortBy=name.familyName&sortOrder=descending',
        headers=admin,
    )
    assert listing.status_code == 400, listing.get_data(as_text=True)
    assert listing.mimetype == "application/scim+json"
    assert listing.get_json() == {
        "schemas": [SCIM_ERROR_URN],
        "status": "400",
        "scimType": "tooMany",
        "detail": OVER_BUDGET,
    }
    assert "db_statement_timeout_ms" in caplog.text
    # The worker goes on serving.
    found = client.get('/t/acme/scim2/Users?filter=userName eq "many00007"', headers=admin)
    assert found.status_code == 200 and found.get_json()["totalResults"] == 1

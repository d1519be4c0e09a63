"""``tenant_user_counts`` (migration step 20): each tenant's number of users, kept by triggers,
always what COUNT(*) gives: after single and multi-row inserts, deletes (of a user, by a tenant's
cascade), concurrent writers, and for the users a database had before the step. It is the
``totalResults`` of a /scim2/Users page without a filter (storage/user_query.py)."""

from __future__ import annotations

import threading
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

from scim_me.core.schemas import load_registry
from scim_me.storage.migrations import LATEST
from scim_me.storage.migrations import MIGRATIONS
from scim_me.storage.migrations import upgrade
from scim_me.storage.migrations.frozen import FrozenSchema
from scim_me.storage.models import SchemaMigration
from scim_me.storage.models import Tenant
from scim_me.storage.models import User
from scim_me.storage.tenants import create_tenant
from scim_me.storage.user_query import search_users
from scim_me.storage.user_query import tenant_user_count
from scim_me.storage.users import create_user
from scim_me.storage.users import delete_user

STAMP = datetime(2026, 1, 1)


def _row(tenant_id: int, index: int) -> dict[str, Any]:
    name = f"bulk{index:05d}"
    return {
        "id": str(uuid.uuid4()),
        "tenant": tenant_id,
        "user_name": name,
        "user_name_key": name,
        "profile": f'{{"userName": "{name}"}}',
        "version": 1,
        "created_at": STAMP,
        "updated_at": STAMP,
    }


def _counted(db: Any, tenant_id: int) -> int:
    return int(db.execute_sql("SELECT count(*) FROM users WHERE tenant_id = " + db.param, (tenant_id,)).fetchone()[0])


def _agree(db: Any, *tenant_ids: int) -> list[int]:
    counts = [tenant_user_count(tenant_id) for tenant_id in tenant_ids]
    assert counts == [_counted(db, tenant_id) for tenant_id in tenant_ids]
    return counts


def test_the_count_follows_inserts_and_deletes_per_tenant(db: Any) -> None:
    acme, other, empty = create_tenant("acme"), create_tenant("other"), create_tenant("empty")
    assert _agree(db, acme.id, other.id, empty.id) == [0, 0, 0]
    kim = create_user(acme.id, {"userName": "kim"}, None)
    create_user(acme.id, {"userName": "lee"}, None)
    create_user(other.id, {"userName": "kim"}, None)
    assert _agree(db, acme.id, other.id, empty.id) == [2, 1, 0]
    # One statement inserting many users (Bulk-style loads, bench/filters.py's seed).
    with db.atomic():
        User.insert_many([_row(acme.id, index) for index in range(250)]).execute()
    assert _agree(db, acme.id, other.id) == [252, 1]
    assert delete_user(acme.id, kim.id)
    with db.atomic():
        User.delete().where((User.tenant == acme.id) & (User.user_name.startswith("bulk000"))).execute()
    assert _agree(db, acme.id, other.id) == [151, 1]
    # A rolled-back insert is not counted.
    try:
        with db.atomic():
            User.insert_many([_row(other.id, index) for index in range(3)]).execute()
            raise RuntimeError("roll back")
    except RuntimeError:
        pass
    assert _agree(db, acme.id, other.id) == [151, 1]
    # A tenant's deletion cascades to its users and its count.
    Tenant.delete().where(Tenant.id == other.id).execute()
    assert tenant_user_count(other.id) == 0
    assert _agree(db, acme.id) == [151]


def test_a_page_without_a_filter_totals_by_the_count(db: Any) -> None:
    acme = create_tenant("acme")
    with db.atomic():
        User.insert_many([_row(acme.id, index) for index in range(30)]).execute()
    registry = load_registry(Path(__file__).resolve().parents[2] / "schemas", admin=True)
    page = search_users(acme.id, registry, count=10)
    assert page.total_results == 30 and len(page.resources) == 10
    assert search_users(acme.id, registry, count=0).total_results == 30
    assert search_users(acme.id, registry, count=10, cursor="", cursor_key=b"k").total_results == 30
    # A filter's total is counted (here every user matches).
    every = 'meta.created lt "2026-01-02T00:00:00Z"'
    assert search_users(acme.id, registry, count=10, filter=every).total_results == 30


def test_concurrent_writers_keep_the_count_exact(db: Any, database_url: str) -> None:
    from scim_me.storage.db import open_database

    acme = create_tenant("acme")
    barrier = threading.Barrier(4)
    errors: list[BaseException] = []

    def writer(number: int) -> None:
        own: Any = open_database(database_url)  # another instance: its own connections
        try:
            barrier.wait(10)
            with own.connection_context():
                for index in range(15):
                    user_id = f"w{number}-{index}"
                    with own.atomic():
                        own.execute_sql(
                            "INSERT INTO users (id, tenant_id, user_name, user_name_key, profile, version, "
                            "created_at, updated_at) VALUES (" + ", ".join([own.param] * 8) + ")",
                            (user_id, acme.id, user_id, user_id, "{}", 1, STAMP, STAMP),
                        )
                    if index % 3 == 0:
                        with own.atomic():
                            own.execute_sql("DELETE FROM users WHERE id = " + own.param, (user_id,))
        except BaseException as exc:
            errors.append(exc)
        finally:
            own.close_all()

    threads = [threading.Thread(target=writer, args=(number,)) for number in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    assert _agree(db, acme.id) == [4 * 10]


def test_the_step_counts_the_users_a_database_already_has(database_url: str) -> None:
    from scim_me.storage.db import open_database

    db: Any = open_database(database_url)
    try:
        with db.connection_context():
            before = FrozenSchema(db, 19)
            db.create_tables(before.tables(), safe=False)
            with SchemaMigration.bind_ctx(db):
                SchemaMigration.create_table()
                SchemaMigration.insert_many(
                    [{"version": v, "name": name, "applied_at": STAMP} for v, name, _step in MIGRATIONS[:19]]
                ).execute()
            tenants = [before.Tenant.create(name=name, created_at=STAMP).id for name in ("acme", "other", "empty")]
            for tenant_id, users in zip(tenants, (7, 2, 0), strict=True):
                for index in range(users):
                    row = _row(tenant_id, index)
                    before.User.create(**{**row, "tenant": tenant_id})
            assert upgrade(db) == list(range(20, LATEST + 1))
            counts = dict(db.execute_sql("SELECT tenant_id, users FROM tenant_user_counts").fetchall())
            assert counts == {tenants[0]: 7, tenants[1]: 2}
    finally:
        db.close_all()

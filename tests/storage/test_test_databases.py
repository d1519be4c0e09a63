"""The suite's own migrated databases (tests/support/templates.py): a prepared database is at the
latest version and holds no row but the applied steps; a PostgreSQL schema goes back to the pool
emptied, its sequences back at their start, and one whose catalog a test changed is dropped. And
the RSA keys make_tenant lends (tests/support/apps.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from scim_me.storage.db import database_proxy
from scim_me.storage.db import open_database
from scim_me.storage.migrations import LATEST
from scim_me.storage.migrations import current_version
from scim_me.storage.migrations import upgrade
from scim_me.storage.tenants import TenantSettings
from scim_me.storage.tenants import create_tenant
from tests.fixtures.database import database_at
from tests.support import templates
from tests.support.templates import prepare
from tests.support.templates import release


def _rows_and_first_id(url: str) -> tuple[dict[str, int], int]:
    """Rows in every table (but the applied steps), and the id a new tenant gets."""
    db: Any = open_database(url)
    database_proxy.initialize(db)
    with db.connection_context():
        assert current_version(db) == LATEST
        assert upgrade(db) == []
        counts = {
            table: db.execute_sql(f'SELECT count(*) FROM "{table}"').fetchone()[0]
            for table in db.get_tables()
            if table != "schema_migrations"
        }
        tenant_id = create_tenant("first", "wso2", TenantSettings()).id
    db.close_all()
    return {table: count for table, count in counts.items() if count}, tenant_id


def test_a_prepared_database_is_migrated_and_empty(backend: str, tmp_path: Path, request: Any) -> None:
    with database_at(backend, tmp_path, request) as url:
        prepare(url)
        assert _rows_and_first_id(url) == ({}, 1)


@pytest.mark.postgres
def test_a_schema_comes_back_to_the_pool_empty_and_one_changed_is_dropped(
    postgres_url: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    import psycopg2

    server = postgres_url
    pool = templates._pool(server)
    with database_at("postgresql", tmp_path / "a", request) as first:
        prepare(first)
        assert _rows_and_first_id(first) == ({}, 1)  # a tenant left behind, its id taken
    idle = list(pool.idle)
    assert idle, "the schema went back to the pool"
    with database_at("postgresql", tmp_path / "b", request) as second:
        prepare(second)
        assert len(pool.idle) == len(idle) - 1
        assert _rows_and_first_id(second) == ({}, 1)  # no tenant, the sequence at its start again
        conn = psycopg2.connect(server)
        conn.autocommit = True
        try:
            schema = templates.schema_of(second)
            with conn.cursor() as cur:
                cur.execute(f'ALTER TABLE "{schema}".tenants ADD COLUMN stray integer')
            assert not release(conn, second)  # the caller (database_at) drops it
        finally:
            conn.close()
    assert len(pool.idle) == len(idle) - 1


def test_lent_rsa_keys_differ_within_a_database_and_return_when_it_closes(tmp_path: Path) -> None:
    """tests/support/apps.py:lent_rsa_key, under tests/factories.py:make_tenant."""
    from scim_me.auth.keys import public_keys
    from tests.factories import make_tenant
    from tests.support.apps import build_app
    from tests.support.apps import close_apps

    def moduli(app: Any, *names: str) -> list[str]:
        tenants = [make_tenant(app, name) for name in names]
        with app.app_context(), app.extensions["scim_me"].db.connection_context():
            return [next(iter(public_keys(tenant.id).values()))["n"] for tenant in tenants]

    first_url = f"sqlite:///{tmp_path / 'first.db'}"
    first = build_app(first_url, tmp_path)
    second = build_app(f"sqlite:///{tmp_path / 'second.db'}", tmp_path)
    a, b = moduli(first, "a", "b")
    (c,) = moduli(second, "c")
    assert len({a, b, c}) == 3  # no two tenants of open databases share a key
    first.extensions["scim_me"].db.close_all()
    close_apps(first_url)
    (d,) = moduli(second, "d")
    assert d in {a, b}  # first's keys came back; second's c is still its own
    second.extensions["scim_me"].db.close_all()
    close_apps(f"sqlite:///{tmp_path / 'second.db'}")

"""The PostgreSQL pool (scim_me/storage/db.py ``_PostgresqlDatabase``): a connection handed out
again moments after its return costs no ``SELECT 1`` round trip (peewee's pool pinged on every
checkout, doubling GET /scim2/Me's round trips); one idle longer is still checked, and a dead one
is replaced, not handed out.

The statements are recorded by a psycopg2 connection class of the test's own, given to the real
driver: what reaches the server is what is counted."""

from __future__ import annotations

import time
from typing import Any

import psycopg2
import psycopg2.extensions

from scim_me.storage.db import open_database

SEEN: list[str] = []


class _RecordingCursor(psycopg2.extensions.cursor):
    def execute(self, query: Any, vars: Any = None) -> Any:
        SEEN.append(query if isinstance(query, str) else query.decode())
        return super().execute(query, vars)


class _RecordingConnection(psycopg2.extensions.connection):
    def cursor(self, *args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("cursor_factory", _RecordingCursor)
        return super().cursor(*args, **kwargs)


def _database(postgres_url: str) -> Any:
    db: Any = open_database(postgres_url)
    db.connect_params["connection_factory"] = _RecordingConnection
    return db


def _read(db: Any) -> list[str]:
    del SEEN[:]
    with db.connection_context():
        assert db.execute_sql("SELECT 2").fetchone() == (2,)
    return list(SEEN)


def test_a_connection_back_moments_ago_is_reused_without_a_ping(postgres_url: str) -> None:
    db = _database(postgres_url)
    try:
        assert _read(db) == ["SELECT 2"]  # a new connection
        for _ in range(3):
            assert _read(db) == ["SELECT 2"]  # reused at once: no SELECT 1 before the statement
    finally:
        db.close_all()


def test_an_idle_connection_is_pinged_and_a_dead_one_replaced(postgres_url: str) -> None:
    db = _database(postgres_url)
    try:
        with db.connection_context():
            pid = db.execute_sql("SELECT pg_backend_pid()").fetchone()[0]
        db.ping_after = 0.0  # every pooled connection counts as idle now
        assert _read(db) == ["SELECT 1", "SELECT 2"]  # checked as peewee does
        admin = psycopg2.connect(postgres_url)
        admin.autocommit = True
        with admin.cursor() as cur:
            cur.execute("SELECT pg_terminate_backend(%s)", (pid,))
            for _ in range(100):  # it ends asynchronously
                cur.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s", (pid,))
                if cur.fetchone()[0] == 0:
                    break
                time.sleep(0.05)
        admin.close()
        with db.connection_context():  # the dead connection is dropped, a new one opened
            assert db.execute_sql("SELECT pg_backend_pid()").fetchone()[0] != pid
    finally:
        db.close_all()

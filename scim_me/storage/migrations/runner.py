"""Applying the steps: each pending step once, in order, in its own transaction, recorded in
``schema_migrations``. Concurrent upgraders (two CLIs, two deploy hooks) take turns per step."""

from __future__ import annotations

from datetime import UTC
from datetime import datetime
from typing import Any

import peewee

from scim_me.storage.db import without_statement_timeout
from scim_me.storage.db import write_transaction
from scim_me.storage.migrations.steps import MIGRATIONS

LATEST = MIGRATIONS[-1][0]


def _applied_model(db: peewee.Database) -> Any:
    """The ``schema_migrations`` table, bound to ``db``.

    A fresh class per call: binding one module-level model with ``bind_ctx`` is process-global,
    so two threads upgrading two databases at once would run each other's queries (and deadlock
    SQLite against their own write lock).
    """

    class Applied(peewee.Model):
        version = peewee.IntegerField(primary_key=True)
        name = peewee.CharField(max_length=255)
        applied_at = peewee.DateTimeField()

        class Meta:
            database = db
            table_name = "schema_migrations"

    return Applied


def _serialize_upgraders(db: peewee.Database) -> None:
    """Inside a write transaction: make concurrent upgraders (two CLIs, two deploy hooks) take turns.
    SQLite's ``BEGIN IMMEDIATE`` already does; PostgreSQL needs an advisory lock."""
    if isinstance(db, peewee.PostgresqlDatabase):
        db.execute_sql("SELECT pg_advisory_xact_lock(727274)")  # type: ignore[no-untyped-call]


def current_version(db: peewee.Database) -> int:
    """Return the highest applied step, 0 for an empty database."""
    if not db.table_exists("schema_migrations"):
        return 0
    applied = _applied_model(db)
    value = applied.select(peewee.fn.MAX(applied.version)).scalar()
    return int(value or 0)


def upgrade(db: peewee.Database) -> list[int]:
    """Apply every pending step; return the versions applied. Safe to run concurrently.

    A step once recorded stays recorded, so the steps already applied are skipped without taking
    the writer lock: an up-to-date database (every start of every instance) costs two reads and
    never waits behind a writer."""
    applied_model = _applied_model(db)
    done = _recorded(db, applied_model)
    if all(version in done for version, _name, _step in MIGRATIONS):
        return []
    applied: list[int] = []
    with write_transaction(db):
        # Under the lock too: concurrent CREATE TABLE IF NOT EXISTS races on PostgreSQL's catalog
        # ("duplicate key value violates unique constraint pg_type_typname_nsp_index").
        _serialize_upgraders(db)
        db.create_tables([applied_model], safe=True)
    for version, name, step in MIGRATIONS:
        if version in done:
            continue
        # A step may rebuild a large table's index: not bounded by the statement budget, nor is
        # the wait for another upgrader's step.
        with write_transaction(db), without_statement_timeout(db):
            _serialize_upgraders(db)
            if applied_model.get_or_none(applied_model.version == version) is not None:
                continue
            step(db)
            applied_model.create(version=version, name=name, applied_at=datetime.now(UTC).replace(tzinfo=None))
            applied.append(version)
    return applied


def _recorded(db: peewee.Database, applied_model: Any) -> set[int]:
    if not db.table_exists("schema_migrations"):
        return set()
    return {row.version for row in applied_model.select(applied_model.version)}

"""Count the SQL statements the app sends, by hooking the database's cursors (not by timing).

Every statement peewee runs, built or hand-written, goes through ``Database.cursor()``; the
counter wraps the cursors it hands out and records each ``execute``. Transaction control (BEGIN,
COMMIT, ROLLBACK, SAVEPOINT, RELEASE) is not counted: its cost is the commit, which durability
requires, not a query a feature chose to add.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

_TRANSACTION_CONTROL = re.compile(r"^\s*(BEGIN|COMMIT|ROLLBACK|SAVEPOINT|RELEASE|END)\b", re.IGNORECASE)


class _CountingCursor:
    def __init__(self, cursor: Any, seen: list[str], begins: list[str] | None = None) -> None:
        self._cursor = cursor
        self._seen = seen
        self._begins = begins

    def execute(self, sql: str, *args: Any, **kwargs: Any) -> Any:
        control = _TRANSACTION_CONTROL.match(sql)
        if not control:
            self._seen.append(sql)
        elif self._begins is not None and control.group(1).upper() == "BEGIN":
            self._begins.append(sql)
        return self._cursor.execute(sql, *args, **kwargs)

    def executemany(self, sql: str, *args: Any, **kwargs: Any) -> Any:
        self._seen.append(sql)
        return self._cursor.executemany(sql, *args, **kwargs)

    def __iter__(self) -> Iterator[Any]:
        return iter(self._cursor)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._cursor, name)


@contextmanager
def count_statements(app: Any, begins: list[str] | None = None) -> Iterator[list[str]]:
    """Within the block, every statement ``app``'s database runs is appended to the list, and
    each transaction it begins (a durable commit each) to ``begins`` when given."""
    db = app.extensions["scim_me"].db
    seen: list[str] = []
    real_cursor = db.cursor

    def cursor(*args: Any, **kwargs: Any) -> Any:
        return _CountingCursor(real_cursor(*args, **kwargs), seen, begins)

    db.cursor = cursor
    try:
        yield seen
    finally:
        del db.cursor  # the instance attribute; the class's method shows through again


@contextmanager
def count_wal_syncs(app: Any) -> Iterator[list[int]]:
    """Within the block, one entry per fdatasync of the WAL (a durable commit, storage/db.py's
    group commit) on SQLite; PostgreSQL commits durably itself and the list stays empty."""
    from scim_me.storage.db import is_sqlite

    db = app.extensions["scim_me"].db
    wal_sync = getattr(db, "wal_sync", None)
    syncs: list[int] = []
    if wal_sync is None:
        # Test apps commit without flushing (tests/support/apps.py:FAST_COMMIT): counting would
        # find nothing, whatever the code does.
        assert not is_sqlite(db), "count_wal_syncs needs an app built with sqlite_synchronous='full'"
        yield syncs
        return
    real_sync = wal_sync.sync

    def sync() -> None:
        syncs.append(1)
        real_sync()

    wal_sync.sync = sync
    try:
        yield syncs
    finally:
        del wal_sync.sync  # the instance attribute; the class's method shows through again

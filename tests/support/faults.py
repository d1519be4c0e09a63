"""Real failures of the database in the middle of a request, for the tests that check a step
commits all of its writes or none (no mocks of our own storage: the table really is gone)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


@contextmanager
def table_unavailable(app: Any, table: str) -> Iterator[None]:
    """``table`` refuses every statement for the duration (renamed away), on either database."""
    db = app.extensions["scim_me"].db
    with db.connection_context():
        db.execute_sql(f"ALTER TABLE {table} RENAME TO {table}_away")
    try:
        yield
    finally:
        with db.connection_context():
            db.execute_sql(f"ALTER TABLE {table}_away RENAME TO {table}")


@contextmanager
def outbox_unavailable(app: Any) -> Iterator[None]:
    """The mail outbox refuses inserts: whatever queues a mail fails inside its transaction."""
    with table_unavailable(app, "mail_outbox"):
        yield


@contextmanager
def user_row_changing(app: Any, user_id: str) -> Iterator[None]:
    """Another writer, on a connection of its own, is changing the user for the duration: it
    bumps the row's version and commits only on exit (meanwhile SQLite's writer lock, or
    PostgreSQL's row lock, is held)."""
    from scim_me.storage.db import is_sqlite
    from scim_me.storage.db import open_database

    other: Any = open_database(app.extensions["scim_me"].settings.database_url)
    other.connect()
    try:
        with other.atomic("IMMEDIATE") if is_sqlite(other) else other.atomic():
            other.execute_sql(
                "UPDATE users SET version = version + 1 WHERE id = ?".replace("?", other.param), (user_id,)
            )
            yield
    finally:
        other.close()

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

"""Real failures of the database in the middle of a request, for the tests that check a step
commits all of its writes or none (no mocks of our own storage: the table really is gone)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


@contextmanager
def outbox_unavailable(app: Any) -> Iterator[None]:
    """The mail outbox refuses inserts for the duration (renamed away): whatever queues a mail
    fails inside its transaction, on either database."""
    db = app.extensions["scim_me"].db
    with db.connection_context():
        db.execute_sql("ALTER TABLE mail_outbox RENAME TO mail_outbox_away")
    try:
        yield
    finally:
        with db.connection_context():
            db.execute_sql("ALTER TABLE mail_outbox_away RENAME TO mail_outbox")

"""Step 16: the durable mail outbox (storage/outbox.py). A mail is a row written in the transaction
of the change that causes it, claimed by any instance's sender, retried with backoff; the index
on (state, next_attempt_at) finds the next due mail without a scan."""

from __future__ import annotations

import peewee

from scim_me.storage.migrations.frozen import FrozenSchema

VERSION = 16
NAME = "mail outbox"


def apply(db: peewee.Database) -> None:
    schema = FrozenSchema(db, VERSION)
    db.create_tables([schema.MailOutbox], safe=False)

"""Step 8: new e-mail addresses waiting for their verification code (one per user)."""

from __future__ import annotations

import peewee

from scim_me.storage.migrations.frozen import FrozenSchema

VERSION = 8
NAME = "pending e-mail changes"


def apply(db: peewee.Database) -> None:
    schema = FrozenSchema(db, VERSION)
    db.create_tables([schema.EmailChange], safe=False)

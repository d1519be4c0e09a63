"""Step 5: a user's security events (sign-ins, password changes, revocations)."""

from __future__ import annotations

import peewee

from scim_me.storage.migrations.frozen import FrozenSchema

VERSION = 5
NAME = "security events"


def apply(db: peewee.Database) -> None:
    schema = FrozenSchema(db, VERSION)
    db.create_tables([schema.SecurityEvent], safe=False)

"""Step 7: previous password hashes (history rule) and failed-password counters per account or IP."""

from __future__ import annotations

import peewee

from scim_me.storage.migrations.frozen import FrozenSchema

VERSION = 7
NAME = "password history, login throttles"


def apply(db: peewee.Database) -> None:
    schema = FrozenSchema(db, VERSION)
    db.create_tables([schema.PasswordHistory, schema.LoginThrottle], safe=False)

"""Step 12: account-recovery flows (forgotten password and username, forced and expired
password resets): code digests, step and expiry per flow."""

from __future__ import annotations

import peewee

from scim_me.storage.migrations.frozen import FrozenSchema

VERSION = 12
NAME = "account recovery flows"


def apply(db: peewee.Database) -> None:
    schema = FrozenSchema(db, VERSION)
    db.create_tables([schema.RecoveryFlow], safe=False)

"""Step 1: the first schema: tenants, their users and the keys that sign their tokens."""

from __future__ import annotations

import peewee

from scim_me.storage.migrations.frozen import FrozenSchema

VERSION = 1
NAME = "tenants, users, signing keys"


def apply(db: peewee.Database) -> None:
    schema = FrozenSchema(db, VERSION)
    db.create_tables([schema.Tenant, schema.User, schema.SigningKey], safe=False)

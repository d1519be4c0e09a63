"""Step 2: OAuth clients registered per tenant."""

from __future__ import annotations

import peewee

from scim_me.storage.migrations.frozen import FrozenSchema

VERSION = 2
NAME = "oauth clients"


def apply(db: peewee.Database) -> None:
    schema = FrozenSchema(db, VERSION)
    db.create_tables([schema.OAuthClient], safe=False)

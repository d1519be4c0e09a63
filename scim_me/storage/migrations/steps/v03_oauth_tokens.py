"""Step 3: OAuth grants (a client acting for a user, or itself) and the access and refresh tokens they
issue."""

from __future__ import annotations

import peewee

from scim_me.storage.migrations.frozen import FrozenSchema

VERSION = 3
NAME = "oauth grants, access and refresh tokens"


def apply(db: peewee.Database) -> None:
    schema = FrozenSchema(db, VERSION)
    db.create_tables([schema.OAuthGrant, schema.OAuthAccessToken, schema.OAuthRefreshToken], safe=False)

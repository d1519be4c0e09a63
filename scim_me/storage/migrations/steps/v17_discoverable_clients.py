"""Step 17: an OAuth client may be discoverable, listed with its access URL in the users' app
launcher (WSO2's ``GET /api/users/v1/me/applications``). Existing clients stay hidden."""

from __future__ import annotations

import peewee
from playhouse.migrate import SchemaMigrator
from playhouse.migrate import migrate

from scim_me.storage.migrations.frozen import FrozenSchema

VERSION = 17
NAME = "oauth_clients: discoverable, access_url"


def apply(db: peewee.Database) -> None:
    schema = FrozenSchema(db, VERSION)
    migrator = SchemaMigrator.from_database(db)
    migrate(
        migrator.add_column("oauth_clients", "discoverable", schema.OAuthClient.discoverable),
        migrator.add_column("oauth_clients", "access_url", schema.OAuthClient.access_url),
    )

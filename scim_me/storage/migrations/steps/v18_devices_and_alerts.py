"""Step 18: trusted devices (a browser that skips the second factor until it expires or is
revoked; only the digest of its cookie's token is stored), the device a session's browser held
(revoking the device ends its sessions), and security alerts (events the user should look at,
acknowledged or not; one per occurrence by a unique key)."""

from __future__ import annotations

import peewee
from playhouse.migrate import SchemaMigrator
from playhouse.migrate import migrate

from scim_me.storage.migrations.frozen import FrozenSchema

VERSION = 18
NAME = "trusted devices and security alerts"


def apply(db: peewee.Database) -> None:
    schema = FrozenSchema(db, VERSION)
    db.create_tables([schema.TrustedDevice, schema.SecurityAlert], safe=False)
    migrator = SchemaMigrator.from_database(db)
    migrate(migrator.add_column("user_sessions", "device_id", schema.UserSession.device_id))

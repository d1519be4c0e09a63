"""Step 9: OIDC issuers whose access tokens a tenant accepts (resource-server mode)."""

from __future__ import annotations

import peewee

from scim_me.storage.migrations.frozen import FrozenSchema

VERSION = 9
NAME = "external token issuers"


def apply(db: peewee.Database) -> None:
    schema = FrozenSchema(db, VERSION)
    db.create_tables([schema.ExternalIssuer], safe=False)

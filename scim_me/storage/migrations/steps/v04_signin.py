"""Step 4: the sign-in page's sessions, authorization codes and remembered consents."""

from __future__ import annotations

import peewee

from scim_me.storage.migrations.frozen import FrozenSchema

VERSION = 4
NAME = "sign-in sessions, authorization codes, consents"


def apply(db: peewee.Database) -> None:
    schema = FrozenSchema(db, VERSION)
    db.create_tables([schema.UserSession, schema.OAuthCode, schema.OAuthConsent], safe=False)

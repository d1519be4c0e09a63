"""Step 6: TOTP and backup codes (issue 4): per-user MFA state with sealed secrets, backup codes as
keyed digests, the half-signed-in state of the sign-in page, and the authentication methods
(RFC 8176 ``amr``) of sessions and codes."""

from __future__ import annotations

import peewee
from playhouse.migrate import SchemaMigrator
from playhouse.migrate import migrate

from scim_me.storage.migrations.frozen import FrozenSchema

VERSION = 6
NAME = "mfa: totp, backup codes, sign-in challenges, amr"


def apply(db: peewee.Database) -> None:
    schema = FrozenSchema(db, VERSION)
    db.create_tables([schema.UserMfa, schema.MfaBackupCode, schema.MfaChallenge], safe=False)
    # Existing sessions and codes were password-only: the default fills them in.
    migrator = SchemaMigrator.from_database(db)
    migrate(
        migrator.add_column("user_sessions", "amr", schema.UserSession.amr),
        migrator.add_column("oauth_codes", "amr", schema.OAuthCode.amr),
    )

"""Step 19: passkeys (storage/passkeys.py). A credential row holds the public key only (COSE, as
the authenticator gave it), its signature counter and what the user sees; a credential id is
unique within a tenant. A ceremony (registration or sign-in) is a single-use challenge row whose
id is the digest of the request id the client round-trips."""

from __future__ import annotations

import peewee

from scim_me.storage.migrations.frozen import FrozenSchema

VERSION = 19
NAME = "passkeys"


def apply(db: peewee.Database) -> None:
    schema = FrozenSchema(db, VERSION)
    db.create_tables([schema.WebauthnCredential, schema.WebauthnChallenge], safe=False)

"""Step 11: a look-alike key per userName (core/usernames.skeleton), unique per tenant, so a new
name that only differs from an existing one by diacritics, width or case is refused. Existing
users get theirs computed here; when two already share one, the older user keeps it and the
newer one gets NULL (NULLs never collide): nobody is locked out, and no new name can join them."""

from __future__ import annotations

import peewee
from playhouse.migrate import SchemaMigrator
from playhouse.migrate import migrate

from scim_me.core.usernames import skeleton
from scim_me.storage.migrations.frozen import FrozenSchema

VERSION = 11
NAME = "users: userName look-alike key"


def apply(db: peewee.Database) -> None:
    schema = FrozenSchema(db, VERSION)
    migrator = SchemaMigrator.from_database(db)
    migrate(migrator.add_column("users", "user_name_skeleton", schema.User.user_name_skeleton))
    taken: set[tuple[int, str]] = set()
    users = schema.User
    rows = users.select(users.id, users.tenant, users.user_name).order_by(users.created_at, users.id).tuples()
    for user_id, tenant_id, user_name in list(rows):
        key = skeleton(user_name)
        if key is None or (tenant_id, key) in taken:
            continue
        taken.add((tenant_id, key))
        users.update(user_name_skeleton=key).where(users.id == user_id).execute()
    migrate(migrator.add_index("users", ("tenant_id", "user_name_skeleton"), True))

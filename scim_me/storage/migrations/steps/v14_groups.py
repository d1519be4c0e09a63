"""Step 14: SCIM groups (``/scim2/Groups``) and their members, one row per membership, so adding
a member to a large group writes one row; the index on ``user_id`` answers "which groups is this
user in" (a user's ``groups`` attribute, ``members.value eq`` filters) without a scan."""

from __future__ import annotations

import peewee

from scim_me.storage.migrations.frozen import FrozenSchema

VERSION = 14
NAME = "groups and group members"


def apply(db: peewee.Database) -> None:
    schema = FrozenSchema(db, VERSION)
    db.create_tables([schema.Group, schema.GroupMember], safe=False)

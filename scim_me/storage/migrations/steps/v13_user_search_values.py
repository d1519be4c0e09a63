"""Step 13: what filters on /Users search (docs/scim-filters.md). ``users.search`` holds the
profile's searchable values (core/search_values.py, computed by the writer in the same UPDATE),
and a trigger on each backend explodes it into ``user_values``, one indexed row per value: a write
stays one statement for the application, and the rows can never disagree with the profile.
Existing users get theirs computed here."""

from __future__ import annotations

import json

import peewee
from playhouse.migrate import SchemaMigrator
from playhouse.migrate import migrate

from scim_me.core.search_values import search_rows
from scim_me.storage.migrations.frozen import FrozenSchema

VERSION = 13
NAME = "users: searchable values for filters"

_COLUMNS = "tenant_id, user_id, attr, sub, pos, exact, folded, head, num, flag, instant"

# The row layout is core/search_values.py's; ``folded`` is omitted when equal to ``exact``, and
# ``head`` (the indexed prefix) is derived here so the document stays small.
_SQLITE_SELECT = (
    "SELECT NEW.tenant_id, NEW.id, json_extract(r.value, '$[0]'), json_extract(r.value, '$[1]'), "
    "json_extract(r.value, '$[2]'), json_extract(r.value, '$[3]'), "
    "coalesce(json_extract(r.value, '$[4]'), json_extract(r.value, '$[3]')), "
    "substr(coalesce(json_extract(r.value, '$[4]'), json_extract(r.value, '$[3]')), 1, 128), "
    "json_extract(r.value, '$[5]'), json_extract(r.value, '$[6]'), json_extract(r.value, '$[7]') "
    "FROM json_each(NEW.search) AS r"
)
SQLITE_TRIGGERS = (
    f"CREATE TRIGGER users_search_insert AFTER INSERT ON users WHEN NEW.search IS NOT NULL "
    f"BEGIN INSERT INTO user_values ({_COLUMNS}) {_SQLITE_SELECT}; END",
    f"CREATE TRIGGER users_search_update AFTER UPDATE OF search ON users WHEN OLD.search IS NOT NEW.search "  # noqa: S608 (constant SQL)
    f"BEGIN DELETE FROM user_values WHERE user_id = OLD.id; "
    f"INSERT INTO user_values ({_COLUMNS}) {_SQLITE_SELECT}; END",
)

POSTGRESQL_TRIGGERS = (
    f"""CREATE OR REPLACE FUNCTION user_values_refresh() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        DELETE FROM user_values WHERE user_id = OLD.id;
    END IF;
    IF NEW.search IS NOT NULL THEN
        INSERT INTO user_values ({_COLUMNS})
        SELECT NEW.tenant_id, NEW.id, r->>0, r->>1, (r->>2)::integer, r->>3,
               coalesce(r->>4, r->>3), substr(coalesce(r->>4, r->>3), 1, 128),
               (r->>5)::double precision, (r->>6)::boolean, r->>7
        FROM jsonb_array_elements(NEW.search::jsonb) AS r;
    END IF;
    RETURN NULL;
END
$$""",  # noqa: S608 (constant SQL)
    "CREATE TRIGGER users_search_insert AFTER INSERT ON users FOR EACH ROW EXECUTE FUNCTION user_values_refresh()",
    "CREATE TRIGGER users_search_update AFTER UPDATE OF search ON users FOR EACH ROW "
    "WHEN (OLD.search IS DISTINCT FROM NEW.search) EXECUTE FUNCTION user_values_refresh()",
)


def search_text(profile: dict[str, object]) -> str:
    return json.dumps(search_rows(profile), separators=(",", ":"), ensure_ascii=False)


def apply(db: peewee.Database) -> None:
    schema = FrozenSchema(db, VERSION)
    migrator = SchemaMigrator.from_database(db)
    migrate(
        migrator.add_column("users", "search", schema.User.search),
        migrator.add_index("users", ("tenant_id", "created_at", "id"), False),
    )
    db.create_tables([schema.UserValue], safe=False)
    triggers = SQLITE_TRIGGERS if isinstance(db, peewee.SqliteDatabase) else POSTGRESQL_TRIGGERS
    for statement in triggers:
        db.execute_sql(statement)  # type: ignore[no-untyped-call]
    users = schema.User
    for user_id, profile in list(users.select(users.id, users.profile).tuples()):
        users.update(search=search_text(json.loads(profile))).where(users.id == user_id).execute()

"""Step 15: ``users.search`` carries the change a write makes to the searchable values,
``[dropped keys, new rows]`` (core/search_values.search_change), instead of every value; the
triggers apply it to ``user_values``. Step 13's triggers rewrote every row of the user on each
write, which put a few hundred microseconds on every PATCH /Me; now a one-attribute PATCH
deletes and inserts that attribute's rows only. ``user_values`` itself is unchanged (step 13
filled it), and stays exactly what the profile says: the change is computed from the profile at
the version the compare-and-set UPDATE checks (storage/users.update_user)."""

from __future__ import annotations

import peewee

VERSION = 15
NAME = "users: searchable values written as changes"

_COLUMNS = "tenant_id, user_id, attr, sub, pos, exact, folded, head, num, flag, instant"

# Row layout: core/search_values.py; ``folded`` is omitted when equal to ``exact``, and ``head``
# (the indexed prefix) is derived here so the stored change stays small.
_SQLITE_INSERT = (
    f"INSERT INTO user_values ({_COLUMNS}) "  # noqa: S608 (constant SQL)
    "SELECT NEW.tenant_id, NEW.id, json_extract(r.value, '$[0]'), json_extract(r.value, '$[1]'), "
    "json_extract(r.value, '$[2]'), json_extract(r.value, '$[3]'), "
    "coalesce(json_extract(r.value, '$[4]'), json_extract(r.value, '$[3]')), "
    "substr(coalesce(json_extract(r.value, '$[4]'), json_extract(r.value, '$[3]')), 1, 128), "
    "json_extract(r.value, '$[5]'), json_extract(r.value, '$[6]'), json_extract(r.value, '$[7]') "
    "FROM json_each(NEW.search, '$[1]') AS r"
)
SQLITE_TRIGGERS = (
    "DROP TRIGGER IF EXISTS users_search_insert",
    "DROP TRIGGER IF EXISTS users_search_update",
    f"CREATE TRIGGER users_search_insert AFTER INSERT ON users WHEN NEW.search IS NOT NULL BEGIN {_SQLITE_INSERT}; END",
    # Fires whenever the UPDATE sets ``search``: the writer sets it only for a real change.
    "CREATE TRIGGER users_search_update AFTER UPDATE OF search ON users WHEN NEW.search IS NOT NULL "  # noqa: S608 (constant SQL)
    "BEGIN DELETE FROM user_values WHERE user_id = NEW.id "
    "AND attr IN (SELECT value FROM json_each(NEW.search, '$[0]')); "
    f"{_SQLITE_INSERT}; END",
)

POSTGRESQL_TRIGGERS = (
    "DROP TRIGGER IF EXISTS users_search_insert ON users",
    "DROP TRIGGER IF EXISTS users_search_update ON users",
    "DROP FUNCTION IF EXISTS user_values_refresh()",
    f"""CREATE OR REPLACE FUNCTION user_values_apply() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    change jsonb := NEW.search::jsonb;
BEGIN
    IF TG_OP = 'UPDATE' THEN
        DELETE FROM user_values
        WHERE user_id = NEW.id AND attr IN (SELECT jsonb_array_elements_text(change -> 0));
    END IF;
    INSERT INTO user_values ({_COLUMNS})
    SELECT NEW.tenant_id, NEW.id, r->>0, r->>1, (r->>2)::integer, r->>3,
           coalesce(r->>4, r->>3), substr(coalesce(r->>4, r->>3), 1, 128),
           (r->>5)::double precision, (r->>6)::boolean, r->>7
    FROM jsonb_array_elements(change -> 1) AS r;
    RETURN NULL;
END
$$""",  # noqa: S608 (constant SQL)
    "CREATE TRIGGER users_search_insert AFTER INSERT ON users FOR EACH ROW "
    "WHEN (NEW.search IS NOT NULL) EXECUTE FUNCTION user_values_apply()",
    "CREATE TRIGGER users_search_update AFTER UPDATE OF search ON users FOR EACH ROW "
    "WHEN (NEW.search IS NOT NULL) EXECUTE FUNCTION user_values_apply()",
)


def apply(db: peewee.Database) -> None:
    triggers = SQLITE_TRIGGERS if isinstance(db, peewee.SqliteDatabase) else POSTGRESQL_TRIGGERS
    for statement in triggers:
        db.execute_sql(statement)  # type: ignore[no-untyped-call]
    # Step 13 left each user's full row list in ``search``; as a change it would read as a new
    # list of rows with nothing dropped. Clear it so no later trigger reads the old format.
    db.execute_sql("UPDATE users SET search = NULL")  # type: ignore[no-untyped-call]

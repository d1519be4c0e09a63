"""Step 21: indexes a sort by a profile attribute walks in order (storage/user_query.py,
docs/scim-filters.md "Sorting by a profile attribute").

``GET /scim2/Users?sortBy=name.familyName&count=100`` grouped every value of the attribute in the
tenant, joined every user to them and sorted the lot: O(users) per page (~0.5 s at 100,000 users
on PostgreSQL). A page now walks an index of the attribute's values in sort order, ties by user,
and stops after the page: each sort column gets one, keyed ``(tenant_id, attr, sub, <value>,
user_id)``:

- ``head`` (the indexed prefix of ``folded``, caseExact false strings): the filters' index
  ``(tenant_id, attr, sub, head)`` gains ``user_id`` and replaces it (the filters use its prefix);
- ``exact_head``, new here: the first 128 characters of ``exact`` (caseExact strings), as ``head``
  is of ``folded``; the triggers fill it from now on, and the rows already there here. It has
  no index: every index of ``user_values`` is one more page written (and flushed) by every
  PATCH of /scim2/Me, since the triggers rewrite the changed attribute's rows (5 WAL frames
  for a one-operation PATCH, 6 with it), for sorts by the few caseExact attributes
  (``externalId``, a tenant's own), which read the attribute's values and sort them instead;
- ``num``, ``flag``, ``instant``: partial indexes (only rows holding such a value: none of a
  string attribute's, so a PATCH of one writes no page of them).

Code point order on both backends: ``exact_head`` is declared ``COLLATE "C"`` on PostgreSQL as
``head``, ``exact`` and ``folded`` are (step 13). And ``users (tenant_id, id)``: the users
without a value sort by id (last ascending, first descending), read in that order.
"""

from __future__ import annotations

import peewee
from playhouse.migrate import SchemaMigrator
from playhouse.migrate import migrate

from scim_me.storage.migrations.frozen import FrozenSchema

VERSION = 21
NAME = "user_values: sort indexes"

_COLUMNS = "tenant_id, user_id, attr, sub, pos, exact, folded, head, exact_head, num, flag, instant"

# Step 15's triggers, with ``exact_head``. Row layout: core/search_values.py; ``folded`` is
# omitted when equal to ``exact``, and the heads (indexed prefixes) are derived here.
_SQLITE_INSERT = (
    f"INSERT INTO user_values ({_COLUMNS}) "  # noqa: S608 (constant SQL)
    "SELECT NEW.tenant_id, NEW.id, json_extract(r.value, '$[0]'), json_extract(r.value, '$[1]'), "
    "json_extract(r.value, '$[2]'), json_extract(r.value, '$[3]'), "
    "coalesce(json_extract(r.value, '$[4]'), json_extract(r.value, '$[3]')), "
    "substr(coalesce(json_extract(r.value, '$[4]'), json_extract(r.value, '$[3]')), 1, 128), "
    "substr(json_extract(r.value, '$[3]'), 1, 128), "
    "json_extract(r.value, '$[5]'), json_extract(r.value, '$[6]'), json_extract(r.value, '$[7]') "
    "FROM json_each(NEW.search, '$[1]') AS r"
)
SQLITE_TRIGGERS = (
    "DROP TRIGGER IF EXISTS users_search_insert",
    "DROP TRIGGER IF EXISTS users_search_update",
    f"CREATE TRIGGER users_search_insert AFTER INSERT ON users WHEN NEW.search IS NOT NULL BEGIN {_SQLITE_INSERT}; END",
    "CREATE TRIGGER users_search_update AFTER UPDATE OF search ON users WHEN NEW.search IS NOT NULL "  # noqa: S608 (constant SQL)
    "BEGIN DELETE FROM user_values WHERE user_id = NEW.id "
    "AND attr IN (SELECT value FROM json_each(NEW.search, '$[0]')); "
    f"{_SQLITE_INSERT}; END",
)

# The triggers of step 15 call this function: replacing it is enough.
POSTGRESQL_TRIGGERS = (
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
           coalesce(r->>4, r->>3), substr(coalesce(r->>4, r->>3), 1, 128), substr(r->>3, 1, 128),
           (r->>5)::double precision, (r->>6)::boolean, r->>7
    FROM jsonb_array_elements(change -> 1) AS r;
    RETURN NULL;
END
$$""",  # noqa: S608 (constant SQL)
)

# Named as peewee names the frozen declaration's indexes (migrations/frozen.py), so a database
# built from it at this version has the same names.
INDEXES = (
    "DROP INDEX IF EXISTS uservalue_tenant_id_attr_sub_head",
    "CREATE INDEX uservalue_tenant_id_attr_sub_head_user_id ON user_values (tenant_id, attr, sub, head, user_id)",
    "CREATE INDEX uservalue_tenant_id_attr_sub_num_user_id "
    "ON user_values (tenant_id, attr, sub, num, user_id) WHERE num IS NOT NULL",
    "CREATE INDEX uservalue_tenant_id_attr_sub_flag_user_id "
    "ON user_values (tenant_id, attr, sub, flag, user_id) WHERE flag IS NOT NULL",
    "CREATE INDEX uservalue_tenant_id_attr_sub_instant_user_id "
    "ON user_values (tenant_id, attr, sub, instant, user_id) WHERE instant IS NOT NULL",
    "CREATE INDEX user_tenant_id_id ON users (tenant_id, id)",
)


def apply(db: peewee.Database) -> None:
    schema = FrozenSchema(db, VERSION)
    migrate(SchemaMigrator.from_database(db).add_column("user_values", "exact_head", schema.UserValue.exact_head))
    triggers = SQLITE_TRIGGERS if isinstance(db, peewee.SqliteDatabase) else POSTGRESQL_TRIGGERS
    # ADD COLUMN holds off every writer of ``user_values`` (so of ``users``' searchable values)
    # until the step commits (PostgreSQL's ACCESS EXCLUSIVE lock; SQLite's write transaction
    # anyway): every row written before has its ``exact_head`` set below, every row after by the
    # trigger.
    for statement in triggers:
        db.execute_sql(statement)  # type: ignore[no-untyped-call]
    db.execute_sql("UPDATE user_values SET exact_head = substr(exact, 1, 128) WHERE exact IS NOT NULL")  # type: ignore[no-untyped-call]
    for statement in INDEXES:
        db.execute_sql(statement)  # type: ignore[no-untyped-call]

"""Migrated databases without migrating for every test. ``prepare(url)`` brings the empty database
a test was given (tests/fixtures/database.py) to the latest schema, as ``upgrade()`` would, from a
copy of a database this test process migrated once; ``build_app`` and the storage tests' ``db``
fixture call it, then ``upgrade()`` itself (which then finds every step applied).

- SQLite: the template file, migrated once a process and closed (no ``-wal`` left), is copied to
  the test's path.
- PostgreSQL: creating ~40 tables with their indexes, sequences and triggers cost PostgreSQL
  0.3-0.8 s a test on a busy 2-core machine (and dropping them 0.05-0.3 s): most of an API test's
  setup. Each test process keeps a pool of migrated schemas: the test's empty schema is dropped
  and a pooled one renamed to its name (the URL the test holds is unchanged). At the test's end
  ``release()`` checks that no catalog row of the schema's objects (tables, columns, defaults,
  constraints, indexes, triggers, functions, sequences) was written since the schema was
  migrated, by their transaction ids (``xmin``, see ``_FINGERPRINT``): any DDL writes a new row
  version, a test's DDL included, so the check is exact, where describing the whole catalog cost
  25 ms a test. With that and the applied steps as migrated, its rows are deleted and its
  sequences reset and it goes back to the pool, as empty as a fresh one; anything else (a test's
  own DDL, a partial upgrade, nothing at all) and it is dropped, as every schema used to be.

The migration steps themselves still run from an empty database in tests/storage
(test_migrations.py, test_schema_drift.py, which take ``database_url`` without this), in every
live server's ``scim-me db upgrade`` and in the CLI tests.
"""

from __future__ import annotations

import shutil
import tempfile
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs
from urllib.parse import unquote
from urllib.parse import urlsplit

from tests.support.postgres import server_url

_sqlite_template: Path | None = None
_pools: dict[str, _SchemaPool] = {}


def migrate(database_url: str) -> None:
    """``scim-me db upgrade`` on ``database_url``, in this process."""
    from scim_me.storage.db import database_proxy
    from scim_me.storage.db import open_database
    from scim_me.storage.migrations import upgrade

    db = open_database(database_url)
    database_proxy.initialize(db)
    with db.connection_context():
        upgrade(db)
    db.close_all()


def prepare(database_url: str) -> bool:
    """Make an empty database at ``database_url`` a copy of the migrated template; leave any other
    (and any URL of another form) as it is, for ``upgrade()`` to handle. True when it made the
    copy: the database is then at the latest step."""
    parsed = urlsplit(database_url)
    if parsed.scheme == "sqlite":
        path = Path(unquote(parsed.path))
        if not parsed.netloc and path.is_absolute() and path.parent.is_dir() and _empty_sqlite(path):
            shutil.copyfile(_sqlite(), path)
            return True
    elif parsed.scheme in ("postgres", "postgresql"):
        schema = schema_of(database_url)
        if schema is not None:
            return _pool(server_url(database_url)).adopt(schema)
    return False


def connection(server: str) -> Any:
    """This test process's autocommit connection to ``server`` (a database URL without options),
    kept between tests: its catalog caches stay warm for the pool's statements."""
    return _pool(server)._connection()


def release(conn: Any, database_url: str) -> bool:
    """At the end of a test, over ``conn`` (autocommit): return the test's schema to the pool,
    emptied, if no DDL changed it; False when the caller must drop it."""
    schema = schema_of(database_url)
    pool = _pools.get(server_url(database_url))
    return schema is not None and pool is not None and pool.take_back(conn, schema)


def schema_of(database_url: str) -> str | None:
    """``t_x`` of ``...?options=-csearch_path%3Dt_x`` (tests/fixtures/database.py's form)."""
    options = parse_qs(urlsplit(database_url).query).get("options", [])
    prefix = "-csearch_path="
    if len(options) == 1 and options[0].startswith(prefix) and options[0][len(prefix) :].isidentifier():
        return options[0][len(prefix) :]
    return None


def _empty_sqlite(path: Path) -> bool:
    if any(path.with_name(path.name + suffix).exists() for suffix in ("-wal", "-journal")):
        return False
    return not path.exists() or path.stat().st_size == 0


def _sqlite() -> Path:
    global _sqlite_template
    if _sqlite_template is None:
        path = Path(tempfile.mkdtemp(prefix="scim-me-template-")) / "template.db"
        migrate(f"sqlite:///{path}")
        leftovers = [p.name for p in path.parent.iterdir() if p.name.endswith(("-wal", "-shm", "-journal"))]
        assert not leftovers, f"the template database was not closed cleanly: {leftovers}"
        _sqlite_template = path
    return _sqlite_template


def _pool(server: str) -> _SchemaPool:
    if server not in _pools:
        _pools[server] = _SchemaPool(server)
    return _pools[server]


# The catalog rows of everything in a schema that a migration step or a test's DDL could change:
# how many, and the newest transaction that wrote one (xmin). DDL inserts, updates or deletes such
# rows, and transaction ids only grow: a count and a newest id unchanged since the migration mean
# no DDL touched the schema (aggregates, not the rows: 2 ms rather than 8).
_FINGERPRINT = """
SELECT count(*) || ':' || coalesce(max(writer::text::bigint), 0) FROM (
  SELECT xmin FROM pg_class WHERE relnamespace = %(s)s::regnamespace
  UNION ALL
  SELECT xmin FROM pg_attribute WHERE attrelid IN (SELECT oid FROM pg_class WHERE relnamespace = %(s)s::regnamespace)
  UNION ALL
  SELECT xmin FROM pg_attrdef WHERE adrelid IN (SELECT oid FROM pg_class WHERE relnamespace = %(s)s::regnamespace)
  UNION ALL
  SELECT xmin FROM pg_constraint WHERE connamespace = %(s)s::regnamespace
  UNION ALL
  SELECT xmin FROM pg_index WHERE indrelid IN (SELECT oid FROM pg_class WHERE relnamespace = %(s)s::regnamespace)
  UNION ALL
  SELECT xmin FROM pg_trigger WHERE tgrelid IN (SELECT oid FROM pg_class WHERE relnamespace = %(s)s::regnamespace)
  UNION ALL
  SELECT xmin FROM pg_proc WHERE pronamespace = %(s)s::regnamespace
  UNION ALL
  SELECT xmin FROM pg_sequence WHERE seqrelid IN (SELECT oid FROM pg_class WHERE relnamespace = %(s)s::regnamespace)
) items (writer)
"""
_APPLIED = "SELECT string_agg(version::text || ' ' || name, ',' ORDER BY version) FROM \"{schema}\".schema_migrations"
# Foreign keys within the schema: (referencing table, referenced table).
_REFERENCES = """
SELECT child.relname, parent.relname FROM pg_constraint c
JOIN pg_class child ON child.oid = c.conrelid JOIN pg_class parent ON parent.oid = c.confrelid
WHERE c.contype = 'f' AND c.connamespace = %(s)s::regnamespace
"""
_TABLES = "SELECT relname FROM pg_class WHERE relnamespace = %(s)s::regnamespace AND relkind IN ('r', 'p')"
# Every sequence of the schema on search_path back to a fresh one's state (nextval gives its start).
_RESET_SEQUENCES = """
SELECT setval(c.oid, s.seqstart, false) FROM pg_sequence s JOIN pg_class c ON c.oid = s.seqrelid
WHERE c.relnamespace = current_schema()::regnamespace
"""


class _SchemaPool:
    """The migrated schemas of one database (this test process's, tests/support/postgres.py)."""

    def __init__(self, server: str) -> None:
        self.server = server
        self.idle: list[str] = []
        # The catalog fingerprint of each schema as migrated (_FINGERPRINT), by its current name:
        # pooled ones under their pool name, adopted ones under the test's.
        self.fingerprints: dict[str, str] = {}
        self.applied: str | None = None
        # What empties a schema of the tests' rows: DELETE, children before parents.
        self.clear: list[str] = []
        self._conn: Any = None

    def _connection(self) -> Any:
        """This process's own autocommit connection for adopting schemas, kept between tests."""
        import psycopg2

        if self._conn is None or self._conn.closed:
            self._conn = psycopg2.connect(self.server)
            self._conn.autocommit = True
        return self._conn

    def adopt(self, schema: str) -> bool:
        """Put a migrated schema in the place of the empty ``schema``; False when it is not one."""
        import psycopg2

        conn = self._connection()
        try:
            with conn.cursor() as cur:
                cur.execute(
                    "SELECT n.oid IS NOT NULL, EXISTS (SELECT 1 FROM pg_class c WHERE c.relnamespace = n.oid)"
                    " FROM (SELECT %s::text AS name) wanted LEFT JOIN pg_namespace n ON n.nspname = wanted.name",
                    (schema,),
                )
                exists, has_relations = cur.fetchone()
            if not exists or has_relations:
                return False
            pooled = self.idle.pop() if self.idle else self._migrated(conn)
            with conn.cursor() as cur:
                cur.execute(f'BEGIN; DROP SCHEMA "{schema}"; ALTER SCHEMA "{pooled}" RENAME TO "{schema}"; COMMIT')
        except psycopg2.Error:
            self._conn.close()  # a failure inside the BEGIN above leaves it in an aborted transaction
            raise
        self.fingerprints[schema] = self.fingerprints.pop(pooled)
        return True

    def _migrated(self, conn: Any) -> str:
        name = "pool_" + uuid.uuid4().hex[:16]
        with conn.cursor() as cur:
            cur.execute(f'CREATE SCHEMA "{name}"')
        migrate(f"{self.server}?options=-csearch_path%3D{name}")
        with conn.cursor() as cur:
            cur.execute(_FINGERPRINT, {"s": name})
            self.fingerprints[name] = cur.fetchone()[0]
            if self.applied is None:
                cur.execute(_APPLIED.format(schema=name))
                self.applied = cur.fetchone()[0]
                cur.execute(_TABLES, {"s": name})
                tables = sorted(row[0] for row in cur.fetchall())
                cur.execute(_REFERENCES, {"s": name})
                references = [(child, parent) for child, parent in cur.fetchall() if child != parent]
                # schema_migrations stays: its rows are the template's (compared in take_back).
                tables.remove("schema_migrations")
                self.clear = [f'DELETE FROM "{table}"' for table in _children_first(tables, references)]
        return name

    def _unchanged(self, conn: Any, schema: str) -> bool:
        """No DDL touched ``schema`` since it was migrated, and its applied steps are the template's."""
        migrated = self.fingerprints.pop(schema, None)
        if migrated is None:
            return False
        with conn.cursor() as cur:
            cur.execute(_FINGERPRINT, {"s": schema})
            if cur.fetchone()[0] != migrated:
                return False
            cur.execute(_APPLIED.format(schema=schema))
            return bool(cur.fetchone()[0] == self.applied)

    def take_back(self, conn: Any, schema: str) -> bool:
        import psycopg2

        fingerprint = self.fingerprints.get(schema)
        if fingerprint is None or not self._unchanged(conn, schema):
            return False
        name = "pool_" + uuid.uuid4().hex[:16]
        try:
            with conn.cursor() as cur:
                cur.execute("BEGIN")
                # A connection the test left inside a transaction would otherwise block this for good;
                # the caller's DROP SCHEMA then waits as it always did.
                cur.execute("SET LOCAL lock_timeout = '5s'")
                cur.execute(f'SET LOCAL search_path TO "{schema}"')
                cur.execute("; ".join(self.clear))
                # setval is not undone by a ROLLBACK: then the caller drops the schema anyway.
                cur.execute(_RESET_SEQUENCES)
                cur.execute(f'ALTER SCHEMA "{schema}" RENAME TO "{name}"')
                cur.execute("COMMIT")
        except psycopg2.Error:
            with conn.cursor() as cur:
                cur.execute("ROLLBACK")
            return False
        self.idle.append(name)
        self.fingerprints[name] = fingerprint
        return True


def _children_first(tables: list[str], references: list[tuple[str, str]]) -> list[str]:
    """``tables`` ordered so that each comes before every table it references."""
    referenced_by: dict[str, set[str]] = {table: set() for table in tables}
    for child, parent in references:
        referenced_by[parent].add(child)
    ordered: list[str] = []
    done: set[str] = set()
    while len(ordered) < len(tables):
        ready = [t for t in tables if t not in done and referenced_by[t] <= done]
        assert ready, f"foreign keys form a cycle among {sorted(set(tables) - done)}"
        ordered.extend(ready)
        done.update(ready)
    return ordered

"""The schema ``upgrade()`` builds is the one ``models.py`` reads and writes, on SQLite and
PostgreSQL: a model column, index or foreign key added without a migration step fails here. And a
database built from the frozen base at any earlier version upgrades to the same schema as an empty
one, so a step cannot silently diverge from the declaration it builds from."""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any

import peewee
import pytest

from scim_me.storage import models
from scim_me.storage.db import is_sqlite
from scim_me.storage.db import open_database
from scim_me.storage.migrations import LATEST
from scim_me.storage.migrations import MIGRATIONS
from scim_me.storage.migrations import upgrade
from scim_me.storage.migrations.frozen import FrozenSchema
from scim_me.storage.models import SchemaMigration

MODELS = [
    model
    for _name, model in inspect.getmembers(models, inspect.isclass)
    if issubclass(model, models.BaseModel) and model is not models.BaseModel
]

# Declared types vary by backend (VARCHAR(255) / character varying, DATETIME / timestamp without
# time zone); the family is what both report reliably. Lengths are left out: PostgreSQL's
# information_schema reports them apart from the type, SQLite does not enforce them.
_FAMILIES = {
    "integer": {"auto", "bigauto", "int", "integer", "bigint", "smallint", "serial", "bigserial"},
    "text": {"varchar", "character varying", "char", "character", "text"},
    "timestamp": {"datetime", "timestamp", "timestamp without time zone"},
    "boolean": {"bool", "boolean"},
    "float": {"real", "double", "double precision", "float"},
}


@dataclass(frozen=True)
class Column:
    null: bool
    family: str
    primary_key: bool


Index = tuple[tuple[str, ...], bool]  # columns, unique
ForeignKey = tuple[str, str, str, str]  # column, referenced table, referenced column, ON DELETE


@dataclass
class Table:
    columns: dict[str, Column]
    indexes: set[Index]
    foreign_keys: set[ForeignKey]


def _family(type_name: str) -> str:
    base = type_name.lower().split("(")[0].strip()
    for family, names in _FAMILIES.items():
        if base in names:
            return family
    raise AssertionError(f"column type {type_name!r} has no family here: add it to _FAMILIES")


def _sqlite_schema(db: Any) -> dict[str, Table]:
    return {
        name: Table(
            columns={
                column.name: Column(column.null, _family(column.data_type), column.primary_key)
                for column in db.get_columns(name)
            },
            indexes={(tuple(index.columns), bool(index.unique)) for index in db.get_indexes(name)},
            foreign_keys={
                (fk.column, fk.dest_table, fk.dest_column, (fk.on_delete or "NO ACTION").upper())
                for fk in db.get_foreign_keys(name)
            },
        )
        for name in db.get_tables()
    }


# PostgreSQL from its catalog, one query each for the whole schema: peewee's per-table
# information_schema queries take seconds per table on a busy machine.
_PG_COLUMNS = """
SELECT t.relname, a.attname, NOT a.attnotnull, format_type(a.atttypid, NULL),
       EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = t.oid AND i.indisprimary AND a.attnum = ANY (i.indkey))
FROM pg_class t
JOIN pg_namespace n ON n.oid = t.relnamespace
JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum > 0 AND NOT a.attisdropped
WHERE n.nspname = current_schema() AND t.relkind = 'r'
"""
_PG_INDEXES = """
SELECT t.relname, i.indisunique,
       ARRAY(SELECT a.attname FROM unnest(i.indkey) WITH ORDINALITY AS k(attnum, position)
             JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum ORDER BY k.position)
FROM pg_index i
JOIN pg_class t ON t.oid = i.indrelid
JOIN pg_namespace n ON n.oid = t.relnamespace
WHERE n.nspname = current_schema()
"""
_PG_FOREIGN_KEYS = """
SELECT t.relname, a.attname, r.relname, ra.attname, c.confdeltype
FROM pg_constraint c
JOIN pg_class t ON t.oid = c.conrelid
JOIN pg_namespace n ON n.oid = t.relnamespace
JOIN pg_class r ON r.oid = c.confrelid
JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]
JOIN pg_attribute ra ON ra.attrelid = c.confrelid AND ra.attnum = c.confkey[1]
WHERE c.contype = 'f' AND n.nspname = current_schema()
"""
_PG_ON_DELETE = {"a": "NO ACTION", "r": "RESTRICT", "c": "CASCADE", "n": "SET NULL", "d": "SET DEFAULT"}


def _postgresql_schema(db: Any) -> dict[str, Table]:
    schema = {name: Table(columns={}, indexes=set(), foreign_keys=set()) for name in db.get_tables()}
    for table, column, null, type_name, primary_key in db.execute_sql(_PG_COLUMNS).fetchall():
        schema[table].columns[column] = Column(null, _family(type_name), primary_key)
    for table, unique, columns in db.execute_sql(_PG_INDEXES).fetchall():
        schema[table].indexes.add((tuple(columns), unique))
    for table, column, dest_table, dest_column, on_delete in db.execute_sql(_PG_FOREIGN_KEYS).fetchall():
        schema[table].foreign_keys.add((column, dest_table, dest_column, _PG_ON_DELETE[on_delete]))
    return schema


def _database_schema(db: Any) -> dict[str, Table]:
    return _sqlite_schema(db) if is_sqlite(db) else _postgresql_schema(db)


def _model_family(db: Any, field: peewee.Field) -> str:
    family = _family(field.field_type)
    # SQLite has no boolean type: peewee declares a BooleanField INTEGER there.
    return "integer" if family == "boolean" and is_sqlite(db) else family


def _model_table(db: Any, model: type[peewee.Model]) -> Table:
    meta: Any = model._meta
    fields: list[Any] = meta.sorted_fields
    by_name = {field.name: field for field in fields}
    indexes: set[Index] = {
        ((field.column_name,), bool(field.unique))
        for field in fields
        if (field.index or field.unique) and not field.primary_key
    }
    for names, unique in meta.indexes:
        indexes.add((tuple(by_name[name].column_name for name in names), unique))
    return Table(
        columns={
            field.column_name: Column(field.null, _model_family(db, field), field.primary_key) for field in fields
        },
        indexes=indexes,
        foreign_keys={
            (
                field.column_name,
                field.rel_model._meta.table_name,
                field.rel_field.column_name,
                (field.on_delete or "NO ACTION").upper(),
            )
            for field in fields
            if isinstance(field, peewee.ForeignKeyField)
        },
    )


def _drift(db: Any) -> list[str]:
    """Every difference between the models and the database, one line each."""
    found = _database_schema(db)
    expected = {model._meta.table_name: _model_table(db, model) for model in MODELS}
    problems = [f"table {name}: in the models, not in the database" for name in expected.keys() - found.keys()]
    problems += [f"table {name}: in the database, no model" for name in found.keys() - expected.keys()]
    for name in sorted(expected.keys() & found.keys()):
        want, have = expected[name], found[name]
        for column in sorted(want.columns.keys() | have.columns.keys()):
            if want.columns.get(column) != have.columns.get(column):
                problems.append(
                    f"{name}.{column}: model {want.columns.get(column)}, database {have.columns.get(column)}"
                )
        # The primary key's own index (SQLite's autoindex, PostgreSQL's _pkey) is no declared index.
        primary = tuple(column for column, shape in have.columns.items() if shape.primary_key)
        have_indexes = have.indexes - {(primary, True)}
        problems += [f"{name}: index {index} not in the database" for index in sorted(want.indexes - have_indexes)]
        problems += [f"{name}: index {index} not in the models" for index in sorted(have_indexes - want.indexes)]
        if want.foreign_keys != have.foreign_keys:
            problems.append(f"{name}: foreign keys {sorted(want.foreign_keys)} != {sorted(have.foreign_keys)}")
    return problems


def _drop_every_table(db: Any) -> None:
    # The tables are empty, so neither backend refuses a parent before its children (SQLite
    # checks references on rows only; PostgreSQL drops the constraints with CASCADE).
    if is_sqlite(db):
        # First the triggers: dropping a table deletes its rows, which compiles the DELETE
        # triggers of the tables it cascades to (step 20's refers to a table dropped by then).
        for (trigger,) in db.execute_sql("SELECT name FROM sqlite_master WHERE type = 'trigger'").fetchall():
            db.execute_sql(f'DROP TRIGGER "{trigger}"')
    for name in db.get_tables():
        db.execute_sql(f'DROP TABLE "{name}"' + ("" if is_sqlite(db) else " CASCADE"))


def _build_at(db: Any, version: int) -> None:
    """A database as of ``version``: the frozen base's tables then, and the steps recorded."""
    db.create_tables(FrozenSchema(db, version).tables(), safe=False)
    with SchemaMigration.bind_ctx(db):
        SchemaMigration.create_table()
        SchemaMigration.insert_many(
            [
                {"version": v, "name": name, "applied_at": "2026-01-01 00:00:00"}
                for v, name, _step in MIGRATIONS[:version]
            ]
        ).execute()


def test_models_match_the_database_after_upgrade(database_url: str) -> None:
    db: Any = open_database(database_url)
    try:
        with db.connection_context():
            assert db.get_tables() == []
            upgrade(db)
            assert _drift(db) == []
    finally:
        db.close_all()


# The schema an empty database upgrades to, per backend: read once, as every upgrade is slow DDL.
_FRESH: dict[str, dict[str, Table]] = {}


def _fresh_schema(backend: str, empty: Any) -> dict[str, Table]:
    if backend not in _FRESH:
        upgrade(empty)
        _FRESH[backend] = _database_schema(empty)
        _drop_every_table(empty)
    return _FRESH[backend]


@pytest.mark.parametrize("version", range(1, LATEST + 1))
def test_a_database_built_at_any_version_upgrades_to_the_fresh_schema(
    backend: str, database_url: str, version: int
) -> None:
    db: Any = open_database(database_url)
    try:
        with db.connection_context():
            assert db.get_tables() == []
            fresh = _fresh_schema(backend, db)
            assert db.get_tables() == []

            _build_at(db, version)
            assert upgrade(db) == list(range(version + 1, LATEST + 1))

            assert _database_schema(db) == fresh
    finally:
        db.close_all()

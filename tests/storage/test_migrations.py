"""Versioned migrations (``storage/migrations/``) on SQLite and PostgreSQL. That the upgraded schema
matches the models is tests/storage/test_schema_drift.py."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import peewee
import pytest

from scim_me.errors import UniquenessError
from scim_me.storage.db import database_proxy
from scim_me.storage.db import open_database
from scim_me.storage.migrations import LATEST
from scim_me.storage.migrations import MIGRATIONS
from scim_me.storage.migrations import current_version
from scim_me.storage.migrations import upgrade
from scim_me.storage.models import SchemaMigration
from scim_me.storage.tenants import create_tenant
from scim_me.storage.tenants import list_tenants

TABLES = {
    "consent_pii_categories",
    "consent_purpose_categories",
    "consent_purpose_pii",
    "consent_purposes",
    "consent_receipt_pii",
    "consent_receipt_purpose_categories",
    "consent_receipt_purposes",
    "consent_receipt_services",
    "consent_receipts",
    "email_changes",
    "external_issuers",
    "login_throttles",
    "mail_outbox",
    "mfa_backup_codes",
    "mfa_challenges",
    "oauth_access_tokens",
    "oauth_clients",
    "oauth_codes",
    "oauth_consents",
    "oauth_grants",
    "oauth_refresh_tokens",
    "passkey_challenges",
    "passkey_credentials",
    "password_history",
    "recovery_flows",
    "schema_migrations",
    "scim_group_members",
    "scim_groups",
    "security_alerts",
    "security_events",
    "signing_keys",
    "tenant_user_counts",
    "tenants",
    "trusted_devices",
    "user_mfa",
    "user_sessions",
    "user_values",
    "users",
}
ALL_STEPS = [version for version, _name, _step in MIGRATIONS]
ALL_APPLIED = [(version, name) for version, name, _step in MIGRATIONS]


def _applied(db: Any) -> list[tuple[int, str]]:
    with SchemaMigration.bind_ctx(db):
        return [(row.version, row.name) for row in SchemaMigration.select().order_by(SchemaMigration.version)]


def test_steps_are_numbered_from_one_without_gaps_and_named_once() -> None:
    assert [version for version, _name, _step in MIGRATIONS] == list(range(1, len(MIGRATIONS) + 1))
    names = [name for _version, name in ALL_APPLIED]
    assert len(set(names)) == len(names)


def test_upgrade_from_empty_creates_every_table_and_records_every_step(database_url: str) -> None:
    db: Any = open_database(database_url)
    try:
        with db.connection_context():
            assert db.get_tables() == []
            assert current_version(db) == 0

            assert upgrade(db) == ALL_STEPS

            assert set(db.get_tables()) == TABLES
            assert LATEST == ALL_STEPS[-1] == 21
            assert current_version(db) == LATEST
            assert _applied(db) == ALL_APPLIED
    finally:
        db.close_all()


def test_second_upgrade_applies_nothing_and_keeps_data(database_url: str) -> None:
    db: Any = open_database(database_url)
    try:
        with db.connection_context():
            assert upgrade(db) == ALL_STEPS
            database_proxy.initialize(db)
            create_tenant("acme")
            assert upgrade(db) == []
            assert upgrade(db) == []
            assert _applied(db) == ALL_APPLIED
            assert [t.name for t in list_tenants()] == ["acme"]
    finally:
        db.close_all()


def test_an_up_to_date_database_upgrades_without_waiting_for_a_writer(database_url: str) -> None:
    """Every instance runs the upgrade as it starts: on a database that has every step, it only
    reads, so a start does not queue behind a long write (or behind another upgrader's lock)."""
    db: Any = open_database(database_url)
    writer: Any = open_database(database_url)
    try:
        with db.connection_context():
            assert upgrade(db) == ALL_STEPS
        writer.connect()
        sqlite = isinstance(writer, peewee.SqliteDatabase)
        with writer.atomic("IMMEDIATE") if sqlite else writer.atomic():
            if not sqlite:  # what a concurrent upgrader holds (runner._serialize_upgraders)
                writer.execute_sql("SELECT pg_advisory_xact_lock(727274)")
            results: list[list[int]] = []

            def run() -> None:
                with db.connection_context():
                    results.append(upgrade(db))

            thread = threading.Thread(target=run, daemon=True)
            thread.start()
            thread.join(timeout=5)
            waited = thread.is_alive()
        thread.join(timeout=30)
        assert not waited, "the upgrade waited for the writer"
        assert results == [[]]
    finally:
        writer.close_all()
        db.close_all()


def test_concurrent_upgrades_apply_each_step_once(database_url: str) -> None:
    """Two operators (or deploy hooks) upgrading at once: one applies, the other finds nothing to do."""
    results: list[list[int]] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(2, timeout=30)

    def run() -> None:
        db: Any = open_database(database_url)
        try:
            with db.connection_context():
                barrier.wait()
                results.append(upgrade(db))
        except (peewee.PeeweeException, threading.BrokenBarrierError) as exc:
            errors.append(exc)
        finally:
            db.close_all()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)
    assert errors == []
    # Each step in its own transaction: the two upgraders may share the work, never repeat it.
    assert sorted(step for applied in results for step in applied) == ALL_STEPS
    db: Any = open_database(database_url)
    try:
        with db.connection_context():
            assert _applied(db) == ALL_APPLIED
    finally:
        db.close_all()


def test_step_11_gives_existing_users_their_look_alike_key_without_locking_anyone_out(
    database_url: str, monkeypatch: Any
) -> None:
    """Users created before step 11 get their key; of two that already look alike the older keeps
    it and the newer gets NULL (still signs in); a new look-alike of either is refused."""
    from datetime import datetime

    from scim_me.storage.migrations import runner
    from scim_me.storage.users import create_user
    from scim_me.storage.users import find_user
    from scim_me.storage.users import user_name_key

    db: Any = open_database(database_url)
    try:
        with db.connection_context():
            monkeypatch.setattr(runner, "MIGRATIONS", MIGRATIONS[:10])
            assert upgrade(db) == list(range(1, 11))
            database_proxy.initialize(db)
            tenant = create_tenant("acme")
            for index, name in enumerate(["kim", "ki\u1e41", "lee"]):  # kiṁ registered before the rule
                stamp = datetime(2026, 1, 1, 0, 0, index)
                p = db.param
                db.execute_sql(
                    "INSERT INTO users (id, tenant_id, user_name, user_name_key, profile, version, created_at, "
                    f"updated_at) VALUES ({p}, {p}, {p}, {p}, '{{}}', 1, {p}, {p})",
                    (f"u{index}", tenant.id, name, user_name_key(name), stamp, stamp),
                )
            monkeypatch.setattr(runner, "MIGRATIONS", MIGRATIONS)
            assert upgrade(db) == list(range(11, LATEST + 1))
            keys = dict(db.execute_sql("SELECT id, user_name_skeleton FROM users ORDER BY id").fetchall())
            assert keys == {"u0": "kim", "u1": None, "u2": "lee"}
            assert find_user(tenant.id, "ki\u1e41") is not None
            for look_alike in ("KI\u1e40", "le\u0301e"):
                with pytest.raises(UniquenessError):
                    create_user(tenant.id, {"userName": look_alike}, None)
    finally:
        db.close_all()


def test_step_13_indexes_the_values_of_existing_users_and_keeps_them_in_step(
    database_url: str, monkeypatch: Any
) -> None:
    """Users written before step 13 become searchable; after it, writes and deletes keep
    ``user_values`` in step through the triggers (docs/scim-filters.md)."""
    import json
    from datetime import datetime

    from scim_me.storage.migrations import runner
    from scim_me.storage.users import delete_user
    from scim_me.storage.users import get_user
    from scim_me.storage.users import update_user
    from scim_me.storage.users import user_name_key

    db: Any = open_database(database_url)
    try:
        with db.connection_context():
            monkeypatch.setattr(runner, "MIGRATIONS", MIGRATIONS[:12])
            assert upgrade(db) == list(range(1, 13))
            database_proxy.initialize(db)
            tenant = create_tenant("acme")
            stamp = datetime(2026, 1, 1)
            profile = {"userName": "kim", "emails": [{"value": "Kim@Example.com", "type": "work"}]}
            p = db.param
            db.execute_sql(
                "INSERT INTO users (id, tenant_id, user_name, user_name_key, profile, version, created_at, "
                f"updated_at) VALUES ({p}, {p}, {p}, {p}, {p}, 1, {p}, {p})",
                ("u0", tenant.id, "kim", user_name_key("kim"), json.dumps(profile), stamp, stamp),
            )
            monkeypatch.setattr(runner, "MIGRATIONS", MIGRATIONS[:13])
            assert upgrade(db) == [13]

            def values() -> set[tuple[Any, ...]]:
                rows = db.execute_sql("SELECT attr, sub, pos, exact, folded FROM user_values WHERE user_id = 'u0'")
                return set(rows.fetchall())

            assert values() == {
                ("username", "", 0, "kim", "kim"),
                ("emails", "", 0, None, None),
                ("emails", "value", 0, "Kim@Example.com", "kim@example.com"),
                ("emails", "type", 0, "work", "work"),
            }
            # Later steps (15: writes send only what they change) keep the values in step.
            monkeypatch.setattr(runner, "MIGRATIONS", MIGRATIONS)
            assert upgrade(db) == ALL_STEPS[13:]
            assert values() == {
                ("username", "", 0, "kim", "kim"),
                ("emails", "", 0, None, None),
                ("emails", "value", 0, "Kim@Example.com", "kim@example.com"),
                ("emails", "type", 0, "work", "work"),
            }
            user = get_user(tenant.id, "u0")
            assert user is not None
            assert update_user(user, {"userName": "kim", "nickName": "K"}) is not None
            assert values() == {("username", "", 0, "kim", "kim"), ("nickname", "", 0, "K", "k")}
            assert delete_user(tenant.id, "u0")
            assert values() == set()
    finally:
        db.close_all()


def test_step_21_gives_existing_values_their_exact_head_and_the_triggers_keep_it(
    database_url: str, monkeypatch: Any
) -> None:
    """Step 21's sort indexes: ``exact_head`` (the first 128 characters of ``exact``, as ``head``
    is of ``folded``) is filled for the values written before it, and written by the triggers
    after it, on insert and on update; a sort by a caseExact attribute reads it."""
    from scim_me.core.schemas import load_registry
    from scim_me.storage.migrations import runner
    from scim_me.storage.user_query import search_users
    from scim_me.storage.users import create_user
    from scim_me.storage.users import get_user
    from scim_me.storage.users import update_user

    long = "Ä" + "x" * 200
    db: Any = open_database(database_url)
    try:
        with db.connection_context():
            monkeypatch.setattr(runner, "MIGRATIONS", MIGRATIONS[:20])
            assert upgrade(db) == list(range(1, 21))
            database_proxy.initialize(db)
            tenant = create_tenant("acme")
            before = create_user(tenant.id, {"userName": "kim", "externalId": "B-1", "title": long}, None)
            monkeypatch.setattr(runner, "MIGRATIONS", MIGRATIONS)
            assert upgrade(db) == ALL_STEPS[20:]

            def heads(user_id: str) -> dict[str, tuple[Any, Any]]:
                rows = db.execute_sql(
                    f"SELECT attr, head, exact_head FROM user_values WHERE user_id = {db.param}", (user_id,)
                )
                return {attr: (head, exact_head) for attr, head, exact_head in rows.fetchall()}

            assert heads(before.id) == {
                "username": ("kim", "kim"),
                "externalid": ("b-1", "B-1"),
                "title": (long.casefold()[:128], long[:128]),
            }
            after = create_user(tenant.id, {"userName": "lee", "externalId": "a-2"}, None)
            assert heads(after.id) == {"username": ("lee", "lee"), "externalid": ("a-2", "a-2")}
            stored = get_user(tenant.id, before.id)
            assert stored is not None
            assert update_user(stored, {"userName": "kim", "externalId": "C-3"}) is not None
            assert heads(before.id) == {"username": ("kim", "kim"), "externalid": ("c-3", "C-3")}
            # externalId is caseExact: "C-3" sorts before "a-2" by code point.
            registry = load_registry(Path(__file__).resolve().parents[2] / "schemas")
            page = search_users(tenant.id, registry, sort_by="externalId")
            assert [user.user_name for user in page.resources] == ["kim", "lee"]
    finally:
        db.close_all()

"""Shared fixtures: a real database per test (a SQLite file, or a fresh schema in the local
PostgreSQL), an app built on it with ``create_app(overrides)``, and a test client.

API tests run once per backend. PostgreSQL is 127.0.0.1:5432, database ``test`` (override with
``SCIM_ME_TEST_POSTGRES_URL``). Under ``CI=true`` an unreachable PostgreSQL fails the run; on a
developer machine those cases are skipped with the reason.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from scim_me.config import new_master_key

POSTGRES_URL = os.environ.get("SCIM_ME_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
IN_CI = os.environ.get("CI", "").lower() == "true"

# Cheap argon2 for tests; one dedicated test checks production parameters.
FAST_HASH = {"argon2_memory_kib": 1024, "argon2_time_cost": 1, "argon2_parallelism": 1}


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--backends",
        default=os.environ.get("SCIM_ME_TEST_BACKENDS", "sqlite,postgresql"),
        help="comma-separated database backends for the API suite",
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "backend" in metafunc.fixturenames:
        names = [b.strip() for b in metafunc.config.getoption("--backends").split(",") if b.strip()]
        metafunc.parametrize("backend", names, scope="session")


def _postgres_available() -> str | None:
    import psycopg2

    try:
        psycopg2.connect(POSTGRES_URL, connect_timeout=3).close()
    except psycopg2.Error as exc:
        return str(exc).strip()
    return None


@pytest.fixture(scope="session")
def postgres_ready() -> bool:
    problem = _postgres_available()
    if problem is None:
        return True
    if IN_CI:
        pytest.fail(f"PostgreSQL is required under CI=true and is not reachable at {POSTGRES_URL}: {problem}")
    pytest.skip(f"PostgreSQL not reachable at {POSTGRES_URL}: {problem}")
    return False


@pytest.fixture
def database_url(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'scim-me.db'}"
        return
    request.getfixturevalue("postgres_ready")
    import psycopg2

    schema = "t_" + uuid.uuid4().hex[:16]
    conn = psycopg2.connect(POSTGRES_URL)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f"CREATE SCHEMA {schema}")
    try:
        yield f"{POSTGRES_URL}?options=-csearch_path%3D{schema}"
    finally:
        with conn.cursor() as cur:
            cur.execute(f"DROP SCHEMA {schema} CASCADE")
        conn.close()


def build_app(database_url: str, tmp_path: Path, **overrides: Any) -> Any:
    """Create the database schema and an app on it (what `scim-me db upgrade` + wsgi do)."""
    from scim_me import create_app
    from scim_me.storage.db import database_proxy
    from scim_me.storage.db import open_database
    from scim_me.storage.migrations import upgrade

    key_file = tmp_path / "encryption.key"
    if not key_file.exists():
        key_file.write_text(new_master_key())
    db = open_database(database_url)
    database_proxy.initialize(db)
    with db.connection_context():
        upgrade(db)
    db.close_all()
    settings: dict[str, Any] = {
        "database_url": database_url,
        "encryption_key_file": str(key_file),
        "base_url": "http://localhost",
        "mail_outbox_dir": str(tmp_path / "outbox"),
        **FAST_HASH,
    }
    settings.update(overrides)
    return create_app(settings)


@pytest.fixture
def app(database_url: str, tmp_path: Path) -> Iterator[Any]:
    application = build_app(database_url, tmp_path)
    yield application
    application.extensions["scim_me.db"].close_all()


@pytest.fixture
def client(app: Any) -> Any:
    return app.test_client()


@pytest.fixture
def mail() -> Iterator[Any]:
    """A real SMTP server on loopback; ``mail.settings()`` points an app at it."""
    from mailserver import MailSink

    sink = MailSink().start()
    yield sink
    sink.stop()

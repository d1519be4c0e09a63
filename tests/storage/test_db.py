"""The SQLite connection the app serves requests with carries the durability pragmas
(security.md T-CRASH-5): WAL, foreign keys, busy timeout >= 5 s, and synchronous=NORMAL with
the group commit that syncs each write before its answer (the documented value of
``sqlite_synchronous = "full"``, storage/db.py; tests/storage/test_group_commit.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlparse
from urllib.parse import urlunparse

import pytest
from flask import jsonify

from scim_me.storage.db import database_proxy
from scim_me.storage.db import is_sqlite
from scim_me.storage.db import open_database
from tests.support.apps import build_app
from tests.support.postgres import POSTGRES_URL

PRAGMAS = ("journal_mode", "synchronous", "foreign_keys", "busy_timeout")


def test_app_connection_has_the_sqlite_pragmas(tmp_path: Path) -> None:
    app = build_app(f"sqlite:///{tmp_path / 'pragmas.db'}", tmp_path, sqlite_synchronous="full")  # the default

    @app.get("/__test__/pragmas")
    def pragmas():  # type: ignore[no-untyped-def]
        # The connection the request hooks opened for this request, through the storage proxy.
        return jsonify({name: database_proxy.execute_sql(f"PRAGMA {name}").fetchone()[0] for name in PRAGMAS})

    assert app.extensions["scim_me"].db.wal_sync is not None
    try:
        client = app.test_client()
        for _ in range(3):  # a pooled connection handed out again keeps them
            values = client.get("/__test__/pragmas").json
            assert values["journal_mode"] == "wal"
            assert values["synchronous"] == 1  # COMMIT does not sync: the group commit does
            assert values["foreign_keys"] == 1
            assert values["busy_timeout"] >= 5000
    finally:
        app.extensions["scim_me"].db.close_all()


def test_open_database_parses_both_url_forms(tmp_path: Path) -> None:
    sqlite: Any = open_database(f"sqlite:///{tmp_path / 'x.db'}", busy_timeout_ms=7000)
    assert is_sqlite(sqlite)
    assert sqlite.database == str(tmp_path / "x.db")
    with sqlite.connection_context():
        assert sqlite.execute_sql("PRAGMA busy_timeout").fetchone()[0] == 7000
    sqlite.close_all()
    postgres: Any = open_database("postgresql://scim:p%40ss@127.0.0.1:5433/ids?options=-csearch_path%3Dx")
    assert not is_sqlite(postgres)
    assert postgres.database == "ids"
    assert postgres.connect_params["host"] == "127.0.0.1"
    assert postgres.connect_params["port"] == 5433
    assert postgres.connect_params["password"] == "p@ss"
    assert postgres.connect_params["options"] == "-csearch_path=x"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        # libpq's two ways of naming a Unix-domain socket directory in a URL
        ("postgresql://scim@/ids?host=/run/postgresql", {"host": "/run/postgresql", "port": None, "user": "scim"}),
        ("postgresql://scim@%2Frun%2Fpostgresql:5433/ids", {"host": "/run/postgresql", "port": 5433, "user": "scim"}),
        ("postgresql://[::1]:5433/ids", {"host": "::1", "port": 5433, "user": None}),
        ("postgresql:///ids", {"host": None, "port": None, "user": None}),
        # a query parameter wins over the authority's, as in libpq
        ("postgresql://db.example:5432/ids?port=6432", {"host": "db.example", "port": "6432", "user": None}),
    ],
)
def test_postgresql_urls_name_hosts_and_sockets_as_libpq_does(url: str, expected: dict[str, Any]) -> None:
    postgres: Any = open_database(url)  # it used to fail with ?host= (host given twice)
    assert postgres.database == "ids"
    assert {name: postgres.connect_params[name] for name in expected} == expected


def test_a_postgresql_url_reaches_the_server_over_its_unix_socket(tmp_path: Path) -> None:
    """A co-located PostgreSQL reached through its socket directory (the server names it)."""
    over_tcp: Any = open_database(POSTGRES_URL)
    with over_tcp.connection_context():
        directory = over_tcp.execute_sql("SHOW unix_socket_directories").fetchone()[0].split(",")[0].strip()
    over_tcp.close_all()
    parsed = urlparse(POSTGRES_URL)
    url = urlunparse(parsed._replace(netloc=f"{parsed.username or ''}@", query=f"host={directory}"))
    over_socket: Any = open_database(url)
    with over_socket.connection_context():
        assert over_socket.execute_sql("SELECT inet_server_addr() IS NULL").fetchone()[0] is True  # not TCP
    over_socket.close_all()


def test_synchronous_normal_is_an_explicit_opt_in(tmp_path: Path) -> None:
    import pytest

    from scim_me.config import ConfigError
    from scim_me.config import Settings

    relaxed: Any = open_database(f"sqlite:///{tmp_path / 'n.db'}", synchronous="normal")
    with relaxed.connection_context():
        assert relaxed.execute_sql("PRAGMA synchronous").fetchone()[0] == 1
    assert relaxed.wal_sync is None  # nothing syncs before an answer
    relaxed.close_all()
    # Where the WAL cannot be found (an in-memory database), "full" stays SQLite's own FULL.
    memory: Any = open_database("sqlite://")
    with memory.connection_context():
        assert memory.execute_sql("PRAGMA synchronous").fetchone()[0] == 2
    assert memory.wal_sync is None
    memory.close_all()
    with pytest.raises(ConfigError, match="sqlite_synchronous"):
        Settings.load({"sqlite_synchronous": "off"}, environ={})

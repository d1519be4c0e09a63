"""The SQLite identity database holds password hashes, sealed TOTP seeds and token records: its
files are created readable by their owner only (0600: the database, its WAL and shared-memory
files), and the folder the CLI creates for it is 0700, whatever the process umask allows
(ASVS 13.3.1 / 14.2). SQLite only."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from scim_me.storage.db import open_database
from tests.cli.support import Cli


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def open_umask():
    previous = os.umask(0o022)  # the usual default: files 0644, folders 0755
    yield
    os.umask(previous)


def test_a_new_database_and_its_wal_are_owner_only(tmp_path: Path, open_umask) -> None:
    path = tmp_path / "identity.db"
    db = open_database(f"sqlite:///{path}")
    with db.connection_context():
        db.execute_sql("CREATE TABLE t (x INTEGER)")
        db.execute_sql("INSERT INTO t VALUES (1)")
        files = [p for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm")) if p.exists()]
        assert {p.name for p in files} >= {"identity.db", "identity.db-wal"}
        assert {p.name: _mode(p) for p in files} == {p.name: 0o600 for p in files}
    db.close_all()


def test_an_existing_world_readable_database_is_made_owner_only(tmp_path: Path, open_umask) -> None:
    path = tmp_path / "old.db"
    path.touch(mode=0o644)
    path.chmod(0o644)
    db = open_database(f"sqlite:///{path}")
    with db.connection_context():
        db.execute_sql("CREATE TABLE t (x INTEGER)")
    db.close_all()
    assert _mode(path) == 0o600


def test_the_cli_creates_the_database_folder_owner_only(tmp_path: Path, open_umask) -> None:
    cli = Cli(tmp_path)
    cli.ok("keys", "init")
    cli.ok("db", "upgrade")
    folder = tmp_path / "data"
    assert _mode(folder) == 0o700
    assert _mode(folder / "scim-me.db") == 0o600


def test_keys_init_creates_its_folder_owner_only(tmp_path: Path, open_umask) -> None:
    cli = Cli(tmp_path)
    cli.key_file = tmp_path / "instance" / "encryption.key"
    cli.env["SCIM_ME_ENCRYPTION_KEY_FILE"] = str(cli.key_file)
    cli.ok("keys", "init")
    assert _mode(tmp_path / "instance") == 0o700
    assert _mode(cli.key_file) == 0o600

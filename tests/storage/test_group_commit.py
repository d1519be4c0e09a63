"""SQLite's group commit (scim_me/storage/db.py): with ``sqlite_synchronous = "full"`` a write is
fdatasync'ed to the ``-wal`` file before its request is answered, after COMMIT has released the
write lock; reads never sync; ``normal`` never syncs.

``os.fdatasync`` is wrapped, not replaced: the real sync runs, and the wrapper looks at the
database from outside (a connection of its own, the writer lock file) at the moment of the sync.
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path
from typing import Any

import pytest
from flask import jsonify

from scim_me.storage.db import WalSync
from scim_me.storage.db import database_proxy
from scim_me.storage.db import write_transaction
from tests.factories import bearer
from tests.factories import make_tenant
from tests.factories import make_token
from tests.factories import make_user
from tests.factories import patch_body
from tests.support.apps import build_app

ME = "/t/acme/scim2/Me"


@dataclass
class Syncs:
    """What each fdatasync of the database's WAL saw, in order."""

    db_path: Path
    seen: list[dict[str, Any]] = field(default_factory=list)

    def observe(self, fd: int) -> None:
        if os.readlink(f"/proc/self/fd/{fd}") != f"{self.db_path}-wal":
            return
        outside = sqlite3.connect(self.db_path, timeout=0)
        try:
            nick = outside.execute("SELECT json_extract(profile, '$.nickName') FROM users").fetchone()
            try:
                # The write lock is free while the sync runs: another writer could begin.
                outside.execute("BEGIN IMMEDIATE")
                outside.execute("ROLLBACK")
                sqlite_lock_free = True
            except sqlite3.OperationalError:
                sqlite_lock_free = False
        finally:
            outside.close()
        queue = os.open(f"{self.db_path}-writer.lock", os.O_RDWR)
        try:
            fcntl.flock(queue, fcntl.LOCK_EX | fcntl.LOCK_NB)
            fcntl.flock(queue, fcntl.LOCK_UN)
            queue_free = True
        except BlockingIOError:
            queue_free = False
        finally:
            os.close(queue)
        wal_inode = os.stat(f"{self.db_path}-wal").st_ino
        self.seen.append(
            {
                "nickName": nick[0] if nick else None,
                "sqlite_lock_free": sqlite_lock_free,
                "writer_queue_free": queue_free,
                "current_wal": os.fstat(fd).st_ino == wal_inode,
            }
        )


def _watch(monkeypatch: pytest.MonkeyPatch, db_path: Path) -> Syncs:
    syncs = Syncs(db_path)
    real = os.fdatasync

    def fdatasync(fd: int) -> None:
        real(fd)
        syncs.observe(fd)

    monkeypatch.setattr(os, "fdatasync", fdatasync)
    return syncs


@pytest.fixture
def setup(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[tuple[Any, Path, dict[str, str]]]:
    synchronous = getattr(request, "param", "full")
    db_path = tmp_path / "scim-me.db"
    app = build_app(f"sqlite:///{db_path}", tmp_path, sqlite_synchronous=synchronous)
    tenant = make_tenant(app, "acme")
    kim = make_user(app, tenant, "kim", nickName="before")
    headers = bearer(make_token(app, tenant, kim), **{"Content-Type": "application/scim+json"})
    yield app, db_path, headers
    app.extensions["scim_me"].db.close_all()


def _patch(client: Any, headers: dict[str, str], nick: str) -> Any:
    return client.patch(ME, json=patch_body({"op": "replace", "path": "nickName", "value": nick}), headers=headers)


def test_a_write_is_on_disk_before_it_is_answered_and_outside_the_lock(
    setup: tuple[Any, Path, dict[str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    app, db_path, headers = setup
    client = app.test_client()
    assert app.extensions["scim_me"].db.execute_sql("PRAGMA synchronous").fetchone()[0] == 1
    app.extensions["scim_me"].db.close()
    syncs = _watch(monkeypatch, db_path)

    response = _patch(client, headers, "after")  # returns once the app returned its response

    assert response.status_code == 200, response.json
    # One sync, for the commit of this write, made while no lock was held (group commit): the
    # committed row was already visible to others, and the WAL synced is the database's current one.
    assert syncs.seen == [
        {"nickName": "after", "sqlite_lock_free": True, "writer_queue_free": True, "current_wal": True}
    ]
    # Reads see the committed data, and sync nothing.
    del syncs.seen[:]
    assert client.get(ME, headers=headers).json["nickName"] == "after"
    assert syncs.seen == []


def test_autocommit_writes_are_synced_before_the_response(
    setup: tuple[Any, Path, dict[str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    app, db_path, _headers = setup

    @app.post("/__test__/autocommit")
    def autocommit():  # type: ignore[no-untyped-def]
        # A single statement outside write_transaction (no BEGIN): SQLite commits it at once.
        database_proxy.execute_sql("UPDATE users SET profile = json_set(profile, '$.nickName', 'bare')")
        return jsonify({})

    @app.post("/__test__/rolled-back")
    def rolled_back():  # type: ignore[no-untyped-def]
        try:
            with write_transaction():
                database_proxy.execute_sql("UPDATE users SET profile = json_set(profile, '$.nickName', 'never')")
                raise RuntimeError("abandon")
        except RuntimeError:
            pass
        return jsonify({})

    syncs = _watch(monkeypatch, db_path)
    assert app.test_client().post("/__test__/autocommit").status_code == 200
    assert [seen["nickName"] for seen in syncs.seen] == ["bare"]
    assert app.test_client().post("/__test__/rolled-back").status_code == 200
    # Rolled back: never committed, never visible. (SQLite counts its changes all the same, so
    # the connection's return may sync once more, which costs little and never misses a commit.)
    assert all(seen["nickName"] == "bare" for seen in syncs.seen)


@pytest.mark.parametrize("setup", ["normal"], indirect=True)
def test_normal_mode_answers_without_syncing(
    setup: tuple[Any, Path, dict[str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    app, db_path, headers = setup
    syncs = _watch(monkeypatch, db_path)
    assert _patch(app.test_client(), headers, "unsynced").status_code == 200
    assert syncs.seen == []
    assert app.extensions["scim_me"].db.wal_sync is None


def test_a_new_wal_file_is_reopened_and_its_directory_synced(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The last connection to close removes the WAL and the next write creates another one: the
    sync follows the path to the new file, and makes its directory entry durable once."""
    wal = tmp_path / "x.db-wal"
    synced: list[int] = []
    directories: list[str] = []
    real_fdatasync, real_fsync = os.fdatasync, os.fsync

    def fdatasync(fd: int) -> None:
        real_fdatasync(fd)
        synced.append(os.fstat(fd).st_ino)

    def fsync(fd: int) -> None:
        real_fsync(fd)
        directories.append(os.readlink(f"/proc/self/fd/{fd}"))

    monkeypatch.setattr(os, "fdatasync", fdatasync)
    monkeypatch.setattr(os, "fsync", fsync)
    sync = WalSync(str(tmp_path / "x.db"))

    sync.sync()  # no WAL at all: nothing to make durable (a checkpoint already synced the database)
    assert synced == [] and directories == []

    wal.write_bytes(b"frames")
    sync.sync()
    sync.sync()
    first = wal.stat().st_ino
    assert synced == [first, first]
    assert directories == [str(tmp_path)]

    wal.unlink()  # the old inode stays allocated while WalSync holds it: the new one differs
    wal.write_bytes(b"new frames")
    sync.sync()
    assert synced[-1] == wal.stat().st_ino
    assert directories == [str(tmp_path), str(tmp_path)]

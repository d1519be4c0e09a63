"""Database connection: SQLite (embedded default) or PostgreSQL, chosen by ``database_url``.

SQLite runs in WAL mode with ``synchronous=FULL`` (an acknowledged revocation or password change
survives power loss), foreign keys on and a busy timeout; write transactions start with
``BEGIN IMMEDIATE`` so two workers never deadlock upgrading a read lock.

SQLite writers on one host also queue on an ``flock`` beside the database file before they
begin. SQLite's own busy handler polls with sleeps of up to 100 ms, so under contention a worker
sleeps long after the lock is free; a blocking ``flock`` wakes the next writer the moment the
previous one commits. The busy timeout still bounds waits on writers that do not take the flock
(another tool holding the database), which answer 503.
"""

from __future__ import annotations

import fcntl
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl
from urllib.parse import unquote
from urllib.parse import urlparse

import peewee
from playhouse.pool import PooledPostgresqlDatabase
from playhouse.pool import PooledSqliteDatabase

database_proxy = peewee.DatabaseProxy()
# For the layers above, which name the type without importing peewee.
Database = peewee.Database
log = logging.getLogger("scim_me.storage")


class _SqliteDatabase(PooledSqliteDatabase):  # type: ignore[misc]
    """Opening a connection applies ``journal_mode=wal``, which needs a moment of exclusive
    access; two processes opening a fresh database at once can see "database is locked" there,
    before the busy timeout applies. Retry within the busy timeout instead of failing."""

    _file_path: str | None = None

    def _connect(self) -> Any:
        if self._file_path is not None:
            make_owner_only(self._file_path)
            self._file_path = None  # once per database: later files inherit the database's mode
        deadline = time.monotonic() + self._busy_seconds
        while True:
            try:
                return super()._connect()
            except (sqlite3.OperationalError, peewee.OperationalError) as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.01)


# SQLite creates a database's -wal, -shm and -journal files with the database file's own mode,
# so creating the database 0600 keeps all of them owner-only whatever the umask.
_SIDE_FILES = ("", "-wal", "-shm", "-journal")


def make_owner_only(path: str) -> None:
    """Create the database file 0600 before SQLite opens it (SQLite would use 0644 under the
    usual umask), and take group and other access away from an existing one and its side files:
    it holds password hashes, sealed TOTP seeds and token records."""
    # Never open an existing database file here: closing any descriptor of a file drops every
    # POSIX lock this process holds on it, including those of live SQLite connections (the
    # SQLite documentation's "how to corrupt a database"). O_EXCL creates only a new file.
    if not os.path.exists(path):
        try:
            os.close(os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600))
        except FileExistsError:
            pass  # created meanwhile by another process: only its mode is checked below
        except OSError:
            return  # SQLite reports the real problem when it opens the file
    for suffix in _SIDE_FILES:
        name = path + suffix
        try:
            if os.stat(name).st_mode & 0o077:
                os.chmod(name, 0o600)
                log.warning("made %s readable by its owner only (it was open to group or others)", name)
        except FileNotFoundError:
            continue
        except OSError as exc:
            log.warning("could not make %s owner-only: %s", name, exc)


def make_private_directory(path: Path) -> None:
    """Create ``path`` (and missing parents) for the server's own files; the folder itself 0700.
    An existing folder is left as the operator set it up."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)


def open_database(url: str, *, busy_timeout_ms: int = 10000, synchronous: str = "full") -> peewee.Database:
    """Create (but do not connect) the database named by ``url``."""
    parsed = urlparse(url)
    if parsed.scheme == "sqlite":
        path = unquote(parsed.path)
        if parsed.netloc:
            path = parsed.netloc + path
        if path.startswith("//"):
            path = path[1:]
        db: peewee.Database = _SqliteDatabase(
            path or ":memory:",
            max_connections=8,
            stale_timeout=300,
            timeout=busy_timeout_ms / 1000,
            pragmas={
                "journal_mode": "wal",
                # FULL: an acknowledged write survives power loss, at one fsync per commit.
                "synchronous": 2 if synchronous == "full" else 1,
                "foreign_keys": 1,
                "busy_timeout": busy_timeout_ms,
            },
            check_same_thread=False,
        )
        db._busy_seconds = busy_timeout_ms / 1000  # type: ignore[attr-defined]
        in_memory = not path or path == ":memory:" or path.startswith("file:")
        db._file_path = None if in_memory else path  # type: ignore[attr-defined]
        return db
    if parsed.scheme in ("postgres", "postgresql"):
        options: dict[str, Any] = dict(parse_qsl(parsed.query))
        pg: peewee.Database = PooledPostgresqlDatabase(
            unquote(parsed.path.lstrip("/")) or "postgres",
            host=parsed.hostname or None,
            port=parsed.port or None,
            user=unquote(parsed.username) if parsed.username else None,
            password=unquote(parsed.password) if parsed.password else None,
            max_connections=16,
            stale_timeout=300,
            **options,
        )
        return pg
    raise ValueError(f"unsupported database URL scheme: {parsed.scheme}")


def is_sqlite(db: peewee.Database) -> bool:
    return isinstance(db, peewee.SqliteDatabase)


# Threads holding the writer flock. Reentrant per thread: a write from an after-commit callback
# (e.g. queueing a mail in the outbox) runs while the committing transaction's flock is still held,
# and a second flock on another descriptor would wait for it forever.
_holding = threading.local()


@contextmanager
def _writer_queue(db: peewee.Database) -> Iterator[None]:
    path = db.database
    if not path or path == ":memory:" or db.in_transaction() or getattr(_holding, "path", None) == path:
        yield
        return
    fd = os.open(f"{path}-writer.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        _holding.path = path
        yield
    finally:
        _holding.path = None
        os.close(fd)  # closing the descriptor releases the lock


def current_database() -> Any:
    """The database every model is bound to (the app's, set by ``create_app`` and per request).
    Typed ``Any`` as peewee is untyped: its methods would be untyped calls either way."""
    return database_proxy.obj


@contextmanager
def write_transaction(db: peewee.Database | peewee.DatabaseProxy | None = None) -> Iterator[None]:
    """A transaction that takes the write lock up front on SQLite; on the app's database unless
    another one is named (migrations, tools)."""
    if db is None:
        db = database_proxy
    target = db.obj if isinstance(db, peewee.DatabaseProxy) else db
    if is_sqlite(target):
        with _writer_queue(target), target.atomic("IMMEDIATE"):
            yield
    else:
        with target.atomic():
            yield


def is_busy(exc: BaseException) -> bool:
    """True when ``exc`` means the database is locked or briefly unavailable."""
    text = str(exc).lower()
    return isinstance(exc, peewee.OperationalError) and (
        "locked" in text
        or "busy" in text
        or "could not connect" in text
        or "connection refused" in text
        or "connection to server" in text
        or "timeout" in text
    )


def after_commit(callback: Callable[[], None], db: peewee.Database | peewee.DatabaseProxy | None = None) -> None:
    """Run ``callback`` once the current transaction on this thread (on the app's database unless
    another is named) commits (at once when none is
    open); never when it rolls back. For side effects outside the database (mail): they must not
    happen for a write that did not.

    Built on peewee's own hook, which runs the callbacks inside the outermost transaction's
    ``__exit__`` after COMMIT: an exception there would make peewee roll back an already committed
    transaction and skip the remaining callbacks, so each callback is isolated and only logged.
    """
    if db is None:
        db = database_proxy
    target = db.obj if isinstance(db, peewee.DatabaseProxy) else db

    def isolated() -> None:
        try:
            callback()
        except Exception:
            log.exception("after-commit callback %s failed", getattr(callback, "__qualname__", callback))

    target.after_commit(isolated)

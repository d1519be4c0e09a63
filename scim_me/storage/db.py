"""Database connection: SQLite (embedded default) or PostgreSQL, chosen by ``database_url``.

SQLite runs in WAL mode with foreign keys on and a busy timeout; write transactions start with
``BEGIN IMMEDIATE`` so two workers never deadlock upgrading a read lock.

SQLite writers on one host also queue on an ``flock`` beside the database file before they
begin. SQLite's own busy handler polls with sleeps of up to 100 ms, so under contention a worker
sleeps long after the lock is free; a blocking ``flock`` wakes the next writer the moment the
previous one commits. The busy timeout still bounds waits on writers that do not take the flock
(another tool holding the database), which answer 503.

Durability: the ``sqlite_synchronous`` setting.

- ``full`` (the default): a write is on disk before its request is answered (an acknowledged
  revocation or password change survives power loss), by a group commit. The connection runs
  ``PRAGMA synchronous=NORMAL``, so COMMIT appends the transaction's frames to the ``-wal`` file
  without an fsync and releases the write lock at once; then, before the request is answered,
  this process calls ``fdatasync`` on the ``-wal`` file (:class:`WalSync`): at the end of every
  outermost :func:`write_transaction`, and when a request's connection goes back to the pool
  after any other write (a single autocommit statement), which Flask does before the response
  leaves (the WSGI server sends nothing until the application returns its body).
- ``normal``: no fsync before answering. A crash of the process never loses a commit, a power
  loss or kernel crash may lose the last acknowledged writes; the database is never corrupted.

Why the group commit is as durable as ``synchronous=FULL`` for every acknowledged request:
FULL fsyncs the WAL inside COMMIT, while the write lock is held, so every other writer of every
worker waits for the disk too (and SQLite's busy handler sleeps milliseconds on top). Here the
fsync runs after the lock is released, so writers overlap their syncs, and one fsync flushes the
frames of every transaction committed before it. WAL frames are only appended (or, after a
checkpoint, rewritten from the start), so when ``fdatasync`` returns, all frames up to ours are
on disk, with the header and the size that make them valid for recovery. A crash before the
fsync returns loses at most transactions whose clients never got an answer. Checkpoints stay
safe, as SQLite documents for NORMAL in WAL mode: it syncs the WAL before copying frames into
the database and the database after; a WAL removed (last connection closed) or restarted after
a checkpoint held frames that the synced database file now has. A newly created ``-wal`` file
also needs its directory entry on disk (FULL syncs the directory on its first sync of a new
WAL): :class:`WalSync` fsyncs the directory once per new file.

The one difference from FULL: another connection may read a committed transaction during the
moments before its fsync returns. Should power fail then, that transaction is lost although a
reader saw it; the writer's client was never told it succeeded and retries, as after any failed
request. A write that builds on what it read lands later in the same WAL, so its own fsync
makes both durable. PostgreSQL commits durably itself (``synchronous_commit``): nothing to do.

Statement time budget (``db_statement_timeout_ms``): no statement may hold a worker for
long, however hostile the request that caused it (a filter and sort that read the whole tenant).
On PostgreSQL it is the session's ``statement_timeout``, set once on each new connection; on
SQLite a progress handler interrupts a statement once it has run past its deadline, which each
statement sets as it starts. A statement stopped so fails with an error :func:`over_budget`
recognises. A migration step lifts the budget (:func:`without_statement_timeout`): rebuilding an
index of a large table is work the operator asked for.
"""

from __future__ import annotations

import fcntl
import logging
import os
import sqlite3
import threading
import time
import weakref
from collections.abc import Callable
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import ParseResult
from urllib.parse import parse_qsl
from urllib.parse import unquote
from urllib.parse import urlparse

import peewee
from playhouse.pool import PooledPostgresqlDatabase
from playhouse.pool import PooledSqliteDatabase

from scim_me.core.accounts import lock_key

database_proxy = peewee.DatabaseProxy()
# For the layers above, which name the type without importing peewee.
Database = peewee.Database
log = logging.getLogger("scim_me.storage")


class WalSync:
    """``fdatasync`` of one database's ``-wal`` file, for the connections of one process.

    The file is opened once (read-only: fsync needs no write access) and kept open; before each
    sync its inode is compared with the path's, since the last connection to close removes the
    WAL and the next write creates a new one. A new file gets its directory fsynced once. No
    locks are involved: SQLite locks the database and ``-shm`` files, never the ``-wal``, so
    opening and closing our own descriptor of it cannot drop a lock SQLite holds.
    """

    def __init__(self, database_path: str) -> None:
        self.path = database_path + "-wal"
        self.directory = os.path.dirname(os.path.abspath(database_path))
        self._fd = -1
        self._identity: tuple[int, int, int] | None = None  # (pid, st_dev, st_ino) of _fd
        self._lock = threading.Lock()

    def sync(self) -> None:
        """Make every frame written to the WAL so far durable. Raises OSError if the disk fails."""
        with self._lock:
            try:
                seen = os.stat(self.path)
            except FileNotFoundError:
                # Removed by the last connection's close, after a checkpoint that synced the
                # database file: every committed frame is in it.
                return
            if self._identity != (os.getpid(), seen.st_dev, seen.st_ino):
                self._reopen()
                if self._fd < 0:
                    return
            os.fdatasync(self._fd)

    def _reopen(self) -> None:
        if self._fd >= 0 and self._identity is not None and self._identity[0] == os.getpid():
            os.close(self._fd)  # an inherited descriptor is the parent's to close
        self._fd, self._identity = -1, None
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            return  # removed meanwhile: see sync()
        opened = os.fstat(fd)
        # The WAL may be new: its directory entry must be durable before its frames are useful.
        directory = os.open(self.directory, os.O_RDONLY | os.O_CLOEXEC)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
        self._fd, self._identity = fd, (os.getpid(), opened.st_dev, opened.st_ino)


class _Connection(sqlite3.Connection):
    """A SQLite connection that remembers how many row changes its WAL sync already covers, and
    whether its statement budget's progress handler is installed."""

    synced_changes = 0
    budgeted = False


# SQLite calls the progress handler every this many virtual-machine instructions: about every
# 0.1-1 ms of a statement's work, never for a short statement such as GET /Me's.
_PROGRESS_STEPS = 10_000


class _SqliteDatabase(PooledSqliteDatabase):  # type: ignore[misc]
    """Opening a connection applies ``journal_mode=wal``, which needs a moment of exclusive
    access; two processes opening a fresh database at once can see "database is locked" there,
    before the busy timeout applies. Retry within the busy timeout instead of failing.

    With ``wal_sync`` set (``sqlite_synchronous = "full"``), writes are made durable by
    :meth:`sync_wal` before their request is answered (see the module docstring)."""

    _file_path: str | None = None
    wal_sync: WalSync | None = None
    statement_budget: float | None = None  # seconds; None: no budget

    def execute_sql(self, sql: str, params: Any = None) -> Any:
        if self.statement_budget is not None:
            _budget.deadline = None if _budget.lifted else time.monotonic() + self.statement_budget
        return super().execute_sql(sql, params)

    def sync_wal(self, *, force: bool = False) -> None:
        """fdatasync the WAL if this thread's connection changed rows since its last sync (or,
        with ``force``, whatever it did: a write transaction may have run DDL only)."""
        if self.wal_sync is None:
            return
        conn = self._state.conn
        if conn is None:
            return
        changes = conn.total_changes
        if force or changes != conn.synced_changes:
            self.wal_sync.sync()
            conn.synced_changes = changes

    def close(self) -> bool:
        # Any autocommit write of the request that nothing synced (a model saved outside
        # write_transaction) is made durable here, when its connection goes back to the pool,
        # before the response leaves.
        if self.wal_sync is not None and not self._state.closed and not self.in_transaction():
            self.sync_wal()
        return bool(super().close())

    def _connect(self) -> Any:
        if self._file_path is not None:
            make_owner_only(self._file_path)
            self._file_path = None  # once per database: later files inherit the database's mode
        deadline = time.monotonic() + self._busy_seconds
        while True:
            try:
                conn = super()._connect()
            except (sqlite3.OperationalError, peewee.OperationalError) as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.01)
                continue
            if self.statement_budget is not None and not getattr(conn, "budgeted", True):
                conn.set_progress_handler(_past_deadline, _PROGRESS_STEPS)
                conn.budgeted = True
            return conn


class _Budget(threading.local):
    """This thread's SQLite statement deadline (the class attributes are each thread's start)."""

    deadline: float | None = None
    lifted = False  # inside without_statement_timeout


_budget = _Budget()


def _past_deadline() -> int:
    """SQLite's progress handler: non-zero interrupts the running statement of this thread."""
    deadline = _budget.deadline
    return 1 if deadline is not None and time.monotonic() > deadline else 0


# SQLite creates a database's -wal, -shm and -journal files with the database file's own mode,
# so creating the database 0600 keeps all of them owner-only whatever the umask.
_SIDE_FILES = ("", "-wal", "-shm", "-journal")


class _PostgresqlDatabase(PooledPostgresqlDatabase):  # type: ignore[misc]
    """peewee's pool checks every connection it hands out with a ``SELECT 1`` round trip, which
    doubled the round trips of GET /scim2/Me. A connection that went back to the pool less than
    ``ping_after`` seconds ago, open and with no transaction, is handed out as it is. One idle
    longer is pinged as before (a server restart or an idle timeout shows there); one broken
    meanwhile fails its request, which answers 503 (``is_busy``), and is dropped on its return."""

    ping_after = 1.0
    session_state = True  # False behind a transaction-pooling PgBouncer (keeps_session_state)
    statement_timeout_ms = 0  # 0: PostgreSQL's own default (none, unless the role sets one)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._returned: dict[int, float] = {}
        self._budgeted: weakref.WeakSet[Any] = weakref.WeakSet()

    def _connect(self) -> Any:
        conn = super()._connect()
        if self.statement_timeout_ms and conn not in self._budgeted:
            # Once per server session (the pool hands the same connection out again). Behind a
            # transaction pooler a session setting would land on whichever server connection
            # ran it: there the operator sets it on the role (docs/deployment.md).
            if self.session_state:
                with conn.cursor() as cursor:
                    cursor.execute("SET statement_timeout = %s", (self.statement_timeout_ms,))
            self._budgeted.add(conn)
        return conn

    def _is_closed(self, conn: Any) -> bool:
        returned = self._returned.pop(id(conn), None)
        if (
            returned is not None
            and time.monotonic() - returned < self.ping_after
            and not conn.closed
            and self._adapter.txn_status(conn) == self._adapter.txn_idle
        ):
            return False
        return bool(super()._is_closed(conn))

    def _close(self, conn: Any, close_conn: bool = False) -> None:
        self._returned.pop(id(conn), None)
        super()._close(conn, close_conn)
        if not close_conn and not conn.closed:
            self._returned[id(conn)] = time.monotonic()


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


def open_database(
    url: str,
    *,
    busy_timeout_ms: int = 10000,
    synchronous: str = "full",
    transaction_pooling: bool = False,
    statement_timeout_ms: int = 0,
) -> peewee.Database:
    """Create (but do not connect) the database named by ``url``. ``synchronous``: ``full``
    (acknowledged writes are on disk) or ``normal`` (no fsync before answering), see above.
    ``transaction_pooling``: PostgreSQL behind a pooler that may hand each transaction another
    server connection (see :func:`keeps_session_state`). ``statement_timeout_ms``: each
    statement's time budget, 0 for none (module docstring)."""
    parsed = urlparse(url)
    if parsed.scheme == "sqlite":
        path = unquote(parsed.path)
        if parsed.netloc:
            path = parsed.netloc + path
        if path.startswith("//"):
            path = path[1:]
        in_memory = not path or path == ":memory:" or path.startswith("file:")
        # The group commit needs the WAL's path; a URI-named database keeps SQLite's own FULL.
        group_commit = synchronous == "full" and not in_memory
        db: peewee.Database = _SqliteDatabase(
            path or ":memory:",
            max_connections=8,
            stale_timeout=300,
            timeout=busy_timeout_ms / 1000,
            pragmas={
                "journal_mode": "wal",
                # NORMAL: COMMIT does not fsync; with "full" the group commit does, before the
                # answer and outside the write lock (WalSync). FULL only where that cannot run.
                "synchronous": 2 if synchronous == "full" and not group_commit else 1,
                "foreign_keys": 1,
                "busy_timeout": busy_timeout_ms,
            },
            check_same_thread=False,
            factory=_Connection,
        )
        # The account lock key (core/accounts.lock_key), which PostgreSQL computes with its own
        # sha256(): the /scim2/Users list statement joins each user's lock by it.
        db.register_function(lock_key, "scim_lock_key", 2, deterministic=True)  # type: ignore[attr-defined]
        db._busy_seconds = busy_timeout_ms / 1000  # type: ignore[attr-defined]
        db._file_path = None if in_memory else path  # type: ignore[attr-defined]
        if group_commit:
            db.wal_sync = WalSync(path)  # type: ignore[attr-defined]
        db.statement_budget = statement_timeout_ms / 1000 if statement_timeout_ms > 0 else None  # type: ignore[attr-defined]
        return db
    if parsed.scheme in ("postgres", "postgresql"):
        pg = _PostgresqlDatabase(
            unquote(parsed.path.lstrip("/")) or "postgres",
            max_connections=16,
            stale_timeout=300,
            **_postgres_options(parsed),
        )
        pg.session_state = not transaction_pooling
        pg.statement_timeout_ms = max(statement_timeout_ms, 0)
        return pg
    raise ValueError(f"unsupported database URL scheme: {parsed.scheme}")


def _postgres_options(parsed: ParseResult) -> dict[str, Any]:
    """libpq's connection parameters of a ``postgresql://`` URL, as libpq reads the URL: the
    host may be a Unix-domain socket directory, percent-encoded (``postgresql://%2Frun%2Fpg/db``)
    or given as ``?host=/run/pg``; a parameter in the query string wins over the same one in the
    authority part."""
    host = parsed.netloc.rpartition("@")[2]
    if host.startswith("["):  # an IPv6 literal: urlparse strips the brackets, and the port
        host = parsed.hostname or ""
    else:
        host = unquote(host.rpartition(":")[0] if parsed.port is not None else host)
    options: dict[str, Any] = {
        "host": host or None,
        "port": parsed.port or None,
        "user": unquote(parsed.username) if parsed.username else None,
        "password": unquote(parsed.password) if parsed.password else None,
    }
    options.update(parse_qsl(parsed.query))
    return options


def is_sqlite(db: peewee.Database) -> bool:
    return isinstance(db, peewee.SqliteDatabase)


def sql_datetime(db: peewee.Database, stamp: datetime) -> Any:
    """A naive-UTC ``stamp`` as a hand-written statement's parameter, as peewee would hand it to
    the driver: on SQLite the text the sqlite3 module's datetime adapter writes."""
    return stamp.isoformat(" ") if is_sqlite(db) else stamp


def keeps_session_state(db: peewee.Database) -> bool:
    """True when a PostgreSQL connection is the same server session from one transaction to the
    next, so it may keep server-side state: SQL ``PREPARE``d statements, session advisory locks.
    Not behind a transaction-pooling PgBouncer (``postgres_transaction_pooling``), which may run
    each transaction on another server connection. SQLite keeps none of its own: False."""
    return not is_sqlite(db) and bool(getattr(db, "session_state", True))


# Threads holding the writer flock. Reentrant per thread: a write from an after-commit callback
# (e.g. queueing a mail in the outbox) runs while the committing transaction's flock is still held,
# and a second flock on another descriptor would wait for it forever.
_holding = threading.local()

# Each thread keeps its descriptor of a database's writer lock file open: flock locks belong to
# an open file description, so threads of one process exclude each other through their own, and
# a forked child must open its own (it would share its parent's lock otherwise).
_writer_fds: dict[tuple[int, str], int] = {}


def _forget_writer_fds() -> None:
    _writer_fds.clear()  # the child's copies of the parent's descriptors stay open, unused


os.register_at_fork(after_in_child=_forget_writer_fds)


def _writer_fd(path: str) -> int:
    key = (threading.get_ident(), path)
    fd = _writer_fds.get(key)
    if fd is None:
        fd = _writer_fds[key] = os.open(f"{path}-writer.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    return fd


@contextmanager
def _writer_queue(db: peewee.Database) -> Iterator[None]:
    path = db.database
    if not path or path == ":memory:" or db.in_transaction() or getattr(_holding, "path", None) == path:
        yield
        return
    fd = _writer_fd(path)
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        _holding.path = path
        yield
    finally:
        _holding.path = None
        fcntl.flock(fd, fcntl.LOCK_UN)


def current_database() -> Any:
    """The database every model is bound to (the app's, set by ``create_app`` and per request).
    Typed ``Any`` as peewee is untyped: its methods would be untyped calls either way."""
    return database_proxy.obj


@contextmanager
def write_transaction(db: peewee.Database | peewee.DatabaseProxy | None = None) -> Iterator[None]:
    """A transaction that takes the write lock up front on SQLite; on the app's database unless
    another one is named (migrations, tools). With the group commit, the outermost one returns
    once its commit is on disk, after releasing the locks (module docstring)."""
    if db is None:
        db = database_proxy
    target = db.obj if isinstance(db, peewee.DatabaseProxy) else db
    if is_sqlite(target):
        outermost = not target.in_transaction()
        with _writer_queue(target), target.atomic("IMMEDIATE"):
            yield
        if outermost and isinstance(target, _SqliteDatabase):
            target.sync_wal(force=True)
    else:
        with target.atomic():
            yield


def execute_write(sql: str, params: Any, db: peewee.Database | peewee.DatabaseProxy | None = None) -> Any:
    """Run one write statement as a transaction of its own and return its cursor; inside an open
    transaction it is simply part of it.

    A single statement is atomic by itself, so it needs no BEGIN and COMMIT (two round trips on
    PostgreSQL, two statements on SQLite). On SQLite it queues behind the writer lock as
    :func:`write_transaction` does, and it cannot deadlock on a read-to-write upgrade: a
    statement that writes takes the write lock as it starts, as ``BEGIN IMMEDIATE`` does. With
    the group commit it returns once the write is on disk."""
    if db is None:
        db = database_proxy
    target = db.obj if isinstance(db, peewee.DatabaseProxy) else db
    if target.in_transaction() or not is_sqlite(target):
        return target.execute_sql(sql, params)
    with _writer_queue(target):
        cursor = target.execute_sql(sql, params)
    if isinstance(target, _SqliteDatabase):
        # Only if it changed rows: a compare-and-set that lost its race wrote nothing to make
        # durable, and its caller retries at once.
        target.sync_wal()
    return cursor


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


# PostgreSQL: read_only_sql_transaction (a standby, default_transaction_read_only), disk_full,
# out_of_memory; SQLite's messages for the same conditions.
_REFUSING = ("25006", "53100", "53200")
_SQLITE_REFUSING = ("attempt to write a readonly database", "database or disk is full", "disk i/o error")


def refuses_writes(exc: BaseException) -> bool:
    """True when ``exc`` means the database takes no writes for now (read-only, full, failing
    disk): the request answers 503 and nothing was written (security.md T-CRASH-4)."""
    pgcode = getattr(exc, "pgcode", None) or getattr(getattr(exc, "orig", None), "pgcode", None)
    if pgcode in _REFUSING:
        return True
    text = str(exc).lower()
    return isinstance(exc, (sqlite3.Error, peewee.DatabaseError)) and any(part in text for part in _SQLITE_REFUSING)


# SQLSTATEs of a prepared statement that is not where the connection left it: "already exists"
# and "does not exist", as a transaction-pooling PgBouncer causes (keeps_session_state).
_LOST_SESSION_STATE = ("42P05", "26000")


def lost_session_state(exc: BaseException) -> bool:
    """True when ``exc`` says a PostgreSQL connection lost (or met another's) prepared statement:
    the sign of a transaction pooler without ``postgres_transaction_pooling``."""
    return (
        getattr(exc, "pgcode", None) in _LOST_SESSION_STATE
        or getattr(getattr(exc, "orig", None), "pgcode", None) in _LOST_SESSION_STATE
    )


# PostgreSQL's query_canceled: statement_timeout (or an operator's pg_cancel_backend).
_CANCELED = "57014"


def over_budget(exc: BaseException) -> bool:
    """True when ``exc`` is a statement stopped by its time budget (module docstring), or an
    error it caused: SQLite rolls a transaction back itself when it interrupts a write, so the
    ROLLBACK of the transaction's block then fails ("no transaction is active") while handling it."""
    seen: BaseException | None = exc
    for _ in range(8):  # nested savepoints each add a failed ROLLBACK TO
        if seen is None:
            return False
        pgcode = getattr(seen, "pgcode", None) or getattr(getattr(seen, "orig", None), "pgcode", None)
        if pgcode == _CANCELED:
            return True
        if isinstance(seen, (sqlite3.OperationalError, peewee.OperationalError)) and str(seen) == "interrupted":
            return True
        seen = seen.__context__
    return False


@contextmanager
def without_statement_timeout(db: peewee.Database) -> Iterator[None]:
    """Inside a transaction of ``db``: its statements run without the time budget (a migration
    step). On PostgreSQL for the rest of the transaction (``SET LOCAL``)."""
    if is_sqlite(db):
        lifted, _budget.lifted = _budget.lifted, True
        try:
            yield
        finally:
            _budget.lifted = lifted
        return
    # Also when the budget is the role's (behind a transaction pooler), not scim-me's.
    db.execute_sql("SET LOCAL statement_timeout = 0")  # type: ignore[no-untyped-call]
    yield


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

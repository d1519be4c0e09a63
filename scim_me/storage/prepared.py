"""Run a generated or hot statement, prepared on PostgreSQL once its text recurs.

PostgreSQL plans every statement it is sent unless the statement is prepared. A /scim2/Users
page statement (the filter's subqueries, the facts joined per user) takes longer to plan
(~0.8 ms) than to run (~0.1-0.2 ms for an equality lookup), and its text depends only on the
filter's shape: ``userName eq "a"`` and ``userName eq "b"`` send the same text with other
parameters. So a text seen a second time on a connection is prepared there (``PREPARE`` /
``EXECUTE``); after a few executions PostgreSQL keeps a generic plan and stops planning it. A
text seen once is sent as it is, so one-off filters cost no extra round trip. Each pooled
connection keeps at most ``LIMIT`` statements (least recently used deallocated first).

SQLite compiles statements per connection by itself (the sqlite3 module's statement cache).
"""

from __future__ import annotations

import itertools
import threading
import weakref
from collections import OrderedDict
from typing import Any

import peewee

from scim_me.storage.db import current_database
from scim_me.storage.db import keeps_session_state

LIMIT = 64
_SEEN = object()  # a text seen once on the connection, not prepared yet
_names = itertools.count(1)
_lock = threading.Lock()
_by_connection: weakref.WeakKeyDictionary[Any, OrderedDict[str, Any]] = weakref.WeakKeyDictionary()


_PLAIN = object()  # a text PostgreSQL would not prepare: always sent as it is


def _numbered(sql: str, param: str) -> str:
    parts = sql.split(param)
    return "".join(f"{part}${index}" if index < len(parts) else part for index, part in enumerate(parts, 1))


def execute(sql: str, params: list[Any] | tuple[Any, ...], *, recurring: bool = False) -> Any:
    """Run ``sql`` (the database's placeholders, none inside string literals) with ``params``;
    the cursor. ``recurring``: a statement known to come back (a fixed text on a hot path) is
    prepared the first time it is seen."""
    db = current_database()
    if not keeps_session_state(db):
        # SQLite compiles and keeps statements itself; behind a transaction pooler a prepared
        # statement could be missing (or another's) on the next transaction's server connection.
        return db.execute_sql(sql, params)
    if db.in_transaction():
        # In a transaction a PREPARE that failed would abort it: there, a text is only run as
        # prepared when it already is (e.g. the user compare-and-set retried after a lost race).
        with _lock:
            statements = _by_connection.get(db.connection())
            known = statements.get(sql) if statements is not None else None
        if isinstance(known, str):
            return _execute_prepared(db, known, params)
        return db.execute_sql(sql, params)
    connection = db.connection()
    with _lock:
        statements = _by_connection.get(connection)
        if statements is None:
            statements = _by_connection[connection] = OrderedDict()
        name = statements.get(sql)
        if name is None:
            statements[sql] = _SEEN
            if recurring:
                name = _SEEN
        statements.move_to_end(sql)
        evicted = []
        while len(statements) > LIMIT:
            _text, old_name = statements.popitem(last=False)
            if old_name is not _SEEN and old_name is not _PLAIN:
                evicted.append(old_name)
    for old_name in evicted:
        db.execute_sql(f"DEALLOCATE {old_name}")
    if name is None or name is _PLAIN:
        return db.execute_sql(sql, params)
    if name is _SEEN:
        name = f"scim_me_statement_{next(_names)}"
        try:
            db.execute_sql(f"PREPARE {name} AS {_numbered(sql, db.param)}")
        except peewee.DatabaseError:  # e.g. a parameter whose type PostgreSQL cannot infer
            with _lock:
                statements[sql] = _PLAIN
            return db.execute_sql(sql, params)
        with _lock:
            statements[sql] = name
    return _execute_prepared(db, str(name), params)


def _execute_prepared(db: Any, name: str, params: list[Any] | tuple[Any, ...]) -> Any:
    placeholders = ", ".join([db.param] * len(params))
    return db.execute_sql(f"EXECUTE {name}({placeholders})" if params else f"EXECUTE {name}", params)

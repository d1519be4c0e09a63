"""The baseline for bench/run.py: a bare Flask app with one JSON route and nothing else.

No database, no auth, no SCIM logic: just routing and JSON serialisation of an object about the
size of a small /Me user, so that ``scim-me req/s ÷ bare req/s`` measures what scim-me itself costs
on top of Flask + gunicorn. Run it as ``gunicorn bench.bare_app:app`` from the repository root.

``PATCH /me`` is the floor of any durable write under the same settings: it sets the PatchOp's
one value in that object and writes it as one row of a SQLite file (``BENCH_BARE_DB``), made
durable before the answer the way scim-me makes its writes durable (storage/db.py: WAL,
writers queued on an ``flock``, ``fdatasync`` of the ``-wal`` file after the commit). No auth, no
PATCH engine, no checks: what is left of a PATCH when everything scim-me does is taken away.
"""

from __future__ import annotations

import fcntl
import json
import os
import sqlite3
import tempfile
import time
from typing import Any

from flask import Flask
from flask import Response
from flask import jsonify
from flask import request

USER = {
    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
    "id": "5f0c1c8e-6a8d-4d0e-9a57-3b1d2c4e5f60",
    "userName": "bench",
    "name": {"givenName": "Bench", "familyName": "Mark"},
    "nickName": "bench",
    "emails": [{"value": "bench@example.com", "primary": True}],
    "meta": {
        "resourceType": "User",
        "created": "2026-01-01T00:00:00.000Z",
        "lastModified": "2026-01-01T00:00:00.000Z",
        "location": "http://127.0.0.1:8080/t/bench/scim2/Users/5f0c1c8e-6a8d-4d0e-9a57-3b1d2c4e5f60",
        "version": 'W/"1"',
    },
}

app = Flask(__name__)


@app.get("/me")
def me() -> Response:
    return jsonify(USER)


_store: dict[str, Any] = {}


def _database() -> tuple[sqlite3.Connection, int, int]:
    """This worker's connection, the ``-wal`` file's descriptor and the writers' lock file's."""
    if not _store:
        path = os.environ.get("BENCH_BARE_DB") or os.path.join(tempfile.gettempdir(), "scim-me-bench-bare.db")
        conn = sqlite3.connect(path, isolation_level=None, timeout=10)
        deadline = time.monotonic() + 10
        while True:
            try:  # both workers may set up a new file at once; switching to WAL is not busy-waited
                conn.execute("PRAGMA journal_mode=WAL")
                break
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.01)
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("CREATE TABLE IF NOT EXISTS users (id TEXT PRIMARY KEY, profile TEXT, version INTEGER)")
        conn.execute("INSERT OR IGNORE INTO users VALUES (?, ?, 1)", (USER["id"], json.dumps(USER)))
        _store.update(
            conn=conn,
            wal=os.open(path + "-wal", os.O_RDONLY),
            lock=os.open(path + "-writers", os.O_RDWR | os.O_CREAT, 0o600),
        )
    return _store["conn"], _store["wal"], _store["lock"]


@app.patch("/me")
def write() -> Response:
    operation = request.get_json(force=True)["Operations"][0]
    user = {**USER, operation["path"]: operation["value"]}
    conn, wal, lock = _database()
    fcntl.flock(lock, fcntl.LOCK_EX)
    try:
        conn.execute("UPDATE users SET profile = ?, version = version + 1 WHERE id = ?", (json.dumps(user), USER["id"]))
    finally:
        fcntl.flock(lock, fcntl.LOCK_UN)
    os.fdatasync(wal)
    return jsonify(user)

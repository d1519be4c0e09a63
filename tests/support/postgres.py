"""The local PostgreSQL the suite uses: 127.0.0.1:5432, database ``test`` (override with
``SCIM_ME_TEST_POSTGRES_URL``). Every test gets its own schema, in a database of its test process
(see ``own_database``)."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit
from urllib.parse import urlunsplit

POSTGRES_URL = os.environ.get("SCIM_ME_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


def postgres_problem() -> str | None:
    """Why PostgreSQL cannot be reached, or None when it can."""
    import psycopg2

    try:
        psycopg2.connect(POSTGRES_URL, connect_timeout=3).close()
    except psycopg2.Error as exc:
        return str(exc).strip()
    return None


def server_url(database_url: str) -> str:
    """``database_url`` without its query (the search_path option): what pg_dump connects to."""
    return urlunsplit(urlsplit(database_url)._replace(query=""))


@contextmanager
def own_database(drop_in_background: bool = False) -> Iterator[str]:
    """A database of this test process, created next to POSTGRES_URL's and dropped afterwards.

    ``upgrade()`` takes a PostgreSQL advisory lock for every migration step, and advisory locks are
    per database: test processes (xdist workers, other checkouts' runs) sharing one database queue
    behind each other's migrations, which made every PostgreSQL test's setup seconds long. Where
    the role may not create databases, POSTGRES_URL's database is shared as before.

    ``DROP DATABASE`` waits for a checkpoint (20 s on a busy machine); with ``drop_in_background``
    a detached process drops it and nothing waits for that."""
    import psycopg2
    from psycopg2 import errors

    base = urlsplit(POSTGRES_URL)
    name = f"{base.path.lstrip('/') or 'test'}_{uuid.uuid4().hex[:12]}"
    conn = psycopg2.connect(POSTGRES_URL)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            try:
                cur.execute(f'CREATE DATABASE "{name}"')
            except errors.InsufficientPrivilege:
                yield POSTGRES_URL
                return
            # Commits do not wait for the WAL flush: a test's app or server may be killed, the
            # PostgreSQL server is not, so nothing a test checks changes (tests/support/apps.py).
            cur.execute(f'ALTER DATABASE "{name}" SET synchronous_commit = off')
        try:
            yield urlunsplit(base._replace(path=f"/{name}"))
        finally:
            drop = f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'
            if drop_in_background:
                script = "import sys, psycopg2; c = psycopg2.connect(sys.argv[1]); c.autocommit = True"
                script += "; c.cursor().execute(sys.argv[2])"
                # sh starts it in the background and returns: nobody is left to reap it here.
                background = '"$0" -c "$1" "$2" "$3" >/dev/null 2>&1 &'
                subprocess.run(["sh", "-c", background, sys.executable, script, POSTGRES_URL, drop], check=True)
            else:
                with conn.cursor() as cur:
                    cur.execute(drop)
    finally:
        conn.close()

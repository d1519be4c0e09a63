"""The local PostgreSQL the suite uses: 127.0.0.1:5432, database ``test`` (override with
``SCIM_ME_TEST_POSTGRES_URL``); every test gets its own schema, so workers never share tables."""

from __future__ import annotations

import os

POSTGRES_URL = os.environ.get("SCIM_ME_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


def postgres_problem() -> str | None:
    """Why PostgreSQL cannot be reached, or None when it can."""
    import psycopg2

    try:
        psycopg2.connect(POSTGRES_URL, connect_timeout=3).close()
    except psycopg2.Error as exc:
        return str(exc).strip()
    return None

"""A bare storage-layer database (no Flask app) on each backend, upgraded to the latest schema."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from scim_me.storage.db import database_proxy
from scim_me.storage.db import open_database
from scim_me.storage.migrations import upgrade
from tests.support.templates import prepare


@pytest.fixture
def db(database_url: str) -> Iterator[Any]:
    prepare(database_url)  # a copy of a migrated database (tests/support/templates.py)
    database: Any = open_database(database_url)
    database_proxy.initialize(database)
    with database.connection_context():
        upgrade(database)
        yield database
    database.close_all()

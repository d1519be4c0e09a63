"""An app on a prepared database, as ``scim-me db upgrade`` + wsgi would build it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from scim_me.config import new_master_key
from tests.support.templates import prepare

# The apps built on each database URL: their background mail senders are stopped before the
# database goes (tests/fixtures/database.py), so no sender of an earlier test logs errors
# against a dropped schema into a later test's log capture.
_BUILT: dict[str, list[Any]] = {}

# Cheap argon2 for tests; one dedicated test checks production parameters.
FAST_HASH = {"argon2_memory_kib": 1024, "argon2_time_cost": 1, "argon2_parallelism": 1}


def build_app(database_url: str, tmp_path: Path, **overrides: Any) -> Any:
    """Create the database schema and an app on it (what `scim-me db upgrade` + wsgi do)."""
    from scim_me import create_app
    from scim_me.storage.db import database_proxy
    from scim_me.storage.db import open_database
    from scim_me.storage.migrations import upgrade

    key_file = tmp_path / "encryption.key"
    if not key_file.exists():
        key_file.write_text(new_master_key())
    prepare(database_url)  # an empty database: a copy of one migrated once (tests/support/templates.py)
    db = open_database(database_url)
    database_proxy.initialize(db)
    with db.connection_context():
        upgrade(db)
    db.close_all()
    settings: dict[str, Any] = {
        "database_url": database_url,
        "encryption_key_file": str(key_file),
        "base_url": "http://localhost",
        "mail_outbox_dir": str(tmp_path / "outbox"),
        **FAST_HASH,
    }
    settings.update(overrides)
    app = create_app(settings)
    _BUILT.setdefault(database_url, []).append(app)
    return app


def close_apps(database_url: str) -> None:
    """Stop the mail senders of the apps built on ``database_url`` (it is about to be dropped)."""
    for app in _BUILT.pop(database_url, []):
        app.extensions["scim_me"].mailer.stop()

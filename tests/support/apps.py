"""An app on a prepared database, as ``scim-me db upgrade`` + wsgi would build it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from unittest.mock import patch

from scim_me.config import new_master_key
from tests.support.templates import prepare

# The apps built on each database URL: their background mail senders are stopped before the
# database goes (tests/fixtures/database.py), so no sender of an earlier test logs errors
# against a dropped schema into a later test's log capture.
_BUILT: dict[str, list[Any]] = {}

# Cheap argon2 for tests; tests/auth/test_password_storage.py and test_hash_memory.py check the
# production parameters.
FAST_HASH = {"argon2_memory_kib": 1024, "argon2_time_cost": 1, "argon2_parallelism": 1}
# No fdatasync at every commit of an in-process app: these tests check behaviour, not what
# survives a power cut, and on a slow disk the flushes made the suite disk-bound. Durability is
# tested where it is a property: tests/storage/test_group_commit.py (it sets "full" itself), and
# the live servers (tests/e2e, tests/cluster: kill -9 under load), which run the defaults.
FAST_COMMIT = {"sqlite_synchronous": "normal"}


def build_app(database_url: str, tmp_path: Path, **overrides: Any) -> Any:
    """Create the database schema and an app on it (what `scim-me db upgrade` + wsgi do)."""
    from scim_me import create_app
    from scim_me.storage.db import database_proxy
    from scim_me.storage.db import open_database
    from scim_me.storage.migrations import upgrade

    key_file = tmp_path / "encryption.key"
    if not key_file.exists():
        key_file.write_text(new_master_key())
    # An empty database becomes a copy of one migrated once (tests/support/templates.py); any
    # other is upgraded here, as `scim-me db upgrade` would.
    if not prepare(database_url):
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
        **FAST_COMMIT,
    }
    settings.update(overrides)
    app = create_app(settings)
    _BUILT.setdefault(database_url, []).append(app)
    return app


@contextmanager
def mailing_app(database_url: str, tmp_path: Path, mail: Any, **overrides: Any) -> Iterator[Any]:
    """``build_app`` mailing to the test's ``mail`` sink. On the way out its queued mail reaches the
    sink first (a send cut off by the sink stopping would be retried into the next test), then its
    connections close."""
    application = build_app(database_url, tmp_path, **mail.settings(), **overrides)
    yield application
    application.extensions["scim_me"].mailer.wait_idle(20)
    application.extensions["scim_me"].db.close_all()


def close_apps(database_url: str) -> None:
    """Stop the mail senders of the apps built on ``database_url`` (it is about to be dropped);
    the RSA keys lent to its tenants are free again."""
    for app in _BUILT.pop(database_url, []):
        app.extensions["scim_me"].mailer.stop()
    _spare_rsa_keys.extend(_lent_rsa_keys.pop(database_url, []))


# Generating a 2048-bit RSA key costs ~0.1 s of CPU (a third of a typical API test), and most
# tests make a tenant or two with tests/factories.py:make_tenant, whose signing key is one. So its
# keys are lent: a key serves one database (of those not yet closed, each holds keys of its own, so
# two tenants or two databases a test sees never share one) and returns when that database is
# closed (close_apps, at the end of its test or module). create_signing_key runs as in production
# around the generation (its own tests, the CLI and the live servers still generate every key).
_spare_rsa_keys: list[Any] = []
_lent_rsa_keys: dict[str, list[Any]] = {}


@contextmanager
def lent_rsa_key(database_url: str) -> Iterator[None]:
    """Within: the next 2048-bit RSA key joserfc generates is a lent one (see above)."""
    from joserfc._rfc7518.rsa_key import RSABinding

    generate = RSABinding.generate_private_key

    def lend(size: int) -> Any:
        if size != 2048:
            return generate(size)
        key = _spare_rsa_keys.pop() if _spare_rsa_keys else generate(size)
        _lent_rsa_keys.setdefault(database_url, []).append(key)
        return key

    with patch.object(RSABinding, "generate_private_key", staticmethod(lend)):
        yield

"""CLI fixtures: a ``Cli`` on a temp directory, and a private copy of a database prepared once a module."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.cli.support import PASSWORD
from tests.cli.support import Cli
from tests.support.apps import build_app


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    return Cli(tmp_path)


@pytest.fixture(scope="module")
def prepared(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Made once per module with the CLI: a key, an upgraded database, tenant ``acme``, user ``kim``."""
    template = Cli(tmp_path_factory.mktemp("cli-template"))
    template.ok("keys", "init")
    template.ok("db", "upgrade")
    template.ok("tenant", "create", "acme")
    template.ok("user", "create", "--tenant", "acme", "--username", "kim", "--password", PASSWORD)
    return template.tmp_path


@pytest.fixture
def ready(cli: Cli, prepared: Path) -> Cli:
    """A private copy of the prepared key and database (every CLI run closed its connections)."""
    shutil.copy2(prepared / "encryption.key", cli.key_file)
    shutil.copytree(prepared / "data", cli.tmp_path / "data")
    return cli


@pytest.fixture
def app_on(ready: Cli) -> Iterator[Any]:
    application = build_app(ready.database_url, ready.tmp_path)
    yield application
    application.extensions["scim_me"].db.close_all()

"""Real-client acceptance fixtures: a live server of its own (tests/support/live_server.py,
gunicorn with 2 workers on file SQLite, prepared like the e2e one) and the pinned newman from
tests/clients/package-lock.json.

The collection changes its users' passwords and profiles, so this directory never shares the
e2e suite's server: this ``live_server`` overrides tests/e2e's for the tests here.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.clients.support import find_newman
from tests.support.ci import missing
from tests.support.live_server import LiveServer
from tests.support.live_server import launch
from tests.support.live_server import prepare_main


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with launch(tmp_path_factory.mktemp("clients-server"), prepare_main) as server:
        yield server


@pytest.fixture(scope="session")
def newman() -> list[str]:
    command, problems = find_newman()
    if command is None:
        missing("newman cannot run: " + "; ".join(problems) + " (install: `npm ci --prefix tests/clients`; node >= 20)")
    return command

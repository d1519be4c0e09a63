"""The e2e servers (tests/support/live_server.py), one of each per test process.

The fixtures are session-scoped; tests that change a user create their own with
``live_server.create_user()`` so they never depend on each other's order. The gunicorn log is
attached to the report of every failing test that used the server (tests/fixtures/live_server.py),
and printed at teardown when the session had failures.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator

import pytest

from tests.e2e.support import EXTERNAL_AUDIENCE
from tests.support.live_server import DEFAULT_PASSWORD
from tests.support.live_server import LiveServer
from tests.support.live_server import launch
from tests.support.live_server import prepare_main
from tests.support.live_server import tail


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Iterator[LiveServer]:
    with launch(tmp_path_factory.mktemp("live-server"), prepare_main) as server:
        try:
            yield server
        finally:
            if request.session.testsfailed:
                sys.stderr.write(f"\n---- gunicorn log ({server.log_path}) ----\n{tail(server.log_path)}\n")


def _prepare_external(server: LiveServer) -> None:
    server.cli("db", "upgrade")
    for name in ("idp", "stranger"):
        server.cli("tenant", "create", name)
        server.cli("user", "create", "--tenant", name, "--username", "kim", "--password", DEFAULT_PASSWORD)


@pytest.fixture(scope="session")
def external_issuer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A second scim-me instance on another port, standing in for an external OIDC issuer (its
    tenants ``idp`` and ``stranger`` each have a user ``kim``); its tokens name
    EXTERNAL_AUDIENCE as the API they are for."""
    workdir = tmp_path_factory.mktemp("external-issuer")
    with launch(workdir, _prepare_external, "idp", SCIM_ME_RESOURCE_AUDIENCE=EXTERNAL_AUDIENCE) as server:
        yield server

"""Real-client acceptance fixtures: the live server of tests/e2e (gunicorn, 2 workers, file SQLite)
reused as is, and the pinned newman from tests/clients/package-lock.json.

The live server is the e2e suite's fixture imported here, so this directory gets its own instance:
the collection changes its users' passwords and profiles, and must not share them with e2e tests.
"""

from __future__ import annotations

import pytest
from e2e.conftest import live_server  # noqa: F401 - re-exported as this directory's fixture
from e2e.conftest import pytest_runtest_makereport  # noqa: F401 - attaches the gunicorn log on failure

from clients.support import IN_CI
from clients.support import find_newman


@pytest.fixture(scope="session")
def newman() -> list[str]:
    command, problems = find_newman()
    if command is not None:
        return command
    reason = "newman cannot run: " + "; ".join(problems) + " (install: `npm ci --prefix tests/clients`; node >= 20)"
    if IN_CI:
        pytest.fail(f"CI=true requires the Postman/newman test; {reason}", pytrace=False)
    pytest.skip(reason)

"""The suite's shared fixtures, registered once as plugins (tests/fixtures); helpers that tests
import live in tests/support and tests/factories.py. Nothing imports a conftest.

Under ``CI=true`` a missing PostgreSQL, browser or newman fails the tests that need it; on a
developer machine those tests are skipped with the reason (tests/support/ci.py).
"""

pytest_plugins = [
    "tests.fixtures.database",
    "tests.fixtures.mail",
    "tests.fixtures.live_server",
    "tests.fixtures.cluster",
    "tests.fixtures.workers",
    "tests.fixtures.routing",
]

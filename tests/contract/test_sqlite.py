"""schemathesis against the e2e server on SQLite: every operation on both dialects' tenants, 0
failures (5xx, undocumented status, wrong content type, body breaking its schema). See support.py."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck
from hypothesis import settings

from tests.contract.support import ContractServer
from tests.contract.support import run_case
from tests.contract.support import static_schema

schema = static_schema()

pytestmark = pytest.mark.e2e


@schema.parametrize()
# The user is made once per operation on purpose (support.py): examples of one operation share it;
# generation speed depends on the machine's load, not on the server.
@settings(suppress_health_check=list(HealthCheck), deadline=None)
def test_operation(case: Any, tenant: str, sqlite_server: ContractServer, account: Any) -> None:
    run_case(sqlite_server, tenant, account, case)

"""The contract servers: one on a SQLite file, one on a PostgreSQL database (tests/contract/support.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.contract.support import TENANTS
from tests.contract.support import ContractServer
from tests.contract.support import contract_server


@pytest.fixture(scope="session")
def sqlite_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ContractServer]:
    with contract_server(tmp_path_factory.mktemp("contract-sqlite")) as server:
        yield server


@pytest.fixture(scope="session")
def postgres_server(tmp_path_factory: pytest.TempPathFactory, postgres_url: str) -> Iterator[ContractServer]:
    with contract_server(tmp_path_factory.mktemp("contract-postgres"), SCIM_ME_DATABASE_URL=postgres_url) as server:
        yield server


@pytest.fixture(params=list(TENANTS))
def tenant(request: pytest.FixtureRequest) -> str:
    """Each operation runs once per dialect: ``acme`` (wso2) and ``strict`` (rfc)."""
    return str(request.param)


@pytest.fixture
def account(request: pytest.FixtureRequest, tenant: str) -> object:
    """A user of this operation's own, on this module's server."""
    server = request.getfixturevalue("sqlite_server" if "sqlite" in request.module.__name__ else "postgres_server")
    return server.new_account(tenant)

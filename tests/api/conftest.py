"""Fixtures most API tests share: the ``acme`` tenant of the test's ``app`` and an admin
client's bearer headers for it. A module that needs another tenant defines its own ``tenant``."""

from __future__ import annotations

from typing import Any

import pytest

from tests.factories import make_tenant
from tests.support.admin import client_headers


@pytest.fixture
def tenant(app: Any) -> Any:
    return make_tenant(app, "acme")


@pytest.fixture
def auth(app: Any, tenant: Any) -> dict[str, str]:
    return client_headers(app, tenant)

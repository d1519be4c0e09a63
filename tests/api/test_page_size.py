"""The page size is a setting (``max_page_size``, ``default_page_size``), enforced on /Users and
/Groups and advertised in /ServiceProviderConfig: ``filter.maxResults`` (RFC 7643 §5) and RFC
9865 §4 ``pagination``. RFC 7644 §3.4.2.4: a larger ``count`` gets the maximum, not an error."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from scim_me.config import ConfigError
from tests.factories import make_tenant
from tests.factories import make_user
from tests.support.admin import client_headers
from tests.support.apps import build_app


@pytest.fixture
def small_pages(database_url: str, tmp_path: Path) -> Any:
    application = build_app(database_url, tmp_path, max_page_size=3, default_page_size=2)
    yield application
    application.extensions["scim_me"].db.close_all()


def test_service_provider_config_advertises_the_page_sizes(small_pages: Any) -> None:
    make_tenant(small_pages, "acme")
    body = small_pages.test_client().get("/t/acme/scim2/ServiceProviderConfig").json
    assert body["filter"] == {"supported": True, "maxResults": 3}
    assert body["pagination"] == {
        "cursor": True,
        "index": True,
        "defaultPaginationMethod": "index",
        "defaultPageSize": 2,
        "maxPageSize": 3,
    }


def test_lists_page_by_the_settings(small_pages: Any) -> None:
    tenant = make_tenant(small_pages, "acme")
    for name in ("ann", "bob", "cy", "dee", "eve"):
        make_user(small_pages, tenant, name)
    client = small_pages.test_client()
    headers = client_headers(small_pages, tenant)
    default = client.get("/t/acme/scim2/Users", headers=headers).json
    assert (default["totalResults"], default["itemsPerPage"], len(default["Resources"])) == (5, 2, 2)
    capped = client.get("/t/acme/scim2/Users?count=50&sortBy=userName", headers=headers).json
    assert [user["userName"] for user in capped["Resources"]] == ["ann", "bob", "cy"]
    first = client.get("/t/acme/scim2/Users?count=50&cursor=&sortBy=userName", headers=headers).json
    assert len(first["Resources"]) == 3 and first["nextCursor"]
    groups = client.get("/t/acme/scim2/Groups?count=50", headers=headers)
    assert groups.status_code == 200 and groups.json["totalResults"] == 0


def test_a_default_above_the_maximum_is_refused_at_start_up(tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        build_app(f"sqlite:///{tmp_path / 'x.db'}", tmp_path, max_page_size=10, default_page_size=20)

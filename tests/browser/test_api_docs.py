"""Acceptance (issue 12, item 4): ``/api/docs`` renders the OpenAPI document in headless Chromium
with Swagger UI's assets served by the app itself: the page makes no request to any other host
(every request is intercepted; one leaving the machine would be aborted and fail the test), and
its strict Content-Security-Policy is never violated."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.support import HERE
from tests.browser.support import BrowserServer
from tests.browser.support import Tools
from tests.browser.support import run_driver

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("tenant", [None, "acme"])
def test_the_api_reference_renders_with_no_request_leaving_the_machine(
    browser_server: BrowserServer, browser_tools: Tools, request: pytest.FixtureRequest, tenant: str | None
) -> None:
    base = browser_server.base(tenant)
    report: dict[str, Any] = run_driver(
        browser_tools, {"url": f"{base}/api/docs"}, request.node, driver=HERE / "drive_docs.js"
    )
    assert report["ok"], report["error"]
    assert report["result"]["status"] == 200
    assert "default-src 'none'" in report["result"]["csp"]
    assert report["foreign"] == []
    assert all(url.startswith((base.split("/t/")[0] + "/", "data:")) for url in report["requests"])
    assert f"{base}/api/openapi.json" in report["requests"]
    assert report["violations"] == [] and report["errors"] == []
    assert "scim-me" in report["result"]["title"]
    # Every documented operation is on the page (the bare document lists ~75).
    assert report["result"]["operations"] >= 70
    assert any("SCIM" in tag for tag in report["result"]["tags"])

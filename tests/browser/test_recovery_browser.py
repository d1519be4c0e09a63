"""Issue 18 acceptance 1, in headless Chromium with the unmodified @asgardeo/auth-spa SDK: from
the sign-in page's "Forgot password?" through the mailed code (read from the server's outbox) and
a new password, back to the same authorization request, to a signed-in SPA that reads
/scim2/Me. The browser side is drive_recovery.js."""

from __future__ import annotations

import secrets

import pytest

from tests.browser.support import HERE
from tests.browser.support import BrowserServer
from tests.browser.support import Tools
from tests.browser.support import run_driver
from tests.support.live_server import DEFAULT_PASSWORD

pytestmark = [pytest.mark.e2e, pytest.mark.browser]
DRIVER = HERE / "drive_recovery.js"
WATCHDOG_MS = 120_000


def test_forgot_password_to_a_signed_in_spa(
    browser_tools: Tools, browser_server: BrowserServer, request: pytest.FixtureRequest
) -> None:
    case = browser_server.cases["acme"]  # the first-party SPA client of tenant acme
    live = browser_server.live
    username = f"forgetful-{secrets.token_hex(3)}"
    address = f"{username}@example.com"
    live.cli(
        "user",
        "create",
        "--tenant",
        "acme",
        "--username",
        username,
        "--password",
        DEFAULT_PASSWORD,
        "--email",
        address,
        "--email-verified",
    )
    report = run_driver(
        browser_tools,
        {
            "pageUrl": browser_server.page.url,
            "base": browser_server.base(case.tenant),
            "clientId": case.client_id,
            "username": username,
            "address": address,
            "outbox": str(live.env["SCIM_ME_MAIL_OUTBOX_DIR"]),
            "newPassword": "violet-staple-battery-31",
        },
        request.node,
        driver=DRIVER,
        watchdog_ms=WATCHDOG_MS,
    )
    assert report["ok"], f"browser flow failed at step {report['step']!r}: {report['error']}"
    result = report["result"]
    assert result["recoveryPage"] == "/t/acme/accountrecoveryendpoint/recoverpassword.do"
    assert result["backToAuthorize"] is True
    assert "Sign in with the new one" in result["notice"]
    assert result["me"] == {"status": 200, "userName": username}

"""Issue 4 acceptance 3, in headless Chromium with the unmodified @asgardeo/auth-spa SDK: a user
signs in with the password, enrols a TOTP and backup codes through the API (the SDK's
``httpRequest`` on ``/api/users/v1/me/...``), signs out, signs in through the OIDC flow with
password + TOTP (``amr`` is ``["pwd", "otp"]``), then with password + a backup code, which does
not work a second time. The browser side is drive_mfa.js."""

from __future__ import annotations

import pytest

from tests.browser.support import HERE
from tests.browser.support import BrowserServer
from tests.browser.support import Tools
from tests.browser.support import run_driver
from tests.support.live_server import DEFAULT_PASSWORD

pytestmark = [pytest.mark.e2e, pytest.mark.browser]
DRIVER = HERE / "drive_mfa.js"
WATCHDOG_MS = 180_000  # four sign-ins and the enrolment


def test_enrol_then_sign_in_with_totp_then_with_a_backup_code_once(
    browser_tools: Tools, browser_server: BrowserServer, request: pytest.FixtureRequest
) -> None:
    case = browser_server.cases["acme"]  # the first-party SPA client of tenant acme
    username = browser_server.live.create_user("mfa-browser")
    report = run_driver(
        browser_tools,
        {
            "pageUrl": browser_server.page.url,
            "base": browser_server.base(case.tenant),
            "clientId": case.client_id,
            "username": username,
            "password": DEFAULT_PASSWORD,
        },
        request.node,
        driver=DRIVER,
        watchdog_ms=WATCHDOG_MS,
    )
    assert report["ok"], f"browser flow failed at step {report['step']!r}: {report['error']}"
    result = report["result"]
    assert result["first"] == {"askedForCode": False, "signedIn": True, "amr": ["pwd"]}
    assert result["validate"]["data"] == {"isValid": True}
    assert result["backupCodeCount"] == 10
    assert result["totpEnabled"] == "true"
    assert result["withTotp"] == {"askedForCode": True, "signedIn": True, "amr": ["pwd", "otp"]}
    assert result["withBackup"] == {"askedForCode": True, "signedIn": True, "amr": ["pwd", "otp"]}
    assert result["remaining"] == {"remainingBackupCodesCount": 9}
    again = result["backupAgain"]
    assert again["askedForCode"] is True and again["signedIn"] is False
    assert "already used" in again["error"]

"""Issue 4 acceptance 3, in headless Chromium with the unmodified @asgardeo/auth-spa SDK: a user
signs in with the password, enrols a TOTP and backup codes through the API (the SDK's
``httpRequest`` on ``/api/users/v1/me/...``), signs out, signs in through the OIDC flow with
password + TOTP (``amr`` is ``["pwd", "otp"]``), then with password + a backup code, which does
not work a second time. The browser side is drive_mfa.js."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from typing import Any

import pytest

from tests.browser.support import HERE
from tests.browser.support import STEP_TIMEOUT_MS
from tests.browser.support import BrowserServer
from tests.browser.support import Tools
from tests.browser.support import format_report
from tests.support.live_server import DEFAULT_PASSWORD

pytestmark = [pytest.mark.e2e, pytest.mark.browser]
DRIVER = HERE / "drive_mfa.js"
WATCHDOG_MS = 180_000  # four sign-ins and the enrolment
PROCESS_TIMEOUT_S = WATCHDOG_MS / 1000 + 30


def _run(tools: Tools, config: dict[str, Any], item: pytest.Item) -> dict[str, Any]:
    config = {**config, "chromium": tools.chromium, "stepTimeoutMs": STEP_TIMEOUT_MS, "watchdogMs": WATCHDOG_MS}
    proc = subprocess.Popen(
        [tools.node, str(DRIVER), json.dumps(config)],
        cwd=HERE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group, so a timeout also ends Chromium
    )
    try:
        stdout, stderr = proc.communicate(timeout=PROCESS_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        stdout, stderr = proc.communicate(timeout=30)
        item.add_report_section("call", "driver output", f"stdout:\n{stdout}\nstderr:\n{stderr}")
        pytest.fail(f"drive_mfa.js did not finish within {PROCESS_TIMEOUT_S:.0f}s and was killed")
    try:
        report: dict[str, Any] = json.loads(stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        item.add_report_section("call", "driver output", f"stdout:\n{stdout}\nstderr:\n{stderr}")
        pytest.fail(f"drive_mfa.js exited {proc.returncode} without a JSON report")
    text = format_report(report) + (f"\n\n-- stderr --\n{stderr}" if stderr else "")
    item.add_report_section("call", "browser", text)
    return report


def test_enrol_then_sign_in_with_totp_then_with_a_backup_code_once(
    browser_tools: Tools, browser_server: BrowserServer, request: pytest.FixtureRequest
) -> None:
    case = browser_server.cases["acme"]  # the first-party SPA client of tenant acme
    username = browser_server.live.create_user("mfa-browser")
    report = _run(
        browser_tools,
        {
            "pageUrl": browser_server.page.url,
            "base": browser_server.base(case.tenant),
            "clientId": case.client_id,
            "username": username,
            "password": DEFAULT_PASSWORD,
        },
        request.node,
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

"""Issue 14 acceptance 2: the unmodified ``@asgardeo/auth-react`` in headless Chromium. A minimal
React app of our own (react-app/src/main.jsx, bundled with esbuild by the ``react_app`` fixture)
signs in, shows ``state.username`` (the ID token's ``username`` claim), reads ``/scim2/Me``
through ``httpRequest``, and notices a sign-out made in another tab (OIDC Session Management:
``enableOIDCSessionManagement`` with a 1 s ``checkSessionInterval``). drive_react.js is the
browser side. The app is on the issuer's site, as in test_session_management.py."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.browser.support import HERE
from tests.browser.support import BrowserServer
from tests.browser.support import Tools
from tests.browser.support import run_driver
from tests.support.live_server import DEFAULT_PASSWORD

pytestmark = [pytest.mark.e2e, pytest.mark.browser]


def test_auth_react_signs_in_reads_me_and_notices_a_sign_out_elsewhere(
    browser_tools: Tools, browser_server: BrowserServer, react_app: Path, request: pytest.FixtureRequest
) -> None:
    case = browser_server.cases["react"]
    report = run_driver(
        browser_tools,
        {
            "pageUrl": f"{browser_server.page.same_site_origin}/react/index.html",
            "base": browser_server.base(case.tenant),
            "clientId": case.client_id,
            "username": case.username,
            "password": DEFAULT_PASSWORD,
        },
        request.node,
        driver=HERE / "drive_react.js",
    )
    assert report["ok"], f"auth-react run failed at step {report['step']!r}: {report['error']}"
    result: dict[str, Any] = report["result"]
    assert result["statusBefore"] == "signed-out"
    assert result["username"] == case.username  # state.username
    assert result["usernameB"] == case.username
    me = result["me"]
    assert me["status"] == 200 and me["userName"] == case.username, me
    assert result["answers"][0] == "unchanged" and "changed" in result["answers"], result["answers"]
    assert result["statusAfter"] == "signed-out"
    requests_a = result["tabARequests"]
    assert any("/oauth2/authorize?" in line and "prompt=none" in line for line in requests_a), requests_a
    # Tab A's one API call was the button's read: the sign-out reached it through the frame.
    api_calls = [line for line in requests_a if "/scim2/" in line]
    assert api_calls == [f"GET {browser_server.base(case.tenant)}/scim2/Me 200"], api_calls

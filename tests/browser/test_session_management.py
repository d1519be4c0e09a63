"""OIDC Session Management 1.0 in headless Chromium (issue 14).

1. The ``/oidc/checksession`` page itself (drive_checksession.js, no SDK): framed by an app
   origin of the client it answers "unchanged" for the ``session_state`` the authorization
   response carried, "changed" once the browser signed out, "error" for malformed messages; an
   origin that is not the client's can neither frame it (CSP ``frame-ancestors``) nor get an
   answer from a window; where the frame cannot read the browser-state cookie (third-party
   cookies blocked, or no cookie) it stays silent instead of reporting a change; with third-party
   cookies allowed a cross-site app gets answers too, computed as node's SHA-256 computes them.
2. The unmodified ``@asgardeo/auth-spa`` SDK with ``enableOIDCSessionManagement``
   (drive_session.js): two tabs of one browser signed in (the second by single sign-on); tab A
   signs out and tab B, making no API call, learns it from its check-session frame and signs
   itself out. The app is on the issuer's site (tests/browser/support.py,
   ``PageServer.same_site_origin``): the SDK's follow-up ``prompt=none`` request runs in a hidden
   frame, which gets the issuer's ``SameSite=Lax`` session cookie only from the same site
   (docs/session-management.md).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
from typing import Any
from urllib.parse import urlencode

import pytest
import requests

from tests.browser.support import HERE
from tests.browser.support import BrowserServer
from tests.browser.support import Tools
from tests.browser.support import run_driver
from tests.support.live_server import DEFAULT_PASSWORD

pytestmark = [pytest.mark.e2e, pytest.mark.browser]


def _cookie_name(frame_url: str) -> str:
    """The browser-state cookie the page reads, from the page's own configuration."""
    page = requests.get(frame_url, timeout=30)
    assert page.status_code == 200, page.text
    match = re.search(r'<script type="application/json" id="op-config">(.*?)</script>', page.text)
    assert match, page.text
    return str(json.loads(match.group(1))["cookie"])


def test_the_check_session_page_answers_the_clients_origins_only(
    browser_tools: Tools, browser_server: BrowserServer, request: pytest.FixtureRequest
) -> None:
    case = browser_server.cases["checksession"]
    base = browser_server.base(case.tenant)
    probe = f"{browser_server.page.same_site_origin}/probe.html"
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    authorize = {
        "response_type": "code",
        "client_id": case.client_id,
        "redirect_uri": probe,
        "scope": "openid internal_login",
        "state": "probe",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    logout = {"client_id": case.client_id, "post_logout_redirect_uri": probe, "state": "signed-out"}
    frame = f"{base}/oidc/checksession?{urlencode({'client_id': case.client_id})}"
    report = run_driver(
        browser_tools,
        {
            "authorizeUrl": f"{base}/oauth2/authorize?{urlencode(authorize)}",
            "probeUrl": probe,
            "frameUrl": frame,
            "logoutUrl": f"{base}/oidc/logout?{urlencode(logout)}",
            "clientId": case.client_id,
            "username": case.username,
            "password": DEFAULT_PASSWORD,
            "crossSiteOrigin": browser_server.page.origin,
            "cookieName": _cookie_name(frame),
        },
        request.node,
        driver=HERE / "drive_checksession.js",
    )
    assert report["ok"], f"check-session run failed at step {report['step']!r}: {report['error']}"
    result: dict[str, Any] = report["result"]
    assert result["sameSite"] == {
        "issued": "unchanged",
        "tampered": "changed",
        "garbage": "error",
        "noState": "error",
        "otherClient": "error",
        "notAString": "error",
        "popup": "unchanged",
    }, result["sameSite"]
    assert result["otherOrigin"] == {"framed": None, "popup": None, "refusedByCsp": True}, result["otherOrigin"]
    assert result["crossSiteBlocked"] is None  # silent, not "changed": the app keeps its sign-in
    assert result["afterSignOut"] == "changed"
    assert result["withoutCookie"] is None
    assert result["crossSiteAllowed"] == {"matching": "unchanged", "tampered": "changed"}, result["crossSiteAllowed"]


def test_a_sign_out_in_one_tab_signs_the_other_tab_out(
    browser_tools: Tools, browser_server: BrowserServer, request: pytest.FixtureRequest
) -> None:
    case = browser_server.cases["session"]
    report = run_driver(
        browser_tools,
        {
            "pageUrl": browser_server.page.same_site_url,
            "base": browser_server.base(case.tenant),
            "clientId": case.client_id,
            "username": case.username,
            "password": DEFAULT_PASSWORD,
        },
        request.node,
        driver=HERE / "drive_session.js",
    )
    assert report["ok"], f"session-management run failed at step {report['step']!r}: {report['error']}"
    result: dict[str, Any] = report["result"]
    assert "session_state=" in result["callbackA"], result["callbackA"]
    assert result["userA"]["sessionState"] and result["userB"]["sessionState"]
    assert result["userA"]["sessionState"] != result["userB"]["sessionState"]  # a new salt per response
    answers = result["answers"]["b"]
    assert answers[0] == "unchanged", answers
    assert "changed" in answers, answers  # the frame told tab B ...
    assert result["authenticatedB"] is False  # ... and the SDK signed tab B out
    requests_b = result["tabBRequests"]
    # How: the SDK's prompt=none request in its hidden frame got login_required, then it went
    # through /oidc/logout (no session left, so no confirmation) back to the app.
    assert any("/oauth2/authorize?" in line and "prompt=none" in line for line in requests_b), requests_b
    assert any("/oidc/logout?" in line and line.endswith(" 302") for line in requests_b), requests_b
    assert not any("/scim2/" in line for line in requests_b), requests_b  # no API call told it

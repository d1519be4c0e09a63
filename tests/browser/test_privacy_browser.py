"""Issue 5 acceptance 3, in headless Chromium with the unmodified @asgardeo/auth-spa SDK: a user
signs in through the SPA flow, records a consent receipt, lists it and revokes it; ends another
session (signed in separately over HTTP), whose token then stops working on every worker; and
revokes the app in authorized-apps, after which the SDK's own token stops working.

The browser side is drive_privacy.js (playwright-core), run as a subprocess that prints one JSON
report; the page is the issuer acceptance page (page/index.html)."""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from typing import Any
from urllib.parse import parse_qs
from urllib.parse import urlencode
from urllib.parse import urlsplit

import pytest
import requests

from tests.browser.support import HERE
from tests.browser.support import BrowserServer
from tests.browser.support import Tools
from tests.browser.support import run_driver
from tests.factories import SCIM_JSON
from tests.support.live_server import DEFAULT_PASSWORD
from tests.support.live_server import LiveServer

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

DRIVER = HERE / "drive_privacy.js"
CM = "/api/identity/consent-mgt/v1.0/consents"
ADMIN_SCOPES = "internal_consent_mgt_add internal_consent_mgt_delete internal_consent_mgt_view"
OTHER_AGENT = "OtherDevice/1.0 (python-requests)"


def _admin_post(live: LiveServer, token: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = requests.post(
        live.url(f"{CM}{path}"), json=body, headers={"Authorization": f"Bearer {token}"}, timeout=30
    )
    assert response.status_code in (200, 201), response.text
    return response.json()  # type: ignore[no-any-return]


def _metadata(live: LiveServer, suffix: str) -> dict[str, int]:
    token = live.cli("token", "--tenant", "acme", "--scope", ADMIN_SCOPES).stdout.strip()
    pii = _admin_post(live, token, "/pii-categories", {"piiCategory": f"email-{suffix}", "displayName": "Email"})
    category = _admin_post(live, token, "/purpose-categories", {"purposeCategory": f"Legal-{suffix}"})
    purpose = _admin_post(
        live,
        token,
        "/purposes",
        {"purpose": f"Contact-{suffix}", "piiCategories": [{"piiCategoryId": pii["piiCategoryId"], "mandatory": True}]},
    )
    return {"pii": pii["piiCategoryId"], "category": category["purposeCategoryId"], "purpose": purpose["purposeId"]}


def _other_session(server: BrowserServer, client_id: str, user: str) -> str:
    """Sign the user in a second time, from "another device" (plain HTTP), with the same app."""
    live = server.live
    http = requests.Session()
    http.headers["User-Agent"] = OTHER_AGENT
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    params = {
        "response_type": "code", "client_id": client_id, "redirect_uri": server.page.url,
        "scope": "openid internal_login", "state": "s", "code_challenge": challenge, "code_challenge_method": "S256",
    }  # fmt: skip
    url = live.url("/oauth2/authorize") + "?" + urlencode(params)
    page = http.get(url, timeout=30)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert csrf, page.text
    form = {"csrf_token": csrf.group(1), "action": "login", "username": user, "password": DEFAULT_PASSWORD}
    signed = http.post(url, data=form, allow_redirects=False, timeout=30)
    assert signed.status_code == 302, signed.text
    code = parse_qs(urlsplit(signed.headers["Location"]).query)["code"][0]
    tokens = http.post(
        live.url("/oauth2/token"),
        data={"grant_type": "authorization_code", "code": code, "redirect_uri": server.page.url,
              "client_id": client_id, "code_verifier": verifier},
        timeout=30,
    )  # fmt: skip
    assert tokens.status_code == 200, tokens.text
    return str(tokens.json()["access_token"])


def _me_statuses(live: LiveServer, token: str, times: int = 10) -> list[int]:
    statuses = []
    for _ in range(times):  # a new connection each time: both gunicorn workers answer
        response = requests.get(
            live.me_url("acme"), headers={"Authorization": f"Bearer {token}", "Accept": SCIM_JSON}, timeout=30
        )
        statuses.append(response.status_code)
    return statuses


def test_sdk_consents_sessions_and_authorized_apps(
    browser_tools: Tools, browser_server: BrowserServer, request: pytest.FixtureRequest
) -> None:
    live = browser_server.live
    suffix = secrets.token_hex(4)
    user = f"privacy-{suffix}"
    live.cli("user", "create", "--tenant", "acme", "--username", user, "--password", DEFAULT_PASSWORD)
    client_id = browser_server.cases["acme"].client_id  # first-party SPA whose origin is the page's
    meta = _metadata(live, suffix)
    other_token = _other_session(browser_server, client_id, user)
    assert _me_statuses(live, other_token) == [200] * 10

    consent = {
        "services": [{"service": "browser-app", "serviceDisplayName": "Browser App", "purposes": [{
            "purposeId": meta["purpose"], "purposeCategoryId": [meta["category"]], "consentType": "EXPLICIT",
            "piiCategory": [{"piiCategoryId": meta["pii"], "validity": "DATE_UNTIL:INDEFINITE"}],
            "primaryPurpose": True, "termination": "DATE_UNTIL:INDEFINITE", "thirdPartyDisclosure": False}]}],
        "collectionMethod": "Web Form - My Account", "jurisdiction": "LK", "language": "en-US",
        "policyURL": "https://example.com/privacy",
    }  # fmt: skip
    config = {
        "pageUrl": browser_server.page.url,
        "base": browser_server.base("acme"),
        "clientId": client_id,
        "username": user,
        "password": DEFAULT_PASSWORD,
        "consent": consent,
        "otherUserAgent": OTHER_AGENT,
    }
    report = run_driver(browser_tools, config, request.node, driver=DRIVER)
    assert report["ok"], f"browser flow failed at step {report['step']!r}: {report['error']}"
    result = report["result"]

    receipt_id = result["added"]["data"]["consentReceiptId"]
    assert result["added"]["data"]["piiPrincipalId"] == user
    assert receipt_id in [r["consentReceiptID"] for r in result["listed"]["data"]]
    assert result["receipt"]["data"]["version"] == "KI-CR-v1.1.0"
    assert result["receipt"]["data"]["services"][0]["purposes"][0]["purposeId"] == meta["purpose"]
    assert result["afterRevoke"]["data"]["state"] == "REVOKED"
    assert receipt_id not in [r["consentReceiptID"] for r in result["activeAfterRevoke"]["data"]]

    agents = [s["userAgent"] for s in result["sessions"]["data"]["sessions"]]
    assert OTHER_AGENT in agents and len(agents) == 2, agents
    assert [s["userAgent"] for s in result["sessionsAfter"]["data"]["sessions"]] != agents
    assert OTHER_AGENT not in [s["userAgent"] for s in result["sessionsAfter"]["data"]["sessions"]]
    # The ended session's token is refused by every worker.
    assert _me_statuses(live, other_token) == [401] * 10

    assert client_id in [a["clientId"] for a in result["apps"]["data"]]
    # After revoking the app, the SDK's own token no longer works: in the page and from outside.
    assert result["meAfterRevoke"]["ok"] is False, result["meAfterRevoke"]
    assert _me_statuses(live, result["accessToken"]) == [401] * 10

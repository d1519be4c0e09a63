"""Acceptance: the unmodified @asgardeo/auth-spa 3.5.2 SDK, in headless Debian Chromium, signs in
to scim-me with authorization code + PKCE (SDK defaults: ``baseUrl`` only, so no discovery
request; ``validateIDToken`` and ``validateIDTokenIssuer`` on), reads and PATCHes ``/scim2/Me``
with ``httpRequest`` (credentialed cross-site CORS, bearer token), then signs out via
``/oidc/logout``. Once per tenant kind (``/t/acme/...`` and the default tenant's bare paths), once
with a client that is not first-party (the consent page is shown and accepted), and once with
``refreshAccessToken()`` (the ``refresh_token`` grant for a public client, as the SDK's 401 path
uses it).

The browser side is drive.js (playwright-core) run as a subprocess that prints one JSON report;
the app is page/index.html. Background: docs/dev/asgardeo-spa-sdk.md.
"""

from __future__ import annotations

import base64
import secrets
from typing import Any

import pytest
import requests

from tests.browser.support import DEFAULT_TENANT
from tests.browser.support import BrowserServer
from tests.browser.support import Tools
from tests.browser.support import run_driver
from tests.factories import SCIM_JSON
from tests.support.live_server import DEFAULT_PASSWORD

pytestmark = [pytest.mark.e2e, pytest.mark.browser]


def _sign_in_and_edit_me(
    tools: Tools,
    server: BrowserServer,
    case_name: str,
    item: pytest.Item,
    *,
    refresh: bool = False,
    new_password: str | None = None,
) -> dict[str, Any]:
    """Run the whole browser flow for one case, check it, and return the driver's result."""
    case = server.cases[case_name]
    nick = f"nick-{secrets.token_hex(4)}"
    report = run_driver(
        tools,
        {
            "pageUrl": server.page.url,
            "base": server.base(case.tenant),
            "clientId": case.client_id,
            "username": case.username,
            "password": DEFAULT_PASSWORD,
            "nick": nick,
            "refresh": refresh,
            "newPassword": new_password,
        },
        item,
    )
    assert report["ok"], f"browser flow failed at step {report['step']!r}: {report['error']}"
    result: dict[str, Any] = report["result"]

    assert report["consentShown"] is (not case.first_party), "consent page shown only for non-first-party clients"
    # `code` first in the callback query lets the SDK strip it from the address bar (doc §3).
    assert "code=" not in result["urlAfterSignIn"], result["callbackUrl"]

    me = result["me"]
    assert me["status"] == 200, me
    assert me["data"]["userName"] == case.username, me
    assert result["idToken"]["sub"] == me["data"]["id"], (result["idToken"], me["data"])
    # getBasicUserInfo().username is the ID token's `username` claim (auth-react's state.username).
    assert result["user"]["username"] == case.username, result["user"]
    assert result["patch"]["status"] in (200, 204), result["patch"]
    me2 = result["me2"]
    assert me2["status"] == 200, me2
    assert me2["data"]["nickName"] == nick, me2
    assert me2["data"]["userName"] == case.username, me2
    assert result["authenticatedAfterSignOut"] is False

    # The change is stored, not just echoed: read it back with a CLI-minted token.
    token = server.live.token(user=case.username, tenant=case.tenant or DEFAULT_TENANT)
    stored = requests.get(
        server.live.me_url(case.tenant),
        headers={"Authorization": f"Bearer {token}", "Accept": SCIM_JSON},
        timeout=30,
    )
    assert stored.status_code == 200, stored.text
    assert stored.json()["nickName"] == nick, stored.json()
    return result


@pytest.mark.parametrize("case_name", ["acme", DEFAULT_TENANT, "consent"])
def test_sdk_signs_in_and_edits_me(
    case_name: str, browser_tools: Tools, browser_server: BrowserServer, request: pytest.FixtureRequest
) -> None:
    _sign_in_and_edit_me(browser_tools, browser_server, case_name, request.node)


def test_sdk_refreshes_the_access_token(
    browser_tools: Tools, browser_server: BrowserServer, request: pytest.FixtureRequest
) -> None:
    result = _sign_in_and_edit_me(browser_tools, browser_server, "acme", request.node, refresh=True)
    assert result["refresh"] == {"ok": True, "rotated": True, "authenticated": True}, result["refresh"]
    assert result["me3"]["status"] == 200, result["me3"]
    assert result["me3"]["data"]["userName"] == browser_server.cases["acme"].username, result["me3"]


def test_sdk_changes_the_password_with_the_current_one(
    browser_tools: Tools, browser_server: BrowserServer, request: pytest.FixtureRequest
) -> None:
    """Issue 6 acceptance 4: ``httpRequest`` POSTs ``/api/users/v1/me/change-password`` with the
    current password (cross-site, bearer token); the SDK's token keeps working (the caller's
    session is kept), the new password signs in and the old one no longer does."""
    case = browser_server.cases["password"]
    new_password = f"sdk-rotated-{secrets.token_hex(6)}"
    result = _sign_in_and_edit_me(browser_tools, browser_server, "password", request.node, new_password=new_password)
    assert result["changePassword"]["status"] == 204, result["changePassword"]
    assert result["meAfterChange"]["status"] == 200, result["meAfterChange"]
    me = browser_server.live.me_url(case.tenant)
    for password, status in ((DEFAULT_PASSWORD, 401), (new_password, 200)):
        raw = base64.b64encode(f"{case.username}:{password}".encode()).decode()
        response = requests.get(me, headers={"Authorization": f"Basic {raw}", "Accept": SCIM_JSON}, timeout=30)
        assert response.status_code == status, (password == new_password, response.text)

"""Issue 15 acceptance 1, in headless Chromium with a virtual authenticator of the DevTools
protocol (``WebAuthn.enable`` / ``WebAuthn.addVirtualAuthenticator``, driven from playwright-core):
a user signed in with the password registers a passkey through WSO2's FIDO2 API from the app's page
(the SDK's ``httpRequest``, ``appId`` form-encoded, ``requestId`` round trip), signs out, signs in
with the passkey alone (``amr`` ``["hwk", "mfa"]``), then with the password and the passkey as the
second factor (``["pwd", "hwk"]``); a copy of the credential with a stale signature counter is then
refused. The browser side is drive_passkeys.js.

Browsers refuse WebAuthn on IP addresses, so this server's base URL is ``http://localhost:PORT``
(the relying-party id ``localhost``), unlike the other browser tests' ``127.0.0.1``; the page is
on ``http://localhost:OTHER``, an origin of the tenant's client (the CORS list)."""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.browser.support import HERE
from tests.browser.support import PageServer
from tests.browser.support import Tools
from tests.browser.support import run_driver
from tests.support.live_server import DEFAULT_PASSWORD
from tests.support.live_server import LiveServer
from tests.support.live_server import loopback_listener
from tests.support.live_server import port_of
from tests.support.live_server import run_gunicorn
from tests.support.live_server import server_environment
from tests.support.live_server import tail

pytestmark = [pytest.mark.e2e, pytest.mark.browser]
DRIVER = HERE / "drive_passkeys.js"
WATCHDOG_MS = 180_000
_CLIENT_ID = re.compile(r"^client_id: (\S+)$", re.MULTILINE)


@pytest.fixture(scope="module")
def passkey_server(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest, page_server: PageServer
) -> Iterator[tuple[LiveServer, str]]:
    workdir: Path = tmp_path_factory.mktemp("passkey-server")
    listener = loopback_listener()
    base_url = f"http://localhost:{port_of(listener)}"
    env = server_environment(workdir, base_url)
    env.pop("SCIM_ME_CORS_ALLOWED_ORIGINS", None)  # the page origin comes from the client only
    log_path = workdir / "gunicorn.log"
    live = LiveServer(base_url=base_url, env=env, workdir=workdir, log_path=log_path)
    live.cli("db", "upgrade")
    live.cli("tenant", "create", "acme")
    out = live.cli(
        "client",
        "create",
        "--tenant",
        "acme",
        "--name",
        "SPA",
        "--public",
        "--first-party",
        "--redirect-uri",
        page_server.url,
        "--allowed-origin",
        page_server.origin,
        "--grant",
        "authorization_code",
        "--grant",
        "refresh_token",
    ).stdout
    match = _CLIENT_ID.search(out)
    assert match, out
    try:
        with run_gunicorn(listener, env, log_path, live.url("/scim2/ServiceProviderConfig"), "--access-logfile", "-"):
            yield live, match.group(1)
    finally:
        if request.session.testsfailed:
            sys.stderr.write(f"\n---- gunicorn log ({log_path}) ----\n{tail(log_path)}\n")


def test_register_a_passkey_then_sign_in_without_and_with_a_password_and_refuse_a_clone(
    browser_tools: Tools,
    passkey_server: tuple[LiveServer, str],
    page_server: PageServer,
    request: pytest.FixtureRequest,
) -> None:
    live, client_id = passkey_server
    live.cli("user", "create", "--tenant", "acme", "--username", "pia", "--password", DEFAULT_PASSWORD)
    report = run_driver(
        browser_tools,
        {
            "pageUrl": page_server.url,
            "base": f"{live.base_url}/t/acme",
            "clientId": client_id,
            "username": "pia",
            "password": DEFAULT_PASSWORD,
        },
        request.node,
        driver=DRIVER,
        watchdog_ms=WATCHDOG_MS,
    )
    if not report["ok"]:
        request.node.add_report_section("call", "gunicorn log", tail(live.log_path))
    assert report["ok"], f"browser flow failed at step {report['step']!r}: {report['error']}"
    result = report["result"]
    assert result["first"] == {"askedForSecondFactor": False, "signedIn": True, "amr": ["pwd"]}
    start = result["start"]
    assert start["status"] == 200 and start["rpId"] == "localhost" and start["residentKey"] == "required"
    finish = result["finish"]
    assert finish["status"] == 200 and finish["isUsernamelessSupported"] is True
    assert result["listed"] == [finish["credentialId"]]
    assert result["passwordless"] == {"askedForSecondFactor": False, "signedIn": True, "amr": ["hwk", "mfa"]}
    assert result["secondFactor"] == {"askedForSecondFactor": True, "signedIn": True, "amr": ["pwd", "hwk"]}
    clone = result["clone"]
    assert clone["signedIn"] is False
    assert "copied" in clone["error"]

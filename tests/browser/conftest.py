"""Browser acceptance fixtures: the unmodified ``@asgardeo/auth-spa`` SDK in headless Debian
Chromium (driven by ``playwright-core`` from node) against the live server.

Layout, as docs/dev/asgardeo-spa-sdk.md §9.5 recommends: the issuer is the real app under gunicorn
(2 workers, file SQLite) on ``http://127.0.0.1:PORT`` with ``SCIM_ME_BASE_URL`` exactly that, so
``iss`` equals the ``{baseUrl}/oauth2/token`` the SDK computes; the page is served from
``http://localhost:OTHER`` by a thread in this process. Different sites, so no cookie reaches the
token, JWKS or SCIM requests: only the bearer token can authenticate ``/scim2/Me``.

Tenants, users and clients are prepared with the operator CLI before gunicorn starts, so no
worker holds a stale tenant or CORS-origin cache.

Needs ``/usr/bin/chromium`` (or ``SCIM_ME_TEST_CHROMIUM``), ``node`` and
``npm ci --prefix tests/browser``. Under ``CI=true`` a missing piece fails the test; elsewhere the
test is skipped with the reason.
"""

from __future__ import annotations

import re
import sys
import threading
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.browser.support import DEFAULT_TENANT
from tests.browser.support import BrowserServer
from tests.browser.support import PageHandler
from tests.browser.support import PageServer
from tests.browser.support import SignInCase
from tests.browser.support import Tools
from tests.browser.support import build_react_app
from tests.browser.support import find_tools
from tests.support.ci import missing
from tests.support.live_server import DEFAULT_PASSWORD
from tests.support.live_server import LiveServer
from tests.support.live_server import loopback_listener
from tests.support.live_server import port_of
from tests.support.live_server import run_gunicorn
from tests.support.live_server import server_environment
from tests.support.live_server import tail

_CLIENT_ID = re.compile(r"^client_id: (\S+)$", re.MULTILINE)
_SERVER_KEY = pytest.StashKey[BrowserServer]()


@pytest.fixture(scope="session")
def browser_tools() -> Tools:
    tools, problems = find_tools()
    if tools is None:
        missing(
            "browser tests cannot run: " + "; ".join(problems) + " (install: `apt-get install -y chromium` and"
            " `npm ci --prefix tests/browser`; node >= 20)"
        )
    return tools


@pytest.fixture(scope="session")
def react_app(browser_tools: Tools) -> Path:
    """The React acceptance app's bundle, built once per session (support.build_react_app)."""
    return build_react_app()


@pytest.fixture(scope="session")
def page_server(browser_tools: Tools) -> Iterator[PageServer]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), PageHandler)
    httpd.daemon_threads = True
    page = PageServer(origin=f"http://localhost:{httpd.server_address[1]}")
    httpd.log_lines = page.log_lines  # type: ignore[attr-defined]
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    try:
        yield page
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=10)


def _create_client(
    live: LiveServer,
    tenant: str | None,
    name: str,
    page: PageServer,
    *,
    first_party: bool,
    redirect_uri: str | None = None,
    origins: tuple[str, ...] = (),
) -> str:
    args = ["client", "create", "--name", name, "--public", "--redirect-uri", redirect_uri or page.url]
    for origin in origins or (page.origin,):
        args += ["--allowed-origin", origin]
    args += ["--grant", "authorization_code", "--grant", "refresh_token"]
    if first_party:
        args.append("--first-party")
    if tenant:
        args += ["--tenant", tenant]
    out = live.cli(*args).stdout
    match = _CLIENT_ID.search(out)
    assert match, f"scim-me {' '.join(args)} printed no client_id: {out!r}"
    return match.group(1)


def _create_user(live: LiveServer, tenant: str | None, user_name: str) -> str:
    args = ["user", "create", "--username", user_name, "--password", DEFAULT_PASSWORD, "--given-name", "Test"]
    live.cli(*args, *(["--tenant", tenant] if tenant else []))
    return user_name


@pytest.fixture(scope="session")
def browser_server(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest, page_server: PageServer
) -> Iterator[BrowserServer]:
    workdir = tmp_path_factory.mktemp("browser-server")
    listener = loopback_listener()
    base_url = f"http://127.0.0.1:{port_of(listener)}"
    # Mail (account recovery) goes to this server's own outbox, which the drivers read.
    env = server_environment(workdir, base_url, SCIM_ME_MAIL_OUTBOX_DIR=str(workdir / "outbox"))
    env.pop("SCIM_ME_CORS_ALLOWED_ORIGINS", None)  # the page origin must come from the clients only
    log_path = workdir / "gunicorn.log"
    live = LiveServer(base_url=base_url, env=env, workdir=workdir, log_path=log_path)
    server = BrowserServer(live=live, page=page_server, cases={})
    request.config.stash[_SERVER_KEY] = server

    live.cli("db", "upgrade")  # also creates the default tenant, carbon.super
    live.cli("tenant", "create", "acme")
    server.cases["acme"] = SignInCase(
        "acme",
        _create_user(live, "acme", "kim"),
        _create_client(live, "acme", "SPA", page_server, first_party=True),
        first_party=True,
    )
    # Its own user: the password-change case leaves it with another password.
    server.cases["password"] = SignInCase(
        "acme", _create_user(live, "acme", "pat"), server.cases["acme"].client_id, first_party=True
    )
    server.cases[DEFAULT_TENANT] = SignInCase(
        None,
        _create_user(live, None, "sam"),
        _create_client(live, None, "SPA", page_server, first_party=True),
        first_party=True,
    )
    server.cases["consent"] = SignInCase(
        "acme",
        _create_user(live, "acme", "lee"),
        _create_client(live, "acme", "Third-party SPA", page_server, first_party=False),
        first_party=False,
    )

    # OIDC Session Management: the app on the issuer's site (see PageServer.same_site_origin).
    server.cases["session"] = SignInCase(
        "acme",
        _create_user(live, "acme", "ada"),
        _create_client(
            live,
            "acme",
            "Same-site SPA",
            page_server,
            first_party=True,
            redirect_uri=page_server.same_site_url,
            origins=(page_server.same_site_origin,),
        ),
        first_party=True,
    )
    # The check-session page itself: a same-site app origin and a cross-site one.
    server.cases["checksession"] = SignInCase(
        "acme",
        _create_user(live, "acme", "cho"),
        _create_client(
            live,
            "acme",
            "Check-session probe",
            page_server,
            first_party=True,
            redirect_uri=f"{page_server.same_site_origin}/probe.html",
            origins=(page_server.same_site_origin, page_server.origin),
        ),
        first_party=True,
    )

    # Issue 14 acceptance 2: the React app (react-app/), on the issuer's site too.
    server.cases["react"] = SignInCase(
        "acme",
        _create_user(live, "acme", "rex"),
        _create_client(
            live,
            "acme",
            "React app",
            page_server,
            first_party=True,
            redirect_uri=f"{page_server.same_site_origin}/react/index.html",
            origins=(page_server.same_site_origin,),
        ),
        first_party=True,
    )

    ready = live.url("/scim2/ServiceProviderConfig")
    try:
        with run_gunicorn(listener, env, log_path, ready, "--access-logfile", "-"):
            yield server
    finally:
        if request.session.testsfailed:
            sys.stderr.write(f"\n---- gunicorn log ({log_path}) ----\n{tail(log_path)}\n")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """On failure, attach the gunicorn log (with its access log) and the page server's log."""
    report = yield
    server = item.config.stash.get(_SERVER_KEY, None)
    if report.failed and server is not None and "browser_server" in getattr(item, "fixturenames", ()):
        report.sections.append(("gunicorn log (tail)", tail(server.live.log_path)))
        report.sections.append(("page server log (tail)", "\n".join(server.page.log_lines[-100:]) or "(empty)"))
    return report

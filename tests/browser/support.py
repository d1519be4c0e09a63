"""Helpers for the browser acceptance tests: tool discovery, the page server, the node driver."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
from dataclasses import dataclass
from dataclasses import field
from http.server import SimpleHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest

from tests.support.live_server import LiveServer

HERE = Path(__file__).resolve().parent
PAGE_DIR = HERE / "page"
DRIVER = HERE / "drive.js"
NODE_MODULES = HERE / "node_modules"
SDK_DIST = NODE_MODULES / "@asgardeo" / "auth-spa" / "dist"
SDK_BUNDLE = "asgardeo-spa.production.min.js"
REACT_APP = HERE / "react-app"
REACT_BUILD = REACT_APP / "build"  # git-ignored: build_react_app() writes it
PINNED = {
    "@asgardeo/auth-spa": "3.5.2",
    "@asgardeo/auth-react": "5.6.2",
    "react": "19.3.1",
    "react-dom": "19.3.1",
    "esbuild": "0.28.2",
    "playwright-core": "1.65.1",
}
DEFAULT_TENANT = "carbon.super"
MIN_NODE = 20

STEP_TIMEOUT_MS = 15_000
WATCHDOG_MS = 90_000


@dataclass(frozen=True)
class Tools:
    node: str
    chromium: str


def find_tools() -> tuple[Tools | None, list[str]]:
    """The node binary and Chromium, with the pinned packages installed; else what is missing."""
    problems: list[str] = []
    chromium = os.environ.get("SCIM_ME_TEST_CHROMIUM", "/usr/bin/chromium")
    if not os.access(chromium, os.X_OK):
        problems.append(f"no Chromium at {chromium}")
    node = shutil.which("node")
    if node is None:
        problems.append("no `node` on PATH")
    else:
        version = subprocess.run([node, "--version"], capture_output=True, text=True, timeout=30, check=False).stdout
        major = re.match(r"v(\d+)\.", version)
        if major is None or int(major.group(1)) < MIN_NODE:
            problems.append(f"node {version.strip() or '?'} is older than v{MIN_NODE} (playwright-core needs it)")
    for package, version in PINNED.items():
        manifest = NODE_MODULES / package / "package.json"
        try:
            found = json.loads(manifest.read_text(encoding="utf-8"))["version"]
        except (OSError, ValueError, KeyError):
            problems.append(f"{package} is not installed in tests/browser/node_modules")
            continue
        if found != version:
            problems.append(f"tests/browser/node_modules has {package} {found}, the lock pins {version}")
    if node is None or problems:
        return None, problems
    return Tools(node=node, chromium=chromium), []


def build_react_app() -> Path:
    """Bundle react-app/src/main.jsx with the pinned esbuild (production React, minified) into
    react-app/build/app.js; fail the test with esbuild's output if it does not build."""
    out = REACT_BUILD / "app.js"
    # .bin/esbuild: the native binary, or the package's node launcher where install scripts did not run.
    args = [str(NODE_MODULES / ".bin" / "esbuild"), str(REACT_APP / "src" / "main.jsx")]
    args += ["--bundle", "--jsx=automatic", "--minify"]
    args += ['--define:process.env.NODE_ENV="production"', f"--outfile={out}", "--log-level=warning"]
    done = subprocess.run(args, cwd=HERE, capture_output=True, text=True, timeout=120, check=False)
    if done.returncode != 0 or not out.is_file():
        pytest.fail(f"esbuild could not bundle the React app ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return out


class PageHandler(SimpleHTTPRequestHandler):
    """Serves page/index.html at / and /index.html, page/probe.html, the SDK bundle at /sdk/, the React app at
    /react/index.html and /react/app.js (once built); 404 for the rest."""

    def translate_path(self, path: str) -> str:
        clean = path.split("?", 1)[0].split("#", 1)[0]
        if clean in ("/", "/index.html"):
            return str(PAGE_DIR / "index.html")
        if clean == "/probe.html":
            return str(PAGE_DIR / "probe.html")
        if clean == f"/sdk/{SDK_BUNDLE}":
            return str(SDK_DIST / SDK_BUNDLE)
        if clean == "/react/index.html":
            return str(REACT_APP / "index.html")
        if clean == "/react/app.js":
            return str(REACT_BUILD / "app.js")
        return str(PAGE_DIR / "__not_found__")

    def do_GET(self) -> None:
        if self.path == "/favicon.ico":  # keeps a 404 out of the page's console log
            self.send_response(204)
            self.end_headers()
            return
        super().do_GET()

    def end_headers(self) -> None:
        self.send_header("Cache-Control", "no-store")
        super().end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        self.server.log_lines.append(format % args)  # type: ignore[attr-defined]


@dataclass
class PageServer:
    origin: str
    log_lines: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        """The page, which is also the clients' exact redirect URI (origin + path)."""
        return f"{self.origin}/index.html"

    @property
    def same_site_origin(self) -> str:
        """The same server as ``http://127.0.0.1:PORT``: the issuer's site (ports do not make
        sites), so the issuer's cookies reach frames the page makes, as for an app on a
        sibling host of the issuer (OIDC Session Management's check-session and prompt=none)."""
        return self.origin.replace("//localhost:", "//127.0.0.1:", 1)

    @property
    def same_site_url(self) -> str:
        return f"{self.same_site_origin}/index.html"


@dataclass(frozen=True)
class SignInCase:
    """A user and a public client of a tenant (``tenant=None``: the default tenant's bare paths)."""

    tenant: str | None
    username: str
    client_id: str
    first_party: bool


@dataclass
class BrowserServer:
    live: LiveServer
    page: PageServer
    cases: dict[str, SignInCase]

    def base(self, tenant: str | None) -> str:
        """The SDK's ``baseUrl``: the issuer plus ``/t/{tenant}``, bare for the default tenant."""
        return self.live.base_url + (f"/t/{tenant}" if tenant else "")


def format_report(report: dict[str, Any]) -> str:
    lines = [f"step: {report.get('step')}", f"error: {report.get('error')}", f"url: {report.get('url')}"]
    lines += ["", "-- page console and events --", *report.get("log", [])]
    lines += ["", "-- network (method url status) --"]
    for entry in report.get("network", []):
        extra = " ".join(f"{k}={entry[k]}" for k in ("location", "acao", "fields") if k in entry)
        lines.append(f"{entry['method']} {entry['url']} {entry['status']} {extra}".rstrip())
    lines += ["", "-- result --", json.dumps(report.get("result"), indent=1, sort_keys=True)]
    if report.get("html"):
        lines += ["", "-- page HTML (first 4000 chars) --", report["html"]]
    return "\n".join(lines)


def run_driver(
    tools: Tools, config: dict[str, Any], item: pytest.Item, driver: Path = DRIVER, watchdog_ms: int = WATCHDOG_MS
) -> dict[str, Any]:
    """Run drive.js (or another driver); return its JSON report, attached to the test's report either way.
    The driver's watchdog ends it after ``watchdog_ms``; its process group is killed 30 s later."""
    config = {**config, "chromium": tools.chromium, "stepTimeoutMs": STEP_TIMEOUT_MS, "watchdogMs": watchdog_ms}
    process_timeout_s = watchdog_ms / 1000 + 30
    proc = subprocess.Popen(
        [tools.node, str(driver), json.dumps(config)],
        cwd=HERE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group, so a timeout also ends Chromium
    )
    try:
        stdout, stderr = proc.communicate(timeout=process_timeout_s)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        stdout, stderr = proc.communicate(timeout=30)
        item.add_report_section("call", "driver output", f"stdout:\n{stdout}\nstderr:\n{stderr}")
        pytest.fail(f"{driver.name} did not finish within {process_timeout_s:.0f}s and was killed")
    lines = stdout.strip().splitlines()
    try:
        report: dict[str, Any] = json.loads(lines[-1])
    except (IndexError, ValueError):
        item.add_report_section("call", "driver output", f"stdout:\n{stdout}\nstderr:\n{stderr}")
        pytest.fail(f"{driver.name} exited {proc.returncode} without a JSON report")
    text = format_report(report) + (f"\n\n-- driver stderr --\n{stderr}" if stderr.strip() else "")
    item.add_report_section("call", "browser", text)
    return report

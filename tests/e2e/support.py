"""Helpers for the live-server tests: the server handle, CLI runner, per-thread HTTP sessions."""

from __future__ import annotations

import itertools
import re
import socket
import subprocess
import sys
import threading
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path
from typing import Any

import requests
from factories import SCIM_JSON

CLI_TIMEOUT_S = 60.0
HTTP_TIMEOUT_S = 30.0
LOG_TAIL_LINES = 200
DEFAULT_PASSWORD = "correct-horse-9"
ERROR_URN = "urn:ietf:params:scim:api:messages:2.0:Error"
_ETAG = re.compile(r'^W/"(\d+)"$')
# gunicorn's access log (in the server's workdir): "<pid> status user-agent", one line a request.
ACCESS_LOG = "access.log"
ACCESS_LOG_FORMAT = "%(p)s %(s)s %(a)s"


def cli_command() -> list[str]:
    """The installed ``scim-me`` console script next to this interpreter (or the module as a fallback)."""
    script = Path(sys.executable).with_name("scim-me")
    if script.is_file():
        return [str(script)]
    return [sys.executable, "-m", "scim_me.cli"]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    if not path.is_file():
        return "(no log file)"
    text = path.read_text(encoding="utf-8", errors="replace").splitlines()
    return "\n".join(text[-lines:])


@dataclass
class LiveServer:
    """Handle on the running server: its base URL, its environment and CLI helpers."""

    base_url: str
    env: dict[str, str]
    workdir: Path
    log_path: Path
    _counter: Any = field(default_factory=lambda: itertools.count(1))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def url(self, path: str, tenant: str | None = "acme") -> str:
        prefix = f"/t/{tenant}" if tenant else ""
        return f"{self.base_url}{prefix}{path}"

    def me_url(self, tenant: str | None = "acme") -> str:
        return self.url("/scim2/Me", tenant)

    def answers_by_worker(self, user_agent_prefix: str) -> dict[str, list[int]]:
        """The statuses each worker (by pid) answered to requests whose User-Agent starts with
        ``user_agent_prefix``, from gunicorn's access log (written after each response)."""
        found: dict[str, list[int]] = {}
        path = self.workdir / ACCESS_LOG
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines() if path.is_file() else []:
            pid, _, rest = line.partition(" ")
            status, _, agent = rest.partition(" ")
            if agent.startswith(user_agent_prefix) and status.isdigit():
                found.setdefault(pid, []).append(int(status))
        return found

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run ``scim-me ARGS`` against the server's database and key."""
        result = subprocess.run(
            [*cli_command(), *args],
            env=self.env,
            cwd=self.workdir,
            capture_output=True,
            text=True,
            timeout=CLI_TIMEOUT_S,
            check=False,
        )
        if check and result.returncode != 0:
            raise AssertionError(f"scim-me {' '.join(args)} exited {result.returncode}: {result.stderr}")
        return result

    def token(self, user: str = "kim", tenant: str = "acme", scope: str | None = None) -> str:
        """Mint an access token with ``scim-me token``; it prints exactly one line, the bare JWT."""
        args = ["token", "--tenant", tenant, "--user", user]
        if scope is not None:
            args += ["--scope", scope]
        out = self.cli(*args).stdout
        lines = out.splitlines()
        assert len(lines) == 1, f"scim-me token printed {out!r}"
        return lines[0]

    def create_user(self, prefix: str, password: str = DEFAULT_PASSWORD, tenant: str = "acme") -> str:
        """Create a fresh user (unique name) with the CLI and return its userName."""
        with self._lock:
            serial = next(self._counter)
        user_name = f"{prefix}-{serial}"
        self.cli("user", "create", "--tenant", tenant, "--username", user_name, "--password", password)
        return user_name


def session() -> requests.Session:
    """A new ``requests`` session; every client thread makes its own (sessions are not thread-safe)."""
    new = requests.Session()
    new.headers["Accept"] = SCIM_JSON
    return new


def version_of(etag: str | None) -> int:
    """The integer in a ``W/"N"`` ETag (the server's format); fails loudly on anything else."""
    match = _ETAG.match(etag or "")
    assert match, f"unexpected ETag {etag!r}"
    return int(match.group(1))


def email_values(resource: dict[str, Any]) -> list[str]:
    """The e-mail addresses of a User; the wso2 dialect renders untyped ones as bare strings."""
    values: list[str] = []
    for item in resource.get("emails") or []:
        values.append(item if isinstance(item, str) else item["value"])
    return values


def assert_scim_error(response: requests.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, (response.status_code, response.text)
    body = response.json()
    assert body["schemas"] == [ERROR_URN], body
    assert body["status"] == str(status), body
    assert isinstance(body.get("detail"), str), body
    return body  # type: ignore[no-any-return]

"""The live server: the real WSGI app under gunicorn (2 sync workers) on a file SQLite database,
prepared with the operator CLI exactly as an operator would (``db upgrade``, ``tenant create``,
``user create``), on a loopback port that this process holds from the start.

Used by tests/e2e, tests/clients and tests/browser (each starts its own servers).
"""

from __future__ import annotations

import itertools
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path
from typing import Any

import pytest
import requests

from scim_me.config import new_master_key

REPO_ROOT = Path(__file__).resolve().parents[2]
CLI_TIMEOUT_S = 60.0
STARTUP_DEADLINE_S = 30.0
POLL_INTERVAL_S = 0.1
LOG_TAIL_LINES = 200
DEFAULT_PASSWORD = "correct-horse-9"
# gunicorn's access log (in the server's workdir): "<pid> status user-agent", one line a request.
ACCESS_LOG = "access.log"
ACCESS_LOG_FORMAT = "%(p)s %(s)s %(a)s"


def cli_command() -> list[str]:
    """The installed ``scim-me`` console script next to this interpreter (or the module as a fallback)."""
    script = Path(sys.executable).with_name("scim-me")
    if script.is_file():
        return [str(script)]
    return [sys.executable, "-m", "scim_me.cli"]


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


def loopback_listener() -> socket.socket:
    """A listening socket on a free loopback port, handed to gunicorn as ``fd://N``. The port is
    held from the moment it is chosen, so parallel test workers never race for the same one."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(128)
    return listener


def port_of(listener: socket.socket) -> int:
    return int(listener.getsockname()[1])


def server_environment(workdir: Path, base_url: str, **overrides: str) -> dict[str, str]:
    """The environment of a server (and of its CLI) with its own database and encryption key."""
    key_file = workdir / "encryption.key"
    key_file.write_text(new_master_key() + "\n", encoding="ascii")
    key_file.chmod(0o600)
    env = {
        **os.environ,
        "SCIM_ME_CONFIG": "",
        "SCIM_ME_DATABASE_URL": f"sqlite:///{workdir / 'scim-me.db'}",
        "SCIM_ME_ENCRYPTION_KEY_FILE": str(key_file),
        "SCIM_ME_BASE_URL": base_url,
        "SCIM_ME_ARGON2_MEMORY_KIB": "1024",
        "SCIM_ME_ARGON2_TIME_COST": "1",
        "SCIM_ME_ARGON2_PARALLELISM": "1",
        "PYTHONUNBUFFERED": "1",
        **overrides,
    }
    env.pop("SCIM_ME_ENCRYPTION_KEY", None)
    return env


def _gunicorn_command(fd: int, *extra: str) -> list[str]:
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "wsgi:app",
        "--workers",
        "2",
        "--bind",
        f"fd://{fd}",
        "--graceful-timeout",
        "5",
        *extra,
    ]
    from gunicorn.config import KNOWN_SETTINGS

    if any(setting.name == "control_socket_disable" for setting in KNOWN_SETTINGS):
        # gunicorn >= 25 opens ~/.gunicorn/gunicorn.ctl by default: shared by every run on the host.
        command.append("--no-control-socket")
    return command


def _wait_until_ready(proc: subprocess.Popen[bytes], url: str, log_path: Path) -> None:
    deadline = time.monotonic() + STARTUP_DEADLINE_S
    last_error = "no attempt"
    for _attempt in range(int(STARTUP_DEADLINE_S / POLL_INTERVAL_S) + 1):
        if proc.poll() is not None:
            pytest.fail(f"gunicorn exited with {proc.returncode} during startup:\n{tail(log_path)}")
        try:
            response = requests.get(url, timeout=2)
            if response.status_code == 200:
                return
            last_error = f"HTTP {response.status_code}"
        except requests.RequestException as exc:
            last_error = type(exc).__name__
        if time.monotonic() > deadline:
            break
        time.sleep(POLL_INTERVAL_S)
    pytest.fail(f"gunicorn not ready within {STARTUP_DEADLINE_S:.0f}s ({last_error}):\n{tail(log_path)}")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


@contextmanager
def run_gunicorn(
    listener: socket.socket, env: dict[str, str], log_path: Path, ready_url: str, *extra_args: str
) -> Iterator[subprocess.Popen[bytes]]:
    """Serve the app with gunicorn on ``listener`` (this process's copy is closed once gunicorn
    holds it) until ``ready_url`` answers 200; stop it on exit."""
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            _gunicorn_command(listener.fileno(), *extra_args),
            cwd=REPO_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            pass_fds=(listener.fileno(),),
        )
    listener.close()
    try:
        _wait_until_ready(proc, ready_url, log_path)
        yield proc
    finally:
        _stop(proc)


@contextmanager
def launch(
    workdir: Path,
    prepare: Callable[[LiveServer], None],
    ready_tenant: str = "acme",
    gunicorn_args: tuple[str, ...] = (),
    **env_overrides: str,
) -> Iterator[LiveServer]:
    """Start one server with its own database and key, prepared by ``prepare`` (CLI calls) before
    gunicorn starts (with ``gunicorn_args`` added to its command line); stop it on exit."""
    listener = loopback_listener()
    base_url = f"http://127.0.0.1:{port_of(listener)}"
    env = server_environment(
        workdir,
        base_url,
        SCIM_ME_MAIL_OUTBOX_DIR=str(workdir / "outbox"),
        # Every test connects from 127.0.0.1: the default per-IP limit (20 failed password checks
        # a minute) would let one test's wrong passwords lock out the next test's sign-ins.
        # tests/e2e/test_account_security.py uses its own 127.0.0.x addresses.
        SCIM_ME_LOGIN_IP_MAX_FAILURES="1000",
        **env_overrides,
    )
    log_path = workdir / "gunicorn.log"
    server = LiveServer(base_url=base_url, env=env, workdir=workdir, log_path=log_path)
    try:
        prepare(server)
    except BaseException:
        listener.close()
        raise
    access = ["--access-logfile", str(workdir / ACCESS_LOG), "--access-logformat", ACCESS_LOG_FORMAT]
    # Which worker (pid) answered what: lets a test prove that every worker saw a change.
    ready_url = server.url("/scim2/ServiceProviderConfig", ready_tenant)
    with run_gunicorn(listener, env, log_path, ready_url, *access, *gunicorn_args):
        yield server


def prepare_main(server: LiveServer) -> None:
    """Tenants ``acme`` and ``other``; ``kim`` in acme with DEFAULT_PASSWORD."""
    server.cli("db", "upgrade")
    server.cli("tenant", "create", "acme")
    server.cli("tenant", "create", "other")
    server.cli(
        "user",
        "create",
        "--tenant",
        "acme",
        "--username",
        "kim",
        "--password",
        DEFAULT_PASSWORD,
        "--given-name",
        "Kim",
        "--family-name",
        "Berry",
        "--email",
        "kim@example.com",
    )


def spawn_in_group(
    command: list[str], env: dict[str, str], log_path: Path, listener: socket.socket
) -> subprocess.Popen[bytes]:
    """Start ``command`` serving on ``listener`` (handed over, then closed here) in a process
    group of its own, output appended to ``log_path``: one signal to the group stops all of it."""
    with log_path.open("ab") as log:
        proc = subprocess.Popen(
            command,
            cwd=REPO_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            pass_fds=(listener.fileno(),),
            start_new_session=True,
        )
    listener.close()
    return proc


def serve_killable(env: dict[str, str], log_path: Path) -> tuple[subprocess.Popen[bytes], str]:
    """gunicorn (2 workers, scim-me's hooks) in its own process group, so one signal kills it all."""
    listener = loopback_listener()
    base_url = f"http://127.0.0.1:{port_of(listener)}"
    env = {**env, "SCIM_ME_BASE_URL": base_url}
    proc = spawn_in_group(
        _gunicorn_command(listener.fileno(), "-c", "python:scim_me.gunicorn_conf"), env, log_path, listener
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if requests.get(f"{base_url}/health", timeout=2).ok:
                return proc, base_url
        except requests.RequestException:
            time.sleep(0.1)
    pytest.fail(f"gunicorn did not start:\n{tail(log_path)}")

"""The live server: the real WSGI app under gunicorn (2 sync workers) on a file SQLite database,
prepared with the operator CLI exactly as an operator would (``db upgrade``, ``tenant create``,
``user create``), on a free loopback port.

The fixture is session-scoped; tests that change a user create their own with
``live_server.create_user()`` so they never depend on each other's order. The gunicorn log is
attached to the report of every failing test that used the server, and printed at teardown when
the session had failures.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from e2e.support import DEFAULT_PASSWORD
from e2e.support import LiveServer
from e2e.support import free_port
from e2e.support import tail
from scim_me.config import new_master_key

REPO_ROOT = Path(__file__).resolve().parents[2]
STARTUP_DEADLINE_S = 30.0
POLL_INTERVAL_S = 0.1

_LOG_KEY = pytest.StashKey[Path]()


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


def _gunicorn_command(port: int) -> list[str]:
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "wsgi:app",
        "--workers",
        "2",
        "--bind",
        f"127.0.0.1:{port}",
        "--graceful-timeout",
        "5",
    ]
    from gunicorn.config import KNOWN_SETTINGS

    if any(setting.name == "control_socket_disable" for setting in KNOWN_SETTINGS):
        # gunicorn >= 25 opens ~/.gunicorn/gunicorn.ctl by default: shared by every run on the host.
        command.append("--no-control-socket")
    return command


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Iterator[LiveServer]:
    workdir = tmp_path_factory.mktemp("live-server")
    key_file = workdir / "encryption.key"
    key_file.write_text(new_master_key() + "\n", encoding="ascii")
    key_file.chmod(0o600)
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "SCIM_ME_CONFIG": "/nonexistent",
        "SCIM_ME_DATABASE_URL": f"sqlite:///{workdir / 'scim-me.db'}",
        "SCIM_ME_ENCRYPTION_KEY_FILE": str(key_file),
        "SCIM_ME_BASE_URL": base_url,
        "SCIM_ME_ARGON2_MEMORY_KIB": "1024",
        "SCIM_ME_ARGON2_TIME_COST": "1",
        "SCIM_ME_ARGON2_PARALLELISM": "1",
        "PYTHONUNBUFFERED": "1",
        # Every test connects from 127.0.0.1: the default per-IP limit (20 failed password checks
        # a minute) would let one test's wrong passwords lock out the next test's sign-ins.
        # tests/e2e/test_account_security.py uses its own 127.0.0.x addresses.
        "SCIM_ME_LOGIN_IP_MAX_FAILURES": "1000",
    }
    env.pop("SCIM_ME_ENCRYPTION_KEY", None)
    log_path = workdir / "gunicorn.log"
    server = LiveServer(base_url=base_url, env=env, workdir=workdir, log_path=log_path)
    request.config.stash[_LOG_KEY] = log_path

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

    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            _gunicorn_command(port),
            cwd=REPO_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_until_ready(proc, server.url("/scim2/ServiceProviderConfig"), log_path)
        yield server
    finally:
        _stop(proc)
        if request.session.testsfailed:
            sys.stderr.write(f"\n---- gunicorn log ({log_path}) ----\n{tail(log_path)}\n")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    log_path = item.config.stash.get(_LOG_KEY, None)
    if report.failed and log_path is not None and "live_server" in getattr(item, "fixturenames", ()):
        report.sections.append(("gunicorn log (tail)", tail(log_path)))
    return report

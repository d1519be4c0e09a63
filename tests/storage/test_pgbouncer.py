"""scim-me through a real PgBouncer (Debian's ``pgbouncer``), as docs/deployment.md describes it.

- Transaction pooling may run each transaction on another server connection. With
  ``postgres_transaction_pooling`` the app keeps nothing on a server connection between
  transactions: no SQL ``PREPARE`` (the caller statement, recurring list pages), and the
  periodic prune's advisory lock is a transaction's. Two apps (two workers' pools) share one
  server connection here, so any statement one of them prepared would meet the other's.
- Without the setting, the same PgBouncer breaks the app: the control that shows the pooler
  really runs in transaction mode, so the first test cannot pass for another reason.
- Session pooling needs no setting; the app prepares its hot statements as usual.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from urllib.parse import urlunsplit

import pytest

from scim_me.storage.maintenance import prune
from tests.factories import bearer
from tests.factories import make_tenant
from tests.factories import make_token
from tests.factories import make_user
from tests.factories import patch_body
from tests.support.admin import client_headers
from tests.support.apps import build_app
from tests.support.ci import missing
from tests.support.ci import system_binary
from tests.support.postgres import own_database
from tests.support.statements import count_statements

ME = "/t/acme/scim2/Me"
USERS = "/t/acme/scim2/Users?count=5"
SCIM_JSON = "application/scim+json"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def database(postgres_ready: bool) -> Iterator[str]:
    """A database of its own: PgBouncer refuses the search_path option of the suite's schemas."""
    with own_database(drop_in_background=True) as url:
        yield url


class Bouncer:
    def __init__(self, binary: str, server: str, mode: str) -> None:
        self.port = _free_port()
        target = urlsplit(server)
        # Outside pytest's 0700 folders: PgBouncer refuses to run as root, and runs as postgres then.
        workdir = self.workdir = Path(tempfile.mkdtemp(prefix="scim-me-pgbouncer-"))
        workdir.chmod(0o777)
        user = target.username or "postgres"
        (workdir / "users.txt").write_text(f'"{user}" ""\n')
        # One server connection per database: both apps' transactions take turns on it.
        size = 1 if mode == "transaction" else 10
        (workdir / "pgbouncer.ini").write_text(
            "[databases]\n"
            f"* = host={target.hostname or '127.0.0.1'} port={target.port or 5432}\n"
            "[pgbouncer]\n"
            f"listen_addr = 127.0.0.1\nlisten_port = {self.port}\nunix_socket_dir =\n"
            f"auth_type = trust\nauth_file = {workdir / 'users.txt'}\n"
            f"pool_mode = {mode}\ndefault_pool_size = {size}\nmax_client_conn = 100\n"
            f"logfile = {workdir / 'pgbouncer.log'}\npidfile = {workdir / 'pgbouncer.pid'}\n"
        )
        for name in ("users.txt", "pgbouncer.ini"):
            (workdir / name).chmod(0o644)
        as_root = ["-u", "postgres"] if os.geteuid() == 0 else []
        with (workdir / "stdout.txt").open("wb") as output:
            self.proc = subprocess.Popen(
                [binary, *as_root, str(workdir / "pgbouncer.ini")], stdout=output, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"pgbouncer exited: {(workdir / 'stdout.txt').read_text()}{self.log()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    break
            except OSError:
                time.sleep(0.05)
        else:
            raise RuntimeError(f"pgbouncer did not listen: {self.log()}")
        self.url = urlunsplit(target._replace(netloc=f"{user}@127.0.0.1:{self.port}", query=""))

    def log(self) -> str:
        path = self.workdir / "pgbouncer.log"
        return path.read_text() if path.exists() else ""

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        shutil.rmtree(self.workdir, ignore_errors=True)


@pytest.fixture
def bouncer(request: pytest.FixtureRequest, database: str) -> Iterator[Bouncer]:
    binary = system_binary("pgbouncer")
    if binary is None:
        missing("pgbouncer is not installed (Debian: apt-get install pgbouncer)")
    running = Bouncer(binary, database, request.param)
    try:
        yield running
    finally:
        running.stop()


def _two_apps(bouncer: Bouncer, database: str, tmp_path: Path, **settings: Any) -> tuple[Any, Any, dict[str, str]]:
    """Two apps (two workers) through ``bouncer``; the tenant, user and tokens set up directly."""
    direct = build_app(database, tmp_path)  # migrates the database, outside the pooler
    tenant = make_tenant(direct, "acme")
    kim = make_user(direct, tenant, "kim")
    auth = bearer(make_token(direct, tenant, kim))
    admin = client_headers(direct, tenant)
    direct.extensions["scim_me"].db.close_all()
    first = build_app(bouncer.url, tmp_path, **settings)
    second = build_app(bouncer.url, tmp_path, **settings)
    return first, second, {"auth": auth, "admin": admin}  # type: ignore[return-value]


def _round(app: Any, tokens: dict[str, Any], n: int) -> list[int]:
    """GET and PATCH /Me, and a /Users page, through one app: the statuses."""
    client = app.test_client()
    patch = patch_body({"op": "replace", "path": "nickName", "value": f"kim-{n}"})
    return [
        client.get(ME, headers=tokens["auth"]).status_code,
        client.patch(ME, json=patch, headers={**tokens["auth"], "Content-Type": SCIM_JSON}).status_code,
        client.get(USERS, headers=tokens["admin"]).status_code,
    ]


@pytest.mark.parametrize("bouncer", ["transaction"], indirect=True)
def test_transaction_pooling_with_the_setting_serves_every_request(
    bouncer: Bouncer, database: str, tmp_path: Path
) -> None:
    first, second, tokens = _two_apps(bouncer, database, tmp_path, postgres_transaction_pooling=True)
    with count_statements(first) as seen_first, count_statements(second) as seen_second:
        statuses = [status for n in range(4) for app in (first, second) for status in _round(app, tokens, n)]
    assert statuses == [200] * 24, bouncer.log()
    sent = seen_first + seen_second
    assert not [sql for sql in sent if sql.split()[0].upper() in ("PREPARE", "EXECUTE")], sent
    # The periodic prune runs, its advisory lock held by its transaction (with one server
    # connection a session's lock would work too: this shows the prune runs, not that it leaks).
    for app in (first, second, first):
        with app.app_context(), app.extensions["scim_me"].db.connection_context():
            assert prune() is not None
    final = first.test_client().get(ME, headers=tokens["auth"]).json
    assert final["nickName"] == "kim-3"


@pytest.mark.parametrize("bouncer", ["transaction"], indirect=True)
def test_transaction_pooling_without_the_setting_breaks(
    bouncer: Bouncer, database: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    first, second, tokens = _two_apps(bouncer, database, tmp_path)
    statuses = [status for n in range(2) for app in (first, second) for status in _round(app, tokens, n)]
    # Both apps prepare the caller statement under the same name on the one server connection.
    assert any(status >= 500 for status in statuses), statuses
    # The operator's log names the cause and the setting.
    assert any("set postgres_transaction_pooling = true" in record.getMessage() for record in caplog.records)


@pytest.mark.parametrize("bouncer", ["session"], indirect=True)
def test_session_pooling_keeps_the_prepared_statements(bouncer: Bouncer, database: str, tmp_path: Path) -> None:
    first, second, tokens = _two_apps(bouncer, database, tmp_path)
    with count_statements(first) as seen:
        statuses = [status for n in range(3) for app in (first, second) for status in _round(app, tokens, n)]
    assert statuses == [200] * 18, bouncer.log()
    assert any(sql.startswith("EXECUTE scim_me_caller") for sql in seen), seen

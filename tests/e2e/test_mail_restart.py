"""A mail queued before a kill -9 is delivered after the restart (issue 13, acceptance 5): the
outbox is a table (storage/outbox.py), and every worker's sender starts with the worker
(scim_me/gunicorn_conf.py post_worker_init), so nothing waits for a new request to send it."""

from __future__ import annotations

import os
import signal
import sqlite3
import time
from contextlib import closing
from pathlib import Path

import pytest
import requests

from tests.support.live_server import DEFAULT_PASSWORD
from tests.support.live_server import LiveServer
from tests.support.live_server import prepare_main
from tests.support.live_server import serve_killable
from tests.support.live_server import server_environment
from tests.support.mailserver import MailSink

pytestmark = pytest.mark.e2e


def outbox(db_path: Path) -> list[tuple[str, int]]:
    with closing(sqlite3.connect(db_path)) as db:
        return list(db.execute("SELECT state, attempts FROM mail_outbox ORDER BY id"))


def test_a_mail_queued_before_kill_9_is_delivered_after_restart(tmp_path: Path) -> None:
    sink = MailSink()  # its port is chosen, nothing listens there yet: every attempt is refused
    env = server_environment(
        tmp_path,
        "http://127.0.0.1",
        SCIM_ME_MAIL_TRANSPORT="smtp",
        SCIM_ME_SMTP_HOST="127.0.0.1",
        SCIM_ME_SMTP_PORT=str(sink.port),
        SCIM_ME_SMTP_SECURITY="none",
        SCIM_ME_SMTP_TIMEOUT="2",
        SCIM_ME_MAIL_RETRIES="30",
        SCIM_ME_MAIL_BACKOFF_SECONDS="2",
        SCIM_ME_MAIL_POLL_SECONDS="1",
    )
    prepare_main(LiveServer(base_url="http://127.0.0.1", env=env, workdir=tmp_path, log_path=tmp_path / "cli.log"))
    log_path = tmp_path / "gunicorn.log"
    proc, base_url = serve_killable(env, log_path)
    server = LiveServer(
        base_url=base_url, env={**env, "SCIM_ME_BASE_URL": base_url}, workdir=tmp_path, log_path=log_path
    )
    try:
        token = server.token(scope="openid internal_login")
        response = requests.post(
            server.url("/api/users/v1/me/change-password"),
            json={"currentPassword": DEFAULT_PASSWORD, "newPassword": "another-horse-42"},
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
        )
        assert response.status_code == 204, response.text
        # The notice is in the table and its first attempt failed (the relay is down).
        deadline = time.monotonic() + 20
        # (Killed while "pending" between attempts: one killed mid-attempt would stay "sending"
        # and become "unknown", never sent twice; storage/outbox.py.)
        while time.monotonic() < deadline and outbox(tmp_path / "scim-me.db") != [("pending", 1)]:
            time.sleep(0.02)
        assert outbox(tmp_path / "scim-me.db") == [("pending", 1)]
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the whole instance: arbiter and workers, no cleanup
        proc.wait(timeout=10)

    sink.start()
    restarted, _url = serve_killable({**env, "SCIM_ME_SMTP_PORT": str(sink.port)}, log_path)
    try:
        received = sink.wait_for(1)
        assert received[0].to == "kim@example.com" and "password" in received[0].subject.lower()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and outbox(tmp_path / "scim-me.db")[0][0] != "sent":
            time.sleep(0.1)
        assert outbox(tmp_path / "scim-me.db")[0][0] == "sent"
        time.sleep(1.5)  # a second sender (the other worker) had its chance: still one copy
        assert len(sink.messages) == 1
    finally:
        restarted.terminate()
        restarted.wait(timeout=20)
        sink.stop()

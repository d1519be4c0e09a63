"""Security state acknowledged before a kill -9 holds after the restart (security.md T-CRASH-2):
a revoked refresh token stays revoked, a changed password stays changed, the tokens the change
ended stay ended, and a spent TOTP step stays spent. The whole instance (arbiter and workers) is
killed right after the last answer, with no shutdown of any kind, on its SQLite file with the
production durability settings; nothing it knew lived only in a worker's memory."""

from __future__ import annotations

import base64
import os
import re
import signal
import sqlite3
import time
from contextlib import closing
from pathlib import Path
from urllib.parse import parse_qs
from urllib.parse import urlsplit

import pytest
import requests

from scim_me.core import otp
from tests.support.live_server import DEFAULT_PASSWORD
from tests.support.live_server import LiveServer
from tests.support.live_server import prepare_main
from tests.support.live_server import serve_killable
from tests.support.live_server import server_environment

pytestmark = pytest.mark.e2e
NEW_PASSWORD = "another-horse-42"
CLIENT_LINE = re.compile(r"^client_(id|secret): (\S+)", re.MULTILINE)
POLICY = otp.TotpPolicy()


def _grant(base: str, client: tuple[str, str], **data: str) -> requests.Response:
    return requests.post(f"{base}/t/acme/oauth2/token", data=data, auth=client, timeout=30)


def _password_grant(base: str, client: tuple[str, str], password: str) -> requests.Response:
    return _grant(base, client, grant_type="password", username="kim", password=password, scope="openid internal_login")


def test_revocations_and_a_password_change_answered_before_a_kill_9_hold_after_the_restart(tmp_path: Path) -> None:
    env = server_environment(tmp_path, "http://127.0.0.1")
    setup = LiveServer(base_url="http://127.0.0.1", env=env, workdir=tmp_path, log_path=tmp_path / "cli.log")
    prepare_main(setup)
    created = setup.cli(
        "client", "create", "--tenant", "acme", "--name", "crash", "--grant", "password", "--grant", "refresh_token",
        "--scope", "openid internal_login",
    ).stdout  # fmt: skip
    found = dict(CLIENT_LINE.findall(created))
    client = (found["id"], found["secret"])
    log_path = tmp_path / "gunicorn.log"

    proc, base = serve_killable(env, log_path)
    try:
        first = _password_grant(base, client, DEFAULT_PASSWORD).json()
        second = _password_grant(base, client, DEFAULT_PASSWORD).json()
        changed = requests.post(
            f"{base}/t/acme/api/users/v1/me/change-password",
            json={"currentPassword": DEFAULT_PASSWORD, "newPassword": NEW_PASSWORD},
            headers={"Authorization": f"Bearer {first['access_token']}"},
            timeout=30,
        )
        assert changed.status_code == 204, changed.text
        revoked = requests.post(
            f"{base}/t/acme/oauth2/revoke", data={"token": first["refresh_token"]}, auth=client, timeout=30
        )
        assert revoked.status_code == 200, revoked.text
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the whole instance, right after the last answer
        proc.wait(timeout=10)

    restarted, base = serve_killable(env, log_path)
    try:
        again = _grant(base, client, grant_type="refresh_token", refresh_token=first["refresh_token"])
        assert again.status_code == 400 and again.json()["error"] == "invalid_grant", again.text
        # The password change ended the user's other grants (the second one, access token too).
        ended = _grant(base, client, grant_type="refresh_token", refresh_token=second["refresh_token"])
        assert ended.status_code == 400 and ended.json()["error"] == "invalid_grant", ended.text
        me = requests.get(
            f"{base}/t/acme/scim2/Me", headers={"Authorization": f"Bearer {second['access_token']}"}, timeout=30
        )
        assert me.status_code == 401, me.text
        assert _password_grant(base, client, DEFAULT_PASSWORD).status_code in (400, 401)
        assert _password_grant(base, client, NEW_PASSWORD).status_code == 200
    finally:
        restarted.terminate()
        restarted.wait(timeout=20)


def _totp(base: str, token: str, body: dict[str, object]) -> requests.Response:
    return requests.post(
        f"{base}/t/acme/api/users/v1/me/totp", json=body, headers={"Authorization": f"Bearer {token}"}, timeout=30
    )


def test_a_totp_step_spent_before_a_kill_9_stays_spent_after_the_restart(tmp_path: Path) -> None:
    env = server_environment(tmp_path, "http://127.0.0.1")
    prepare_main(LiveServer(base_url="http://127.0.0.1", env=env, workdir=tmp_path, log_path=tmp_path / "cli.log"))
    log_path = tmp_path / "gunicorn.log"

    def live(base: str) -> LiveServer:  # the CLI mints tokens for the URL being served
        return LiveServer(base_url=base, env={**env, "SCIM_ME_BASE_URL": base}, workdir=tmp_path, log_path=log_path)

    proc, base = serve_killable(env, log_path)
    try:
        token = live(base).token(scope="openid internal_login")
        init = _totp(base, token, {"action": "INIT"})
        secret = parse_qs(urlsplit(base64.b64decode(init.json()["qrCodeUrl"]).decode()).query)["secret"][0]
        # Enrolled with the previous step's code, so the current step's code is unused.
        for _attempt in range(3):
            previous = otp.code_at(secret, time.time() - POLICY.period, POLICY)
            if _totp(base, token, {"action": "VALIDATE", "verificationCode": int(previous)}).json() == {
                "isValid": True
            }:
                break
        at = time.time()
        code = otp.code_at(secret, at, POLICY)
        spent = _totp(base, token, {"action": "VALIDATE", "verificationCode": int(code)})
        assert spent.json() == {"isValid": True}, spent.text
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # right after the answer that spent the step
        proc.wait(timeout=10)

    restarted, base = serve_killable(env, log_path)
    try:
        with closing(sqlite3.connect(tmp_path / "scim-me.db")) as db:
            (step,) = db.execute("SELECT last_used_step FROM user_mfa").fetchone()
        assert otp.code_at_step(secret, step, POLICY) == code  # the spent step is on disk
        replayed = _totp(
            base, live(base).token(scope="openid internal_login"), {"action": "VALIDATE", "verificationCode": int(code)}
        )
        assert replayed.status_code == 200 and replayed.json() == {"isValid": False}, replayed.text
    finally:
        restarted.terminate()
        restarted.wait(timeout=20)

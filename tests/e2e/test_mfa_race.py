"""Issue 4 acceptance 1 and security.md T-CONC-5/6/9 against the live server (gunicorn, 2 workers,
file SQLite): one valid TOTP code sent 20 times in parallel succeeds exactly once; one backup
code answered by 20 parallel sign-ins succeeds exactly once; 50 parallel wrong codes evaluate at
most 5 before the shared lock answers 429."""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
import sqlite3
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import parse_qs
from urllib.parse import urlencode
from urllib.parse import urlsplit

import pytest

from scim_me.core import otp
from tests.e2e.support import HTTP_TIMEOUT_S
from tests.e2e.support import session
from tests.factories import bearer
from tests.support.live_server import DEFAULT_PASSWORD
from tests.support.live_server import LiveServer

pytestmark = pytest.mark.e2e
POLICY = otp.TotpPolicy()
PARALLEL = 20
REDIRECT = "http://localhost:5173/cb"


def _api(live: LiveServer, path: str) -> str:
    return live.url(f"/api/users/v1/me{path}")


def _validate(live: LiveServer, token: str, code: str) -> Any:
    with session() as http:
        return http.post(
            _api(live, "/totp"),
            json={"action": "VALIDATE", "verificationCode": int(code)},
            headers=bearer(token),
            timeout=HTTP_TIMEOUT_S,
        )


def _enrolled(live: LiveServer, prefix: str) -> tuple[str, str, str]:
    """A fresh user with an active TOTP, enrolled with the previous step's code, so the current
    step's code is unused (the window accepts t-1)."""
    user = live.create_user(prefix)
    token = live.token(user=user)
    with session() as http:
        init = http.post(_api(live, "/totp"), json={"action": "INIT"}, headers=bearer(token), timeout=HTTP_TIMEOUT_S)
    assert init.status_code == 200, init.text
    uri = base64.b64decode(init.json()["qrCodeUrl"]).decode()
    secret = parse_qs(urlsplit(uri).query)["secret"][0]
    for _attempt in range(3):  # a step boundary between computing and checking: compute again
        if _validate(live, token, otp.code_at(secret, time.time() - POLICY.period, POLICY)).json() == {"isValid": True}:
            return user, token, secret
    raise AssertionError("enrolment with the previous step's code failed three times")


def _db(live: LiveServer) -> sqlite3.Connection:
    return sqlite3.connect(live.workdir / "scim-me.db", timeout=30)


def _mfa_row(live: LiveServer, user: str) -> tuple[int, int]:
    with _db(live) as db:
        row = db.execute(
            "SELECT m.last_used_step, m.failures FROM user_mfa m"
            " JOIN users u ON u.id = m.user_id WHERE u.user_name = ?",
            (user,),
        ).fetchone()
    return int(row[0]), int(row[1])


def test_one_totp_code_sent_20_times_in_parallel_succeeds_once(live_server: LiveServer) -> None:
    user, token, secret = _enrolled(live_server, "mfa-race")
    now = time.time()
    code = otp.code_at(secret, now, POLICY)
    with ThreadPoolExecutor(PARALLEL) as pool:
        responses = list(pool.map(lambda _: _validate(live_server, token, code), range(PARALLEL)))
    valid = [r for r in responses if r.status_code == 200 and r.json() == {"isValid": True}]
    refused = [
        r for r in responses if r.status_code == 429 or (r.status_code == 200 and r.json() == {"isValid": False})
    ]
    assert len(valid) == 1, [(r.status_code, r.text) for r in responses]
    assert len(refused) == PARALLEL - 1, [(r.status_code, r.text) for r in responses]
    step, _failures = _mfa_row(live_server, user)
    assert step in (otp.step_at(now, POLICY), otp.step_at(now, POLICY) - 1)  # the step of `code`
    assert otp.code_at_step(secret, step, POLICY) == code


def test_50_parallel_wrong_codes_evaluate_at_most_5(live_server: LiveServer) -> None:
    user, token, secret = _enrolled(live_server, "mfa-guess")
    right = otp.code_at(secret, time.time(), POLICY)
    wrong = str((int(right) + 500_000) % 1_000_000).zfill(6)
    with ThreadPoolExecutor(50) as pool:
        responses = list(pool.map(lambda _: _validate(live_server, token, wrong), range(50)))
    statuses = [r.status_code for r in responses]
    evaluated = [r for r in responses if r.status_code == 200]
    assert all(r.json() == {"isValid": False} for r in evaluated)
    assert len(evaluated) == 5 and statuses.count(429) == 45, statuses
    assert all(
        r.headers["Retry-After"] == "60" or int(r.headers["Retry-After"]) <= 60
        for r in responses
        if r.status_code == 429
    )
    assert _mfa_row(live_server, user)[1] == 5  # no lost increments, no extra evaluations
    # Locked: even the right code is not evaluated.
    assert _validate(live_server, token, otp.code_at(secret, time.time(), POLICY)).status_code == 429


def _csrf(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, html
    return match.group(1)


def test_one_backup_code_answered_by_20_parallel_sign_ins_succeeds_once(live_server: LiveServer) -> None:
    user, token, _secret = _enrolled(live_server, "mfa-backup")
    client_id = live_server.cli(
        "client", "create", "--tenant", "acme", "--name", "mfa-race", "--public", "--first-party",
        "--redirect-uri", REDIRECT, "--grant", "authorization_code",
    ).stdout.splitlines()[0].split()[1]  # fmt: skip
    with session() as http:
        codes = http.post(_api(live_server, "/backup-codes"), headers=bearer(token), timeout=HTTP_TIMEOUT_S).json()
    backup = codes["backupCodes"][0]

    def half_signed_in(_: int) -> tuple[Any, str, str]:
        http = session()
        challenge = base64.urlsafe_b64encode(hashlib.sha256(secrets.token_bytes(32)).digest()).rstrip(b"=").decode()
        query = {
            "response_type": "code",
            "client_id": client_id,
            "redirect_uri": REDIRECT,
            "scope": "openid internal_login",
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }
        url = live_server.url(f"/oauth2/authorize?{urlencode(query)}")
        page = http.get(url, timeout=HTTP_TIMEOUT_S)
        form = {"csrf_token": _csrf(page.text), "action": "login", "username": user, "password": DEFAULT_PASSWORD}
        mfa_page = http.post(url, data=form, allow_redirects=False, timeout=HTTP_TIMEOUT_S)
        assert mfa_page.status_code == 200 and 'name="code"' in mfa_page.text, mfa_page.text
        return http, url, _csrf(mfa_page.text)

    with ThreadPoolExecutor(PARALLEL) as pool:
        browsers = list(pool.map(half_signed_in, range(PARALLEL)))

    def answer(browser: tuple[Any, str, str]) -> int:
        http, url, csrf = browser
        with http:
            response = http.post(
                url,
                data={"csrf_token": csrf, "action": "mfa", "code": backup},
                allow_redirects=False,
                timeout=HTTP_TIMEOUT_S,
            )
        return response.status_code

    with ThreadPoolExecutor(PARALLEL) as pool:
        statuses = list(pool.map(answer, browsers))
    assert statuses.count(302) == 1, statuses
    assert set(statuses) <= {302, 401, 429}, statuses
    with session() as http:
        left = http.get(_api(live_server, "/backup-codes"), headers=bearer(token), timeout=HTTP_TIMEOUT_S).json()
    assert left == {"remainingBackupCodesCount": 9}

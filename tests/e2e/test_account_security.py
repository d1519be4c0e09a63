"""Issue 6 acceptance 1 and 3 on the live server (gunicorn, 2 workers, a file database):

- 50 parallel wrong passwords for one account run at most ``login_max_failures`` (5) hash
  verifications and lock it; verifications are counted from the ``signin.failure`` events the
  workers wrote to the database (one per hash that did not match), not from a mock;
- change-password with ``revokeOtherSessions`` ends the user's other tokens on every worker
  while the caller's token keeps working;
- no response body and no line of gunicorn's log contains a submitted password.

The guessing comes from its own loopback address (127.0.0.x): the per-IP limit of the other
tests' 127.0.0.1 stays untouched.
"""

from __future__ import annotations

import base64
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests
from requests.adapters import HTTPAdapter

from tests.e2e.support import HTTP_TIMEOUT_S
from tests.e2e.support import session
from tests.factories import bearer
from tests.support.live_server import DEFAULT_PASSWORD
from tests.support.live_server import LiveServer

pytestmark = pytest.mark.e2e
SCOPE = "openid internal_login internal_user_password_update"
SENT: list[str] = []  # every password these tests submit, for the log check at the end


class _FromAddress(HTTPAdapter):
    """Connect from a chosen loopback address, so the server sees that REMOTE_ADDR."""

    def __init__(self, address: str) -> None:
        self._address = address
        super().__init__()

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs["source_address"] = (self._address, 0)
        super().init_poolmanager(*args, **kwargs)


def _from(address: str) -> requests.Session:
    http = session()
    http.mount("http://", _FromAddress(address))
    return http


def _basic(user: str, password: str) -> dict[str, str]:
    SENT.append(password)
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def _events(live_server: LiveServer, user_name: str, kind: str) -> int:
    """Read the workers' security events straight from the database file."""
    with sqlite3.connect(f"file:{live_server.workdir / 'scim-me.db'}?mode=ro", uri=True, timeout=30) as db:
        row = db.execute(
            "SELECT COUNT(*) FROM security_events e JOIN users u ON u.id = e.user_id "
            "WHERE u.user_name = ? AND e.kind = ?",
            (user_name, kind),
        ).fetchone()
    return int(row[0])


def _client(live_server: LiveServer) -> str:
    out = live_server.cli(
        "client", "create", "--tenant", "acme", "--name", "account-e2e", "--public",
        "--grant", "password", "--grant", "refresh_token", "--scope", SCOPE,
    ).stdout  # fmt: skip
    return out.splitlines()[0].split()[1]


def _token(live_server: LiveServer, client_id: str, user: str, password: str = DEFAULT_PASSWORD) -> dict[str, Any]:
    SENT.append(password)
    with _from("127.0.0.61") as http:
        response = http.post(
            live_server.url("/oauth2/token"),
            data={
                "grant_type": "password",
                "username": user,
                "password": password,
                "client_id": client_id,
                "scope": SCOPE,
            },
            timeout=HTTP_TIMEOUT_S,
        )
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def test_fifty_parallel_guesses_run_at_most_five_hashes_and_lock(live_server: LiveServer) -> None:
    user = live_server.create_user("guessed")
    wrong = [f"guess-{index:02d}-not-it" for index in range(50)]

    def guess(password: str) -> requests.Response:
        with _from("127.0.0.51") as http:
            return http.get(live_server.me_url(), headers=_basic(user, password), timeout=HTTP_TIMEOUT_S)

    with ThreadPoolExecutor(max_workers=50) as pool:
        responses = list(pool.map(guess, wrong))
    assert {r.status_code for r in responses} == {401}
    locked = [r for r in responses if r.headers.get("Auth-Failure-Reason") == "account locked"]
    verified = _events(live_server, user, "signin.failure")
    assert verified <= 5, f"{verified} password hashes ran for 50 parallel guesses"
    assert verified == 5  # and the limit was reached: the account is locked
    assert len(locked) == 50 - verified
    assert _events(live_server, user, "account.locked") == 1
    # Locked for everyone now, the right password included, from any address.
    with _from("127.0.0.52") as http:
        right = http.get(live_server.me_url(), headers=_basic(user, DEFAULT_PASSWORD), timeout=HTTP_TIMEOUT_S)
    assert right.status_code == 401 and right.headers["Auth-Failure-Reason"] == "account locked"
    assert 0 < int(right.headers["Retry-After"]) <= 60
    assert _events(live_server, user, "signin.failure") == 5  # no hash ran for it
    for response in responses:
        assert not any(password in response.text for password in wrong)
    # The operator lifts it.
    assert live_server.cli("user", "unlock", "--tenant", "acme", "--username", user).stdout.strip() == "unlocked"
    with _from("127.0.0.52") as http:
        assert http.get(live_server.me_url(), headers=_basic(user, DEFAULT_PASSWORD), timeout=HTTP_TIMEOUT_S).ok


def test_unknown_and_known_users_answer_alike_on_the_live_server(live_server: LiveServer) -> None:
    user = live_server.create_user("enum")
    shapes = []
    for name in (user, "no-such-user-anywhere"):
        seen = []
        with _from("127.0.0.53") as http:
            for _ in range(7):
                response = http.get(
                    live_server.me_url(), headers=_basic(name, "enumerate-me-1"), timeout=HTTP_TIMEOUT_S
                )
                seen.append((response.status_code, response.headers.get("Auth-Failure-Reason"), response.text))
        shapes.append(seen)
    assert shapes[0] == shapes[1]


def test_revoke_other_sessions_on_every_worker_keeps_the_callers_token(live_server: LiveServer) -> None:
    user = live_server.create_user("changer")
    client_id = _client(live_server)
    caller, other, third = (_token(live_server, client_id, user) for _ in range(3))
    for token in (caller, other, third):
        with session() as http:
            warm = [http.get(live_server.me_url(), headers=bearer(token["access_token"]), timeout=HTTP_TIMEOUT_S)
                    for _ in range(6)]  # fmt: skip
        assert {r.status_code for r in warm} == {200}  # both workers verified and cached it
    new_password = "rotated-zebra-lamp-2027"
    SENT.append(new_password)
    with session() as http:
        changed = http.post(
            live_server.url("/api/users/v1/me/change-password"),
            json={"currentPassword": DEFAULT_PASSWORD, "newPassword": new_password},
            headers=bearer(caller["access_token"]),
            timeout=HTTP_TIMEOUT_S,
        )
    assert changed.status_code == 204, changed.text
    assert changed.text == ""
    statuses: dict[str, list[int]] = {"caller": [], "other": [], "third": []}
    for _ in range(10):  # fresh connections spread over both workers
        for name, token in (("caller", caller), ("other", other), ("third", third)):
            with session() as http:
                statuses[name].append(
                    http.get(
                        live_server.me_url(), headers=bearer(token["access_token"]), timeout=HTTP_TIMEOUT_S
                    ).status_code
                )
    assert statuses == {"caller": [200] * 10, "other": [401] * 10, "third": [401] * 10}
    with session() as http:
        refreshed = http.post(
            live_server.url("/oauth2/token"),
            data={"grant_type": "refresh_token", "refresh_token": other["refresh_token"], "client_id": client_id},
            timeout=HTTP_TIMEOUT_S,
        )
    assert refreshed.status_code == 400
    assert _token(live_server, client_id, user, new_password)["access_token"]


def test_no_response_or_log_line_contains_a_password(live_server: LiveServer) -> None:
    """Runs last in this module: the passwords of every test above, plus a policy failure and a
    wrong current password, are nowhere in gunicorn's log (stdout and stderr)."""
    user = live_server.create_user("logged")
    client_id = _client(live_server)
    token = _token(live_server, client_id, user)["access_token"]
    attempts = [("wrong-current-pass-7", "fine-new-passphrase-7"), (DEFAULT_PASSWORD, "baseball"),
                (DEFAULT_PASSWORD, user + "-suffix")]  # fmt: skip
    with session() as http:
        for current, new in attempts:
            SENT.extend((current, new))
            response = http.post(
                live_server.url("/api/users/v1/me/change-password"),
                json={"currentPassword": current, "newPassword": new},
                headers=bearer(token),
                timeout=HTTP_TIMEOUT_S,
            )
            assert response.status_code == 400, response.text
            assert current not in response.text and new not in response.text
    log = live_server.log_path.read_text(encoding="utf-8", errors="replace")
    assert log  # gunicorn did write its log here
    leaked = sorted({password for password in SENT if password in log})
    assert leaked == [], f"passwords in the server log: {leaked}"

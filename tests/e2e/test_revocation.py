"""Issue 3 acceptance 3: revoking a token on one gunicorn worker makes it fail on every worker at
the next request; and one authorization code redeemed in parallel yields exactly one token set."""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import parse_qs
from urllib.parse import urlencode
from urllib.parse import urlsplit

import pytest

from tests.e2e.support import HTTP_TIMEOUT_S
from tests.e2e.support import session
from tests.factories import bearer
from tests.support.live_server import DEFAULT_PASSWORD
from tests.support.live_server import LiveServer

pytestmark = pytest.mark.e2e
REDIRECT = "http://localhost:5173/cb"
MAX_REQUESTS = 200


def _client(live_server: LiveServer, *args: str) -> str:
    out = live_server.cli("client", "create", "--tenant", "acme", *args).stdout
    return out.splitlines()[0].split()[1]


def _password_token(live_server: LiveServer, client_id: str, user: str) -> dict[str, str]:
    with session() as http:
        response = http.post(
            live_server.url("/oauth2/token"),
            data={"grant_type": "password", "username": user, "password": DEFAULT_PASSWORD, "client_id": client_id},
            timeout=HTTP_TIMEOUT_S,
        )
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def _until_both_workers_answered(live_server: LiveServer, token: str, agent: str) -> dict[str, list[int]]:
    """GET /Me on fresh connections until the access log shows both workers answered (bounded)."""
    answers: dict[str, list[int]] = {}
    for n in range(MAX_REQUESTS):
        with session() as http:
            http.get(
                live_server.me_url(), headers=bearer(token, **{"User-Agent": f"{agent}-{n}"}), timeout=HTTP_TIMEOUT_S
            )
        answers = live_server.answers_by_worker(agent)
        if len(answers) >= 2:
            return answers
    pytest.fail(f"{MAX_REQUESTS} requests never reached both gunicorn workers: {answers}")


def test_a_revoked_token_is_refused_by_every_worker(live_server: LiveServer) -> None:
    """Both workers first accept (and cache as verified) the token; after one revocation request
    both refuse it: the access log names the worker of every answer."""
    user = live_server.create_user("revoke")
    client_id = _client(live_server, "--name", "revoker", "--public", "--grant", "password", "--grant", "refresh_token")
    token = _password_token(live_server, client_id, user)["access_token"]
    run = secrets.token_hex(4)
    before = _until_both_workers_answered(live_server, token, f"before-{run}")
    assert all(statuses == [200] * len(statuses) for statuses in before.values()), before
    with session() as http:
        revoked = http.post(
            live_server.url("/oauth2/revoke"), data={"token": token, "client_id": client_id}, timeout=HTTP_TIMEOUT_S
        )
        assert revoked.status_code == 200
    after = _until_both_workers_answered(live_server, token, f"after-{run}")
    assert all(statuses == [401] * len(statuses) for statuses in after.values()), after
    assert set(after) == set(before)  # the same two workers


def test_one_code_redeemed_in_parallel_gives_exactly_one_token(live_server: LiveServer) -> None:
    """security.md T-CONC-7: 10 parallel redemptions, exactly one succeeds; the others are invalid_grant."""
    user = live_server.create_user("code")
    client_id = _client(
        live_server, "--name", "racer", "--public", "--first-party", "--redirect-uri", REDIRECT,
        "--grant", "authorization_code",
    )  # fmt: skip
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    params = {
        "response_type": "code", "client_id": client_id, "redirect_uri": REDIRECT, "scope": "openid internal_login",
        "state": "s", "code_challenge": challenge, "code_challenge_method": "S256",
    }  # fmt: skip
    url = live_server.url("/oauth2/authorize") + "?" + urlencode(params)
    with session() as http:
        page = http.get(url, timeout=HTTP_TIMEOUT_S)
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert csrf, page.text
        signed_in = http.post(
            url,
            data={"csrf_token": csrf.group(1), "action": "login", "username": user, "password": DEFAULT_PASSWORD},
            allow_redirects=False,
            timeout=HTTP_TIMEOUT_S,
        )
    assert signed_in.status_code == 302, signed_in.text
    code = parse_qs(urlsplit(signed_in.headers["Location"]).query)["code"][0]
    form = {
        "grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT, "client_id": client_id,
        "code_verifier": verifier,
    }  # fmt: skip

    def redeem(_: int) -> tuple[int, dict[str, str]]:
        with session() as http:
            response = http.post(live_server.url("/oauth2/token"), data=form, timeout=HTTP_TIMEOUT_S)
            return response.status_code, response.json()

    with ThreadPoolExecutor(max_workers=10) as pool:
        results = list(pool.map(redeem, range(10)))
    winners = [body for status, body in results if status == 200]
    losers = [body for status, body in results if status != 200]
    assert len(winners) == 1, results
    assert all(body.get("error") == "invalid_grant" for body in losers), losers
    # The replays revoked what the code issued.
    with session() as http:
        me = http.get(live_server.me_url(), headers=bearer(winners[0]["access_token"]), timeout=HTTP_TIMEOUT_S)
    assert me.status_code == 401

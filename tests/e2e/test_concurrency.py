"""T-CONC-1..4 (security.md §5): no lost updates on /Me under real concurrency, against gunicorn
with two worker processes sharing one SQLite file.

Every client thread has its own ``requests`` session; every loop is bounded by a request count
and every request by a timeout.
"""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pytest

from tests.e2e.support import HTTP_TIMEOUT_S
from tests.e2e.support import assert_scim_error
from tests.e2e.support import email_values
from tests.e2e.support import session
from tests.e2e.support import version_of
from tests.factories import SCIM_JSON
from tests.factories import basic
from tests.factories import bearer
from tests.factories import patch_body
from tests.support.live_server import DEFAULT_PASSWORD
from tests.support.live_server import LiveServer

pytestmark = pytest.mark.e2e

THREADS = 8
FUTURE_TIMEOUT_S = 120.0


@dataclass(frozen=True)
class Outcome:
    value: str
    status: int
    etag: str | None
    body: dict[str, Any]


def _add_email(value: str) -> str:
    return json.dumps(patch_body({"op": "add", "path": "emails", "value": [{"value": value}]}))


def _write_headers(token: str, if_match: str | None = None) -> dict[str, str]:
    headers = {**bearer(token), "Content-Type": SCIM_JSON}
    if if_match is not None:
        headers["If-Match"] = if_match
    return headers


def _read(server: LiveServer, token: str) -> tuple[dict[str, Any], int]:
    with session() as http:
        response = http.get(server.me_url(), headers=bearer(token), timeout=HTTP_TIMEOUT_S)
    assert response.status_code == 200, response.text
    body = response.json()
    version = version_of(response.headers.get("ETag"))
    assert version_of(body["meta"]["version"]) == version
    return body, version


def _run_parallel(work: Any, chunks: list[list[int]]) -> list[Outcome]:
    outcomes: list[Outcome] = []
    with ThreadPoolExecutor(max_workers=len(chunks)) as pool:
        futures = [pool.submit(work, chunk) for chunk in chunks]
        for future in futures:
            outcomes.extend(future.result(timeout=FUTURE_TIMEOUT_S))
    return outcomes


def _outcome(value: str, response: Any) -> Outcome:
    return Outcome(value, response.status_code, response.headers.get("ETag"), _json_or_empty(response))


def _chunks(total: int, threads: int) -> list[list[int]]:
    return [list(range(start, total, threads)) for start in range(threads)]


def _json_or_empty(response: Any) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def test_if_match_race_loses_nothing_and_invents_nothing(live_server: LiveServer) -> None:
    """T-CONC-1: 200 GET→PATCH(If-Match) from 8 threads; 200 or 412 only, 0 lost, 0 phantom."""
    user_name = live_server.create_user("race-if-match")
    token = live_server.token(user_name)
    url = live_server.me_url()
    _, v0 = _read(live_server, token)

    def work(indices: list[int]) -> list[Outcome]:
        done: list[Outcome] = []
        with session() as http:
            for i in indices:
                value = f"if-match-{i}@example.com"
                got = http.get(url, headers=bearer(token), timeout=HTTP_TIMEOUT_S)
                if got.status_code != 200:
                    done.append(Outcome(value, got.status_code, None, _json_or_empty(got)))
                    continue
                response = http.patch(
                    url,
                    data=_add_email(value),
                    headers=_write_headers(token, got.headers["ETag"]),
                    timeout=HTTP_TIMEOUT_S,
                )
                done.append(_outcome(value, response))
        return done

    outcomes = _run_parallel(work, _chunks(200, THREADS))

    assert len(outcomes) == 200
    unexpected = [(o.value, o.status, o.body) for o in outcomes if o.status not in (200, 412)]
    assert unexpected == []
    for outcome in outcomes:
        if outcome.status == 412:
            assert outcome.body.get("schemas") == ["urn:ietf:params:scim:api:messages:2.0:Error"], outcome.body
            assert outcome.body.get("status") == "412", outcome.body
    acknowledged = [o for o in outcomes if o.status == 200]
    successes = len(acknowledged)
    assert successes >= 1
    for outcome in acknowledged:
        assert outcome.value in email_values(outcome.body)
    etags = [o.etag for o in acknowledged]
    assert len(set(etags)) == successes, "two acknowledged writes returned the same ETag"
    assert sorted(version_of(e) for e in etags) == list(range(v0 + 1, v0 + successes + 1))

    final, version = _read(live_server, token)
    assert version == v0 + successes
    present = {v for v in email_values(final) if v.startswith("if-match-")}
    assert present == {o.value for o in acknowledged}


def test_patches_without_if_match_are_all_applied(live_server: LiveServer) -> None:
    """T-CONC-2: 100 PATCH add emails from 8 threads, no If-Match → 100 x 200, all values present."""
    user_name = live_server.create_user("race-no-if-match")
    token = live_server.token(user_name)
    url = live_server.me_url()
    _, v0 = _read(live_server, token)

    def work(indices: list[int]) -> list[Outcome]:
        done: list[Outcome] = []
        with session() as http:
            for i in indices:
                value = f"blind-{i}@example.com"
                response = http.patch(
                    url, data=_add_email(value), headers=_write_headers(token), timeout=HTTP_TIMEOUT_S
                )
                done.append(_outcome(value, response))
        return done

    outcomes = _run_parallel(work, _chunks(100, THREADS))

    assert [(o.value, o.status, o.body) for o in outcomes if o.status != 200] == []
    assert len({o.etag for o in outcomes}) == 100
    final, version = _read(live_server, token)
    assert version == v0 + 100
    assert {v for v in email_values(final) if v.startswith("blind-")} == {o.value for o in outcomes}


def test_same_etag_in_parallel_wins_exactly_once(live_server: LiveServer) -> None:
    """T-CONC-3: 30 parallel PATCHes carrying the same current ETag → exactly 1 x 200, 29 x 412."""
    user_name = live_server.create_user("race-same-etag")
    token = live_server.token(user_name)
    url = live_server.me_url()
    _, v0 = _read(live_server, token)
    etag = f'W/"{v0}"'
    start = threading.Barrier(10, timeout=30)

    def work(indices: list[int]) -> list[Outcome]:
        done: list[Outcome] = []
        with session() as http:
            start.wait()
            for i in indices:
                value = f"same-etag-{i}@example.com"
                response = http.patch(
                    url, data=_add_email(value), headers=_write_headers(token, etag), timeout=HTTP_TIMEOUT_S
                )
                done.append(_outcome(value, response))
        return done

    outcomes = _run_parallel(work, _chunks(30, 10))

    winners = [o for o in outcomes if o.status == 200]
    assert len(winners) == 1, [(o.value, o.status) for o in outcomes]
    losers = [o for o in outcomes if o.status != 200]
    assert len(losers) == 29
    for outcome in losers:
        assert outcome.status == 412, (outcome.status, outcome.body)
        assert outcome.body.get("status") == "412", outcome.body
    final, version = _read(live_server, token)
    assert version == v0 + 1
    assert {v for v in email_values(final) if v.startswith("same-etag-")} == {winners[0].value}


def test_display_name_and_password_changes_do_not_clobber_each_other(live_server: LiveServer) -> None:
    """T-CONC-4: 20 rounds of {PATCH displayName} ∥ {PATCH password}; both survive every round."""
    user_name = live_server.create_user("clobber")
    token = live_server.token(user_name)
    url = live_server.me_url()
    _, version = _read(live_server, token)
    local = threading.local()
    opened: list[Any] = []

    def http() -> Any:
        if not hasattr(local, "session"):
            local.session = session()
            opened.append(local.session)
        return local.session

    def send(body: dict[str, Any], barrier: threading.Barrier) -> tuple[int, str]:
        barrier.wait()
        response = http().patch(url, data=json.dumps(body), headers=_write_headers(token), timeout=HTTP_TIMEOUT_S)
        return response.status_code, response.text

    old_password = DEFAULT_PASSWORD
    checker = session()
    try:
        with ThreadPoolExecutor(max_workers=2) as pool:
            for round_no in range(20):
                display_name = f"Clobber round {round_no}"
                password = f"round-{round_no}-secret-pw"
                barrier = threading.Barrier(2, timeout=30)
                name_change = pool.submit(
                    send, patch_body({"op": "replace", "path": "displayName", "value": display_name}), barrier
                )
                password_change = pool.submit(
                    send, patch_body({"op": "replace", "path": "password", "value": password}), barrier
                )
                assert name_change.result(timeout=FUTURE_TIMEOUT_S)[0] == 200
                assert password_change.result(timeout=FUTURE_TIMEOUT_S)[0] == 200

                logged_in = checker.get(url, headers=basic(user_name, password), timeout=HTTP_TIMEOUT_S)
                assert logged_in.status_code == 200, (round_no, logged_in.text)
                assert logged_in.json()["displayName"] == display_name, round_no
                assert "password" not in logged_in.json()
                assert version_of(logged_in.headers.get("ETag")) == version + 2, round_no
                version += 2
                stale = checker.get(url, headers=basic(user_name, old_password), timeout=HTTP_TIMEOUT_S)
                assert_scim_error(stale, 401)
                old_password = password
    finally:
        checker.close()
        for each in opened:
            each.close()

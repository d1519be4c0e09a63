"""Metrics and logs under gunicorn, 2 workers (issue 13, acceptance 4): one scrape sees every
worker's counts (prometheus-client multiprocess mode, scim_me/gunicorn_conf.py), requests,
sign-ins and lockouts are non-zero after traffic, and a JSON log line carries the traceId that an
error body showed."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import requests

from tests.api.test_operator import value
from tests.support.live_server import DEFAULT_PASSWORD
from tests.support.live_server import LiveServer
from tests.support.live_server import launch
from tests.support.live_server import prepare_main

TOKEN = "e2e-metrics-token-0123456789"
pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def observed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    workdir = tmp_path_factory.mktemp("observed")
    with launch(
        workdir,
        prepare_main,
        gunicorn_args=("-c", "python:scim_me.gunicorn_conf"),
        SCIM_ME_METRICS_TOKEN=TOKEN,
        SCIM_ME_LOG_FORMAT="json",
        PROMETHEUS_MULTIPROC_DIR=str(workdir / "metrics"),
    ) as server:
        yield server


def scrape(server: LiveServer) -> str:
    response = requests.get(f"{server.base_url}/metrics", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)
    assert response.status_code == 200, response.text
    return response.text


def test_one_scrape_counts_every_worker_and_the_security_outcomes(observed: LiveServer) -> None:
    token = observed.token()
    sent = 0
    # Until both workers have answered (new connection each time: the kernel picks the worker).
    while sent < 40 or (len(observed.answers_by_worker("metrics-")) < 2 and sent < 400):
        headers = {"Authorization": f"Bearer {token}", "User-Agent": "metrics-e2e"}
        assert requests.get(observed.me_url(), headers=headers, timeout=10).ok
        sent += 1
    workers = observed.answers_by_worker("metrics-")
    victim = observed.create_user("locked")
    for _ in range(5):
        response = requests.get(observed.me_url(), auth=(victim, "wrong-password-9"), timeout=10)
        assert response.status_code == 401
    assert requests.get(observed.me_url(), auth=("kim", DEFAULT_PASSWORD), timeout=10).status_code == 200

    text = scrape(observed)
    assert value(text, "scim_me_http_requests_total", method="GET", route="/scim2/Me", status="200") == sent + 1
    assert value(text, "scim_me_http_requests_total", route="/scim2/Me", status="401") == 5
    assert value(text, "scim_me_signins_total", outcome="failure") == 5
    assert value(text, "scim_me_lockouts_total", factor="password") == 1
    assert value(text, "scim_me_http_request_duration_seconds_count", route="/scim2/Me") == sent + 6
    # Both workers answered, and the scrape (answered by one of them) summed both.
    assert len(workers) == 2, workers


def test_health_and_ready_under_gunicorn(observed: LiveServer) -> None:
    assert requests.get(f"{observed.base_url}/health", timeout=10).json() == {"status": "UP"}
    ready = requests.get(f"{observed.base_url}/ready", timeout=10)
    assert ready.status_code == 200 and ready.json()["status"] == "UP", ready.text


def test_a_json_log_line_carries_the_trace_id_of_the_error_body(observed: LiveServer) -> None:
    response = requests.get(observed.url("/api/users/v1/me/security"), timeout=10)
    assert response.status_code == 401
    trace = response.json()["traceId"]
    for line in observed.log_path.read_text(encoding="utf-8").splitlines():
        if trace in line:
            entry = json.loads(line)
            assert entry["traceId"] == trace and entry["status"] == 401 and entry["tenant"] == "acme"
            assert entry["route"] == "/api/users/v1/me/security" and entry["latencyMs"] >= 0
            break
    else:
        pytest.fail(f"no log line with traceId {trace}")

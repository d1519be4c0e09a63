"""Operator endpoints and logs (issue 13): /health and /ready outside tenant routing, /metrics
behind its token with request, sign-in, lockout and MFA counters, JSON log lines that carry the
traceId an error body showed."""

from __future__ import annotations

import io
import json
import logging
import re

import pytest

from scim_me.web.observe import JsonFormatter
from tests.factories import basic
from tests.factories import make_tenant
from tests.factories import make_user
from tests.support.apps import build_app

PASSWORD = "correct-horse-9"
METRICS_TOKEN = "scrape-me-0123456789"


@pytest.fixture
def metrics_app(database_url, tmp_path):
    app = build_app(database_url, tmp_path, metrics_token=METRICS_TOKEN)
    yield app
    app.extensions["scim_me"].db.close_all()


def scrape(client) -> str:
    response = client.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.content_type.startswith("text/plain; version=")
    return response.get_data(as_text=True)


def value(text: str, name: str, **labels: str) -> float:
    """The sample ``name{labels}`` (labels in any order, others allowed), 0 when absent."""
    total = 0.0
    for line in text.splitlines():
        match = re.fullmatch(r"([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)", line)
        if not match or match[1] != name:
            continue
        found = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', match[2] or ""))
        if all(found.get(k) == v for k, v in labels.items()):
            total += float(match[3])
    return total


def test_health_answers_without_the_database_and_only_outside_tenants(client):
    response = client.get("/health")
    assert response.status_code == 200 and response.json == {"status": "UP"}
    assert client.get("/t/acme/health").status_code == 404


def test_ready_checks_database_migrations_and_keys(client):
    response = client.get("/ready")
    assert response.status_code == 200, response.json
    assert response.json == {"status": "UP", "checks": {"database": "UP", "migrations": "UP", "keys": "UP"}}
    assert client.get("/t/acme/ready").status_code == 404


def test_ready_is_503_naming_a_master_key_that_opens_no_signing_key(database_url, tmp_path):
    from scim_me.config import new_master_key

    app = build_app(database_url, tmp_path)
    make_tenant(app, "acme")  # a signing key sealed with the original master key
    (tmp_path / "encryption.key").write_text(new_master_key())  # the operator swapped the key file
    response = app.test_client().get("/ready")
    assert response.status_code == 503
    assert response.json["status"] == "DOWN"
    assert response.json["checks"]["database"] == "UP" and response.json["checks"]["keys"].startswith("DOWN: ")
    app.extensions["scim_me"].db.close_all()


def test_metrics_are_off_by_default(client):
    assert client.get("/metrics").status_code == 404


def test_metrics_need_the_token(metrics_app):
    client = metrics_app.test_client()
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {METRICS_TOKEN}"}):
        response = client.get("/metrics", headers=headers)
        assert response.status_code == 401
        assert response.json["code"] == "SCM-401" and "traceId" in response.json
        assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_metrics_count_requests_sign_ins_lockouts_and_mfa(metrics_app):
    client = metrics_app.test_client()
    tenant = make_tenant(metrics_app, "acme")
    make_user(metrics_app, tenant, "kim", PASSWORD)
    before = scrape(client)
    assert client.get("/t/acme/scim2/Me", headers=basic("kim", PASSWORD)).status_code == 200
    for _ in range(5):  # login_max_failures: the fifth wrong password locks the account
        assert client.get("/t/acme/scim2/Me", headers=basic("kim", "wrong-password-1")).status_code == 401
    after = scrape(client)

    def grew(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert grew("scim_me_http_requests_total", method="GET", route="/scim2/Me", status="200") == 1
    assert grew("scim_me_http_requests_total", method="GET", route="/scim2/Me", status="401") == 5
    assert grew("scim_me_http_request_duration_seconds_count", method="GET", route="/scim2/Me") == 6
    assert grew("scim_me_signins_total", outcome="failure") == 5
    assert grew("scim_me_lockouts_total", factor="password") == 1
    assert "scim_me_mail_queue_depth 0.0" in after
    assert "scim_me_mfa_failures_total" in after
    # Route templates label the series, never paths: unknown paths share one series.
    client.get("/no/such/path/1")
    client.get("/no/such/path/2")
    assert value(scrape(client), "scim_me_http_requests_total", route="<unmatched>", status="404") >= 2


@pytest.fixture
def json_log():
    """Where the JSON handler writes, once the app under test is built."""

    def attach() -> io.StringIO:
        stream = io.StringIO()
        handlers = [h for h in logging.getLogger().handlers if isinstance(h.formatter, JsonFormatter)]
        assert len(handlers) == 1
        handlers[0].setStream(stream)
        return stream

    yield attach
    root = logging.getLogger()
    for handler in [h for h in root.handlers if isinstance(h.formatter, JsonFormatter)]:
        root.removeHandler(handler)


def test_a_json_log_line_carries_the_trace_id_of_the_error_body(database_url, tmp_path, json_log):
    app = build_app(database_url, tmp_path, log_format="json")
    stream = json_log()
    client = app.test_client()
    make_tenant(app, "acme")
    response = client.get("/t/acme/api/users/v1/me/security?code=super-secret-code")
    assert response.status_code == 401
    trace = response.json["traceId"]
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    access = [line for line in lines if line["logger"] == "scim_me.access"]
    assert access[-1] == {
        **access[-1],
        "traceId": trace,
        "tenant": "acme",
        "method": "GET",
        "route": "/api/users/v1/me/security",
        "status": 401,
        "level": "INFO",
    }
    assert isinstance(access[-1]["latencyMs"], float)
    assert "super-secret-code" not in stream.getvalue()  # no query strings, headers or bodies
    app.extensions["scim_me"].db.close_all()

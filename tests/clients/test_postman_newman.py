"""Acceptance (issue 3, real client 2): the repository's Postman collection, run by the pinned
newman (tests/clients/package-lock.json) against the live server (gunicorn, 2 workers, file SQLite),
passes every assertion: once on a tenant's ``/t/{tenant}`` paths, once on the default tenant's
bare paths. Nothing is installed at test time: `.ci/run` does ``npm ci --prefix tests/clients``.

The tenant run uses exactly what ``make run`` seeds (``scim-me demo seed``: user, password and the
confidential ``demo-postman`` client, which authenticates with ``client_secret_post``); the bare run
uses a public client with the password grant (``client_id`` alone, an empty ``client_secret``), so
the collection is known to work with both kinds of client; a third run uses a tenant of the ``rfc``
dialect (RFC shapes: e-mails as objects, ``/Schemas`` as a ListResponse).

A folder that silently stops running (a script error, a skipped request) must fail this test, not
shrink it: every request of the collection must have executed, the run must have executed at
least as many assertions as the collection has ``pm.test`` calls, and so must every request
(its own ``pm.test`` calls plus the collection-level ones).
"""

from __future__ import annotations

import json
import re
import secrets
import subprocess
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from e2e.support import DEFAULT_PASSWORD
from e2e.support import LiveServer

from clients.support import COLLECTION
from clients.support import ENVIRONMENT
from clients.support import PM_TEST
from clients.support import REPO_ROOT
from clients.support import count_pm_tests
from clients.support import requests_of
from clients.support import scripts_of

pytestmark = [pytest.mark.e2e, pytest.mark.clients]

NEWMAN_TIMEOUT_S = 280
DEFAULT_TENANT = "carbon.super"
DEMO_PASSWORD = "demo-password-2026"  # `scim-me demo seed`'s default, what `make run` seeds
_DEMO_CLIENT = re.compile(r"^demo Postman client: (\S+)\s+secret \(shown once\): (\S+)$", re.MULTILINE)
_CLIENT_ID = re.compile(r"^client_id: (\S+)$", re.MULTILINE)
_SECRET_CLIENT = re.compile(r"^client_id: (\S+)\nclient_secret: (\S+)", re.MULTILINE)


@dataclass(frozen=True)
class Target:
    tenant_path: str
    client_id: str
    client_secret: str
    username: str
    password: str


def _seeded_demo_tenant(live: LiveServer) -> Target:
    tenant = f"postman-{secrets.token_hex(3)}"
    out = live.cli("demo", "seed", "--tenant", tenant, "--username", "kim").stdout
    match = _DEMO_CLIENT.search(out)
    assert match, f"scim-me demo seed printed no Postman client id and secret: {out!r}"
    return Target(f"/t/{tenant}", match.group(1), match.group(2), "kim", DEMO_PASSWORD)


def _default_tenant_public_client(live: LiveServer) -> Target:
    username = live.create_user("postman", tenant=DEFAULT_TENANT)
    args = ["client", "create", "--tenant", DEFAULT_TENANT, "--name", f"Postman {username}", "--public"]
    out = live.cli(*args, "--grant", "password", "--grant", "refresh_token").stdout
    match = _CLIENT_ID.search(out)
    assert match, f"scim-me client create printed no client_id: {out!r}"
    return Target("", match.group(1), "", username, DEFAULT_PASSWORD)


def _rfc_tenant_confidential_client(live: LiveServer) -> Target:
    tenant = f"postman-rfc-{secrets.token_hex(3)}"
    live.cli("tenant", "create", tenant, "--dialect", "rfc")
    username = live.create_user("postman", tenant=tenant)
    args = ["client", "create", "--tenant", tenant, "--name", "Postman", "--grant", "password"]
    out = live.cli(*args, "--grant", "refresh_token").stdout
    match = _SECRET_CLIENT.search(out)
    assert match, f"scim-me client create printed no client_id and secret: {out!r}"
    return Target(f"/t/{tenant}", match.group(1), match.group(2), username, DEFAULT_PASSWORD)


TARGETS = {
    "tenant": _seeded_demo_tenant,
    "default-tenant": _default_tenant_public_client,
    "rfc-tenant": _rfc_tenant_confidential_client,
}


def _failures(report: dict[str, Any]) -> list[str]:
    lines = []
    for failure in report["run"]["failures"]:
        error = failure.get("error", {})
        source = failure.get("source", {}).get("name", "?")
        lines.append(f"{source}: {error.get('test') or error.get('name')}: {error.get('message')}")
    return lines


def _run_newman(newman: list[str], live: LiveServer, target: Target, report_path: Path) -> dict[str, Any]:
    env_vars = {
        "base_url": live.base_url,
        "tenant_path": target.tenant_path,
        "client_id": target.client_id,
        "client_secret": target.client_secret,
        "username": target.username,
        "password": target.password,
    }
    command = [*newman, "run", str(COLLECTION), "--environment", str(ENVIRONMENT)]
    for key, value in env_vars.items():
        command += ["--env-var", f"{key}={value}"]
    command += ["--reporters", "cli,json", "--reporter-json-export", str(report_path)]
    command += ["--color", "off", "--disable-unicode", "--timeout-request", "30000"]
    result = subprocess.run(
        command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=NEWMAN_TIMEOUT_S, check=False
    )
    assert report_path.is_file(), (
        f"newman wrote no report (exit {result.returncode}):\n{result.stdout}\n{result.stderr}"
    )
    report: dict[str, Any] = json.loads(report_path.read_text(encoding="utf-8"))
    failures = _failures(report)
    assert result.returncode == 0 and not failures, (
        f"newman exited {result.returncode} with {len(failures)} failure(s):\n"
        + "\n".join(failures)
        + f"\n---- newman output ----\n{result.stdout[-20000:]}\n{result.stderr[-5000:]}"
    )
    return report


def _check_complete(report: dict[str, Any]) -> None:
    collection = json.loads(COLLECTION.read_text(encoding="utf-8"))
    stats = report["run"]["stats"]
    for kind in ("requests", "testScripts", "prerequestScripts", "assertions"):
        assert stats[kind]["failed"] == 0, (kind, stats[kind])

    expected = Counter(item["name"] for item in requests_of(collection))
    executed = Counter(execution["item"]["name"] for execution in report["run"]["executions"])
    skipped = expected - executed
    assert not skipped, f"requests of the collection that never ran: {sorted(skipped.elements())}"

    written = count_pm_tests(collection)
    ran = stats["assertions"]["total"]
    assert ran >= written, f"the run executed {ran} assertions, fewer than the {written} pm.test calls written"

    # The same per request: the collection-level tests run on every request, so the totals alone
    # could hide one request whose own pm.test calls never ran (one inside a skipped condition).
    inherited = sum(len(PM_TEST.findall(text)) for text in scripts_of(collection))
    short = []
    for execution in report["run"]["executions"]:
        own = sum(len(PM_TEST.findall(text)) for text in scripts_of(execution["item"]))
        if len(execution.get("assertions", [])) < own + inherited:
            short.append(f"{execution['item']['name']}: {len(execution.get('assertions', []))} of {own + inherited}")
    assert not short, f"requests that ran fewer assertions than they contain: {short}"


@pytest.mark.parametrize("kind", list(TARGETS))
def test_postman_collection_passes_under_newman(
    kind: str, newman: list[str], live_server: LiveServer, tmp_path: Path
) -> None:
    target = TARGETS[kind](live_server)
    report = _run_newman(newman, live_server, target, tmp_path / "newman-report.json")
    _check_complete(report)

"""Acceptance (issue 3, real client 2): the repository's Postman collection, run by the pinned
newman (tests/clients/package-lock.json) against the live server (gunicorn, 2 workers, file SQLite),
passes every assertion: once on a tenant's ``/t/{tenant}`` paths, once on the default tenant's
bare paths. Nothing is installed at test time: `.ci/run` does ``npm ci --prefix tests/clients``.

The tenant run is ``make newman``: the environment ``scim-me demo seed --postman-environment``
wrote (user, password, the confidential ``demo-postman`` client, which authenticates with
``client_secret_post``, and the admin, consent-admin and recovery clients), nothing added; the bare run
uses a public client with the password grant (``client_id`` alone, an empty ``client_secret``), so
the collection is known to work with both kinds of client.

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

from tests.clients.support import COLLECTION
from tests.clients.support import ENVIRONMENT
from tests.clients.support import PM_TEST
from tests.clients.support import REPO_ROOT
from tests.clients.support import count_pm_tests
from tests.clients.support import requests_of
from tests.clients.support import scripts_of
from tests.support.live_server import DEFAULT_PASSWORD
from tests.support.live_server import LiveServer

pytestmark = [pytest.mark.e2e, pytest.mark.clients]

NEWMAN_TIMEOUT_S = 280
DEFAULT_TENANT = "carbon.super"
DEMO_PASSWORD = "demo-password-2026"  # `scim-me demo seed`'s default, what `make run` seeds
_DEMO_CLIENT = re.compile(r"^demo Postman client: (\S+)\s+secret \(shown once\): (\S+)$", re.MULTILINE)
_CLIENT_ID = re.compile(r"^client_id: (\S+)$", re.MULTILINE)
_CLIENT_SECRET = re.compile(r"^client_secret: (\S+)", re.MULTILINE)
_CONSENT_ADMIN = re.compile(
    r"^demo consent-admin client \(client_credentials\): (\S+)\s+secret \(shown once\): (\S+)$", re.MULTILINE
)
_RECOVERY_APP = re.compile(
    r"^demo recovery client \(client_credentials\): (\S+)\s+secret \(shown once\): (\S+)$", re.MULTILINE
)
CONSENT_ADMIN_SCOPES = "internal_consent_mgt_add internal_consent_mgt_delete internal_consent_mgt_view"
_DEMO_ADMIN_USER = re.compile(r"^demo admin user (\S+) / (\S+) ", re.MULTILINE)
_DEMO_ADMIN_CLIENT = re.compile(
    r"^demo-admin client \(client_credentials, admin scopes\): (\S+)\s+secret \(shown once\): (\S+)$", re.MULTILINE
)
ADMIN_SCOPES = (
    "internal_user_mgt_create internal_user_mgt_list internal_user_mgt_view internal_user_mgt_update"
    " internal_user_mgt_delete internal_group_mgt_create internal_group_mgt_list internal_group_mgt_view"
    " internal_group_mgt_update internal_group_mgt_delete internal_bulk_resource_create"
)


@dataclass(frozen=True)
class Target:
    tenant_path: str
    client_id: str
    client_secret: str
    username: str
    password: str
    # The confidential client_credentials client with the consent admin scopes (Privacy folder).
    consent_admin_id: str
    consent_admin_secret: str
    # The confidential client_credentials client with internal_user_recovery_create (Account recovery folder).
    recovery_id: str
    recovery_secret: str
    # An administrator (the tenant's admin role, HTTP Basic) and a client_credentials client with
    # the SCIM admin scopes (SCIM administration folder).
    admin_username: str
    admin_password: str
    admin_client_id: str
    admin_client_secret: str


def _seeded_demo_tenant(live: LiveServer, environment: Path) -> Target:
    tenant = f"postman-{secrets.token_hex(3)}"
    out = live.cli(
        "demo", "seed", "--tenant", tenant, "--username", "kim", "--postman-environment", str(environment)
    ).stdout
    match = _DEMO_CLIENT.search(out)
    assert match, f"scim-me demo seed printed no Postman client id and secret: {out!r}"
    admin = _CONSENT_ADMIN.search(out)
    assert admin, f"scim-me demo seed printed no consent-admin client id and secret: {out!r}"
    recovery = _RECOVERY_APP.search(out)
    assert recovery, f"scim-me demo seed printed no recovery client id and secret: {out!r}"
    admin_user, admin_client = _DEMO_ADMIN_USER.search(out), _DEMO_ADMIN_CLIENT.search(out)
    assert admin_user and admin_client, f"scim-me demo seed printed no admin user or demo-admin client: {out!r}"
    return Target(
        f"/t/{tenant}",
        match.group(1),
        match.group(2),
        "kim",
        DEMO_PASSWORD,
        admin.group(1),
        admin.group(2),
        recovery.group(1),
        recovery.group(2),
        admin_user.group(1),
        admin_user.group(2),
        admin_client.group(1),
        admin_client.group(2),
    )


def _default_tenant_public_client(live: LiveServer) -> Target:
    username = live.create_user("postman", tenant=DEFAULT_TENANT)
    args = ["client", "create", "--tenant", DEFAULT_TENANT, "--name", f"Postman {username}", "--public"]
    out = live.cli(*args, "--grant", "password", "--grant", "refresh_token").stdout
    match = _CLIENT_ID.search(out)
    assert match, f"scim-me client create printed no client_id: {out!r}"
    args = ["client", "create", "--tenant", DEFAULT_TENANT, "--name", f"Consent admin {username}"]
    admin = live.cli(*args, "--grant", "client_credentials", "--scope", CONSENT_ADMIN_SCOPES).stdout
    admin_id, admin_secret = _CLIENT_ID.search(admin), _CLIENT_SECRET.search(admin)
    assert admin_id and admin_secret, f"scim-me client create printed no client_id and secret: {admin!r}"
    args = ["client", "create", "--tenant", DEFAULT_TENANT, "--name", f"Recovery app {username}"]
    app = live.cli(*args, "--grant", "client_credentials", "--scope", "internal_user_recovery_create").stdout
    app_id, app_secret = _CLIENT_ID.search(app), _CLIENT_SECRET.search(app)
    assert app_id and app_secret, f"scim-me client create printed no client_id and secret: {app!r}"
    admin_name = f"admin-{username}"
    args = ["user", "create", "--tenant", DEFAULT_TENANT, "--username", admin_name, "--password", DEFAULT_PASSWORD]
    live.cli(*args, "--role", "admin")
    args = ["client", "create", "--tenant", DEFAULT_TENANT, "--name", f"SCIM admin {username}"]
    scim_admin = live.cli(*args, "--grant", "client_credentials", "--scope", ADMIN_SCOPES).stdout
    scim_id, scim_secret = _CLIENT_ID.search(scim_admin), _CLIENT_SECRET.search(scim_admin)
    assert scim_id and scim_secret, f"scim-me client create printed no client_id and secret: {scim_admin!r}"
    return Target(
        "",
        match.group(1),
        "",
        username,
        DEFAULT_PASSWORD,
        admin_id.group(1),
        admin_secret.group(1),
        app_id.group(1),
        app_secret.group(1),
        admin_name,
        DEFAULT_PASSWORD,
        scim_id.group(1),
        scim_secret.group(1),
    )


def _failures(report: dict[str, Any]) -> list[str]:
    lines = []
    for failure in report["run"]["failures"]:
        error = failure.get("error", {})
        source = failure.get("source", {}).get("name", "?")
        lines.append(f"{source}: {error.get('test') or error.get('name')}: {error.get('message')}")
    return lines


def _env_vars(live: LiveServer, target: Target) -> dict[str, str]:
    return {
        "base_url": live.base_url,
        "tenant_path": target.tenant_path,
        "client_id": target.client_id,
        "client_secret": target.client_secret,
        "username": target.username,
        "password": target.password,
        "consent_admin_client_id": target.consent_admin_id,
        "consent_admin_client_secret": target.consent_admin_secret,
        "recovery_client_id": target.recovery_id,
        "recovery_client_secret": target.recovery_secret,
        "admin_username": target.admin_username,
        "admin_password": target.admin_password,
        "admin_client_id": target.admin_client_id,
        "admin_client_secret": target.admin_client_secret,
    }


def _run_newman(newman: list[str], environment: Path, env_vars: dict[str, str], report_path: Path) -> dict[str, Any]:
    command = [*newman, "run", str(COLLECTION), "--environment", str(environment)]
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


@pytest.mark.parametrize("kind", ["tenant", "default-tenant"])
def test_postman_collection_passes_under_newman(
    kind: str, newman: list[str], live_server: LiveServer, tmp_path: Path
) -> None:
    if kind == "tenant":
        # As `make newman` runs it: the environment the demo seed wrote, nothing added.
        environment = tmp_path / "demo.postman_environment.json"
        target = _seeded_demo_tenant(live_server, environment)
        written = {v["key"]: v["value"] for v in json.loads(environment.read_text(encoding="utf-8"))["values"]}
        printed = _env_vars(live_server, target)  # what the seed printed, for the other run's way
        assert {key: written[key] for key in printed} == printed
        report = _run_newman(newman, environment, {}, tmp_path / "newman-report.json")
    else:
        target = _default_tenant_public_client(live_server)
        report = _run_newman(newman, ENVIRONMENT, _env_vars(live_server, target), tmp_path / "newman-report.json")
    _check_complete(report)

"""The contract run: schemathesis generates requests from the OpenAPI document for every
operation and checks the e2e server's answers against it (tests/contract/test_*.py).

Each server (gunicorn, 2 workers, a file SQLite database or a PostgreSQL database) has one
tenant per dialect, both with open self-registration (without the e-mail confirmation, so a
registered account signs in at once) and self-delete, and a confidential client allowed every
grant and scope. Its per-IP mail limit, which anonymous registrations count on, is lifted: every
request comes from loopback. Every operation gets a user of its own (registered through
``POST /scim2/Me``, token from the password grant), so what one operation's examples change (a
password, the sessions, MFA) never reaches another's; ``DELETE /scim2/Me`` gets a new user for
every example, so each example deletes someone real.
"""

from __future__ import annotations

import itertools
import re
import uuid
from collections.abc import Callable
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path
from typing import Any

import requests
import schemathesis
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance
from schemathesis.specs.openapi.checks import response_schema_conformance
from schemathesis.specs.openapi.checks import status_code_conformance

from scim_me.core.schemas import load_registry
from scim_me.openapi.document import build_document
from tests.support.live_server import LiveServer
from tests.support.live_server import launch

REPO_ROOT = Path(__file__).resolve().parents[2]
# tenant -> dialect: both dialects' shapes are checked against the one document.
TENANTS = {"acme": "wso2", "strict": "rfc"}
SCOPES = (
    "openid profile email phone address internal_login internal_user_mgt_delete internal_consent_mgt_add"
    " internal_consent_mgt_delete internal_consent_mgt_view internal_user_password_update"
)
# The application token (client_credentials) for user administration and the recovery API,
# which a tenant by default opens to applications only (recovery_api_auth = client).
APP_SCOPES = (
    "internal_user_mgt_create internal_user_mgt_view internal_user_mgt_list internal_user_mgt_update"
    " internal_user_mgt_delete internal_user_recovery_create internal_group_mgt_create internal_group_mgt_view"
    " internal_group_mgt_list internal_group_mgt_update internal_group_mgt_delete internal_bulk_resource_create"
)
METRICS_TOKEN = "contract-metrics-token"
# Served on bare paths only (a tenant's /t/x/health is 404).
OPERATOR_PATHS = {"/health", "/ready", "/metrics"}
PASSWORD = "Contract-pass-2026!"
CLIENT_ENDPOINTS = {"/oauth2/token", "/oauth2/revoke", "/oauth2/introspect"}
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
# Budget: ~100 operations x 2 dialects per database, each database on its own xdist worker;
# MAX_EXAMPLES random examples per operation in each generation mode (valid and invalid). The
# coverage phase (every parameter's boundary values, deterministic) is off: on the User bodies it
# sends thousands of requests an operation (minutes each), and it found nothing the random
# examples did not.
MAX_EXAMPLES = 10
_CLIENT_LINE = re.compile(r"^client_(id|secret): (\S+)", re.MULTILINE)


def static_document(base: str = "http://127.0.0.1") -> dict[str, Any]:
    """The document as the app builds it (tests/api/test_openapi.py checks it is the one served)."""
    return build_document(load_registry(REPO_ROOT / "schemas"), servers=[{"url": base}], base=base)


def static_schema() -> Any:
    """The document for schemathesis to parametrize at collection time, before any server runs;
    each case is sent to its tenant's URL."""
    schema = schemathesis.openapi.from_dict(static_document())
    schema.config.generation.update(
        max_examples=MAX_EXAMPLES,
        modes=[schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE],
        deterministic=True,
    )
    schema.config.phases.coverage.enabled = False
    return schema


@dataclass
class Account:
    user_name: str
    password: str
    token: str


@dataclass
class ContractServer:
    live: LiveServer
    clients: dict[str, tuple[str, str]]
    _turn: Any = field(default_factory=itertools.count)
    _app_tokens: dict[str, str] = field(default_factory=dict)

    def base(self, tenant: str) -> str:
        return self.live.url("", tenant)

    def app_token(self, tenant: str) -> str:
        if tenant not in self._app_tokens:
            issued = requests.post(
                f"{self.base(tenant)}/oauth2/token",
                data={"grant_type": "client_credentials", "scope": APP_SCOPES},
                auth=self.clients[tenant],
                timeout=30,
            )
            assert issued.status_code == 200, issued.text
            self._app_tokens[tenant] = issued.json()["access_token"]
        return self._app_tokens[tenant]

    def new_account(self, tenant: str) -> Account:
        """A user registered through the API itself, with a bearer token for every scope."""
        name = f"st-{uuid.uuid4().hex[:12]}"
        registered = requests.post(
            f"{self.base(tenant)}/scim2/Me",
            json={
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "userName": name,
                "password": PASSWORD,
                "name": {"givenName": "Sam", "familyName": "Tester"},
                "emails": [{"value": f"{name}@example.com", "primary": True}],
            },
            headers={"Content-Type": "application/scim+json"},
            timeout=30,
        )
        assert registered.status_code == 201, registered.text
        issued = requests.post(
            f"{self.base(tenant)}/oauth2/token",
            data={"grant_type": "password", "username": name, "password": PASSWORD, "scope": SCOPES},
            auth=self.clients[tenant],
            timeout=30,
        )
        assert issued.status_code == 200, issued.text
        return Account(name, PASSWORD, issued.json()["access_token"])

    def credentials(self, case: Any, tenant: str, account: Account) -> dict[str, str]:
        """Valid credentials of a scheme the operation lists: client Basic at the OAuth client
        endpoints; elsewhere the user's bearer token and, where Basic is listed, Basic in turn."""
        path = case.operation.path
        if path in CLIENT_ENDPOINTS:
            client_id, secret = self.clients[tenant]
            return {"Authorization": _basic(client_id, secret)}
        if path == "/metrics":
            return {"Authorization": f"Bearer {METRICS_TOKEN}"}
        own_user = case.operation.method.upper() == "GET" and path == "/scim2/Users/{user_id}"
        admin = path.startswith(("/scim2/Users", "/scim2/Groups", "/scim2/Bulk")) and not own_user
        if path.startswith("/api/users/v2/recovery/") or admin:
            return {"Authorization": f"Bearer {self.app_token(tenant)}"}
        schemes = {name for requirement in case.operation.definition.raw.get("security", []) for name in requirement}
        if not schemes:
            return {}
        if "basic" in schemes and next(self._turn) % 2:
            return {"Authorization": _basic(account.user_name, account.password)}
        return {"Authorization": f"Bearer {account.token}"}


def _basic(user: str, password: str) -> str:
    import base64

    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def _prepare(clients: dict[str, tuple[str, str]]) -> Callable[[LiveServer], None]:
    def prepare(server: LiveServer) -> None:
        server.cli("db", "upgrade")
        for tenant, dialect in TENANTS.items():
            server.cli(
                "tenant", "create", tenant, "--dialect", dialect, "--self-registration", "open",
                "--no-self-registration-confirm", "--self-delete",
            )  # fmt: skip
            scopes = f"{SCOPES} {APP_SCOPES}"
            out = server.cli(
                "client", "create", "--tenant", tenant, "--name", "contract", "--first-party",
                "--redirect-uri", "http://localhost:5173/", "--scope", scopes,
                "--grant", "authorization_code", "--grant", "refresh_token", "--grant", "password",
                "--grant", "client_credentials",
            ).stdout  # fmt: skip
            found = dict(_CLIENT_LINE.findall(out))
            clients[tenant] = (found["id"], found["secret"])

    return prepare


@contextmanager
def contract_server(workdir: Path, **env: str) -> Iterator[ContractServer]:
    clients: dict[str, tuple[str, str]] = {}
    # Hundreds of registrations (an account per operation, per DELETE example) from one address.
    unlimited = {"SCIM_ME_RECOVERY_IP_SENDS_PER_WINDOW": "1000000"}
    with launch(workdir, _prepare(clients), SCIM_ME_METRICS_TOKEN=METRICS_TOKEN, **unlimited, **env) as live:
        yield ContractServer(live, clients)


def run_case(server: ContractServer, tenant: str, account: Account, case: Any) -> None:
    if case.operation.method.upper() == "DELETE" and case.operation.path == "/scim2/Me":
        account = server.new_account(tenant)  # every example deletes a user of its own
    headers = server.credentials(case, tenant, account)
    base = server.live.base_url if case.operation.path in OPERATOR_PATHS else server.base(tenant)
    response = case.call(base_url=base, headers=headers, timeout=30)
    # 501 is a documented answer (wso2: an unknown schema, sessions paging), not a crash;
    # status_code_conformance still fails it where it is not documented.
    checks = CHECKS if response.status_code != 501 else CHECKS[1:]
    case.validate_response(response, checks=checks, headers=headers)

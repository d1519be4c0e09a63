"""A scim-me instance for the benchmarks, and its fixture data, made the way people make them.

The operator's part goes through the ``scim-me`` CLI (master key, schema, tenant, OAuth clients,
user accounts, whose passwords the tenant's policy must accept). Everything a user does goes
through HTTP against the running server: tokens from ``/oauth2/token`` (so each one is recorded
and its revocation is checked on every request, as in production), TOTP and backup codes through
the MFA API, a consent receipt through the consent API, a long profile through PATCH /Me. So a
change that breaks any of those paths breaks the benchmark too, and the hot path is measured with
the data features keep beside a real user.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse
from urllib.parse import urlunparse

import requests

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
TENANT = "bench"
USER = "bench"
LARGE_USER = "bench-large"
# Only used through the token endpoint's password grant; the policy refuses passwords that
# contain the user name (contextWords), which is how the old "bench-password-2026" broke.
PASSWORD = "quiet-harbor-lantern-71"
APP_SCOPES = "openid internal_login"
ADMIN_SCOPES = "internal_consent_mgt_add internal_consent_mgt_view internal_consent_mgt_delete"
CONSENT_API = "/api/identity/consent-mgt/v1.0/consents"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
SCIM_JSON = "application/scim+json"
POSTGRES_URL = os.environ.get("SCIM_ME_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


class BenchError(RuntimeError):
    """The benchmark could not run or produced invalid results."""


def venv_tool(name: str) -> str:
    """The console script ``name`` next to the running interpreter (the project's venv)."""
    candidate = Path(sys.executable).parent / name
    if candidate.exists():
        return str(candidate)
    found = shutil.which(name)
    if found is None:
        raise BenchError(f"{name} not found next to {sys.executable} or on PATH; run with the project's venv")
    return found


def run(cmd: list[str], env: dict[str, str]) -> str:
    proc = subprocess.run(cmd, cwd=REPO_ROOT, env=env, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise BenchError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stdout}{proc.stderr}")
    return proc.stdout


def instance_env(workdir: Path, port: int, database_url: str | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "SCIM_ME_CONFIG": "",
            "SCIM_ME_DATABASE_URL": database_url or f"sqlite:///{workdir / 'scim-me.db'}",
            "SCIM_ME_ENCRYPTION_KEY_FILE": str(workdir / "encryption.key"),
            "SCIM_ME_BASE_URL": f"http://127.0.0.1:{port}",
            "SCIM_ME_LOG_LEVEL": "WARNING",
            "SCIM_ME_MAIL_OUTBOX_DIR": str(workdir / "outbox"),
        }
    )
    env.pop("SCIM_ME_ENCRYPTION_KEY", None)
    return env


@contextmanager
def postgres_database() -> Iterator[str | None]:
    """A fresh PostgreSQL database for one run (dropped after), or None when none is reachable."""
    import psycopg2

    try:
        admin = psycopg2.connect(POSTGRES_URL, connect_timeout=3)
    except psycopg2.Error:
        yield None
        return
    admin.autocommit = True
    name = "scim_me_bench_" + uuid.uuid4().hex[:12]
    with admin.cursor() as cur:
        cur.execute(f"CREATE DATABASE {name}")
    try:
        yield urlunparse(urlparse(POSTGRES_URL)._replace(path=f"/{name}"))  # keeps ?host= (a socket) and others
    finally:
        with admin.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.close()


@dataclass
class Client:
    client_id: str
    secret: str

    @property
    def auth(self) -> tuple[str, str]:
        return (self.client_id, self.secret)


@dataclass
class Operator:
    """What the operator set up with the CLI: the clients, and the users' names."""

    env: dict[str, str]
    app: Client
    admin: Client
    users: list[str] = field(default_factory=list)


def _client(output: str) -> Client:
    client_id = re.search(r"client_id: (\S+)", output)
    secret = re.search(r"client_secret: (\S+)", output)
    if client_id is None or secret is None:
        raise BenchError(f"unexpected `scim-me client create` output: {output!r}")
    return Client(client_id.group(1), secret.group(1))


def operator_setup(env: dict[str, str]) -> Operator:
    """Key, schema, tenant, the app and admin clients, two users: the operator's CLI steps."""
    cli = venv_tool("scim-me")
    run([cli, "keys", "init"], env)
    run([cli, "db", "upgrade"], env)
    run([cli, "tenant", "create", TENANT], env)
    app = _client(
        run(
            [cli, "client", "create", "--tenant", TENANT, "--name", "bench-app", "--first-party",
             "--grant", "password", "--grant", "refresh_token", "--scope", APP_SCOPES],
            env,
        )
    )  # fmt: skip
    admin = _client(
        run(
            [cli, "client", "create", "--tenant", TENANT, "--name", "bench-admin",
             "--grant", "client_credentials", "--scope", ADMIN_SCOPES],
            env,
        )
    )  # fmt: skip
    operator = Operator(env, app, admin)
    for name in (USER, LARGE_USER):
        run([cli, "user", "create", "--tenant", TENANT, "--username", name, "--password", PASSWORD], env)
        operator.users.append(name)
    return operator


@dataclass
class Tokens:
    """What the users' apps hold once the fixture is set up."""

    access: str  # the bench user's
    large_access: str  # the user with 100 e-mails and 20 addresses
    refresh: list[str]  # one grant each, for the refresh-grant scenario's threads


def _check(response: requests.Response, what: str) -> Any:
    if not 200 <= response.status_code < 300:
        raise BenchError(f"{what} -> {response.status_code}: {response.text[:500]}")
    return response.json() if response.content else None


def password_grant(base: str, app: Client, user: str) -> dict[str, Any]:
    response = requests.post(
        f"{base}/oauth2/token",
        data={"grant_type": "password", "username": user, "password": PASSWORD, "scope": APP_SCOPES},
        auth=app.auth,
        timeout=60,
    )
    body: dict[str, Any] = _check(response, f"password grant for {user}")
    return body


def _enrol_mfa(base: str, token: str) -> None:
    """TOTP and backup codes through the MFA API, as My Account does."""
    import pyotp

    headers = {"Authorization": f"Bearer {token}"}
    me = f"{base}/api/users/v1/me"
    _check(requests.post(f"{me}/totp", json={"action": "INIT"}, headers=headers, timeout=30), "TOTP INIT")
    secret = _check(requests.get(f"{me}/totp/secret", headers=headers, timeout=30), "TOTP secret")["secret"]
    code = pyotp.TOTP(secret).now()
    valid = _check(
        requests.post(f"{me}/totp", json={"action": "VALIDATE", "verificationCode": code}, headers=headers, timeout=30),
        "TOTP VALIDATE",
    )
    if not valid.get("isValid"):
        raise BenchError(f"TOTP enrolment refused the current code: {valid}")
    _check(requests.post(f"{me}/backup-codes", headers=headers, timeout=30), "backup codes")


def _give_consent(base: str, admin: Client, token: str) -> None:
    """Consent metadata by the admin client (client_credentials), then the user's receipt."""
    grant = _check(
        requests.post(
            f"{base}/oauth2/token",
            data={"grant_type": "client_credentials", "scope": ADMIN_SCOPES},
            auth=admin.auth,
            timeout=30,
        ),
        "client credentials grant",
    )
    admin_headers = {"Authorization": f"Bearer {grant['access_token']}"}
    api = f"{base}{CONSENT_API}"

    def post(path: str, body: dict[str, Any]) -> Any:
        return _check(requests.post(f"{api}{path}", json=body, headers=admin_headers, timeout=30), f"POST {path}")

    email = post("/pii-categories", {"piiCategory": "email", "displayName": "Email"})["piiCategoryId"]
    category = post("/purpose-categories", {"purposeCategory": "Service"})["purposeCategoryId"]
    purpose = post(
        "/purposes",
        {
            "purpose": "Account",
            "description": "Run the account",
            "group": "SIGNUP",
            "groupType": "SYSTEM",
            "piiCategories": [{"piiCategoryId": email, "mandatory": True}],
        },
    )["purposeId"]
    receipt = {
        "services": [
            {
                "service": "bench-app",
                "serviceDisplayName": "Bench app",
                "serviceDescription": "The benchmark's app",
                "purposes": [
                    {
                        "purposeId": purpose,
                        "purposeCategoryId": [category],
                        "consentType": "EXPLICIT",
                        "piiCategory": [{"piiCategoryId": email, "validity": "DATE_UNTIL:INDEFINITE"}],
                        "primaryPurpose": True,
                        "termination": "DATE_UNTIL:INDEFINITE",
                        "thirdPartyDisclosure": False,
                        "thirdPartyName": None,
                    }
                ],
            }
        ],
        "collectionMethod": "Web Form - My Account",
        "jurisdiction": "LK",
        "language": "en-US",
        "policyURL": "https://example.com/privacy",
    }
    _check(
        requests.post(api, json=receipt, headers={"Authorization": f"Bearer {token}"}, timeout=30),
        "consent receipt",
    )


def _patch(base: str, token: str, *operations: dict[str, Any]) -> None:
    response = requests.patch(
        f"{base}/scim2/Me",
        json={"schemas": [PATCH_OP], "Operations": list(operations)},
        headers={"Authorization": f"Bearer {token}", "Content-Type": SCIM_JSON, "Accept": SCIM_JSON},
        timeout=60,
    )
    _check(response, "PATCH /Me")


def user_setup(base: str, operator: Operator, refresh_grants: int) -> Tokens:
    """The users' own steps, against the running server at ``base`` (the tenant's root URL)."""
    first = password_grant(base, operator.app, USER)
    access = first["access_token"]
    _patch(
        base,
        access,
        {"op": "replace", "path": "name", "value": {"givenName": "Bench", "familyName": "Mark"}},
        {"op": "replace", "path": "nickName", "value": "bench"},
        {"op": "add", "path": "emails", "value": [{"value": "bench@example.com", "primary": True}]},
    )
    # The password grant is refused once MFA is on, so the refresh scenario's grants come first.
    refresh = [first["refresh_token"]]
    while len(refresh) < refresh_grants:
        refresh.append(password_grant(base, operator.app, USER)["refresh_token"])
    _enrol_mfa(base, access)
    _give_consent(base, operator.admin, access)
    large = password_grant(base, operator.app, LARGE_USER)["access_token"]
    _patch(
        base,
        large,
        {"op": "add", "path": "emails", "value": [{"value": f"u{i}@example.com", "type": "other"} for i in range(100)]},
        {
            "op": "add",
            "path": "addresses",
            "value": [
                {"streetAddress": f"{i} Bench Street", "locality": "Colombo", "postalCode": f"{i:05d}", "type": "other"}
                for i in range(20)
            ],
        },
    )  # fmt: skip
    return Tokens(access=access, large_access=large, refresh=refresh)

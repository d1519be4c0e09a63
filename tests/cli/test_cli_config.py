"""Configuration at start-up (issue 13): the CLI and the WSGI entry point refuse a mistake with one
line and no traceback, and ``scim-me config set`` gives the CLI the base URL the server uses."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli.support import PASSWORD
from tests.cli.support import Cli

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        (
            "SCIM_ME_SMTP_HOTS",
            "mail",
            "Error: unknown environment variable SCIM_ME_SMTP_HOTS (did you mean SCIM_ME_SMTP_HOST?)",
        ),
        (
            "SCIM_ME_ACCESS_TOKEN_LIFETIME",
            "abc",
            "Error: SCIM_ME_ACCESS_TOKEN_LIFETIME: expected an integer, got 'abc'",
        ),
        (
            "SCIM_ME_CONFIG",
            "/etc/scim-me/missing.toml",
            "Error: SCIM_ME_CONFIG names /etc/scim-me/missing.toml, which does not exist",
        ),
    ],
)
def test_the_cli_refuses_a_mistake_with_one_line(cli: Cli, variable: str, value: str, message: str) -> None:
    cli.env[variable] = value
    stderr = cli.fails("db", "upgrade")
    assert stderr.count("\n") == 1 and stderr.startswith(message), stderr


def test_invalid_toml_stops_the_cli_with_one_line(cli: Cli) -> None:
    config = cli.tmp_path / "scim-me.toml"
    config.write_text('base_url = "http://x\n', encoding="utf-8")
    cli.env["SCIM_ME_CONFIG"] = str(config)
    stderr = cli.fails("config", "check")
    assert stderr.count("\n") == 1 and stderr.startswith(f"Error: {config}: invalid TOML: "), stderr
    assert "(at line 1, column" in stderr


def test_the_wsgi_entry_point_refuses_a_mistake_with_one_line(cli: Cli) -> None:
    env = {**cli.env, "SCIM_ME_BSE_URL": "http://x"}
    result = subprocess.run(
        [sys.executable, "-c", "import wsgi"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 4
    assert result.stderr == (
        "scim-me: configuration error: unknown environment variable SCIM_ME_BSE_URL (did you mean SCIM_ME_BASE_URL?)\n"
    )


def test_config_set_gives_the_cli_the_served_base_url(ready: Cli) -> None:
    # What `make run PORT=8081` does: the base URL goes into the config file the CLI reads too.
    config = ready.tmp_path / "instance" / "scim-me.toml"
    ready.env["SCIM_ME_CONFIG"] = str(config)
    del ready.env["SCIM_ME_BASE_URL"]
    assert ready.ok("config", "set", "base_url", "http://127.0.0.1:8081") == f"{config}: base_url set\n"
    token = ready.ok("token", "--tenant", "acme", "--user", "kim").strip()
    payload = token.split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    assert claims["iss"] == "http://127.0.0.1:8081/t/acme/oauth2/token"
    assert ready.ok("config", "check") == f"configuration valid ({config})\n"
    assert "unknown setting bse_url (did you mean base_url?)" in ready.fails("config", "set", "bse_url", "x")


def test_maintenance_prune_reports_what_it_deleted(ready: Cli) -> None:
    out = ready.ok("maintenance", "prune")
    assert out.startswith("throttle ") and "codes 0" in out and "sessions 0" in out, out


def test_client_rotate_secret_replaces_the_secret_and_revokes_its_tokens(ready: Cli, app_on) -> None:
    out = ready.ok("client", "create", "--tenant", "acme", "--name", "Postman", "--grant", "password")
    client_id, old = out.splitlines()[0].split()[1], out.splitlines()[1].split()[1]
    client = app_on.test_client()

    def password_grant(secret: str):
        return client.post(
            "/t/acme/oauth2/token",
            data={"grant_type": "password", "username": "kim", "password": PASSWORD, "scope": "internal_login"},
            auth=(client_id, secret),
        )

    issued = password_grant(old)
    assert issued.status_code == 200, issued.json
    rotated = ready.ok("client", "rotate-secret", "--tenant", "acme", "--client-id", client_id).splitlines()
    assert rotated[0].startswith("client_secret: ") and "revoked" in rotated[1]
    new = rotated[0].split()[1]
    assert new != old and len(new) >= 40
    assert password_grant(old).status_code == 401
    assert password_grant(new).status_code == 200
    me = client.get("/t/acme/scim2/Me", headers={"Authorization": f"Bearer {issued.json['access_token']}"})
    assert me.status_code == 401  # the token the old secret obtained was revoked with it
    assert "no client" in ready.fails("client", "rotate-secret", "--tenant", "acme", "--client-id", "nope")

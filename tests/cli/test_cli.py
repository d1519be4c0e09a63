"""The ``scim-me`` operator CLI, run as the installed console script against a temp SQLite file.

The environment names every path (``SCIM_ME_CONFIG=`` (empty) keeps a developer's
``instance/scim-me.toml`` out), so these runs never touch the checkout's ``instance/`` folder.
"""

from __future__ import annotations

import base64
import json
import stat
import uuid
from typing import Any

import pytest

from scim_me.storage.migrations import MIGRATIONS
from tests.cli.support import PASSWORD
from tests.cli.support import Cli
from tests.factories import basic
from tests.factories import bearer
from tests.support.apps import build_app
from tests.support.live_server import REPO_ROOT


def _tenant_rows(cli: Cli) -> dict[str, list[str]]:
    rows = [line.split("\t") for line in cli.ok("tenant", "list").splitlines()]
    return {row[0]: row[1:] for row in rows}


def test_keys_init_writes_a_private_32_byte_key_once(cli: Cli) -> None:
    out = cli.ok("keys", "init")
    assert str(cli.key_file) in out
    assert stat.S_IMODE(cli.key_file.stat().st_mode) == 0o600
    text = cli.key_file.read_text(encoding="ascii").strip()
    assert len(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))) == 32

    again = cli.ok("keys", "init")
    assert "keeping" in again
    assert cli.key_file.read_text(encoding="ascii").strip() == text


def test_db_upgrade_without_a_key_fails_with_a_hint(cli: Cli) -> None:
    message = cli.fails("db", "upgrade")
    assert "keys init" in message


def test_db_upgrade_is_idempotent_and_creates_the_default_tenant(cli: Cli) -> None:
    cli.ok("keys", "init")
    first = cli.ok("db", "upgrade")
    assert f"applied {[version for version, _name, _step in MIGRATIONS]}" in first
    second = cli.ok("db", "upgrade")
    assert "up to date" in second
    assert "applied" not in second
    tenants = _tenant_rows(cli)
    assert list(tenants) == ["carbon.super"]
    assert tenants["carbon.super"][0] == "wso2"
    # The default tenant got a signing key: an application token can be minted for it.
    assert len(cli.ok("token").splitlines()) == 1
    # security.md T-AC-5: no default account and no default client (`make run`'s demo seed is
    # a separate, named step).
    assert cli.ok("user", "list", "--tenant", "carbon.super").strip() == ""
    assert cli.ok("client", "list", "--tenant", "carbon.super").strip() == ""


def test_tenant_create_and_list_show_the_dialect(ready: Cli) -> None:
    assert "created tenant beta (dialect wso2)" in ready.ok("tenant", "create", "beta")
    assert "created tenant gamma (dialect rfc)" in ready.ok("tenant", "create", "gamma", "--dialect", "rfc")
    tenants = _tenant_rows(ready)
    assert sorted(tenants) == ["acme", "beta", "carbon.super", "gamma"]
    assert tenants["beta"][0] == "wso2"
    assert tenants["gamma"][0] == "rfc"
    # Self-registration confirms the address unless the tenant is created without it.
    assert json.loads(tenants["beta"][1])["self_registration_confirm"] is True
    ready.ok("tenant", "create", "delta", "--self-registration", "open", "--no-self-registration-confirm")
    delta = json.loads(_tenant_rows(ready)["delta"][1])
    assert (delta["self_registration"], delta["self_registration_confirm"]) == ("open", False)


@pytest.mark.parametrize("name", ["acme", "ACME"])
def test_duplicate_tenant_fails_clearly(ready: Cli, name: str) -> None:
    message = ready.fails("tenant", "create", name)
    assert "already exists" in message
    assert sorted(_tenant_rows(ready)) == ["acme", "carbon.super"]


def test_invalid_tenant_name_fails_clearly(ready: Cli) -> None:
    assert "invalid tenant name" in ready.fails("tenant", "create", "bad_name!")


def test_tenant_update_changes_the_dialect_and_switches(ready: Cli) -> None:
    out = json.loads(ready.ok("tenant", "update", "acme", "--dialect", "rfc", "--self-delete"))
    # Features add settings of their own: these are the ones this command names.
    assert (
        out.items()
        >= {
            "name": "acme",
            "dialect": "rfc",
            "self_registration": "off",
            "self_delete": True,
            "password_update_in_me": True,
        }.items()
    )
    assert out["verify_email_on_update"] is False
    verify = json.loads(ready.ok("tenant", "update", "acme", "--verify-email-on-update"))
    assert verify["verify_email_on_update"] is True and verify["self_delete"] is True
    assert verify["self_registration_confirm"] is True
    unconfirmed = json.loads(ready.ok("tenant", "update", "acme", "--no-self-registration-confirm"))
    assert unconfirmed["self_registration_confirm"] is False and unconfirmed["verify_email_on_update"] is True
    row = _tenant_rows(ready)["acme"]
    assert row[0] == "rfc"
    assert json.loads(row[1])["self_delete"] is True
    assert "no tenant" in ready.fails("tenant", "update", "nope", "--dialect", "rfc")


@pytest.mark.parametrize("user_name", ["", "   "])
def test_user_create_refuses_an_empty_username(ready: Cli, user_name: str) -> None:
    message = ready.fails("user", "create", "--tenant", "acme", "--username", user_name, "--password", PASSWORD)
    assert "username must not be empty" in message
    assert [line.split("\t")[1] for line in ready.ok("user", "list", "--tenant", "acme").splitlines()] == ["kim"]


def test_user_create_list_set_password_delete(ready: Cli) -> None:
    listed = ready.ok("user", "list", "--tenant", "acme").splitlines()
    assert len(listed) == 1
    user_id, user_name = listed[0].split("\t")
    assert user_name == "kim"
    assert str(uuid.UUID(user_id)) == user_id

    created = ready.ok(
        "user", "create", "--tenant", "acme", "--username", "lee", "--password", PASSWORD, "--email", "lee@example.com"
    ).strip()
    assert str(uuid.UUID(created)) == created
    assert [line.split("\t")[1] for line in ready.ok("user", "list", "--tenant", "acme").splitlines()] == ["kim", "lee"]
    assert ready.ok("user", "list").strip() == ""  # the default tenant has no users

    taken = ready.fails("user", "create", "--tenant", "acme", "--username", "KIM", "--password", PASSWORD)
    assert "already taken" in taken
    assert "no tenant" in ready.fails("user", "create", "--tenant", "nope", "--username", "x", "--password", PASSWORD)
    assert ready.fails("user", "create", "--tenant", "acme", "--username", "short", "--password", "abc")

    assert "password changed" in ready.ok(
        "user", "set-password", "--tenant", "acme", "--username", "kim", "--password", "another-secret-7"
    )
    assert "no user" in ready.fails(
        "user", "set-password", "--tenant", "acme", "--username", "ghost", "--password", "another-secret-7"
    )

    app = build_app(ready.database_url, ready.tmp_path)
    try:
        client = app.test_client()
        assert client.get("/t/acme/scim2/Me", headers=basic("kim", PASSWORD)).status_code == 401
        ok = client.get("/t/acme/scim2/Me", headers=basic("kim", "another-secret-7"))
        assert ok.status_code == 200, ok.json
        assert ok.json["id"] == user_id
        assert client.get("/t/acme/scim2/Me", headers=basic("kim", PASSWORD)).status_code == 401  # counted
    finally:
        app.extensions["scim_me"].db.close_all()

    assert "deleted" in ready.ok("user", "delete", "--tenant", "acme", "--username", "kim")
    assert [line.split("\t")[1] for line in ready.ok("user", "list", "--tenant", "acme").splitlines()] == ["lee"]
    assert "no user" in ready.fails("user", "delete", "--tenant", "acme", "--username", "kim")
    # The failed sign-in above was counted against the name (the lockout table):
    # the count went with the user, so the next kim has nothing to unlock.
    ready.ok("user", "create", "--tenant", "acme", "--username", "kim", "--password", PASSWORD)
    assert ready.ok("user", "unlock", "--tenant", "acme", "--username", "kim").strip() == "not locked"


def test_token_prints_one_bare_jwt_that_the_app_accepts(ready: Cli, app_on: Any) -> None:
    result = ready("token", "--tenant", "acme", "--user", "kim")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.split("\n")
    assert len(lines) == 2 and lines[1] == "", result.stdout  # exactly one line, newline-terminated
    token = lines[0]
    assert token.count(".") == 2 and " " not in token

    response = app_on.test_client().get("/t/acme/scim2/Me", headers=bearer(token))
    assert response.status_code == 200, response.json
    assert response.json["userName"] == "kim"
    # The token names its tenant: another tenant's /Me refuses it.
    ready.ok("tenant", "create", "other")
    assert app_on.test_client().get("/t/other/scim2/Me", headers=bearer(token)).status_code == 401


def test_application_token_cannot_read_me(ready: Cli, app_on: Any) -> None:
    token = ready.ok("token", "--tenant", "acme").strip()
    response = app_on.test_client().get("/t/acme/scim2/Me", headers=bearer(token))
    assert response.status_code == 403, response.json


def test_token_lifetime_is_honoured_and_must_be_positive(ready: Cli) -> None:
    token = ready.ok("token", "--tenant", "acme", "--user", "kim", "--lifetime", "60").strip()
    payload = token.split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    assert claims["exp"] - claims["iat"] == 60
    result = ready("token", "--tenant", "acme", "--user", "kim", "--lifetime", "0")
    assert result.returncode != 0
    assert result.stdout == ""


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("token", "--tenant", "acme", "--user", "ghost"), "no user"),
        (("token", "--tenant", "nope", "--user", "kim"), "no tenant"),
    ],
)
def test_token_for_unknown_user_or_tenant_fails(ready: Cli, args: tuple[str, ...], message: str) -> None:
    result = ready(*args)
    assert result.returncode != 0
    assert result.stdout == ""
    assert message in result.stderr


def test_client_create_public_spa_list_and_delete(ready: Cli) -> None:
    out = ready.ok(
        "client", "create", "--tenant", "acme", "--name", "My SPA", "--public",
        "--redirect-uri", "http://localhost:5173/callback", "--allowed-origin", "http://LOCALHOST:5173/",
    )  # fmt: skip
    assert out.startswith("client_id: ") and "client_secret" not in out
    client_id = out.split()[1]
    rows = [line.split("\t") for line in ready.ok("client", "list", "--tenant", "acme").splitlines()]
    assert rows == [
        [
            client_id, "My SPA", "public", "authorization_code refresh_token",
            "http://localhost:5173/callback", "http://localhost:5173",
        ]
    ]  # fmt: skip
    assert ready.ok("client", "delete", "--tenant", "acme", "--client-id", client_id).strip() == "deleted"
    assert ready.ok("client", "list", "--tenant", "acme") == ""
    assert "no client" in ready.fails("client", "delete", "--tenant", "acme", "--client-id", client_id)


def test_confidential_client_secret_is_shown_once_and_never_listed(ready: Cli) -> None:
    out = ready.ok("client", "create", "--tenant", "acme", "--name", "Postman", "--grant", "password")
    secret = out.splitlines()[1].split()[1]
    assert len(secret) >= 40
    assert secret not in ready.ok("client", "list", "--tenant", "acme")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--public", "--grant", "client_credentials"), "confidential"),
        (("--redirect-uri", "http://app.example/cb"), "https"),
        (("--public",), "redirect-uri"),
        (("--redirect-uri", "https://app.example/cb", "--allowed-origin", "https://app.example/x"), "scheme://host"),
    ],
)
def test_client_create_refuses_unsafe_definitions(ready: Cli, args: tuple[str, ...], message: str) -> None:
    assert message in ready.fails("client", "create", "--tenant", "acme", "--name", "x", *args)


def test_client_discoverable_in_the_app_launcher_with_create_and_update(ready: Cli) -> None:
    out = ready.ok(
        "client", "create", "--tenant", "acme", "--name", "Wiki", "--public",
        "--redirect-uri", "https://wiki.example/cb", "--discoverable", "--access-url", "https://wiki.example/",
    )  # fmt: skip
    client_id = out.split()[1]
    row = ready.ok("client", "list", "--tenant", "acme").strip().split("\t")
    assert row[0] == client_id and row[-1] == "discoverable https://wiki.example/"
    assert "needs an --access-url" in ready.fails(
        "client", "create", "--tenant", "acme", "--name", "x", "--grant", "password", "--discoverable"
    )
    hidden = ready.ok(
        "client", "update", "--tenant", "acme", "--client-id", client_id, "--not-discoverable", "--name", "Team wiki"
    )
    assert hidden.strip() == f"updated {client_id} (Team wiki): not discoverable"
    assert "discoverable" not in ready.ok("client", "list", "--tenant", "acme")
    moved = ready.ok(
        "client", "update", "--tenant", "acme", "--client-id", client_id,
        "--discoverable", "--access-url", "https://wiki.example/home",
    )  # fmt: skip
    assert moved.strip() == f"updated {client_id} (Team wiki): discoverable, https://wiki.example/home"
    assert "https" in ready.fails(
        "client", "update", "--tenant", "acme", "--client-id", client_id, "--access-url", "http://wiki.example/"
    )
    assert "no client" in ready.fails("client", "update", "--tenant", "acme", "--client-id", "nope", "--name", "x")


def test_demo_seed_is_idempotent_and_prints_the_demo_clients(ready: Cli) -> None:
    first = ready.ok("demo", "seed").splitlines()
    second = ready.ok("demo", "seed").splitlines()
    assert first[0] == second[0] == "demo tenant demo, user kim / demo-password-2026"
    assert first[1] == second[1] and first[1].startswith("demo SPA client (public, code + PKCE")
    assert "secret (shown once)" in first[2]
    assert "secret" in second[2] and "shown once" not in second[2]
    assert first[3].startswith("demo consent-admin client (client_credentials): ") and "secret (shown once)" in first[3]
    assert second[3].startswith("demo consent-admin client: ") and "shown once" not in second[3]
    assert first[4].startswith("demo recovery client (client_credentials): ") and "secret (shown once)" in first[4]
    assert second[4].startswith("demo recovery client: ") and "shown once" not in second[4]
    admin = "demo admin user admin / tour-guide-keys-2026 (role 'admin'): HTTP Basic on the admin SCIM endpoints:"
    assert first[5] == second[5] == admin
    assert first[6] == second[6] and first[6].endswith("/t/demo/scim2/Users")
    assert first[7].startswith("demo-admin client (client_credentials, admin scopes): ") and "shown once" in first[7]
    assert second[7].startswith("demo-admin client: ") and "shown once" not in second[7]
    assert "grant_type=client_credentials" in first[8]
    rows = ready.ok("client", "list", "--tenant", "demo").splitlines()
    names = sorted(row.split("\t")[1] for row in rows)
    assert names == ["demo-admin", "demo-consent-admin", "demo-postman", "demo-recovery-app", "demo-spa"]
    listed = [row.split("\t") for row in rows if "\tdiscoverable " in row]
    assert [(row[1], row[-1]) for row in listed] == [("demo-spa", "discoverable http://localhost:5173/")]


def test_tenant_update_sets_password_policy_settings(ready: Cli) -> None:
    out = json.loads(
        ready.ok(
            "tenant", "update", "acme", "--set", "password_history_count=3", "--set", "password_blocklist=false",
            "--set", "change_password_scope=internal_user_password_update",
        )
    )  # fmt: skip
    assert out["password_history_count"] == 3
    assert out["password_blocklist"] is False
    assert out["change_password_scope"] == "internal_user_password_update"
    assert "unknown tenant setting" in ready.fails("tenant", "update", "acme", "--set", "nope=1")
    assert "integer" in ready.fails("tenant", "update", "acme", "--set", "password_min_length=many")
    assert ">= 0" in ready.fails("tenant", "update", "acme", "--set", "password_min_digits=-1")
    assert "change_password_scope" in ready.fails("tenant", "update", "acme", "--set", "change_password_scope=x")


def test_cli_passwords_follow_the_tenant_policy(ready: Cli) -> None:
    common = ready.fails("user", "create", "--tenant", "acme", "--username", "lee", "--password", "baseball")
    assert "commonPassword" in common and "baseball" not in common
    own = ready.fails("user", "create", "--tenant", "acme", "--username", "leeroy", "--password", "leeroy-jenkins")
    assert "contextWords" in own
    ready.ok("tenant", "update", "acme", "--set", "password_history_count=2", "--set", "password_min_age_hours=48")
    # An operator's reset ignores the minimum age, but not the history rule.
    assert "history" in ready.fails(
        "user", "set-password", "--tenant", "acme", "--username", "kim", "--password", PASSWORD
    )
    assert "password changed" in ready.ok(
        "user", "set-password", "--tenant", "acme", "--username", "kim", "--password", "fresh-start-2027"
    )
    assert "history" in ready.fails(
        "user", "set-password", "--tenant", "acme", "--username", "kim", "--password", PASSWORD
    )


def test_user_unlock(ready: Cli) -> None:
    assert ready.ok("user", "unlock", "--tenant", "acme", "--username", "kim").strip() == "not locked"
    assert "no user" in ready.fails("user", "unlock", "--tenant", "acme", "--username", "ghost")


def test_user_force_reset_mails_a_link_and_refuses_the_old_password(ready: Cli, app_on: Any) -> None:
    """Issue 18: ``scim-me user force-reset`` (WSO2's forcePasswordReset): the old password stops
    working at once, the mailed link's page sets a new one, and then it signs in."""
    import re
    from email import message_from_bytes
    from email.policy import default

    outbox = ready.tmp_path / "outbox"
    ready.env["SCIM_ME_MAIL_OUTBOX_DIR"] = str(outbox)
    ready.ok(
        "user", "create", "--tenant", "acme", "--username", "ann", "--password", PASSWORD, "--email", "ann@example.com"
    )
    client = app_on.test_client()
    assert client.get("/t/acme/scim2/Me", headers=basic("ann", PASSWORD)).status_code == 200
    assert "reset link was mailed" in ready.ok("user", "force-reset", "--tenant", "acme", "--username", "ann")
    refused = client.get("/t/acme/scim2/Me", headers=basic("ann", PASSWORD))
    assert refused.status_code == 401
    assert "reset link" in refused.get_json()["detail"]
    (path,) = outbox.glob("*.eml")
    mail = message_from_bytes(path.read_bytes(), policy=default)
    assert str(mail["To"]) == "ann@example.com"
    link = re.search(
        r"(http://localhost/t/acme/accountrecoveryendpoint/password-reset)#code=([\w-]+)", mail.get_content()
    )
    assert link, mail.get_content()
    page = client.get("/t/acme/accountrecoveryendpoint/password-reset")
    assert page.status_code == 200 and "script-src 'unsafe-inline'" in page.headers["Content-Security-Policy"]
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True)).group(1)
    form = {"csrf_token": csrf, "code": link.group(2), "password": "fresh-start-2027", "password2": "fresh-start-2027"}
    done = client.post("/t/acme/accountrecoveryendpoint/password-reset", data=form)
    assert done.status_code == 200, done.get_data(as_text=True)
    assert client.get("/t/acme/scim2/Me", headers=basic("ann", "fresh-start-2027")).status_code == 200
    # The link works once.
    again = client.post("/t/acme/accountrecoveryendpoint/password-reset", data=form)
    assert again.status_code == 400


def test_user_force_reset_without_an_address_warns(ready: Cli) -> None:
    result = ready("user", "force-reset", "--tenant", "acme", "--username", "kim")
    assert result.returncode == 0
    assert "no e-mail address" in result.stderr
    assert "password changed" in ready.ok(
        "user", "set-password", "--tenant", "acme", "--username", "kim", "--password", "fresh-start-2027"
    )


def _token_status(app: Any, values: dict[str, str], client: str) -> int:
    """The token endpoint's answer to the environment's ``client`` (client_id variable prefix)."""
    client_id, secret = values[f"{client}client_id"], values[f"{client}client_secret"]
    form = {"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret}
    if client == "":
        form = {**form, "grant_type": "password", "username": values["username"], "password": values["password"]}
    return int(app.test_client().post(f"{values['tenant_path']}/oauth2/token", data=form).status_code)


def test_demo_seed_writes_a_postman_environment_whose_secrets_work(ready: Cli, app_on: Any) -> None:
    """What `make run` writes and `make newman` runs with (issue 13: `make newman` as documented
    needed the consent-admin client nobody passed)."""
    committed = json.loads((REPO_ROOT / "postman" / "scim-me.postman_environment.json").read_text(encoding="utf-8"))
    path = ready.tmp_path / "demo.postman_environment.json"
    first = ready.ok("demo", "seed", "--postman-environment", str(path))
    assert first.count("secret (shown once)") == 4 and first.endswith(f"Postman environment: {path}\n")
    document = json.loads(path.read_text(encoding="utf-8"))
    assert [v["key"] for v in document["values"]] == [v["key"] for v in committed["values"]]
    assert [v["type"] for v in document["values"]] == [v["type"] for v in committed["values"]]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    values = {v["key"]: v["value"] for v in document["values"]}
    assert values["tenant_path"] == "/t/demo" and values["username"] == "kim"
    clients = ("", "consent_admin_", "recovery_", "admin_")
    assert [_token_status(app_on, values, client) for client in clients] == [200] * 4

    # Seeded again with the file: the secrets are read back, not rotated.
    again = ready.ok("demo", "seed", "--postman-environment", str(path))
    assert "shown once" not in again and again.count(f"(secret in {path})") == 4
    assert json.loads(path.read_text(encoding="utf-8")) == document

    # The file lost: the demo clients get new secrets (shown once), the old ones stop working.
    other = ready.tmp_path / "elsewhere.json"
    rotated = ready.ok("demo", "seed", "--postman-environment", str(other))
    assert rotated.count("new secret (shown once)") == 4
    fresh = {v["key"]: v["value"] for v in json.loads(other.read_text(encoding="utf-8"))["values"]}
    assert [_token_status(app_on, fresh, client) for client in clients] == [200] * 4
    assert [_token_status(app_on, values, client) for client in clients] == [401] * 4


def _kid(token: str) -> str:
    header = token.split(".")[0]
    return str(json.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4)))["kid"])


def test_keys_rotate_signs_with_a_new_key_and_the_old_tokens_keep_working(ready: Cli, app_on: Any) -> None:
    client = app_on.test_client()
    before = ready.ok("token", "--tenant", "acme", "--user", "kim").strip()
    assert client.get("/t/acme/scim2/Me", headers=bearer(before)).status_code == 200  # the app cached the keys
    out = ready.ok("keys", "rotate", "--tenant", "acme")
    kid = out.split()[-4]
    assert out == f"tenant acme signs with the new key {kid} from now on\n" and kid != _kid(before)
    after = ready.ok("token", "--tenant", "acme", "--user", "kim").strip()
    assert _kid(after) == kid
    # The running app meets the new kid, re-reads the keys once, and still accepts the old token.
    assert client.get("/t/acme/scim2/Me", headers=bearer(after)).status_code == 200
    assert client.get("/t/acme/scim2/Me", headers=bearer(before)).status_code == 200
    published = {key["kid"]: key["alg"] for key in client.get("/t/acme/oauth2/jwks").json["keys"]}
    assert published == {_kid(before): "RS256", kid: "RS256"}
    assert "no tenant 'nope'" in ready.fails("keys", "rotate", "--tenant", "nope")
    es256 = ready.ok("keys", "rotate", "--tenant", "acme", "--alg", "ES256").split()[-4]
    assert _kid(ready.ok("token", "--tenant", "acme", "--user", "kim").strip()) == es256

"""Every command that acts on one user finds it the same way (cli.py ``_target_user``): the
tenant named by ``--tenant`` (else the default tenant), then the user; either missing is exit
status 1 with one message on stderr and nothing on stdout."""

from __future__ import annotations

import pytest

from tests.cli.support import Cli

NO_TENANT = "Error: no tenant 'nope' (create it with `scim-me tenant create nope`)\n"

COMMANDS = {
    "set-password": ("user", "set-password", "--password", "another-secret-7"),
    "unlock": ("user", "unlock"),
    "mfa-unlock": ("user", "mfa-unlock"),
    "mfa-reset": ("user", "mfa-reset"),
    "delete": ("user", "delete"),
    "token": ("token",),
}


def _args(command: str, username: str, *tenant: str) -> tuple[str, ...]:
    user_flag = "--user" if command == "token" else "--username"
    return (*COMMANDS[command], *tenant, user_flag, username)


def _failure(cli: Cli, *args: str) -> str:
    result = cli(*args)
    assert (result.returncode, result.stdout) == (1, ""), (args, result.stdout, result.stderr)
    return result.stderr


@pytest.mark.parametrize("command", list(COMMANDS))
def test_an_unknown_user_or_tenant_fails_alike_in_every_command(ready: Cli, command: str) -> None:
    assert _failure(ready, *_args(command, "ghost", "--tenant", "acme")) == "Error: no user 'ghost' in tenant acme\n"
    assert _failure(ready, *_args(command, "kim", "--tenant", "nope")) == NO_TENANT


def test_without_a_tenant_the_default_tenant_is_searched(ready: Cli) -> None:
    # kim exists in acme only: the default tenant (carbon.super) has no such user.
    assert _failure(ready, *_args("unlock", "kim")) == "Error: no user 'kim' in tenant carbon.super\n"
    assert ready.ok(*_args("unlock", "kim", "--tenant", "acme")).strip() == "not locked"

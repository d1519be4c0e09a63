"""``scim-me tenant update --set KEY=VALUE`` reads the value as the setting's type with the one
conversion the environment uses too (config.py ``parse_setting``); only the CLI is strict about
booleans, and its messages name the setting."""

from __future__ import annotations

import json

import pytest

from tests.cli.support import Cli


def _update(cli: Cli, *assignments: str) -> dict[str, object]:
    args = [part for assignment in assignments for part in ("--set", assignment)]
    return json.loads(cli.ok("tenant", "update", "acme", *args))  # type: ignore[no-any-return]


def test_values_take_the_type_of_the_setting(ready: Cli) -> None:
    out = _update(
        ready,
        "password_blocklist= Off ",
        "password_context_words=NO",
        "verify_email_on_update=yes",
        "password_history_count= 4 ",
        "change_password_scope= internal_user_password_update ",
    )
    assert out["password_blocklist"] is False
    assert out["password_context_words"] is False
    assert out["verify_email_on_update"] is True
    assert out["password_history_count"] == 4
    assert out["change_password_scope"] == "internal_user_password_update"


@pytest.mark.parametrize(
    ("assignment", "message"),
    [
        ("password_blocklist=maybe", "Error: password_blocklist takes true or false\n"),
        ("verify_email_on_update=", "Error: verify_email_on_update takes true or false\n"),
        ("password_history_count=many", "Error: password_history_count takes an integer\n"),
        ("password_history_count=1.5", "Error: password_history_count takes an integer\n"),
        ("nope=1", "Error: unknown tenant setting in 'nope=1'\n"),
    ],
)
def test_a_value_of_the_wrong_type_names_the_setting(ready: Cli, assignment: str, message: str) -> None:
    result = ready("tenant", "update", "acme", "--set", assignment)
    assert (result.returncode, result.stdout, result.stderr) == (1, "", message)


def test_switches_with_their_own_flag_can_be_set_with_set_too(ready: Cli) -> None:
    # These four have flags of their own; through --set they once crashed with a traceback.
    out = _update(ready, "self_delete=no", "self_registration=open", "password_update_in_me=false")
    assert (out["self_delete"], out["self_registration"], out["password_update_in_me"]) == (False, "open", False)
    agreeing = json.loads(ready.ok("tenant", "update", "acme", "--self-delete", "--set", "self_delete=yes"))
    assert agreeing["self_delete"] is True


def test_a_flag_and_a_set_that_disagree_are_refused(ready: Cli) -> None:
    message = ready.fails("tenant", "update", "acme", "--no-self-delete", "--set", "self_delete=yes")
    assert message == "Error: self_delete is given twice with different values\n"

"""config.py: environment text becomes typed settings through ``parse_setting``, the conversion
the CLI's ``tenant update --set`` uses too."""

from __future__ import annotations

import re

import pytest

from scim_me.config import ConfigError
from scim_me.config import Settings
from scim_me.config import SettingTextError
from scim_me.config import parse_setting

NO_FILE = {"SCIM_ME_CONFIG": "/nonexistent"}


@pytest.mark.parametrize(
    ("raw", "default", "value"),
    [
        ("true", False, True),
        (" YES ", False, True),
        ("On", False, True),
        ("1", False, True),
        ("false", True, False),
        ("0", True, False),
        ("off", True, False),
        ("no", True, False),
        ("42", 0, 42),
        (" -7 ", 0, -7),
        (" kept as is ", "", " kept as is "),
    ],
)
def test_text_takes_the_type_of_the_default(raw, default, value):
    parsed = parse_setting(raw, default)
    assert parsed == value and type(parsed) is type(value)


@pytest.mark.parametrize(
    ("raw", "default", "expected"),
    [("maybe", False, "true or false"), ("", True, "true or false"), ("4.5", 0, "an integer"), ("x", 0, "an integer")],
)
def test_text_of_another_type_says_what_was_expected(raw, default, expected):
    with pytest.raises(SettingTextError) as caught:
        parse_setting(raw, default)
    assert caught.value.expected == expected


@pytest.mark.parametrize("raw", ["maybe", "", "enabled"])
def test_without_strict_bool_any_other_word_is_false(raw):
    assert parse_setting(raw, True, strict_bool=False) is False


def test_the_environment_is_read_through_the_conversion():
    settings = Settings.load(
        environ={
            **NO_FILE,
            "SCIM_ME_MFA_ALLOW_BASIC": " Yes ",
            "SCIM_ME_TOKEN_LEEWAY": "5",
            "SCIM_ME_MAIL_FROM": " x <x@example.com>",
        }
    )
    assert (settings.mfa_allow_basic, settings.token_leeway, settings.mail_from) == (True, 5, " x <x@example.com>")
    # The environment has always read an unknown word as false rather than refusing to start.
    assert Settings.load(environ={**NO_FILE, "SCIM_ME_MFA_ALLOW_BASIC": "enabled"}).mfa_allow_basic is False


def test_an_integer_setting_that_is_not_an_integer_stops_the_load():
    with pytest.raises(ConfigError, match=re.escape("expected an integer, got 'soon'")):
        Settings.load(environ={**NO_FILE, "SCIM_ME_TOKEN_LEEWAY": "soon"})

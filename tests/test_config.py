"""config.py: environment text becomes typed settings through ``parse_setting``, the conversion
the CLI's ``tenant update --set`` uses too."""

from __future__ import annotations

import re

import pytest

from scim_me.config import ConfigError
from scim_me.config import Settings
from scim_me.config import SettingTextError
from scim_me.config import parse_setting
from scim_me.config import write_setting

NO_FILE = {"SCIM_ME_CONFIG": ""}


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


@pytest.mark.parametrize("raw", ["maybe", "", "enabled", "disable"])
def test_an_environment_boolean_that_is_no_boolean_word_stops_the_load(raw):
    # A typo must not turn a protection off (or on): it read as false before.
    with pytest.raises(ConfigError) as caught:
        Settings.load(environ={**NO_FILE, "SCIM_ME_MFA_ALLOW_BASIC": raw})
    assert str(caught.value) == f"SCIM_ME_MFA_ALLOW_BASIC: expected true or false, got {raw!r}"


@pytest.mark.parametrize(
    ("raw", "expected"), [("On", True), (" yes ", True), ("1", True), ("OFF", False), ("0", False)]
)
def test_an_environment_boolean_reads_its_words_in_any_case(raw, expected):
    settings = Settings.load(environ={**NO_FILE, "SCIM_ME_MFA_ALLOW_BASIC": raw})
    assert settings.mfa_allow_basic is expected


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


def test_an_integer_setting_that_is_not_an_integer_stops_the_load():
    with pytest.raises(ConfigError, match=re.escape("expected an integer, got 'soon'")):
        Settings.load(environ={**NO_FILE, "SCIM_ME_TOKEN_LEEWAY": "soon"})


# Configuration mistakes (issue 13): each stops the load with one line that names it.


def one_line(exc: pytest.ExceptionInfo[ConfigError]) -> str:
    message = str(exc.value)
    assert "\n" not in message
    return message


def write_toml(tmp_path, text: str):
    path = tmp_path / "scim-me.toml"
    path.write_text(text, encoding="utf-8")
    return {"SCIM_ME_CONFIG": str(path)}, path


def test_an_unknown_key_in_the_file_names_it_and_the_nearest_valid_key(tmp_path):
    env, path = write_toml(tmp_path, 'bse_url = "https://id.example.com"\nsmtp_hots = "mail"\nfrobnicate = 1\n')
    with pytest.raises(ConfigError) as caught:
        Settings.load(environ=env)
    assert one_line(caught) == (
        f"{path}: unknown settings bse_url (did you mean base_url?), frobnicate, smtp_hots (did you mean smtp_host?)"
    )


def test_an_unknown_variable_names_it_and_the_nearest_valid_variable():
    with pytest.raises(ConfigError) as caught:
        Settings.load(environ={**NO_FILE, "SCIM_ME_BSE_URL": "https://id.example.com"})
    assert one_line(caught) == "unknown environment variable SCIM_ME_BSE_URL (did you mean SCIM_ME_BASE_URL?)"


def test_the_test_suite_and_bench_variables_are_not_settings():
    env = {**NO_FILE, "SCIM_ME_TEST_POSTGRES_URL": "postgresql://x", "SCIM_ME_BENCH_POSTGRES_URL": "x"}
    assert Settings.load(environ=env).base_url == "http://127.0.0.1:8080"


def test_a_missing_config_file_named_explicitly_is_an_error(tmp_path):
    missing = tmp_path / "scim-me.tmol"
    with pytest.raises(ConfigError) as caught:
        Settings.load(environ={"SCIM_ME_CONFIG": str(missing)})
    assert one_line(caught) == f"SCIM_ME_CONFIG names {missing}, which does not exist (empty SCIM_ME_CONFIG: no file)"


def test_an_empty_config_variable_reads_no_file():
    assert Settings.load(environ={"SCIM_ME_CONFIG": ""}).token_leeway == 30


def test_invalid_toml_is_one_line_with_the_position(tmp_path):
    env, path = write_toml(tmp_path, 'base_url = "https://id.example.com"\naccess_token_lifetime = = 5\n')
    with pytest.raises(ConfigError) as caught:
        Settings.load(environ=env)
    message = one_line(caught)
    assert message.startswith(f"{path}: invalid TOML: ") and "line 2, column" in message


def test_a_type_error_in_the_environment_names_the_variable():
    with pytest.raises(ConfigError) as caught:
        Settings.load(environ={**NO_FILE, "SCIM_ME_ACCESS_TOKEN_LIFETIME": "abc"})
    assert one_line(caught) == "SCIM_ME_ACCESS_TOKEN_LIFETIME: expected an integer, got 'abc'"


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('access_token_lifetime = "abc"', "access_token_lifetime: expected an integer, got 'abc'"),
        ("mfa_allow_basic = 1", "mfa_allow_basic: expected true or false, got 1"),
        ("token_leeway = true", "token_leeway: expected an integer, got True"),
        ("base_url = 8080", "base_url: expected a string, got 8080"),
        ("trusted_proxies = 10", "trusted_proxies: expected a string or a list, got 10"),
    ],
)
def test_a_type_error_in_the_file_names_the_key(tmp_path, line, message):
    env, _path = write_toml(tmp_path, line + "\n")
    with pytest.raises(ConfigError) as caught:
        Settings.load(environ=env)
    assert one_line(caught) == message


def test_lists_in_the_file_become_comma_separated_settings(tmp_path):
    env, _path = write_toml(tmp_path, 'trusted_proxies = ["10.0.0.1", "192.168.0.0/24"]\n')
    assert Settings.load(environ=env).trusted_proxies == "10.0.0.1,192.168.0.0/24"


def test_an_unknown_override_is_refused():
    with pytest.raises(ConfigError, match=re.escape("unknown setting bse_url (did you mean base_url?)")):
        Settings.load({"bse_url": "x"}, environ=NO_FILE)


def test_write_setting_replaces_the_key_keeps_the_rest_and_creates_the_file_private(tmp_path):
    path = tmp_path / "sub" / "scim-me.toml"
    assert write_setting(path, "base_url", "http://127.0.0.1:8081") == "http://127.0.0.1:8081"
    assert path.stat().st_mode & 0o777 == 0o600
    path.write_text(path.read_text() + "# kept\ntoken_leeway = 5\n")
    write_setting(path, "base_url", 'http://h:1/"q"')
    write_setting(path, "mfa_allow_basic", "yes")
    assert path.read_text() == 'base_url = "http://h:1/\\"q\\""\n# kept\ntoken_leeway = 5\nmfa_allow_basic = true\n'
    settings = Settings.load(environ={"SCIM_ME_CONFIG": str(path)})
    assert (settings.base_url, settings.token_leeway, settings.mfa_allow_basic) == ('http://h:1/"q"', 5, True)


@pytest.mark.parametrize(
    ("key", "text", "message"),
    [
        ("bse_url", "x", "unknown setting bse_url (did you mean base_url?)"),
        ("token_leeway", "soon", "token_leeway: expected an integer, got 'soon'"),
    ],
)
def test_write_setting_refuses_unknown_keys_and_wrong_types(tmp_path, key, text, message):
    with pytest.raises(ConfigError) as caught:
        write_setting(tmp_path / "scim-me.toml", key, text)
    assert one_line(caught) == message
    assert not (tmp_path / "scim-me.toml").exists()


def test_an_unknown_log_level_stops_the_load():
    with pytest.raises(ConfigError) as caught:
        Settings.load(environ={**NO_FILE, "SCIM_ME_LOG_LEVEL": "LOUD"})
    assert str(caught.value) == "log_level must be DEBUG, INFO, WARNING, ERROR or CRITICAL"
    assert Settings.load(environ={**NO_FILE, "SCIM_ME_LOG_LEVEL": "warning"}).log_level == "warning"

"""Each password-policy rule on its own (core/password_policy.py), and the shipped blocklist."""

from __future__ import annotations

import unicodedata
from datetime import datetime
from datetime import timedelta

import pytest

from scim_me.auth.blocklist import common_passwords
from scim_me.core.password_policy import PasswordPolicy
from scim_me.core.password_policy import PolicyViolation
from scim_me.core.password_policy import check_new_password
from scim_me.core.password_policy import context_words
from scim_me.core.password_policy import expiry_time

NIST = PasswordPolicy()
T0 = datetime(2026, 12, 1, 12, 0, 0)


def rule_of(password: object, policy: PasswordPolicy = NIST, **kwargs: object) -> str:
    with pytest.raises(PolicyViolation) as caught:
        check_new_password(password, policy, **kwargs)  # type: ignore[arg-type]
    violation = caught.value
    assert violation.scim_type == "invalidValue"
    assert f"({violation.rule})" in violation.detail
    if isinstance(password, str) and len(password) >= 4:
        assert password not in violation.detail  # the message never repeats the password
    return violation.rule


def test_nist_defaults_minimum_8_and_64_accepted_without_truncation():
    assert rule_of("seven77") == "minLength"
    assert check_new_password("eight888", NIST) == "eight888"
    passphrase = "correct horse battery staple " * 2 + "abcdef"
    assert len(passphrase) == 64
    assert check_new_password(passphrase, NIST) == passphrase  # whole, not truncated
    emoji = "\U0001f600" * 64  # 64 code points, 256 bytes in UTF-8
    assert check_new_password(emoji, NIST) == emoji
    assert check_new_password("x" * 200 + "-y", NIST) == "x" * 200 + "-y"


def test_max_length_is_counted_in_code_points():
    policy = PasswordPolicy(max_length=10)
    assert check_new_password("\u00e9" * 10, policy)
    assert rule_of("\u00e9" * 11, policy) == "maxLength"


def test_unicode_is_nfkc_normalised():
    decomposed = unicodedata.normalize("NFD", "caf\u00e9-cr\u00e8me-br\u00fbl\u00e9e")
    assert check_new_password(decomposed, NIST) == "caf\u00e9-cr\u00e8me-br\u00fbl\u00e9e"
    # NFKC folds the full-width digits the length rule counts
    assert check_new_password("\uff11\uff12\uff13\uff14abcd-x", NIST) == "1234abcd-x"


def test_not_a_string():
    assert rule_of(12345678) == "type"
    assert rule_of(None) == "type"


@pytest.mark.parametrize(
    ("policy", "bad", "good", "rule"),
    [
        (PasswordPolicy(min_upper=2), "only-one-Upper", "Two-Upper-Case", "upperCase"),
        (PasswordPolicy(min_lower=3), "ALMOST-ALL-CAPs", "MOSTLY-CAPS-abc", "lowerCase"),
        (PasswordPolicy(min_digits=2), "one-digit-1-x", "two-digits-12", "digits"),
        (PasswordPolicy(min_special=1), "noSpecialChars1", "one-special-char", "specialCharacters"),
        (PasswordPolicy(min_unique=6), "abababababab", "abcdefabcdef", "uniqueCharacters"),
        (PasswordPolicy(max_repeated=3), "zzzz-sleeping", "zzz-sleeping-z", "repeatedCharacters"),
    ],
)
def test_wso2_character_class_rules(policy, bad, good, rule):
    assert rule_of(bad, policy) == rule
    assert check_new_password(good, policy) == good


def test_character_classes_are_off_by_default():
    # NIST SP 800-63B: no composition rules; 20 all-lower-case passphrases pass.
    for index in range(20):
        phrase = "".join(chr(ord("a") + (index * 7 + i * 3) % 26) for i in range(20))
        assert check_new_password(phrase, NIST, blocklist=common_passwords())


def test_blocklist_has_ten_thousand_entries_and_refuses_them():
    blocklist = common_passwords()
    assert len(blocklist) >= 10_000
    long_enough = sorted(p for p in blocklist if 8 <= len(p) <= 256)
    assert len(long_enough) >= 10_000
    for password in long_enough[::7]:
        assert rule_of(password, blocklist=blocklist) == "commonPassword"
    # case does not help
    assert rule_of("PassWord", blocklist=blocklist) == "commonPassword"
    assert rule_of("Sunshine", blocklist=blocklist) == "commonPassword"
    assert check_new_password("sunshine-over-vilnius", NIST, blocklist=blocklist)
    off = PasswordPolicy(blocklist=False)
    assert check_new_password("password", off, blocklist=blocklist) == "password"


def test_blocklist_extra_file(tmp_path):
    extra = tmp_path / "words.txt"
    extra.write_text("AcmeCorp2026\n\n  initech-rocks \n", encoding="utf-8")
    blocklist = common_passwords(str(extra))
    assert rule_of("acmecorp2026", blocklist=blocklist) == "commonPassword"
    assert rule_of("INITECH-ROCKS", blocklist=blocklist) == "commonPassword"


def test_context_words_username_and_email():
    words = context_words("kim.berry", ["Kim.Berry@Example.com", {"not": "a string"}])  # type: ignore[list-item]
    assert "kim.berry@example.com" in words and "kim.berry" in words
    assert rule_of("my-kim.berry-pass", words=words) == "contextWords"
    assert rule_of("KIM.BERRY@EXAMPLE.COM", words=words) == "contextWords"
    # A short name is refused only as the whole password: "kim" in "skimming" protects nothing.
    short = context_words("kim")
    assert check_new_password("skimming-the-lake", NIST, words=short)
    assert rule_of("kimkimkim", PasswordPolicy(min_length=3), words=["kimkimkim"]) == "contextWords"
    off = PasswordPolicy(context_words=False)
    assert check_new_password("my-kim.berry-pass", off, words=words)


def test_history_asks_only_after_everything_else_passed():
    asked: list[str] = []

    def reused(candidate: str) -> bool:
        asked.append(candidate)
        return candidate == "my-old-passphrase"

    policy = PasswordPolicy(history_count=3)
    assert rule_of("short", policy, reused=reused) == "minLength"
    assert asked == []  # no hashing for a password that fails a cheap rule
    assert rule_of("my-old-passphrase", policy, reused=reused) == "history"
    assert check_new_password("my-new-passphrase", policy, reused=reused)
    assert check_new_password("my-old-passphrase", NIST, reused=reused)  # history off by default


def test_min_age_binds_the_user_not_an_administrator():
    policy = PasswordPolicy(min_age=timedelta(hours=24))
    kwargs = {"changed_at": T0, "now": T0 + timedelta(hours=23), "enforce_min_age": True}
    assert rule_of("brand-new-passphrase", policy, **kwargs) == "minAge"
    later = {**kwargs, "now": T0 + timedelta(hours=24)}
    assert check_new_password("brand-new-passphrase", policy, **later)
    admin = {**kwargs, "enforce_min_age": False}
    assert check_new_password("brand-new-passphrase", policy, **admin)


def test_max_age_gives_the_expiry_time():
    assert expiry_time(T0, NIST) is None  # NIST: no periodic expiry by default
    assert expiry_time(T0, PasswordPolicy(max_age=timedelta(days=90))) == T0 + timedelta(days=90)
    assert expiry_time(None, PasswordPolicy(max_age=timedelta(days=90))) is None


def test_policy_limits_are_validated():
    with pytest.raises(ValueError):
        PasswordPolicy(min_length=0)
    with pytest.raises(ValueError):
        PasswordPolicy(min_length=10, max_length=9)
    with pytest.raises(ValueError):
        PasswordPolicy(max_length=1025)
    with pytest.raises(ValueError):
        PasswordPolicy(min_digits=-1)

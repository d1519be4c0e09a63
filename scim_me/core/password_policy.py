"""Password policy rules, pure: what a new password must satisfy, and when a password expires.

Defaults follow NIST SP 800-63B §5.1.1.2 ("Memorized Secret Verifiers"): at least 8 characters,
at least 64 accepted, no truncation, Unicode normalised (NFKC, as ``core.passwords`` does before
hashing), no composition rules and no periodic expiry unless an operator asks for them, and the
new secret compared against "a list that contains values known to be commonly-used, expected, or
compromised" and "context-specific words, such as the name of the service, the username".
WSO2-style character-class rules, history, minimum and maximum age are optional per tenant.

Every rule has a name; a violation names the rule it broke (the SCIM API answers 400
``invalidValue``, the REST API ``PWD-10003``), and never repeats the password.

Nothing here reads a clock, a database or a file: the caller passes the time, the blocklist and a
function that says whether the password matches one of the user's previous ones.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from collections.abc import Container
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from datetime import timedelta

from scim_me.errors import InvalidValueError

# Refuse absurd inputs before any hash runs; mirrors core.passwords.HARD_MAX_LENGTH.
HARD_MAX_LENGTH = 1024
# A context word shorter than this is not searched for inside the password: "kim" would refuse
# "skimming-the-lake", which protects nothing. Equality is still refused.
MIN_CONTEXT_WORD = 4

RULES = (
    "type",
    "minLength",
    "maxLength",
    "upperCase",
    "lowerCase",
    "digits",
    "specialCharacters",
    "uniqueCharacters",
    "repeatedCharacters",
    "commonPassword",
    "contextWords",
    "history",
    "minAge",
)


class PolicyViolation(InvalidValueError):
    """A new password breaks ``rule``; the detail says how (it never contains the password)."""

    def __init__(self, rule: str, detail: str) -> None:
        self.rule = rule
        super().__init__(f"Password policy violation ({rule}): {detail}")


@dataclass(frozen=True)
class PasswordPolicy:
    min_length: int = 8
    max_length: int = 256
    # WSO2's character-class rules (Asgardeo "password validation"): minimum counts, 0 = off.
    min_upper: int = 0
    min_lower: int = 0
    min_digits: int = 0
    min_special: int = 0
    min_unique: int = 0
    # Longest allowed run of one repeated character, 0 = off (WSO2 "max consecutive characters").
    max_repeated: int = 0
    blocklist: bool = True
    context_words: bool = True
    # Reuse of the current and the previous ``history_count - 1`` passwords is refused, 0 = off.
    history_count: int = 0
    min_age: timedelta = timedelta(0)
    max_age: timedelta = timedelta(0)

    def __post_init__(self) -> None:
        if self.min_length < 1 or self.max_length < self.min_length or self.max_length > HARD_MAX_LENGTH:
            raise ValueError(f"password length limits must satisfy 1 <= min <= max <= {HARD_MAX_LENGTH}")
        counts = (self.min_upper, self.min_lower, self.min_digits, self.min_special, self.min_unique)
        if any(c < 0 for c in counts) or self.max_repeated < 0 or self.history_count < 0:
            raise ValueError("password policy counts must be >= 0")


def normalize(password: str) -> str:
    return unicodedata.normalize("NFKC", password)


def _classes(password: str) -> tuple[int, int, int, int]:
    upper = sum(1 for c in password if c.isupper())
    lower = sum(1 for c in password if c.islower())
    digits = sum(1 for c in password if c.isdigit())
    special = sum(1 for c in password if not c.isalnum() and not c.isspace())
    return upper, lower, digits, special


def _longest_run(password: str) -> int:
    longest = run = 0
    previous = None
    for char in password:
        run = run + 1 if char == previous else 1
        previous = char
        longest = max(longest, run)
    return longest


def context_words(user_name: str | None, emails: Iterable[str] = ()) -> list[str]:
    """The user's own identifiers a password must not contain: the userName and each e-mail
    address with its local part (``kim.berry@example.com`` → also ``kim.berry``)."""
    words: list[str] = []
    if user_name:
        words.append(user_name)
        local, at, _domain = user_name.partition("@")
        if at and local:
            words.append(local)
    for email in emails:
        if not isinstance(email, str) or not email:
            continue
        words.append(email)
        local, at, _domain = email.partition("@")
        if at and local:
            words.append(local)
    return [normalize(w).casefold() for w in words]


def check_new_password(
    password: object,
    policy: PasswordPolicy,
    *,
    words: Iterable[str] = (),
    blocklist: Container[str] = frozenset(),
    changed_at: datetime | None = None,
    now: datetime | None = None,
    enforce_min_age: bool = False,
    reused: Callable[[str], bool] | None = None,
) -> str:
    """Return the normalised password, or raise :class:`PolicyViolation` for the first rule it
    breaks. Cheap rules run first; ``reused`` (which hashes) runs last, only for a password
    that passed everything else."""
    if not isinstance(password, str):
        raise PolicyViolation("type", "the password must be a string.")
    if enforce_min_age and policy.min_age and changed_at is not None and now is not None:
        allowed_at = changed_at + policy.min_age
        if now < allowed_at:
            raise PolicyViolation(
                "minAge",
                f"the password was changed less than {_span(policy.min_age)} ago; "
                f"it can be changed again after {allowed_at.strftime('%Y-%m-%dT%H:%M:%SZ')}.",
            )
    normalized = normalize(password)
    length = len(normalized)  # code points, never bytes (NIST SP 800-63B §5.1.1.2)
    if length < policy.min_length:
        raise PolicyViolation("minLength", f"the password must be at least {policy.min_length} characters long.")
    if length > policy.max_length:
        raise PolicyViolation("maxLength", f"the password must be at most {policy.max_length} characters long.")
    upper, lower, digits, special = _classes(normalized)
    for rule, have, need, what in (
        ("upperCase", upper, policy.min_upper, "upper-case letter"),
        ("lowerCase", lower, policy.min_lower, "lower-case letter"),
        ("digits", digits, policy.min_digits, "digit"),
        ("specialCharacters", special, policy.min_special, "special character"),
    ):
        if have < need:
            raise PolicyViolation(rule, f"the password must contain at least {need} {what}{'s' if need > 1 else ''}.")
    if policy.min_unique and len(set(normalized)) < policy.min_unique:
        raise PolicyViolation(
            "uniqueCharacters", f"the password must contain at least {policy.min_unique} different characters."
        )
    if policy.max_repeated and _longest_run(normalized) > policy.max_repeated:
        raise PolicyViolation(
            "repeatedCharacters",
            f"the password must not repeat one character more than {policy.max_repeated} times in a row.",
        )
    folded = normalized.casefold()
    if policy.blocklist and folded in blocklist:
        raise PolicyViolation("commonPassword", "the password is on the list of commonly used passwords.")
    if policy.context_words:
        for word in words:
            if not word:
                continue
            if folded == word or (len(word) >= MIN_CONTEXT_WORD and word in folded):
                raise PolicyViolation("contextWords", "the password must not contain the username or e-mail address.")
    if policy.history_count and reused is not None and reused(normalized):
        raise PolicyViolation(
            "history", f"the password must differ from the last {policy.history_count} passwords of this account."
        )
    return normalized


def expiry_time(changed_at: datetime | None, policy: PasswordPolicy) -> datetime | None:
    """When the password expires (``passwordExpiryTime``), or None when it never does."""
    if not policy.max_age or changed_at is None:
        return None
    return changed_at + policy.max_age


def _span(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    if seconds % 86400 == 0:
        days = seconds // 86400
        return f"{days} day{'s' if days != 1 else ''}"
    if seconds % 3600 == 0:
        hours = seconds // 3600
        return f"{hours} hour{'s' if hours != 1 else ''}"
    minutes = max(1, seconds // 60)
    return f"{minutes} minute{'s' if minutes != 1 else ''}"

"""Password hashing (argon2id through passlib) and the minimal length policy.

The only passlib import in the project. Passwords are NFKC-normalised before hashing and
verification (NIST SP 800-63B §5.1.1.2) and measured in code points, never bytes; nothing is
truncated. The full policy (blocklist, history, age) belongs to the account-security feature.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from passlib.context import CryptContext

from scim_me.errors import InvalidValueError

# Refuse absurd inputs before any hash runs (NIST ceiling guidance; see security.md T-FUZZ-5).
HARD_MAX_LENGTH = 1024


@dataclass(frozen=True)
class HashParams:
    """argon2id cost parameters (RFC 9106; defaults are passlib's m=64 MiB, t=3, p=4)."""

    memory_kib: int = 65536
    time_cost: int = 3
    parallelism: int = 4


@lru_cache(maxsize=8)
def _context(params: HashParams) -> CryptContext:
    return CryptContext(
        schemes=["argon2"],
        argon2__type="ID",
        argon2__memory_cost=params.memory_kib,
        argon2__rounds=params.time_cost,
        argon2__parallelism=params.parallelism,
    )


def normalize(password: str) -> str:
    return unicodedata.normalize("NFKC", password)


def check_length(password: object, min_length: int, max_length: int) -> str:
    """Return the normalised password or raise ``invalidValue`` naming the rule it breaks."""
    if not isinstance(password, str):
        raise InvalidValueError("The password must be a string.")
    normalized = normalize(password)
    length = len(normalized)
    if length < min_length:
        raise InvalidValueError(f"The password must be at least {min_length} characters long.")
    if length > min(max_length, HARD_MAX_LENGTH):
        raise InvalidValueError(f"The password must be at most {min(max_length, HARD_MAX_LENGTH)} characters long.")
    return normalized


def hash_password(password: str, params: HashParams) -> str:
    """Hash an already length-checked password with argon2id."""
    return str(_context(params).hash(normalize(password)))


def verify_password(password: str, stored_hash: str | None, params: HashParams) -> bool:
    """Check ``password`` against ``stored_hash``; with no hash, burn the same time and fail."""
    if len(password) > HARD_MAX_LENGTH:
        return False
    context = _context(params)
    if not stored_hash:
        context.verify(normalize(password), _dummy_hash(params))
        return False
    try:
        return bool(context.verify(normalize(password), stored_hash))
    except (ValueError, TypeError):
        return False


def needs_rehash(stored_hash: str, params: HashParams) -> bool:
    return bool(_context(params).needs_update(stored_hash))


@lru_cache(maxsize=8)
def _dummy_hash(params: HashParams) -> str:
    # Unknown users still cost one full verification, so timing does not reveal them.
    return str(_context(params).hash("scim-me dummy password"))

"""Password hashing (argon2id through passlib) and the minimal length policy.

The only passlib import in the project. Passwords are NFKC-normalised before hashing and
verification (NIST SP 800-63B §5.1.1.2) and measured in code points, never bytes; nothing is
truncated. The full policy (blocklist, history, age) belongs to the account-security feature.
"""

from __future__ import annotations

import threading
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache

from passlib.context import CryptContext

from scim_me.errors import InvalidValueError
from scim_me.errors import UnavailableError

# Refuse absurd inputs before any hash runs (NIST ceiling guidance; see security.md T-FUZZ-5).
HARD_MAX_LENGTH = 1024


@dataclass(frozen=True)
class HashParams:
    """argon2id cost parameters (RFC 9106; defaults are passlib's m=64 MiB, t=3, p=4)."""

    memory_kib: int = 65536
    time_cost: int = 3
    parallelism: int = 4
    concurrency: int = 2  # hashes one process runs at once (hash_slot)
    wait_seconds: float = 5.0  # for a turn, then UnavailableError


class HashingBusyError(UnavailableError):
    """503: every hashing turn of this process stayed taken for ``password_hash_wait_ms``."""

    default_detail = "Too many password checks at once; retry shortly."


# One set of turns per process and concurrency (tests build apps with other settings).
_turns: dict[int, threading.BoundedSemaphore] = {}
_turns_lock = threading.Lock()


class _Held(threading.local):
    """How deep this thread is inside its hashing turn (0: it holds none)."""

    depth = 0


_held = _Held()


@contextmanager
def hash_slot(params: HashParams) -> Iterator[None]:
    """A turn to hash: at most ``params.concurrency`` hashes run at once in this process, each
    with ``memory_kib`` of memory (security.md T-PERF-2). Waits ``params.wait_seconds`` for a
    turn, then raises :class:`HashingBusyError`. Re-entrant on one thread: a caller may take the
    turn around its whole check (auth/login.py, so a refusal counts as no attempt)."""
    if _held.depth:
        _held.depth += 1
        try:
            yield
        finally:
            _held.depth -= 1
        return
    with _turns_lock:
        turns = _turns.get(params.concurrency)
        if turns is None:
            turns = _turns[params.concurrency] = threading.BoundedSemaphore(params.concurrency)
    if not turns.acquire(timeout=params.wait_seconds):
        raise HashingBusyError(headers={"Retry-After": "1"})
    _held.depth = 1
    try:
        yield
    finally:
        _held.depth = 0
        turns.release()


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
    """Hash an already length-checked password with argon2id (in a :func:`hash_slot` turn)."""
    with hash_slot(params):
        return str(_context(params).hash(normalize(password)))


def verify_password(password: str, stored_hash: str | None, params: HashParams) -> bool:
    """Check ``password`` against ``stored_hash``; with no hash, burn the same time and fail."""
    if len(password) > HARD_MAX_LENGTH:
        return False
    context = _context(params)
    decoy = None if stored_hash else _dummy_hash(params)  # made once per process, outside the turn
    with hash_slot(params):
        if decoy is not None:
            context.verify(normalize(password), decoy)
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

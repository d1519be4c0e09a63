"""One-time passwords, pure: RFC 6238 TOTP (on RFC 4226 HOTP, computed by pyotp) and lookup
secrets (backup codes). No storage and no clock of its own: callers pass the server time, so a
client-supplied timestamp can never reach the check (ASVS 6.5.8).

Window: the current step and the previous one, never a future one. RFC 6238 §5.2 recommends at
most one step back for transmission delay; accepting {t-1, t} keeps a code's life at most 60 s.
One use only (RFC 6238 §5.2: "the verifier MUST NOT accept the second attempt of the OTP after
the successful validation") is the caller's job: :func:`matching_step` returns the step that
matched, which the caller stores and compares atomically.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from urllib.parse import quote

import pyotp

SECRET_BYTES = 20  # RFC 4226 R6 recommends 160 bits; RFC 6238 §5.1: as long as the HMAC-SHA-1 output
ALGORITHMS = ("SHA1", "SHA256", "SHA512")
# Crockford's base32 alphabet (no i, l, o, u): unambiguous when read aloud or typed, 5 bits a character.
BACKUP_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"
_BACKUP_READS_AS = {"o": "0", "i": "1", "l": "1"}


class CodeFormatError(ValueError):
    """A verification code is not a number of the configured length."""


@dataclass(frozen=True)
class TotpPolicy:
    digits: int = 6
    algorithm: str = "SHA1"
    period: int = 30

    def __post_init__(self) -> None:
        if self.digits not in (6, 7, 8):
            raise ValueError("TOTP digits must be 6, 7 or 8 (RFC 4226 §5.3)")
        if self.algorithm.upper() not in ALGORITHMS:
            raise ValueError(f"TOTP algorithm must be one of {', '.join(ALGORITHMS)}")
        if not 15 <= self.period <= 120:
            raise ValueError("TOTP period must be between 15 and 120 seconds")


def new_secret() -> str:
    """A fresh shared secret from the OS CSPRNG, as unpadded base32 (what authenticator apps read)."""
    return base64.b32encode(secrets.token_bytes(SECRET_BYTES)).decode("ascii").rstrip("=")


def _totp(secret: str, policy: TotpPolicy) -> pyotp.TOTP:
    digest = getattr(hashlib, policy.algorithm.lower())
    return pyotp.TOTP(secret, digits=policy.digits, digest=digest, interval=policy.period)


def step_at(unix_time: float, policy: TotpPolicy) -> int:
    """RFC 6238 §4.2: T = floor((time - T0) / X) with T0 = 0."""
    return int(unix_time) // policy.period


def code_at_step(secret: str, step: int, policy: TotpPolicy) -> str:
    return str(_totp(secret, policy).generate_otp(step))


def code_at(secret: str, unix_time: float, policy: TotpPolicy) -> str:
    return code_at_step(secret, step_at(unix_time, policy), policy)


def normalize_code(value: object, digits: int) -> str:
    """The code as a string of ``digits`` digits.

    WSO2 sends ``verificationCode`` as a JSON integer, so ``012345`` arrives as 12345: left-pad it.
    A string of digits (what a form posts) is accepted as is, spaces ignored.
    """
    if isinstance(value, bool):
        raise CodeFormatError("verificationCode must be a number")
    if isinstance(value, int):
        if value < 0 or value >= 10**digits:
            raise CodeFormatError(f"verificationCode must have at most {digits} digits")
        return str(value).zfill(digits)
    if isinstance(value, str):
        text = "".join(value.split())
        if text.isascii() and text.isdigit() and len(text) == digits:
            return text
        raise CodeFormatError(f"verificationCode must be {digits} digits")
    raise CodeFormatError("verificationCode must be a number")


def matching_step(secret: str, code: str, unix_time: float, policy: TotpPolicy) -> int | None:
    """The step in {t, t-1} whose code equals ``code`` (constant-time compare), else None."""
    current = step_at(unix_time, policy)
    found: int | None = None
    for step in (current, current - 1):
        # Both steps are always computed and compared, so timing does not tell which one matched.
        if hmac.compare_digest(code_at_step(secret, step, policy), code) and found is None:
            found = step
    return found


def provisioning_uri(secret: str, account: str, issuer: str, policy: TotpPolicy) -> str:
    """The otpauth URI as WSO2 builds it (``otpauth://totp/{issuer}:{user}?secret&issuer&period``),
    with the label and issuer percent-encoded as the Key URI Format requires (WSO2 does not encode,
    which breaks names with spaces). ``digits``/``algorithm`` appear only when not the defaults."""
    label = f"{quote(issuer, safe='@.')}:{quote(account, safe='@.')}"
    query = f"secret={secret}&issuer={quote(issuer, safe='@.')}&period={policy.period}"
    if policy.digits != 6:
        query += f"&digits={policy.digits}"
    if policy.algorithm.upper() != "SHA1":
        query += f"&algorithm={policy.algorithm.upper()}"
    return f"otpauth://totp/{label}?{query}"


def qr_code_url(uri: str) -> str:
    """WSO2's ``qrCodeUrl``: standard base64 (padded) of the otpauth URI."""
    return base64.b64encode(uri.encode("utf-8")).decode("ascii")


def new_backup_codes(count: int, length: int) -> list[str]:
    """``count`` distinct codes of ``length`` base32 characters (5 bits each) from the CSPRNG."""
    codes: set[str] = set()
    while len(codes) < count:
        codes.add("".join(secrets.choice(BACKUP_ALPHABET) for _ in range(length)))
    return sorted(codes)


def normalize_backup_code(value: object, length: int) -> str | None:
    """The canonical form of a typed backup code (case, spaces and dashes ignored, o→0, i/l→1),
    or None when it cannot be one."""
    if not isinstance(value, str):
        return None
    text = "".join(ch for ch in value.lower() if ch not in " -\t")
    text = "".join(_BACKUP_READS_AS.get(ch, ch) for ch in text)
    if len(text) != length or any(ch not in BACKUP_ALPHABET for ch in text):
        return None
    return text


def backup_code_bits(length: int) -> int:
    return 5 * length

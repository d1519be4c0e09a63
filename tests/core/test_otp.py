"""RFC 6238 TOTP and backup codes, pure (scim_me.core.otp): the Appendix B vectors, the {t-1, t}
window, WSO2's integer ``verificationCode`` and the otpauth URI."""

from __future__ import annotations

import base64
from urllib.parse import parse_qs
from urllib.parse import urlsplit

import pytest

from scim_me.core import otp

# RFC 6238 Appendix B: the seeds are these ASCII strings, the codes 8 digits, X = 30, T0 = 0.
SEEDS = {
    "SHA1": b"12345678901234567890",
    "SHA256": b"12345678901234567890123456789012",
    "SHA512": b"1234567890123456789012345678901234567890123456789012345678901234",
}
VECTORS = [
    (59, {"SHA1": "94287082", "SHA256": "46119246", "SHA512": "90693936"}),
    (1111111109, {"SHA1": "07081804", "SHA256": "68084774", "SHA512": "25091201"}),
    (1111111111, {"SHA1": "14050471", "SHA256": "67062674", "SHA512": "99943326"}),
    (1234567890, {"SHA1": "89005924", "SHA256": "91819424", "SHA512": "93441116"}),
    (2000000000, {"SHA1": "69279037", "SHA256": "90698825", "SHA512": "38618901"}),
    (20000000000, {"SHA1": "65353130", "SHA256": "77737706", "SHA512": "47863826"}),
]


def _b32(raw: bytes) -> str:
    return base64.b32encode(raw).decode().rstrip("=")


@pytest.mark.parametrize("algorithm", ["SHA1", "SHA256", "SHA512"])
@pytest.mark.parametrize(("unix_time", "codes"), VECTORS)
def test_rfc6238_appendix_b_vectors(algorithm: str, unix_time: int, codes: dict[str, str]) -> None:
    policy = otp.TotpPolicy(digits=8, algorithm=algorithm, period=30)
    secret = _b32(SEEDS[algorithm])
    assert otp.code_at(secret, unix_time, policy) == codes[algorithm]
    # ... and the verifier accepts it at that time, naming the step (T = floor(t / 30), §4.2)
    assert otp.matching_step(secret, codes[algorithm], unix_time, policy) == unix_time // 30


def test_window_is_the_current_and_the_previous_step_only() -> None:
    """RFC 6238 §5.2: at most one step back for network delay; never a future step."""
    policy = otp.TotpPolicy()
    secret = otp.new_secret()
    now = 1_700_000_015.0
    t = otp.step_at(now, policy)
    code = {offset: otp.code_at_step(secret, t + offset, policy) for offset in (-2, -1, 0, 1, 2)}
    assert otp.matching_step(secret, code[0], now, policy) == t
    assert otp.matching_step(secret, code[-1], now, policy) == t - 1
    for offset in (-2, 1, 2):
        if code[offset] not in (code[0], code[-1]):  # a 1-in-10^6 collision would be a false failure
            assert otp.matching_step(secret, code[offset], now, policy) is None


def test_step_boundaries() -> None:
    policy = otp.TotpPolicy()
    assert otp.step_at(29.999, policy) == 0
    assert otp.step_at(30, policy) == 1
    assert otp.step_at(20000000000, policy) == 666666666  # beyond 2038 (§4.2)


@pytest.mark.parametrize(
    ("value", "expected"),
    [(12345, "012345"), (0, "000000"), (999999, "999999"), ("012345", "012345"), (" 012 345 ", "012345")],
)
def test_verification_code_is_left_padded(value: object, expected: str) -> None:
    """WSO2 sends verificationCode as a JSON integer: 012345 arrives as 12345."""
    assert otp.normalize_code(value, 6) == expected


@pytest.mark.parametrize("value", [True, None, 1.5, -1, 1_000_000, "12345", "1234567", "12a456", "١٢٣٤٥٦", [1]])
def test_malformed_codes_are_refused(value: object) -> None:
    with pytest.raises(otp.CodeFormatError):
        otp.normalize_code(value, 6)


def test_secrets_are_160_bits_and_distinct() -> None:
    secrets_ = {otp.new_secret() for _ in range(1000)}
    assert len(secrets_) == 1000
    for secret in list(secrets_)[:20]:
        assert len(base64.b32decode(secret + "=" * (-len(secret) % 8))) == 20


def test_provisioning_uri_has_wso2_shape_and_encodes_names() -> None:
    uri = otp.provisioning_uri("JBSWY3DPEHPK3PXP", "kim lee@example.com", "acme corp", otp.TotpPolicy())
    parts = urlsplit(uri)
    assert (parts.scheme, parts.netloc) == ("otpauth", "totp")
    assert parts.path == "/acme%20corp:kim%20lee@example.com"
    assert parse_qs(parts.query) == {"secret": ["JBSWY3DPEHPK3PXP"], "issuer": ["acme corp"], "period": ["30"]}
    sha256 = otp.provisioning_uri("JBSWY3DPEHPK3PXP", "kim", "acme", otp.TotpPolicy(8, "SHA256", 30))
    assert parse_qs(urlsplit(sha256).query)["algorithm"] == ["SHA256"]
    assert parse_qs(urlsplit(sha256).query)["digits"] == ["8"]
    assert base64.b64decode(otp.qr_code_url(uri)).decode() == uri


def test_backup_codes_are_distinct_and_long_enough() -> None:
    codes = otp.new_backup_codes(10, 10)
    assert len(set(codes)) == 10
    assert all(len(c) == 10 and set(c) <= set(otp.BACKUP_ALPHABET) for c in codes)
    assert otp.backup_code_bits(10) == 50  # ASVS 6.5.4 asks for at least 20


def test_backup_code_input_is_forgiving_but_exact() -> None:
    assert otp.normalize_backup_code("AB12-cd34 ef", 10) == "ab12cd34ef"
    assert otp.normalize_backup_code("o1l1i", 5) == "01111"  # Crockford: o→0, i/l→1
    assert otp.normalize_backup_code("ab12cd34e", 10) is None
    assert otp.normalize_backup_code("ab12cd34eu", 10) is None  # u is not in the alphabet
    assert otp.normalize_backup_code(1234567890, 10) is None


@pytest.mark.parametrize(("digits", "algorithm", "period"), [(5, "SHA1", 30), (6, "MD5", 30), (6, "SHA1", 5)])
def test_policy_refuses_unsafe_settings(digits: int, algorithm: str, period: int) -> None:
    with pytest.raises(ValueError):
        otp.TotpPolicy(digits, algorithm, period)

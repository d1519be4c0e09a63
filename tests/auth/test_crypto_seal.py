"""crypto.seal/unseal: AES-256-GCM bound to a context string; any mismatch is a SealError."""

from __future__ import annotations

import base64
import os

import pytest

from scim_me.crypto import SealError
from scim_me.crypto import seal
from scim_me.crypto import unseal

KEY = bytes(range(32))
OTHER_KEY = bytes(range(1, 33))
CONTEXT = "signing-key:abc"
SECRET = b"-----BEGIN PRIVATE KEY-----\nMIIEv...\n-----END PRIVATE KEY-----\n"


def _raw(text: str) -> bytearray:
    return bytearray(base64.urlsafe_b64decode(text.partition(".")[2]))


def _text(raw: bytes) -> str:
    return "v1." + base64.urlsafe_b64encode(bytes(raw)).decode("ascii")


def test_round_trip():
    sealed = seal(KEY, SECRET, CONTEXT)
    assert sealed.startswith("v1.")
    assert unseal(KEY, sealed, CONTEXT) == SECRET


def test_empty_plaintext_round_trips():
    assert unseal(KEY, seal(KEY, b"", CONTEXT), CONTEXT) == b""


def test_sealed_text_is_printable_and_hides_the_plaintext():
    sealed = seal(KEY, SECRET, CONTEXT)
    assert sealed.isascii() and sealed.isprintable()
    assert b"PRIVATE KEY" not in _raw(sealed)
    assert "PRIVATE" not in sealed


def test_each_seal_uses_a_fresh_nonce():
    first, second = seal(KEY, SECRET, CONTEXT), seal(KEY, SECRET, CONTEXT)
    assert first != second
    assert _raw(first)[:12] != _raw(second)[:12]


def test_wrong_key_raises():
    with pytest.raises(SealError, match="does not match this key and context"):
        unseal(OTHER_KEY, seal(KEY, SECRET, CONTEXT), CONTEXT)


def test_wrong_context_raises():
    """A value copied into another row (another kid) does not decrypt there."""
    with pytest.raises(SealError, match="does not match this key and context"):
        unseal(KEY, seal(KEY, SECRET, CONTEXT), "signing-key:xyz")


@pytest.mark.parametrize("position", [0, 11, 12, 20, -1], ids=["nonce-first", "nonce-last", "text", "mid", "tag"])
def test_tampered_bytes_raise(position):
    raw = _raw(seal(KEY, SECRET, CONTEXT))
    raw[position] ^= 0x01
    with pytest.raises(SealError, match="does not match this key and context"):
        unseal(KEY, _text(raw), CONTEXT)


def test_truncated_value_raises():
    raw = _raw(seal(KEY, SECRET, CONTEXT))
    with pytest.raises(SealError):
        unseal(KEY, _text(raw[:-1]), CONTEXT)


def test_appended_bytes_raise():
    raw = _raw(seal(KEY, SECRET, CONTEXT))
    with pytest.raises(SealError):
        unseal(KEY, _text(raw + b"\x00"), CONTEXT)


@pytest.mark.parametrize(
    "text",
    ["", "v1.", "v1", "v2." + base64.urlsafe_b64encode(os.urandom(40)).decode(), "plain text", "v1.%%%%", "v1.QQ"],
    ids=["empty", "no-body", "no-dot", "other-version", "plain", "not-base64", "too-short"],
)
def test_malformed_values_raise(text):
    with pytest.raises(SealError):
        unseal(KEY, text, CONTEXT)


def test_version_prefix_is_checked_before_decrypting():
    body = seal(KEY, SECRET, CONTEXT).partition(".")[2]
    with pytest.raises(SealError, match="unknown sealed-value format"):
        unseal(KEY, "v0." + body, CONTEXT)

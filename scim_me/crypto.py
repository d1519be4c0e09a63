"""Authenticated encryption of secrets at rest (AES-256-GCM from ``cryptography``).

Each sealed value is bound to a context string (for example ``signing-key:<kid>``), so a
ciphertext copied into another row does not decrypt there.
"""

from __future__ import annotations

import base64
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

_VERSION = "v1"


class SealError(ValueError):
    """A sealed value is malformed or was not sealed with this key and context."""


def seal(key: bytes, plaintext: bytes, context: str) -> str:
    """Encrypt ``plaintext`` under ``key``, bound to ``context``; return printable text."""
    nonce = os.urandom(12)
    sealed = AESGCM(key).encrypt(nonce, plaintext, context.encode("utf-8"))
    return f"{_VERSION}.{base64.urlsafe_b64encode(nonce + sealed).decode('ascii')}"


def unseal(key: bytes, text: str, context: str) -> bytes:
    """Decrypt a value produced by :func:`seal` with the same key and context."""
    version, _, body = text.partition(".")
    if version != _VERSION or not body:
        raise SealError("unknown sealed-value format")
    try:
        raw = base64.urlsafe_b64decode(body)
        return AESGCM(key).decrypt(raw[:12], raw[12:], context.encode("utf-8"))
    except (InvalidTag, ValueError) as exc:
        raise SealError("the sealed value does not match this key and context") from exc

"""A small software WebAuthn authenticator for tests: real P-256 keys (``cryptography``), real
CBOR attestation objects (``fmt: none``) and real ES256 assertions, shaped as WSO2's My Account
sends them (base64url members, no ``rawId``). Nothing of the server is mocked: the server checks
these with py_webauthn like any browser's.

``clone()`` copies the key and the counter, as an attacker who extracted the key would: the copy
and the original then race with the same counter values.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import os
import struct
from dataclasses import dataclass
from dataclasses import field
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from webauthn.helpers import encode_cbor

UP, UV, BE, BS, AT = 0x01, 0x04, 0x08, 0x10, 0x40


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class Credential:
    rp_id: str
    credential_id: bytes
    key: ec.EllipticCurvePrivateKey
    user_handle: bytes
    counter: int = 0

    def clone(self) -> Credential:
        return Credential(self.rp_id, self.credential_id, self.key, self.user_handle, self.counter)


@dataclass
class SoftAuthenticator:
    """Holds credentials like a security key; ``uv`` says whether it verifies the user (PIN)."""

    uv: bool = True
    backup_eligible: bool = False
    counter_step: int = 1  # 0: an authenticator without a signature counter
    credentials: list[Credential] = field(default_factory=list)

    def _flags(self, attested: bool) -> int:
        flags = UP | (UV if self.uv else 0) | (BE | BS if self.backup_eligible else 0)
        return flags | (AT if attested else 0)

    def create(self, options: dict[str, Any], origin: str, *, challenge: str | None = None) -> dict[str, Any]:
        """``navigator.credentials.create`` for ``publicKeyCredentialCreationOptions``."""
        rp_id = options["rp"]["id"]
        key = ec.generate_private_key(ec.SECP256R1())
        numbers = key.public_key().public_numbers()
        cose = encode_cbor({1: 2, 3: -7, -1: 1, -2: numbers.x.to_bytes(32, "big"), -3: numbers.y.to_bytes(32, "big")})
        credential = Credential(rp_id, os.urandom(32), key, unb64(options["user"]["id"]))
        credential.counter = self.counter_step
        attested = bytes(16) + struct.pack(">H", len(credential.credential_id)) + credential.credential_id + cose
        auth_data = (
            hashlib.sha256(rp_id.encode()).digest()
            + bytes([self._flags(True)])
            + struct.pack(">I", credential.counter)
            + attested
        )
        client_data = self.client_data("webauthn.create", challenge or options["challenge"], origin)
        self.credentials.append(credential)
        return {
            "id": b64(credential.credential_id),
            "type": "public-key",
            "clientExtensionResults": {},
            "response": {
                "attestationObject": b64(encode_cbor({"fmt": "none", "attStmt": {}, "authData": auth_data})),
                "clientDataJSON": b64(client_data),
            },
        }

    @staticmethod
    def client_data(kind: str, challenge: str, origin: str) -> bytes:
        return json.dumps({"type": kind, "challenge": challenge, "origin": origin, "crossOrigin": False}).encode()

    def get(
        self,
        options: dict[str, Any],
        origin: str,
        *,
        credential: Credential | None = None,
        counter: int | None = None,
    ) -> dict[str, Any]:
        """``navigator.credentials.get``: an assertion by ``credential`` (default: the first one)."""
        chosen = credential or self.credentials[0]
        chosen.counter = chosen.counter + self.counter_step if counter is None else counter
        auth_data = (
            hashlib.sha256(chosen.rp_id.encode()).digest()
            + bytes([self._flags(False)])
            + struct.pack(">I", chosen.counter)
        )
        client_data = self.client_data("webauthn.get", options["challenge"], origin)
        signature = chosen.key.sign(auth_data + hashlib.sha256(client_data).digest(), ec.ECDSA(hashes.SHA256()))
        return {
            "id": b64(chosen.credential_id),
            "rawId": b64(chosen.credential_id),
            "type": "public-key",
            "clientExtensionResults": {},
            "response": {
                "authenticatorData": b64(auth_data),
                "clientDataJSON": b64(client_data),
                "signature": b64(signature),
                "userHandle": b64(chosen.user_handle),
            },
        }

    def copy(self) -> SoftAuthenticator:
        return copy.copy(self)

"""No secret is committed (security.md T-DEP-3): no private key in any tracked file, and what
`make run` writes (the master key, the database with its sealed signing keys and client
secrets, the demo's Postman environment with the clients' secrets) lives in a folder git
ignores."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# A PEM private key with a real body: at least a few lines of base64 between its armour lines.
PRIVATE_KEY = re.compile(
    rb"-----BEGIN (?:RSA |EC |DSA |OPENSSH |ENCRYPTED )?PRIVATE KEY-----\s*(?:[A-Za-z0-9+/=]{40,}\s*){3,}-----END"
)
# What `make run` writes (Makefile: keys init, db upgrade, demo seed --postman-environment).
WRITTEN_BY_MAKE_RUN = ("instance/encryption.key", "instance/scim-me.db", "instance/demo.postman_environment.json")


def _git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=True).stdout


def test_no_tracked_file_holds_a_private_key():
    found = []
    for name in _git("ls-files", "-z").split("\0"):
        path = ROOT / name
        if name and path.is_file() and PRIVATE_KEY.search(path.read_bytes()):
            found.append(name)
    assert found == []


def test_no_key_or_environment_file_is_tracked():
    tracked = [name for name in _git("ls-files").splitlines() if re.search(r"\.(key|pem|p12|pfx)$|(^|/)\.env$", name)]
    assert tracked == []


def test_what_make_run_writes_is_ignored():
    for name in WRITTEN_BY_MAKE_RUN:
        # check-ignore exits 0 (and prints the path) when git ignores it
        assert _git("check-ignore", "--no-index", name).strip() == name, f"{name} is not ignored"


def test_the_pattern_finds_a_real_key():
    # The check above must not pass because it can find nothing.
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    assert PRIVATE_KEY.search(pem)

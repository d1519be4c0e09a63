"""Issue 4 acceptance 2 (security.md T-MFA-6, T-MFA-7): after 100 enrolments, a dump of the
database holds no TOTP secret (base32, lower-case base32, raw bytes, hex) and no backup code,
on SQLite (the database file and its WAL, raw bytes and an SQL dump) and PostgreSQL (pg_dump)."""

from __future__ import annotations

import base64
import shutil
import sqlite3
import subprocess
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs
from urllib.parse import unquote
from urllib.parse import urlsplit

import time_machine

from scim_me.core import otp
from tests.factories import bearer
from tests.factories import make_tenant
from tests.factories import make_token
from tests.factories import make_user
from tests.support.ci import missing
from tests.support.postgres import server_url

ENROLMENTS = 100
API = "/t/acme/api/users/v1/me"


def _raw(secret: str) -> bytes:
    return base64.b32decode(secret + "=" * (-len(secret) % 8))


def _needles(secrets_: list[str], codes: list[str]) -> list[bytes]:
    needles: list[bytes] = []
    for secret in secrets_:
        raw = _raw(secret)
        needles += [secret.encode(), secret.lower().encode(), raw, raw.hex().encode()]
        needles.append(base64.b64encode(raw).rstrip(b"="))
    needles += [code.encode() for code in codes]
    return needles


def _sqlite_dump(database_url: str) -> bytes:
    path = Path(unquote(urlsplit(database_url).path))
    blobs = [p.read_bytes() for p in (path, Path(f"{path}-wal")) if p.exists()]
    with sqlite3.connect(path) as db:
        blobs.append("\n".join(db.iterdump()).encode())
    return b"\n".join(blobs)


def _pg_dump(database_url: str) -> bytes:
    schema = parse_qs(urlsplit(database_url).query)["options"][0].split("search_path=")[1]
    pg_dump = shutil.which("pg_dump")
    if pg_dump is None:
        missing("pg_dump is not installed")
    out = subprocess.run(
        [pg_dump, "--schema", schema, "--data-only", server_url(database_url)],
        capture_output=True,
        check=True,
        timeout=120,
    )
    return out.stdout


def test_a_database_dump_holds_no_secret(app: Any, client: Any, database_url: str, backend: str) -> None:
    tenant = make_tenant(app, "acme")
    at = (int(time.time()) // 30) * 30 + 5.0
    secrets_: list[str] = []
    codes: list[str] = []
    with time_machine.travel(at, tick=False):
        for n in range(ENROLMENTS):
            user = make_user(app, tenant, f"user-{n}")
            auth = bearer(make_token(app, tenant, user))
            init = client.post(f"{API}/totp", json={"action": "INIT"}, headers=auth).json
            secret = parse_qs(urlsplit(base64.b64decode(init["qrCodeUrl"]).decode()).query)["secret"][0]
            code = int(otp.code_at(secret, at, otp.TotpPolicy()))
            valid = client.post(f"{API}/totp", json={"action": "VALIDATE", "verificationCode": code}, headers=auth)
            assert valid.json == {"isValid": True}
            secrets_.append(secret)
            if n % 10 == 0:  # a pending secret (a later REFRESH) is a secret too
                refreshed = client.post(f"{API}/totp/secret", headers=auth)
                pending = client.get(f"{API}/totp/secret", headers=auth).json["secret"]
                assert refreshed.status_code == 405 and pending != secret
                secrets_.append(pending)
            codes += client.post(f"{API}/backup-codes", headers=auth).json["backupCodes"]
    assert len(set(secrets_)) == len(secrets_) == ENROLMENTS + ENROLMENTS // 10
    app.extensions["scim_me"].db.close_all()
    dump = _sqlite_dump(database_url) if backend == "sqlite" else _pg_dump(database_url)
    assert b"user_mfa" in dump and len(dump) > 10_000  # the dump is real and has the MFA table
    found = [needle for needle in _needles(secrets_, codes) if needle in dump]
    assert found == []

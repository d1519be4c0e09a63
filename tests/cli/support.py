"""The ``scim-me`` console script run against a temp SQLite file, as the CLI tests use it.

The environment names every path (``SCIM_ME_CONFIG=`` (empty) keeps a developer's
``instance/scim-me.toml`` out), so these runs never touch the checkout's ``instance/`` folder.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from tests.support.live_server import cli_command

CLI_TIMEOUT_S = 60.0
PASSWORD = "correct-horse-9"


class Cli:
    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        # build_app() (tests/support/apps.py) reads the key at tmp_path/encryption.key: share it.
        self.key_file = tmp_path / "encryption.key"
        self.database_url = f"sqlite:///{tmp_path / 'data' / 'scim-me.db'}"
        self.env = {
            **os.environ,
            "SCIM_ME_CONFIG": "",
            "SCIM_ME_DATABASE_URL": self.database_url,
            "SCIM_ME_ENCRYPTION_KEY_FILE": str(self.key_file),
            "SCIM_ME_BASE_URL": "http://localhost",
            "SCIM_ME_ARGON2_MEMORY_KIB": "1024",
            "SCIM_ME_ARGON2_TIME_COST": "1",
            "SCIM_ME_ARGON2_PARALLELISM": "1",
        }
        self.env.pop("SCIM_ME_ENCRYPTION_KEY", None)

    def __call__(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*cli_command(), *args],
            env=self.env,
            cwd=self.tmp_path,
            capture_output=True,
            text=True,
            timeout=CLI_TIMEOUT_S,
            check=False,
        )

    def ok(self, *args: str) -> str:
        result = self(*args)
        assert result.returncode == 0, (args, result.stdout, result.stderr)
        return result.stdout

    def fails(self, *args: str) -> str:
        """Run a command that must fail; return its message (stderr)."""
        result = self(*args)
        assert result.returncode != 0, (args, result.stdout)
        assert "Traceback" not in result.stderr, result.stderr
        return result.stderr

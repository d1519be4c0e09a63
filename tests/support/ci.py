"""What a missing test dependency does: under ``CI=true`` it fails the test, so a CI run cannot go
green by skipping; on a developer machine the test is skipped with the reason."""

from __future__ import annotations

import os
import shutil
from typing import NoReturn

import pytest

IN_CI = os.environ.get("CI", "").lower() == "true"


def missing(reason: str) -> NoReturn:
    if IN_CI:
        pytest.fail(f"CI=true requires it: {reason}", pytrace=False)
    pytest.skip(reason)


def system_binary(name: str) -> str | None:
    """A Debian package's program: on PATH, or in /usr/sbin (not on a non-root user's PATH)."""
    found = shutil.which(name)
    if found:
        return found
    path = f"/usr/sbin/{name}"
    return path if os.access(path, os.X_OK) else None

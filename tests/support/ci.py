"""What a missing test dependency does: under ``CI=true`` it fails the test, so a CI run cannot go
green by skipping; on a developer machine the test is skipped with the reason."""

from __future__ import annotations

import os
from typing import NoReturn

import pytest

IN_CI = os.environ.get("CI", "").lower() == "true"


def missing(reason: str) -> NoReturn:
    if IN_CI:
        pytest.fail(f"CI=true requires it: {reason}", pytrace=False)
    pytest.skip(reason)

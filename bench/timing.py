"""What the timing scripts (login_timing.py, recovery_timing.py) share: an app on a throwaway
SQLite file, built as the test suite builds one, and the median/p90 table they print."""

from __future__ import annotations

import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
# The scripts run as ``python bench/<script>.py``: the app and the test factories live at the root.
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def temporary_app(**settings: Any) -> Any:
    """A scim-me app on a fresh SQLite file in a temporary folder, with ``settings`` applied."""
    from tests.support.apps import build_app

    tmp = Path(tempfile.mkdtemp())
    return build_app(f"sqlite:///{tmp / 't.db'}", tmp, **settings)


def print_timings(timings: dict[str, list[float]], *, decimals: int = 1) -> None:
    """One line per label: the median and 90th percentile of its samples, in milliseconds."""
    width = max(len(label) for label in timings)
    for label, values in timings.items():
        ordered = sorted(values)
        median = statistics.median(ordered) * 1000
        p90 = ordered[int(len(ordered) * 0.9)] * 1000
        print(f"{label:{width}} median {median:7.{decimals}f} ms   p90 {p90:7.{decimals}f} ms")

"""The README's benchmark figures are the rendering of the committed bench/results.json (made by
``make bench``), never numbers typed by hand."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[2]


def _readme_table() -> ModuleType:
    spec = importlib.util.spec_from_file_location("readme_table", ROOT / "bench" / "readme_table.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_readme_table_is_the_rendering_of_results_json() -> None:
    table = _readme_table()
    doc = json.loads((ROOT / "bench" / "results.json").read_text(encoding="utf-8"))
    assert table.readme_block((ROOT / "README.md").read_text(encoding="utf-8")) == table.render(doc)


def test_readme_filter_table_is_the_rendering_of_filters_results_json() -> None:
    table = _readme_table()
    doc = json.loads((ROOT / "bench" / "filters-results.json").read_text(encoding="utf-8"))
    assert doc["meta"]["smoke"] is False and doc["meta"]["users"] >= 100_000
    rendered = table.readme_block(
        (ROOT / "README.md").read_text(encoding="utf-8"), table.FILTERS_BEGIN, table.FILTERS_END
    )
    assert rendered == table.render_filters(doc)


def test_results_json_comes_from_a_full_run() -> None:
    """A smoke run (1 s, no warm-up) proves nothing about speed; it must not become the record."""
    doc = json.loads((ROOT / "bench" / "results.json").read_text(encoding="utf-8"))
    assert doc["meta"]["smoke"] is False
    assert doc["meta"]["scim2_server"] != "?" and any(r["server"] == "scim2-server" for r in doc["results"])

"""Issue 13 acceptance 6: the README's 5-minute tour, run as written. Its shell blocks are taken
from README.md, pointed at the live server instead of ``make run``'s 127.0.0.1:8080 (the demo is
seeded as ``make run`` seeds it, Postman environment included) and run by bash with curl."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.support.ci import missing
from tests.support.live_server import REPO_ROOT
from tests.support.live_server import LiveServer

pytestmark = pytest.mark.e2e
MAKE_RUN_URL = "http://127.0.0.1:8080/t/demo"


def _tour_blocks() -> list[str]:
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    tour = readme[readme.index("## A 5-minute tour") :]
    tour = tour[: tour.index("\n## ")]
    return [block for block in re.findall(r"```sh\n(.*?)```", tour, re.DOTALL) if "curl" in block]


def _documents(output: str) -> list[Any]:
    """The JSON documents curl printed one after another."""
    decoder, found, at = json.JSONDecoder(), [], 0
    while at < len(output.rstrip()):
        document, end = decoder.raw_decode(output, at)
        found.append(document)
        at = end + len(output[end:]) - len(output[end:].lstrip())
    return found


def test_the_readme_tour_works_as_written(live_server: LiveServer, tmp_path: Path) -> None:
    if shutil.which("curl") is None:
        missing("curl is not installed")
    environment = tmp_path / "demo.postman_environment.json"
    live_server.cli("demo", "seed", "--tenant", "demo", "--postman-environment", str(environment))
    values = {v["key"]: v["value"] for v in json.loads(environment.read_text(encoding="utf-8"))["values"]}
    blocks = _tour_blocks()
    assert len(blocks) == 3 and all(MAKE_RUN_URL in block for block in blocks), blocks
    outputs = []
    for block in blocks:
        script = block.replace(MAKE_RUN_URL, f"{live_server.base_url}/t/demo").replace(
            "CLIENT_ID=...  CLIENT_SECRET=...",
            f"CLIENT_ID={values['client_id']}  CLIENT_SECRET={values['client_secret']}",
        )
        result = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=60
        )
        assert result.returncode == 0, (script, result.stdout, result.stderr)
        outputs.append(_documents(result.stdout))
    read, patched, (token, me) = outputs[0][0], outputs[1][0], outputs[2]
    assert read["userName"] == "kim"
    assert patched["nickName"] == "shaggy"
    assert token["token_type"].lower() == "bearer" and me["userName"] == "kim"

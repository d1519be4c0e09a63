"""The HAProxy configuration docs/deployment.md gives, with its per-client rate limit added to
the frontend, is one HAProxy accepts (``haproxy -c``): an operator can paste both blocks."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from tests.support.ci import missing
from tests.support.cluster import DEPLOYMENT_DOC
from tests.support.cluster import haproxy_binary
from tests.support.cluster import haproxy_config
from tests.support.cluster import haproxy_template

_RATE_LIMIT = re.compile(r"^```haproxy-rate-limit\n(.*?)^```", re.MULTILINE | re.DOTALL)


def test_the_documented_configuration_with_its_rate_limit_is_valid(tmp_path: Path) -> None:
    haproxy = haproxy_binary()
    if haproxy is None:
        missing("haproxy is not installed (Debian: apt-get install haproxy)")
    found = _RATE_LIMIT.search(DEPLOYMENT_DOC.read_text(encoding="utf-8"))
    assert found, "docs/deployment.md has no ```haproxy-rate-limit block"
    template = haproxy_template().replace(
        "    default_backend scim_me_nodes\n", found.group(1) + "    default_backend scim_me_nodes\n", 1
    )
    assert found.group(1) in template, "the frontend's default_backend line moved"
    config = tmp_path / "haproxy.cfg"
    config.write_text(haproxy_config(template, "127.0.0.1:8443", [("node1", 18081), ("node2", 18082)]))
    checked = subprocess.run([haproxy, "-c", "-f", str(config)], capture_output=True, text=True, check=False)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "sc_http_req_rate" in config.read_text()

"""cProfile scim-me's GET and PATCH /Me in-process (Flask test client, fresh SQLite instance).

    .venv/bin/python bench/profile_app.py [--requests 500] [--top 25]

Uses the same setup as bench/run.py (scim-me CLI, temporary directory), then runs ``--requests``
GETs and ``--requests`` one-operation PATCHes through the WSGI stack (including the tenant
middleware) and prints the top functions by cumulative and by own time, plus the mean time per
request. It needs no server and no wrk, so it is not disturbed by other load on the machine as
much as bench/run.py is; use it to find where a missed target goes.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR.parent))
sys.path.insert(0, str(BENCH_DIR))

from run import TENANT  # noqa: E402
from run import prepare_instance  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args(argv)

    workdir = Path(tempfile.mkdtemp(prefix="scim-me-profile-"))
    try:
        env, token = prepare_instance(workdir, 8080)
        os.environ.update({k: v for k, v in env.items() if k.startswith("SCIM_ME_")})
        from scim_me import create_app

        app = create_app()
        client = app.test_client()
        url = f"/t/{TENANT}/scim2/Me"
        get_headers = {"Authorization": f"Bearer {token}", "Accept": "application/scim+json"}
        patch_headers = {**get_headers, "Content-Type": "application/scim+json"}

        def body(i: int) -> str:
            return json.dumps(
                {
                    "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                    "Operations": [{"op": "replace", "path": "nickName", "value": f"bench-{i}"}],
                }
            )

        for i in range(20):  # warm-up: imports, caches, first connection
            assert client.get(url, headers=get_headers).status_code == 200
            assert client.patch(url, data=body(-i), headers=patch_headers).status_code < 300

        def get(i: int) -> Any:
            return client.get(url, headers=get_headers)

        def patch(i: int) -> Any:
            return client.patch(url, data=body(i), headers=patch_headers)

        calls: list[tuple[str, Callable[[int], Any]]] = [("GET /Me", get), ("PATCH /Me", patch)]
        for name, call in calls:
            profiler = cProfile.Profile()
            start = time.perf_counter()
            profiler.enable()
            for i in range(args.requests):
                response = call(i)
                if response.status_code >= 300:
                    raise SystemExit(f"{name} -> {response.status_code}: {response.get_data(as_text=True)}")
            profiler.disable()
            elapsed = time.perf_counter() - start
            print(f"\n## {name}: {args.requests} requests, {elapsed / args.requests * 1000:.2f} ms/request "
                  "(under cProfile; uninstrumented is faster)")  # fmt: skip
            for key in ("cumulative", "tottime"):
                out = io.StringIO()
                pstats.Stats(profiler, stream=out).strip_dirs().sort_stats(key).print_stats(args.top)
                print(f"\n### by {key}\n```\n{out.getvalue().split(chr(10), 4)[-1].strip()}\n```")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

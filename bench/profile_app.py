"""cProfile scim-me's GET and PATCH /Me in-process (Flask test client, fresh SQLite instance).

    .venv/bin/python bench/profile_app.py [--requests 500] [--top 25] [--smoke]

Sets up the same instance and fixture as bench/run.py (bench/instance.py: the operator's CLI,
then the user's own HTTP calls against a briefly started server: a recorded token, MFA, a
consent), then runs ``--requests`` GETs and ``--requests`` one-operation PATCHes through the WSGI
stack (tenant middleware included) in this process and prints the top functions by cumulative
and by own time, the mean time per request and the SQL statements per request. It needs no wrk
and is less disturbed by other load than bench/run.py: use it to find where a missed target
goes. ``--smoke`` (5 requests) only checks that the script still runs (``make test`` does this).
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

from instance import TENANT  # noqa: E402
from instance import instance_env  # noqa: E402
from instance import operator_setup  # noqa: E402
from instance import user_setup  # noqa: E402
from run import Server  # noqa: E402
from run import free_port  # noqa: E402


class StatementCounter:
    """Counts the SQL statements the app sends (transaction control aside)."""

    def __init__(self, db: Any) -> None:
        self.count = 0
        original = db.execute_sql

        def counted(sql: str, params: Any = None, *args: Any, **kwargs: Any) -> Any:
            if not sql.lstrip().upper().startswith(("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE")):
                self.count += 1
            return original(sql, params, *args, **kwargs)

        db.execute_sql = counted


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--smoke", action="store_true", help="5 requests each: does it still run?")
    parser.add_argument("--callers", metavar="REGEX", help="also print who calls the functions matching REGEX")
    args = parser.parse_args(argv)
    if args.smoke:
        args.requests, args.top = 5, 5

    workdir = Path(tempfile.mkdtemp(prefix="scim-me-profile-"))
    try:
        port = free_port()
        env = instance_env(workdir, port)
        operator = operator_setup(env)
        with Server("wsgi:app", port, env, workdir / "gunicorn.log"):
            tokens = user_setup(f"http://127.0.0.1:{port}/t/{TENANT}", operator, refresh_grants=1)
        os.environ.update({k: v for k, v in env.items() if k.startswith("SCIM_ME_")})
        from scim_me import create_app

        app = create_app()
        counter = StatementCounter(app.extensions["scim_me"].db)
        client = app.test_client()
        url = f"/t/{TENANT}/scim2/Me"
        get_headers = {"Authorization": f"Bearer {tokens.access}", "Accept": "application/scim+json"}
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
            assert client.patch(url, data=body(-i - 1), headers=patch_headers).status_code < 300

        def get(i: int) -> Any:
            return client.get(url, headers=get_headers)

        def patch(i: int) -> Any:
            return client.patch(url, data=body(i), headers=patch_headers)

        calls: list[tuple[str, Callable[[int], Any]]] = [("GET /Me", get), ("PATCH /Me", patch)]
        for name, call in calls:
            profiler = cProfile.Profile()
            counter.count = 0
            start = time.perf_counter()
            profiler.enable()
            for i in range(args.requests):
                response = call(i)
                if response.status_code >= 300:
                    raise SystemExit(f"{name} -> {response.status_code}: {response.get_data(as_text=True)}")
            profiler.disable()
            elapsed = time.perf_counter() - start
            print(f"\n## {name}: {args.requests} requests, {elapsed / args.requests * 1000:.2f} ms/request "
                  f"(under cProfile; uninstrumented is faster), "
                  f"{counter.count / args.requests:.2f} SQL statements/request")  # fmt: skip
            for key in ("cumulative", "tottime"):
                out = io.StringIO()
                pstats.Stats(profiler, stream=out).strip_dirs().sort_stats(key).print_stats(args.top)
                print(f"\n### by {key}\n```\n{out.getvalue().split(chr(10), 4)[-1].strip()}\n```")
            if args.callers:
                out = io.StringIO()
                pstats.Stats(profiler, stream=out).strip_dirs().sort_stats("tottime").print_callers(args.callers)
                print(f"\n### callers of {args.callers}\n```\n{out.getvalue().strip()}\n```")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""cProfile scim-me's GET and PATCH /Me in-process (Flask test client, fresh SQLite instance).

    .venv/bin/python bench/profile_app.py [--requests 500] [--top 25] [--smoke]
    .venv/bin/python bench/profile_app.py --no-profile [--rounds 5] [--postgres]

Sets up the same instance and fixture as bench/run.py (bench/instance.py: the operator's CLI,
then the user's own HTTP calls against a briefly started server: a recorded token, MFA, a
consent), then runs ``--requests`` GETs and ``--requests`` one-operation PATCHes through the WSGI
stack (tenant middleware included) in this process and prints the top functions by cumulative
and by own time, the mean time per request and the SQL statements per request. It needs no wrk
and is less disturbed by other load than bench/run.py: use it to find where a missed target
goes. ``--smoke`` (5 requests) only checks that the script still runs (``make test`` does this).

``--no-profile`` times instead of profiling: ``--rounds`` rounds of ``--requests`` requests each,
best round kept (other load only ever adds time), through the test client and straight through
the WSGI callable with environs built beforehand (what the app itself costs, as under gunicorn,
without the test client's request building), next to the bare Flask route of bench/bare_app.py
timed the same way. ``--postgres`` runs on a fresh PostgreSQL database (bench/instance.py).
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
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR.parent))
sys.path.insert(0, str(BENCH_DIR))

from instance import TENANT  # noqa: E402
from instance import instance_env  # noqa: E402
from instance import operator_setup  # noqa: E402
from instance import postgres_database  # noqa: E402
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
    parser.add_argument("--no-profile", action="store_true", help="time (best of --rounds) instead of profiling")
    parser.add_argument("--rounds", type=int, default=5, help="timing rounds with --no-profile")
    parser.add_argument("--wsgi", action="store_true", help="profile straight through WSGI, without the test client")
    parser.add_argument("--postgres", action="store_true", help="on a fresh PostgreSQL database instead of SQLite")
    parser.add_argument("--synchronous", choices=("full", "normal"), default="full", help="SQLite: sqlite_synchronous")
    args = parser.parse_args(argv)
    if args.smoke:
        args.requests, args.top, args.rounds = 5, 5, 1

    with _database(args.postgres) as database_url:
        return _measure(args, database_url)


@contextmanager
def _database(postgres: bool) -> Iterator[str | None]:
    if not postgres:
        yield None
        return
    with postgres_database() as url:
        if url is None:
            raise SystemExit("PostgreSQL is not reachable (SCIM_ME_BENCH_POSTGRES_URL)")
        yield url


def _wsgi_timer(app: Any, environs: list[dict[str, Any]]) -> Callable[[], tuple[float, float]]:
    """Seconds per request calling ``app`` straight with the prepared environs, body consumed:
    wall time, and this process's CPU time (what other load on the machine disturbs least; it
    leaves out waits such as fsync)."""
    statuses: list[str] = []

    def start_response(status: str, headers: Any, exc_info: Any = None) -> Any:
        statuses.append(status)
        return None

    def once() -> tuple[float, float]:
        prepared = [dict(e, **{"wsgi.input": io.BytesIO(e["wsgi.input"].getvalue())}) for e in environs]
        statuses.clear()
        cpu = time.process_time()
        start = time.perf_counter()
        for environ in prepared:
            iterable = app(environ, start_response)
            for _chunk in iterable:
                pass
            close = getattr(iterable, "close", None)
            if close is not None:
                close()
        elapsed = time.perf_counter() - start
        cpu = time.process_time() - cpu
        bad = [status for status in statuses if not status.startswith(("200", "204"))]
        if bad:
            raise SystemExit(f"WSGI timing: unexpected status {bad[0]}")
        return elapsed / len(prepared), cpu / len(prepared)

    return once


class _WsgiCall:
    """One request straight through the WSGI callable (a fresh copy of ``environ``)."""

    def __init__(self, app: Any, environ: dict[str, Any]) -> None:
        environ = dict(environ, **{"wsgi.input": io.BytesIO(environ["wsgi.input"].getvalue())})
        status: list[str] = []
        iterable = app(environ, lambda s, h, e=None: status.append(s))
        self.data = b"".join(iterable)
        getattr(iterable, "close", lambda: None)()
        self.status_code = int(status[0].split()[0])

    def get_data(self, as_text: bool = False) -> Any:
        return self.data.decode() if as_text else self.data


def _best_pair(rounds: int, once: Callable[[], tuple[float, float]]) -> tuple[float, float]:
    """The least wall time and the least CPU time over ``rounds`` (each in its own best round)."""
    figures = [once() for _ in range(rounds)]
    return min(wall for wall, _ in figures), min(cpu for _, cpu in figures)


def _environ(method: str, url: str, headers: dict[str, str], data: str | None = None) -> dict[str, Any]:
    from werkzeug.test import EnvironBuilder

    builder = EnvironBuilder(path=url, method=method, headers=headers, data=data)
    try:
        environ = builder.get_environ()
    finally:
        builder.close()
    environ["wsgi.input"] = io.BytesIO(environ["wsgi.input"].read())
    return environ


def _measure(args: argparse.Namespace, database_url: str | None) -> int:
    workdir = Path(tempfile.mkdtemp(prefix="scim-me-profile-"))
    try:
        port = free_port()
        env = instance_env(workdir, port, database_url)
        env["SCIM_ME_SQLITE_SYNCHRONOUS"] = args.synchronous
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

        if args.wsgi:  # profile the app alone: environs built beforehand, no test client
            get_environ = _environ("GET", url, get_headers)
            patch_environs = [_environ("PATCH", url, patch_headers, body(i)) for i in range(args.requests)]

            def get(i: int) -> Any:
                return _WsgiCall(app, get_environ)

            def patch(i: int) -> Any:
                return _WsgiCall(app, patch_environs[i])

        calls: list[tuple[str, Callable[[int], Any]]] = [("GET /Me", get), ("PATCH /Me", patch)]
        if args.no_profile:
            _time(args, app, counter, calls, url, get_headers, patch_headers, body)
            return 0
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


def _time(
    args: argparse.Namespace,
    app: Any,
    counter: StatementCounter,
    calls: list[tuple[str, Callable[[int], Any]]],
    url: str,
    get_headers: dict[str, str],
    patch_headers: dict[str, str],
    body: Callable[[int], str],
) -> None:
    """Best-of-rounds ms/request through the test client and straight through WSGI (CPU and wall)."""
    from bare_app import app as bare

    n = args.requests
    bare_client = bare.test_client()
    bare_ms = _best_pair(args.rounds, lambda: _client_round(lambda _i: bare_client.get("/me"), n))[1] * 1000
    bare_timer = _wsgi_timer(bare, [_environ("GET", "/me", {})] * n)
    bare_wsgi, bare_cpu = (x * 1000 for x in _best_pair(args.rounds, bare_timer))
    database = "PostgreSQL" if args.postgres else f"SQLite, sqlite_synchronous={args.synchronous}"
    print(f"\n## timing: best of {args.rounds} rounds of {n} requests, {database}\n")
    print("CPU: this process's CPU time (other load disturbs it least; waits such as fsync are not in it).")
    print("Wall: elapsed time, fsync waits included, and whatever other load on the machine adds.\n")
    print("| scenario | test client CPU ms/req | WSGI CPU ms/req | WSGI wall ms/req | bare CPU / CPU | SQL/req |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    print(f"| bare Flask route | {bare_ms:.3f} | {bare_cpu:.3f} | {bare_wsgi:.3f} | 1.00 | 0 |")
    for name, call in calls:
        counter.count = 0
        client_ms = _best_pair(args.rounds, lambda call=call: _client_round(call, n))[1] * 1000
        statements = counter.count / (n * args.rounds)
        timer = (
            _get_timer(app, url, get_headers, n)
            if name.startswith("GET")
            else _patch_timer(app, url, patch_headers, body, n)
        )

        wsgi_ms, cpu_ms = (x * 1000 for x in _best_pair(args.rounds, timer))
        row = f"{client_ms:.3f} | {cpu_ms:.3f} | {wsgi_ms:.3f} | {bare_cpu / cpu_ms:.2f} | {statements:.2f}"
        print(f"| {name} | {row} |")


def _get_timer(app: Any, url: str, headers: dict[str, str], n: int) -> Callable[[], tuple[float, float]]:
    return _wsgi_timer(app, [_environ("GET", url, headers)] * n)


def _patch_timer(
    app: Any, url: str, headers: dict[str, str], body: Callable[[int], str], n: int
) -> Callable[[], tuple[float, float]]:
    sequence = iter(range(10**9))

    def timer() -> tuple[float, float]:
        # A new value every request, as the test client's PATCHes send: each one writes.
        return _wsgi_timer(app, [_environ("PATCH", url, headers, body(next(sequence))) for _ in range(n)])()

    return timer


def _client_round(call: Callable[[int], Any], n: int) -> tuple[float, float]:
    cpu = time.process_time()
    start = time.perf_counter()
    for i in range(n):
        response = call(i)
        if response.status_code >= 300:
            raise SystemExit(f"-> {response.status_code}: {response.get_data(as_text=True)}")
    return (time.perf_counter() - start) / n, (time.process_time() - cpu) / n


if __name__ == "__main__":
    sys.exit(main())

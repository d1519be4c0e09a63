"""cProfile the admin list requests (``GET /scim2/Users?filter=...``, ``POST /Users/.search``, a
100-user page, ``GET /scim2/Groups?filter=members.value eq``) next to ``GET /scim2/Me``, in-process.

    .venv/bin/python bench/profile_admin.py [--users 5000] [--groups 50] [--requests 300]
                                            [--postgres] [--top 20] [--only REGEX] [--smoke]

The users are seeded as bench/filters.py seeds them (its ``_seed``), the admin is the
client_credentials token of bench/filters.py (a bearer token with the admin scopes, as GET /Me is
called with a bearer token: the fair comparison; HTTP Basic would add an argon2 verification to
every request, by design). For each scenario: this process's CPU time per request (what the other
load of a shared machine disturbs least; it leaves out the database server's work, on
PostgreSQL planning included), the wall time (best round: what the server's work adds, and what
other load adds too), each with its ratio to GET /Me's, the SQL statements per request,
and with ``--top`` the functions by own time. The machine's load moves wall-clock figures; compare
CPU times and statement counts of the same run. ``--smoke`` (200 users, 5 requests) only checks
that the script still runs.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import pstats
import re
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

BENCH_DIR = Path(__file__).resolve().parent
sys.path[:0] = [str(BENCH_DIR.parent), str(BENCH_DIR)]

from filters import _database  # noqa: E402
from filters import _seed  # noqa: E402
from profile_app import StatementCounter  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=5000)
    parser.add_argument("--groups", type=int, default=50)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3, help="timing rounds per scenario, best kept")
    parser.add_argument("--postgres", action="store_true", help="PostgreSQL (the local test cluster) instead of SQLite")
    parser.add_argument("--top", type=int, default=0, help="also print the top functions by own time")
    parser.add_argument("--only", help="profile (--top) only the scenarios matching this regex")
    parser.add_argument("--smoke", action="store_true")
    args = parser.parse_args(argv)
    if args.smoke:
        args.users, args.groups, args.requests, args.rounds = 200, 5, 5, 1

    from tests.factories import bearer
    from tests.factories import make_tenant
    from tests.factories import make_token
    from tests.factories import make_user
    from tests.support.admin import client_headers
    from tests.support.apps import build_app

    tmp = Path(tempfile.mkdtemp())
    url = None if args.postgres else f"sqlite:///{tmp / 'admin.db'}"
    with _database(url, args.smoke, tmp) as url:
        app = build_app(url, tmp)
        tenant = make_tenant(app, "acme")
        ids = _seed(app, tenant.id, args.users, args.groups)
        me = make_user(app, tenant, "kim", emails=[{"value": "kim@example.com", "type": "work"}])
        me_headers = bearer(make_token(app, tenant, me))
        admin = client_headers(app, tenant)
        counter = StatementCounter(app.extensions["scim_me"].db)
        client = app.test_client()
        probe = args.users * 7 // 10
        name = f"user{probe:06d}"
        users = "/t/acme/scim2/Users"
        eq_name = quote(f'userName eq "{name}"')
        eq_mail = quote(f'emails.value eq "{name}@example.com"')
        eq_member = quote(f'members.value eq "{ids[probe]}"')
        search_body = json.dumps(
            {
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
                "filter": f'userName eq "{name}"',
            }
        )

        def get(path: str, headers: dict[str, str]) -> Callable[[], Any]:
            return lambda: client.get(path, headers=headers)

        scenarios: list[tuple[str, Callable[[], Any]]] = [
            ("GET /scim2/Me", get("/t/acme/scim2/Me", me_headers)),
            ("GET /Users?filter=userName eq", get(f"{users}?filter={eq_name}", admin)),
            (
                "GET /Users?filter=emails.value eq",
                get(f"{users}?filter={eq_mail}", admin),
            ),
            (
                "POST /Users/.search userName eq",
                lambda: client.post(
                    f"{users}/.search",
                    data=search_body,
                    headers={**admin, "Content-Type": "application/scim+json"},
                ),
            ),
            ("GET /Users?count=100", get(f"{users}?count=100", admin)),
            ("GET /Users?count=100&cursor=", get(f"{users}?count=100&cursor=", admin)),
            ("GET /Users?count=100&sortBy=name.familyName", get(f"{users}?count=100&sortBy=name.familyName", admin)),
            (
                "GET /Groups?filter=members.value eq",
                get(f"/t/acme/scim2/Groups?filter={eq_member}", admin),
            ),
        ]
        rows = []
        for label, call in scenarios:
            for _ in range(3):  # warm: the worker's caches, the database's buffers
                response = call()
                assert response.status_code == 200, (label, response.status_code, response.get_data(as_text=True))
            best = best_wall = float("inf")
            for _ in range(args.rounds):
                counter.count = 0
                cpu = time.process_time()
                wall = time.perf_counter()
                for _ in range(args.requests):
                    call()
                best = min(best, (time.process_time() - cpu) / args.requests)
                best_wall = min(best_wall, (time.perf_counter() - wall) / args.requests)
            statements = counter.count / args.requests  # the last round
            rows.append((label, best * 1000, best_wall * 1000, statements))
            if args.top and (args.only is None or re.search(args.only, label)):
                profiler = cProfile.Profile()
                profiler.enable()
                for _ in range(args.requests):
                    call()
                profiler.disable()
                out = io.StringIO()
                pstats.Stats(profiler, stream=out).strip_dirs().sort_stats("tottime").print_stats(args.top)
                print(f"\n## {label}: by own time, {args.requests} requests\n```")
                print(out.getvalue().split("\n", 4)[-1].strip() + "\n```")
        app.extensions["scim_me"].db.close_all()

    backend = "SQLite" if url.startswith("sqlite") else "PostgreSQL"
    print(
        f"\n# {args.users:,} users, {args.groups} groups, {backend}; best of {args.rounds} x {args.requests} requests\n"
    )
    print(
        "| scenario | CPU ms/request | x GET /Me | wall ms/request | x GET /Me | SQL statements/request |\n"
        "| --- | ---: | ---: | ---: | ---: | ---: |"
    )
    base, base_wall = rows[0][1], rows[0][2]
    for label, ms, wall, statements in rows:
        print(f"| {label} | {ms:.3f} | {ms / base:.2f} | {wall:.3f} | {wall / base_wall:.2f} | {statements:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())

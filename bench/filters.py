"""Filters and paging at scale (issue 11): 100,000 users and 1,000 groups in PostgreSQL, then
``GET /scim2/Users`` with ``filter=userName eq``, ``filter=emails.value eq``, a 100-user page (in
creation order and sorted by an attribute of the profile) and ``GET /scim2/Groups?filter=members.value
eq``, each as a ratio of ``GET /scim2/Me`` in the same run, plus the same searches through
storage/user_query.py alone, and the query plans of the lookups (docs/scim-filters.md).

    .venv/bin/python bench/filters.py [--users 100000] [--groups 1000] [--rounds 30]
                                      [--database-url postgresql://...|sqlite:///...] [--json out.json] [--smoke]

In-process (Flask test client through the whole WSGI stack, no wrk, no network): the machine's
load moves the absolute figures; the ratios to GET /Me of the same run are the figures to read.
The users are bulk-inserted (the triggers index them as any insert does), in a schema of their
own (``--database-url``, default ``SCIM_ME_BENCH_POSTGRES_URL`` or the local test cluster),
dropped at the end. ``--smoke`` (400 users, 10 groups, 3 rounds) only checks that the script still
runs (``make test`` does this); without PostgreSQL it uses a SQLite file.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

ROOT = Path(__file__).resolve().parents[1]
RESULTS_JSON = ROOT / "bench" / "filters-results.json"
sys.path[:0] = [str(ROOT)]

DEPARTMENTS = [f"Dept {index:02d}" for index in range(50)]
TITLES = ["Engineer", "Manager", "Analyst", "Designer", "Director", "Clerk", "Architect", "Nurse"]
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
FAMILY = ["Lee", "Smith", "Garcia", "Müller", "Nguyen", "Okafor", "Rossi", "Tanaka", "Kowalski", "Dubois"]


def _profile(index: int) -> dict[str, Any]:
    name = f"user{index:06d}"
    return {
        "userName": name,
        "name": {"givenName": f"Given{index % 997}", "familyName": FAMILY[index % len(FAMILY)]},
        "displayName": f"User {index}",
        "title": TITLES[index % len(TITLES)],
        "active": index % 10 != 0,
        "emails": [
            {"value": f"{name}@example.com", "type": "work", "primary": True},
            {"value": f"{name}@home.example", "type": "home"},
        ],
        ENTERPRISE: {
            "employeeNumber": str(index),
            "department": DEPARTMENTS[index % len(DEPARTMENTS)],
        },
    }


@contextmanager
def _database(url: str | None, smoke: bool, tmp: Path) -> Iterator[str]:
    """A fresh schema in PostgreSQL (dropped afterwards), or a SQLite file when none answers."""
    url = url or os.environ.get("SCIM_ME_BENCH_POSTGRES_URL") or "postgresql://postgres@127.0.0.1:5432/test"
    if url.startswith("sqlite"):
        yield url
        return
    try:
        import psycopg2

        conn = psycopg2.connect(url, connect_timeout=3)
    except Exception as exc:  # no PostgreSQL here: the smoke run still checks the script
        if not smoke:
            raise SystemExit(f"PostgreSQL is not reachable at {url}: {exc}") from exc
        yield f"sqlite:///{tmp / 'filters.db'}"
        return
    conn.autocommit = True
    schema = f"bench_filters_{uuid.uuid4().hex[:10]}"
    with conn.cursor() as cur:
        cur.execute(f"CREATE SCHEMA {schema}")
    try:
        yield f"{url}{'&' if '?' in url else '?'}options=-csearch_path%3D{schema}"
    finally:
        with conn.cursor() as cur:
            cur.execute(f"DROP SCHEMA {schema} CASCADE")
        conn.close()


def _seed(app: Any, tenant_id: int, users: int, groups: int) -> list[str]:
    """Bulk-insert ``users`` users and ``groups`` groups of users/groups members each."""
    from scim_me.core.usernames import skeleton
    from scim_me.storage.db import is_sqlite
    from scim_me.storage.models import Group
    from scim_me.storage.models import GroupMember
    from scim_me.storage.models import User
    from scim_me.storage.users import search_text
    from scim_me.storage.users import user_name_key

    db = app.extensions["scim_me"].db
    ids: list[str] = []
    start = datetime.now(UTC).replace(tzinfo=None) - timedelta(days=1)
    with db.connection_context():
        for first in range(0, users, 1000):
            rows = []
            for index in range(first, min(first + 1000, users)):
                profile = _profile(index)
                user_id = str(uuid.uuid4())
                ids.append(user_id)
                stamp = start + timedelta(milliseconds=index)
                rows.append(
                    {
                        "id": user_id,
                        "tenant": tenant_id,
                        "user_name": profile["userName"],
                        "user_name_key": user_name_key(profile["userName"]),
                        "user_name_skeleton": skeleton(profile["userName"]),
                        "profile": json.dumps(profile, separators=(",", ":")),
                        "search": search_text(profile),
                        "version": 1,
                        "created_at": stamp,
                        "updated_at": stamp,
                    }
                )
            with db.atomic():
                User.insert_many(rows).execute()
        group_ids = [str(uuid.uuid4()) for _ in range(groups)]
        with db.atomic():
            Group.insert_many(
                [
                    {
                        "id": group_id,
                        "tenant": tenant_id,
                        "display_name": f"Group {index}",
                        "display_key": f"group {index}",
                        "version": 1,
                        "created_at": start,
                        "updated_at": start,
                    }
                    for index, group_id in enumerate(group_ids)
                ]
            ).execute()
        memberships = [
            {"group": group_ids[index % groups], "user": user_id, "tenant": tenant_id, "added_at": start}
            for index, user_id in enumerate(ids)
        ]
        for first in range(0, len(memberships), 5000):
            with db.atomic():
                GroupMember.insert_many(memberships[first : first + 5000]).execute()
        if is_sqlite(db):
            db.execute_sql("ANALYZE")
        else:
            # What autovacuum does to a loaded table soon after: statistics, and the visibility
            # map that lets COUNT(*) (totalResults) read the index alone.
            db.execute_sql("VACUUM ANALYZE")
    return ids


def _timed(rounds: int, call: Callable[[], Any]) -> dict[str, float]:
    call()  # warm: the worker's caches (token, tenant, schemas), the database's buffers
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        call()
        samples.append(time.perf_counter() - start)
    samples.sort()
    return {"median_ms": statistics.median(samples) * 1000, "p90_ms": samples[int(len(samples) * 0.9) - 1] * 1000}


def _plans(app: Any, tenant_id: int, registry: Any, filters: dict[str, str]) -> dict[str, list[str]]:
    """EXPLAIN of the page statement each search runs (the COUNT(*) uses the same condition)."""
    from scim_me.storage.db import is_sqlite
    from scim_me.storage.user_query import search_users

    db = app.extensions["scim_me"].db
    plans: dict[str, list[str]] = {}
    for label, text in filters.items():
        seen: list[tuple[str, Any]] = []

        def capture(
            sql: str,
            params: Any = None,
            *args: Any,
            _seen: list[Any] = seen,
            _real: Any = db.execute_sql,
            **kwargs: Any,
        ) -> Any:
            _seen.append((sql, params))
            return _real(sql, params, *args, **kwargs)

        db.execute_sql = capture
        try:
            with db.connection_context():
                search_users(tenant_id, registry, filter=text, count=100)
        finally:
            del db.execute_sql
        sql, params = seen[-1]
        prefix = "EXPLAIN QUERY PLAN " if is_sqlite(db) else "EXPLAIN "
        with db.connection_context():
            rows = db.execute_sql(prefix + sql, params).fetchall()
        plans[label] = [row[-1] if is_sqlite(db) else row[0] for row in rows]
    return plans


def _group_plan(app: Any, tenant_id: int, user_id: str) -> list[str]:
    """EXPLAIN of the page statement of ``GET /scim2/Groups?filter=members.value eq "{id}"``
    (storage/group_query.py over the membership table's user_id index)."""
    from scim_me.storage.db import is_sqlite
    from scim_me.storage.group_query import search_groups

    db = app.extensions["scim_me"].db
    seen: list[tuple[str, Any]] = []
    real = db.execute_sql

    def capture(sql: str, params: Any = None, *args: Any, **kwargs: Any) -> Any:
        seen.append((sql, params))
        return real(sql, params, *args, **kwargs)

    db.execute_sql = capture
    try:
        with db.connection_context():
            search_groups(tenant_id, app.extensions["scim_me"].group_registry, filter=f'members.value eq "{user_id}"')
    finally:
        del db.execute_sql
    sql, params = seen[-1]
    prefix = "EXPLAIN QUERY PLAN " if is_sqlite(db) else "EXPLAIN "
    with db.connection_context():
        rows = db.execute_sql(prefix + sql, params).fetchall()
    return [row[-1] if is_sqlite(db) else row[0] for row in rows]


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--groups", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--database-url")
    parser.add_argument("--json", type=Path, help="where to write the results (default bench/filters-results.json)")
    parser.add_argument("--smoke", action="store_true", help="400 users, 10 groups, 3 rounds: does it still run?")
    args = parser.parse_args(argv)
    if args.smoke:
        args.users, args.groups, args.rounds = 400, 10, 3

    from scim_me.storage.user_query import search_users
    from tests.factories import bearer
    from tests.factories import make_tenant
    from tests.factories import make_token
    from tests.factories import make_user
    from tests.support.admin import client_headers
    from tests.support.apps import build_app

    tmp = Path(tempfile.mkdtemp())
    with _database(args.database_url, args.smoke, tmp) as url:
        # No statement budget: the seeding's 1,000-user INSERTs and VACUUM ANALYZE, and the pages
        # measured here, may run longer than a server would let one request run; the bench
        # measures them, it does not serve them.
        app = build_app(url, tmp, db_statement_timeout_ms=0)
        tenant = make_tenant(app, "acme")
        started = time.perf_counter()
        ids = _seed(app, tenant.id, args.users, args.groups)
        seeded = time.perf_counter() - started
        me = make_user(app, tenant, "kim", emails=[{"value": "kim@example.com", "type": "work"}])
        me_headers = bearer(make_token(app, tenant, me))
        admin = client_headers(app, tenant)
        client = app.test_client()
        registry = app.extensions["scim_me"].registry_for("acme")
        db = app.extensions["scim_me"].db
        probe = args.users * 7 // 10
        user_name = f"user{probe:06d}"
        member = ids[probe]

        def get(path: str, headers: dict[str, str]) -> Callable[[], Any]:
            def call() -> Any:
                response = client.get(path, headers=headers)
                assert response.status_code == 200, (path, response.status_code, response.get_data(as_text=True))
                return response

            return call

        def module(**query: Any) -> Callable[[], Any]:
            def call() -> Any:
                with db.connection_context():
                    return search_users(tenant.id, registry, **query)

            return call

        users = "/t/acme/scim2/Users"
        with db.connection_context():
            second_page = search_users(
                tenant.id, registry, count=100, cursor="", cursor_key=b"k", sort_by="name.familyName"
            ).next_cursor
        eq_name = quote(f'userName eq "{user_name}"')
        eq_mail = quote(f'emails.value eq "{user_name}@example.com"')
        scenarios: list[tuple[str, Callable[[], Any]]] = [
            ("GET /scim2/Me", get("/t/acme/scim2/Me", me_headers)),
            ('GET /scim2/Users?filter=userName eq "..."', get(f"{users}?filter={eq_name}", admin)),
            ('GET /scim2/Users?filter=emails.value eq "..."', get(f"{users}?filter={eq_mail}", admin)),
            ("GET /scim2/Users?count=100 (creation order)", get(f"{users}?count=100", admin)),
            ("GET /scim2/Users?count=100&startIndex=50001", get(f"{users}?count=100&startIndex=50001", admin)),
            ("GET /scim2/Users?count=100&cursor= (first cursor page)", get(f"{users}?count=100&cursor=", admin)),
            ("GET /scim2/Users?count=100&sortBy=userName", get(f"{users}?count=100&sortBy=userName", admin)),
            (
                "GET /scim2/Users?count=100&sortBy=name.familyName (sorted by a profile attribute)",
                get(f"{users}?count=100&sortBy=name.familyName", admin),
            ),
        ]
        eq_member = quote(f'members.value eq "{member}"')
        groups_path = f"/t/acme/scim2/Groups?filter={eq_member}"
        if client.get(groups_path, headers=admin).status_code == 200:
            scenarios.append(('GET /scim2/Groups?filter=members.value eq "..."', get(groups_path, admin)))
        scenarios += [
            ("module: userName eq", module(filter=f'userName eq "{user_name}"', count=100)),
            ("module: emails.value eq", module(filter=f'emails.value eq "{user_name}@example.com"', count=100)),
            ("module: 100-user page", module(count=100)),
            ("module: 100-user page sorted by name.familyName", module(count=100, sort_by="name.familyName")),
            (
                "module: 100-user page sorted by name.familyName descending",
                module(count=100, sort_by="name.familyName", sort_order="descending"),
            ),
            (
                "module: 2nd cursor page sorted by name.familyName",
                module(count=100, cursor=second_page, cursor_key=b"k", sort_by="name.familyName"),
            ),
            ("module: 100-user page sorted by title (8 values)", module(count=100, sort_by="title")),
            ("module: 100-user page sorted by active (boolean)", module(count=100, sort_by="active")),
            (
                "module: 100-user page sorted by enterprise employeeNumber",
                module(count=100, sort_by=f"{ENTERPRISE}:employeeNumber"),
            ),
            ("module: 100-user page sorted by nickName (nobody has one)", module(count=100, sort_by="nickName")),
            (
                'module: department eq "Dept 07" sorted by name.familyName',
                module(filter=f'{ENTERPRISE}:department eq "Dept 07"', count=100, sort_by="name.familyName"),
            ),
            (
                "module: 100-user cursor page by userName",
                module(count=100, cursor="", cursor_key=b"k", sort_by="userName"),
            ),
            (
                'module: department eq "Dept 07" and title sw "eng"',
                module(
                    filter=f'{ENTERPRISE}:department eq "Dept 07" and title sw "eng"',
                    count=100,
                ),
            ),
        ]
        results = []
        for label, call in scenarios:
            rounds = max(3, args.rounds // 5) if "sorted by" in label else args.rounds
            results.append({"name": label, **_timed(rounds, call)})
        base = results[0]["median_ms"]
        for row in results:
            row["x_get_me"] = row["median_ms"] / base
        plans = _plans(
            app,
            tenant.id,
            registry,
            {
                "userName eq": f'userName eq "{user_name}"',
                "emails.value eq": f'emails.value eq "{user_name}@example.com"',
            },
        )
        plans["members.value eq (Groups)"] = _group_plan(app, tenant.id, member)
        backend = "SQLite" if url.startswith("sqlite") else "PostgreSQL"
        db.close_all()

    load = os.getloadavg()
    print(
        f"# bench/filters.py: {args.users:,} users, {args.groups:,} groups on {backend}, seeded in {seeded:.0f} s; "
        f"{args.rounds} rounds; {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} CPU(s), "
        f"load {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}\n"
    )
    print("| scenario | median | p90 | x GET /Me |\n| --- | ---: | ---: | ---: |")
    for row in results:
        print(f"| {row['name']} | {row['median_ms']:.2f} ms | {row['p90_ms']:.2f} ms | {row['x_get_me']:.2f} |")
    for label, lines in plans.items():
        print(f"\n## plan: {label}\n```\n" + "\n".join(lines) + "\n```")
    doc = {
        "meta": {
            "date": f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
            "machine": f"{os.cpu_count()} CPU(s), {_cpu_model()}",
            "load_average_after": [round(x, 2) for x in load],
            "backend": backend,
            "users": args.users,
            "groups": args.groups,
            "rounds": args.rounds,
            "seeded_s": round(seeded, 1),
            "smoke": args.smoke,
            "command": "bench/filters.py",
        },
        "results": results,
        "plans": plans,
    }
    # A full run is the record the README renders (bench/readme_table.py); a smoke run never is.
    output = args.json or (None if args.smoke else RESULTS_JSON)
    if output is not None:
        output.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
        print(f"\nwrote {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

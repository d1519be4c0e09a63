"""Login timing by outcome (security.md T-PW-7): HTTP Basic on /scim2/Me with the production
argon2id profile, for an unknown user, a wrong password and a locked account. The first two must
cost the same (one hash each); a locked attempt runs no hash at all, for known and unknown names
alike. Prints medians and 90th percentiles; not a test (the suite has no timed assertions).

    .venv/bin/python bench/login_timing.py [SAMPLES] [--smoke]

``--smoke`` takes 4 samples with cheap hashing parameters: it only checks that the script still
runs (``make test`` does this).
"""

from __future__ import annotations

import time
from typing import Any

from timing import print_timings
from timing import temporary_app

ME = "/t/acme/scim2/Me"
WRONG = "wrong-pass-1"


def main(samples: int, *, smoke: bool = False) -> None:
    from scim_me.storage.throttle import unlock
    from tests.factories import basic
    from tests.factories import make_tenant
    from tests.factories import make_user

    app = temporary_app(
        argon2_memory_kib=1024 if smoke else 65536,
        argon2_time_cost=1 if smoke else 3,
        argon2_parallelism=1 if smoke else 4,
        login_ip_max_failures=1_000_000,
    )
    tenant = make_tenant(app, "acme")
    make_user(app, tenant, "kim", "correct-horse-9")
    client = app.test_client()
    timings: dict[str, list[float]] = {"unknown user": [], "wrong password": [], "locked": []}

    def clear() -> None:
        with app.app_context(), app.extensions["scim_me"].db.connection_context():
            unlock(tenant.id, "kim")
            unlock(tenant.id, "nobody")

    def timed(kind: str, user: str) -> Any:
        start = time.perf_counter()
        response = client.get(ME, headers=basic(user, WRONG))
        timings[kind].append(time.perf_counter() - start)
        return response

    for index in range(samples):
        if index % 4 == 0:  # stay below the lock
            clear()
        assert timed("unknown user", "nobody").status_code == 401
        assert timed("wrong password", "kim").status_code == 401
    clear()
    for _ in range(5):
        client.get(ME, headers=basic("kim", WRONG))
    for _ in range(samples):
        assert timed("locked", "kim").headers.get("Auth-Failure-Reason") == "account locked"
    print_timings(timings, decimals=1)


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("samples", nargs="?", type=int, default=60)
    parser.add_argument("--smoke", action="store_true", help="4 samples, cheap hashing: does it still run?")
    cli = parser.parse_args()
    main(4 if cli.smoke else cli.samples, smoke=cli.smoke)

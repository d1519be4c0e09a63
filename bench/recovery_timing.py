"""Account-recovery timing by account (docs/account-recovery.md, no enumeration): the API's
init and recover steps for a real account with a verified address, an unknown name and an
account without a verified address. They must cost the same: the same queries run (on no rows
for a flow with nobody behind it), no password hash runs on any of them, and the real account's
mail leaves after the commit from the mail thread, outside the answer's time. Prints medians and
90th percentiles per step; not a test (the suite has no timed assertions).

    .venv/bin/python bench/recovery_timing.py [SAMPLES] [--smoke]

``--smoke`` takes 4 samples: it only checks that the script still runs (``make test`` does this).
"""

from __future__ import annotations

import time
from typing import Any

from timing import print_timings
from timing import temporary_app

BASE = "/t/acme/api/users/v2/recovery/password"
CLAIM = "http://wso2.org/claims/username"


def main(samples: int, *, smoke: bool = False) -> None:
    from tests.factories import make_tenant
    from tests.factories import make_user

    app = temporary_app(
        recovery_sends_per_window=1_000_000,
        recovery_ip_sends_per_window=1_000_000,
        recovery_ip_inits_per_window=1_000_000,
    )
    tenant = make_tenant(app, "acme", recovery_api_auth="anonymous")
    verified = {"urn:scim:wso2:schema": {"emailVerified": True}}
    make_user(app, tenant, "kim", "correct-horse-9", emails=[{"value": "kim@example.com", "primary": True}], **verified)
    make_user(app, tenant, "lee", "correct-horse-9", emails=[{"value": "lee@example.com", "primary": True}])
    client = app.test_client()
    accounts = {"real account": "kim", "unknown name": "nobody", "unverified": "lee"}
    timings: dict[str, list[float]] = {f"{kind} {step}": [] for kind in accounts for step in ("init", "recover")}

    def timed(label: str, path: str, body: dict[str, Any]) -> Any:
        start = time.perf_counter()
        response = client.post(path, json=body)
        timings[label].append(time.perf_counter() - start)
        return response

    order = list(accounts.items())
    for index in range(samples):
        # Interleaved and rotated, so drift and the mail thread's work after a real account's
        # recover (it runs during the next request) fall on every kind alike.
        shift = index % len(order)
        for kind, name in order[shift:] + order[:shift]:
            started = timed(f"{kind} init", f"{BASE}/init", {"claims": [{"uri": CLAIM, "value": name}]})
            assert started.status_code == 200, started.get_data(as_text=True)
            code = started.get_json()[0]["channelInfo"]["recoveryCode"]
            sent = timed(f"{kind} recover", f"{BASE}/recover", {"recoveryCode": code, "channelId": "1"})
            assert sent.status_code == 202, sent.get_data(as_text=True)
    app.extensions["scim_me"].mailer.wait_idle(30)
    print_timings(timings, decimals=2)


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("samples", nargs="?", type=int, default=200)
    parser.add_argument("--smoke", action="store_true", help="4 samples: does it still run?")
    cli = parser.parse_args()
    main(4 if cli.smoke else cli.samples, smoke=cli.smoke)

"""Lockout and throttling (security.md T-PW-6, T-PW-7) with a controlled clock: every step of
the progressive lock, the hard lock, the per-IP limit, and the same answers for an unknown
user, a wrong password and a locked account. Hash runs are counted from the ``signin.failure``
events the server records (one per hash that did not match), not from a mock."""

from __future__ import annotations

from datetime import UTC
from datetime import datetime

import pytest
import time_machine

from scim_me.storage.throttle import LockoutPolicy
from scim_me.storage.throttle import unlock
from tests.account.support import ME
from tests.account.support import PASSWORD
from tests.account.support import basic_auth
from tests.account.support import events
from tests.account.support import from_ip
from tests.account.support import password_token
from tests.factories import bearer
from tests.factories import make_token
from tests.support.apps import build_app

T0 = datetime(2026, 12, 3, 9, 0, 0, tzinfo=UTC)
WRONG = "wrong-password-1"


def basic(client, user: str, password: str, ip: str = "10.0.0.1"):
    return client.get(ME, headers=basic_auth(user, password), **from_ip(ip))


def locked(response) -> bool:
    return response.status_code == 401 and response.headers.get("Auth-Failure-Reason") == "account locked"


def test_lock_durations_double_up_to_the_cap():
    policy = LockoutPolicy()
    assert [policy.lock_for(n) for n in range(1, 12)] == [0, 0, 0, 0, 60, 120, 240, 480, 900, 900, 900]


def test_each_lockout_step(app, client, tenant, kim):
    with time_machine.travel(T0, tick=False) as clock:
        for attempt in range(1, 5):
            response = basic(client, "kim", WRONG)
            assert response.status_code == 401 and "Auth-Failure-Reason" not in response.headers, attempt
        fifth = basic(client, "kim", WRONG)  # the fifth failure runs its hash and sets the lock
        assert fifth.status_code == 401 and "Auth-Failure-Reason" not in fifth.headers
        assert events(app, tenant, kim, "signin.failure") == 5
        assert events(app, tenant, kim, "account.locked") == 1

        # Locked: even the right password is refused, and no hash runs (no new failure event).
        during = basic(client, "kim", PASSWORD)
        assert locked(during) and during.headers["Retry-After"] == "60"
        assert events(app, tenant, kim, "signin.failure") == 5
        assert events(app, tenant, kim, "signin.locked") == 1
        clock.shift(30)
        assert basic(client, "kim", WRONG).headers["Retry-After"] == "30"
        assert events(app, tenant, kim, "signin.locked") == 1  # one a minute, not one per attempt

        # Each failure after a lock expires locks again, twice as long, capped at 15 minutes.
        remaining = 30
        for expected in (120, 240, 480, 900, 900):
            clock.shift(remaining)
            failed = basic(client, "kim", WRONG)
            assert failed.status_code == 401 and not locked(failed)
            refused = basic(client, "kim", PASSWORD)
            assert locked(refused) and refused.headers["Retry-After"] == str(expected)
            clock.shift(expected - 1)
            assert locked(basic(client, "kim", PASSWORD))  # one second before the end: still locked
            remaining = 1
        assert events(app, tenant, kim, "signin.failure") == 10
        assert events(app, tenant, kim, "account.locked") == 6

        # The lock ends: the right password works and the counter starts again from zero.
        clock.shift(1)
        assert basic(client, "kim", PASSWORD).status_code == 200
        for _ in range(4):
            basic(client, "kim", WRONG)
        assert basic(client, "kim", PASSWORD).status_code == 200


def test_the_lock_is_shown_in_me_and_lifted_by_unlock(app, client, tenant, kim):
    with time_machine.travel(T0, tick=False):
        for _ in range(5):
            basic(client, "kim", WRONG)
        token = make_token(app, tenant, kim)
        me = client.get(ME, headers=bearer(token))
        wso2 = me.json["urn:scim:wso2:schema"]
        assert wso2["accountLocked"] is True
        assert wso2["lockedReason"] == "MAX_ATTEMPTS_EXCEEDED"
        assert int(wso2["unlockTime"]) == int(T0.timestamp() * 1000) + 60_000
        with app.app_context(), app.extensions["scim_me"].db.connection_context():
            assert unlock(tenant.id, "kim") is True
        assert "accountLocked" not in client.get(ME, headers=bearer(token)).json.get("urn:scim:wso2:schema", {})
        assert basic(client, "kim", PASSWORD).status_code == 200


def test_hard_lock_needs_an_operator(database_url, tmp_path):
    app = build_app(database_url, tmp_path, login_hard_lock_failures=7)
    try:
        from tests.factories import make_tenant
        from tests.factories import make_user

        tenant = make_tenant(app, "acme")
        make_user(app, tenant, "kim", PASSWORD)
        client = app.test_client()
        with time_machine.travel(T0, tick=False) as clock:
            for _ in range(6):
                basic(client, "kim", WRONG)
                clock.shift(901)
            basic(client, "kim", WRONG)  # the 7th consecutive failure
            clock.shift(86400 * 30)
            assert locked(basic(client, "kim", PASSWORD))
            with app.app_context(), app.extensions["scim_me"].db.connection_context():
                assert unlock(tenant.id, "kim")
            assert basic(client, "kim", PASSWORD).status_code == 200
    finally:
        app.extensions["scim_me"].db.close_all()


def test_counter_is_shared_across_client_ips(app, client, tenant, kim):
    with time_machine.travel(T0, tick=False):
        for index in range(5):
            basic(client, "kim", WRONG, ip=f"192.0.2.{index % 3 + 1}")
        for ip in ("192.0.2.1", "192.0.2.2", "192.0.2.3", "198.51.100.7"):
            assert locked(basic(client, "kim", PASSWORD, ip=ip))


def test_per_ip_limit_across_accounts_does_not_lock_the_victims(app, client, tenant, kim):
    with time_machine.travel(T0, tick=False) as clock:
        # Credential stuffing from one address: one guess per account, 20 accounts.
        for index in range(19):
            assert basic(client, f"victim-{index}", WRONG, ip="203.0.113.9").status_code == 401
        assert basic(client, "kim", WRONG, ip="203.0.113.9").status_code == 401  # the 20th failure
        stopped = basic(client, "kim", PASSWORD, ip="203.0.113.9")
        assert stopped.status_code == 429 and stopped.headers["Retry-After"] == "60"
        assert events(app, tenant, kim, "signin.failure") == 1  # the refused attempt ran no hash
        # kim is not locked: from anywhere else the right password works.
        assert basic(client, "kim", PASSWORD, ip="198.51.100.7").status_code == 200
        clock.shift(60)
        assert basic(client, "kim", PASSWORD, ip="203.0.113.9").status_code == 200


def test_successes_do_not_count_towards_the_ip_limit(app, client, tenant, kim):
    with time_machine.travel(T0, tick=False):
        for _ in range(40):
            assert basic(client, "kim", PASSWORD, ip="203.0.113.10").status_code == 200


def _shape(response) -> tuple[int, tuple[str, ...], frozenset[str]]:
    body = response.get_json(silent=True)
    keys = tuple(sorted(body)) if isinstance(body, dict) else ()
    headers = frozenset(h for h in ("Retry-After", "Auth-Failure-Reason", "WWW-Authenticate") if h in response.headers)
    return response.status_code, keys, headers


def test_unknown_user_wrong_password_and_locked_answer_alike(app, client, tenant, kim, spa):
    """T-PW-7: step by step, an unknown name gets what a real one gets, on Basic and on the
    password grant; the bodies carry the same keys and text."""
    with time_machine.travel(T0, tick=False):
        for step in range(7):
            real = basic(client, "kim", WRONG, ip="10.1.0.1")
            ghost = basic(client, "nobody-here", WRONG, ip="10.1.0.2")
            assert _shape(real) == _shape(ghost), step
            assert real.get_json() == ghost.get_json(), step
            real_grant = password_token(client, spa, "kim", WRONG, **from_ip("10.2.0.1"))
            ghost_grant = password_token(client, spa, "nobody-here", WRONG, **from_ip("10.2.0.2"))
            assert _shape(real_grant) == _shape(ghost_grant), step
            assert real_grant.get_json() == ghost_grant.get_json(), step
        assert real.status_code == 401 and real.headers["Auth-Failure-Reason"] == "account locked"
        assert real_grant.status_code == 429 and real_grant.json["error"] == "invalid_grant"


@pytest.mark.parametrize("ip", ["10.3.0.1"])
def test_password_grant_lock(app, client, tenant, kim, spa, ip):
    with time_machine.travel(T0, tick=False):
        for _ in range(5):
            assert password_token(client, spa, "kim", WRONG, **from_ip(ip)).status_code == 400
        refused = password_token(client, spa, "kim", PASSWORD, **from_ip(ip))
        assert refused.status_code == 429
        assert refused.headers["Retry-After"] == "60"
        assert refused.json == {
            "error": "invalid_grant",
            "error_description": "Too many failed sign-in attempts. Try again later.",
        }
        assert PASSWORD not in refused.get_data(as_text=True)


def test_an_administrators_lock_set_during_a_held_accounts_sign_in_stays_a_lock(app, tenant, kim):
    """A held account's right password keeps its hold (storage/throttle.succeeded(held=True)); if
    an administrator locked the account between the reservation and the success, the success
    must not turn the lock back into a hold, which confirming the address would lift."""
    from scim_me.storage.throttle import account_key
    from scim_me.storage.throttle import hold_for_email
    from scim_me.storage.throttle import lock_account
    from scim_me.storage.throttle import lock_state
    from scim_me.storage.throttle import reserve
    from scim_me.storage.throttle import succeeded

    with app.extensions["scim_me"].db.connection_context():
        hold_for_email(tenant.id, "kim", T0)
        key = account_key(tenant.id, "kim")
        reservation = reserve(tenant.id, key, None, LockoutPolicy(), T0)
        assert reservation.allowed and reservation.held
        lock_account(tenant.id, "kim", T0)  # the administrator, meanwhile
        succeeded(key, None, T0, held=True)
        state = lock_state(tenant.id, "kim", T0)
    assert state.hard and not state.email_pending

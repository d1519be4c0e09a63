"""The hot path's one read (``storage/caller.py``): user row, token revocation and the facts /Me
shows, as the separate reads they replace would give them, on both databases."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from scim_me.storage.caller import load_caller
from scim_me.storage.caller import load_facts
from scim_me.storage.clients import create_client
from scim_me.storage.grants import create_grant
from scim_me.storage.grants import is_access_token_revoked
from scim_me.storage.grants import record_tokens
from scim_me.storage.grants import revoke_access_token
from scim_me.storage.grants import revoke_grant
from scim_me.storage.mfa import get_state
from scim_me.storage.mfa import replace_backup_codes
from scim_me.storage.mfa import set_pending
from scim_me.storage.tenants import create_tenant
from scim_me.storage.throttle import LockoutPolicy
from scim_me.storage.throttle import account_key
from scim_me.storage.throttle import lock_state
from scim_me.storage.throttle import reserve
from scim_me.storage.throttle import unlock
from scim_me.storage.users import create_user
from scim_me.storage.users import get_user
from scim_me.storage.users import now


def _token(tenant_id: int, user_id: str, jti: str) -> str:
    client, _secret = create_client(
        tenant_id, "app", public=False, grant_types=["password"], redirect_uris=[], allowed_origins=[]
    )
    grant = create_grant(tenant_id, client.id, user_id, "internal_login")
    record_tokens(grant.id, jti, now() + timedelta(hours=1), None, None)
    return grant.id


def test_user_row_is_get_users(db: Any) -> None:
    tenant = create_tenant("acme")
    kim = create_user(tenant.id, {"userName": "kim", "nickName": "k"}, "hash")
    caller = load_caller(tenant.id, kim.id, None)
    assert caller is not None and caller.user == get_user(tenant.id, kim.id)
    assert load_caller(tenant.id, "no-such-user", None) is None
    other = create_tenant("other")
    assert load_caller(other.id, kim.id, None) is None  # a user of another tenant is nobody here
    assert load_caller(tenant.id, "x" * 37, None) is None and load_caller(tenant.id, "a\x00b", None) is None


def test_revocation_is_that_of_the_token_record(db: Any) -> None:
    tenant = create_tenant("acme")
    kim = create_user(tenant.id, {"userName": "kim"}, "hash")
    grant_id = _token(tenant.id, kim.id, "jti-1")
    _token(tenant.id, kim.id, "jti-2")
    cases = [("jti-1", False), ("unrecorded", False)]
    for jti, revoked in cases:
        caller = load_caller(tenant.id, kim.id, jti)
        assert caller is not None and caller.token_revoked is revoked is is_access_token_revoked(jti)
    revoke_access_token("jti-2")
    assert load_caller(tenant.id, kim.id, "jti-2").token_revoked is True  # type: ignore[union-attr]
    revoke_grant(grant_id)
    assert load_caller(tenant.id, kim.id, "jti-1").token_revoked is True  # type: ignore[union-attr]


def test_mfa_facts_follow_the_mfa_tables(db: Any) -> None:
    tenant = create_tenant("acme")
    kim = create_user(tenant.id, {"userName": "kim"}, "hash")
    facts = load_caller(tenant.id, kim.id, None).facts  # type: ignore[union-attr]
    assert (facts.mfa_configured, facts.totp_active, facts.backup_codes) == (False, False, False)
    set_pending(tenant.id, kim.id, "sealed-pending")
    facts = load_caller(tenant.id, kim.id, None).facts  # type: ignore[union-attr]
    assert (facts.mfa_configured, facts.totp_active, facts.backup_codes) == (True, False, False)
    replace_backup_codes(tenant.id, kim.id, ["d1", "d2"])
    facts = load_caller(tenant.id, kim.id, None).facts  # type: ignore[union-attr]
    state = get_state(tenant.id, kim.id)
    assert (facts.mfa_configured, facts.totp_active, facts.backup_codes) == (
        state.configured, state.totp_active, state.backup_codes_enabled
    ) == (True, False, True)  # fmt: skip
    assert load_facts(get_user(tenant.id, kim.id)) == facts  # type: ignore[arg-type]


def _lock_out(tenant_id: int, user_name: str) -> None:
    policy = LockoutPolicy(max_failures=1, lock_seconds=600)
    for _ in range(2):
        reserve(tenant_id, account_key(tenant_id, user_name), None, policy, now())


def test_account_lock_is_read_on_every_call_under_the_current_name(db: Any) -> None:
    tenant = create_tenant("acme")
    kim = create_user(tenant.id, {"userName": "kim"}, "hash")
    for _ in range(2):  # the first call learns the lock key, the next ones join on it
        assert load_caller(tenant.id, kim.id, None).facts.lock.locked is False  # type: ignore[union-attr]
    _lock_out(tenant.id, "kim")
    for _ in range(2):
        lock = load_caller(tenant.id, kim.id, None).facts.lock  # type: ignore[union-attr]
        assert lock == lock_state(tenant.id, "kim", now()) and lock.locked and lock.until is not None
    unlock(tenant.id, "kim")
    assert load_caller(tenant.id, kim.id, None).facts.lock.locked is False  # type: ignore[union-attr]
    # Renamed (by the operator): the lock of the new name counts, at once.
    _lock_out(tenant.id, "KimNew")
    db.execute_sql(db.param.join(["UPDATE users SET user_name = ", ", user_name_key = ", " WHERE id = ", ""]),
                   ("kimnew", "kimnew", kim.id))  # fmt: skip
    assert load_caller(tenant.id, kim.id, None).facts.lock.locked is True  # type: ignore[union-attr]


def test_the_tokens_session_is_over_when_ended_idle_or_too_old(db: Any) -> None:
    """The same statement says whether the sign-in session of the token's grant is over by the
    limits given: ended, idle since before ``now - idle``, or signed in before ``now - absolute``."""
    from scim_me.storage.sessions import SessionLimits
    from scim_me.storage.sessions import end_session
    from scim_me.storage.sessions import start_session

    tenant = create_tenant("acme")
    kim = create_user(tenant.id, {"userName": "kim"}, "hash")
    client, _secret = create_client(
        tenant.id,
        "spa",
        public=True,
        grant_types=["authorization_code"],
        redirect_uris=["https://app/cb"],
        allowed_origins=[],
    )
    session, _cookie = start_session(tenant.id, kim.id, "ua", "127.0.0.1")
    grant = create_grant(tenant.id, client.id, kim.id, "internal_login", session.id)
    record_tokens(grant.id, "jti-s", now() + timedelta(hours=1), None, None)
    live = SessionLimits(idle=timedelta(minutes=10), absolute=timedelta(hours=1))
    caller = load_caller(tenant.id, kim.id, "jti-s", live)
    assert caller is not None and caller.expired_session is None
    idle = SessionLimits(idle=timedelta(seconds=-1), absolute=timedelta(hours=1))
    old = SessionLimits(idle=timedelta(minutes=10), absolute=timedelta(seconds=-1))
    for limits in (idle, old):
        caller = load_caller(tenant.id, kim.id, "jti-s", limits)
        assert caller is not None and caller.expired_session == session.id and not caller.token_revoked
    _token(tenant.id, kim.id, "jti-no-session")  # a password grant: no session, nothing to expire
    caller = load_caller(tenant.id, kim.id, "jti-no-session", idle)
    assert caller is not None and caller.expired_session is None
    end_session(session.id)
    caller = load_caller(tenant.id, kim.id, "jti-s")
    assert caller is not None and caller.expired_session == session.id and caller.token_revoked

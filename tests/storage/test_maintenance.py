"""``prune`` (storage/maintenance.py) on SQLite and PostgreSQL: it deletes what expired a grace
period ago and nothing whose absence would change an answer (a revoked token must stay revoked),
and two runs at once (two instances) neither fail nor double-count."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

from scim_me.storage.caller import load_caller
from scim_me.storage.clients import create_client
from scim_me.storage.db import write_transaction
from scim_me.storage.devices import add_device
from scim_me.storage.grants import create_grant
from scim_me.storage.grants import is_access_token_revoked
from scim_me.storage.grants import record_tokens
from scim_me.storage.grants import revoke_grant
from scim_me.storage.maintenance import prune
from scim_me.storage.models import LoginThrottle
from scim_me.storage.models import OAuthAccessToken
from scim_me.storage.models import OAuthCode
from scim_me.storage.models import OAuthGrant
from scim_me.storage.models import OAuthRefreshToken
from scim_me.storage.models import TrustedDevice
from scim_me.storage.models import UserSession
from scim_me.storage.models import WebauthnChallenge
from scim_me.storage.sessions import end_session
from scim_me.storage.sessions import start_session
from scim_me.storage.tenants import create_tenant
from scim_me.storage.users import create_user
from scim_me.storage.users import now

NOTHING = {
    "throttle": 0,
    "codes": 0,
    "mfa_challenges": 0,
    "passkey_challenges": 0,
    "email_changes": 0,
    "recovery_flows": 0,
    "trusted_devices": 0,
    "access_tokens": 0,
    "refresh_tokens": 0,
    "grants": 0,
    "mail": 0,
    "sessions": 0,
}


def add_code(tenant_id: int, client_pk: int, user_id: str, name: str, expires_in: timedelta) -> None:
    with write_transaction():
        OAuthCode.create(
            code_hash=name,
            tenant=tenant_id,
            client=client_pk,
            user=user_id,
            redirect_uri="https://app.example.com/cb",
            auth_time=0,
            expires_at=now() + expires_in,
        )


def test_prune_deletes_only_what_stopped_mattering(db: Any) -> None:
    start = now()
    tenant = create_tenant("acme")
    kim = create_user(tenant.id, {"userName": "kim"}, "hash")
    client, _ = create_client(
        tenant.id, "app", public=False, grant_types=["password"], redirect_uris=[], allowed_origins=[]
    )
    live = create_grant(tenant.id, client.id, kim.id, "internal_login")
    record_tokens(live.id, "jti-live", start + timedelta(hours=1), "refresh-live", start + timedelta(days=1))
    revoked = create_grant(tenant.id, client.id, kim.id, "internal_login")
    record_tokens(revoked.id, "jti-revoked", start + timedelta(hours=1), None, None)
    revoke_grant(revoked.id)
    # Revoked, but its token is valid for 10 more days: the record must outlive it.
    long_lived = create_grant(tenant.id, client.id, kim.id, "internal_login")
    record_tokens(long_lived.id, "jti-long", start + timedelta(days=10), None, None)
    revoke_grant(long_lived.id)
    session, _secret = start_session(tenant.id, kim.id, "ua", "127.0.0.1")
    of_session = create_grant(tenant.id, client.id, kim.id, "internal_login", session_id=session.id)
    record_tokens(of_session.id, "jti-session", start + timedelta(hours=1), None, None)
    end_session(session.id)
    add_code(tenant.id, client.id, kim.id, "code-used", timedelta(minutes=5))
    expiring, _token = add_device(tenant.id, kim.id, "Firefox on Ubuntu", "ua", "127.0.0.1", timedelta(hours=1))
    lasting, _token = add_device(tenant.id, kim.id, "Safari on iOS", "ua", "127.0.0.1", timedelta(days=30))
    with write_transaction():
        LoginThrottle.create(key="ip-idle", kind="ip", failures=1, window_start=start, updated_at=start)
        for name, lifetime in (("ceremony-over", timedelta(minutes=5)), ("ceremony-later", timedelta(days=5))):
            WebauthnChallenge.create(
                id_hash=name,
                tenant=tenant.id,
                user=kim.id,
                purpose="registration",
                challenge="c",
                created_at=start,
                expires_at=start + lifetime,
            )

    # Within the grace period nothing goes, and the revoked tokens read revoked.
    assert prune(now=start + timedelta(hours=3)) == NOTHING
    assert is_access_token_revoked("jti-revoked") and is_access_token_revoked("jti-session")

    counts = prune(now=start + timedelta(days=3))
    assert counts == {
        **NOTHING,
        "throttle": 1,
        "codes": 1,
        "access_tokens": 3,  # live, revoked, session; not the long-lived one
        "refresh_tokens": 1,
        "grants": 2,  # the revoked one and the ended session's; not the live or the long-lived one
        "sessions": 1,
        "trusted_devices": 1,  # expired a grace ago; the one trusted for 30 days stays
        "passkey_challenges": 1,  # the ceremony that expired; the one still running stays
    }
    assert [c.id_hash for c in WebauthnChallenge.select()] == ["ceremony-later"]
    assert [d.id for d in TrustedDevice.select()] == [lasting.id] and expiring.id != lasting.id
    assert {g.id for g in OAuthGrant.select()} == {live.id, long_lived.id}
    assert [t.jti for t in OAuthAccessToken.select()] == ["jti-long"]
    assert is_access_token_revoked("jti-long")
    caller = load_caller(tenant.id, kim.id, "jti-long")
    assert caller is not None and caller.token_revoked
    assert OAuthRefreshToken.select().count() == 0 and UserSession.select().count() == 0
    assert prune(now=start + timedelta(days=3)) == NOTHING  # idempotent

    # Once the long-lived token expired too, its revoked grant goes; and the live grant, past the
    # absolute refresh lifetime (7 days) and with no token left, is over as well.
    counts = prune(now=start + timedelta(days=12))
    assert (counts["access_tokens"], counts["grants"]) == (1, 2)  # type: ignore[index]
    assert OAuthGrant.select().count() == 0


def test_two_runs_at_once_delete_every_row_once(db: Any, database_url: str) -> None:
    from scim_me.storage.db import database_proxy
    from scim_me.storage.db import open_database

    tenant = create_tenant("acme")
    kim = create_user(tenant.id, {"userName": "kim"}, "hash")
    client, _ = create_client(
        tenant.id,
        "app",
        public=True,
        grant_types=["authorization_code"],
        redirect_uris=["https://app.example.com/cb"],
        allowed_origins=[],
    )
    for index in range(1200):  # several batches
        add_code(tenant.id, client.id, kim.id, f"code-{index}", timedelta(minutes=-5))
    later = now() + timedelta(days=2)
    results: list[Any] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def run() -> None:
        try:
            barrier.wait(10)
            with db.connection_context():
                results.append(prune(now=later))
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    # On PostgreSQL the second run may find the first holding the lock and skip (None).
    assert sum(result["codes"] for result in results if result is not None) == 1200
    assert OAuthCode.select().count() == 0
    assert database_proxy.obj is db and open_database  # the shared binding was left as it was

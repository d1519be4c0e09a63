"""Pruning what no check needs any more: idle throttle rows, used or expired authorization codes
and MFA challenges, expired passkey ceremonies, expired trusted devices, sent mail (a day after
sending; failed mail after a week), stale e-mail changes and recovery flows, expired access and
refresh token records, finished grants, ended sessions. ``scim-me maintenance prune`` runs it, and every
gunicorn worker runs it every ``maintenance_interval_seconds`` (scim_me/gunicorn_conf.py).

Each rule deletes only rows whose absence means the same as their presence, a ``GRACE`` after
they stopped mattering:

- an access token record only once the JWT's ``exp`` (plus the clock leeway) has passed: a
  token with no record is treated as not revoked (storage/caller.py), so a record may go only
  when the token is refused on its own;
- a grant only when no access token record points at it (its tokens' revocation is read through
  it) and it was revoked, or outlived the absolute refresh lifetime, or its session ended;
- a session only when it ended and no grant points at it (a live token finds its session through
  its grant);
- a refresh token or code only after its expiry: until then a replay must still be recognised
  (RFC 9700 §4.14.2, RFC 6749 §4.1.2).

Safe while serving and on several instances at once: every rule is an idempotent DELETE by
expiry, in batches of ``BATCH`` rows a transaction (short write locks). On PostgreSQL one run at
a time holds an advisory lock and the others skip; on SQLite the writers queue anyway.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from datetime import datetime
from datetime import timedelta
from typing import Any

import peewee

from scim_me.storage import throttle
from scim_me.storage.db import current_database
from scim_me.storage.db import is_sqlite
from scim_me.storage.db import keeps_session_state
from scim_me.storage.db import write_transaction
from scim_me.storage.models import EmailChange
from scim_me.storage.models import MailOutbox
from scim_me.storage.models import MfaChallenge
from scim_me.storage.models import OAuthAccessToken
from scim_me.storage.models import OAuthCode
from scim_me.storage.models import OAuthGrant
from scim_me.storage.models import OAuthRefreshToken
from scim_me.storage.models import RecoveryFlow
from scim_me.storage.models import TrustedDevice
from scim_me.storage.models import UserSession
from scim_me.storage.models import WebauthnChallenge
from scim_me.storage.users import now as utc_now

log = logging.getLogger("scim_me.maintenance")
GRACE = timedelta(days=1)
# Mail given up on stays a week for the operator to look into (its body is sealed).
FAILED_MAIL_KEPT = timedelta(days=7)
BATCH = 500
# pg_try_advisory_lock key: "scim" "prun" as two 32-bit words; any constant shared by all instances.
ADVISORY_KEY = 0x7363696D7072756E


def _delete(model: Any, condition: Any) -> int:
    """Delete the rows matching ``condition`` in batches; the number deleted."""
    key = model._meta.primary_key
    total = 0
    while True:
        batch = model.select(key).where(condition).limit(BATCH)
        with write_transaction():
            deleted = int(model.delete().where(key.in_(batch)).execute())
        total += deleted
        if deleted < BATCH:
            return total


def _rules(now: datetime, leeway: timedelta, absolute: timedelta) -> list[tuple[str, Callable[[], int]]]:
    cutoff = now - GRACE
    tokens_of_grant = OAuthAccessToken.select(OAuthAccessToken.jti).where(OAuthAccessToken.grant == OAuthGrant.id)
    ended_sessions = UserSession.select(UserSession.id).where(UserSession.ended_at.is_null(False))
    grants_of_session = OAuthGrant.select(OAuthGrant.id).where(OAuthGrant.session_id == UserSession.id)
    return [
        ("throttle", lambda: throttle.prune(now)),
        ("codes", lambda: _delete(OAuthCode, OAuthCode.expires_at < cutoff)),
        ("mfa_challenges", lambda: _delete(MfaChallenge, MfaChallenge.expires_at < cutoff)),
        # A ceremony's request id is refused once expired, present or not (storage/passkeys.py).
        ("passkey_challenges", lambda: _delete(WebauthnChallenge, WebauthnChallenge.expires_at < cutoff)),
        ("email_changes", lambda: _delete(EmailChange, EmailChange.expires_at < cutoff)),
        ("recovery_flows", lambda: _delete(RecoveryFlow, RecoveryFlow.expires_at < cutoff)),
        # An expired device skips nothing (storage/devices.py compares expires_at); its row only
        # keeps the user's device list honest until then.
        ("trusted_devices", lambda: _delete(TrustedDevice, TrustedDevice.expires_at < cutoff)),
        ("access_tokens", lambda: _delete(OAuthAccessToken, OAuthAccessToken.expires_at < cutoff - leeway)),
        ("refresh_tokens", lambda: _delete(OAuthRefreshToken, OAuthRefreshToken.expires_at < cutoff)),
        (
            "grants",
            lambda: _delete(
                OAuthGrant,
                ~peewee.fn.EXISTS(tokens_of_grant)
                & (
                    (OAuthGrant.revoked_at < cutoff)
                    | (OAuthGrant.created_at < cutoff - absolute)
                    | OAuthGrant.session_id.in_(ended_sessions)
                ),
            ),
        ),
        (
            "mail",
            lambda: _delete(
                MailOutbox,
                ((MailOutbox.state == "sent") & (MailOutbox.sent_at < cutoff))
                | (MailOutbox.state.in_(("failed", "unknown")) & (MailOutbox.created_at < cutoff - FAILED_MAIL_KEPT)),
            ),
        ),
        (
            "sessions",
            lambda: _delete(UserSession, (UserSession.ended_at < cutoff) & ~peewee.fn.EXISTS(grants_of_session)),
        ),
    ]


def prune(
    *, leeway_seconds: int = 30, absolute_lifetime_seconds: int = 604800, now: datetime | None = None
) -> dict[str, int] | None:
    """Run every rule once; the rows deleted per rule, or None when another instance is pruning
    (PostgreSQL)."""
    db = current_database()
    stamp = now or utc_now()
    rules = _rules(stamp, timedelta(seconds=leeway_seconds), timedelta(seconds=absolute_lifetime_seconds))
    if is_sqlite(db):
        return {name: rule() for name, rule in rules}
    if not keeps_session_state(db):
        # Behind a transaction pooler a session lock could be taken on one server connection and
        # released on another (or never): hold a transaction's lock over one transaction instead.
        with db.atomic():
            if not db.execute_sql("SELECT pg_try_advisory_xact_lock(%s)", (ADVISORY_KEY,)).fetchone()[0]:
                return None
            return {name: rule() for name, rule in rules}
    if not db.execute_sql("SELECT pg_try_advisory_lock(%s)", (ADVISORY_KEY,)).fetchone()[0]:
        return None
    try:
        return {name: rule() for name, rule in rules}
    finally:
        db.execute_sql("SELECT pg_advisory_unlock(%s)", (ADVISORY_KEY,))


class PeriodicPrune:
    """A daemon thread that prunes every ``interval`` seconds (±25 % jitter, so the workers and
    instances do not all start at once), each run on its own connection."""

    def __init__(self, db: Any, interval: int, *, leeway_seconds: int, absolute_lifetime_seconds: int) -> None:
        self.db = db
        self.interval = interval
        self.leeway_seconds = leeway_seconds
        self.absolute_lifetime_seconds = absolute_lifetime_seconds
        self.runs = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="scim-me-maintenance", daemon=True)

    def start(self) -> PeriodicPrune:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def _loop(self) -> None:
        while not self._stop.wait(self.interval * random.uniform(0.75, 1.25)):  # noqa: S311 (jitter, not a secret)
            self.run_once()

    def run_once(self) -> dict[str, int] | None:
        started = time.monotonic()
        try:
            with self.db.connection_context():
                counts = prune(
                    leeway_seconds=self.leeway_seconds, absolute_lifetime_seconds=self.absolute_lifetime_seconds
                )
        except Exception:  # a failed run is retried at the next interval; it must not kill the thread
            log.exception("maintenance prune failed")
            return None
        self.runs += 1
        if counts is None:
            log.info("maintenance prune skipped: another instance is pruning")
        elif any(counts.values()):
            log.info("maintenance prune in %.2fs: %s", time.monotonic() - started, counts)
        return counts

"""The durable mail outbox: one row per mail, written in the transaction of the change that
causes it (a rolled-back change mails nobody, a committed one survives a crash), delivered by
whichever sender of whichever instance claims it first.

Claiming records the attempt before the mail leaves: the row becomes ``sending`` with
``attempts + 1`` and ``claimed_at``, committed, then the sender sends and marks it ``sent``, or
``pending`` again with ``next_attempt_at`` pushed back (doubling backoff) after a transient
failure, or ``failed``. On PostgreSQL the claim is ``SELECT ... FOR UPDATE SKIP LOCKED``: two
senders never take the same row, nor wait on each other. On SQLite it runs in a ``BEGIN
IMMEDIATE`` write transaction (one writer at a time), which serialises claims the same way.

A sender that dies between claim and mark (kill -9, power loss) leaves its row ``sending``; after
``LEASE`` it becomes ``unknown`` and is not sent again: the mail may or may not have left, and
a second copy of a verification code is worse than none (the user can ask again). The remaining
duplicate window is the transport's own: a relay that accepted the message but whose reply was
lost looks like a transient failure and is retried (at-least-once; docs/mail.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from datetime import timedelta
from typing import Any

from scim_me.storage.db import current_database
from scim_me.storage.db import is_sqlite
from scim_me.storage.db import write_transaction
from scim_me.storage.models import MailOutbox

# The sender's functions take its ``db`` and bind their queries to it, rather than going through
# the process-wide proxy: a sender thread must never follow the proxy to another app's database
# (tests build many apps in one process). Queueing, in the request, uses the request's database.
LEASE = timedelta(minutes=5)
WAITING = ("pending", "sending")


@dataclass(frozen=True)
class OutboxMail:
    id: int
    kind: str
    recipient: str
    subject: str
    body: str  # sealed
    attempts: int  # including the one just claimed


def enqueue(kind: str, recipient: str, subject: str, sealed_body: str, stamp: datetime) -> int:
    """Add a mail; inside the caller's transaction when one is open (a savepoint), else its own."""
    with write_transaction():
        row = MailOutbox.create(
            kind=kind[:64],
            recipient=recipient,
            subject=subject,
            body=sealed_body,
            created_at=stamp,
            next_attempt_at=stamp,
        )
    return int(row.id)


_CLAIM_PG = """
UPDATE mail_outbox SET state = 'sending', attempts = attempts + 1, claimed_at = %s
WHERE id = (
    SELECT id FROM mail_outbox WHERE state = 'pending' AND next_attempt_at <= %s
    ORDER BY next_attempt_at, id LIMIT 1 FOR UPDATE SKIP LOCKED
)
RETURNING id, kind, recipient, subject, body, attempts
"""


def claim(db: Any, stamp: datetime) -> OutboxMail | None:
    """Take the next due mail for this sender, recording the attempt; None when none is due."""
    with write_transaction(db):
        # Senders that died mid-attempt: their mail's fate is unknown, it is not sent twice.
        MailOutbox.update(state="unknown", last_error="sender stopped during the attempt").where(
            (MailOutbox.state == "sending") & (MailOutbox.claimed_at < stamp - LEASE)
        ).bind(db).execute()
        if not is_sqlite(db):
            row = db.execute_sql(_CLAIM_PG, (stamp, stamp)).fetchone()
            return OutboxMail(*row) if row else None
        found = (
            MailOutbox.select()
            .where((MailOutbox.state == "pending") & (MailOutbox.next_attempt_at <= stamp))
            .order_by(MailOutbox.next_attempt_at, MailOutbox.id)
            .bind(db)
            .first()
        )
        if found is None:
            return None
        MailOutbox.update(state="sending", attempts=MailOutbox.attempts + 1, claimed_at=stamp).where(
            MailOutbox.id == found.id
        ).bind(db).execute()
        return OutboxMail(found.id, found.kind, found.recipient, found.subject, found.body, found.attempts + 1)


def _set(db: Any, mail_id: int, **values: Any) -> None:
    with write_transaction(db):
        MailOutbox.update(**values).where(MailOutbox.id == mail_id).bind(db).execute()


def mark_sent(db: Any, mail_id: int, stamp: datetime) -> None:
    _set(db, mail_id, state="sent", sent_at=stamp, last_error="")


def mark_retry(db: Any, mail_id: int, at: datetime, error: str) -> None:
    _set(db, mail_id, state="pending", next_attempt_at=at, last_error=error[:255])


def mark_failed(db: Any, mail_id: int, error: str) -> None:
    _set(db, mail_id, state="failed", last_error=error[:255])


def waiting_count(db: Any | None = None) -> int:
    """Mails not yet sent nor given up on (the queue depth /metrics shows)."""
    query = MailOutbox.select().where(MailOutbox.state.in_(WAITING))
    return int(query.bind(db or current_database()).count())


def next_due(db: Any) -> datetime | None:
    """When the earliest pending mail is due (a retry's pause), or None."""
    row = (
        MailOutbox.select(MailOutbox.next_attempt_at)
        .where(MailOutbox.state == "pending")
        .order_by(MailOutbox.next_attempt_at)
        .bind(db)
        .first()
    )
    return row.next_attempt_at if row else None

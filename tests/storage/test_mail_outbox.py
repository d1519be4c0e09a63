"""The outbox table (storage/outbox.py) on SQLite and PostgreSQL: a mail commits or rolls back with
the change that queued it, concurrent senders never claim the same mail, the attempt is recorded
before the send, and a sender that died mid-attempt does not send again."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest

from scim_me.storage import outbox
from scim_me.storage.db import write_transaction
from scim_me.storage.models import MailOutbox
from scim_me.storage.users import now


def states() -> list[tuple[str, int]]:
    return [(row.state, row.attempts) for row in MailOutbox.select().order_by(MailOutbox.id)]


def test_a_mail_rolls_back_with_its_transaction(db: Any) -> None:
    with pytest.raises(RuntimeError), write_transaction():
        outbox.enqueue("email.verify", "kim@example.com", "Verify", "sealed", now())
        raise RuntimeError("the change failed")
    assert states() == []
    with write_transaction():
        outbox.enqueue("email.verify", "kim@example.com", "Verify", "sealed", now())
    assert states() == [("pending", 0)]


def test_the_attempt_is_recorded_before_the_send_and_retries_wait(db: Any) -> None:
    stamp = now()
    mail_id = outbox.enqueue("notice", "kim@example.com", "Notice", "sealed", stamp)
    claimed = outbox.claim(db, stamp)
    assert claimed is not None and (claimed.id, claimed.attempts) == (mail_id, 1)
    assert states() == [("sending", 1)]  # committed before anything is sent
    assert outbox.claim(db, stamp) is None  # nobody else takes it meanwhile
    outbox.mark_retry(db, mail_id, stamp + timedelta(seconds=2), "ConnectionRefusedError")
    assert outbox.claim(db, stamp + timedelta(seconds=1)) is None  # not due yet
    assert outbox.claim(db, stamp + timedelta(seconds=3)).attempts == 2  # type: ignore[union-attr]
    outbox.mark_sent(db, mail_id, stamp)
    assert states() == [("sent", 2)] and outbox.waiting_count(db) == 0


def test_a_sender_that_died_mid_attempt_does_not_send_again(db: Any) -> None:
    stamp = now()
    outbox.enqueue("notice", "kim@example.com", "Notice", "sealed", stamp)
    assert outbox.claim(db, stamp) is not None  # ... and the process was killed here
    assert outbox.claim(db, stamp + timedelta(minutes=1)) is None
    assert outbox.claim(db, stamp + outbox.LEASE + timedelta(seconds=1)) is None
    assert states() == [("unknown", 1)]


def test_concurrent_senders_claim_each_mail_once(db: Any, database_url: str) -> None:
    from scim_me.storage.db import open_database

    stamp = now()
    for index in range(40):
        outbox.enqueue("notice", f"user{index}@example.com", "Notice", "sealed", stamp)
    claimed: list[int] = []
    lock = threading.Lock()
    barrier = threading.Barrier(4)

    def sender() -> None:
        own = open_database(database_url)  # one instance's sender: its own connections
        try:
            barrier.wait(10)
            while True:
                with own.connection_context():
                    mail = outbox.claim(own, now())
                if mail is None:
                    return
                with lock:
                    claimed.append(mail.id)
        finally:
            own.close_all()

    threads = [threading.Thread(target=sender) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(claimed) == sorted({row.id for row in MailOutbox.select()}) and len(claimed) == 40

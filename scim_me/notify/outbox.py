"""The server's mailer: mail goes into the outbox table (storage/outbox.py) in the caller's
transaction and is sent by a background sender in every worker of every instance, so a mail
survives a restart and several instances deliver it once.

``OutboxMailer`` keeps the interface of ``Mailer`` (``send_later``, ``deliver``, ``wait_idle``,
``pending``, ``sent``, ``failed``), so the callers did not change: ``send_later`` inside a write
transaction writes the row in it (and wakes this process's sender once it commits); ``deliver``
sends inline (the CLI). Bodies are sealed with the master key (AES-GCM, crypto.py): the table
holds verification codes and links, which are secrets at rest.

The sender claims due mails one at a time, makes one attempt each (``Mailer.attempt``), and
schedules a transient failure again after ``backoff * 2**(attempts-1)`` seconds until
``mail_retries`` attempts were made. Between wake-ups it polls every ``poll_seconds`` for mail
other processes queued, or whose retry came due.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from scim_me.config import Settings
from scim_me.crypto import seal
from scim_me.crypto import unseal
from scim_me.notify.mail import Mail
from scim_me.notify.mail import Mailer
from scim_me.notify.mail import transport_for
from scim_me.storage import outbox
from scim_me.storage.db import after_commit
from scim_me.storage.db import open_database
from scim_me.storage.users import now

log = logging.getLogger("scim_me.mail")
CONTEXT = "scim-me mail outbox"


class OutboxMailer:
    """``open_db`` opens the sender's own database handle: the sender thread never shares the
    app's connection pool (whose owner may close it while the thread is mid-query)."""

    def __init__(
        self,
        mailer: Mailer,
        db: Any,
        master_key: bytes,
        *,
        open_db: Callable[[], Any] | None = None,
        retries: int = 3,
        backoff: float = 1.0,
        poll_seconds: float = 5.0,
    ) -> None:
        self.mailer = mailer
        self.db = db
        self.open_db = open_db or (lambda: db)
        self.master_key = master_key
        self.retries = retries
        self.backoff = backoff
        self.poll_seconds = poll_seconds
        self.sent = 0
        self.failed = 0
        self._wake = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._persistent = False
        self._pid = 0
        self._stopped = False

    # -- queueing --------------------------------------------------------------------------------

    def send_later(self, mail: Mail) -> None:
        """Queue ``mail`` in the current transaction; this process's sender takes it once it commits."""
        sealed = seal(self.master_key, mail.text.encode("utf-8"), CONTEXT)
        mail_id = outbox.enqueue(mail.kind, mail.to, mail.subject, sealed, now())
        log.info("mail queued kind=%s to=%s subject=%r id=%d", mail.kind, mail.to, mail.subject, mail_id)
        after_commit(self.kick)

    def deliver(self, mail: Mail) -> bool:
        return self.mailer.deliver(mail)

    @property
    def pending(self) -> int:
        with self.db.connection_context():
            return outbox.waiting_count(self.db)

    def wait_idle(self, timeout: float) -> bool:
        """Block until no mail waits (in any process) and this process's on-demand sender stopped;
        False on timeout."""
        deadline = time.monotonic() + timeout
        while self.pending:
            if time.monotonic() > deadline:
                return False
            self.kick()
            time.sleep(0.05)
        thread = self._thread
        if thread is not None and not self._persistent:
            thread.join(max(0.0, deadline - time.monotonic()))
            return not thread.is_alive()
        return True

    # -- sending ---------------------------------------------------------------------------------

    def kick(self) -> None:
        """Wake this process's sender, starting one on demand (it stops when nothing is due)."""
        with self._lock:
            self._wake.set()
            self._ensure(persistent=False)

    def start(self) -> None:
        """A sender that stays and polls (a gunicorn worker: scim_me/gunicorn_conf.py), so mail
        queued before a restart, by another process, or due for a retry leaves without a request."""
        with self._lock:
            self._persistent = True
            self._ensure(persistent=True)

    def stop(self, timeout: float = 5.0) -> bool:
        """Stop this process's sender for good (the app is closing) and wait for it; mail still
        queued stays in the table for the next sender. True when no sender runs any more."""
        with self._lock:
            self._stopped = True
            self._wake.set()
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
            return not thread.is_alive()
        return True

    def _ensure(self, *, persistent: bool) -> None:
        if self._stopped:
            return
        alive = self._thread is not None and self._thread.is_alive() and self._pid == os.getpid()
        if alive:
            return
        self._pid = os.getpid()  # again after a fork: a thread does not survive it
        self._thread = threading.Thread(target=self._run, args=(persistent,), name="scim-me-mail", daemon=True)
        self._thread.start()

    def _run(self, persistent: bool) -> None:
        db = self.open_db()
        try:
            while not self._stopped:
                self._wake.clear()
                try:
                    while not self._stopped and self.send_one(db):
                        pass
                    due = None
                    if not persistent:
                        with db.connection_context():
                            due = outbox.next_due(db)
                except Exception:  # a broken database or a bug must not kill a polling sender
                    log.exception("mail sender failed")
                    if not persistent:
                        with self._lock:
                            self._thread = None  # the next kick starts a new one
                        return
                    due = None
                if persistent:
                    self._wake.wait(self.poll_seconds)
                    continue
                if due is not None:  # a retry's pause: wait for it rather than strand the mail
                    self._wake.wait(min(self.poll_seconds, max(0.0, (due - now()).total_seconds())))
                    continue
                with self._lock:  # on demand: stop unless kicked meanwhile (decided under the lock)
                    if not self._wake.is_set():
                        self._thread = None  # a kick from now on starts a new sender
                        return
        finally:
            with self._lock:
                if self._thread is threading.current_thread():
                    self._thread = None
            if db is not self.db:
                try:
                    db.close_all()
                except Exception:  # closing connections of a database already gone
                    log.debug("closing the mail sender's connections failed", exc_info=True)

    def send_one(self, db: Any) -> bool:
        """Claim and attempt one due mail; False when none was due."""
        with db.connection_context():
            claimed = outbox.claim(db, now())
        if claimed is None:
            return False
        mail = Mail(
            to=claimed.recipient,
            subject=claimed.subject,
            text=unseal(self.master_key, claimed.body, CONTEXT).decode("utf-8"),
            kind=claimed.kind,
        )
        ok, permanent, error = self.mailer.attempt(mail)
        with db.connection_context():
            if ok:
                outbox.mark_sent(db, claimed.id, now())
                self.sent += 1
                log.info("mail sent kind=%s to=%s id=%d attempt=%d", mail.kind, mail.to, claimed.id, claimed.attempts)
            elif permanent or claimed.attempts >= self.retries:
                outbox.mark_failed(db, claimed.id, error)
                self.failed += 1
                log.error(
                    "mail failed kind=%s to=%s id=%d after %d attempts: %s",
                    mail.kind,
                    mail.to,
                    claimed.id,
                    claimed.attempts,
                    error,
                )
            else:
                delay = timedelta(seconds=self.backoff * 2 ** (claimed.attempts - 1))
                outbox.mark_retry(db, claimed.id, now() + delay, error)
                log.warning(
                    "mail attempt %d failed id=%d kind=%s: %s; retrying", claimed.attempts, claimed.id, mail.kind, error
                )
        return True


def build_outbox_mailer(settings: Settings, db: Any) -> OutboxMailer:
    def open_db() -> Any:
        return open_database(settings.database_url, **settings.database_options())

    return OutboxMailer(
        Mailer(transport_for(settings), settings.mail_from, retries=1),
        db,
        settings.master_key(),
        open_db=open_db,
        retries=settings.mail_retries,
        backoff=settings.mail_backoff_seconds,
        poll_seconds=settings.mail_poll_seconds,
    )

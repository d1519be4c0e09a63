"""Outgoing mail: an SMTP relay, or the embedded default, a file outbox.

Mail leaves only after the database transaction that caused it commits (the callers register
``Mailer.send_later`` with ``storage.db.after_commit``), and it is sent from a background thread
of the worker, so a slow or unreachable relay never delays or fails the user's request:

- a transient failure (connection refused or dropped, timeout, SMTP 4xx) is retried
  ``mail_retries`` times in all, with a doubling pause (1 s, 2 s, 4 s, ...);
- a permanent one (SMTP 5xx: bad recipient, relay refused) is not retried;
- either way the failure is logged with the message's kind, recipient and subject, never its body
  (bodies hold verification links). The outbox file holds the whole message, links included, so
  the outbox directory is created owner-only.

Messages are plain text built with the standard library (``email.message.EmailMessage`` with the
SMTP policy: a CR or LF in a header value is refused, so no header injection). The server's
mail goes through the durable outbox (notify/outbox.py, a table): this module's in-memory queue
(``Mailer.send_later``) serves tools and tests that build a ``Mailer`` themselves.
"""

from __future__ import annotations

import logging
import os
import queue
import secrets
import smtplib
import ssl
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC
from datetime import datetime
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime
from email.utils import parseaddr
from pathlib import Path
from typing import Protocol

from scim_me.config import Settings

log = logging.getLogger("scim_me.mail")


@dataclass(frozen=True)
class Mail:
    to: str
    subject: str
    text: str
    kind: str  # what the message is for, e.g. "email.verify"; logged instead of the body


class PermanentMailError(Exception):
    """The relay refused the message for good (SMTP 5xx): retrying cannot help."""


class Transport(Protocol):
    def send(self, message: EmailMessage) -> None: ...


def build_message(mail: Mail, sender: str) -> EmailMessage:
    message = EmailMessage(policy=SMTP)
    message["From"] = sender
    message["To"] = mail.to
    message["Subject"] = mail.subject
    message["Date"] = format_datetime(datetime.now(UTC))
    domain = parseaddr(sender)[1].rpartition("@")[2] or "localhost"
    # Not email.utils.make_msgid: it draws from the process-wide `random` state, which a sender
    # thread must not touch (it races with anything seeded, e.g. hypothesis' strategies).
    message["Message-ID"] = f"<{secrets.token_hex(16)}@{domain}>"
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834 §5: no auto-replies to this
    message.set_content(mail.text)
    return message


class OutboxTransport:
    """One ``.eml`` file per message, written whole (temp file + rename) so a reader never sees
    half a message. Names sort by time."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def send(self, message: EmailMessage) -> None:
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        final = self.directory / f"{stamp}-{uuid.uuid4().hex[:12]}.eml"
        temp = final.with_suffix(".tmp")
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(message.as_bytes())
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, final)


class SmtpTransport:
    def __init__(
        self,
        host: str,
        port: int,
        *,
        security: str = "starttls",
        username: str = "",
        password: str = "",
        timeout: float = 10.0,
        context: ssl.SSLContext | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.security = security
        self.username = username
        self.password = password
        self.timeout = timeout
        # Certificates and host names are verified (the default context); a test passes its own CA.
        self.context = context or ssl.create_default_context()

    def send(self, message: EmailMessage) -> None:
        try:
            client: smtplib.SMTP
            # Connect inside the ``with``: smtplib's constructor leaks its socket when the server
            # hangs up before the greeting; ``__exit__`` closes it on every path.
            if self.security == "tls":
                client = smtplib.SMTP_SSL(timeout=self.timeout, context=self.context)
            else:
                client = smtplib.SMTP(timeout=self.timeout)
            # TLS checks the certificate against ``_host``, which smtplib only sets from the
            # constructor's host argument.
            client._host = self.host  # type: ignore[attr-defined]
            with client:
                client.connect(self.host, self.port)
                if self.security == "starttls":
                    client.starttls(context=self.context)
                if self.username:
                    try:
                        client.login(self.username, self.password)
                    except (smtplib.SMTPAuthenticationError, smtplib.SMTPServerDisconnected) as exc:
                        # smtplib tries the next mechanism after a 535, and relays often hang up
                        # then: either way the credentials were refused. Retrying could lock the
                        # relay account, so this is permanent.
                        raise PermanentMailError("SMTP authentication refused") from exc
                refused = client.send_message(message)
        except smtplib.SMTPRecipientsRefused as exc:
            raise PermanentMailError(f"recipient refused: {_codes(exc.recipients)}") from exc
        except smtplib.SMTPResponseException as exc:
            if 500 <= exc.smtp_code < 600:
                raise PermanentMailError(f"SMTP {exc.smtp_code}") from exc
            raise
        if refused:
            raise PermanentMailError(f"recipient refused: {_codes(refused)}")


def _codes(recipients: dict[str, tuple[int, bytes]]) -> str:
    return ", ".join(str(code) for code, _text in recipients.values())


def transport_for(settings: Settings) -> Transport:
    if settings.mail_transport == "smtp":
        return SmtpTransport(
            settings.smtp_host,
            settings.smtp_port,
            security=settings.smtp_security,
            username=settings.smtp_username,
            password=settings.smtp_password,
            timeout=settings.smtp_timeout,
        )
    return OutboxTransport(Path(settings.mail_outbox_dir))


class Mailer:
    """Sends mail from one background thread per process (started on first use, so a worker
    forked by gunicorn starts its own)."""

    def __init__(self, transport: Transport, sender: str, *, retries: int = 3, backoff: float = 1.0) -> None:
        self.transport = transport
        self.sender = sender
        self.retries = retries
        self.backoff = backoff
        self._queue: queue.Queue[Mail] = queue.Queue()
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._pending = 0
        self._thread: threading.Thread | None = None
        self._pid = 0
        self.sent = 0
        self.failed = 0

    def send_later(self, mail: Mail) -> None:
        """Queue ``mail``; returns at once."""
        with self._lock:
            self._pending += 1
            if self._thread is None or not self._thread.is_alive() or self._pid != os.getpid():
                self._pid = os.getpid()
                self._thread = threading.Thread(target=self._run, name="scim-me-mail", daemon=True)
                self._thread.start()
        log.info("mail queued kind=%s to=%s subject=%r", mail.kind, mail.to, mail.subject)
        self._queue.put(mail)

    @property
    def pending(self) -> int:
        """Messages queued in this process and not yet sent or given up on."""
        return self._pending

    def wait_idle(self, timeout: float) -> bool:
        """Block until every queued message was sent or given up on; False on timeout."""
        deadline = time.monotonic() + timeout
        with self._idle:
            while self._pending:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._idle.wait(left)
        return True

    def attempt(self, mail: Mail) -> tuple[bool, bool, str]:
        """One try: ``(sent, permanent failure, error)``; the error names the failure, never the body."""
        try:
            self.transport.send(build_message(mail, self.sender))
        except PermanentMailError as exc:
            return False, True, str(exc)
        except (OSError, smtplib.SMTPException) as exc:  # timeouts are OSErrors
            return False, False, type(exc).__name__
        return True, False, ""

    def deliver(self, mail: Mail) -> bool:
        """Send now, with retries; True when the transport accepted the message."""
        message = build_message(mail, self.sender)
        for attempt in range(1, self.retries + 1):
            try:
                self.transport.send(message)
            except PermanentMailError as exc:
                log.error("mail failed kind=%s to=%s subject=%r: %s", mail.kind, mail.to, mail.subject, exc)
                return False
            except (OSError, smtplib.SMTPException) as exc:  # timeouts are OSErrors
                if attempt == self.retries:
                    log.error(
                        "mail failed kind=%s to=%s subject=%r after %d attempts: %s",
                        mail.kind,
                        mail.to,
                        mail.subject,
                        attempt,
                        type(exc).__name__,
                    )
                    return False
                log.warning(
                    "mail attempt %d failed kind=%s to=%s: %s; retrying",
                    attempt,
                    mail.kind,
                    mail.to,
                    type(exc).__name__,
                )
                time.sleep(self.backoff * 2 ** (attempt - 1))
            else:
                log.info("mail sent kind=%s to=%s subject=%r", mail.kind, mail.to, mail.subject)
                return True
        return False

    def _run(self) -> None:
        while True:
            mail = self._queue.get()
            try:
                ok = self.deliver(mail)
            except Exception:  # a bug must not kill the thread and strand the queue
                log.exception("mail failed kind=%s to=%s", mail.kind, mail.to)
                ok = False
            with self._idle:
                self._pending -= 1
                if ok:
                    self.sent += 1
                else:
                    self.failed += 1
                self._idle.notify_all()


def build_mailer(settings: Settings) -> Mailer:
    return Mailer(transport_for(settings), settings.mail_from, retries=settings.mail_retries)

"""A real SMTP server on loopback (aiosmtpd) that keeps what it receives, for mail tests.

``MailSink.wait_for(n)`` blocks until ``n`` messages arrived (or fails after a generous deadline):
delivery runs on the server's background mail thread, so tests wait for the event, never sleep.
"""

from __future__ import annotations

import errno
import re
import socket
import threading
from dataclasses import dataclass
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default
from typing import Any

from aiosmtpd.controller import Controller

WAIT_S = 20.0
START_ATTEMPTS = 5


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage

    @property
    def to(self) -> str:
        return str(self.message["To"])

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])

    @property
    def text(self) -> str:
        return str(self.message.get_content())  # type: ignore[no-untyped-call]


class MailSink:
    def __init__(self, **controller: Any) -> None:
        self.messages: list[Received] = []
        self.reply = "250 OK"  # set to e.g. "550 no such user" to make the server refuse
        self._changed = threading.Condition()
        # extra Controller arguments: tls_context (STARTTLS), ssl_context (implicit TLS), authenticator, ...
        self._options = controller
        self.port = free_port()
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port, **controller)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # aiosmtpd calls it by this name
        if not self.reply.startswith("250"):
            return self.reply
        parsed = message_from_bytes(envelope.original_content or envelope.content, policy=default)
        with self._changed:
            self.messages.append(Received(envelope.mail_from, list(envelope.rcpt_tos), parsed))  # type: ignore[arg-type]
            self._changed.notify_all()
        return "250 OK"

    def wait_for(self, count: int) -> list[Received]:
        with self._changed:
            ok = self._changed.wait_for(lambda: len(self.messages) >= count, timeout=WAIT_S)
        assert ok, f"expected {count} messages, got {len(self.messages)}: {[m.subject for m in self.messages]}"
        return list(self.messages)

    def to(self, address: str) -> list[Received]:
        return [m for m in self.messages if address in m.rcpt_tos]

    def start(self) -> MailSink:
        # aiosmtpd needs a port number up front; another test process may take a free one before
        # the controller binds it, so a taken port is retried with a new one.
        for attempt in range(START_ATTEMPTS):
            try:
                self.controller.start()
                return self
            except OSError as exc:
                if exc.errno != errno.EADDRINUSE or attempt == START_ATTEMPTS - 1:
                    raise
                self.controller.loop.close()  # its thread ended when the bind failed
            self.port = free_port()
            self.controller = Controller(self, hostname="127.0.0.1", port=self.port, **self._options)
        return self

    def stop(self) -> None:
        self.controller.stop()

    def settings(self) -> dict[str, Any]:
        """App settings that send mail here."""
        return {"mail_transport": "smtp", "smtp_host": "127.0.0.1", "smtp_port": self.port, "smtp_security": "none"}


CODE = re.compile(r"code[=:]\s*([A-Za-z0-9_-]{16,})")


def code_in(received: Received) -> str:
    """The verification code in a verification mail (in the link and on its own line)."""
    match = CODE.search(received.text)
    assert match, received.text
    return match.group(1)

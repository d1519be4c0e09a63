"""Outgoing mail: the file outbox, SMTP against a real server on loopback, retries, permanent
failures, header injection, and that mail waits for the database commit."""

from __future__ import annotations

import logging
import stat
from email import message_from_bytes
from email.policy import default

import pytest

from scim_me.notify.mail import Mail
from scim_me.notify.mail import Mailer
from scim_me.notify.mail import OutboxTransport
from scim_me.notify.mail import SmtpTransport
from scim_me.notify.mail import build_message
from scim_me.storage.db import after_commit
from scim_me.storage.db import open_database
from scim_me.storage.db import write_transaction
from tests.support.mailserver import free_port

SECRET_LINK = "https://id.example/confirm?code=s3cr3t-c0de-value"


def _mail(to: str = "kim@example.com") -> Mail:
    return Mail(to=to, subject="Confirm your address", text=f"Open {SECRET_LINK}\n", kind="email.verify")


def test_outbox_writes_one_private_eml_per_message_and_logs_no_body(tmp_path, caplog) -> None:
    outbox = tmp_path / "outbox"
    mailer = Mailer(OutboxTransport(outbox), "scim-me <no-reply@id.example>", backoff=0)
    caplog.set_level(logging.INFO, logger="scim_me.mail")
    mailer.send_later(_mail("kim@example.com"))
    mailer.send_later(_mail("lee@example.com"))
    assert mailer.wait_idle(10)

    files = sorted(outbox.glob("*.eml"))
    assert len(files) == 2
    assert stat.S_IMODE(outbox.stat().st_mode) == 0o700
    assert all(stat.S_IMODE(f.stat().st_mode) == 0o600 for f in files)
    parsed = [message_from_bytes(f.read_bytes(), policy=default) for f in files]
    assert sorted(str(m["To"]) for m in parsed) == ["kim@example.com", "lee@example.com"]
    assert all(SECRET_LINK in m.get_content() for m in parsed)
    assert all(m["Auto-Submitted"] == "auto-generated" and m["Message-ID"] for m in parsed)
    # The log names recipient and subject; the link (a credential) only ever sits in the file.
    assert "to=kim@example.com" in caplog.text and "Confirm your address" in caplog.text
    assert "s3cr3t" not in caplog.text
    assert not list(outbox.glob("*.tmp"))


def test_smtp_delivers_to_a_real_server(mail) -> None:
    mailer = Mailer(SmtpTransport("127.0.0.1", mail.port, security="none"), "no-reply@id.example", backoff=0)
    mailer.send_later(_mail())
    assert mailer.wait_idle(20)
    (received,) = mail.wait_for(1)
    assert received.rcpt_tos == ["kim@example.com"]
    assert received.mail_from == "no-reply@id.example"
    assert received.subject == "Confirm your address"
    assert SECRET_LINK in received.text
    assert (mailer.sent, mailer.failed) == (1, 0)


def test_a_refused_message_is_not_retried(mail, caplog) -> None:
    mail.reply = "550 5.1.1 mailbox unavailable"
    attempts = []

    class Counting(SmtpTransport):
        def send(self, message):  # type: ignore[no-untyped-def]
            attempts.append(1)
            super().send(message)

    mailer = Mailer(Counting("127.0.0.1", mail.port, security="none"), "no-reply@id.example", retries=3, backoff=0)
    assert mailer.deliver(_mail()) is False
    assert len(attempts) == 1
    assert "mail failed" in caplog.text and "550" in caplog.text


def test_an_unreachable_relay_is_retried_then_given_up_and_logged(caplog) -> None:
    port = free_port()  # nothing listens here
    mailer = Mailer(SmtpTransport("127.0.0.1", port, security="none", timeout=2), "no-reply@id.example", backoff=0)
    mailer.retries = 3
    caplog.set_level(logging.INFO, logger="scim_me.mail")
    assert mailer.deliver(_mail()) is False
    assert caplog.text.count("retrying") == 2
    assert "after 3 attempts" in caplog.text
    assert "s3cr3t" not in caplog.text


def test_a_transient_failure_then_success_delivers_once(mail) -> None:
    calls = []

    class Flaky(SmtpTransport):
        def send(self, message):  # type: ignore[no-untyped-def]
            calls.append(1)
            if len(calls) == 1:
                raise ConnectionResetError("relay dropped the connection")
            super().send(message)

    mailer = Mailer(Flaky("127.0.0.1", mail.port, security="none"), "no-reply@id.example", backoff=0)
    assert mailer.deliver(_mail()) is True
    assert len(mail.wait_for(1)) == 1
    assert len(calls) == 2


def test_header_injection_is_refused() -> None:
    with pytest.raises(ValueError):
        build_message(Mail(to="kim@example.com\r\nBcc: eve@evil.example", subject="x", text="y", kind="t"), "a@b.c")
    with pytest.raises(ValueError):
        build_message(Mail(to="kim@example.com", subject="hi\nBcc: eve@evil.example", text="y", kind="t"), "a@b.c")


def test_after_commit_runs_on_commit_only_and_isolates_failures(tmp_path, caplog) -> None:
    db = open_database(f"sqlite:///{tmp_path / 'x.db'}")
    ran: list[str] = []
    with db.connection_context():
        db.execute_sql("CREATE TABLE t (x INTEGER)")
        with write_transaction(db):
            db.execute_sql("INSERT INTO t VALUES (1)")
            after_commit(lambda: ran.append("committed"), db)
            assert ran == []  # not before the commit
        assert ran == ["committed"]

        with pytest.raises(RuntimeError), write_transaction(db):
            db.execute_sql("INSERT INTO t VALUES (2)")
            after_commit(lambda: ran.append("rolled back"), db)
            raise RuntimeError("the write fails")
        assert ran == ["committed"]

        def boom() -> None:
            raise OSError("relay down")

        with write_transaction(db):
            db.execute_sql("INSERT INTO t VALUES (3)")
            after_commit(boom, db)
            after_commit(lambda: ran.append("after a failing callback"), db)
        assert ran == ["committed", "after a failing callback"]
        assert "after-commit callback" in caplog.text
        assert [r[0] for r in db.execute_sql("SELECT x FROM t ORDER BY x")] == [1, 3]

        after_commit(lambda: ran.append("no transaction"), db)
        assert ran[-1] == "no transaction"
    db.close_all()


def test_building_a_message_leaves_the_global_random_state_alone() -> None:
    # The sender thread builds messages while other code (hypothesis strategies, seeded
    # simulations) relies on `random`'s process-wide state; a Message-ID must not draw from it.
    import random

    before = random.getstate()
    first = build_message(_mail(), "scim-me <noreply@example.com>")
    second = build_message(_mail(), "scim-me <noreply@example.com>")
    assert random.getstate() == before
    assert first["Message-ID"] != second["Message-ID"]
    assert first["Message-ID"].endswith("@example.com>")

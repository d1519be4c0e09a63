"""Notices to the account holder (ASVS 6.3.7) on a password change or reset and on MFA removal,
through a real SMTP server on loopback. The password and MFA features only record their security
events; these tests record the events directly, as those features do."""

from __future__ import annotations

import logging

import pytest

from scim_me.storage.db import write_transaction
from scim_me.storage.events import record_event
from tests.factories import make_tenant
from tests.factories import make_user
from tests.support.apps import build_app
from tests.support.apps import mailing_app

PASSWORD = "correct-horse-9"


@pytest.fixture
def app(database_url, tmp_path, mail):
    # Durable commits, as in production: a test here counts them (count_wal_syncs).
    with mailing_app(database_url, tmp_path, mail, sqlite_synchronous="full") as application:
        yield application


@pytest.fixture
def tenant(app):
    return make_tenant(app, "acme")


@pytest.fixture
def kim(app, tenant):
    return make_user(
        app,
        tenant,
        "kim",
        PASSWORD,
        emails=[{"value": "old@example.com"}, {"value": "kim@example.com", "primary": True}],
    )


def _record(app, tenant, user, kind, **kwargs):
    with app.app_context(), app.extensions["scim_me"].db.connection_context():
        record_event(tenant.id, user.id, kind, **kwargs)


def _idle(app):
    assert app.extensions["scim_me"].mailer.wait_idle(20)


@pytest.mark.parametrize(
    ("kind", "subject"),
    [
        ("password.changed", "Your password was changed"),
        ("password.reset", "Your password was reset"),
        ("mfa.totp.disabled", "Authenticator app sign-in was turned off"),
        ("mfa.backup_codes.removed", "Your backup codes were removed"),
    ],
)
def test_a_credential_change_mails_the_primary_address(app, mail, tenant, kim, kind, subject) -> None:
    _record(app, tenant, kim, kind, ip="198.51.100.7", user_agent="Firefox/140")
    (received,) = mail.wait_for(1)
    assert received.rcpt_tos == ["kim@example.com"]  # the primary one, not the first
    assert received.subject == subject
    assert "198.51.100.7" in received.text and "Firefox/140" in received.text
    assert "kim" in received.text and "acme" in received.text
    assert PASSWORD not in received.text


def test_other_events_send_nothing(app, mail, tenant, kim) -> None:
    _record(app, tenant, kim, "signin.success")
    _record(app, tenant, kim, "mfa.totp.enrolled")
    _idle(app)
    assert mail.messages == []


def test_a_rolled_back_change_sends_nothing(app, mail, tenant, kim) -> None:
    db = app.extensions["scim_me"].db
    with app.app_context(), db.connection_context():
        with pytest.raises(RuntimeError), write_transaction(db):
            record_event(tenant.id, kim.id, "password.changed")
            raise RuntimeError("the password change failed after its event was written")
    _idle(app)
    assert mail.messages == []


def test_a_user_without_an_address_gets_no_mail_and_the_write_stands(app, mail, tenant, caplog) -> None:
    lee = make_user(app, tenant, "lee", PASSWORD)
    caplog.set_level(logging.INFO, logger="scim_me.mail")
    _record(app, tenant, lee, "password.changed")
    _idle(app)
    assert mail.messages == []
    assert "has no e-mail address" in caplog.text


def test_an_unreachable_relay_never_fails_the_write(database_url, tmp_path, caplog) -> None:
    from tests.support.mailserver import free_port

    application = build_app(
        database_url,
        tmp_path,
        mail_transport="smtp",
        smtp_host="127.0.0.1",
        smtp_port=free_port(),
        smtp_security="none",
        mail_retries=1,
    )
    try:
        tenant = make_tenant(application, "acme")
        kim = make_user(application, tenant, "kim", PASSWORD, emails=[{"value": "kim@example.com"}])
        _record(application, tenant, kim, "password.changed")  # does not raise
        _idle(application)
        assert application.extensions["scim_me"].mailer.failed == 1
        assert "mail failed kind=notice.password.changed to=kim@example.com" in caplog.text
    finally:
        application.extensions["scim_me"].db.close_all()


def test_outside_a_request_the_notice_is_sent_at_once(app, mail, tenant, kim, monkeypatch) -> None:
    """The operator CLI records events with no Flask app: the notice uses the process's settings
    and is delivered before the command returns."""
    for name, value in {
        "SCIM_ME_CONFIG": "",
        "SCIM_ME_MAIL_TRANSPORT": "smtp",
        "SCIM_ME_SMTP_HOST": "127.0.0.1",
        "SCIM_ME_SMTP_PORT": str(mail.port),
        "SCIM_ME_SMTP_SECURITY": "none",
    }.items():
        monkeypatch.setenv(name, value)
    with app.extensions["scim_me"].db.connection_context():  # no app context, as in the CLI
        record_event(tenant.id, kim.id, "password.reset", details={"channel": "cli"})
    assert [m.subject for m in mail.messages] == ["Your password was reset"]  # already there


def test_mfa_removal_through_the_mfa_api_mails_the_account_holder(app, mail, tenant, kim) -> None:
    """The real endpoints (issue 4): turning TOTP off and removing backup codes each mail a notice;
    enrolling does not."""
    import pyotp

    from tests.factories import bearer
    from tests.factories import make_token

    client = app.test_client()
    auth = bearer(make_token(app, tenant, kim), **{"User-Agent": "Firefox/140"})
    me = "/t/acme/api/users/v1/me"
    assert client.post(f"{me}/totp", json={"action": "INIT"}, headers=auth).status_code == 200
    secret = client.get(f"{me}/totp/secret", headers=auth).get_json()["secret"]
    valid = client.post(
        f"{me}/totp", json={"action": "VALIDATE", "verificationCode": pyotp.TOTP(secret).now()}, headers=auth
    )
    assert valid.get_json() == {"isValid": True}
    assert client.post(f"{me}/backup-codes", headers=auth).status_code == 200
    _idle(app)
    assert mail.messages == []

    assert client.delete(f"{me}/totp", headers=auth).status_code == 200
    assert client.delete(f"{me}/backup-codes", headers=auth).status_code == 200
    received = mail.wait_for(2)
    assert sorted(m.subject for m in received) == [
        "Authenticator app sign-in was turned off",
        "Your backup codes were removed",
    ]
    assert all(m.rcpt_tos == ["kim@example.com"] and "Firefox/140" in m.text for m in received)


def test_a_password_change_through_the_account_api_mails_the_account_holder(app, mail, tenant, kim) -> None:
    """The real endpoint (issue 6, account half): POST /api/users/v1/me/change-password."""
    from tests.factories import bearer
    from tests.factories import make_token

    response = app.test_client().post(
        "/t/acme/api/users/v1/me/change-password",
        json={"currentPassword": PASSWORD, "newPassword": "Another-Long-Pass-2026!"},
        headers=bearer(make_token(app, tenant, kim), **{"User-Agent": "Edge/141"}),
    )
    assert response.status_code == 204, response.data
    (received,) = mail.wait_for(1)
    assert received.rcpt_tos == ["kim@example.com"]
    assert received.subject == "Your password was changed"
    assert "Edge/141" in received.text
    assert "Another-Long-Pass-2026!" not in received.text and PASSWORD not in received.text


def _change_password(app, headers):
    return app.test_client().post(
        "/t/acme/api/users/v1/me/change-password",
        json={"currentPassword": PASSWORD, "newPassword": "Another-Long-Pass-2026!"},
        headers=headers,
    )


@pytest.fixture
def kims_token(app, tenant, kim):
    from tests.factories import bearer
    from tests.factories import make_token

    return bearer(make_token(app, tenant, kim))


def test_a_password_change_and_its_notice_are_one_transaction(app, mail, kims_token) -> None:
    """The new hash, its history, the ended sessions, the event and the notice: one durable
    commit, so none of them can land without the others."""
    from tests.support.statements import count_statements
    from tests.support.statements import count_wal_syncs

    begins: list[str] = []
    with count_statements(app, begins), count_wal_syncs(app) as syncs:
        assert _change_password(app, kims_token).status_code == 204
    # The lockout counter's reservation and release around the proof of the current password
    # (they stand whatever the change does), then the change: one transaction.
    assert len(begins) == 3, begins
    assert syncs in ([], [1, 1, 1])
    assert [m.subject for m in mail.wait_for(1)] == ["Your password was changed"]


def test_a_password_change_whose_notice_cannot_be_queued_changes_nothing(app, mail, kims_token) -> None:
    from tests.factories import basic
    from tests.support.faults import outbox_unavailable

    with outbox_unavailable(app):
        failed = _change_password(app, kims_token)
    assert failed.status_code == 500
    assert set(failed.get_json()) == {"code", "message", "description", "traceId"}
    client = app.test_client()
    assert client.get("/t/acme/scim2/Me", headers=basic("kim", PASSWORD)).status_code == 200
    assert client.get("/t/acme/scim2/Me", headers=basic("kim", "Another-Long-Pass-2026!")).status_code == 401


def test_a_password_patch_on_me_and_its_notice_are_one_transaction(app, mail, tenant, kim) -> None:
    """PATCH /scim2/Me with a password (RFC 7644 §3.5.2): the same one transaction."""
    from tests.factories import PATCH_URN
    from tests.factories import SCIM_JSON
    from tests.factories import bearer
    from tests.factories import make_token
    from tests.support.statements import count_statements

    body = {"schemas": [PATCH_URN], "Operations": [{"op": "replace", "path": "password", "value": "Fresh-Pass-2027!"}]}
    headers = bearer(make_token(app, tenant, kim), **{"Content-Type": SCIM_JSON})
    begins: list[str] = []
    with count_statements(app, begins):
        response = app.test_client().patch("/t/acme/scim2/Me", json=body, headers=headers)
    assert response.status_code == 200, response.get_json()
    assert len(begins) == 1, begins
    assert [m.subject for m in mail.wait_for(1)] == ["Your password was changed"]

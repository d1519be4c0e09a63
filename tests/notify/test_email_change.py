"""Verified e-mail change end to end through a real SMTP server on loopback (issue 6 acceptance 2):
the new address waits in ``pendingEmails``, the mailed code confirms it once, the old address gets
a notice, the code expires after 24 h, and a second change cancels the first."""

from __future__ import annotations

import dataclasses
import threading
from datetime import UTC
from datetime import datetime
from datetime import timedelta

import pytest
import time_machine

from tests.factories import PATCH_URN
from tests.factories import SCIM_JSON
from tests.factories import assert_wso2_error
from tests.factories import bearer
from tests.factories import make_tenant
from tests.factories import make_token
from tests.factories import make_user
from tests.support.apps import mailing_app
from tests.support.faults import outbox_unavailable
from tests.support.faults import user_row_changing
from tests.support.mailserver import code_in

PASSWORD = "correct-horse-9"
WSO2 = "urn:scim:wso2:schema"
ME = "/t/acme/scim2/Me"
VALIDATE = "/t/acme/api/identity/user/v1.0/validate-code"
MY_VALIDATE = "/t/acme/api/identity/user/v1.0/me/validate-code"
RESEND = "/t/acme/api/identity/user/v1.0/me/resend-code"
PENDING = "/t/acme/api/users/v1/me/email-change"
PAGE = "/t/acme/accountrecoveryendpoint/confirm-email"


@pytest.fixture
def app(database_url, tmp_path, mail):
    with mailing_app(database_url, tmp_path, mail) as application:
        yield application


@pytest.fixture
def tenant(app):
    return make_tenant(app, "acme", verify_email_on_update=True)


@pytest.fixture
def kim(app, tenant):
    return make_user(
        app, tenant, "kim", PASSWORD, emails=[{"value": "kim@example.com"}], **{WSO2: {"emailVerified": True}}
    )


@pytest.fixture
def token(app, tenant, kim):
    return make_token(app, tenant, kim)


def _patch(client, token, *operations):
    return client.patch(
        ME,
        json={"schemas": [PATCH_URN], "Operations": list(operations)},
        headers=bearer(token, **{"Content-Type": SCIM_JSON}),
    )


def _replace_emails(client, token, *addresses):
    return _patch(client, token, {"op": "replace", "path": "emails", "value": list(addresses)})


def _me(client, token):
    response = client.get(ME, headers=bearer(token))
    assert response.status_code == 200
    return response.get_json()


def _idle(app):
    assert app.extensions["scim_me"].mailer.wait_idle(20)


def _events(client, token):
    body = client.get("/t/acme/api/users/v1/me/security-events?kind=email", headers=bearer(token)).get_json()
    return [(e["kind"], e["details"]) for e in body["events"]]


def test_change_waits_for_the_code_then_notifies_the_old_address(app, client, mail, token) -> None:
    response = _replace_emails(client, token, "new@example.net")
    assert response.status_code == 200
    body = response.get_json()
    assert body["emails"] == ["kim@example.com"]  # the current address is kept
    assert body[WSO2]["pendingEmails"] == [{"value": "new@example.net"}]
    assert body[WSO2]["emailVerified"] is True

    (verify,) = mail.wait_for(1)
    assert verify.rcpt_tos == ["new@example.net"]
    assert verify.subject == "Confirm your new e-mail address"
    code = code_in(verify)
    assert f"/t/acme/accountrecoveryendpoint/confirm-email#code={code}" in verify.text
    assert verify.text.count(code) == 2  # in the link and on its own
    pending = client.get(PENDING, headers=bearer(token)).get_json()
    assert pending["address"] == "new@example.net" and pending["primary"] is True
    overview = client.get("/t/acme/api/users/v1/me/security", headers=bearer(token)).get_json()
    assert overview["email"]["pending"] == "new@example.net"
    assert overview["email"]["pendingExpiryTime"] == pending["expiryTime"]
    assert overview["email"]["address"] == "kim@example.com" and overview["email"]["verified"] is True

    assert client.post(VALIDATE, json={"code": code, "properties": []}).status_code == 202

    me = _me(client, token)
    assert me["emails"] == ["new@example.net"]
    assert me[WSO2]["emailVerified"] is True
    assert "pendingEmails" not in me[WSO2]
    notices = mail.wait_for(2)
    (notice,) = [m for m in notices if m.rcpt_tos == ["kim@example.com"]]
    assert notice.subject == "Your e-mail address was changed"
    assert "n***@example.net" in notice.text and code not in notice.text
    assert _events(client, token) == [
        ("email.changed", {"from": "kim@example.com", "to": "new@example.net"}),
        ("email.change_requested", {"address": "new@example.net"}),
    ]
    # single use
    used = client.post(VALIDATE, json={"code": code})
    assert used.status_code == 400 and used.get_json()["code"] == "18001"
    assert client.get(PENDING, headers=bearer(token)).status_code == 404


def test_wrong_and_other_users_codes_are_refused(app, client, mail, tenant, token) -> None:
    lee = make_user(app, tenant, "lee", PASSWORD, emails=[{"value": "lee@example.com"}])
    lee_token = make_token(app, tenant, lee)
    assert _replace_emails(client, token, "kim@new.example").status_code == 200
    code = code_in(mail.wait_for(1)[0])

    for bad in ("", "x" * 32, code[:-1], code + "x", "y" * 5000):
        assert_wso2_error(client.post(VALIDATE, json={"code": bad}), 400, "18001")
    assert client.post(VALIDATE, json={"properties": []}).status_code == 400
    # Lee cannot redeem Kim's code as his own, and another tenant cannot redeem it at all.
    assert client.post(MY_VALIDATE, json={"code": code}, headers=bearer(lee_token)).status_code == 400
    other = make_tenant(app, "other", verify_email_on_update=True)
    assert client.post("/t/other/api/identity/user/v1.0/validate-code", json={"code": code}).status_code == 400
    assert other.id != tenant.id

    assert client.post(MY_VALIDATE, json={"code": code}, headers=bearer(token)).status_code == 202
    assert _me(client, token)["emails"] == ["kim@new.example"]
    assert client.post(MY_VALIDATE, json={"code": code}, headers=bearer(token)).status_code == 400
    assert _me(client, lee_token)["emails"] == ["lee@example.com"]


def test_the_code_expires_after_24_hours(app, client, mail, tenant, kim) -> None:
    start = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)
    with time_machine.travel(start, tick=True):
        token = make_token(app, tenant, kim)
        assert _replace_emails(client, token, "late@example.net").status_code == 200
        code = code_in(mail.wait_for(1)[0])
    with time_machine.travel(start + timedelta(hours=24, seconds=1), tick=True):
        response = client.post(VALIDATE, json={"code": code})
        assert response.status_code == 400
        assert response.get_json()["code"] == "18002"
        me = _me(client, make_token(app, tenant, kim))
        assert me["emails"] == ["kim@example.com"]
        assert "pendingEmails" not in me[WSO2]  # the expired change is forgotten
        assert client.post(VALIDATE, json={"code": code}).get_json()["code"] == "18001"


@pytest.mark.parametrize("expired", [True, False], ids=["expired", "live"])
def test_a_redemption_waits_for_a_concurrent_writer_and_does_not_lose_to_it(
    app, client, mail, tenant, kim, expired
) -> None:
    """The redemption reads the user under its transaction's lock: a writer changing the user
    at the same moment delays it, but cannot make it spend the code and leave the profile as it
    was (a lost compare-and-set with retries used up, patch_retries = 1 here)."""
    state = app.extensions["scim_me"]
    state.settings = dataclasses.replace(state.settings, patch_retries=1)
    start = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)
    with time_machine.travel(start, tick=True):
        token = make_token(app, tenant, kim)
        assert _replace_emails(client, token, "race@example.net").status_code == 200
        code = code_in(mail.wait_for(1)[0])
    answers = []
    later = start + (timedelta(hours=24, seconds=1) if expired else timedelta(hours=1))
    with time_machine.travel(later, tick=True):
        with user_row_changing(app, kim.id):
            redeem = threading.Thread(
                target=lambda: answers.append(app.test_client().post(VALIDATE, json={"code": code}))
            )
            redeem.start()
            redeem.join(0.5)  # blocked behind the other writer until it commits
        redeem.join(30)
        me = _me(client, make_token(app, tenant, kim))
    assert len(answers) == 1
    if expired:
        assert answers[0].status_code == 400 and answers[0].get_json()["code"] == "18002"
        assert me["emails"] == ["kim@example.com"]
    else:
        assert answers[0].status_code == 202
        assert me["emails"] == ["race@example.net"]
    assert "pendingEmails" not in me[WSO2]
    # The code was spent with the change: it answers "invalid" now, whatever it did before.
    assert client.post(VALIDATE, json={"code": code}).get_json()["code"] == "18001"


def test_the_code_still_works_just_before_expiry(app, client, mail, tenant, kim) -> None:
    start = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)
    with time_machine.travel(start, tick=True):
        assert _replace_emails(client, make_token(app, tenant, kim), "ontime@example.net").status_code == 200
        code = code_in(mail.wait_for(1)[0])
    with time_machine.travel(start + timedelta(hours=23, minutes=59), tick=True):
        assert client.post(VALIDATE, json={"code": code}).status_code == 202
        assert _me(client, make_token(app, tenant, kim))["emails"] == ["ontime@example.net"]


def test_a_second_change_cancels_the_first(app, client, mail, token) -> None:
    assert _replace_emails(client, token, "first@example.net").status_code == 200
    first = code_in(mail.wait_for(1)[0])
    second_response = _replace_emails(client, token, "second@example.net")
    assert second_response.get_json()[WSO2]["pendingEmails"] == [{"value": "second@example.net"}]
    second = code_in(mail.wait_for(2)[1])
    assert mail.messages[1].rcpt_tos == ["second@example.net"]

    assert client.post(VALIDATE, json={"code": first}).get_json()["code"] == "18001"
    assert client.post(VALIDATE, json={"code": second}).status_code == 202
    assert _me(client, token)["emails"] == ["second@example.net"]


def test_resend_replaces_the_code_and_cancel_forgets_the_change(app, client, mail, token) -> None:
    assert client.post(RESEND, json={"properties": []}, headers=bearer(token)).get_json()["code"] == "EVU-10001"
    assert _replace_emails(client, token, "again@example.net").status_code == 200
    old = code_in(mail.wait_for(1)[0])
    body = {"properties": [{"key": "RecoveryScenario", "value": "EMAIL_VERIFICATION_ON_UPDATE"}]}
    assert client.post(RESEND, json=body, headers=bearer(token)).status_code == 201
    new = code_in(mail.wait_for(2)[1])
    assert new != old and mail.messages[1].rcpt_tos == ["again@example.net"]
    assert client.post(VALIDATE, json={"code": old}).status_code == 400

    assert client.delete(PENDING, headers=bearer(token)).status_code == 204
    assert "pendingEmails" not in _me(client, token)[WSO2]
    assert client.post(VALIDATE, json={"code": new}).status_code == 400
    assert _me(client, token)["emails"] == ["kim@example.com"]


def test_adding_a_second_address_keeps_the_primary_one(app, client, mail, token) -> None:
    response = _patch(
        client, token, {"op": "add", "path": "emails", "value": [{"value": "kim@work.example", "type": "work"}]}
    )
    assert response.status_code == 200
    assert response.get_json()["emails"] == ["kim@example.com"]
    code = code_in(mail.wait_for(1)[0])
    assert client.post(VALIDATE, json={"code": code}).status_code == 202
    me = _me(client, token)
    assert me["emails"] == ["kim@example.com", {"value": "kim@work.example", "type": "work"}]
    assert me[WSO2]["emailVerified"] is True
    notice = mail.wait_for(2)[1]
    assert notice.rcpt_tos == ["kim@example.com"] and notice.subject == "A new e-mail address was added"


def test_one_new_address_at_a_time_and_well_formed(client, mail, token) -> None:
    two = _replace_emails(client, token, "a@example.net", "b@example.net")
    assert two.status_code == 400 and two.get_json()["scimType"] == "invalidValue"
    for bad in ("not-an-address", "kim@localhost", "a b@example.net", '"q"@example.net', "x@-bad.example"):
        response = _replace_emails(client, token, bad)
        assert response.status_code == 400, bad
        assert response.get_json()["scimType"] == "invalidValue"
    assert _replace_emails(client, token, "kim@bücher.example").status_code == 200  # IDNA domain
    # removing or reordering known addresses needs no verification
    assert _replace_emails(client, token).status_code == 200
    assert "emails" not in _me(client, token)


def test_without_the_tenant_switch_the_change_applies_at_once_and_unverifies(app, client, mail) -> None:
    plain = make_tenant(app, "plain")
    ann = make_user(
        app, plain, "ann", PASSWORD, emails=[{"value": "ann@example.com"}], **{WSO2: {"emailVerified": True}}
    )
    token = make_token(app, plain, ann)
    response = client.patch(
        "/t/plain/scim2/Me",
        json={
            "schemas": [PATCH_URN],
            "Operations": [{"op": "replace", "path": "emails", "value": ["ann@new.example"]}],
        },
        headers=bearer(token, **{"Content-Type": SCIM_JSON}),
    )
    assert response.status_code == 200
    assert response.get_json()["emails"] == ["ann@new.example"]
    assert response.get_json()[WSO2]["emailVerified"] is False
    _idle(app)
    assert mail.messages == []


def test_put_with_a_new_address_is_held_too(client, mail, token) -> None:
    me = _me(client, token)
    me["emails"] = ["put@example.net"]
    me["nickName"] = "kimmy"
    response = client.put(ME, json=me, headers=bearer(token, **{"Content-Type": SCIM_JSON}))
    assert response.status_code == 200
    assert response.get_json()["emails"] == ["kim@example.com"]
    assert response.get_json()["nickName"] == "kimmy"  # the rest of the write applies
    assert mail.wait_for(1)[0].rcpt_tos == ["put@example.net"]


def test_the_confirmation_page(client, mail, token) -> None:
    page = client.get(PAGE)
    assert page.status_code == 200 and page.mimetype == "text/html"
    assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
    assert page.headers["Referrer-Policy"] == "no-referrer"
    assert _replace_emails(client, token, "page@example.net").status_code == 200
    code = code_in(mail.wait_for(1)[0])
    done = client.post(PAGE, data={"code": code})
    assert done.status_code == 200 and b"confirmed" in done.data
    again = client.post(PAGE, data={"code": code})
    assert again.status_code == 400 and b"Invalid Code" in again.data
    assert _me(client, token)["emails"] == ["page@example.net"]


def test_no_log_line_holds_a_code_or_link(app, client, mail, token, caplog) -> None:
    import logging

    caplog.set_level(logging.DEBUG)
    assert _replace_emails(client, token, "logged@example.net").status_code == 200
    code = code_in(mail.wait_for(1)[0])
    assert client.post(VALIDATE, json={"code": code}).status_code == 202
    assert client.post(VALIDATE, json={"code": code}).status_code == 400
    _idle(app)
    # Everything the server logged (the test SMTP server's own "mail.log" echoes what it receives).
    ours = "\n".join(record.getMessage() for record in caplog.records if not record.name.startswith("mail.log"))
    assert "to=logged@example.net" in ours  # the recipient is logged
    assert code not in ours
    assert "confirm-email#" not in ours


def test_verification_mails_are_limited_per_account_and_hour(app, client, mail, tenant, kim) -> None:
    start = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)
    with time_machine.travel(start, tick=True):
        token = make_token(app, tenant, kim)
        for i in range(4):
            assert _replace_emails(client, token, f"spam{i}@victim.example").status_code == 200
        body = {"properties": [{"key": "RecoveryScenario", "value": "EMAIL_VERIFICATION_ON_UPDATE"}]}
        assert client.post(RESEND, json=body, headers=bearer(token)).status_code == 201  # the 5th mail
        refused = _replace_emails(client, token, "spam9@victim.example")
        assert refused.status_code == 429
        assert refused.get_json()["status"] == "429"
        assert 3500 <= int(refused.headers["Retry-After"]) <= 3601
        again = client.post(RESEND, json=body, headers=bearer(token))
        assert again.status_code == 429 and again.get_json()["code"] == "EVU-10004"
        # the refused write changed nothing: the last accepted request is still the pending one
        assert _me(client, token)[WSO2]["pendingEmails"] == [{"value": "spam3@victim.example"}]
    _idle(app)
    assert len(mail.messages) == 5
    with time_machine.travel(start + timedelta(hours=1, seconds=5), tick=True):
        assert _replace_emails(client, make_token(app, tenant, kim), "later@example.net").status_code == 200


def test_a_resend_whose_mail_cannot_be_queued_keeps_the_old_code(app, client, mail, token) -> None:
    """The new code and its mail commit together: a database that refuses the mail answers 500
    and the mailed code still works."""
    assert _replace_emails(client, token, "again@example.net").status_code == 200
    old = code_in(mail.wait_for(1)[0])
    body = {"properties": [{"key": "RecoveryScenario", "value": "EMAIL_VERIFICATION_ON_UPDATE"}]}
    _idle(app)  # the sender done with the first mail: the table goes away between two requests
    with outbox_unavailable(app):
        failed = client.post(RESEND, json=body, headers=bearer(token))
    assert failed.status_code == 500
    assert set(failed.get_json()) == {"code", "message", "description", "traceId"}
    assert client.post(VALIDATE, json={"code": old}).status_code == 202
    assert _me(client, token)["emails"] == ["again@example.net"]


def test_a_confirmation_whose_notice_cannot_be_queued_changes_nothing(app, client, mail, token) -> None:
    """The old address hears of every change: the change and its notice commit together."""
    assert _replace_emails(client, token, "new@example.net").status_code == 200
    code = code_in(mail.wait_for(1)[0])
    _idle(app)  # the sender done with the first mail: the table goes away between two requests
    with outbox_unavailable(app):
        failed = client.post(VALIDATE, json={"code": code})
    assert failed.status_code == 500
    assert _me(client, token)["emails"] == ["kim@example.com"]
    assert client.post(VALIDATE, json={"code": code}).status_code == 202
    assert _me(client, token)["emails"] == ["new@example.net"]
    notices = [m for m in mail.wait_for(2) if m.rcpt_tos == ["kim@example.com"]]
    assert [m.subject for m in notices] == ["Your e-mail address was changed"]

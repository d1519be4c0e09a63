"""Each recovery step is one transaction (services/recovery.py): what a step changes, and the mail
it sends through the durable outbox, commit together or not at all. A process that dies, or a
database that refuses the mail, leaves no "code sent" without a mail, no spent code without a new
password, and no session alive after a reset; and a recover costs one durable commit whether or
not an account is behind it (ASVS 5.0 V6.4.1: recovery must not tell whether an account exists).
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.factories import bearer
from tests.recovery.support import ME
from tests.recovery.support import NEW_PASSWORD
from tests.recovery.support import PASSWORD
from tests.recovery.support import code_from
from tests.recovery.support import confirm
from tests.recovery.support import init
from tests.recovery.support import password_token
from tests.recovery.support import recover
from tests.recovery.support import reset
from tests.recovery.support import start_and_send
from tests.support.apps import mailing_app
from tests.support.faults import outbox_unavailable
from tests.support.statements import count_statements
from tests.support.statements import count_wal_syncs


@pytest.fixture
def app(database_url, tmp_path, mail):
    # Durable commits, as in production: these tests count them (count_wal_syncs).
    with mailing_app(database_url, tmp_path, mail, sqlite_synchronous="full") as application:
        yield application


def _recovery_code(client: Any, user: str) -> str:
    started = init(client, user)
    assert started.status_code == 200, started.get_data(as_text=True)
    return str(started.get_json()[0]["channelInfo"]["recoveryCode"])


def _commits_of_recover(app: Any, client: Any, user: str) -> tuple[int, list[int]]:
    code = _recovery_code(client, user)
    begins: list[str] = []
    with count_statements(app, begins), count_wal_syncs(app) as syncs:
        assert recover(client, code).status_code == 202
    return len(begins), syncs


def test_recover_commits_as_often_for_a_real_account_as_for_an_unknown_one(app, client, kim, mail):
    # The real account's step also queues its mail: in the same transaction, not a commit more.
    real = _commits_of_recover(app, client, "kim")
    unknown = _commits_of_recover(app, client, "nobody")
    assert real == unknown
    assert mail.wait_for(1)[0].rcpt_tos == ["kim.berry@example.com"]


def test_a_recover_whose_mail_cannot_be_queued_changes_nothing(app, client, kim, mail):
    code = _recovery_code(client, "kim")
    with outbox_unavailable(app):
        failed = recover(client, code)
    # A server error in the WSO2 dialect, and not "code sent" with no mail behind it.
    assert failed.status_code == 500
    assert set(failed.get_json()) == {"code", "message", "description", "traceId"}
    assert "Traceback" not in failed.get_data(as_text=True)
    # The flow did not move on: the same recovery code works, and this time the mail goes.
    again = recover(client, code)
    assert again.status_code == 202, again.get_data(as_text=True)
    (message,) = mail.wait_for(1)
    otp = code_from(message)
    assert confirm(client, again.get_json()["flowConfirmationCode"], otp).status_code == 200


def test_reset_is_one_durable_commit(app, client, kim, spa, mail):
    before = password_token(client, spa, PASSWORD)
    assert before.status_code == 200
    sent = start_and_send(client)
    otp = code_from(mail.wait_for(1)[0])
    reset_code = confirm(client, sent["flowConfirmationCode"], otp).get_json()["resetCode"]
    begins: list[str] = []
    with count_statements(app, begins), count_wal_syncs(app) as syncs:
        done = reset(client, reset_code, flow_code=sent["flowConfirmationCode"])
    assert done.status_code == 200, done.get_data(as_text=True)
    # The spent code, the new password, its history, the ended sessions and flows, the lifted
    # lock, the event and its "password was reset" notice: one transaction, so none can land
    # alone, and one durable commit.
    assert len(begins) == 1, begins
    assert syncs in ([], [1])
    assert client.get(ME, headers=bearer(before.get_json()["access_token"])).status_code == 401
    assert password_token(client, spa, NEW_PASSWORD).status_code == 200

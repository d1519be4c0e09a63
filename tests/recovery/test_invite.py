"""WSO2's invitation (``askPassword``): an administrator creates a user through ``/scim2/Users``
with ``urn:scim:wso2:schema`` ``askPassword`` true and no password; the user gets a link to
choose the password, and cannot sign in before. As on WSO2 (identity-governance
UserEmailVerificationHandler), ``askPassword`` is a request, removed before the user is stored."""

from __future__ import annotations

import re

import pytest

from tests.factories import basic
from tests.recovery.support import ME
from tests.recovery.support import WSO2
from tests.recovery.support import assert_created_nobody
from tests.recovery.support import choose_password
from tests.support.admin import USER_URN
from tests.support.admin import client_headers
from tests.support.admin import events_of
from tests.support.statements import count_statements

USERS = "/t/acme/scim2/Users"
LINK = re.compile(r"http://localhost/t/acme/accountrecoveryendpoint/password-reset#code=([\w-]+)")
ANN = {
    "schemas": [USER_URN],
    "userName": "ann",
    "name": {"givenName": "Ann", "familyName": "Lee"},
    "emails": [{"value": "ann@example.com", "primary": True}],
    WSO2: {"askPassword": "true"},
}


@pytest.fixture
def admin(app, tenant):
    return client_headers(app, tenant)


def test_an_invited_user_chooses_the_password_through_the_mailed_link(app, client, tenant, mail, admin):
    begins: list[str] = []
    with count_statements(app, begins):
        created = client.post(USERS, json=ANN, headers=admin)
    assert created.status_code == 201, created.get_json()
    # A request, not an attribute: not stored, not shown.
    assert WSO2 not in created.get_json()
    # The user and the invitation (its flow and queued mail) commit together.
    assert len(begins) == 1, begins
    (message,) = mail.wait_for(1)
    assert message.rcpt_tos == ["ann@example.com"] and message.subject == "Choose your password"
    link = LINK.search(message.text)
    assert link, message.text
    # No password yet: nothing signs in.
    assert client.get(ME, headers=basic("ann", "")).status_code == 401

    done = choose_password(client, link.group(1), "fresh-start-2027")
    assert done.status_code == 200, done.get_data(as_text=True)
    assert client.get(ME, headers=basic("ann", "fresh-start-2027")).status_code == 200
    again = choose_password(client, link.group(1), "another-choice-2028")
    assert again.status_code == 400  # the link works once
    user_id = created.get_json()["id"]
    kinds = [event.kind for event in events_of(app, tenant, user_id)]
    assert "account.created" in kinds and "password.set" in kinds and "password.reset" not in kinds
    # A first password replaces none: no "your password was reset" notice follows the invitation.
    app.extensions["scim_me"].mailer.wait_idle(20)
    assert [m.subject for m in mail.messages] == ["Choose your password"]


def test_ask_password_as_a_boolean_invites_too(client, mail, admin):
    body = {**ANN, WSO2: {"askPassword": True, "accountDisabled": False}}
    created = client.post(USERS, json=body, headers=admin)
    assert created.status_code == 201, created.get_json()
    assert created.get_json()[WSO2] == {"accountDisabled": False}
    assert [m.subject for m in mail.wait_for(1)] == ["Choose your password"]


def test_ask_password_false_creates_a_user_without_an_invitation(app, client, mail, admin):
    created = client.post(USERS, json={**ANN, WSO2: {"askPassword": False}}, headers=admin)
    assert created.status_code == 201, created.get_json()
    assert WSO2 not in created.get_json()
    app.extensions["scim_me"].mailer.wait_idle(20)
    assert mail.messages == []


@pytest.mark.parametrize(
    ("change", "detail"),
    [
        ({"password": "t1meMa$heen-7"}, "askPassword lets the user choose the password: send one or the other."),
        ({"emails": []}, "askPassword needs an e-mail address to send the invitation to."),
        ({WSO2: {"askPassword": "yes"}}, "askPassword must be a boolean."),
        ({WSO2: {"askPassword": 1}}, "askPassword must be a boolean."),  # no boolean, though 1 == True in Python
    ],
)
def test_an_invitation_that_cannot_be_sent_creates_nobody(app, client, mail, admin, change, detail):
    response = client.post(USERS, json={**ANN, **change}, headers=admin)
    assert_created_nobody(app, client, mail, admin, response, detail)

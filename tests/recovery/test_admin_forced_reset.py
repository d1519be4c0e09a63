"""WSO2's admin-forced password reset through SCIM: an administrator sets
``urn:scim:wso2:schema`` ``forcePasswordReset`` to true on ``/scim2/Users/{id}`` (PATCH or PUT).
As with ``scim-me user force-reset``: the old password stops signing in, every session and token
of the user ends, and a link to choose a new password is mailed to the user's primary address,
all in the write's one transaction (docs/account-recovery.md, "Forced reset")."""

from __future__ import annotations

import re

import pytest

from tests.factories import basic
from tests.factories import bearer
from tests.factories import patch_body
from tests.recovery.support import ME
from tests.recovery.support import PASSWORD
from tests.recovery.support import WSO2
from tests.recovery.support import choose_password
from tests.recovery.support import password_token
from tests.support.admin import client_headers
from tests.support.admin import events_of
from tests.support.statements import count_statements

USERS = "/t/acme/scim2/Users"
FORCE = patch_body({"op": "replace", "path": f"{WSO2}:forcePasswordReset", "value": True})
LINK = re.compile(r"http://localhost/t/acme/accountrecoveryendpoint/password-reset#code=([\w-]+)")


@pytest.fixture
def admin(app, tenant):
    return client_headers(app, tenant)


def test_patch_force_password_reset_ends_sessions_and_mails_a_link(app, client, tenant, kim, spa, mail, admin):
    signed_in = password_token(client, spa, PASSWORD)
    assert signed_in.status_code == 200
    token = signed_in.get_json()["access_token"]
    begins: list[str] = []
    with count_statements(app, begins):
        response = client.patch(f"{USERS}/{kim.id}", json=FORCE, headers=admin)
    assert response.status_code == 200, response.get_json()
    assert response.get_json()[WSO2]["forcePasswordReset"] is True
    # The flag, the ended sessions, the flow and the queued link: one transaction.
    assert len(begins) == 1, begins
    # The old password no longer signs in anywhere, and the session's token is dead.
    assert client.get(ME, headers=basic("kim", PASSWORD)).status_code == 401
    assert password_token(client, spa, PASSWORD).status_code == 400
    assert client.get(ME, headers=bearer(token)).status_code == 401
    (message,) = mail.wait_for(1)
    assert message.subject == "Choose a new password"
    assert message.rcpt_tos == ["kim.berry@example.com"]
    link = LINK.search(message.message.get_content())
    assert link, message.message.get_content()
    required = [e for e in events_of(app, tenant, kim.id) if e.kind == "password.reset_required"]
    assert [e.details for e in required] == [
        {"channel": "scim_users", "by": {"channel": "scim_users", "clientId": "provisioner"}}
    ]

    done = choose_password(client, link.group(1), "fresh-start-2027")
    assert done.status_code == 200, done.get_data(as_text=True)
    assert client.get(ME, headers=basic("kim", "fresh-start-2027")).status_code == 200
    cleared = client.get(f"{USERS}/{kim.id}", headers=admin).get_json()
    assert "forcePasswordReset" not in cleared.get(WSO2, {})


def test_put_with_force_password_reset_does_the_same(app, client, kim, mail, admin):
    current = client.get(f"{USERS}/{kim.id}", headers=admin).get_json()
    body = {k: v for k, v in current.items() if k != "meta"}
    body[WSO2] = {**body.get(WSO2, {}), "forcePasswordReset": True}
    response = client.put(f"{USERS}/{kim.id}", json=body, headers=admin)
    assert response.status_code == 200, response.get_json()
    assert client.get(ME, headers=basic("kim", PASSWORD)).status_code == 401
    assert [m.subject for m in mail.wait_for(1)] == ["Choose a new password"]


def test_an_already_forced_reset_mails_no_second_link(app, client, kim, mail, admin):
    assert client.patch(f"{USERS}/{kim.id}", json=FORCE, headers=admin).status_code == 200
    title = patch_body({"op": "replace", "path": "title", "value": "Engineer"})
    assert client.patch(f"{USERS}/{kim.id}", json=title, headers=admin).status_code == 200
    assert client.patch(f"{USERS}/{kim.id}", json=FORCE, headers=admin).status_code == 200
    app.extensions["scim_me"].mailer.wait_idle(20)
    assert [m.subject for m in mail.messages] == ["Choose a new password"]


def test_the_user_cannot_force_it_on_themselves(client, kim):
    response = client.patch(ME, json=FORCE, headers=basic("kim", PASSWORD))
    assert response.status_code == 400
    assert response.get_json()["scimType"] == "mutability"

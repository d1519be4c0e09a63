"""Mails to an address nobody has confirmed yet are limited per address
(``SCIM_ME_RECOVERY_ADDRESS_SENDS_PER_WINDOW``), whoever asks and for whichever account: a new
account's confirmation, its resends, and an e-mail change's verification share one counter.

The per-account and per-IP limits alone let many accounts, or many clients, take turns mailing
one victim: each new name is a new account counter, each new client a new IP counter."""

from __future__ import annotations

from typing import Any

import pytest

from scim_me.errors import SCIM_ERROR_URN
from scim_me.services.self_registration import ADDRESS_THROTTLED
from tests.factories import PATCH_URN
from tests.factories import SCIM_JSON
from tests.factories import assert_wso2_error
from tests.factories import bearer
from tests.factories import make_tenant
from tests.factories import make_token
from tests.factories import make_user
from tests.recovery.support import CONFIRMATION_CODE
from tests.recovery.support import ME
from tests.recovery.support import RESEND
from tests.recovery.support import VALIDATE
from tests.recovery.support import WSO2
from tests.recovery.support import users_named
from tests.support.admin import USER_URN
from tests.support.admin import client_headers
from tests.support.apps import mailing_app
from tests.support.statements import count_statements

LIMIT = 2
VICTIM = "victim@example.org"
PASSWORD = "t1meMa$heen-7"
MY_RESEND = "/t/acme/api/identity/user/v1.0/me/resend-code"
ON_UPDATE = {"properties": [{"key": "RecoveryScenario", "value": "EMAIL_VERIFICATION_ON_UPDATE"}]}


@pytest.fixture
def app(database_url, tmp_path, mail):
    with mailing_app(database_url, tmp_path, mail, recovery_address_sends_per_window=LIMIT) as application:
        yield application


@pytest.fixture
def tenant(app):
    return make_tenant(app, "acme", self_registration="open", verify_email_on_update=True)


@pytest.fixture
def admin(app, tenant):
    return client_headers(app, tenant)


def _register(client: Any, name: str, address: str = VICTIM, ip: str = "10.2.0.1") -> Any:
    body = {"schemas": [USER_URN], "userName": name, "password": PASSWORD, "emails": [{"value": address}]}
    return client.post(ME, json=body, environ_base={"REMOTE_ADDR": ip})


def _resend(client: Any, name: str, ip: str) -> Any:
    body = {"user": {"username": name, "realm": "PRIMARY"}, "properties": []}
    return client.post(RESEND, json=body, environ_base={"REMOTE_ADDR": ip})


def _mailed(app: Any, mail: Any) -> list[Any]:
    assert app.extensions["scim_me"].mailer.wait_idle(20)
    return list(mail.messages)


def _verified_user_token(app: Any, tenant: Any, name: str) -> str:
    verified = {WSO2: {"emailVerified": True}}
    user = make_user(app, tenant, name, PASSWORD, emails=[{"value": f"{name}@example.com"}], **verified)
    return make_token(app, tenant, user)


def _change_email(client: Any, token: str, address: str) -> Any:
    operation = {"op": "replace", "path": "emails", "value": [address]}
    body = {"schemas": [PATCH_URN], "Operations": [operation]}
    return client.patch(ME, json=body, headers=bearer(token, **{"Content-Type": SCIM_JSON}))


def test_registrations_naming_one_address_are_limited_whoever_registers(app, client, tenant, mail, admin):
    # Other names, other clients, the address spelled otherwise: still one mailbox.
    assert _register(client, "v0", VICTIM, ip="10.2.0.1").status_code == 201
    assert _register(client, "v1", "  Victim@Example.ORG", ip="10.2.0.2").status_code == 201
    refused = _register(client, "v2", ip="10.2.0.3")
    assert refused.status_code == 429
    assert refused.mimetype == "application/scim+json"
    assert refused.get_json() == {"schemas": [SCIM_ERROR_URN], "status": "429", "detail": ADDRESS_THROTTLED}
    assert 0 < int(refused.headers["Retry-After"]) <= 3600
    assert users_named(client, admin, "v2") == 0
    assert [m.subject for m in _mailed(app, mail)] == ["Confirm your e-mail address"] * LIMIT
    # Another address is not held back, from the same client.
    assert _register(client, "v2", "someone@example.org", ip="10.2.0.3").status_code == 201


def test_a_resend_past_the_address_limit_mails_nothing_and_answers_as_for_anybody(app, client, tenant, mail):
    assert _register(client, "ann").status_code == 201
    assert _resend(client, "ann", ip="10.2.1.1").status_code == 201
    first, second = mail.wait_for(LIMIT)
    answers, work = {}, {}
    for name in ("ann", "nobody"):  # the held account whose address is spent, and no account at all
        with count_statements(app) as statements:
            response = _resend(client, name, ip="10.2.1.2")
        answers[name] = (response.status_code, response.get_data())
        work[name] = [sql.split()[0].upper() for sql in statements]
    # A 429 would tell that the name is an account waiting for its address: neither the answer
    # nor the statements do.
    assert answers["ann"] == answers["nobody"] == (201, b"")
    assert work["ann"] == work["nobody"], work
    assert len(_mailed(app, mail)) == LIMIT
    # No new code replaced the one mailed last: it still confirms the account.
    assert CONFIRMATION_CODE.search(first.text) and CONFIRMATION_CODE.search(second.text)
    code = CONFIRMATION_CODE.search(second.text).group(1)  # type: ignore[union-attr]
    assert client.post(VALIDATE, json={"code": code, "properties": []}).status_code == 202


def test_registration_and_e_mail_change_share_the_address_counter(app, client, tenant, mail):
    kim, lee = (_verified_user_token(app, tenant, name) for name in ("kim", "lee"))
    assert _register(client, "v0").status_code == 201
    assert _change_email(client, kim, VICTIM).status_code == 200
    refused = _change_email(client, lee, VICTIM)
    assert refused.status_code == 429
    assert refused.get_json()["status"] == "429"
    assert refused.get_json()["detail"].startswith("Too many verification mails to this address")
    assert 0 < int(refused.headers["Retry-After"]) <= 3600
    # The refused write changed nothing: lee has no pending change.
    assert "pendingEmails" not in client.get(ME, headers=bearer(lee)).get_json().get(WSO2, {})
    # kim's own resend is refused too, in the API's dialect, and the pending change stays.
    assert_wso2_error(client.post(MY_RESEND, json=ON_UPDATE, headers=bearer(kim)), 429, "EVU-10004")
    assert client.get(ME, headers=bearer(kim)).get_json()[WSO2]["pendingEmails"] == [{"value": VICTIM}]
    assert [m.rcpt_tos for m in _mailed(app, mail)] == [[VICTIM]] * LIMIT

"""Self-registration (``POST /scim2/Me``) confirms the address before the account signs in.

With the tenant's ``self_registration_confirm`` on (the default), as WSO2's self sign-up with
"lock on creation" (identity-governance ``UserSelfRegistrationHandler``,
``SelfRegistrationUtils.lockUserAccount``): 201 with the user, held (``accountLocked`` true,
``lockedReason`` ``PENDING_SELF_REGISTRATION``, ``accountState`` ``PENDING_SR``), a code mailed in
the creating transaction; validate-code (or the mailed link) sets ``emailVerified`` and lifts the
hold; resend-code and the sign-in page mail a new code. WSO2's request flags are never stored.
An anonymous registration counts against the client IP's mail limit (429 past it). With the
setting off an account signs in at once, as before."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from scim_me.errors import SCIM_ERROR_URN
from tests.factories import assert_wso2_error
from tests.factories import basic
from tests.factories import bearer
from tests.factories import load_user
from tests.factories import make_tenant
from tests.factories import make_token
from tests.recovery.support import CONFIRM_PAGE as PAGE
from tests.recovery.support import CONFIRMATION_CODE as CODE
from tests.recovery.support import CONFIRMATION_LINK as LINK
from tests.recovery.support import ME
from tests.recovery.support import RESEND
from tests.recovery.support import USERS
from tests.recovery.support import VALIDATE
from tests.recovery.support import WSO2
from tests.recovery.support import authorize_url
from tests.recovery.support import password_token
from tests.recovery.support import resend_form
from tests.recovery.support import sign_in
from tests.recovery.support import users_named
from tests.support.admin import ENTERPRISE_URN
from tests.support.admin import USER_URN
from tests.support.admin import client_headers
from tests.support.admin import events_of
from tests.support.apps import mailing_app
from tests.support.faults import table_unavailable
from tests.support.statements import count_statements

PASSWORD = "t1meMa$heen-7"
ADDRESS = "ann@example.com"
ANN = {
    "schemas": [USER_URN],
    "userName": "ann",
    "password": PASSWORD,
    "name": {"givenName": "Ann", "familyName": "Lee"},
    "emails": [{"value": ADDRESS, "primary": True}],
}
HELD = {"accountLocked": True, "lockedReason": "PENDING_SELF_REGISTRATION", "accountState": "PENDING_SR"}
HELD_MESSAGE = "Confirm your e-mail address: use the link we mailed you."
IP_LIMIT = 3


@pytest.fixture
def app(database_url, tmp_path, mail):
    # A small per-IP mail limit, so the limit is reached in a few registrations.
    with mailing_app(database_url, tmp_path, mail, recovery_ip_sends_per_window=IP_LIMIT) as application:
        yield application


@pytest.fixture
def tenant(app):
    return make_tenant(app, "acme", self_registration="open")  # self_registration_confirm: the default (on)


@pytest.fixture
def admin(app, tenant):
    return client_headers(app, tenant)


def _register(client: Any, body: dict[str, Any] = ANN, ip: str = "10.0.0.1", **extra: Any) -> Any:
    return client.post(ME, json=body, environ_base={"REMOTE_ADDR": ip}, **extra)


def _registered(client: Any, body: dict[str, Any] = ANN, ip: str = "10.0.0.1", **extra: Any) -> dict[str, Any]:
    response = _register(client, body, ip, **extra)
    assert response.status_code == 201, response.get_json()
    return response.get_json()  # type: ignore[no-any-return]


def _code(message: Any) -> str:
    found = CODE.search(message.text)
    assert found, message.text
    link = LINK.search(message.text)
    assert link and link.group(1) == found.group(1), message.text
    return found.group(1)


def _mailed_code(mail: Any) -> str:
    (message,) = mail.wait_for(1)
    assert message.rcpt_tos == [ADDRESS] and message.subject == "Confirm your e-mail address"
    # It says what happened and what ignoring it does: anybody may register with any address.
    assert "The account ann was registered with this e-mail address (organization acme)." in message.text
    assert "If you did not register this account, ignore this mail" in message.text
    return _code(message)


def _validate(client: Any, code: str) -> Any:
    return client.post(VALIDATE, json={"code": code, "properties": []})


def _wso2(client: Any, admin: dict[str, str], user_id: str) -> dict[str, Any]:
    found = client.get(f"{USERS}/{user_id}", headers=admin)
    assert found.status_code == 200, found.get_json()
    return found.get_json().get(WSO2, {})  # type: ignore[no-any-return]


def _mail_count(app: Any, mail: Any) -> int:
    app.extensions["scim_me"].mailer.wait_idle(20)
    return len(mail.messages)


def _events(app: Any, tenant: Any, user_id: str) -> dict[str, dict[str, Any]]:
    return {event.kind: event.details for event in events_of(app, tenant, user_id)}


def _resend(client: Any, user: str, scenario: str | None, ip: str = "10.0.9.1") -> Any:
    properties = [{"key": "RecoveryScenario", "value": scenario}] if scenario is not None else []
    body = {"user": {"username": user, "realm": "PRIMARY"}, "properties": properties}
    return client.post(RESEND, json=body, environ_base={"REMOTE_ADDR": ip})


# -- held until confirmed --------------------------------------------------------------------------


def test_a_registered_account_is_held_until_its_address_is_confirmed(app, client, tenant, mail, admin, spa):
    begins: list[str] = []
    with count_statements(app, begins):
        created = _registered(client)
    # The limits' counts (the IP's and the address's), then the user, the hold, the code and its
    # queued mail in one transaction.
    assert len(begins) == 2, begins
    # 201 with the user, as WSO2 answers; it shows the hold as WSO2 shows it, to the caller and
    # to an administrator.
    assert created["userName"] == "ann"
    assert created[WSO2] == HELD
    assert _wso2(client, admin, created["id"]) == HELD
    stored = load_user(app, tenant, created["id"])
    assert WSO2 not in stored.profile  # the lock lives in the lockout table; nothing is verified
    code = _mailed_code(mail)
    # The right password signs nothing in, on every channel, as for any held account.
    assert client.get(ME, headers=basic("ann", PASSWORD)).status_code == 401
    assert password_token(client, spa, PASSWORD, user="ann").status_code == 429
    assert _events(app, tenant, created["id"])["account.created"]["channel"] == "self_registration"

    assert _validate(client, code).status_code == 202
    assert _wso2(client, admin, created["id"]) == {"emailVerified": True}
    assert client.get(ME, headers=basic("ann", PASSWORD)).status_code == 200
    assert password_token(client, spa, PASSWORD, user="ann").status_code == 200
    events = _events(app, tenant, created["id"])
    assert events["email.verified"] == {"address": ADDRESS, "channel": "self_sign_up"}
    assert events["account.unlocked"] == {"channel": "self_sign_up"}
    # The code works once.
    assert_wso2_error(_validate(client, code), 400, "18001")


def test_the_mailed_link_page_confirms_the_registration(client, mail, admin):
    created = _registered(client)
    code = _mailed_code(mail)
    done = client.post(PAGE, data={"code": code})
    assert done.status_code == 200, done.get_data(as_text=True)
    assert "your account can now sign in" in done.get_data(as_text=True)
    assert _wso2(client, admin, created["id"]) == {"emailVerified": True}
    assert client.get(ME, headers=basic("ann", PASSWORD)).status_code == 200


def test_an_expired_code_confirms_nothing(app, client, mail, admin):
    created = _registered(client)
    code = _mailed_code(mail)
    db = app.extensions["scim_me"].db
    with db.connection_context():
        db.execute_sql("UPDATE recovery_flows SET expires_at = ?".replace("?", db.param), (datetime(2000, 1, 1),))
    assert_wso2_error(_validate(client, code), 400, "18002")
    assert _wso2(client, admin, created["id"]) == HELD
    assert client.get(ME, headers=basic("ann", PASSWORD)).status_code == 401


def _lapse_codes(app: Any) -> None:
    db = app.extensions["scim_me"].db
    with db.connection_context():
        db.execute_sql("UPDATE recovery_flows SET expires_at = ?".replace("?", db.param), (datetime(2000, 1, 1),))


SQUATTER = {**ANN, "password": "another-Pa55word!", "emails": [{"value": "ann.lee@example.org", "primary": True}]}


def test_a_lapsed_registration_gives_its_name_to_the_next_one(app, client, tenant, mail, admin):
    """An unconfirmed registration whose code lapsed no longer squats its name (our decision,
    services/self_registration.py): the next registration replaces it in one transaction."""
    first = _registered(client)
    old_code = _mailed_code(mail)
    _lapse_codes(app)

    begins: list[str] = []
    with count_statements(app, begins):
        second = _registered(client, SQUATTER, ip="10.0.0.2")
    assert len(begins) == 2, begins  # the IP's count, then the old account out and the new one in
    assert second["id"] != first["id"] and second[WSO2] == HELD
    assert client.get(f"{USERS}/{first['id']}", headers=admin).status_code == 404
    assert users_named(client, admin, "ann") == 1 and _wso2(client, admin, second["id"]) == HELD
    assert _events(app, tenant, second["id"])["account.created"]["replaced_unconfirmed"] == first["id"]
    # The old code died with its account; the new one, mailed to the new address, confirms it.
    assert_wso2_error(_validate(client, old_code), 400, "18001")
    _, message = mail.wait_for(2)
    assert message.rcpt_tos == ["ann.lee@example.org"]
    assert _validate(client, _code(message)).status_code == 202
    assert client.get(ME, headers=basic("ann", "another-Pa55word!")).status_code == 200
    assert client.get(ME, headers=basic("ann", PASSWORD)).status_code == 401


def test_a_registration_whose_code_still_works_keeps_its_name(app, client, tenant, mail, admin):
    first = _registered(client)
    _mailed_code(mail)
    taken = _register(client, SQUATTER, ip="10.0.0.2")
    assert taken.status_code == 409 and taken.get_json()["scimType"] == "uniqueness"
    assert users_named(client, admin, "ann") == 1 and _wso2(client, admin, first["id"]) == HELD
    # A resend renews the window: the lapsed first code does not matter once a new one is out.
    _lapse_codes(app)
    assert _resend(client, "ann", "SELF_SIGN_UP").status_code == 201
    mail.wait_for(2)
    assert _register(client, SQUATTER, ip="10.0.0.3").status_code == 409
    assert _wso2(client, admin, first["id"]) == HELD


def test_a_confirmed_account_or_an_administrators_verify_email_keeps_its_name(app, client, tenant, mail, admin):
    _registered(client)
    assert _validate(client, _mailed_code(mail)).status_code == 202
    invited = {**ANN, "userName": "bob", "emails": [{"value": "bob@example.com", "primary": True}]}
    created = client.post(USERS, json={**invited, WSO2: {"verifyEmail": True}}, headers=admin)
    assert created.status_code == 201, created.get_json()
    mail.wait_for(2)
    _lapse_codes(app)
    for name in ("ann", "bob"):
        taken = _register(client, {**SQUATTER, "userName": name}, ip=f"10.0.1.{len(name)}")
        assert taken.status_code == 409, (name, taken.get_json())
    assert _wso2(client, admin, created.get_json()["id"]) == {
        "accountLocked": True,
        "lockedReason": "PENDING_EMAIL_VERIFICATION",
        "accountState": "PENDING_EV",
    }


def test_a_registration_by_a_client_with_the_create_scope_is_held_too(app, client, tenant, mail, admin):
    from scim_me.storage.tenants import update_tenant

    with app.extensions["scim_me"].db.connection_context():
        tenant = update_tenant("acme", self_registration="scope")
    token = bearer(make_token(app, tenant, None, scope="internal_user_mgt_create"))
    begins: list[str] = []
    with count_statements(app, begins):
        created = _registered(client, headers=token)
    assert len(begins) == 2, begins  # the address's count (no IP's), then one transaction
    assert created[WSO2] == HELD
    assert _validate(client, _mailed_code(mail)).status_code == 202
    assert _wso2(client, admin, created["id"]) == {"emailVerified": True}


def test_without_an_address_there_is_nothing_to_confirm(app, client, mail, admin):
    body = {key: value for key, value in ANN.items() if key != "emails"}
    refused = _register(client, body)
    assert refused.status_code == 400
    assert refused.get_json() == {
        "schemas": [SCIM_ERROR_URN],
        "status": "400",
        "scimType": "invalidValue",
        "detail": "An e-mail address is required to register: it is confirmed before the account signs in.",
    }
    assert users_named(client, admin, "ann") == 0
    assert _mail_count(app, mail) == 0


@pytest.mark.parametrize("table", ["mail_outbox", "recovery_flows", "security_events"])
def test_a_registration_that_cannot_be_stored_whole_leaves_no_user_and_no_mail(app, client, mail, admin, table):
    with table_unavailable(app, table):
        failed = _register(client)
    assert failed.status_code == 500
    assert "Traceback" not in failed.get_data(as_text=True)
    assert users_named(client, admin, "ann") == 0
    assert _mail_count(app, mail) == 0
    # Nothing of it stayed behind (no user, no hold on the name): the same request succeeds now.
    created = _registered(client)
    assert created[WSO2] == HELD
    assert _validate(client, _mailed_code(mail)).status_code == 202
    assert client.get(ME, headers=basic("ann", PASSWORD)).status_code == 200


# -- the request flags -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "extensions",
    [
        {WSO2: {"verifyEmail": True}},
        {WSO2: {"verifyEmail": "true", "askPassword": False}},
        {WSO2: {"VerifyEmail": False, "country": "LK"}},
        {ENTERPRISE_URN: {"verifyEmail": True, "department": "Sales"}},
    ],
)
def test_the_request_flags_are_never_stored(app, client, tenant, mail, admin, extensions):
    created = _registered(client, {**ANN, **extensions})
    stored = load_user(app, tenant, created["id"]).profile
    assert "verifyEmail" not in str(stored) and "VerifyEmail" not in str(stored)
    assert "askPassword" not in str(stored)
    # Whatever the flag said, the tenant confirms the address: one hold, one code.
    assert {key: created[WSO2][key] for key in HELD} == HELD
    assert _validate(client, _mailed_code(mail)).status_code == 202
    assert WSO2 not in stored or stored[WSO2] == {"country": "LK"}


# -- resend ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("scenario", ["SELF_SIGN_UP", None])
def test_resend_code_mails_a_fresh_code_and_the_old_one_dies(app, client, mail, admin, scenario):
    created = _registered(client)
    first = _mailed_code(mail)
    sent = _resend(client, "ann", scenario)
    assert sent.status_code == 201 and sent.get_data() == b""
    _, message = mail.wait_for(2)
    assert message.rcpt_tos == [ADDRESS] and "was registered with this e-mail address" in message.text
    fresh = _code(message)
    assert fresh != first
    assert_wso2_error(_validate(client, first), 400, "18001")
    assert _wso2(client, admin, created["id"]) == HELD
    assert _validate(client, fresh).status_code == 202
    assert _wso2(client, admin, created["id"]) == {"emailVerified": True}


def test_the_sign_in_page_tells_a_registered_account_why_and_mails_a_new_link(app, client, tenant, mail):
    _registered(client)
    first = _mailed_code(mail)
    url = authorize_url(app, tenant)
    assert sign_in(client, url, "ann", "wrong-guess-1").status_code == 401  # a wrong one learns nothing
    held = sign_in(client, url, "ann", PASSWORD)
    assert held.status_code == 403
    assert HELD_MESSAGE in held.get_data(as_text=True)
    action, fields = resend_form(held.get_data(as_text=True))
    assert client.post(action, data=fields).status_code == 303
    _, message = mail.wait_for(2)
    assert "was registered with this e-mail address" in message.text
    assert_wso2_error(_validate(client, first), 400, "18001")
    assert _validate(client, _code(message)).status_code == 202
    assert sign_in(client, url, "ann", PASSWORD).status_code == 302


# -- the per-IP limit ------------------------------------------------------------------------------


def test_anonymous_registrations_are_limited_per_client_ip(app, client, tenant, mail, admin):
    for number in range(IP_LIMIT):
        _registered(client, {**ANN, "userName": f"ann{number}"}, ip="10.0.5.1")
    refused = _register(client, {**ANN, "userName": "ann-late"}, ip="10.0.5.1")
    assert refused.status_code == 429
    assert refused.mimetype == "application/scim+json"
    assert refused.get_json() == {
        "schemas": [SCIM_ERROR_URN],
        "status": "429",
        "detail": "Too many self-registrations from this client; retry after the time given in Retry-After.",
    }
    assert int(refused.headers["Retry-After"]) > 0
    assert users_named(client, admin, "ann-late") == 0
    assert _mail_count(app, mail) == IP_LIMIT  # the refusal mailed nothing
    # The counter is the IP's mail counter: resend-code from there is refused too, alike.
    assert_wso2_error(_resend(client, "ann0", "SELF_SIGN_UP", ip="10.0.5.1"), 429, "UAR-60001")
    # Another client is not held back by it.
    assert _registered(client, {**ANN, "userName": "ann-late"}, ip="10.0.5.2")[WSO2] == HELD


def test_a_malformed_body_does_not_count_against_the_limit(app, client, tenant):
    for _ in range(IP_LIMIT + 1):
        response = _register(client, {**ANN, "userName": ""}, ip="10.0.6.1")
        assert response.status_code == 400
    assert _register(client, ip="10.0.6.1").status_code == 201


def test_a_client_with_the_create_scope_is_not_limited_per_ip(app, client, tenant, mail):
    from scim_me.storage.tenants import update_tenant

    with app.extensions["scim_me"].db.connection_context():
        tenant = update_tenant("acme", self_registration="scope")
    token = bearer(make_token(app, tenant, None, scope="internal_user_mgt_create"))
    for number in range(IP_LIMIT + 2):
        _registered(client, {**ANN, "userName": f"ann{number}"}, ip="10.0.7.1", headers=token)


# -- the setting off: usable at once ---------------------------------------------------------------


@pytest.fixture
def unconfirmed(app):
    """A tenant whose registrations sign in at once."""
    return make_tenant(app, "acme", self_registration="open", self_registration_confirm=False)


@pytest.mark.parametrize("verify_email", [False, True, "true"])
def test_with_the_setting_off_a_registered_account_signs_in_at_once(app, client, mail, unconfirmed, spa, verify_email):
    # verifyEmail decides nothing: the tenant does (WSO2's UserEmailVerificationHandler leaves a
    # self sign-up to the self sign-up handler); taken out and never stored all the same.
    created = _registered(client, {**ANN, WSO2: {"verifyEmail": verify_email, "askPassword": "false"}})
    assert WSO2 not in created
    assert WSO2 not in load_user(app, unconfirmed, created["id"]).profile
    assert client.get(ME, headers=basic("ann", PASSWORD)).status_code == 200
    assert password_token(client, spa, PASSWORD, user="ann").status_code == 200
    assert _mail_count(app, mail) == 0
    # No address is needed when nothing is confirmed.
    bare = {key: value for key, value in {**ANN, "userName": "bo"}.items() if key != "emails"}
    assert _registered(client, bare)["userName"] == "bo"
    # Anonymous registrations are limited per IP whether or not they mail.
    _registered(client, {**ANN, "userName": "cy"})
    assert _register(client, {**ANN, "userName": "di"}).status_code == 429

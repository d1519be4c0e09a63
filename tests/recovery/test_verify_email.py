"""WSO2's "verify email" on user creation: an administrator creates a user through
``/scim2/Users`` (or ``/scim2/Bulk``) with ``verifyEmail`` true and a password. As on WSO2
(identity-governance UserEmailVerificationHandler, lock on creation on by default), the flag is
not stored, the account is held (``accountLocked`` true, ``lockedReason``
``PENDING_EMAIL_VERIFICATION``, ``accountState`` ``PENDING_EV``) and a code is mailed; confirming
it (validate-code, or the mailed link's page) sets ``emailVerified`` true and lifts the hold."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from tests.factories import basic
from tests.factories import make_tenant
from tests.factories import patch_body
from tests.recovery.support import CONFIRM_PAGE as PAGE
from tests.recovery.support import CONFIRMATION_CODE as CODE
from tests.recovery.support import CONFIRMATION_LINK as LINK
from tests.recovery.support import ME
from tests.recovery.support import USERS
from tests.recovery.support import VALIDATE
from tests.recovery.support import WSO2
from tests.recovery.support import assert_created_nobody
from tests.recovery.support import password_token
from tests.recovery.support import users_named
from tests.support.admin import ENTERPRISE_URN
from tests.support.admin import USER_URN
from tests.support.admin import client_headers
from tests.support.admin import events_of
from tests.support.faults import outbox_unavailable
from tests.support.faults import table_unavailable
from tests.support.statements import count_statements

PASSWORD = "t1meMa$heen-7"
ANN = {
    "schemas": [USER_URN],
    "userName": "ann",
    "password": PASSWORD,
    "emails": [{"value": "ann@example.com", "primary": True}],
    WSO2: {"verifyEmail": "true"},
}
HELD = {"accountLocked": True, "lockedReason": "PENDING_EMAIL_VERIFICATION", "accountState": "PENDING_EV"}


@pytest.fixture
def admin(app, tenant):
    return client_headers(app, tenant)


def _create(client: Any, admin: dict[str, str], body: dict[str, Any] = ANN) -> dict[str, Any]:
    created = client.post(USERS, json=body, headers=admin)
    assert created.status_code == 201, created.get_json()
    return created.get_json()  # type: ignore[no-any-return]


def _mailed_code(mail: Any) -> str:
    (message,) = mail.wait_for(1)
    assert message.rcpt_tos == ["ann@example.com"] and message.subject == "Confirm your e-mail address"
    code = CODE.search(message.text)
    assert code, message.text
    link = LINK.search(message.text)
    assert link and link.group(1) == code.group(1), message.text
    return code.group(1)


def _validate(client: Any, code: str, path: str = VALIDATE) -> Any:
    return client.post(path, json={"code": code, "properties": []})


def _wso2(client: Any, admin: dict[str, str], user_id: str) -> dict[str, Any]:
    found = client.get(f"{USERS}/{user_id}", headers=admin)
    assert found.status_code == 200, found.get_json()
    return found.get_json().get(WSO2, {})  # type: ignore[no-any-return]


def _kinds(app: Any, tenant: Any, user_id: str) -> list[str]:
    return [event.kind for event in events_of(app, tenant, user_id)]


def _refused_as(response: Any, code: str) -> None:
    assert response.status_code == 400, response.get_data(as_text=True)
    assert response.get_json()["code"] == code, response.get_json()


def test_a_new_account_is_held_until_its_address_is_confirmed(app, client, tenant, mail, admin, spa):
    begins: list[str] = []
    with count_statements(app, begins):
        created = _create(client, admin)
    # The user, the hold, the code and its queued mail commit together.
    assert len(begins) == 1, begins
    # A request, not an attribute: not stored; the hold shows as WSO2 shows it.
    assert created[WSO2] == HELD
    assert _wso2(client, admin, created["id"]) == HELD
    code = _mailed_code(mail)
    # The admin's password is set, yet nothing signs in before the address is confirmed.
    assert client.get(ME, headers=basic("ann", PASSWORD)).status_code == 401
    assert password_token(client, spa, PASSWORD, user="ann").status_code == 429  # as every lock answers

    assert _validate(client, code).status_code == 202
    assert _wso2(client, admin, created["id"]) == {"emailVerified": True}
    assert client.get(ME, headers=basic("ann", PASSWORD)).status_code == 200
    assert password_token(client, spa, PASSWORD, user="ann").status_code == 200
    events = {event.kind: event.details for event in events_of(app, tenant, created["id"])}
    assert events["email.verified"]["address"] == "ann@example.com"
    assert events["account.unlocked"] == {"channel": "verify_email"}
    # The code works once.
    _refused_as(_validate(client, code), "18001")


def test_the_mailed_link_page_confirms_the_address(client, mail, admin):
    created = _create(client, admin)
    code = _mailed_code(mail)
    assert client.get(PAGE).status_code == 200
    done = client.post(PAGE, data={"code": code})
    assert done.status_code == 200, done.get_data(as_text=True)
    assert "your account can now sign in" in done.get_data(as_text=True)
    assert _wso2(client, admin, created["id"]) == {"emailVerified": True}
    assert client.get(ME, headers=basic("ann", PASSWORD)).status_code == 200


def test_a_wrong_or_expired_code_changes_nothing(app, client, mail, admin):
    created = _create(client, admin)
    code = _mailed_code(mail)
    _refused_as(_validate(client, code[:-1] + ("A" if code[-1] != "A" else "B")), "18001")
    _refused_as(_validate(client, "x" * 200), "18001")
    with app.extensions["scim_me"].db.connection_context():
        app.extensions["scim_me"].db.execute_sql(
            "UPDATE recovery_flows SET expires_at = ?".replace("?", app.extensions["scim_me"].db.param),
            (datetime(2000, 1, 1),),
        )
    _refused_as(_validate(client, code), "18002")
    assert _wso2(client, admin, created["id"]) == HELD
    assert client.get(ME, headers=basic("ann", PASSWORD)).status_code == 401


@pytest.mark.parametrize("urn", [WSO2, ENTERPRISE_URN])
def test_verify_email_as_a_boolean_under_either_extension_holds_too(client, mail, admin, urn):
    extensions = {WSO2: {"accountDisabled": False}}
    extensions[urn] = {**extensions.get(urn, {}), "verifyEmail": True}
    created = _create(client, admin, {**ANN, **extensions})
    assert created[WSO2] == {"accountDisabled": False, **HELD}
    assert ENTERPRISE_URN not in created
    assert _validate(client, _mailed_code(mail)).status_code == 202


def test_verify_email_false_creates_a_user_as_usual(app, client, mail, admin):
    created = _create(client, admin, {**ANN, WSO2: {"verifyEmail": False}})
    assert WSO2 not in created
    assert client.get(ME, headers=basic("ann", PASSWORD)).status_code == 200
    app.extensions["scim_me"].mailer.wait_idle(20)
    assert mail.messages == []


@pytest.mark.parametrize(
    ("change", "detail"),
    [
        ({"emails": []}, "verifyEmail needs an e-mail address to confirm."),
        (
            {"password": None, WSO2: {"verifyEmail": True, "askPassword": True}},
            "askPassword and verifyEmail are two invitations: send one or the other.",
        ),
    ],
)
def test_a_confirmation_that_cannot_be_sent_creates_nobody(app, client, mail, admin, change, detail):
    body = {key: value for key, value in {**ANN, **change}.items() if value is not None}
    response = client.post(USERS, json=body, headers=admin)
    assert_created_nobody(app, client, mail, admin, response, detail)


def test_a_creation_whose_mail_cannot_be_queued_leaves_no_user(app, client, mail, admin):
    with outbox_unavailable(app):
        failed = client.post(USERS, json=ANN, headers=admin)
    assert failed.status_code == 500
    assert "Traceback" not in failed.get_data(as_text=True)
    assert users_named(client, admin, "ann") == 0
    # Nothing of it stayed behind: the same request succeeds afterwards, with its mail.
    _create(client, admin)
    assert _validate(client, _mailed_code(mail)).status_code == 202


def test_a_confirmation_that_cannot_be_recorded_spends_nothing(app, client, mail, admin):
    created = _create(client, admin)
    code = _mailed_code(mail)
    with table_unavailable(app, "security_events"):
        failed = _validate(client, code)
    assert failed.status_code == 500
    # The code, the profile and the hold commit with the event, so none of them moved.
    assert _wso2(client, admin, created["id"]) == HELD
    assert _validate(client, code).status_code == 202
    assert _wso2(client, admin, created["id"]) == {"emailVerified": True}


def test_a_code_works_only_in_its_own_tenant(app, client, tenant, mail, admin):
    make_tenant(app, "globex")
    created = _create(client, admin)
    code = _mailed_code(mail)
    _refused_as(_validate(client, code, "/t/globex/api/identity/user/v1.0/validate-code"), "18001")
    assert client.post("/t/globex/accountrecoveryendpoint/confirm-email", data={"code": code}).status_code == 400
    assert _wso2(client, admin, created["id"]) == HELD
    assert _validate(client, code).status_code == 202


def test_an_administrators_unlock_lifts_the_hold_without_verifying(app, client, tenant, mail, admin):
    created = _create(client, admin)
    code = _mailed_code(mail)
    unlock = patch_body({"op": "replace", "path": f"{WSO2}:accountLocked", "value": False})
    unlocked = client.patch(f"{USERS}/{created['id']}", json=unlock, headers=admin)
    assert unlocked.status_code == 200, unlocked.get_json()
    assert WSO2 not in unlocked.get_json()  # unlocked, and the address is still not verified
    assert client.get(ME, headers=basic("ann", PASSWORD)).status_code == 200
    assert "account.unlocked" in _kinds(app, tenant, created["id"])
    # The mailed code still confirms the address later.
    assert _validate(client, code).status_code == 202
    assert _wso2(client, admin, created["id"]) == {"emailVerified": True}


def test_a_lock_asked_for_at_creation_is_not_lifted_by_confirming(client, mail, admin):
    created = _create(client, admin, {**ANN, WSO2: {"verifyEmail": True, "accountLocked": True}})
    admin_lock = {"accountLocked": True, "lockedReason": "ADMIN_INITIATED"}
    assert created[WSO2] == admin_lock
    assert _validate(client, _mailed_code(mail)).status_code == 202
    assert _wso2(client, admin, created["id"]) == {"emailVerified": True, **admin_lock}
    assert client.get(ME, headers=basic("ann", PASSWORD)).status_code == 401


def test_a_held_account_put_back_as_read_stays_held(client, mail, admin):
    created = _create(client, admin)
    code = _mailed_code(mail)
    # A GET's body (accountLocked true in it) PUT back changes no lock: confirming still lifts it.
    current = client.get(f"{USERS}/{created['id']}", headers=admin).get_json()
    body = {key: value for key, value in current.items() if key != "meta"}
    replaced = client.put(f"{USERS}/{created['id']}", json={**body, "title": "Engineer"}, headers=admin)
    assert replaced.status_code == 200, replaced.get_json()
    assert replaced.get_json()[WSO2] == HELD
    assert _validate(client, code).status_code == 202
    assert client.get(ME, headers=basic("ann", PASSWORD)).status_code == 200


def test_a_code_confirms_only_the_address_it_was_mailed_to(client, mail, admin):
    created = _create(client, admin)
    code = _mailed_code(mail)
    moved = patch_body({"op": "replace", "path": "emails", "value": [{"value": "ann@other.example", "primary": True}]})
    assert client.patch(f"{USERS}/{created['id']}", json=moved, headers=admin).status_code == 200
    _refused_as(_validate(client, code), "18001")
    assert _wso2(client, admin, created["id"]) == HELD


def test_a_deleted_held_user_leaves_no_hold_on_its_name(client, mail, admin):
    created = _create(client, admin)
    mail.wait_for(1)
    assert client.delete(f"{USERS}/{created['id']}", headers=admin).status_code == 204
    again = _create(client, admin, {**ANN, WSO2: {"verifyEmail": False}})
    assert WSO2 not in again
    assert client.get(ME, headers=basic("ann", PASSWORD)).status_code == 200


def test_bulk_creation_holds_and_mails_alike(client, mail, admin):
    body = {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
        "Operations": [{"method": "POST", "path": "/Users", "bulkId": "ann", "data": ANN}],
    }
    response = client.post("/t/acme/scim2/Bulk", json=body, headers=admin)
    assert response.status_code == 200, response.get_json()
    (operation,) = response.get_json()["Operations"]
    assert operation["status"] == "201", operation
    user_id = operation["location"].rsplit("/", 1)[1]
    assert _wso2(client, admin, user_id) == HELD
    assert _validate(client, _mailed_code(mail)).status_code == 202
    assert _wso2(client, admin, user_id) == {"emailVerified": True}

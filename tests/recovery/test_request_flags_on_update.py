"""WSO2's request flags ``verifyEmail`` and ``askPassword`` on a write to an existing user: admin
PUT/PATCH of ``/scim2/Users/{id}``, ``/scim2/Bulk``, and the user's own PUT/PATCH ``/scim2/Me``.

As on WSO2 (identity-governance UserEmailVerificationHandler removes ``verifyEmail`` from the
claims of every PRE_SET_USER_CLAIMS event) the flags are never stored: a write that only sends a
flag changes nothing (same version, same ETag). ``verifyEmail`` true on an administrator's change
of address, with the tenant's ``verify_email_on_update`` on, holds the new address in
``pendingEmails`` and mails it a code, as the user's own change does; with the setting off it does
nothing. ``askPassword`` (acted on by WSO2 only when a user is added) is 400 on an update."""

from __future__ import annotations

from typing import Any

import pytest

from tests.factories import PATCH_URN
from tests.factories import SCIM_JSON
from tests.factories import bearer
from tests.factories import make_tenant
from tests.factories import make_token
from tests.factories import make_user
from tests.recovery.support import PASSWORD
from tests.recovery.support import WSO2
from tests.support.admin import ENTERPRISE_URN
from tests.support.admin import client_headers
from tests.support.admin import events_of
from tests.support.mailserver import code_in

USERS = "/t/acme/scim2/Users"
BULK = "/t/acme/scim2/Bulk"
ME = "/t/acme/scim2/Me"
BULK_URN = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"


@pytest.fixture
def admin(app, tenant):
    return client_headers(app, tenant)


def _patch_body(*operations: dict[str, Any]) -> dict[str, Any]:
    return {"schemas": [PATCH_URN], "Operations": list(operations)}


def _get(client: Any, admin: dict[str, str], user_id: str, base: str = USERS) -> Any:
    found = client.get(f"{base}/{user_id}", headers=admin)
    assert found.status_code == 200, found.get_json()
    return found


def _flags_in(body: dict[str, Any]) -> list[str]:
    """The request flags a user's representation shows (it never should)."""
    return [
        f"{urn}:{name}"
        for urn in (WSO2, ENTERPRISE_URN)
        for name in (body.get(urn) or {})
        if name.lower() in ("verifyemail", "askpassword")
    ]


def _idle_without_mail(app: Any, mail: Any) -> None:
    assert app.extensions["scim_me"].mailer.wait_idle(20)
    assert mail.messages == []


# What a PATCH may say to set verifyEmail: the attribute's path (a boolean, or the string WSO2's
# documentation sends, under either URI WSO2 maps the claim to), or a value under the extension.
VERIFY_OPS = [
    {"op": "replace", "path": f"{WSO2}:verifyEmail", "value": True},
    {"op": "add", "path": f"{WSO2}:verifyEmail", "value": "true"},
    {"op": "Replace", "path": f"{ENTERPRISE_URN}:verifyEmail", "value": "true"},
    {"op": "replace", "value": {WSO2: {"verifyEmail": True}}},
    {"op": "add", "path": WSO2, "value": {"verifyEmail": True}},
]


@pytest.mark.parametrize("operation", VERIFY_OPS, ids=lambda op: f"{op['op']}-{op.get('path', 'value')}")
def test_an_admin_patch_of_verify_email_alone_stores_and_changes_nothing(app, client, mail, kim, admin, operation):
    before = _get(client, admin, kim.id)
    answer = client.patch(f"{USERS}/{kim.id}", json=_patch_body(operation), headers=admin)
    assert answer.status_code == 200, answer.get_json()
    assert _flags_in(answer.get_json()) == []
    after = _get(client, admin, kim.id)
    assert _flags_in(after.get_json()) == []
    # Nothing was asked of the profile: no new version, and the ETag a client holds stays valid.
    assert after.headers["ETag"] == before.headers["ETag"] == answer.headers["ETag"]
    assert after.get_json()["meta"]["version"] == before.get_json()["meta"]["version"]
    _idle_without_mail(app, mail)


def test_an_admin_patch_with_verify_email_applies_the_rest_without_storing_it(client, kim, admin):
    before = _get(client, admin, kim.id)
    answer = client.patch(
        f"{USERS}/{kim.id}",
        json=_patch_body(
            {"op": "replace", "path": "displayName", "value": "Kim B."},
            {"op": "replace", "path": f"{WSO2}:verifyEmail", "value": True},
        ),
        headers=admin,
    )
    assert answer.status_code == 200, answer.get_json()
    body = _get(client, admin, kim.id).get_json()
    assert body["displayName"] == "Kim B." and _flags_in(body) == []
    assert answer.headers["ETag"] != before.headers["ETag"]


def test_an_admin_put_with_verify_email_does_not_store_it(client, kim, admin):
    body = {key: value for key, value in _get(client, admin, kim.id).get_json().items() if key != "meta"}
    # The GET's body as it is first (the WSO2 dialect's string e-mails are stored as objects).
    plain = client.put(f"{USERS}/{kim.id}", json=body, headers=admin)
    assert plain.status_code == 200, plain.get_json()
    body[WSO2] = {**body.get(WSO2, {}), "verifyEmail": "true"}
    answer = client.put(f"{USERS}/{kim.id}", json=body, headers=admin)
    assert answer.status_code == 200, answer.get_json()
    assert _flags_in(answer.get_json()) == []
    assert _flags_in(_get(client, admin, kim.id).get_json()) == []
    # The same body with a flag is no change: the version stays.
    assert answer.headers["ETag"] == plain.headers["ETag"]


def test_bulk_put_and_patch_with_verify_email_do_not_store_it(client, kim, admin):
    current = _get(client, admin, kim.id).get_json()
    body = {key: value for key, value in current.items() if key != "meta"}
    body["displayName"] = "Kim B."
    body[WSO2] = {**body.get(WSO2, {}), "verifyEmail": True}
    operations = [
        {"method": "PUT", "path": f"/Users/{kim.id}", "data": body},
        {
            "method": "PATCH",
            "path": f"/Users/{kim.id}",
            "data": _patch_body({"op": "replace", "value": {WSO2: {"verifyEmail": "true"}, "nickName": "kb"}}),
        },
        {
            "method": "PATCH",
            "path": f"/Users/{kim.id}",
            "data": _patch_body(
                {"op": "remove", "path": f"{WSO2}:verifyEmail"},
                {"op": "add", "path": f"{WSO2}:askPassword", "value": False},
            ),
        },
    ]
    answer = client.post(BULK, json={"schemas": [BULK_URN], "Operations": operations}, headers=admin)
    assert answer.status_code == 200, answer.get_json()
    assert [op["status"] for op in answer.get_json()["Operations"]] == ["200", "200", "200"], answer.get_json()
    stored = _get(client, admin, kim.id).get_json()
    assert stored["displayName"] == "Kim B." and stored["nickName"] == "kb"
    assert _flags_in(stored) == []


@pytest.fixture
def token(app, tenant, kim):
    return make_token(app, tenant, kim)


def test_a_users_own_patch_and_put_with_verify_email_do_not_store_it(client, token):
    me = bearer(token, **{"Content-Type": SCIM_JSON})
    before = client.get(ME, headers=bearer(token))
    patched = client.patch(ME, json=_patch_body(VERIFY_OPS[0]), headers=me)
    assert patched.status_code == 200, patched.get_json()
    assert _flags_in(patched.get_json()) == []
    assert patched.headers["ETag"] == before.headers["ETag"]  # nothing asked of the profile

    body = {key: value for key, value in before.get_json().items() if key != "meta"}
    body["displayName"] = "Kim B."
    body[WSO2] = {**body.get(WSO2, {}), "verifyEmail": "true"}
    put = client.put(ME, json=body, headers=me)
    assert put.status_code == 200, put.get_json()
    after = client.get(ME, headers=bearer(token)).get_json()
    assert after["displayName"] == "Kim B." and _flags_in(after) == []


def test_a_profile_stored_with_the_flags_loses_them_on_its_next_write(app, tenant, client, admin):
    # Written before the flags were requests (or by a migration from WSO2's claims).
    old = make_user(
        app, tenant, "old", PASSWORD, emails=[{"value": "old@example.com"}], **{WSO2: {"verifyEmail": True}}
    )
    shown = _get(client, admin, old.id).get_json()
    body = {key: value for key, value in shown.items() if key != "meta"}
    answer = client.put(f"{USERS}/{old.id}", json=body, headers=admin)  # the GET's body, sent back
    assert answer.status_code == 200, answer.get_json()
    assert _flags_in(_get(client, admin, old.id).get_json()) == []


def test_a_profile_stored_with_ask_password_can_be_put_back(app, tenant, client, admin):
    old = make_user(
        app, tenant, "old", PASSWORD, emails=[{"value": "old@example.com"}], **{WSO2: {"askPassword": True}}
    )
    shown = _get(client, admin, old.id).get_json()
    body = {key: value for key, value in shown.items() if key != "meta"}
    answer = client.put(f"{USERS}/{old.id}", json=body, headers=admin)
    assert answer.status_code == 200, answer.get_json()
    assert _flags_in(_get(client, admin, old.id).get_json()) == []


ASK_OPS = [
    {"op": "replace", "path": f"{WSO2}:askPassword", "value": True},
    {"op": "add", "path": f"{WSO2}:askPassword", "value": "true"},
    {"op": "replace", "value": {WSO2: {"askPassword": True}}},
]


@pytest.mark.parametrize("operation", ASK_OPS, ids=lambda op: f"{op['op']}-{op.get('path', 'value')}")
def test_ask_password_on_an_admin_patch_is_refused(app, client, mail, kim, admin, operation):
    before = _get(client, admin, kim.id)
    answer = client.patch(f"{USERS}/{kim.id}", json=_patch_body(operation), headers=admin)
    assert answer.status_code == 400, answer.get_json()
    error = answer.get_json()
    assert error["scimType"] == "invalidValue" and "forcePasswordReset" in error["detail"]
    after = _get(client, admin, kim.id)
    assert _flags_in(after.get_json()) == [] and after.headers["ETag"] == before.headers["ETag"]
    _idle_without_mail(app, mail)


def test_ask_password_on_an_admin_put_and_in_bulk_is_refused(client, kim, admin):
    current = _get(client, admin, kim.id)
    body = {key: value for key, value in current.get_json().items() if key != "meta"}
    body[WSO2] = {**body.get(WSO2, {}), "askPassword": True}
    answer = client.put(f"{USERS}/{kim.id}", json=body, headers=admin)
    assert answer.status_code == 400 and answer.get_json()["scimType"] == "invalidValue"
    operations = [{"method": "PUT", "path": f"/Users/{kim.id}", "data": body}]
    bulk = client.post(BULK, json={"schemas": [BULK_URN], "Operations": operations}, headers=admin)
    (result,) = bulk.get_json()["Operations"]
    assert result["status"] == "400" and result["response"]["scimType"] == "invalidValue", result
    assert _get(client, admin, kim.id).headers["ETag"] == current.headers["ETag"]


def test_ask_password_false_on_an_admin_patch_is_accepted_and_not_stored(client, kim, admin):
    before = _get(client, admin, kim.id)
    operation = {"op": "replace", "path": f"{WSO2}:askPassword", "value": False}
    answer = client.patch(f"{USERS}/{kim.id}", json=_patch_body(operation), headers=admin)
    assert answer.status_code == 200, answer.get_json()
    after = _get(client, admin, kim.id)
    assert _flags_in(after.get_json()) == [] and after.headers["ETag"] == before.headers["ETag"]


# With the tenant's "verify email on update": an administrator's verifyEmail holds the new address.

BETA = "/t/beta/scim2/Users"
BETA_VALIDATE = "/t/beta/api/identity/user/v1.0/validate-code"


@pytest.fixture
def beta(app):
    return make_tenant(app, "beta", recovery_api_auth="anonymous", verify_email_on_update=True)


@pytest.fixture
def beta_admin(app, beta):
    return client_headers(app, beta)


@pytest.fixture
def lee(app, beta):
    return make_user(
        app,
        beta,
        "lee",
        PASSWORD,
        emails=[{"value": "lee@example.com", "primary": True}],
        **{WSO2: {"emailVerified": True}},
    )


NEW_ADDRESS = [{"value": "lee@new.example", "primary": True}]


def test_verify_email_on_an_admin_change_of_address_holds_it_until_confirmed(app, client, mail, beta, beta_admin, lee):
    operations = _patch_body(
        {"op": "replace", "path": "emails", "value": NEW_ADDRESS},
        {"op": "replace", "path": f"{WSO2}:verifyEmail", "value": True},
    )
    answer = client.patch(f"{BETA}/{lee.id}", json=operations, headers=beta_admin)
    assert answer.status_code == 200, answer.get_json()
    body = answer.get_json()
    assert body["emails"] == ["lee@example.com"]  # kept until confirmed (the WSO2 dialect's strings)
    assert body[WSO2]["pendingEmails"] == [{"value": "lee@new.example"}]
    assert _flags_in(body) == []
    (message,) = mail.wait_for(1)
    assert message.rcpt_tos == ["lee@new.example"] and message.subject == "Confirm your new e-mail address"
    kinds = [event.kind for event in events_of(app, beta, lee.id)]
    assert "email.change_requested" in kinds and "profile.updated" in kinds

    assert client.post(BETA_VALIDATE, json={"code": code_in(message), "properties": []}).status_code == 202
    confirmed = _get(client, beta_admin, lee.id, BETA).get_json()
    assert confirmed["emails"] == ["lee@new.example"]
    assert "pendingEmails" not in confirmed.get(WSO2, {}) and confirmed[WSO2]["emailVerified"] is True

    # Without the flag an administrator's change of address applies at once, as before.
    mail.wait_for(2)  # the notice to the previous address
    again = {"op": "replace", "path": "emails", "value": [{"value": "lee@third.example", "primary": True}]}
    answer = client.patch(f"{BETA}/{lee.id}", json=_patch_body(again), headers=beta_admin)
    assert answer.status_code == 200 and answer.get_json()["emails"] == ["lee@third.example"]
    assert app.extensions["scim_me"].mailer.wait_idle(20)
    assert len(mail.messages) == 2


def test_verify_email_in_an_admin_put_holds_the_new_address(client, mail, beta_admin, lee):
    current = _get(client, beta_admin, lee.id, BETA).get_json()
    body = {key: value for key, value in current.items() if key != "meta"}
    body["emails"] = NEW_ADDRESS
    body[WSO2] = {**body.get(WSO2, {}), "verifyEmail": "true"}
    answer = client.put(f"{BETA}/{lee.id}", json=body, headers=beta_admin)
    assert answer.status_code == 200, answer.get_json()
    assert answer.get_json()[WSO2]["pendingEmails"] == [{"value": "lee@new.example"}]
    (message,) = mail.wait_for(1)
    assert message.rcpt_tos == ["lee@new.example"]


def test_verify_email_with_the_setting_off_changes_the_address_at_once(app, client, mail, kim, admin):
    operations = _patch_body(
        {"op": "replace", "path": "emails", "value": [{"value": "kim@new.example", "primary": True}]},
        {"op": "replace", "path": f"{WSO2}:verifyEmail", "value": True},
    )
    answer = client.patch(f"{USERS}/{kim.id}", json=operations, headers=admin)
    assert answer.status_code == 200, answer.get_json()
    body = answer.get_json()
    # WSO2 drops the claim when verification on update is off, and verifies nothing.
    assert body["emails"] == ["kim@new.example"] and _flags_in(body) == []
    assert "pendingEmails" not in body.get(WSO2, {})
    _idle_without_mail(app, mail)


def test_verify_email_without_a_new_address_mails_nothing(app, client, mail, beta_admin, lee):
    before = _get(client, beta_admin, lee.id, BETA)
    operation = {"op": "replace", "path": f"{WSO2}:verifyEmail", "value": True}
    answer = client.patch(f"{BETA}/{lee.id}", json=_patch_body(operation), headers=beta_admin)
    assert answer.status_code == 200, answer.get_json()
    assert answer.headers["ETag"] == before.headers["ETag"]
    _idle_without_mail(app, mail)


def test_a_users_own_change_with_verify_email_is_held_and_the_flag_not_stored(app, beta, client, mail, lee):
    token = make_token(app, beta, lee)
    operations = _patch_body(
        {"op": "replace", "path": "emails", "value": NEW_ADDRESS},
        {"op": "add", "path": f"{WSO2}:verifyEmail", "value": "true"},
    )
    answer = client.patch("/t/beta/scim2/Me", json=operations, headers=bearer(token, **{"Content-Type": SCIM_JSON}))
    assert answer.status_code == 200, answer.get_json()
    body = answer.get_json()
    assert body[WSO2]["pendingEmails"] == [{"value": "lee@new.example"}] and _flags_in(body) == []
    (message,) = mail.wait_for(1)
    assert message.rcpt_tos == ["lee@new.example"]

"""POST /api/users/v1/me/change-password (WSO2 PWD- codes), the password policy on the SCIM
paths, the tenant switch for /Me password updates, and revokeOtherSessions (security.md T-PW-4)."""

from __future__ import annotations

from datetime import UTC
from datetime import timedelta

import time_machine

from scim_me.storage.tenants import update_tenant
from tests.account.support import CHANGE
from tests.account.support import ME
from tests.account.support import PASSWORD
from tests.account.support import basic_auth
from tests.account.support import events
from tests.account.support import password_token
from tests.factories import assert_wso2_error
from tests.factories import bearer
from tests.factories import make_token
from tests.factories import patch_body

NEW = "a-brand-new-passphrase"


def change(client, token, current=PASSWORD, new=NEW, **extra):
    body = {"currentPassword": current, "newPassword": new, **extra}
    return client.post(CHANGE, json=body, headers=bearer(token))


def issued(client, spa, password=PASSWORD) -> str:
    response = password_token(client, spa, "kim", password)
    assert response.status_code == 200, response.json
    return str(response.json["access_token"])


def set_tenant(app, **changes):
    with app.app_context(), app.extensions["scim_me"].db.connection_context():
        update_tenant("acme", **changes)
    app.extensions["scim_me"]._tenants.clear()  # the per-worker tenant cache


def me_status(client, token) -> int:
    return int(client.get(ME, headers=bearer(token)).status_code)


def test_change_password_with_the_current_one(app, client, tenant, kim, spa):
    token = issued(client, spa)
    response = change(client, token)
    assert response.status_code == 204
    assert response.data == b""
    assert client.get(ME, headers=basic_auth("kim", PASSWORD)).status_code == 401
    assert client.get(ME, headers=basic_auth("kim", NEW)).status_code == 200
    assert events(app, tenant, kim, "password.changed") == 1


def test_wrong_current_password_is_pwd_10001_and_counts_as_a_failure(app, client, tenant, kim, spa):
    token = issued(client, spa)
    response = change(client, token, current="not-my-password")
    assert_wso2_error(response, 400, "PWD-10001")
    assert "not-my-password" not in response.get_data(as_text=True)
    assert NEW not in response.get_data(as_text=True)
    assert events(app, tenant, kim, "signin.failure") == 1
    for _ in range(4):
        change(client, token, current="not-my-password")
    locked = change(client, token)  # even the right current password, while locked
    assert locked.status_code == 429
    assert locked.json["code"] == "PWD-10004"
    assert int(locked.headers["Retry-After"]) > 0
    assert events(app, tenant, kim, "signin.failure") == 5


def test_policy_violation_is_pwd_10003_naming_the_rule(client, kim, spa):
    token = issued(client, spa)
    for new, rule in (("short", "minLength"), ("iloveyou", "commonPassword"), ("kim.berry-2026", "contextWords")):
        response = change(client, token, new=new)
        assert response.status_code == 400, new
        assert response.json["code"] == "PWD-10003"
        assert f"({rule})" in response.json["description"]
        assert new not in response.get_data(as_text=True)
    assert me_status(client, token) == 200


def test_bodies_get_wsos_codes(app, client, tenant, kim, spa):
    """WSO2 (identity-api-user password Constants; product-is PasswordUpdateValidationTest): a
    missing member or ``{}`` is bean validation's UE-10000, an empty body PWD-10000, the new
    password equal to the current one PWD-10002."""
    token = issued(client, spa)
    for body in ({}, {"currentPassword": PASSWORD}, {"newPassword": NEW}, {"currentPassword": 1, "newPassword": NEW},
                 {"currentPassword": None, "newPassword": NEW},
                 {"currentPassword": PASSWORD, "newPassword": NEW, "revokeOtherSessions": "yes"}):  # fmt: skip
        refused = assert_wso2_error(client.post(CHANGE, json=body, headers=bearer(token)), 400, "UE-10000")
        assert refused["message"] == "Invalid Request"
    missing = assert_wso2_error(client.post(CHANGE, json={"newPassword": NEW}, headers=bearer(token)), 400)
    assert "currentPassword" in missing["description"]
    for raw, content_type in ((b"", "application/json"), (b"[]", "application/json"), (b"null", "application/json"),
                              (b"currentPassword=x", "application/x-www-form-urlencoded")):  # fmt: skip
        empty = client.post(CHANGE, data=raw, headers=bearer(token, **{"Content-Type": content_type}))
        body = assert_wso2_error(empty, 400, "PWD-10000")
        assert body["message"] == "Invalid request"
    same = assert_wso2_error(change(client, token, new=PASSWORD), 400, "PWD-10002")
    assert same["message"] == "Cannot reuse current password"
    assert same["description"] == "The new password must be different from the current password."
    # Checked before the current password is: a wrong one that equals the new one is PWD-10002
    # too, and no password hash ran (no failed sign-in is counted).
    assert_wso2_error(change(client, token, current="not-mine", new="not-mine"), 400, "PWD-10002")
    assert events(app, tenant, kim, "signin.failure") == 0
    assert me_status(client, token) == 200


def test_basic_auth_and_missing_scope_are_refused(app, client, tenant, kim):
    basic = client.post(
        CHANGE, json={"currentPassword": PASSWORD, "newPassword": NEW}, headers=basic_auth("kim", PASSWORD)
    )
    body = assert_wso2_error(basic, 401)
    assert "not supported with basic authentication; use an OAuth2 bearer token" in body["description"]
    assert basic.headers["WWW-Authenticate"].startswith("Bearer")
    assert events(app, tenant, kim, "signin.failure", "signin.success") == 0  # no password was checked
    no_scope = make_token(app, tenant, kim, scope="openid")
    assert change(client, no_scope).status_code == 403
    login_only = make_token(app, tenant, kim, scope="openid internal_login")
    set_tenant(app, change_password_scope="internal_user_password_update")
    assert change(client, login_only).status_code == 403
    dedicated = make_token(app, tenant, kim, scope="internal_user_password_update")
    assert change(client, dedicated).status_code == 204


def test_revoke_other_sessions_keeps_the_callers_token(client, kim, spa):
    caller, other, third = issued(client, spa), issued(client, spa), issued(client, spa)
    assert change(client, caller).status_code == 204  # revokeOtherSessions defaults to true
    assert me_status(client, caller) == 200
    assert me_status(client, other) == 401
    assert me_status(client, third) == 401


def test_revoke_other_sessions_false_keeps_every_session(client, kim, spa):
    caller, other = issued(client, spa), issued(client, spa)
    assert change(client, caller, revokeOtherSessions=False).status_code == 204
    assert me_status(client, caller) == 200
    assert me_status(client, other) == 200


def test_refresh_tokens_of_other_grants_stop_working(client, kim, spa):
    other = password_token(client, spa).json
    caller = issued(client, spa)
    assert change(client, caller).status_code == 204
    refreshed = client.post(
        "/t/acme/oauth2/token",
        data={"grant_type": "refresh_token", "refresh_token": other["refresh_token"], "client_id": spa.client_id},
    )
    assert refreshed.status_code == 400


def test_history_and_minimum_age(app, client, tenant, kim, spa):
    set_tenant(app, password_history_count=3, password_min_age_hours=1)
    start = kim.password_changed_at.replace(tzinfo=UTC) + timedelta(minutes=30)  # kim was made moments ago
    with time_machine.travel(start, tick=False) as clock:
        too_soon = change(client, make_token(app, tenant, kim), new="second-passphrase-2")
        assert too_soon.status_code == 400 and "(minAge)" in too_soon.json["description"]
        clock.shift(timedelta(hours=1))
        reuse = change(client, make_token(app, tenant, kim), new=PASSWORD)  # WSO2 checks this first
        assert reuse.status_code == 400 and reuse.json["code"] == "PWD-10002"
        assert change(client, make_token(app, tenant, kim), new="second-passphrase-2").status_code == 204
        too_soon = change(client, make_token(app, tenant, kim), current="second-passphrase-2", new="third-passphrase-3")
        assert too_soon.status_code == 400 and "(minAge)" in too_soon.json["description"]
        clock.shift(timedelta(hours=1))
        assert (
            change(
                client, make_token(app, tenant, kim), current="second-passphrase-2", new="third-passphrase-3"
            ).status_code
            == 204
        )
        clock.shift(timedelta(hours=1))
        # the current and the two before it are remembered (history 3)
        for old in (PASSWORD, "second-passphrase-2"):
            refused = change(client, make_token(app, tenant, kim), current="third-passphrase-3", new=old)
            assert refused.status_code == 400 and "(history)" in refused.json["description"], old
        assert (
            change(
                client, make_token(app, tenant, kim), current="third-passphrase-3", new="fourth-passphrase-4"
            ).status_code
            == 204
        )
        clock.shift(timedelta(hours=1))
        # four changes later the first one may come back
        assert (
            change(client, make_token(app, tenant, kim), current="fourth-passphrase-4", new=PASSWORD).status_code == 204
        )


def test_max_age_reports_password_expiry_time(app, client, tenant, kim):
    set_tenant(app, password_max_age_days=90)
    token = make_token(app, tenant, kim)
    plain = client.get(ME, headers=bearer(token)).json
    assert "passwordExpiryTime" not in plain.get("urn:scim:wso2:schema", {})  # returned=request
    asked = client.get(ME + "?attributes=urn:scim:wso2:schema:passwordExpiryTime", headers=bearer(token))
    expiry = int(asked.json["urn:scim:wso2:schema"]["passwordExpiryTime"])
    changed = int(kim.password_changed_at.replace(tzinfo=UTC).timestamp() * 1000)
    assert expiry == changed + 90 * 86400 * 1000


def test_scim_patch_applies_the_policy_and_the_tenant_switch(app, client, tenant, kim):
    token = make_token(app, tenant, kim)
    headers = bearer(token, **{"Content-Type": "application/scim+json"})
    weak = client.patch(
        ME, json=patch_body({"op": "replace", "path": "password", "value": "qwertyuiop"}), headers=headers
    )
    assert weak.status_code == 400
    assert weak.json["scimType"] == "invalidValue"
    assert "(commonPassword)" in weak.json["detail"]
    assert "qwertyuiop" not in weak.get_data(as_text=True)
    set_tenant(app, password_update_in_me=False)
    off = client.patch(ME, json=patch_body({"op": "replace", "path": "password", "value": NEW}), headers=headers)
    assert off.status_code == 400
    assert off.json["scimType"] == "invalid request"
    assert off.json["detail"] == "Password update is not allowed for scim2/Me endpoint"
    # the change-password API is not governed by that switch
    assert change(client, token).status_code == 204


def test_scim_patch_password_ends_the_other_sessions(app, client, tenant, kim, spa):
    caller, other = issued(client, spa), issued(client, spa)
    headers = bearer(caller, **{"Content-Type": "application/scim+json"})
    response = client.patch(ME, json=patch_body({"op": "replace", "path": "password", "value": NEW}), headers=headers)
    assert response.status_code == 200
    assert me_status(client, caller) == 200
    assert me_status(client, other) == 401
    assert events(app, tenant, kim, "password.changed") == 1


def test_registration_applies_the_policy(app, client, tenant):
    set_tenant(app, self_registration="open")
    body = {"userName": "newbie", "password": "newbie-2026", "emails": [{"value": "nb@example.com"}]}
    response = client.post(ME, json=body, headers={"Content-Type": "application/scim+json"})
    assert response.status_code == 400
    assert "(contextWords)" in response.json["detail"]
    body["password"] = "a-good-long-passphrase"
    assert client.post(ME, json=body, headers={"Content-Type": "application/scim+json"}).status_code == 201

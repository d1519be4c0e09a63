"""WSO2's password recovery API v2 (init → recover → confirm → reset) through a real SMTP server:
shapes and status codes as WSO2's definition, the rules on codes (single use, short-lived, bound
to their flow, the latest only), the send limit, and what a reset does to the account."""

from __future__ import annotations

from datetime import timedelta

from scim_me.storage.events import count_events
from scim_me.storage.models import RecoveryFlow
from scim_me.storage.users import now
from tests.factories import assert_wso2_error
from tests.factories import bearer
from tests.factories import make_tenant
from tests.factories import make_token
from tests.factories import make_user
from tests.recovery.support import BASE
from tests.recovery.support import EMAIL_CLAIM
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


def test_init_answers_the_channels_and_codes(client, kim):
    response = init(client)
    assert response.status_code == 200
    (entry,) = response.get_json()
    assert entry["mode"] == "recoverWithNotifications"
    assert len(entry["flowConfirmationCode"]) == 32
    info = entry["channelInfo"]
    assert len(info["recoveryCode"]) == 32
    assert info["channels"] == [{"id": "1", "type": "EMAIL", "value": "********", "preferred": True}]
    assert entry["links"] == [{"rel": "next", "href": "/t/acme/api/users/v2/recovery/password/recover", "type": "POST"}]


def test_init_by_address_masks_the_address_given(client, kim):
    response = init(client, "kim.berry@example.com", EMAIL_CLAIM)
    assert response.get_json()[0]["channelInfo"]["channels"][0]["value"] == "ki" + "*" * 15 + ".com"


def test_full_flow_sets_the_password_and_ends_every_session(app, client, tenant, kim, spa, mail):
    before = password_token(client, spa, PASSWORD)
    assert before.status_code == 200
    old_token = before.get_json()["access_token"]
    old_refresh = before.get_json()["refresh_token"]

    sent = start_and_send(client)
    assert sent["code"] == "PWR-02001" and sent["notificationChannel"] == "EMAIL"
    assert [link["rel"] for link in sent["links"]] == ["next", "resend"]
    (message,) = mail.wait_for(1)
    assert message.rcpt_tos == ["kim.berry@example.com"]
    assert message.subject == "Your password recovery code"
    otp = code_from(message)
    assert len(otp) == 8

    confirmed = confirm(client, sent["flowConfirmationCode"], otp)
    assert confirmed.status_code == 200, confirmed.get_data(as_text=True)
    reset_code = confirmed.get_json()["resetCode"]
    assert confirmed.get_json()["links"][0]["href"] == "/t/acme/api/users/v2/recovery/password/reset"

    done = reset(client, reset_code, flow_code=sent["flowConfirmationCode"])
    assert done.status_code == 200
    assert done.get_json() == {"code": "PWR-02005", "message": "Successful password reset."}

    assert password_token(client, spa, PASSWORD).status_code == 400
    assert password_token(client, spa, NEW_PASSWORD).status_code == 200
    # Every earlier token and refresh token is dead (revocation is in the database).
    assert client.get(ME, headers=bearer(old_token)).status_code == 401
    refreshed = client.post(
        "/t/acme/oauth2/token",
        data={"grant_type": "refresh_token", "refresh_token": old_refresh, "client_id": spa.client_id},
    )
    assert refreshed.status_code == 400
    with app.extensions["scim_me"].db.connection_context():
        assert count_events(tenant.id, kim.id, kinds=frozenset({"password.reset"})) == 1
    notice = mail.wait_for(2)[1]
    assert notice.subject == "Your password was reset"
    assert otp not in notice.text


def test_codes_are_single_use(client, kim, mail):
    sent = start_and_send(client)
    otp = code_from(mail.wait_for(1)[0])
    reset_code = confirm(client, sent["flowConfirmationCode"], otp).get_json()["resetCode"]
    assert_wso2_error(confirm(client, sent["flowConfirmationCode"], otp), 406, "UAR-10015")
    assert reset(client, reset_code).status_code == 200
    assert_wso2_error(reset(client, reset_code, "another-fine-horse-7"), 406, "UAR-10001")


def test_recovery_code_works_once(client, kim, mail):
    started = init(client).get_json()[0]
    code = started["channelInfo"]["recoveryCode"]
    assert recover(client, code).status_code == 202
    assert_wso2_error(recover(client, code), 406, "UAR-10001")


def test_expired_code_is_refused(app, client, kim, mail):
    sent = start_and_send(client)
    otp = code_from(mail.wait_for(1)[0])
    with app.extensions["scim_me"].db.connection_context():
        RecoveryFlow.update(expires_at=now() - timedelta(seconds=1)).execute()
    assert_wso2_error(confirm(client, sent["flowConfirmationCode"], otp), 406, "UAR-10016")


def test_resent_code_supersedes_the_first(client, kim, mail):
    sent = start_and_send(client)
    first = code_from(mail.wait_for(1)[0])
    again = client.post(f"{BASE}/password/resend", json={"resendCode": sent["resendCode"]})
    assert again.status_code == 202
    assert again.get_json()["code"] == "UAR-02001"
    second = code_from(mail.wait_for(2)[1])
    fresh = again.get_json()["flowConfirmationCode"]
    if first != second:
        assert_wso2_error(confirm(client, fresh, first), 406, "UAR-10001")
    # The old flowConfirmationCode and resendCode died with the resend.
    assert_wso2_error(confirm(client, sent["flowConfirmationCode"], second), 406, "UAR-10015")
    assert confirm(client, fresh, second).status_code == 200


def test_a_newer_flow_supersedes_an_older_one(client, kim, mail):
    older = start_and_send(client)
    older_code = code_from(mail.wait_for(1)[0])
    newer = start_and_send(client)
    code_from(mail.wait_for(2)[1])
    assert_wso2_error(confirm(client, older["flowConfirmationCode"], older_code), 406, "UAR-10015")
    assert newer["flowConfirmationCode"] != older["flowConfirmationCode"]


def test_code_of_another_flow_is_refused(app, client, tenant, kim, mail):
    make_user(
        app,
        tenant,
        "lee",
        PASSWORD,
        emails=[{"value": "lee@example.com", "primary": True}],
        **{"urn:scim:wso2:schema": {"emailVerified": True}},
    )
    kims = start_and_send(client)
    kim_code = code_from(mail.wait_for(1)[0])
    lees = start_and_send(client, "lee")
    lee_code = code_from(mail.wait_for(2)[1])
    # Kim's code with Lee's flow (and the reverse) is a wrong code, however the digits fall.
    if kim_code != lee_code:
        assert_wso2_error(confirm(client, lees["flowConfirmationCode"], kim_code), 406, "UAR-10001")
    reset_code = confirm(client, kims["flowConfirmationCode"], kim_code).get_json()["resetCode"]
    # A resetCode only goes with its own flowConfirmationCode.
    assert_wso2_error(reset(client, reset_code, flow_code=lees["flowConfirmationCode"]), 406, "UAR-10015")


def test_wrong_codes_kill_the_flow(client, kim, mail):
    sent = start_and_send(client)
    otp = code_from(mail.wait_for(1)[0])
    wrong = "0" * 8 if otp != "0" * 8 else "1" * 8
    for _ in range(5):
        assert_wso2_error(confirm(client, sent["flowConfirmationCode"], wrong), 406, "UAR-10001")
    assert_wso2_error(confirm(client, sent["flowConfirmationCode"], otp), 406, "UAR-10015")


def test_sixth_send_in_the_window_is_429(client, kim, mail):
    for _ in range(5):
        start_and_send(client)
    started = init(client).get_json()[0]
    refused = recover(client, started["channelInfo"]["recoveryCode"])
    body = assert_wso2_error(refused, 429, "UAR-60001")
    assert int(refused.headers["Retry-After"]) > 0
    assert "traceId" in body
    mail.wait_for(5)


def test_send_limit_per_ip_across_accounts(app, client, kim, mail):
    for i in range(20):
        started = init(client, f"nobody-{i}").get_json()[0]
        assert recover(client, started["channelInfo"]["recoveryCode"]).status_code == 202
    started = init(client, "nobody-else").get_json()[0]
    assert_wso2_error(recover(client, started["channelInfo"]["recoveryCode"]), 429, "UAR-60001")
    # Another client address is not held back.
    other = init(client, "nobody-else", environ_base={"REMOTE_ADDR": "10.9.8.7"}).get_json()[0]
    assert (
        recover(client, other["channelInfo"]["recoveryCode"], environ_base={"REMOTE_ADDR": "10.9.8.7"}).status_code
        == 202
    )


def test_policy_violation_keeps_the_reset_code(client, kim, mail):
    sent = start_and_send(client)
    reset_code = confirm(client, sent["flowConfirmationCode"], code_from(mail.wait_for(1)[0])).get_json()["resetCode"]
    refused = reset(client, reset_code, "short")
    assert refused.status_code == 412
    body = refused.get_json()
    assert set(body) == {"code", "message", "description", "traceId", "resetCode", "links"}
    assert body["code"] == "PWR-10006" and body["message"] == "Retry"
    assert body["resetCode"] == reset_code
    assert body["links"] == [{"rel": "next", "href": "/t/acme/api/users/v2/recovery/password/reset", "type": "POST"}]
    assert reset(client, reset_code).status_code == 200


def test_history_rule_applies(app, client, mail):
    tenant = make_tenant(app, "hist", recovery_api_auth="anonymous", password_history_count=3)
    make_user(
        app,
        tenant,
        "kim",
        PASSWORD,
        emails=[{"value": "kim@example.com", "primary": True}],
        **{"urn:scim:wso2:schema": {"emailVerified": True}},
    )
    base = "/t/hist/api/users/v2/recovery/password"
    started = client.post(f"{base}/init", json={"claims": [{"uri": "http://wso2.org/claims/username", "value": "kim"}]})
    code = started.get_json()[0]["channelInfo"]["recoveryCode"]
    sent = client.post(f"{base}/recover", json={"recoveryCode": code, "channelId": "1"}).get_json()
    otp = code_from(mail.wait_for(1)[0])
    confirmed = client.post(f"{base}/confirm", json={"confirmationCode": sent["flowConfirmationCode"], "otp": otp})
    refused = client.post(f"{base}/reset", json={"resetCode": confirmed.get_json()["resetCode"], "password": PASSWORD})
    assert refused.status_code == 412 and refused.get_json()["code"] == "PWR-10005"


def test_bad_bodies_are_400(client, kim):
    assert_wso2_error(client.post(f"{BASE}/password/init", json={}), 400, "UAR-10001")
    unsupported = client.post(
        f"{BASE}/password/init", json={"claims": [{"uri": "http://wso2.org/claims/givenname", "value": "K"}]}
    )
    assert_wso2_error(unsupported, 400, "UAR-10001")
    assert_wso2_error(client.post(f"{BASE}/password/recover", json={"recoveryCode": "x"}), 400, "PWR-10001")
    assert_wso2_error(client.post(f"{BASE}/password/confirm", json={"confirmationCode": 5}), 400, "PWR-10001")
    assert_wso2_error(client.post(f"{BASE}/password/reset", data="nope"), 415, "PWR-10001")
    assert_wso2_error(client.post(f"{BASE}/password/resend", json=[]), 400, "UAR-10001")


def test_unknown_channel_is_refused(client, kim):
    code = init(client).get_json()[0]["channelInfo"]["recoveryCode"]
    refused = client.post(f"{BASE}/password/recover", json={"recoveryCode": code, "channelId": "2"})
    assert_wso2_error(refused, 400, "UAR-10004")


def test_client_authentication_is_the_tenant_default(app, client):
    tenant = make_tenant(app, "closed")
    kim = make_user(app, tenant, "kim", PASSWORD)
    body = {"claims": [{"uri": "http://wso2.org/claims/username", "value": "kim"}]}
    assert_wso2_error(client.post("/t/closed/api/users/v2/recovery/password/init", json=body), 401, "UAR-60401")
    user_token = make_token(app, tenant, kim, scope="openid internal_login")
    assert (
        client.post("/t/closed/api/users/v2/recovery/password/init", json=body, headers=bearer(user_token)).status_code
        == 403
    )
    app_token = make_token(app, tenant, None, scope="internal_user_recovery_create")
    allowed = client.post("/t/closed/api/users/v2/recovery/password/init", json=body, headers=bearer(app_token))
    assert allowed.status_code == 200


def test_disabled_password_recovery_is_403(app, client):
    make_tenant(app, "norecovery", recovery_api_auth="anonymous", password_recovery=False)
    body = {"claims": [{"uri": "http://wso2.org/claims/username", "value": "kim"}]}
    refused = client.post("/t/norecovery/api/users/v2/recovery/password/init", json=body)
    assert_wso2_error(refused, 403, "PWR-10004")


def test_bare_paths_serve_the_default_tenant(app, client):
    make_tenant(app, "carbon.super", recovery_api_auth="anonymous")
    body = {"claims": [{"uri": "http://wso2.org/claims/username", "value": "nobody"}]}
    response = client.post("/api/users/v2/recovery/password/init", json=body)
    assert response.status_code == 200
    assert response.get_json()[0]["links"][0]["href"] == "/t/carbon.super/api/users/v2/recovery/password/recover"

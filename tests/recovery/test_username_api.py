"""WSO2's username recovery API v2: the username goes to the account's verified address and is
never in an answer; an unknown address answers the same and gets nothing."""

from __future__ import annotations

from tests.factories import assert_wso2_error
from tests.factories import make_tenant
from tests.recovery.support import BASE
from tests.recovery.support import EMAIL_CLAIM


def _init(client, address):
    return client.post(f"{BASE}/username/init", json={"claims": [{"uri": EMAIL_CLAIM, "value": address}]})


def test_username_is_mailed_never_answered(client, kim, mail):
    started = _init(client, "Kim.Berry@example.com")
    assert started.status_code == 200
    (entry,) = started.get_json()
    assert "flowConfirmationCode" not in entry
    assert entry["links"][0]["href"] == "/t/acme/api/users/v2/recovery/username/recover"
    code = entry["channelInfo"]["recoveryCode"]
    sent = client.post(f"{BASE}/username/recover", json={"recoveryCode": code, "channelId": "1"})
    assert sent.status_code == 202
    assert sent.get_json() == {
        "code": "UNR-02001",
        "message": "Username recovery information sent via user preferred notification channel.",
        "notificationChannel": "EMAIL",
    }
    assert b"kim" not in sent.get_data().lower().replace(b"kim.berry", b"")
    (message,) = mail.wait_for(1)
    assert message.rcpt_tos == ["kim.berry@example.com"]
    assert "Username: kim" in message.text
    # The code works once.
    again = client.post(f"{BASE}/username/recover", json={"recoveryCode": code, "channelId": "1"})
    assert_wso2_error(again, 406, "UAR-10001")


def test_unknown_address_answers_alike(client, kim, mail):
    code = _init(client, "nobody@example.com").get_json()[0]["channelInfo"]["recoveryCode"]
    sent = client.post(f"{BASE}/username/recover", json={"recoveryCode": code, "channelId": "1"})
    assert sent.status_code == 202
    assert mail.messages == []


def test_username_needs_the_address_claim(client, kim):
    body = {"claims": [{"uri": "http://wso2.org/claims/username", "value": "kim"}]}
    assert_wso2_error(client.post(f"{BASE}/username/init", json=body), 400, "UAR-10001")


def test_password_codes_do_not_recover_usernames(client, kim):
    init = client.post(
        f"{BASE}/password/init", json={"claims": [{"uri": EMAIL_CLAIM, "value": "kim.berry@example.com"}]}
    )
    code = init.get_json()[0]["channelInfo"]["recoveryCode"]
    refused = client.post(f"{BASE}/username/recover", json={"recoveryCode": code, "channelId": "1"})
    assert_wso2_error(refused, 406, "UAR-10001")


def test_disabled_username_recovery_is_403(app, client):
    make_tenant(app, "nouser", recovery_api_auth="anonymous", username_recovery=False)
    body = {"claims": [{"uri": EMAIL_CLAIM, "value": "kim@example.com"}]}
    assert_wso2_error(client.post("/t/nouser/api/users/v2/recovery/username/init", json=body), 403, "UNR-10001")

"""``/api/users/v1/me/alerts`` (issue 15, acceptance 4): each alert kind is raised once per
occurrence by the real paths that cause it, acknowledged alerts stay in the history (listed after
the unacknowledged ones), another user's alert id is 404, and the security overview counts the
unacknowledged ones."""

from __future__ import annotations

from datetime import datetime
from datetime import timedelta
from typing import Any

import pytest

from scim_me.services import alerts as rules
from scim_me.storage.events import record_event
from tests.factories import assert_wso2_error
from tests.factories import basic
from tests.factories import bearer
from tests.factories import make_tenant
from tests.factories import make_token
from tests.factories import make_user

PASSWORD = "correct-horse-9"
ALERTS = "/t/acme/api/users/v1/me/alerts"
ME_API = "/t/acme/api/users/v1/me"


@pytest.fixture
def tenant(app: Any) -> Any:
    return make_tenant(app, "acme")


@pytest.fixture
def kim(app: Any, tenant: Any) -> Any:
    return make_user(app, tenant, "kim", PASSWORD, emails=[{"value": "kim@example.com"}])


@pytest.fixture
def auth(app: Any, tenant: Any, kim: Any) -> dict[str, str]:
    return bearer(make_token(app, tenant, kim))


def _record(app: Any, tenant: Any, user: Any, kind: str, **kwargs: Any) -> None:
    with app.app_context(), app.extensions["scim_me"].db.connection_context():
        record_event(tenant.id, user.id, kind, **kwargs)


def _alerts(client: Any, auth: dict[str, str], **params: Any) -> dict[str, Any]:
    response = client.get(ALERTS, headers=auth, query_string=params)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.headers["Cache-Control"] == "no-store"
    body: dict[str, Any] = response.get_json()
    return body


def _types(client: Any, auth: dict[str, str]) -> list[str]:
    return [alert["type"] for alert in _alerts(client, auth, limit=100)["alerts"]]


def _change_password(client: Any, auth: dict[str, str], current: str, new: str) -> None:
    response = client.post(
        f"{ME_API}/change-password", json={"currentPassword": current, "newPassword": new}, headers=auth
    )
    assert response.status_code in (200, 204), response.get_data(as_text=True)


def test_a_password_change_raises_one_alert_that_acknowledging_keeps(app, client, auth) -> None:
    assert _alerts(client, auth) == {
        "totalResults": 0,
        "unacknowledged": 0,
        "count": 0,
        "startIndex": 1,
        "alerts": [],
        "links": [],
    }
    _change_password(client, auth, PASSWORD, "another-horse-77")
    body = _alerts(client, auth)
    assert body["totalResults"] == 1 and body["unacknowledged"] == 1
    (alert,) = body["alerts"]
    assert alert["type"] == "password_changed"
    assert alert["title"] == "Your password was changed"
    assert alert["acknowledged"] is False and alert["acknowledgedTime"] is None
    assert alert["time"].endswith("Z") and alert["timestamp"].isdigit()
    assert alert["details"]["event"] == "password.changed"

    acknowledged = client.post(f"{ALERTS}/{alert['id']}/acknowledge", headers=auth)
    assert acknowledged.status_code == 200, acknowledged.get_data(as_text=True)
    assert acknowledged.json["id"] == alert["id"] and acknowledged.json["acknowledged"] is True
    first_time = acknowledged.json["acknowledgedTime"]
    assert first_time.endswith("Z")
    again = client.post(f"{ALERTS}/{alert['id']}/acknowledge", headers=auth)
    assert again.status_code == 200 and again.json["acknowledgedTime"] == first_time

    history = _alerts(client, auth)
    assert history["totalResults"] == 1 and history["unacknowledged"] == 0
    assert history["alerts"][0]["acknowledged"] is True


def test_unacknowledged_first_then_newest_first_and_paging(app, client, tenant, kim, auth) -> None:
    t0 = datetime(2026, 11, 1, 12, 0, 0)
    for minute, kind in enumerate(["password.changed", "mfa.totp.disabled", "account.locked", "mfa.locked"]):
        _record(app, tenant, kim, kind, at=t0 + timedelta(minutes=minute))
    listed = _alerts(client, auth)["alerts"]
    assert [a["type"] for a in listed] == ["account_locked", "account_locked", "mfa_disabled", "password_changed"]
    newest = listed[0]["id"]
    assert client.post(f"{ALERTS}/{newest}/acknowledge", headers=auth).status_code == 200
    after = _alerts(client, auth)
    assert after["unacknowledged"] == 3
    assert [a["id"] for a in after["alerts"]][-1] == newest  # acknowledged: after every unacknowledged one

    page = _alerts(client, auth, limit=2, offset=1)
    assert page["count"] == 2 and page["startIndex"] == 2 and page["totalResults"] == 4
    assert [a["id"] for a in page["alerts"]] == [a["id"] for a in after["alerts"][1:3]]
    assert {link["rel"] for link in page["links"]} == {"previous", "next"}
    for bad in ({"limit": "0"}, {"limit": "101"}, {"limit": "x"}, {"offset": "-1"}):
        assert_wso2_error(client.get(ALERTS, headers=auth, query_string=bad), 400, "ALR-60001")


def test_another_users_alert_is_404_and_untouched(app, client, tenant, kim, auth) -> None:
    lee = make_user(app, tenant, "lee", PASSWORD)
    lee_auth = bearer(make_token(app, tenant, lee))
    _record(app, tenant, lee, "password.changed")
    (lees,) = _alerts(client, lee_auth)["alerts"]
    assert _alerts(client, auth)["alerts"] == []
    body = assert_wso2_error(client.post(f"{ALERTS}/{lees['id']}/acknowledge", headers=auth), 404, "ALR-60404")
    assert lees["id"] in body["description"]
    assert_wso2_error(client.post(f"{ALERTS}/no-such-alert/acknowledge", headers=auth), 404, "ALR-60404")
    assert _alerts(client, lee_auth)["alerts"][0]["acknowledged"] is False
    # Another tenant's user with the same name sees nothing of acme's.
    other = make_tenant(app, "other")
    kim_other = make_user(app, other, "kim", PASSWORD)
    other_auth = bearer(make_token(app, other, kim_other))
    listed = client.get("/t/other/api/users/v1/me/alerts", headers=other_auth)
    assert listed.status_code == 200 and listed.json["alerts"] == []
    other_ack = client.post(f"/t/other/api/users/v1/me/alerts/{lees['id']}/acknowledge", headers=other_auth)
    assert_wso2_error(other_ack, 404, "ALR-60404")


def test_failed_sign_ins_raise_one_alert_per_burst_and_a_lockout_its_own(app, client, kim, auth) -> None:
    for _ in range(3):
        assert client.get("/t/acme/scim2/Me", headers=basic("kim", "wrong-password")).status_code == 401
    assert _types(client, auth) == ["failed_signins"]
    (alert,) = _alerts(client, auth)["alerts"]
    assert alert["details"]["failures"] == 3 and alert["details"]["channel"] == "basic"
    client.get("/t/acme/scim2/Me", headers=basic("kim", "wrong-password"))  # the 4th: same burst
    assert _types(client, auth) == ["failed_signins"]
    client.get("/t/acme/scim2/Me", headers=basic("kim", "wrong-password"))  # the 5th locks the account
    assert sorted(_types(client, auth)) == ["account_locked", "failed_signins"]


def test_a_success_starts_a_new_count(app, client, kim, auth) -> None:
    for _ in range(2):
        client.get("/t/acme/scim2/Me", headers=basic("kim", "wrong-password"))
    assert client.get("/t/acme/scim2/Me", headers=basic("kim", PASSWORD)).status_code == 200
    client.get("/t/acme/scim2/Me", headers=basic("kim", "wrong-password"))
    assert _types(client, auth) == []  # 2 + 1 across a success is not three in a row
    for _ in range(2):
        client.get("/t/acme/scim2/Me", headers=basic("kim", "wrong-password"))
    assert _types(client, auth) == ["failed_signins"]


def test_mfa_disabled_through_the_api_raises_its_alert(app, client, auth) -> None:
    import base64
    import time
    from urllib.parse import parse_qs
    from urllib.parse import urlsplit

    from scim_me.core import otp

    init = client.post(f"{ME_API}/totp", json={"action": "INIT"}, headers=auth).json
    secret = parse_qs(urlsplit(base64.b64decode(init["qrCodeUrl"]).decode()).query)["secret"][0]
    code = int(otp.code_at(secret, time.time(), otp.TotpPolicy()))
    assert client.post(f"{ME_API}/totp", json={"action": "VALIDATE", "verificationCode": code}, headers=auth).json
    assert _types(client, auth) == []
    assert client.delete(f"{ME_API}/totp", headers=auth).status_code in (200, 204)
    assert _types(client, auth) == ["mfa_disabled"]


def test_each_occurrence_once(app, tenant, kim) -> None:
    with app.app_context(), app.extensions["scim_me"].db.connection_context():
        first = rules.raise_alert(tenant.id, kim.id, "passkey_removed", "passkey:abc")
        assert first is not None
        assert rules.raise_alert(tenant.id, kim.id, "passkey_removed", "passkey:abc") is None
        assert rules.raise_alert(tenant.id, kim.id, "passkey_removed", "passkey:def") is not None
        with pytest.raises(ValueError):
            rules.raise_alert(tenant.id, kim.id, "no_such_type", "x")
        assert rules.unacknowledged(tenant.id, kim.id) == 2


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("mfa.passkey.removed", "passkey_removed"),
        ("passkey.deleted", "passkey_removed"),
        ("mfa.webauthn.removed", "passkey_removed"),
        ("mfa.passkey.registered", None),
        ("password.reset", "password_changed"),
        ("signin.success", None),
    ],
)
def test_a_passkey_removal_is_recognised_by_its_kind(kind: str, expected: str | None) -> None:
    assert rules.alert_type_for(kind) == expected


def test_the_overview_counts_unacknowledged_alerts(app, client, tenant, kim, auth) -> None:
    _record(app, tenant, kim, "password.changed")
    _record(app, tenant, kim, "mfa.totp.disabled")
    overview = client.get("/t/acme/api/users/v1/me/security", headers=auth).json
    assert overview["alerts"]["unacknowledged"] == 2
    first = _alerts(client, auth)["alerts"][0]["id"]
    client.post(f"{ALERTS}/{first}/acknowledge", headers=auth)
    assert client.get("/t/acme/api/users/v1/me/security", headers=auth).json["alerts"]["unacknowledged"] == 1


@pytest.mark.parametrize(("method", "path"), [("GET", ALERTS), ("POST", f"{ALERTS}/x/acknowledge")])
def test_auth_and_scope(app, client, tenant, kim, method: str, path: str) -> None:
    assert_wso2_error(client.open(path, method=method), 401)
    narrow = make_token(app, tenant, kim, scope="openid profile")
    assert_wso2_error(client.open(path, method=method, headers=bearer(narrow)), 403, "ALR-60403")
    machine = make_token(app, tenant, None, scope="internal_login")
    assert_wso2_error(client.open(path, method=method, headers=bearer(machine)), 403, "ALR-60403")

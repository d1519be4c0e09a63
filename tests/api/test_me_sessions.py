"""``/api/users/v1/me/sessions`` on both backends: WSO2's shape, ending all but the current
session (or all), ending one, and the tokens of an ended session stop working."""

from __future__ import annotations

import time

import pytest

from scim_me.storage.events import list_events
from tests.factories import assert_wso2_error
from tests.factories import bearer
from tests.factories import make_tenant
from tests.factories import make_token
from tests.factories import make_user
from tests.support.privacy import PASSWORD
from tests.support.privacy import make_spa
from tests.support.privacy import sign_in

SESSIONS = "/t/acme/api/users/v1/me/sessions"
ME = "/t/acme/scim2/Me"


@pytest.fixture
def kim(app, tenant):
    return make_user(app, tenant, "kim", PASSWORD)


@pytest.fixture
def lee(app, tenant):
    return make_user(app, tenant, "lee", PASSWORD)


@pytest.fixture
def spa(app, tenant):
    return make_spa(app, tenant, "Portal")


def test_lists_sessions_in_wso2_shape(app, tenant, client, kim, spa):
    before = int(time.time() * 1000)
    laptop = sign_in(app, tenant, spa, "kim", user_agent="Laptop/1.0")
    phone = sign_in(app, tenant, spa, "kim", user_agent="Phone/2.0")
    body = client.get(SESSIONS, headers=laptop.headers).json
    assert body["userId"] == kim.id
    sessions = {s["userAgent"]: s for s in body["sessions"]}
    assert set(sessions) == {"Laptop/1.0", "Phone/2.0"}
    one = sessions["Laptop/1.0"]
    assert set(one) == {"id", "applications", "userAgent", "ip", "loginTime", "lastAccessTime"}
    assert one["ip"] == "127.0.0.1"
    assert isinstance(one["loginTime"], str) and isinstance(one["lastAccessTime"], str)
    assert before - 1000 <= int(one["loginTime"]) <= int(one["lastAccessTime"]) <= int(time.time() * 1000)
    assert one["applications"] == [{"id": spa.client_id, "subject": "kim", "appName": "Portal", "appId": str(spa.id)}]
    assert phone.access_token != laptop.access_token


def test_no_sessions_is_an_empty_object(app, tenant, client, kim):
    response = client.get(SESSIONS, headers=bearer(make_token(app, tenant, kim)))
    assert response.status_code == 200 and response.json == {}


@pytest.mark.parametrize("param, code", [("limit=5", "USM-10003"), ("offset=1", "USM-10003"),
                                         ("filter=x", "USM-10004"), ("sort=asc", "USM-10005")])  # fmt: skip
def test_paging_filter_and_sort_are_501_as_in_wso2(app, tenant, client, kim, param, code):
    assert_wso2_error(client.get(f"{SESSIONS}?{param}", headers=bearer(make_token(app, tenant, kim))), 501, code)


def test_using_the_session_updates_last_access(app, tenant, client, kim, spa, time_machine_fixture):
    signed = sign_in(app, tenant, spa, "kim")
    first = client.get(SESSIONS, headers=signed.headers).json["sessions"][0]
    time_machine_fixture.shift(90)
    sign_in(app, tenant, spa, "kim", browser=signed.browser)  # the browser's session signs in again (SSO)
    token = make_token(app, tenant, kim)
    again = client.get(SESSIONS, headers=bearer(token)).json["sessions"][0]
    assert again["id"] == first["id"] and again["loginTime"] == first["loginTime"]
    assert int(again["lastAccessTime"]) >= int(first["lastAccessTime"]) + 90_000


@pytest.fixture
def time_machine_fixture():
    import time_machine

    with time_machine.travel(time.time(), tick=True) as traveller:
        yield traveller


def test_ending_one_session_kills_its_tokens(app, tenant, client, kim, spa):
    laptop = sign_in(app, tenant, spa, "kim", user_agent="Laptop/1.0")
    phone = sign_in(app, tenant, spa, "kim", user_agent="Phone/2.0")
    phone_session = next(
        s["id"] for s in client.get(SESSIONS, headers=laptop.headers).json["sessions"] if s["userAgent"] == "Phone/2.0"
    )
    ended = client.delete(f"{SESSIONS}/{phone_session}", headers=laptop.headers)
    assert ended.status_code == 204 and ended.data == b""
    assert client.get(ME, headers=phone.headers).status_code == 401
    refreshed = client.post(
        "/t/acme/oauth2/token",
        data={"grant_type": "refresh_token", "refresh_token": phone.refresh_token, "client_id": spa.client_id},
    )
    assert refreshed.status_code == 400
    assert client.get(ME, headers=laptop.headers).status_code == 200
    assert [s["userAgent"] for s in client.get(SESSIONS, headers=laptop.headers).json["sessions"]] == ["Laptop/1.0"]
    assert_wso2_error(client.delete(f"{SESSIONS}/{phone_session}", headers=laptop.headers), 404, "USM-60404")
    with app.extensions["scim_me"].db.connection_context():
        events = [e for e in list_events(tenant.id, kim.id) if e.kind == "session.ended"]
    assert [e.details["sessionId"] for e in events] == [phone_session]


def test_delete_all_keeps_the_current_session(app, tenant, client, kim, spa):
    current = sign_in(app, tenant, spa, "kim", user_agent="Current/1.0")
    others = [sign_in(app, tenant, spa, "kim", user_agent=f"Other/{i}") for i in range(2)]
    assert client.delete(SESSIONS, headers=current.headers).status_code == 204
    assert client.get(ME, headers=current.headers).status_code == 200
    for other in others:
        assert client.get(ME, headers=other.headers).status_code == 401
    assert [s["userAgent"] for s in client.get(SESSIONS, headers=current.headers).json["sessions"]] == ["Current/1.0"]


def test_delete_all_including_current(app, tenant, client, kim, spa):
    current = sign_in(app, tenant, spa, "kim")
    other = sign_in(app, tenant, spa, "kim")
    assert client.delete(f"{SESSIONS}?includeCurrent=true", headers=current.headers).status_code == 204
    assert client.get(ME, headers=current.headers).status_code == 401
    assert client.get(ME, headers=other.headers).status_code == 401


def test_include_current_must_be_a_boolean(app, tenant, client, kim):
    response = client.delete(f"{SESSIONS}?includeCurrent=maybe", headers=bearer(make_token(app, tenant, kim)))
    assert_wso2_error(response, 400, "USM-60400")


def test_a_token_without_a_session_ends_every_session(app, tenant, client, kim, spa):
    browser = sign_in(app, tenant, spa, "kim")
    cli_token = make_token(app, tenant, kim)  # minted outside any sign-in: no current session
    assert client.delete(SESSIONS, headers=bearer(cli_token)).status_code == 204
    assert client.get(ME, headers=browser.headers).status_code == 401
    assert client.get(SESSIONS, headers=bearer(cli_token)).json == {}


def test_users_cannot_see_or_end_each_others_sessions(app, tenant, client, kim, lee, spa):
    kims = sign_in(app, tenant, spa, "kim")
    lees = sign_in(app, tenant, spa, "lee")
    kim_session = client.get(SESSIONS, headers=kims.headers).json["sessions"][0]["id"]
    lee_view = client.get(SESSIONS, headers=lees.headers).json
    assert [s["id"] for s in lee_view["sessions"]] != [kim_session]
    assert_wso2_error(client.delete(f"{SESSIONS}/{kim_session}", headers=lees.headers), 404, "USM-60404")
    assert client.delete(SESSIONS, headers=lees.headers).status_code == 204
    assert client.get(ME, headers=kims.headers).status_code == 200
    assert client.get(SESSIONS, headers=kims.headers).json["sessions"][0]["id"] == kim_session


def test_sessions_of_another_tenant(app, tenant, client, kim, spa):
    kims = sign_in(app, tenant, spa, "kim")
    kim_session = client.get(SESSIONS, headers=kims.headers).json["sessions"][0]["id"]
    other = make_tenant(app, "other")
    there = make_token(app, other, make_user(app, other, "kim", PASSWORD))
    response = client.delete(f"/t/other/api/users/v1/me/sessions/{kim_session}", headers=bearer(there))
    assert_wso2_error(response, 404, "USM-60404")
    assert client.get(ME, headers=kims.headers).status_code == 200


def test_needs_a_user_token(app, tenant, client):
    assert_wso2_error(
        client.get(SESSIONS, headers=bearer(make_token(app, tenant, None, "internal_login"))), 403, "USM-60403"
    )
    assert client.get(SESSIONS).status_code == 401


def test_basic_authentication_lists_and_ends_sessions(app, tenant, client, kim, spa):
    from tests.factories import basic

    signed = sign_in(app, tenant, spa, "kim")
    listed = client.get(SESSIONS, headers=basic("kim", PASSWORD))
    assert listed.status_code == 200 and len(listed.json["sessions"]) == 1
    # Basic has no current session: every session ends.
    assert client.delete(SESSIONS, headers=basic("kim", PASSWORD)).status_code == 204
    assert client.get(ME, headers=signed.headers).status_code == 401


def test_a_refreshed_token_keeps_its_session_current(app, tenant, client, kim, spa):
    current = sign_in(app, tenant, spa, "kim")
    other = sign_in(app, tenant, spa, "kim")
    refreshed = client.post(
        "/t/acme/oauth2/token",
        data={"grant_type": "refresh_token", "refresh_token": current.refresh_token, "client_id": spa.client_id},
    )
    assert refreshed.status_code == 200
    new_token = bearer(refreshed.json["access_token"])
    assert client.delete(SESSIONS, headers=new_token).status_code == 204
    assert client.get(ME, headers=new_token).status_code == 200
    assert client.get(ME, headers=other.headers).status_code == 401


def test_signing_out_everywhere_ends_all_sessions_or_none(app, tenant, client, kim, spa):
    """DELETE of every other session is one transaction: the sessions, their grants (so their
    tokens) and the events. When the history cannot be written, every session lives on."""
    from tests.support.faults import table_unavailable
    from tests.support.statements import count_statements

    current = sign_in(app, tenant, spa, "kim", user_agent="Current/1.0")
    others = [sign_in(app, tenant, spa, "kim", user_agent=f"Other/{i}") for i in range(2)]
    with table_unavailable(app, "security_events"):
        assert client.delete(SESSIONS, headers=current.headers).status_code == 500
    for other in others:
        assert client.get(ME, headers=other.headers).status_code == 200
    begins: list[str] = []
    with count_statements(app, begins):
        assert client.delete(SESSIONS, headers=current.headers).status_code == 204
    assert len(begins) == 1, begins
    for other in others:
        assert client.get(ME, headers=other.headers).status_code == 401

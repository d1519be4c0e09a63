"""``GET /api/users/v1/me/security`` and ``GET /api/users/v1/me/security-events``: contents,
paging (offset and cursor), filters, isolation between users and tenants, auth and errors."""

from __future__ import annotations

import calendar
from datetime import datetime
from datetime import timedelta

import pytest

from scim_me.storage.events import record_event
from scim_me.storage.sessions import start_session
from scim_me.web import sections as user_sections
from tests.factories import assert_wso2_error
from tests.factories import basic
from tests.factories import bearer
from tests.factories import make_tenant
from tests.factories import make_token
from tests.factories import make_user

PASSWORD = "correct-horse-9"
OVERVIEW = "/t/acme/api/users/v1/me/security"
EVENTS = "/t/acme/api/users/v1/me/security-events"
T0 = datetime(2026, 11, 1, 12, 0, 0)


@pytest.fixture
def kim(app, tenant):
    return make_user(app, tenant, "kim", PASSWORD, emails=[{"value": "kim@example.com"}])


@pytest.fixture
def token(app, tenant, kim):
    return make_token(app, tenant, kim)


def _record(app, tenant, user, kind, at=None, **kwargs):
    with app.app_context(), app.extensions["scim_me"].db.connection_context():
        record_event(tenant.id, user.id, kind, at=at, **kwargs)


def _history(app, tenant, user, count):
    """``count`` events a minute apart, oldest first, cycling through a few kinds."""
    kinds = ["signin.success", "signin.failure", "password.changed", "mfa.totp.enrolled"]
    for i in range(count):
        _record(app, tenant, user, kinds[i % 4], at=T0 + timedelta(minutes=i), ip=f"10.0.0.{i}", user_agent=f"ua-{i}")


def test_events_newest_first_with_time_ip_and_user_agent(app, client, tenant, kim, token) -> None:
    _record(app, tenant, kim, "signin.failure", at=T0, ip="203.0.113.9", user_agent="curl/8", client_id="spa")
    _record(app, tenant, kim, "password.changed", at=T0 + timedelta(seconds=1))
    response = client.get(EVENTS, headers=bearer(token))
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert response.headers["Cache-Control"] == "no-store"
    body = response.get_json()
    assert body["totalResults"] == 2 and body["count"] == 2 and body["startIndex"] == 1
    assert [e["kind"] for e in body["events"]] == ["password.changed", "signin.failure"]
    failure = body["events"][1]
    assert failure["time"] == "2026-11-01T12:00:00.000Z"
    assert failure["timestamp"] == str(calendar.timegm(T0.timetuple()) * 1000)
    assert failure["ip"] == "203.0.113.9" and failure["userAgent"] == "curl/8" and failure["clientId"] == "spa"
    assert body["links"] == []


def test_offset_paging_walks_every_event_once(app, client, tenant, kim, token) -> None:
    _history(app, tenant, kim, 25)
    seen: list[str] = []
    url = f"{EVENTS}?limit=10"
    pages = 0
    while url:
        body = client.get(url, headers=bearer(token)).get_json()
        pages += 1
        assert body["totalResults"] == 25
        seen += [e["userAgent"] for e in body["events"]]
        nxt = [link["href"] for link in body["links"] if link["rel"] == "next"]
        url = nxt[0].removeprefix("http://localhost") if nxt else ""
    assert pages == 3
    assert seen == [f"ua-{i}" for i in range(24, -1, -1)]
    last = client.get(f"{EVENTS}?limit=10&offset=20", headers=bearer(token)).get_json()
    assert [link["rel"] for link in last["links"]] == ["previous"]
    assert last["startIndex"] == 21 and last["count"] == 5


def test_cursor_paging_is_stable_while_new_events_arrive(app, client, tenant, kim, token) -> None:
    _history(app, tenant, kim, 12)
    first = client.get(f"{EVENTS}?limit=5", headers=bearer(token)).get_json()
    assert [e["userAgent"] for e in first["events"]] == ["ua-11", "ua-10", "ua-9", "ua-8", "ua-7"]
    # A new sign-in between pages would shift offset paging by one; the cursor is unaffected.
    _record(app, tenant, kim, "signin.success", at=T0 + timedelta(hours=1))
    second = client.get(f"{EVENTS}?limit=5&cursor={first['nextCursor']}", headers=bearer(token)).get_json()
    assert [e["userAgent"] for e in second["events"]] == ["ua-6", "ua-5", "ua-4", "ua-3", "ua-2"]
    third_href = next(link["href"] for link in second["links"] if link["rel"] == "next")
    third = client.get(third_href.removeprefix("http://localhost"), headers=bearer(token)).get_json()
    assert [e["userAgent"] for e in third["events"]] == ["ua-1", "ua-0"]
    assert "nextCursor" not in third and third["links"] == []


def test_filters_by_kind_family_and_time(app, client, tenant, kim, token) -> None:
    _history(app, tenant, kim, 8)
    only = client.get(f"{EVENTS}?kind=password.changed", headers=bearer(token)).get_json()
    assert [e["kind"] for e in only["events"]] == ["password.changed"] * 2
    both = client.get(f"{EVENTS}?kind=password.changed,mfa", headers=bearer(token)).get_json()
    assert {e["kind"] for e in both["events"]} == {"password.changed", "mfa.totp.enrolled"}
    assert both["totalResults"] == 4
    repeated = client.get(f"{EVENTS}?kind=signin.success&kind=signin.failure", headers=bearer(token)).get_json()
    assert repeated["totalResults"] == 4
    since = client.get(f"{EVENTS}?since=2026-11-01T12:05:00Z", headers=bearer(token)).get_json()
    assert [e["userAgent"] for e in since["events"]] == ["ua-7", "ua-6", "ua-5"]
    window = client.get(
        f"{EVENTS}?since=2026-11-01T13:02:00%2B01:00&until=2026-11-01T12:04:00Z", headers=bearer(token)
    ).get_json()
    assert [e["userAgent"] for e in window["events"]] == ["ua-3", "ua-2"]


@pytest.mark.parametrize(
    "query",
    [
        "limit=0",
        "limit=101",
        "limit=ten",
        "offset=-1",
        "kind=nope",
        "since=yesterday",
        "cursor=%%%",
        "cursor=bm90LWEtY3Vyc29y",
        "offset=5&cursor=MjAyNi0xMS0wMVQxMjowMDowMHwx",
    ],
)
def test_bad_parameters_answer_400_in_the_wso2_dialect(client, token, query) -> None:
    assert_wso2_error(client.get(f"{EVENTS}?{query}", headers=bearer(token)), 400, "SEC-10001")


def test_users_and_tenants_are_isolated(app, client, tenant, kim, token) -> None:
    lee = make_user(app, tenant, "lee", PASSWORD)
    other = make_tenant(app, "other")
    kim_elsewhere = make_user(app, other, "kim", PASSWORD)
    _record(app, tenant, kim, "signin.success")
    _record(app, tenant, lee, "password.changed")
    _record(app, other, kim_elsewhere, "mfa.totp.disabled")

    mine = client.get(EVENTS, headers=bearer(token)).get_json()
    assert [e["kind"] for e in mine["events"]] == ["signin.success"]
    lees = client.get(EVENTS, headers=bearer(make_token(app, tenant, lee))).get_json()
    assert [e["kind"] for e in lees["events"]] == ["password.changed"]
    theirs = client.get(
        "/t/other/api/users/v1/me/security-events", headers=bearer(make_token(app, other, kim_elsewhere))
    ).get_json()
    assert [e["kind"] for e in theirs["events"]] == ["mfa.totp.disabled"]
    # acme's token on the other tenant's path is refused, not answered with acme's history.
    assert client.get("/t/other/api/users/v1/me/security-events", headers=bearer(token)).status_code == 401
    assert client.get(OVERVIEW, headers=bearer(token)).get_json()["userId"] == kim.id


def test_overview_sections(app, client, tenant, kim, token) -> None:
    with app.app_context(), app.extensions["scim_me"].db.connection_context():
        start_session(tenant.id, kim.id, "Firefox", "10.0.0.1")
        start_session(tenant.id, kim.id, "Safari", "10.0.0.2")
    _record(app, tenant, kim, "signin.failure")
    _record(app, tenant, kim, "password.changed")
    _record(app, tenant, kim, "signin.success")  # not an alert
    _record(app, tenant, kim, "signin.failure", at=datetime(2020, 1, 1))  # outside the window
    response = client.get(OVERVIEW, headers=bearer(token))
    assert response.status_code == 200
    body = response.get_json()
    assert body["userId"] == kim.id
    assert body["sessions"] == {"active": 2}
    assert body["alerts"]["recent"] == 2 and body["alerts"]["windowDays"] == 30
    # The account feature's section (api/password_state.py) replaces the built-in one.
    assert body["password"]["lastChanged"].endswith("Z")
    assert body["password"]["expiryTime"] is None
    assert body["email"] == {
        "address": "kim@example.com",
        "verified": False,
        "pending": None,
        "pendingExpiryTime": None,
    }
    assert body["mfa"]["totpEnabled"] is False and body["mfa"]["backupCodeEnabled"] is False


def test_features_add_or_replace_overview_sections(client, token, monkeypatch) -> None:
    monkeypatch.setattr(user_sections, "_OVERVIEW", {})
    user_sections.register_overview_section("mfa", lambda subject: {"enabled": True, "from": "mfa feature"})
    user_sections.register_overview_section("devices", lambda subject: {"trusted": subject.user.id == "nobody"})
    body = client.get(OVERVIEW, headers=bearer(token)).get_json()
    assert body["mfa"] == {"enabled": True, "from": "mfa feature"}
    assert body["devices"] == {"trusted": False}
    assert list(body) == ["userId", "alerts", "devices", "email", "mfa", "password", "sessions"]


def test_bare_paths_serve_the_default_tenant(app, client) -> None:
    default = make_tenant(app, "carbon.super")
    ann = make_user(app, default, "ann", PASSWORD)
    _record(app, default, ann, "signin.success")
    token = make_token(app, default, ann)
    assert client.get("/api/users/v1/me/security-events", headers=bearer(token)).get_json()["totalResults"] == 1
    assert client.get("/api/users/v1/me/security", headers=bearer(token)).status_code == 200


@pytest.mark.parametrize("path", [OVERVIEW, EVENTS])
def test_auth_and_scope(app, client, tenant, kim, path) -> None:
    missing = client.get(path)
    assert missing.status_code == 401
    assert set(missing.get_json()) == {"code", "message", "description", "traceId"}
    narrow = make_token(app, tenant, kim, scope="openid profile")
    assert client.get(path, headers=bearer(narrow)).status_code == 403
    machine = make_token(app, tenant, None, scope="internal_login")
    assert client.get(path, headers=bearer(machine)).status_code == 403
    assert client.get(path, headers=basic("kim", PASSWORD)).status_code == 200

"""GET /scim2/Me and GET /scim2/Users/{own id}: representation, selectors, returned rules, meta."""

from __future__ import annotations

from datetime import datetime

import pytest

from scim_me.core.schemas import ENTERPRISE_URN
from scim_me.core.schemas import USER_URN
from scim_me.core.schemas import WSO2_URN
from scim_me.errors import SCIM_ERROR_URN
from tests.factories import basic
from tests.factories import bearer
from tests.factories import load_user
from tests.factories import make_tenant
from tests.factories import make_token
from tests.factories import make_user
from tests.factories import patch_body

ME = "/t/acme/scim2/Me"
PASSWORD = "correct-horse-9"
SCHEMAS = [USER_URN, ENTERPRISE_URN, WSO2_URN]


@pytest.fixture
def kim(app, tenant):
    # Stored deliberately out of schema order: the response must not depend on it.
    return make_user(
        app,
        tenant,
        "kim",
        PASSWORD,
        **{
            WSO2_URN: {"passwordExpiryTime": "2030-01-01T00:00:00Z", "country": "LK", "accountLocked": False},
            ENTERPRISE_URN: {"department": "R&D"},
            "emails": [{"value": "kim@work.example", "type": "work"}],
            "nickName": "kim-k",
            "name": {"familyName": "Jensen", "givenName": "Kim"},
        },
    )


@pytest.fixture
def token(app, tenant, kim):
    return make_token(app, tenant, kim)


def stamp(value: datetime) -> str:
    return f"{value:%Y-%m-%dT%H:%M:%S}.{value.microsecond // 1000:03d}Z"


def test_get_me_returns_the_whole_user_in_schema_order(app, client, tenant, kim, token):
    response = client.get(ME, headers=bearer(token))
    assert response.status_code == 200, response.json
    assert response.mimetype == "application/scim+json"
    stored = load_user(app, tenant, kim.id)
    location = f"http://localhost/t/acme/scim2/Users/{kim.id}"
    assert response.json == {
        "schemas": SCHEMAS,
        "id": kim.id,
        "userName": "kim",
        "name": {"familyName": "Jensen", "givenName": "Kim"},
        "nickName": "kim-k",
        "emails": [{"value": "kim@work.example", "type": "work"}],
        ENTERPRISE_URN: {"department": "R&D"},
        WSO2_URN: {"accountLocked": False, "country": "LK"},
        "meta": {
            "resourceType": "User",
            "created": stamp(stored.created_at),
            "lastModified": stamp(stored.updated_at),
            "location": location,
            "version": 'W/"1"',
        },
    }
    assert list(response.json) == [
        "schemas",
        "id",
        "userName",
        "name",
        "nickName",
        "emails",
        ENTERPRISE_URN,
        WSO2_URN,
        "meta",
    ]
    assert response.headers["Location"] == location
    assert response.headers["ETag"] == 'W/"1"'
    assert PASSWORD.encode() not in response.data


def test_location_in_the_default_tenant_has_no_tenant_prefix(app, client):
    tenant = make_tenant(app, "carbon.super")
    user = make_user(app, tenant, "root-user")
    response = client.get("/scim2/Me", headers=bearer(make_token(app, tenant, user)))
    assert response.status_code == 200, response.json
    assert response.headers["Location"] == f"http://localhost/scim2/Users/{user.id}"
    assert response.json["meta"]["location"] == f"http://localhost/scim2/Users/{user.id}"


def test_meta_tracks_changes(app, client, tenant, kim, token):
    before = client.get(ME, headers=bearer(token)).json["meta"]
    patched = client.patch(
        ME, json=patch_body({"op": "replace", "path": "nickName", "value": "k2"}), headers=bearer(token)
    )
    assert patched.status_code == 200, patched.json
    after = client.get(ME, headers=bearer(token)).json["meta"]
    assert after["version"] == 'W/"2"'
    assert after["created"] == before["created"]
    assert after["resourceType"] == "User"
    parse = lambda text: datetime.fromisoformat(text.replace("Z", "+00:00"))  # noqa: E731
    assert parse(after["lastModified"]) >= parse(before["lastModified"]) >= parse(before["created"])
    assert after["lastModified"] == stamp(load_user(app, tenant, kim.id).updated_at)


@pytest.mark.parametrize(
    ("attributes", "expected"),
    [
        ("userName", {"userName": "kim"}),
        ("name.givenName", {"name": {"givenName": "Kim"}}),
        (f"{USER_URN}:nickName", {"nickName": "kim-k"}),
        (
            f"{USER_URN}:name.familyName,emails",
            {"name": {"familyName": "Jensen"}, "emails": [{"value": "kim@work.example", "type": "work"}]},
        ),
        (f"{WSO2_URN}:country", {WSO2_URN: {"country": "LK"}}),
        (ENTERPRISE_URN, {ENTERPRISE_URN: {"department": "R&D"}}),
    ],
)
def test_attributes_parameter(client, kim, token, attributes, expected):
    response = client.get(ME, query_string={"attributes": attributes}, headers=bearer(token))
    assert response.status_code == 200, response.json
    body = response.json
    meta = body.pop("meta")
    assert meta["version"] == 'W/"1"'
    assert body == {"schemas": SCHEMAS, "id": kim.id, **expected}


@pytest.mark.parametrize(
    ("excluded", "gone"),
    [
        ("nickName", ["nickName"]),
        (f"{USER_URN}:emails", ["emails"]),
        (WSO2_URN, [WSO2_URN]),
        (f"{WSO2_URN},{ENTERPRISE_URN},name", [WSO2_URN, ENTERPRISE_URN, "name"]),
    ],
)
def test_excluded_attributes_parameter(client, kim, token, excluded, gone):
    full = client.get(ME, headers=bearer(token)).json
    response = client.get(ME, query_string={"excludedAttributes": excluded}, headers=bearer(token))
    assert response.status_code == 200, response.json
    assert response.json == {key: value for key, value in full.items() if key not in gone}


def test_excluding_a_sub_attribute_keeps_its_siblings(client, kim, token):
    response = client.get(ME, query_string={"excludedAttributes": "name.givenName"}, headers=bearer(token))
    assert response.json["name"] == {"familyName": "Jensen"}
    assert response.json["nickName"] == "kim-k"


def test_id_is_always_returned(client, kim, token):
    excluded = client.get(ME, query_string={"excludedAttributes": "id"}, headers=bearer(token))
    assert excluded.json["id"] == kim.id
    selected = client.get(ME, query_string={"attributes": "nickName"}, headers=bearer(token))
    assert selected.json["id"] == kim.id


@pytest.mark.parametrize("attributes", [None, "password", f"{USER_URN}:password", "password,userName"])
def test_password_is_never_returned(client, kim, token, attributes):
    query = {"attributes": attributes} if attributes else {}
    response = client.get(ME, query_string=query, headers=bearer(token))
    assert response.status_code == 200
    assert "password" not in response.json
    assert b"password" not in response.data.replace(b"passwordExpiryTime", b"")
    assert PASSWORD.encode() not in response.data


def test_returned_request_attributes_only_when_asked(client, kim, token):
    default = client.get(ME, headers=bearer(token)).json
    assert "passwordExpiryTime" not in default[WSO2_URN]
    asked = client.get(ME, query_string={"attributes": f"{WSO2_URN}:passwordExpiryTime"}, headers=bearer(token))
    assert asked.json[WSO2_URN] == {"passwordExpiryTime": "2030-01-01T00:00:00Z"}
    excluded_other = client.get(ME, query_string={"excludedAttributes": "nickName"}, headers=bearer(token))
    assert "passwordExpiryTime" not in excluded_other.json[WSO2_URN]


def test_get_own_user_by_id(client, kim, token):
    me = client.get(ME, headers=bearer(token))
    response = client.get(f"/t/acme/scim2/Users/{kim.id}", headers=bearer(token))
    assert response.status_code == 200, response.json
    assert response.json == me.json
    assert response.headers["Location"] == me.headers["Location"]
    assert response.headers["ETag"] == 'W/"1"'


def test_get_own_user_by_id_honours_attributes(client, kim, token):
    response = client.get(
        f"/t/acme/scim2/Users/{kim.id}", query_string={"attributes": "userName"}, headers=bearer(token)
    )
    assert set(response.json) == {"schemas", "id", "userName", "meta"}


def test_another_users_id_answers_like_an_unknown_id(app, client, tenant, kim, token):
    other = make_user(app, tenant, "lee")
    foreign = client.get(f"/t/acme/scim2/Users/{other.id}", headers=bearer(token))
    unknown = client.get("/t/acme/scim2/Users/00000000-0000-0000-0000-000000000000", headers=bearer(token))
    expected = {
        "schemas": [SCIM_ERROR_URN],
        "status": "404",
        "detail": "Specified resource (e.g., User) or endpoint does not exist.",
    }
    assert foreign.status_code == unknown.status_code == 404
    assert foreign.json == unknown.json == expected
    assert foreign.data == unknown.data
    assert "Location" not in foreign.headers
    assert "ETag" not in foreign.headers
    assert b"lee" not in foreign.data


def test_get_me_with_basic_credentials(client, kim):
    response = client.get(ME, headers=basic("kim", PASSWORD))
    assert response.status_code == 200, response.json
    assert response.json["id"] == kim.id


def test_get_me_without_credentials_is_401(client, kim):
    response = client.get(ME)
    assert response.status_code == 401
    assert response.json == {
        "schemas": [SCIM_ERROR_URN],
        "status": "401",
        "detail": "Authorization failure. Authorization information was invalid or missing from your request.",
    }
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_get_me_needs_the_login_scope(app, client, tenant, kim):
    token = make_token(app, tenant, kim, scope="openid")
    response = client.get(ME, headers=bearer(token))
    assert response.status_code == 403
    assert response.json == {
        "schemas": [SCIM_ERROR_URN],
        "status": "403",
        "detail": "Operation is not permitted. You do not have permissions to make this request.",
    }

"""PUT /scim2/Me: whole-resource replacement (RFC 7644 §3.5.1, wso2-api.md §1.7).

Passwords in PUT are covered in test_passwords.py.
"""

from __future__ import annotations

import pytest

from scim_me.core.schemas import ENTERPRISE_URN
from scim_me.core.schemas import USER_URN
from scim_me.core.schemas import WSO2_URN
from tests.factories import bearer
from tests.factories import load_user
from tests.factories import make_token
from tests.factories import make_user
from tests.factories import scim_error

ME = "/t/acme/scim2/Me"
GROUPS = [{"value": "g-1", "display": "Staff"}]
WSO2_STORED = {"accountLocked": True, "accountState": "LOCKED", "country": "LK", "dateOfBirth": "1990-01-01"}


@pytest.fixture
def kim(app, tenant):
    return make_user(
        app,
        tenant,
        "kim",
        name={"givenName": "Kim", "familyName": "Jensen"},
        nickName="kim-k",
        title="Dr",
        emails=[{"value": "kim@work.example", "type": "work"}],
        groups=GROUPS,
        active=True,
        **{WSO2_URN: dict(WSO2_STORED), ENTERPRISE_URN: {"department": "R&D"}},
    )


@pytest.fixture
def token(app, tenant, kim):
    return make_token(app, tenant, kim)


def test_put_replaces_the_whole_resource(app, client, tenant, kim, token):
    body = {
        "schemas": [USER_URN, WSO2_URN],
        "userName": "kim",
        "displayName": "Kim J",
        "name": {"givenName": "Kimberly"},
        WSO2_URN: {"country": "SE"},
    }
    response = client.put(ME, json=body, headers=bearer(token))
    assert response.status_code == 200, response.json
    assert response.headers["ETag"] == 'W/"2"'
    assert response.headers["Location"] == f"http://localhost/t/acme/scim2/Users/{kim.id}"
    stored = load_user(app, tenant, kim.id)
    assert stored.profile == {
        "userName": "kim",
        "name": {"givenName": "Kimberly"},
        "displayName": "Kim J",
        "active": True,
        "groups": GROUPS,
        WSO2_URN: {"accountLocked": True, "accountState": "LOCKED", "country": "SE"},
        ENTERPRISE_URN: {"department": "R&D"},
    }
    assert stored.version == 2
    body = response.json
    meta = body.pop("meta")
    assert meta["version"] == 'W/"2"'
    assert body == {
        "schemas": [USER_URN, ENTERPRISE_URN, WSO2_URN],
        "id": kim.id,
        "userName": "kim",
        "name": {"givenName": "Kimberly"},
        "displayName": "Kim J",
        "active": True,
        "groups": GROUPS,
        ENTERPRISE_URN: {"department": "R&D"},
        WSO2_URN: {"accountLocked": True, "accountState": "LOCKED", "country": "SE"},
    }


def test_read_only_attributes_keep_their_stored_values(app, client, tenant, kim, token):
    body = {
        "userName": "kim",
        "id": "forged-id",
        "meta": {"version": 'W/"42"', "created": "2000-01-01T00:00:00Z"},
        "groups": [{"value": "g-admins", "display": "Admins"}],
        "active": False,
        WSO2_URN: {"accountLocked": False, "accountState": "UNLOCKED", "emailVerified": True},
        ENTERPRISE_URN: {"department": "Board"},
    }
    response = client.put(ME, json=body, headers=bearer(token))
    assert response.status_code == 200, response.json
    assert response.json["id"] == kim.id
    assert response.json["meta"]["version"] == 'W/"2"'
    stored = load_user(app, tenant, kim.id)
    assert stored.profile == {
        "userName": "kim",
        "active": True,
        "groups": GROUPS,
        WSO2_URN: {"accountLocked": True, "accountState": "LOCKED"},
        ENTERPRISE_URN: {"department": "R&D"},
    }


def test_put_honours_attributes(client, kim, token):
    response = client.put(
        ME, query_string={"attributes": "nickName"}, json={"userName": "kim", "nickName": "k2"}, headers=bearer(token)
    )
    assert response.status_code == 200, response.json
    assert set(response.json) == {"schemas", "id", "nickName", "meta"}


def test_put_accepts_wso2_string_emails(app, client, tenant, kim, token):
    response = client.put(ME, json={"userName": "kim", "emails": ["kim@home.example"]}, headers=bearer(token))
    assert response.status_code == 200, response.json
    assert load_user(app, tenant, kim.id).profile["emails"] == [{"value": "kim@home.example"}]
    assert response.json["emails"] == ["kim@home.example"]


def test_identical_put_does_not_bump_the_version(app, client, tenant, kim, token):
    current = client.get(ME, headers=bearer(token)).json
    response = client.put(ME, json=current, headers=bearer(token))
    assert response.status_code == 200, response.json
    assert response.headers["ETag"] == 'W/"1"'
    assert load_user(app, tenant, kim.id).version == 1


def error(scim_type: str, detail: str) -> dict[str, str | list[str]]:
    return scim_error(400, detail, scim_type)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"userName": "kimberly"}, error("mutability", "Attribute userName cannot be modified.")),
        ({"userName": "KIM"}, error("mutability", "Attribute userName cannot be modified.")),
        ({"nickName": "k"}, error("invalidValue", "Required attribute userName is missing.")),
        ({"userName": None}, error("invalidValue", "Required attribute userName is missing.")),
        ({"userName": " "}, error("invalidValue", "Required attribute userName is missing.")),
        ([{"userName": "kim"}], error("invalidValue", "The request body must be a JSON object (a User resource).")),
        (
            {"userName": "kim", WSO2_URN: ["x"]},
            error("invalidValue", f"The value of {WSO2_URN} must be a JSON object."),
        ),
        ({"userName": "kim", "nickName": {"a": 1}}, error("invalidValue", "nickName must be a single string value.")),
        (
            {"userName": "kim", "password": "short"},
            error(
                "invalidValue",
                "Password policy violation (minLength): the password must be at least 8 characters long.",
            ),
        ),
    ],
)
def test_put_errors_change_nothing(app, client, tenant, kim, token, body, expected):
    response = client.put(ME, json=body, headers=bearer(token))
    assert response.status_code == 400
    assert response.json == expected
    stored = load_user(app, tenant, kim.id)
    assert stored.profile == kim.profile
    assert stored.version == 1


def test_put_needs_a_json_body(client, kim, token):
    response = client.put(ME, data=b"", headers=bearer(token, **{"Content-Type": "application/scim+json"}))
    assert response.status_code == 400
    assert response.json == error("invalidSyntax", "The request body is empty.")


def test_put_without_credentials_is_401(client, kim):
    response = client.put(ME, json={"userName": "kim"})
    assert response.status_code == 401

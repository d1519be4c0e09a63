"""POST /scim2/Me: self-registration per the tenant's ``self_registration`` mode (off, open, scope)."""

from __future__ import annotations

import pytest

from scim_me.core.schemas import ENTERPRISE_URN
from scim_me.core.schemas import USER_URN
from scim_me.core.schemas import WSO2_URN
from scim_me.errors import SCIM_ERROR_URN
from scim_me.storage.users import list_users
from tests.factories import basic
from tests.factories import bearer
from tests.factories import load_user
from tests.factories import make_tenant
from tests.factories import make_token
from tests.factories import make_user

ME = "/t/acme/scim2/Me"
PASSWORD = "battery-staple-42"
BODY = {
    "schemas": [USER_URN],
    "userName": "newbie",
    "password": PASSWORD,
    "name": {"givenName": "New", "familyName": "Bie"},
    "emails": [{"value": "newbie@example.com", "type": "home"}],
}


def test_registration_off_is_403(app, client):
    make_tenant(app, "acme")  # self_registration defaults to "off"
    response = client.post(ME, json=BODY)
    assert response.status_code == 403
    assert response.json == {
        "schemas": [SCIM_ERROR_URN],
        "status": "403",
        "detail": "Self-registration is disabled for this tenant.",
    }
    assert PASSWORD.encode() not in response.data


def test_open_registration_creates_the_user(app, client):
    # Without confirmation the account signs in at once (tests/recovery/test_self_registration.py: with).
    tenant = make_tenant(app, "acme", self_registration="open", self_registration_confirm=False)
    response = client.post(ME, json=BODY)
    assert response.status_code == 201, response.json
    assert response.mimetype == "application/scim+json"
    user_id = response.json["id"]
    location = f"http://localhost/t/acme/scim2/Users/{user_id}"
    assert response.headers["Location"] == location
    assert response.headers["ETag"] == 'W/"1"'
    body = response.json
    meta = body.pop("meta")
    assert meta["location"] == location
    assert meta["resourceType"] == "User"
    assert meta["version"] == 'W/"1"'
    assert meta["created"] == meta["lastModified"]
    assert body == {
        "schemas": [USER_URN, ENTERPRISE_URN, WSO2_URN],
        "id": user_id,
        "userName": "newbie",
        "name": {"familyName": "Bie", "givenName": "New"},
        "emails": [{"value": "newbie@example.com", "type": "home"}],
    }
    assert PASSWORD.encode() not in response.data
    stored = load_user(app, tenant, user_id)
    assert stored.user_name == "newbie"
    assert "password" not in stored.profile
    assert client.get(ME, headers=basic("newbie", PASSWORD)).status_code == 200


def test_registration_honours_attributes(app, client):
    make_tenant(app, "acme", self_registration="open")
    response = client.post(ME, query_string={"attributes": "userName"}, json=BODY)
    assert response.status_code == 201, response.json
    assert set(response.json) == {"schemas", "id", "userName", "meta"}


@pytest.mark.parametrize(
    "user_name", ["newbie ", " newbie", "new bie", "newbie\u200b", "newbie\u0007", "new\u00a0bie", "newbie\u2028"]
)
def test_a_user_name_the_precis_username_profile_refuses_is_400(app, client, user_name):
    """RFC 8265 §3.3 UsernameCaseMapped: no spaces (edge or inner), controls, or zero-width /
    ignorable code points, so no name can sit next to ``newbie`` looking the same."""
    make_tenant(app, "acme", self_registration="open")
    assert client.post(ME, json=BODY).status_code == 201
    response = client.post(ME, json={**BODY, "userName": user_name, "password": "other-pass-99"})
    assert response.status_code == 400, response.json
    assert response.json["scimType"] == "invalidValue"
    assert "RFC 8265" in response.json["detail"]
    with app.extensions["scim_me"].db.connection_context():
        assert [user.user_name for user in list_users(1)] == ["newbie"]


@pytest.mark.parametrize("user_name", ["newbi\u00e9", "ne\u0301wbie", "NE\u0301WBI\u1e17", "n\u1e17wbie"])
def test_a_look_alike_of_a_taken_user_name_is_409(app, client, user_name):
    """A name that differs from a taken one only by diacritics (precomposed or combining), width
    or case would read as the same person on every screen: refused like a taken name."""
    make_tenant(app, "acme", self_registration="open")
    assert client.post(ME, json=BODY).status_code == 201
    response = client.post(ME, json={**BODY, "userName": user_name, "password": "other-pass-99"})
    assert response.status_code == 409, response.json
    assert response.json["scimType"] == "uniqueness"


@pytest.mark.parametrize("user_name", ["kim.berry@example.com", "j_doe-1", "José", "\uff4bim"])
def test_usernames_the_profile_allows_register(app, client, user_name):
    make_tenant(app, "acme", self_registration="open")
    response = client.post(ME, json={**BODY, "userName": user_name})
    assert response.status_code == 201, response.json


@pytest.mark.parametrize("user_name", ["newbie", "NewBie", "NEWBIE"])
def test_a_taken_user_name_is_409_whatever_its_case(app, client, user_name):
    tenant = make_tenant(app, "acme", self_registration="open", self_registration_confirm=False)
    assert client.post(ME, json=BODY).status_code == 201
    response = client.post(ME, json={**BODY, "userName": user_name, "password": "other-pass-99"})
    assert response.status_code == 409
    assert response.json == {
        "schemas": [SCIM_ERROR_URN],
        "status": "409",
        "scimType": "uniqueness",
        "detail": f"User name {user_name} is already taken in this tenant.",
    }
    # The first registration's credential is untouched.
    assert client.get(ME, headers=basic("newbie", PASSWORD)).status_code == 200
    assert client.get(ME, headers=basic("newbie", "other-pass-99")).status_code == 401
    assert tenant.settings.self_registration == "open"


def test_the_same_user_name_in_another_tenant_is_fine(app, client):
    make_tenant(app, "acme", self_registration="open")
    make_tenant(app, "globex", self_registration="open")
    assert client.post(ME, json=BODY).status_code == 201
    assert client.post("/t/globex/scim2/Me", json=BODY).status_code == 201


def test_registering_an_existing_user_name_is_409(app, client):
    tenant = make_tenant(app, "acme", self_registration="open")
    make_user(app, tenant, "Newbie")
    response = client.post(ME, json=BODY)
    assert response.status_code == 409
    assert response.json["scimType"] == "uniqueness"


class TestScopeMode:
    @pytest.fixture
    def tenant(self, app):
        return make_tenant(app, "acme", self_registration="scope", self_registration_confirm=False)

    def test_without_a_token_is_401(self, client, tenant):
        response = client.post(ME, json=BODY)
        assert response.status_code == 401
        assert response.json == {
            "schemas": [SCIM_ERROR_URN],
            "status": "401",
            "detail": "Authorization failure. Authorization information was invalid or missing from your request.",
        }
        assert response.headers["WWW-Authenticate"].startswith("Bearer")

    def test_basic_credentials_are_not_enough(self, app, client, tenant):
        make_user(app, tenant, "kim", "correct-horse-9")
        response = client.post(ME, json=BODY, headers=basic("kim", "correct-horse-9"))
        assert response.status_code == 401

    def test_a_token_without_the_create_scope_is_403(self, app, client, tenant):
        kim = make_user(app, tenant, "kim")
        response = client.post(ME, json=BODY, headers=bearer(make_token(app, tenant, kim)))
        assert response.status_code == 403
        assert response.json == {
            "schemas": [SCIM_ERROR_URN],
            "status": "403",
            "detail": "Operation is not permitted. You do not have permissions to make this request.",
        }
        assert "insufficient_scope" in response.headers["WWW-Authenticate"]
        app_token = make_token(app, tenant, None, scope="internal_login")
        assert client.post(ME, json=BODY, headers=bearer(app_token)).status_code == 403

    def test_an_application_token_with_the_create_scope_registers(self, app, client, tenant):
        token = make_token(app, tenant, None, scope="internal_user_mgt_create")
        response = client.post(ME, json=BODY, headers=bearer(token))
        assert response.status_code == 201, response.json
        assert response.json["userName"] == "newbie"
        assert load_user(app, tenant, response.json["id"]) is not None
        assert client.get(ME, headers=basic("newbie", PASSWORD)).status_code == 200


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        ({"userName": "newbie"}, "A password is required to register."),
        ({"userName": "newbie", "password": None}, "A password is required to register."),
        ({"password": PASSWORD}, "Required attribute userName is missing."),
        ({"userName": "", "password": PASSWORD}, "Required attribute userName is missing."),
        (
            {"userName": "newbie", "password": "short", "emails": [{"value": "newbie@example.com"}]},
            "Password policy violation (minLength): the password must be at least 8 characters long.",
        ),
        ({"userName": "newbie", "password": 12345678}, "password must be a string."),
        ("newbie", "The request body must be a JSON object (a User resource)."),
    ],
)
def test_invalid_registrations_are_400_and_create_nothing(app, client, body, detail):
    tenant = make_tenant(app, "acme", self_registration="open")
    response = client.post(ME, json=body)
    assert response.status_code == 400
    assert response.json == {
        "schemas": [SCIM_ERROR_URN],
        "status": "400",
        "scimType": "invalidValue",
        "detail": detail,
    }
    assert b"short" not in response.data
    with app.extensions["scim_me"].db.connection_context():
        assert list_users(tenant.id) == []


def test_read_only_attributes_in_the_body_are_ignored(app, client):
    tenant = make_tenant(app, "acme", self_registration="open")
    body = {
        **BODY,
        "id": "chosen-id",
        "meta": {"version": 'W/"99"', "created": "2000-01-01T00:00:00Z"},
        "active": True,
        "roles": [{"value": "admin"}],
        "groups": [{"value": "g-admins", "display": "Admins"}],
        WSO2_URN: {"accountLocked": False, "emailVerified": True, "country": "LK"},
        ENTERPRISE_URN: {"department": "Board"},
    }
    response = client.post(ME, json=body)
    assert response.status_code == 201, response.json
    user_id = response.json["id"]
    assert user_id != "chosen-id"
    assert response.json["meta"]["version"] == 'W/"1"'
    assert response.json["meta"]["created"] != "2000-01-01T00:00:00Z"
    stored = load_user(app, tenant, user_id)
    assert stored.profile == {
        "userName": "newbie",
        "name": {"givenName": "New", "familyName": "Bie"},
        "emails": [{"value": "newbie@example.com", "type": "home"}],
        WSO2_URN: {"country": "LK"},
    }


@pytest.mark.parametrize(
    "extensions",
    [
        {WSO2_URN: {"verifyEmail": True}},
        {WSO2_URN: {"verifyEmail": "true", "askPassword": False}},
        {WSO2_URN: {"VerifyEmail": False, "askPassword": "false", "country": "LK"}},
        {ENTERPRISE_URN: {"verifyEmail": True}},
    ],
)
def test_the_request_flags_are_taken_out_and_never_stored(app, client, extensions):
    """WSO2's verifyEmail and askPassword are requests, as on every other write (core/recovery.py):
    taken out of the body, in any case, under either extension, true or "true"."""
    tenant = make_tenant(app, "acme", self_registration="open")
    response = client.post(ME, json={**BODY, **extensions})
    assert response.status_code == 201, response.json
    assert "verifyEmail" not in response.get_data(as_text=True)
    assert "askPassword" not in response.get_data(as_text=True)
    stored = load_user(app, tenant, response.json["id"]).profile
    assert stored.get(WSO2_URN, {}) == ({"country": "LK"} if "country" in str(extensions) else {})
    assert ENTERPRISE_URN not in stored


@pytest.mark.parametrize(
    ("flags", "detail"),
    [
        (
            {"askPassword": True},
            "askPassword invites a user an administrator creates to choose a password; a self-registration"
            " sends its password.",
        ),
        (
            {"askPassword": "true"},
            "askPassword invites a user an administrator creates to choose a password; a self-registration"
            " sends its password.",
        ),
        ({"askPassword": "maybe"}, "askPassword must be a boolean."),
        ({"verifyEmail": "yes"}, "verifyEmail must be a boolean."),
        ({"verifyEmail": 1}, "verifyEmail must be a boolean."),  # JSON 1 is no boolean, though 1 == True in Python
    ],
)
def test_ask_password_and_flags_that_are_not_booleans_are_refused(app, client, flags, detail):
    tenant = make_tenant(app, "acme", self_registration="open")
    response = client.post(ME, json={**BODY, WSO2_URN: flags})
    assert response.status_code == 400
    assert response.json == {"schemas": [SCIM_ERROR_URN], "status": "400", "scimType": "invalidValue", "detail": detail}
    assert PASSWORD.encode() not in response.data
    with app.extensions["scim_me"].db.connection_context():
        assert list_users(tenant.id) == []


def test_registration_in_an_unknown_tenant_is_404(client):
    response = client.post("/t/nowhere/scim2/Me", json=BODY)
    assert response.status_code == 404
    assert response.json == {"schemas": [SCIM_ERROR_URN], "status": "404", "detail": "No such tenant."}

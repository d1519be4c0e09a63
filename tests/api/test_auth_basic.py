"""HTTP Basic on /scim2/Me, as WSO2 My Account uses it: ``userName:password`` or the tenant-qualified
``userName@tenant:password``; a userName may itself be an e-mail address."""

from __future__ import annotations

import base64

import pytest

from tests.factories import SCIM_JSON
from tests.factories import basic
from tests.factories import make_tenant
from tests.factories import make_user

ERROR_URN = "urn:ietf:params:scim:api:messages:2.0:Error"
PASSWORD = "correct-horse-9"


def raw_basic(credentials: bytes | str) -> dict[str, str]:
    data = credentials.encode() if isinstance(credentials, str) else credentials
    return {"Authorization": "Basic " + base64.b64encode(data).decode("ascii")}


def assert_rejected(response, reason: str) -> None:
    assert response.status_code == 401, response.get_data(as_text=True)
    assert response.mimetype == SCIM_JSON
    assert response.json == {"schemas": [ERROR_URN], "status": "401", "detail": f"Authorization failure. {reason}"}
    assert response.headers["WWW-Authenticate"] == (
        f'Bearer realm="scim-me", error="invalid_token", error_description="{reason}"'
    )


def assert_me(response, user) -> None:
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.json["id"] == user.id
    assert response.json["userName"] == user.user_name


@pytest.fixture
def acme(app):
    return make_tenant(app, "acme")


@pytest.fixture
def kim(app, acme):
    return make_user(app, acme, "kim", PASSWORD)


@pytest.mark.parametrize("user_name", ["kim", "kim@acme", "KIM", "kim@ACME"])
def test_plain_and_tenant_qualified_user_names_work(client, kim, user_name):
    assert_me(client.get("/t/acme/scim2/Me", headers=basic(user_name, PASSWORD)), kim)


def test_password_may_contain_a_colon(app, client, acme):
    user = make_user(app, acme, "lee", "pass:word:with-colons")
    assert_me(client.get("/t/acme/scim2/Me", headers=basic("lee", "pass:word:with-colons")), user)


@pytest.mark.parametrize(
    ("user_name", "password"),
    [("kim", "wrong-password"), ("kim", ""), ("nobody", PASSWORD), ("kim@other", PASSWORD), ("", PASSWORD)],
    ids=["wrong-password", "empty-password", "unknown-user", "other-tenant-suffix", "empty-user"],
)
def test_wrong_credentials_are_401(client, kim, user_name, password):
    response = client.get("/t/acme/scim2/Me", headers=basic(user_name, password))
    assert_rejected(response, "Invalid username or password.")


def test_user_without_a_password_cannot_use_basic(app, client, acme):
    make_user(app, acme, "federated", password=None)
    assert_rejected(client.get("/t/acme/scim2/Me", headers=basic("federated", "")), "Invalid username or password.")


@pytest.mark.parametrize(
    "authorization",
    [
        "Basic not*base64!",
        "Basic a2ltOnB",  # truncated, bad padding
        "Basic " + base64.b64encode(b"kim-no-colon").decode(),
        "Basic " + base64.b64encode(b"kim:\xff\xfe").decode(),  # not UTF-8
    ],
    ids=["not-base64", "bad-padding", "missing-colon", "not-utf8"],
)
def test_malformed_basic_credentials_are_401(client, kim, authorization):
    response = client.get("/t/acme/scim2/Me", headers={"Authorization": authorization})
    assert_rejected(response, "Malformed Basic credentials.")


def test_empty_basic_is_401_without_error_code(client, kim):
    response = client.get("/t/acme/scim2/Me", headers={"Authorization": "Basic "})
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="scim-me"'


@pytest.mark.parametrize("sent", ["kim@example.com", "kim@example.com@acme", "Kim@Example.com@ACME"])
def test_email_user_name_works_with_and_without_tenant_suffix(app, client, acme, sent):
    user = make_user(app, acme, "kim@example.com", PASSWORD)
    assert_me(client.get("/t/acme/scim2/Me", headers=basic(sent, PASSWORD)), user)


@pytest.mark.parametrize("sent", ["kim@example.com", "kim@example.com@example.com"])
def test_email_user_name_in_a_tenant_named_after_its_domain(app, client, sent):
    tenant = make_tenant(app, "example.com")
    user = make_user(app, tenant, "kim@example.com", PASSWORD)
    assert_me(client.get("/t/example.com/scim2/Me", headers=basic(sent, PASSWORD)), user)


def test_tenant_suffix_prefers_the_short_user_name(app, client):
    tenant = make_tenant(app, "example.com")
    short = make_user(app, tenant, "kim", "short-password-1")
    make_user(app, tenant, "kim@example.com", "long-password-1")
    assert_me(client.get("/t/example.com/scim2/Me", headers=basic("kim@example.com", "short-password-1")), short)


def test_credentials_of_tenant_a_are_refused_on_tenant_b(app, client, kim):
    make_tenant(app, "beta")
    for user_name in ("kim", "kim@acme"):
        response = client.get("/t/beta/scim2/Me", headers=basic(user_name, PASSWORD))
        assert_rejected(response, "Invalid username or password.")


def test_same_user_name_in_another_tenant_needs_its_own_password(app, client, kim):
    beta = make_tenant(app, "beta")
    beta_kim = make_user(app, beta, "kim", "beta-password-7")
    assert_rejected(client.get("/t/beta/scim2/Me", headers=basic("kim", PASSWORD)), "Invalid username or password.")
    assert_me(client.get("/t/beta/scim2/Me", headers=basic("kim@beta", "beta-password-7")), beta_kim)
    assert_me(client.get("/t/acme/scim2/Me", headers=basic("kim", PASSWORD)), kim)

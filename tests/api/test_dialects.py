"""The two wire dialects of a User: ``wso2`` (WSO2 IS / Asgardeo shapes) and ``rfc`` (RFC 7643)."""

from __future__ import annotations

import pytest

from scim_me.core.schemas import ENTERPRISE_URN
from scim_me.core.schemas import USER_URN
from scim_me.core.schemas import WSO2_URN
from tests.factories import bearer
from tests.factories import load_user
from tests.factories import make_tenant
from tests.factories import make_token
from tests.factories import make_user
from tests.factories import patch_body

EMAILS = [
    {"value": "kim@plain.example"},
    {"value": "kim@work.example", "type": "work"},
    {"value": "kim@primary.example", "primary": True},
]


def setup(app, dialect: str, **profile):
    tenant = make_tenant(app, "acme", dialect=dialect)
    user = make_user(app, tenant, "kim", **profile)
    return tenant, user, make_token(app, tenant, user)


def test_wso2_renders_untyped_emails_as_strings(app, client):
    _, _, token = setup(app, "wso2", emails=EMAILS)
    response = client.get("/t/acme/scim2/Me", headers=bearer(token))
    assert response.json["emails"] == [
        "kim@plain.example",
        {"value": "kim@work.example", "type": "work"},
        "kim@primary.example",
    ]


def test_rfc_renders_emails_as_objects(app, client):
    _, _, token = setup(app, "rfc", emails=EMAILS)
    response = client.get("/t/acme/scim2/Me", headers=bearer(token))
    assert response.json["emails"] == EMAILS


def test_wso2_lists_every_configured_schema(app, client):
    _, _, token = setup(app, "wso2")
    response = client.get("/t/acme/scim2/Me", headers=bearer(token))
    assert response.json["schemas"] == [USER_URN, ENTERPRISE_URN, WSO2_URN]


def test_rfc_lists_only_the_extensions_the_user_has(app, client):
    _, _, token = setup(app, "rfc")
    assert client.get("/t/acme/scim2/Me", headers=bearer(token)).json["schemas"] == [USER_URN]
    added = client.patch(
        "/t/acme/scim2/Me",
        json=patch_body({"op": "add", "path": f"{WSO2_URN}:country", "value": "LK"}),
        headers=bearer(token),
    )
    assert added.json["schemas"] == [USER_URN, WSO2_URN]
    removed = client.patch(
        "/t/acme/scim2/Me", json=patch_body({"op": "remove", "path": f"{WSO2_URN}:country"}), headers=bearer(token)
    )
    assert removed.json["schemas"] == [USER_URN]
    assert WSO2_URN not in removed.json


def test_rfc_schemas_follow_registry_order(app, client):
    _, _, token = setup(app, "rfc", **{WSO2_URN: {"country": "LK"}, ENTERPRISE_URN: {"department": "R&D"}})
    assert client.get("/t/acme/scim2/Me", headers=bearer(token)).json["schemas"] == [
        USER_URN,
        ENTERPRISE_URN,
        WSO2_URN,
    ]


@pytest.mark.parametrize("dialect", ["wso2", "rfc"])
@pytest.mark.parametrize(
    "emails",
    [["kim@new.example"], [{"value": "kim@new.example"}], "kim@new.example"],
    ids=["strings", "objects", "single-string"],
)
def test_both_dialects_accept_both_email_forms(app, client, dialect, emails):
    tenant, user, token = setup(app, dialect)
    response = client.patch(
        "/t/acme/scim2/Me", json=patch_body({"op": "add", "value": {"emails": emails}}), headers=bearer(token)
    )
    assert response.status_code == 200, response.json
    assert load_user(app, tenant, user.id).profile["emails"] == [{"value": "kim@new.example"}]
    expected = ["kim@new.example"] if dialect == "wso2" else [{"value": "kim@new.example"}]
    assert response.json["emails"] == expected


@pytest.mark.parametrize("dialect", ["wso2", "rfc"])
def test_both_dialects_accept_both_forms_in_put(app, client, dialect):
    tenant, user, token = setup(app, dialect)
    body = {"userName": "kim", "emails": ["kim@a.example", {"value": "kim@b.example", "type": "home"}]}
    response = client.put("/t/acme/scim2/Me", json=body, headers=bearer(token))
    assert response.status_code == 200, response.json
    assert load_user(app, tenant, user.id).profile["emails"] == [
        {"value": "kim@a.example"},
        {"value": "kim@b.example", "type": "home"},
    ]


def test_wso2_string_emails_round_trip_through_put(app, client):
    _, _, token = setup(app, "wso2", emails=[{"value": "kim@plain.example"}])
    current = client.get("/t/acme/scim2/Me", headers=bearer(token)).json
    assert current["emails"] == ["kim@plain.example"]
    response = client.put("/t/acme/scim2/Me", json=current, headers=bearer(token))
    assert response.status_code == 200, response.json
    assert response.headers["ETag"] == 'W/"1"'  # nothing changed


def test_wso2_string_emails_with_a_value_filter(app, client):
    tenant, user, token = setup(app, "wso2", emails=[{"value": "kim@plain.example"}])
    response = client.patch(
        "/t/acme/scim2/Me",
        json=patch_body({"op": "remove", "path": 'emails[value eq "kim@plain.example"]'}),
        headers=bearer(token),
    )
    assert response.status_code == 200, response.json
    assert "emails" not in response.json
    assert "emails" not in load_user(app, tenant, user.id).profile

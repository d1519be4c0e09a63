"""core/replace.py: PUT replacement and POST creation of a whole User resource."""

from __future__ import annotations

from typing import Any

import pytest

from scim_me.core.replace import new_resource
from scim_me.core.replace import replace_resource
from scim_me.core.schemas import ENTERPRISE_URN
from scim_me.core.schemas import WSO2_URN
from scim_me.errors import InvalidValueError
from scim_me.errors import MutabilityError

STORED: dict[str, Any] = {
    "userName": "kim",
    "nickName": "kim-k",
    "name": {"givenName": "Kim", "familyName": "Jensen"},
    "active": True,
    "groups": [{"value": "g-1", "display": "Staff"}],
    "roles": [{"value": "admin"}],
    WSO2_URN: {"accountLocked": True, "accountState": "LOCKED", "country": "LK"},
    ENTERPRISE_URN: {"department": "R&D", "costCenter": "CC-1"},
}


def test_attributes_left_out_are_removed(registry):
    result = replace_resource(STORED, {"userName": "kim", "displayName": "Kim J"}, registry)
    assert result == {
        "userName": "kim",
        "displayName": "Kim J",
        "active": True,
        "groups": [{"value": "g-1", "display": "Staff"}],
        "roles": [{"value": "admin"}],
        WSO2_URN: {"accountLocked": True, "accountState": "LOCKED"},
        # Every enterprise attribute is readOnly for the user (schemas/self-service.json).
        ENTERPRISE_URN: {"department": "R&D", "costCenter": "CC-1"},
    }


def test_read_only_values_in_the_body_are_ignored(registry):
    body = {
        "userName": "kim",
        "id": "forged-id",
        "meta": {"version": 'W/"99"'},
        "active": False,
        "groups": [{"value": "g-admins"}],
        "roles": [],
        WSO2_URN: {"accountLocked": False, "accountState": "UNLOCKED", "country": "SE"},
        ENTERPRISE_URN: {"costCenter": "CC-9", "department": "Sales"},
    }
    result = replace_resource(STORED, body, registry)
    assert result == {
        "userName": "kim",
        "active": True,
        "groups": [{"value": "g-1", "display": "Staff"}],
        "roles": [{"value": "admin"}],
        WSO2_URN: {"accountLocked": True, "accountState": "LOCKED", "country": "SE"},
        ENTERPRISE_URN: {"department": "R&D", "costCenter": "CC-1"},
    }


def test_keys_and_extension_urns_match_case_insensitively(registry):
    body = {"USERNAME": "kim", "NickName": "k2", WSO2_URN.upper(): {"COUNTRY": "SE"}}
    result = replace_resource({"userName": "kim"}, body, registry)
    assert result == {"userName": "kim", "nickName": "k2", WSO2_URN: {"country": "SE"}}


def test_values_are_brought_to_canonical_form(registry):
    body = {"userName": "kim", "emails": "kim@x.example", "name": {"GIVENNAME": "Kim", "unknown": 1}}
    result = replace_resource({"userName": "kim"}, body, registry)
    assert result == {"userName": "kim", "emails": [{"value": "kim@x.example"}], "name": {"givenName": "Kim"}}


def test_password_is_passed_through_for_the_caller_to_hash(registry):
    result = replace_resource({"userName": "kim"}, {"userName": "kim", "password": "new-secret-1"}, registry)
    assert result == {"userName": "kim", "password": "new-secret-1"}


def test_unknown_members_are_ignored(registry):
    body = {"userName": "kim", "shoeSize": 44, "urn:example:ext": {"a": 1}, "schemas": ["x"]}
    assert replace_resource({"userName": "kim"}, body, registry) == {"userName": "kim"}


@pytest.mark.parametrize("user_name", ["kimberly", "Kim", None])
def test_user_name_cannot_change(registry, user_name):
    body = {"userName": user_name} if user_name is not None else {"userName": "kim", "nickName": "x"}
    if user_name is None:
        # Control: the same userName is accepted.
        assert replace_resource(STORED, body, registry)["userName"] == "kim"
        return
    with pytest.raises(MutabilityError) as caught:
        replace_resource(STORED, body, registry)
    assert caught.value.to_dict() == {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"],
        "status": "400",
        "scimType": "mutability",
        "detail": "Attribute userName cannot be modified.",
    }


@pytest.mark.parametrize("body", [{"nickName": "k"}, {"userName": None}, {"userName": ""}])
def test_missing_user_name_is_invalid_value(registry, body):
    with pytest.raises(InvalidValueError) as caught:
        replace_resource(STORED, body, registry)
    assert caught.value.to_dict()["detail"] == "Required attribute userName is missing."


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        ([], "The request body must be a JSON object (a User resource)."),
        ("kim", "The request body must be a JSON object (a User resource)."),
        ({"userName": "kim", WSO2_URN: "LK"}, f"The value of {WSO2_URN} must be a JSON object."),
        ({"userName": "kim", "nickName": 5}, "nickName must be a string."),
        ({"userName": "kim", "name": "Kim"}, "name must be a complex (JSON object) value."),
    ],
)
def test_malformed_bodies_are_invalid_value(registry, body, detail):
    with pytest.raises(InvalidValueError) as caught:
        replace_resource(STORED, body, registry)
    assert caught.value.detail == detail


def test_stored_resource_is_not_modified(registry):
    stored = {"userName": "kim", "nickName": "k", WSO2_URN: {"accountLocked": True, "country": "LK"}}
    replace_resource(stored, {"userName": "kim"}, registry)
    assert stored == {"userName": "kim", "nickName": "k", WSO2_URN: {"accountLocked": True, "country": "LK"}}


def test_new_resource_ignores_read_only_values(registry):
    body = {
        "userName": "new-user",
        "id": "forged",
        "meta": {"version": 'W/"9"'},
        "active": False,
        "groups": [{"value": "g-admins"}],
        WSO2_URN: {"accountLocked": True, "country": "LK"},
        "password": "s3cret-pass",
    }
    assert new_resource(body, registry) == {
        "userName": "new-user",
        "password": "s3cret-pass",
        WSO2_URN: {"country": "LK"},
    }


@pytest.mark.parametrize("user_name", [{}, {"userName": "   "}, {"userName": None}])
def test_new_resource_requires_user_name(registry, user_name):
    with pytest.raises(InvalidValueError) as caught:
        new_resource({"nickName": "k", "password": "s3cret-pass", **user_name}, registry)
    assert caught.value.detail == "Required attribute userName is missing."

"""core/projection.py: schema order, the ``returned`` characteristic, attributes/excludedAttributes."""

from __future__ import annotations

from typing import Any

import pytest

from scim_me.core.projection import parse_attribute_list
from scim_me.core.projection import project
from scim_me.core.projection import render_wso2_emails
from scim_me.core.projection import upper_enums
from scim_me.core.schemas import CUSTOM_URN
from scim_me.core.schemas import ENTERPRISE_URN
from scim_me.core.schemas import USER_URN
from scim_me.core.schemas import WSO2_URN

META = {"resourceType": "User", "version": 'W/"3"', "location": "http://localhost/scim2/Users/u-1"}


def resource() -> dict[str, Any]:
    """A full representation whose members are stored in anything but schema order."""
    return {
        "meta": dict(META),
        WSO2_URN: {
            "country": "LK",
            "passwordExpiryTime": "2030-01-01T00:00:00Z",
            "accountLocked": False,
        },
        ENTERPRISE_URN: {"manager": {"displayName": "Boss", "value": "m-1"}, "department": "R&D"},
        "groups": [{"display": "Staff", "value": "g-1"}],
        "emails": [{"primary": True, "type": "work", "value": "kim@work.example"}],
        "nickName": "kim-k",
        "name": {"givenName": "Kim", "formatted": "Kim Jensen", "familyName": "Jensen"},
        "password": "correct-horse-9",
        "userName": "kim",
        "externalId": "ext-1",
        "id": "u-1",
        "schemas": [USER_URN, ENTERPRISE_URN, WSO2_URN],
    }


def shaped(registry, attributes: str | None = None, excluded: str | None = None, **kwargs: Any) -> dict[str, Any]:
    return project(
        kwargs.get("source", resource()),
        registry,
        attributes=parse_attribute_list(attributes, registry),
        excluded=parse_attribute_list(excluded, registry),
    )


def test_members_come_out_in_schema_order(registry):
    out = shaped(registry)
    assert list(out) == [
        "schemas",
        "id",
        "externalId",
        "userName",
        "name",
        "nickName",
        "emails",
        "groups",
        ENTERPRISE_URN,
        WSO2_URN,
        "meta",
    ]
    assert list(out[ENTERPRISE_URN]) == ["department", "manager"]
    assert list(out[WSO2_URN]) == ["accountLocked", "country"]


def test_sub_attributes_come_out_in_schema_order(registry):
    out = shaped(registry)
    assert list(out["name"]) == ["formatted", "familyName", "givenName"]
    assert list(out["emails"][0]) == ["value", "type", "primary"]
    assert list(out["groups"][0]) == ["value", "display"]
    assert list(out[ENTERPRISE_URN]["manager"]) == ["value", "displayName"]


def test_extensions_follow_registry_order_including_a_custom_one(custom_registry):
    source = {
        CUSTOM_URN: {"seniority": 3},
        WSO2_URN: {"country": "LK"},
        "userName": "kim",
        ENTERPRISE_URN: {"department": "R&D"},
        "id": "u-1",
    }
    out = project(source, custom_registry)
    assert list(out) == ["id", "userName", ENTERPRISE_URN, WSO2_URN, CUSTOM_URN]


def test_default_projection_values(registry):
    out = shaped(registry)
    assert out == {
        "schemas": [USER_URN, ENTERPRISE_URN, WSO2_URN],
        "id": "u-1",
        "externalId": "ext-1",
        "userName": "kim",
        "name": {"formatted": "Kim Jensen", "familyName": "Jensen", "givenName": "Kim"},
        "nickName": "kim-k",
        "emails": [{"value": "kim@work.example", "type": "work", "primary": True}],
        "groups": [{"value": "g-1", "display": "Staff"}],
        ENTERPRISE_URN: {"department": "R&D", "manager": {"value": "m-1", "displayName": "Boss"}},
        WSO2_URN: {"accountLocked": False, "country": "LK"},
        "meta": META,
    }


def test_member_names_are_matched_case_insensitively_and_emitted_as_in_the_schema(registry):
    out = project({"ID": "u-1", "USERNAME": "kim", "urn:SCIM:wso2:schema": {"COUNTRY": "LK"}}, registry)
    assert out == {"id": "u-1", "userName": "kim", WSO2_URN: {"country": "LK"}}


def test_members_outside_the_schemas_are_dropped(registry):
    source = {"id": "u-1", "userName": "kim", "shoeSize": 44, "urn:example:unknown": {"a": 1}, WSO2_URN: {"x": 1}}
    assert project(source, registry) == {"id": "u-1", "userName": "kim"}


def test_password_is_never_returned_even_when_requested(registry):
    assert "password" not in shaped(registry)
    assert "password" not in shaped(registry, attributes="password")
    assert "password" not in shaped(registry, attributes=f"{USER_URN}:password")


def test_id_is_always_returned(registry):
    assert shaped(registry, attributes="nickName")["id"] == "u-1"
    assert shaped(registry, excluded="id")["id"] == "u-1"


def test_returned_request_only_when_named(registry):
    assert "passwordExpiryTime" not in shaped(registry)[WSO2_URN]
    named = shaped(registry, attributes=f"{WSO2_URN}:passwordExpiryTime")
    assert named[WSO2_URN] == {"passwordExpiryTime": "2030-01-01T00:00:00Z"}


@pytest.mark.parametrize(
    ("attributes", "expected"),
    [
        ("userName", {"userName": "kim"}),
        ("USERNAME", {"userName": "kim"}),
        (f"{USER_URN}:nickName", {"nickName": "kim-k"}),
        ("name.givenName", {"name": {"givenName": "Kim"}}),
        (f"{USER_URN}:name.familyName", {"name": {"familyName": "Jensen"}}),
        ("emails.value, nickName", {"emails": [{"value": "kim@work.example"}], "nickName": "kim-k"}),
        (f"{WSO2_URN}:country", {WSO2_URN: {"country": "LK"}}),
        (f"{ENTERPRISE_URN}:manager.value", {ENTERPRISE_URN: {"manager": {"value": "m-1"}}}),
        (
            WSO2_URN,
            {WSO2_URN: {"accountLocked": False, "country": "LK", "passwordExpiryTime": "2030-01-01T00:00:00Z"}},
        ),
        ("noSuchThing, userName", {"userName": "kim"}),
    ],
)
def test_attributes_selects_members(registry, attributes, expected):
    structural = {"schemas": [USER_URN, ENTERPRISE_URN, WSO2_URN], "id": "u-1", "meta": META}
    assert shaped(registry, attributes=attributes) == {**structural, **expected}


@pytest.mark.parametrize(
    ("excluded", "check"),
    [
        ("nickName", lambda out: "nickName" not in out and out["userName"] == "kim"),
        (f"{USER_URN}:emails", lambda out: "emails" not in out and "name" in out),
        ("name.givenName", lambda out: out["name"] == {"formatted": "Kim Jensen", "familyName": "Jensen"}),
        (f"{WSO2_URN}:country", lambda out: out[WSO2_URN] == {"accountLocked": False}),
        (WSO2_URN, lambda out: WSO2_URN not in out and ENTERPRISE_URN in out),
        (ENTERPRISE_URN.upper(), lambda out: ENTERPRISE_URN not in out and WSO2_URN in out),
        ("groups, nickName", lambda out: "groups" not in out and "nickName" not in out),
    ],
)
def test_excluded_attributes_remove_members(registry, excluded, check):
    out = shaped(registry, excluded=excluded)
    assert check(out), out
    assert out["id"] == "u-1"
    assert out["meta"] == META


def test_a_complex_value_left_empty_by_the_selection_is_dropped(registry):
    out = shaped(registry, attributes="emails.display")
    assert "emails" not in out


def test_parse_attribute_list_ignores_unknown_and_empty_names(registry):
    selectors = parse_attribute_list(" userName ,, nope, urn:example:x:y, name.givenName ", registry)
    assert selectors == {(f"{USER_URN}:userName".lower(), None), (f"{USER_URN}:name".lower(), "givenname")}
    assert parse_attribute_list(None, registry) == set()
    assert parse_attribute_list("", registry) == set()


def test_render_wso2_emails_turns_only_untyped_values_into_strings():
    source = {"emails": [{"value": "a@x.example"}, {"value": "b@x.example", "type": "work"}], "id": "u"}
    assert render_wso2_emails(source) == {
        "emails": ["a@x.example", {"value": "b@x.example", "type": "work"}],
        "id": "u",
    }
    assert render_wso2_emails({"id": "u"}) == {"id": "u"}


def test_upper_enums_uses_java_enum_names(registry):
    rendered = upper_enums(registry.core.attribute("emails").to_dict())
    assert rendered["type"] == "COMPLEX"
    assert rendered["mutability"] == "READ_WRITE"
    assert rendered["returned"] == "DEFAULT"
    assert rendered["uniqueness"] == "NONE"
    display = next(sub for sub in rendered["subAttributes"] if sub["name"] == "display")
    assert display["mutability"] == "READ_ONLY"
    meta = upper_enums(registry.common.attribute("meta").to_dict())
    created = next(sub for sub in meta["subAttributes"] if sub["name"] == "created")
    assert created["type"] == "DATE_TIME"
    password = upper_enums(registry.core.attribute("password").to_dict())
    assert (password["mutability"], password["returned"]) == ("WRITE_ONLY", "NEVER")


def test_a_urn_followed_by_a_dot_names_its_attribute(registry):
    """WSO2 My Account: ``urn:scim:wso2:schema.isReadOnlyUser`` means ``urn:scim:wso2:schema:isReadOnlyUser``."""
    for sep in (":", "."):
        assert parse_attribute_list(f"{WSO2_URN}{sep}country", registry) == {(f"{WSO2_URN}:country".lower(), None)}
        assert parse_attribute_list(f"{ENTERPRISE_URN}{sep}manager.displayName", registry) == {
            (f"{ENTERPRISE_URN}:manager".lower(), "displayname")
        }


def _odd_cases() -> list[dict[str, Any]]:
    """Resources whose shapes the per-registry plan of a selector-less request must treat as
    the rule-by-rule projection does: names in any case (the first of two spellings wins),
    scalars where objects belong, empty values, unknown members."""
    full = resource()
    mixed = {key.upper() if key in ("nickName", "name") else key: value for key, value in full.items()}
    return [
        full,
        mixed,
        {**full, "nickname": "second spelling", "NICKNAME": "third"},
        {**full, "name": "not an object", "emails": ["plain@example.com", {}, None, {"VALUE": "x@y"}]},
        {**full, "name": {}, "emails": [], ENTERPRISE_URN: {"manager": {}, "unknown": 1}},
        {**full, "addresses": [{"type": "work", "Street_unknown": "x"}], "x509Certificates": [{"value": "c"}]},
        {"id": "u-2", "schemas": [USER_URN], WSO2_URN: "not an object", "active": False, "password": "p"},
        {"id": "u-3"},
    ]


@pytest.mark.parametrize("index", range(len(_odd_cases())))
def test_the_default_plan_shows_what_the_rules_show(registry, index):
    from scim_me.core.projection import _project_selected

    document = _odd_cases()[index]
    expected = _project_selected(document, registry, set(), set())
    got = project(document, registry)
    assert got == expected
    assert list(got) == list(expected)  # the same member order
    assert project(document, registry) == expected  # the plan, cached, again


def test_complex_values_come_out_as_the_rules_show_them_whether_copied_or_not(registry):
    """``_pick`` hands a value in schema order with every member shown back as it is and copies
    the others: the text is what the rules give, members in schema order at every level."""
    import json
    from types import MappingProxyType

    from scim_me.core.projection import _project_selected

    in_order = {"value": "a@example.com", "display": "A", "type": "work", "primary": True}
    shuffled = {"primary": True, "type": "home", "value": "b@example.com"}
    spelled = {"Value": "c@example.com", "TYPE": "other"}
    unknown = {"value": "d@example.com", "unknown": 1}
    for emails in ([in_order], [shuffled, in_order], [spelled, unknown], [MappingProxyType(in_order)]):
        document = {"id": "u-1", "schemas": [USER_URN], "userName": "kim", "emails": emails}
        got = project(document, registry)
        expected = _project_selected(document, registry, set(), set())
        assert json.dumps(got) == json.dumps(expected)
        assert all(type(item) is dict for item in got["emails"])
    assert project({"id": "u", "emails": [in_order]}, registry)["emails"] == [in_order]

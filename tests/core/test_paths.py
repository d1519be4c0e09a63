"""Unit tests for PATCH path parsing and resolution (RFC 7644 §3.5.2 Figure 7, §3.10)."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from scim_me.core.filters import And
from scim_me.core.filters import Compare
from scim_me.core.paths import MAX_PATH_LENGTH
from scim_me.core.paths import filter_lookup
from scim_me.core.paths import parse_path
from scim_me.core.schemas import CORE_COMMON_URN
from scim_me.core.schemas import ENTERPRISE_URN
from scim_me.core.schemas import USER_URN
from scim_me.core.schemas import WSO2_URN
from scim_me.errors import InvalidFilterError
from scim_me.errors import InvalidPathError
from scim_me.errors import NoTargetError
from scim_me.errors import ScimError


def resolved(path):
    """(schema, attribute, sub-attribute) names of a resolved path, None where absent."""
    return (
        path.schema.id,
        path.attribute.name if path.attribute else None,
        path.sub.name if path.sub else None,
    )


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("userName", (USER_URN, "userName", None)),
        ("name.familyName", (USER_URN, "name", "familyName")),
        ("emails", (USER_URN, "emails", None)),
        ("emails.value", (USER_URN, "emails", "value")),
        ("NAME.GIVENNAME", (USER_URN, "name", "givenName")),
        ("  nickName  ", (USER_URN, "nickName", None)),
        ("externalId", (CORE_COMMON_URN, "externalId", None)),
        ("meta.lastModified", (CORE_COMMON_URN, "meta", "lastModified")),
        ("urn:ietf:params:scim:schemas:core:2.0:externalId", (CORE_COMMON_URN, "externalId", None)),
        ("urn:ietf:params:scim:schemas:core:2.0:User:userName", (USER_URN, "userName", None)),
        ("urn:ietf:params:scim:schemas:core:2.0:User:name.givenName", (USER_URN, "name", "givenName")),
        ("URN:IETF:PARAMS:SCIM:SCHEMAS:CORE:2.0:USER:name.givenName", (USER_URN, "name", "givenName")),
        ("urn:scim:wso2:schema:country", (WSO2_URN, "country", None)),
        ("urn:scim:wso2:schema", (WSO2_URN, None, None)),
        (f"{ENTERPRISE_URN}:manager.value", (ENTERPRISE_URN, "manager", "value")),
        (ENTERPRISE_URN, (ENTERPRISE_URN, None, None)),
        (f"{ENTERPRISE_URN.upper()}", (ENTERPRISE_URN, None, None)),
        ("groups.$ref", (USER_URN, "groups", "$ref")),
    ],
)
def test_valid_attribute_paths_resolve(registry, raw, expected):
    """RFC 7644 §3.10: attr, attr.sub, URN-qualified forms and a bare extension URN."""
    path = parse_path(raw, registry)
    assert resolved(path) == expected
    assert path.filter is None
    assert path.display == raw


@pytest.mark.parametrize(
    ("raw", "expected", "tree"),
    [
        ('emails[type eq "work"]', (USER_URN, "emails", None), Compare("eq", "type", "work")),
        ('emails[type eq "work"].value', (USER_URN, "emails", "value"), Compare("eq", "type", "work")),
        (
            'addresses[type eq "home" and primary eq true].locality',
            (USER_URN, "addresses", "locality"),
            And(Compare("eq", "type", "home"), Compare("eq", "primary", True)),
        ),
        (
            'urn:ietf:params:scim:schemas:core:2.0:User:emails[TYPE EQ "work"].VALUE',
            (USER_URN, "emails", "value"),
            Compare("eq", "TYPE", "work"),
        ),
        (
            'urn:scim:wso2:schema:emailAddresses[value sw "kim"]',
            (WSO2_URN, "emailAddresses", None),
            Compare("sw", "value", "kim"),
        ),
        ('emails[value eq "a]b"].value', (USER_URN, "emails", "value"), Compare("eq", "value", "a]b")),
        (
            r'emails[value eq "say \"]\" [x"]',
            (USER_URN, "emails", None),
            Compare("eq", "value", 'say "]" [x'),
        ),
        ('emails[emails.type eq "work"]', (USER_URN, "emails", None), Compare("eq", "type", "work")),
    ],
)
def test_value_paths_resolve_with_their_filter(registry, raw, expected, tree):
    """RFC 7644 §3.5.2: "The "valuePath" rule allows specific values of a complex multi-valued attribute to be selected."."""  # noqa: E501
    path = parse_path(raw, registry)
    assert resolved(path) == expected
    assert path.filter == tree


@pytest.mark.parametrize(
    "raw",
    [
        "name.givenName.extra",
        "name..givenName",
        ".name",
        "name.",
        "1name",
        "na me",
        "name-",
        "emails]",
        "em]ails",
        'emails[type eq "work"',
        'emails[type eq "work"]value',
        'emails[type eq "work"].value.extra',
        'emails[type eq "work"].',
        'emails[type eq "work"][type eq "home"]',
        'emails.value[type eq "work"]',
        'name[givenName eq "Kim"]',
        'nickName[value eq "x"]',
        "urn:scim:wso2:schema:",
        "urn:scim:wso2:schema:country:extra",
        f"{USER_URN}",
        f"{USER_URN}:",
        f'{WSO2_URN}[country eq "LK"]',
        f"{WSO2_URN}.country",
        "urn:example:unknown",
        "nosuch",
        "name.nosuch",
        'emails[nosuch eq "x"]',
    ],
)
def test_invalid_paths_are_invalid_path(registry, raw):
    """RFC 7644 §3.12 invalidPath: "The "path" attribute was invalid or malformed (see Figure 7)."."""
    with pytest.raises(InvalidPathError):
        parse_path(raw, registry)


@pytest.mark.parametrize("raw", [None, 5, ["emails"], {"path": "emails"}, True])
def test_a_path_that_is_not_a_string_is_invalid_path(registry, raw):
    with pytest.raises(InvalidPathError, match=r"^The path must be a string\.$"):
        parse_path(raw, registry)


@pytest.mark.parametrize("raw", ["", "   ", "\t"])
def test_an_empty_path_is_no_target(registry, raw):
    """WSO2 §1.6: "An empty path: 400 noTarget"."""
    with pytest.raises(NoTargetError, match=r"^Path is empty\.$"):
        parse_path(raw, registry)


@pytest.mark.parametrize(
    "raw",
    [
        "emails[type eq]",
        "emails[]",
        "emails[ ]",
        'emails[type eq "x" or]',
        'emails[primary co "x"]',
        "emails[(type pr]",
    ],
)
def test_malformed_filters_are_invalid_filter(registry, raw):
    """RFC 7644 §3.12 invalidFilter: "The specified filter syntax was invalid"."""
    with pytest.raises(InvalidFilterError):
        parse_path(raw, registry)


def test_path_length_limit_is_2_kib(registry):
    """Paths up to MAX_PATH_LENGTH (2 KiB) parse; one character more is invalidPath."""
    assert MAX_PATH_LENGTH == 2048
    head = 'emails[value eq "'
    longest = head + "a" * (MAX_PATH_LENGTH - len(head) - 2) + '"]'
    assert len(longest) == MAX_PATH_LENGTH
    assert parse_path(longest, registry).filter == Compare("eq", "value", "a" * (MAX_PATH_LENGTH - len(head) - 2))
    with pytest.raises(InvalidPathError) as caught:
        parse_path(longest[:-2] + 'a"]', registry)
    assert caught.value.detail == "The path is longer than 2048 characters."


@pytest.mark.parametrize("depth", [200, 1000])
def test_deeply_nested_parentheses_give_a_typed_error(registry, depth):
    """Nesting inside a 2 KiB path gives a SCIM error (or a result), never RecursionError."""
    raw = "emails[" + "(" * depth + 'type eq "work"' + ")" * depth + "]"
    assert len(raw) <= MAX_PATH_LENGTH
    try:
        path = parse_path(raw, registry)
    except InvalidFilterError as exc:
        assert exc.detail == "The filter is nested too deeply."
    else:
        assert path.filter == Compare("eq", "type", "work")


def test_deeply_nested_not_gives_a_typed_error_or_a_tree(registry):
    """A maximal chain of "not (" inside a path never escapes as RecursionError."""
    depth = (MAX_PATH_LENGTH - 30) // 6
    raw = "emails[" + "not (" * depth + 'type eq "work"' + ")" * depth + "]"
    try:
        parse_path(raw, registry)
    except ScimError as exc:
        assert exc.scim_type in ("invalidFilter", "invalidPath")


def test_filter_lookup_maps_value_to_a_primitive_attribute(registry):
    """A multi-valued primitive's implicit sub-attribute is "value"."""
    email_addresses = registry.extension(WSO2_URN).attribute("emailAddresses")
    emails = registry.core.attribute("emails")
    assert filter_lookup(email_addresses, "VALUE") is email_addresses
    assert filter_lookup(email_addresses, "type") is None
    assert filter_lookup(emails, "Type") is emails.sub("type")
    assert filter_lookup(emails, "nosuch") is None


@settings(max_examples=400, deadline=None, database=None)
@given(st.text(alphabet='emailsvalueurn:.[]()"\\ eqandornotpr0123', max_size=60))
def test_parse_path_raises_only_scim_errors(registry, raw):
    """Any string either resolves or fails with a typed SCIM error."""
    with contextlib.suppress(ScimError):
        parse_path(raw, registry)

"""Unit tests for value filters (RFC 7644 §3.4.2.2) as used inside PATCH paths."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from scim_me.core.filters import MAX_FILTER_LENGTH
from scim_me.core.filters import And
from scim_me.core.filters import Compare
from scim_me.core.filters import Not
from scim_me.core.filters import Or
from scim_me.core.filters import Present
from scim_me.core.filters import check_filter
from scim_me.core.filters import equality_terms
from scim_me.core.filters import matches
from scim_me.core.filters import parse_filter
from scim_me.core.paths import filter_lookup
from scim_me.core.schemas import WSO2_URN
from scim_me.core.schemas import Attribute
from scim_me.errors import InvalidFilterError
from scim_me.errors import InvalidPathError
from scim_me.errors import ScimError

A = Compare("eq", "type", "a")
B = Compare("eq", "type", "b")
C = Compare("eq", "type", "c")
D = Compare("eq", "type", "d")


def lookup_for(attribute):
    return lambda name: filter_lookup(attribute, name)


# --- parsing -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "tree"),
    [
        ('type eq "work"', Compare("eq", "type", "work")),
        ('type ne "work"', Compare("ne", "type", "work")),
        ('value co "x"', Compare("co", "value", "x")),
        ('value sw "x"', Compare("sw", "value", "x")),
        ('value ew "x"', Compare("ew", "value", "x")),
        ('value gt "x"', Compare("gt", "value", "x")),
        ('value ge "x"', Compare("ge", "value", "x")),
        ('value lt "x"', Compare("lt", "value", "x")),
        ('value le "x"', Compare("le", "value", "x")),
        ("type pr", Present("type")),
        ('type EQ "work"', Compare("eq", "type", "work")),
        ('type Eq "work" AND value Co "x"', And(Compare("eq", "type", "work"), Compare("co", "value", "x"))),
        ('not (type eq "work")', Not(Compare("eq", "type", "work"))),
        ('NOT(type eq "work")', Not(Compare("eq", "type", "work"))),
        ('((type eq "work"))', Compare("eq", "type", "work")),
        ('emails.type eq "work"', Compare("eq", "type", "work")),
    ],
)
def test_parse_forms(text, tree):
    """RFC 7644 §3.4.2.2: "Attribute names and attribute operators used in filters are case insensitive."."""
    assert parse_filter(text) == tree


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ('value eq "a]b"', "a]b"),
        (r'value eq "say \"hi\""', 'say "hi"'),
        (r'value eq "a\"]"', 'a"]'),
        (r'value eq "back\\slash"', "back\\slash"),
        (r'value eq "caf\u00e9"', "café"),
        ('value eq ""', ""),
        ("value eq 12", 12),
        ("value eq 0", 0),
        ("value eq -7", -7),
        ("value eq 1.5", 1.5),
        ("value eq -1.5e3", -1500.0),
        ("value eq 2E2", 200.0),
        ("value eq true", True),
        ("value eq false", False),
        ("value eq null", None),
    ],
)
def test_comparison_values_are_json_values(text, value):
    """RFC 7644 §3.4.2.2: "compValue" is built on the JSON (RFC 7159) value rules."""
    node = parse_filter(text)
    assert node == Compare("eq", "value", value)
    assert type(node.value) is type(value)


@pytest.mark.parametrize(
    ("text", "tree"),
    [
        ('type eq "a" or type eq "b" and type eq "c"', Or(A, And(B, C))),
        ('type eq "a" and type eq "b" or type eq "c"', Or(And(A, B), C)),
        ('type eq "a" and type eq "b" or type eq "c" and type eq "d"', Or(And(A, B), And(C, D))),
        ('type eq "a" or type eq "b" or type eq "c"', Or(Or(A, B), C)),
        ('(type eq "a" or type eq "b") and type eq "c"', And(Or(A, B), C)),
        ('type eq "a" and (type eq "b" or type eq "c")', And(A, Or(B, C))),
        ('not (type eq "a") and type eq "b"', And(Not(A), B)),
        ('not (type eq "a" or type eq "b")', Not(Or(A, B))),
    ],
)
def test_and_binds_tighter_than_or_and_grouping_wins(text, tree):
    """RFC 7644 §3.4.2.2: "Logical operators - where "not" takes precedence over "and", which takes precedence over "or""."""  # noqa: E501
    assert parse_filter(text) == tree


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "type",
        "type eq",
        'eq "x"',
        'type zz "x"',
        "type eq work",
        "type eq 'x'",
        'type eq "unterminated',
        'type eq "x" and',
        'and type eq "x"',
        '(type eq "x"',
        'type eq "x")',
        'type eq "x"]',
        'not type eq "x"',
        'type eq "x" not',
        "value eq 01",
        "value eq True",
        "value eq NULL",
        "value eq .5",
        r'value eq "bad \q escape"',
        'a.b.c eq "x"',
        'emails[type eq "x"]',
        'type eq "x" type eq "y"',
    ],
)
def test_invalid_filters_are_invalid_filter(text):
    """RFC 7644 §3.12 invalidFilter: "The specified filter syntax was invalid"."""
    with pytest.raises(InvalidFilterError):
        parse_filter(text)


def test_filter_length_limit():
    text = 'value eq "' + "a" * (MAX_FILTER_LENGTH - 11) + '"'
    assert len(text) == MAX_FILTER_LENGTH
    assert parse_filter(text).value == "a" * (MAX_FILTER_LENGTH - 11)
    with pytest.raises(InvalidFilterError, match="longer than 2048"):
        parse_filter('value eq "' + "a" * (MAX_FILTER_LENGTH - 10) + '"')


def test_deeply_nested_parentheses_are_a_typed_error():
    text = "(" * 1000 + 'type eq "x"' + ")" * 1000
    with pytest.raises(InvalidFilterError) as caught:
        parse_filter(text)
    assert caught.value.to_dict() == {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"],
        "status": "400",
        "scimType": "invalidFilter",
        "detail": "The filter is nested too deeply.",
    }


@settings(max_examples=400, deadline=None, database=None)
@given(st.text(alphabet='typevalu "\\()[].eqnotandrpsw0123-e', max_size=50))
def test_parse_filter_raises_only_scim_errors(text):
    """Any text either parses or fails with a typed SCIM error."""
    with contextlib.suppress(ScimError):
        parse_filter(text)


# --- checking against the schema ---------------------------------------------------------------


def test_check_filter_rejects_unknown_sub_attributes(registry):
    emails = registry.core.attribute("emails")
    with pytest.raises(InvalidPathError, match="nosuch"):
        check_filter(parse_filter('type eq "work" and not (nosuch pr)'), lookup_for(emails))


@pytest.mark.parametrize("op", ["gt", "ge", "lt", "le", "co", "sw", "ew"])
def test_ordering_and_substring_operators_are_illegal_on_booleans(registry, op):
    """RFC 7644 §3.4.2.2: "Boolean and Binary attributes SHALL cause a failed response (HTTP status code 400) with "scimType" of "invalidFilter"."."""  # noqa: E501
    emails = registry.core.attribute("emails")
    with pytest.raises(InvalidFilterError) as caught:
        check_filter(parse_filter(f"primary {op} true"), lookup_for(emails))
    assert caught.value.detail == f"The operator '{op}' is not supported for boolean."


@pytest.mark.parametrize("text", ["primary eq true", "primary ne false", "primary pr"])
def test_equality_and_presence_are_legal_on_booleans(registry, text):
    check_filter(parse_filter(text), lookup_for(registry.core.attribute("emails")))


# --- evaluation --------------------------------------------------------------------------------


WORK = {"value": "Kim@Work.example", "type": "work", "primary": True}
HOME = {"value": "kim@home.example", "type": "home", "primary": False}
BARE = {"value": "bare@x.example"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('value eq "KIM@WORK.EXAMPLE"', [True, False, False]),
        ('type ne "work"', [False, True, True]),
        ('value co "@HOME."', [False, True, False]),
        ('value sw "KIM"', [True, True, False]),
        ('value ew ".EXAMPLE"', [True, True, True]),
        ('value ew "kim@home.example"', [False, True, False]),
        ('type gt "home"', [True, False, False]),
        ('type ge "HOME"', [True, True, False]),
        ('type lt "WORK"', [False, True, False]),
        ('type le "work"', [True, True, False]),
        ("type pr", [True, True, False]),
        ("primary pr", [True, True, False]),
        ("primary eq false", [False, True, False]),
        ("primary ne true", [False, True, True]),
        ("type eq null", [False, False, True]),
        ("type ne null", [True, True, False]),
        ('not (type eq "work")', [False, True, True]),
        ('type eq "work" or type eq "home"', [True, True, False]),
        ('type eq "home" or type eq "work" and primary eq false', [False, True, False]),
        ('TYPE EQ "WORK"', [True, False, False]),
    ],
)
def test_matching_honours_case_exact_false(registry, text, expected):
    """RFC 7643 §2.2: "caseExact  A Boolean value that specifies whether or not a string attribute is case sensitive."."""  # noqa: E501
    lookup = lookup_for(registry.core.attribute("emails"))
    assert [matches(parse_filter(text), item, lookup) for item in (WORK, HOME, BARE)] == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('value eq "Ext-1"', True),
        ('value eq "ext-1"', False),
        ('value ne "ext-1"', True),
        ('value co "t-1"', True),
        ('value co "T-1"', False),
        ('value sw "E"', True),
        ('value sw "e"', False),
        ('value ew "t-1"', True),
        ('value gt "EXT"', True),
        ('value gt "ext"', False),
    ],
)
def test_matching_honours_case_exact_true(registry, text, expected):
    """RFC 7643 §2.2: "caseExact  A Boolean value that specifies whether or not a string attribute is case sensitive."."""  # noqa: E501
    external_id = registry.common.attribute("externalId")  # caseExact true in core-common.json
    assert external_id.case_exact
    assert matches(parse_filter(text), "Ext-1", lookup_for(external_id)) is expected


def test_matching_a_multi_valued_primitive_uses_value(registry):
    email_addresses = registry.extension(WSO2_URN).attribute("emailAddresses")
    lookup = lookup_for(email_addresses)
    assert matches(parse_filter('value eq "KIM@X.EXAMPLE"'), "kim@x.example", lookup)
    assert not matches(parse_filter('value eq "other@x.example"'), "kim@x.example", lookup)


@pytest.mark.parametrize(
    ("element", "present"),
    [
        ({"type": "work"}, True),
        ({"type": ""}, False),
        ({"type": None}, False),
        ({}, False),
        ({"TYPE": "x"}, True),
    ],
)
def test_present_needs_a_non_empty_value(registry, element, present):
    """RFC 7644 §3.4.2.2 pr: "If the attribute has a non-empty value ... there is a match."."""
    assert matches(parse_filter("type pr"), element, lookup_for(registry.core.attribute("emails"))) is present


NUMBERS = Attribute(
    name="keys",
    type="complex",
    schema="urn:test",
    multi_valued=True,
    sub_attributes={
        "size": Attribute(name="size", type="integer", schema="urn:test", parent="keys"),
        "ratio": Attribute(name="ratio", type="decimal", schema="urn:test", parent="keys"),
        "issued": Attribute(name="issued", type="dateTime", schema="urn:test", parent="keys"),
    },
)


@pytest.mark.parametrize(
    ("text", "element", "expected"),
    [
        ("size gt 300", {"size": 2048}, True),
        ("size lt 300", {"size": 2048}, False),
        ("size eq 2048.0", {"size": 2048}, True),
        ("size ge 2048", {"size": 2048}, True),
        ("size le 2047", {"size": 2048}, False),
        ("ratio gt 0.25", {"ratio": 0.5}, True),
        ("ratio lt -1", {"ratio": 0.5}, False),
        ('size eq "2048"', {"size": 2048}, False),
        ('size ne "2048"', {"size": 2048}, True),
        ("size co 2", {"size": 2048}, False),
        ('issued gt "2024-01-01T01:00:00+02:00"', {"issued": "2024-01-01T00:00:00Z"}, True),
        ('issued lt "2024-01-01T00:00:00Z"', {"issued": "2023-12-31T23:59:59.5Z"}, True),
        ('issued eq "2024-05-01T10:00:00Z"', {"issued": "2024-05-01T12:00:00+02:00"}, True),
        ('issued eq "2024-05-01T10:00:00Z"', {"issued": "2024-05-01T10:00:00"}, True),
        ('issued gt "2024-05-01T09:00:00Z"', {"issued": "2024-05-01T10:00:00"}, True),
        ('issued lt "2024-05-01T11:00:00"', {"issued": "2024-05-01T10:00:00Z"}, True),
    ],
)
def test_numbers_and_date_times_compare_by_value(text, element, expected):
    """RFC 7644 §3.4.2.2 gt: "For string attribute types, this is a lexicographical comparison, and for DateTime types, it is a chronological comparison."."""  # noqa: E501
    assert matches(parse_filter(text), element, lookup_for(NUMBERS)) is expected


def test_equality_terms_builds_a_value_from_an_eq_conjunction():
    assert equality_terms(parse_filter('type eq "work" and primary eq true')) == {
        "type": "work",
        "primary": True,
    }
    assert equality_terms(parse_filter('type eq "work"')) == {"type": "work"}
    assert equality_terms(parse_filter('type eq "work" or type eq "home"')) is None
    assert equality_terms(parse_filter('type ne "work"')) is None
    assert equality_terms(parse_filter("type eq null")) is None
    assert equality_terms(parse_filter('not (type eq "work")')) is None

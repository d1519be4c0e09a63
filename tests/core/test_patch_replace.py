"""PATCH "replace" (RFC 7644 §3.5.2.3) on a /Me user, and value-filter evaluation through PATCH paths."""

from __future__ import annotations

import pytest

from scim_me.core.schemas import CUSTOM_URN
from scim_me.core.schemas import WSO2_URN
from scim_me.errors import NoTargetError

HIT = "hit@match.example"

# Three emails to select from; emails.value and emails.type are caseExact false.
FILTER_EMAILS = [
    {"value": "Kim@Work.example", "type": "work", "primary": True},
    {"value": "kim@home.example", "type": "home"},
    {"value": "k.jensen@other.example", "type": "other"},
]

# Custom "keys": value is caseExact true, label caseExact false, size integer, issued dateTime.
FILTER_KEYS = [
    {"value": "AbC", "label": "Main", "size": 2048, "issued": "2024-01-01T00:00:00Z"},
    {"value": "abc", "label": "backup", "size": 4096, "issued": "2025-06-01T00:00:00"},
]


def _selected_emails(patch, user, value_filter):
    user["emails"] = [dict(item) for item in FILTER_EMAILS]
    result = patch({"op": "replace", "path": f"emails[{value_filter}].value", "value": HIT})
    return [index for index, item in enumerate(result["emails"]) if item.get("value") == HIT]


def _selected_keys(custom_patch, user, value_filter):
    user[CUSTOM_URN] = {"keys": [dict(item) for item in FILTER_KEYS]}
    result = custom_patch({"op": "replace", "path": f"{CUSTOM_URN}:keys[{value_filter}].label", "value": "HIT"})
    return [index for index, item in enumerate(result[CUSTOM_URN]["keys"]) if item.get("label") == "HIT"]


def test_replace_without_path_replaces_the_named_attributes(patch, user):
    """ "If the "path" parameter is omitted, the target is assumed to be the resource itself.  In this case, the "value" attribute SHALL contain a list of one or more attributes that are to be replaced." RFC 7644 §3.5.2.3"""  # noqa: E501
    # The RFC's example: all emails are replaced, nickname is set, other attributes are unaffected.
    emails = [
        {"value": "bjensen@example.com", "type": "work", "primary": True},
        {"value": "babs@jensen.org", "type": "home"},
    ]
    result = patch({"op": "replace", "value": {"emails": emails, "nickname": "Babs"}})
    assert result["emails"] == emails
    assert result["nickName"] == "Babs"
    assert {k: v for k, v in result.items() if k not in ("emails", "nickName")} == {
        k: v for k, v in user.items() if k != "emails"
    }


def test_replace_of_a_single_valued_attribute(patch):
    """ "...a single-value attribute, the attributes value is replaced." RFC 7644 §3.5.2.3"""
    assert patch({"op": "replace", "path": "displayName", "value": "Babs"})["displayName"] == "Babs"


def test_replace_of_a_multi_valued_attribute_without_filter_replaces_all_values(patch):
    """ "If the target location is a multi-valued attribute and no filter is specified, the attribute and all values are replaced." RFC 7644 §3.5.2.3"""  # noqa: E501
    new = [{"value": "+1 555 0100", "type": "work"}]
    assert patch({"op": "replace", "path": "phoneNumbers", "value": new})["phoneNumbers"] == new


@pytest.mark.parametrize(
    ("path", "value", "where"),
    [
        ("nickName", "Babs", ("nickName",)),
        ("name.middleName", "Q", ("name", "middleName")),
        ("urn:scim:wso2:schema:verifyEmail", True, (WSO2_URN, "verifyEmail")),
        ("ims", [{"value": "kim", "type": "xmpp"}], ("ims",)),
    ],
)
def test_replace_of_a_missing_attribute_is_an_add(patch, path, value, where):
    """ "If the target location path specifies an attribute that does not exist, the service provider SHALL treat the operation as an "add"." RFC 7644 §3.5.2.3"""  # noqa: E501
    result = patch({"op": "replace", "path": path, "value": value})
    for key in where:
        result = result[key]
    assert result == value


def test_replace_of_a_missing_extension_attribute_creates_the_extension(patch, user):
    """ "If the target location path specifies an attribute that does not exist, the service provider SHALL treat the operation as an "add"." RFC 7644 §3.5.2.3"""  # noqa: E501
    del user[WSO2_URN]
    assert patch({"op": "replace", "path": f"{WSO2_URN}:country", "value": "US"})[WSO2_URN] == {"country": "US"}


def test_replace_of_a_complex_attribute_leaves_unnamed_sub_attributes(patch):
    """ "If the target location specifies a complex attribute, a set of sub-attributes SHALL be specified in the "value" parameter, which replaces any existing values or adds where an attribute did not previously exist.  Sub-attributes that are not specified in the "value" parameter are left unchanged." RFC 7644 §3.5.2.3"""  # noqa: E501
    result = patch({"op": "replace", "path": "name", "value": {"givenName": "Babs", "middleName": "Q"}})
    assert result["name"] == {"givenName": "Babs", "familyName": "Jensen", "middleName": "Q"}


def test_replace_through_a_value_filter_replaces_the_matching_record(patch, user):
    """ "If the target location is a multi-valued attribute and a value selection ("valuePath") filter is specified that matches one or more values of the multi-valued attribute, then all matching record values SHALL be replaced." RFC 7644 §3.5.2.3"""  # noqa: E501
    # The RFC's example; setting primary on the work address clears it on the home address.
    work = {
        "type": "work",
        "streetAddress": "911 Universal City Plaza",
        "locality": "Hollywood",
        "region": "CA",
        "postalCode": "91608",
        "country": "US",
        "formatted": "911 Universal City Plaza\nHollywood, CA 91608 US",
        "primary": True,
    }
    result = patch({"op": "replace", "path": 'addresses[type eq "work"]', "value": work})
    assert result["addresses"] == [{**user["addresses"][0], "primary": False}, work]


def test_replace_through_a_value_filter_replaces_every_match(patch):
    """ "then all matching record values SHALL be replaced." RFC 7644 §3.5.2.3"""
    result = patch({"op": "replace", "path": 'addresses[country eq "LK"]', "value": {"country": "US"}})
    assert [a["country"] for a in result["addresses"]] == ["US", "US"]
    assert [a["locality"] for a in result["addresses"]] == ["Colombo", "Kandy"]


def test_replace_of_a_sub_attribute_of_filtered_records(patch):
    """ "If the target location is a complex multi-valued attribute with a value selection filter ("valuePath") and a specific sub-attribute (e.g., "addresses[type eq "work"].streetAddress"), the matching sub-attribute of all matching records is replaced." RFC 7644 §3.5.2.3"""  # noqa: E501
    path = 'addresses[type eq "work"].streetAddress'
    result = patch({"op": "replace", "path": path, "value": "1010 Broadway Ave"})
    assert [a.get("streetAddress") for a in result["addresses"]] == [None, "1010 Broadway Ave"]


@pytest.mark.parametrize(
    "path",
    [
        'emails[type eq "other"]',
        'emails[type eq "other"].value',
        'ims[type eq "xmpp"].value',
        'urn:scim:wso2:schema:emailAddresses[value eq "none@x.example"]',
    ],
)
def test_replace_through_a_filter_matching_nothing_is_no_target(patch, path):
    """ "If the target location is a multi-valued attribute for which a value selection filter ("valuePath") has been supplied and no record match was made, the service provider SHALL indicate failure by returning HTTP status code 400 and a "scimType" error code of "noTarget"." RFC 7644 §3.5.2.3"""  # noqa: E501
    with pytest.raises(NoTargetError) as caught:
        patch({"op": "replace", "path": path, "value": "x@y.example"})
    assert caught.value.to_dict() == {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"],
        "status": "400",
        "scimType": "noTarget",
        "detail": f"No value matched the filter in path: {path}",
    }


def test_replace_primary_through_a_filter_clears_the_other_primary(patch):
    """ "For multi-valued attributes, a PATCH operation that sets a value's "primary" sub-attribute to "true" SHALL cause the server to automatically set "primary" to "false" for any other values in the array." RFC 7644 §3.5.2"""  # noqa: E501
    result = patch({"op": "replace", "path": 'emails[type eq "home"].primary', "value": True})
    assert [e["primary"] for e in result["emails"]] == [False, True]


def test_replace_with_two_primaries_keeps_only_one(patch):
    """ "For multi-valued attributes, a PATCH operation that sets a value's "primary" sub-attribute to "true" SHALL cause the server to automatically set "primary" to "false" for any other values in the array." RFC 7644 §3.5.2"""  # noqa: E501
    emails = [{"value": "a@x.example", "primary": True}, {"value": "b@x.example", "primary": True}]
    result = patch({"op": "replace", "path": "emails", "value": emails})
    assert sum(e["primary"] is True for e in result["emails"]) == 1


@pytest.mark.parametrize("op", ["replace", "Replace", "REPLACE"])
def test_op_is_matched_case_insensitively(patch, op):
    """ "Each PATCH operation object MUST have exactly one "op" member, whose value indicates the operation to perform and MAY be one of "add", "remove", or "replace"." RFC 7644 §3.5.2"""  # noqa: E501
    assert patch({"op": op, "path": "displayName", "value": "Babs"})["displayName"] == "Babs"


@pytest.mark.parametrize(
    "operation",
    [
        {"op": "replace", "path": "password", "value": "n3w-Secret"},
        {"op": "replace", "path": "PASSWORD", "value": "n3w-Secret"},
        {"op": "replace", "value": {"password": "n3w-Secret"}},
    ],
)
def test_password_replace_lands_as_password(patch, operation):
    """ "This attribute is intended to be used as a means to specify an initial password when creating a new User or to reset an existing User's password." RFC 7643 §4.1.1"""  # noqa: E501
    result = patch(operation)
    assert result["password"] == "n3w-Secret"
    assert [key for key in result if key.lower() == "password"] == ["password"]


def test_replace_with_a_fully_qualified_core_path(patch):
    """ "For example, the fully qualified path for a User's givenName is "urn:ietf:params:scim:schemas:core:2.0:User:name.givenName"." RFC 7644 §3.10"""  # noqa: E501
    path = "urn:ietf:params:scim:schemas:core:2.0:User:name.givenName"
    assert patch({"op": "replace", "path": path, "value": "Babs"})["name"]["givenName"] == "Babs"


def test_replace_with_a_qualified_extension_path(patch):
    """ "In general, attributes are uniquely identified by prefixing the attribute name with its schema URN separated by a colon (":") character" RFC 7644 §3.10"""  # noqa: E501
    assert patch({"op": "replace", "path": "urn:scim:wso2:schema:country", "value": "US"})[WSO2_URN]["country"] == "US"


def test_replace_with_a_bare_extension_urn_path_keeps_unnamed_attributes(patch):
    """ "If the target location specifies a complex attribute, a set of sub-attributes SHALL be specified in the "value" parameter, which replaces any existing values or adds where an attribute did not previously exist.  Sub-attributes that are not specified in the "value" parameter are left unchanged." RFC 7644 §3.5.2.3"""  # noqa: E501
    result = patch({"op": "replace", "path": WSO2_URN, "value": {"country": "US"}})
    assert result[WSO2_URN] == {"country": "US", "accountLocked": False, "emailAddresses": ["kim@x.example"]}


def test_replace_without_path_accepts_extension_urn_keys(patch):
    """ "In this case, the "value" attribute SHALL contain a list of one or more attributes that are to be replaced." RFC 7644 §3.5.2.3"""  # noqa: E501
    value = {
        "urn:scim:wso2:schema": {"country": "US"},
        "urn:scim:wso2:schema:emailAddresses": ["new@x.example"],
    }
    result = patch({"op": "replace", "value": value})
    assert result[WSO2_URN] == {"country": "US", "accountLocked": False, "emailAddresses": ["new@x.example"]}


def test_replace_with_null_unassigns(patch):
    """ "Unassigned attributes, the null value, or empty array (in the case of a multi-valued attribute) SHALL be considered to be equivalent in "state"." RFC 7643 §2.5"""  # noqa: E501
    result = patch(
        {"op": "replace", "path": "displayName", "value": None},
        {"op": "replace", "path": "phoneNumbers", "value": []},
    )
    assert "displayName" not in result
    assert "phoneNumbers" not in result


@pytest.mark.parametrize(
    ("value_filter", "selected"),
    [
        ('type eq "work"', [0]),
        ('type ne "work"', [1, 2]),
        ('value co "@home."', [1]),
        ('value sw "kim@"', [0, 1]),
        ('value ew "other.example"', [2]),
        ('value ew "k.jensen@other.example"', [2]),
        ('type gt "other"', [0]),
        ('type ge "other"', [0, 2]),
        ('type lt "other"', [1]),
        ('type le "other"', [1, 2]),
        ("primary pr", [0]),
        ("primary eq true", [0]),
        ('not (type eq "work")', [1, 2]),
        ('type eq "work" or type eq "home"', [0, 1]),
        ('type eq "home" and value sw "kim"', [1]),
        ('(type eq "home" or type eq "work") and primary eq true', [0]),
    ],
)
def test_value_filter_operators_select_values(patch, user, value_filter, selected):
    """ "then all matching record values SHALL be replaced." RFC 7644 §3.5.2.3"""
    assert _selected_emails(patch, user, value_filter) == selected


def test_and_binds_tighter_than_or(patch, user):
    """ "Logical operators - where "not" takes precedence over "and", which takes precedence over "or"" RFC 7644 §3.4.2.2"""  # noqa: E501
    # home or (other and primary): selects the home email. (home or other) and primary would match nothing.
    assert _selected_emails(patch, user, 'type eq "home" or type eq "other" and primary eq true') == [1]
    assert _selected_emails(patch, user, 'primary eq true and type eq "other" or type eq "home"') == [1]


@pytest.mark.parametrize(
    ("value_filter", "selected"),
    [
        ('TYPE EQ "WORK"', [0]),
        ('value eq "kim@work.EXAMPLE"', [0]),
        ('value co "HOME"', [1]),
        ('value sw "KIM@"', [0, 1]),
        ('value ew ".EXAMPLE"', [0, 1, 2]),
        ('type le "OTHER"', [1, 2]),
    ],
)
def test_case_insensitive_attributes_compare_case_insensitively(patch, user, value_filter, selected):
    """ "caseExact  A Boolean value that specifies whether or not a string attribute is case sensitive." RFC 7643 §2.2"""  # noqa: E501
    assert _selected_emails(patch, user, value_filter) == selected


@pytest.mark.parametrize(
    ("value_filter", "selected"),
    [
        ('value eq "abc"', [1]),
        ('value eq "AbC"', [0]),
        ('value ne "abc"', [0]),
        ('value co "bC"', [0]),
        ('value sw "a"', [1]),
        ('value ew "C"', [0]),
        ('value gt "ABC"', [0, 1]),
        ('value lt "a"', [0]),
        ('label eq "MAIN"', [0]),
        ('label sw "BACK"', [1]),
    ],
)
def test_case_exact_attributes_compare_case_sensitively(custom_patch, user, value_filter, selected):
    """ "caseExact  A Boolean value that specifies whether or not a string attribute is case sensitive." RFC 7643 §2.2"""  # noqa: E501
    assert _selected_keys(custom_patch, user, value_filter) == selected


def test_case_exact_filter_without_an_exact_match_is_no_target(custom_patch, user):
    """ "The specified "path" did not yield an attribute or attribute value that could be operated on.  This occurs when the specified "path" value contains a filter that yields no match." RFC 7644 §3.12"""  # noqa: E501
    with pytest.raises(NoTargetError):
        _selected_keys(custom_patch, user, 'value eq "ABC"')


@pytest.mark.parametrize(
    ("value_filter", "selected"),
    [
        ("size eq 2048", [0]),
        ("size eq 2048.0", [0]),
        ("size gt 2048", [1]),
        ("size ge 2048", [0, 1]),
        ("size lt 4096", [0]),
        ("size le 4096", [0, 1]),
        ("size gt 300", [0, 1]),
        ('issued gt "2024-06-01T00:00:00Z"', [1]),
        ('issued gt "2024-01-01T01:00:00+02:00"', [0, 1]),
        ('issued lt "2024-06-01T00:00:00+02:00"', [0]),
        ('issued eq "2025-06-01T00:00:00Z"', [1]),
        ('issued ge "2024-01-01T00:00:00.000Z"', [0, 1]),
    ],
)
def test_numbers_and_date_times_compare_by_type(custom_patch, user, value_filter, selected):
    """ "For string attribute types, this is a lexicographical comparison, and for DateTime types, it is a chronological comparison." RFC 7644 §3.4.2.2"""  # noqa: E501
    # As strings "2048" < "300" and "...T00:00:00Z" < "...T01:00:00+02:00"; by type both orders flip.
    # The second key's "issued" has no offset and is read as UTC.
    assert _selected_keys(custom_patch, user, value_filter) == selected

"""PATCH "remove" (RFC 7644 §3.5.2.2) on a /Me user, through the pure engine."""

from __future__ import annotations

import pytest

from scim_me.core.schemas import ENTERPRISE_URN
from scim_me.core.schemas import WSO2_URN
from scim_me.errors import MutabilityError
from scim_me.errors import NoTargetError

ERROR_URN = "urn:ietf:params:scim:api:messages:2.0:Error"


@pytest.mark.parametrize(
    "operation",
    [{"op": "remove"}, {"op": "remove", "path": None}, {"op": "remove", "value": {"nickName": "Babs"}}],
)
def test_remove_without_path_is_no_target(patch, operation):
    """ "If "path" is unspecified, the operation fails with HTTP status code 400 and a "scimType" error code of "noTarget"." RFC 7644 §3.5.2.2"""  # noqa: E501
    with pytest.raises(NoTargetError) as caught:
        patch(operation)
    assert caught.value.to_dict() == {
        "schemas": [ERROR_URN],
        "status": "400",
        "scimType": "noTarget",
        "detail": "No path value specified for remove operation",
    }


def test_remove_of_a_single_valued_attribute_unassigns_it(patch):
    """ "If the target location is a single-value attribute, the attribute and its associated value is removed, and the attribute SHALL be considered unassigned." RFC 7644 §3.5.2.2"""  # noqa: E501
    assert "displayName" not in patch({"op": "remove", "path": "displayName"})


def test_remove_of_a_complex_attribute_unassigns_it(patch):
    """ "If the target location is a single-value attribute, the attribute and its associated value is removed, and the attribute SHALL be considered unassigned." RFC 7644 §3.5.2.2"""  # noqa: E501
    assert "name" not in patch({"op": "remove", "path": "name"})


def test_remove_of_a_multi_valued_attribute_removes_all_values(patch):
    """ "If the target location is a multi-valued attribute and no filter is specified, the attribute and all values are removed, and the attribute SHALL be considered unassigned." RFC 7644 §3.5.2.2"""  # noqa: E501
    assert "emails" not in patch({"op": "remove", "path": "emails"})


def test_remove_of_primitive_values_matched_by_a_value_filter(patch):
    """ "If the target location is a multi-valued attribute and a complex filter is specified comparing a "value", the values matched by the filter are removed." RFC 7644 §3.5.2.2"""  # noqa: E501
    first = patch({"op": "add", "path": f"{WSO2_URN}:emailAddresses", "value": ["second@x.example"]})
    path = f'{WSO2_URN}:emailAddresses[value eq "KIM@X.EXAMPLE"]'
    assert patch({"op": "remove", "path": path}, resource=first)[WSO2_URN]["emailAddresses"] == ["second@x.example"]


def test_removing_the_last_matched_value_unassigns_the_attribute(patch):
    """ "If no other values remain after removal of the selected values, the multi-valued attribute SHALL be considered unassigned." RFC 7644 §3.5.2.2"""  # noqa: E501
    result = patch({"op": "remove", "path": f'{WSO2_URN}:emailAddresses[value eq "kim@x.example"]'})
    assert "emailAddresses" not in result[WSO2_URN]


def test_remove_of_complex_records_matched_by_a_filter(patch, user):
    """ "If the target location is a complex multi-valued attribute and a complex filter is specified based on the attribute's sub-attributes, the matching records are removed." RFC 7644 §3.5.2.2"""  # noqa: E501
    # The RFC's example filter, adapted to this user's domain.
    result = patch({"op": "remove", "path": 'emails[type eq "work" and value ew "work.example"]'})
    assert result["emails"] == [user["emails"][1]]


def test_remove_of_a_single_record_selected_by_value(patch, user):
    """ "If the target location is a complex multi-valued attribute and a complex filter is specified based on the attribute's sub-attributes, the matching records are removed." RFC 7644 §3.5.2.2"""  # noqa: E501
    # The RFC removes one Group member with members[value eq "..."]; here one email.
    result = patch({"op": "remove", "path": 'emails[value eq "kim@home.example"]'})
    assert result["emails"] == [user["emails"][0]]


def test_remove_of_a_sub_attribute_of_matched_records(patch):
    """ "Sub-attributes whose values have been removed SHALL be considered unassigned." RFC 7644 §3.5.2.2"""
    result = patch({"op": "remove", "path": 'addresses[type eq "work"].locality'})
    assert result["addresses"][1] == {"type": "work", "country": "LK"}
    assert result["addresses"][0]["locality"] == "Colombo"


def test_remove_of_a_sub_attribute_of_a_complex_attribute(patch):
    """ "Sub-attributes whose values have been removed SHALL be considered unassigned." RFC 7644 §3.5.2.2"""
    assert patch({"op": "remove", "path": "name.givenName"})["name"] == {"familyName": "Jensen"}


def test_removing_every_record_unassigns_the_attribute(patch):
    """ "If the complex multi-valued attribute has no remaining records, the attribute SHALL be considered unassigned." RFC 7644 §3.5.2.2"""  # noqa: E501
    assert "addresses" not in patch({"op": "remove", "path": 'addresses[type eq "home" or type eq "work"]'})


def test_remove_then_add_replaces_all_values(patch):
    """ "If the target location is a multi-valued attribute and no filter is specified, the attribute and all values are removed, and the attribute SHALL be considered unassigned." RFC 7644 §3.5.2.2"""  # noqa: E501
    # The RFC's "replace all members of a group" example, as a remove followed by an add.
    new = [{"value": "babs@jensen.org", "type": "home"}]
    result = patch({"op": "remove", "path": "emails"}, {"op": "add", "path": "emails", "value": new})
    assert result["emails"] == new


def test_remove_with_a_value_removes_equal_values(patch, user):
    """ "If the target location is a multi-valued attribute and a complex filter is specified comparing a "value", the values matched by the filter are removed." RFC 7644 §3.5.2.2"""  # noqa: E501
    # Group clients (Entra ID) name the values to remove in "value" instead of a filter.
    result = patch({"op": "remove", "path": "emails", "value": [{"value": "KIM@HOME.EXAMPLE", "type": "home"}]})
    assert result["emails"] == [user["emails"][0]]


@pytest.mark.parametrize(
    "path",
    ['emails[type eq "other"]', 'emails[value co "nowhere"].value', 'ims[type eq "xmpp"]'],
)
def test_remove_through_a_filter_matching_nothing_is_no_target(patch, path):
    """ "The specified "path" did not yield an attribute or attribute value that could be operated on.  This occurs when the specified "path" value contains a filter that yields no match." RFC 7644 §3.12"""  # noqa: E501
    with pytest.raises(NoTargetError) as caught:
        patch({"op": "remove", "path": path})
    assert caught.value.to_dict() == {
        "schemas": [ERROR_URN],
        "status": "400",
        "scimType": "noTarget",
        "detail": f"No value matched the filter in path: {path}",
    }


@pytest.mark.parametrize(("path", "name"), [("userName", "userName"), ("USERNAME", "USERNAME")])
def test_removing_a_required_attribute_is_a_mutability_error(patch, path, name):
    """ "If an attribute is removed or becomes unassigned and is defined as a required attribute or a read-only attribute, the server SHALL return an HTTP response status code and a JSON detail error response as defined in Section 3.12, with a "scimType" error code of "mutability"." RFC 7644 §3.5.2.2"""  # noqa: E501
    with pytest.raises(MutabilityError) as caught:
        patch({"op": "remove", "path": path})
    assert caught.value.to_dict() == {
        "schemas": [ERROR_URN],
        "status": "400",
        "scimType": "mutability",
        "detail": f"Can not remove a required attribute or a read-only attribute: {name}",
    }


@pytest.mark.parametrize(
    "path",
    [
        "groups",
        'groups[value eq "g-1"]',
        "roles",
        "id",
        "meta",
        "urn:scim:wso2:schema:accountLocked",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value",
        'emails[type eq "work"].display',
    ],
)
def test_removing_a_read_only_attribute_is_a_mutability_error(patch, path):
    """ "If an attribute is removed or becomes unassigned and is defined as a required attribute or a read-only attribute, the server SHALL return an HTTP response status code and a JSON detail error response as defined in Section 3.12, with a "scimType" error code of "mutability"." RFC 7644 §3.5.2.2"""  # noqa: E501
    with pytest.raises(MutabilityError) as caught:
        patch({"op": "remove", "path": path})
    assert caught.value.to_dict() == {
        "schemas": [ERROR_URN],
        "status": "400",
        "scimType": "mutability",
        "detail": f"Can not remove a required attribute or a read-only attribute: {path}",
    }


@pytest.mark.parametrize("op", ["remove", "Remove", "REMOVE"])
def test_op_is_matched_case_insensitively(patch, op):
    """ "Each PATCH operation object MUST have exactly one "op" member, whose value indicates the operation to perform and MAY be one of "add", "remove", or "replace"." RFC 7644 §3.5.2"""  # noqa: E501
    assert "displayName" not in patch({"op": op, "path": "displayName"})


def test_remove_with_qualified_and_mixed_case_paths(patch):
    """ "All facets (URN, attribute, and sub-attribute name) of the fully encoded attribute name are case insensitive." RFC 7644 §3.10"""  # noqa: E501
    result = patch(
        {"op": "remove", "path": "URN:SCIM:WSO2:SCHEMA:COUNTRY"},
        {"op": "remove", "path": "urn:ietf:params:scim:schemas:core:2.0:User:name.familyName"},
        {"op": "remove", "path": 'EMAILS[TYPE EQ "WORK"]'},
    )
    assert "country" not in result[WSO2_URN]
    assert result["name"] == {"givenName": "Kim"}
    assert [e["type"] for e in result["emails"]] == ["home"]


def test_remove_of_a_bare_extension_urn_keeps_read_only_values(patch, user):
    """ "For example, a client MUST NOT modify an attribute that has mutability "readOnly" or "immutable"." RFC 7644 §3.5.2"""  # noqa: E501
    result = patch({"op": "remove", "path": WSO2_URN}, {"op": "remove", "path": ENTERPRISE_URN})
    assert result[WSO2_URN] == {"accountLocked": False}
    assert result[ENTERPRISE_URN] == user[ENTERPRISE_URN]


def test_remove_of_an_unset_attribute_succeeds(patch, user):
    """ "If the target location is a single-value attribute, the attribute and its associated value is removed, and the attribute SHALL be considered unassigned." RFC 7644 §3.5.2.2"""  # noqa: E501
    assert patch({"op": "remove", "path": "nickName"}, {"op": "remove", "path": "ims"}) == user


def test_remove_with_a_value_names_values_by_the_sub_attributes_given(patch):
    """ "If the target location is a multi-valued attribute ... the attribute and all values are removed" RFC 7644 §3.5.2.2; with a "value", only the values it names go (the Group "members" example's form, applied to emails)."""  # noqa: E501
    result = patch({"op": "remove", "path": "emails", "value": [{"value": "KIM@home.example"}]})
    assert [e["value"] for e in result["emails"]] == ["kim@work.example"]

"""PATCH "add" (RFC 7644 §3.5.2.1) on a /Me user, through the pure engine."""

from __future__ import annotations

import pytest

from scim_me.core.schemas import CUSTOM_URN
from scim_me.core.schemas import WSO2_URN
from scim_me.errors import NoTargetError


def test_add_without_path_adds_attributes_to_the_resource(patch, user):
    """ "If omitted, the target location is assumed to be the resource itself." RFC 7644 §3.5.2.1"""
    # The RFC's own example, "nickname" spelled as in the RFC.
    value = {"emails": [{"value": "babs@jensen.org", "type": "home"}], "nickname": "Babs"}
    result = patch({"op": "add", "value": value})
    assert result["emails"] == [*user["emails"], {"value": "babs@jensen.org", "type": "home"}]
    assert result["nickName"] == "Babs"
    assert "nickname" not in result


def test_add_creates_a_missing_attribute(patch, user):
    """ "If the target location does not exist, the attribute and value are added." RFC 7644 §3.5.2.1"""
    assert "nickName" not in user
    assert patch({"op": "add", "path": "nickName", "value": "Babs"})["nickName"] == "Babs"


def test_add_to_a_complex_attribute_merges_sub_attributes(patch):
    """ "If the target location specifies a complex attribute, a set of sub-attributes SHALL be specified in the "value" parameter." RFC 7644 §3.5.2.1"""  # noqa: E501
    result = patch({"op": "add", "path": "name", "value": {"middleName": "Q", "givenName": "Kimberly"}})
    assert result["name"] == {"givenName": "Kimberly", "familyName": "Jensen", "middleName": "Q"}


def test_add_to_a_multi_valued_attribute_appends(patch, user):
    """ "If the target location specifies a multi-valued attribute, a new value is added to the attribute." RFC 7644 §3.5.2.1"""  # noqa: E501
    new = [{"value": "+94 77 000 0000", "type": "work"}, {"value": "+94 77 111 1111", "type": "fax"}]
    result = patch({"op": "add", "path": "phoneNumbers", "value": new})
    assert result["phoneNumbers"] == [*user["phoneNumbers"], *new]


def test_add_to_a_single_valued_attribute_replaces_it(patch):
    """ "If the target location specifies a single-valued attribute, the existing value is replaced." RFC 7644 §3.5.2.1"""  # noqa: E501
    assert patch({"op": "add", "path": "displayName", "value": "Babs"})["displayName"] == "Babs"


def test_add_of_a_value_already_present_changes_nothing(patch, user):
    """ "If the target location already contains the value specified, no changes SHOULD be made to the resource" RFC 7644 §3.5.2.1"""  # noqa: E501
    assert patch({"op": "add", "path": "emails", "value": [dict(user["emails"][1])]}) == user


def test_add_does_not_duplicate_a_value_equal_under_case_insensitive_rules(patch):
    """ "If the target location already contains the value specified, no changes SHOULD be made to the resource" RFC 7644 §3.5.2.1"""  # noqa: E501
    # emails.value is caseExact false, so KIM@HOME.EXAMPLE is the value already stored.
    result = patch({"op": "add", "path": "emails", "value": [{"value": "KIM@HOME.EXAMPLE", "type": "home"}]})
    assert len(result["emails"]) == 2


def test_add_keeps_values_that_differ_only_in_case_when_case_exact(custom_patch):
    """ "caseExact  A Boolean value that specifies whether or not a string attribute is case sensitive." RFC 7643 §2.2"""  # noqa: E501
    first = custom_patch({"op": "add", "path": f"{CUSTOM_URN}:badges", "value": ["abc"]})
    result = custom_patch({"op": "add", "path": f"{CUSTOM_URN}:badges", "value": ["ABC", "abc"]}, resource=first)
    assert result[CUSTOM_URN]["badges"] == ["abc", "ABC"]


def test_add_to_a_multi_valued_primitive_skips_equal_values(patch):
    """ "If the target location specifies a multi-valued attribute, a new value is added to the attribute." RFC 7644 §3.5.2.1"""  # noqa: E501
    value = ["KIM@X.EXAMPLE", "new@x.example", "New@X.example"]
    result = patch({"op": "add", "path": f"{WSO2_URN}:emailAddresses", "value": value})
    assert result[WSO2_URN]["emailAddresses"] == ["kim@x.example", "new@x.example"]


def test_add_accepts_a_quoted_value_for_a_multi_valued_complex_attribute(patch):
    """ "The value MAY be a quoted value, or it may be a JSON object containing the sub-attributes of the complex attribute specified in the operation's "path"." RFC 7644 §3.5.2.1"""  # noqa: E501
    result = patch({"op": "add", "path": "emails", "value": "babs@jensen.org"})
    assert result["emails"][-1] == {"value": "babs@jensen.org"}


@pytest.mark.parametrize("op", ["add", "Add", "ADD", "aDd"])
def test_op_is_matched_case_insensitively(patch, op):
    """ "Each PATCH operation object MUST have exactly one "op" member, whose value indicates the operation to perform and MAY be one of "add", "remove", or "replace"." RFC 7644 §3.5.2"""  # noqa: E501
    assert patch({"op": op, "path": "nickName", "value": "Babs"})["nickName"] == "Babs"


def test_add_to_a_sub_attribute_path(patch):
    """ "Complex attributes' sub-attributes are referenced via nested dot ('.') notation, i.e., {urn}:{Attribute name}.{Sub-Attribute name}." RFC 7644 §3.10"""  # noqa: E501
    result = patch({"op": "add", "path": "name.honorificPrefix", "value": "Dr."})
    assert result["name"] == {"givenName": "Kim", "familyName": "Jensen", "honorificPrefix": "Dr."}


def test_add_to_a_sub_attribute_creates_the_parent(patch, user):
    """ "If the target location specifies an attribute that does not exist (has no value), the attribute is added with the new value." RFC 7644 §3.5.2.1"""  # noqa: E501
    del user["name"]
    assert patch({"op": "add", "path": "name.givenName", "value": "Kim"})["name"] == {"givenName": "Kim"}


def test_add_with_a_fully_qualified_core_path(patch):
    """ "For example, the fully qualified path for a User's givenName is "urn:ietf:params:scim:schemas:core:2.0:User:name.givenName"." RFC 7644 §3.10"""  # noqa: E501
    path = "urn:ietf:params:scim:schemas:core:2.0:User:name.givenName"
    assert patch({"op": "add", "path": path, "value": "Kimberly"})["name"]["givenName"] == "Kimberly"


def test_add_with_a_qualified_extension_path(patch):
    """ "In general, attributes are uniquely identified by prefixing the attribute name with its schema URN separated by a colon (":") character" RFC 7644 §3.10"""  # noqa: E501
    result = patch({"op": "add", "path": "urn:scim:wso2:schema:country", "value": "US"})
    assert result[WSO2_URN] == {"country": "US", "accountLocked": False, "emailAddresses": ["kim@x.example"]}
    assert "country" not in {k for k in result if ":" not in k}


def test_add_with_a_qualified_extension_path_creates_the_extension(patch, user):
    """ "If the target location does not exist, the attribute and value are added." RFC 7644 §3.5.2.1"""
    del user[WSO2_URN]
    result = patch({"op": "add", "path": "urn:scim:wso2:schema:verifyEmail", "value": True})
    assert result[WSO2_URN] == {"verifyEmail": True}


def test_add_with_a_bare_extension_urn_path_takes_an_object(patch):
    """ "The value MAY be a quoted value, or it may be a JSON object containing the sub-attributes of the complex attribute specified in the operation's "path"." RFC 7644 §3.5.2.1"""  # noqa: E501
    result = patch({"op": "add", "path": WSO2_URN, "value": {"country": "US", "preferredChannel": "EMAIL"}})
    assert result[WSO2_URN]["country"] == "US"
    assert result[WSO2_URN]["preferredChannel"] == "EMAIL"
    assert result[WSO2_URN]["emailAddresses"] == ["kim@x.example"]


def test_add_without_path_accepts_extension_urn_keys(patch):
    """ "The "value" parameter contains a set of attributes to be added to the resource." RFC 7644 §3.5.2.1"""
    value = {
        "urn:scim:wso2:schema": {"country": "US"},
        "urn:scim:wso2:schema:preferredChannel": "SMS",
        "urn:ietf:params:scim:schemas:core:2.0:User": {"nickName": "Babs"},
        "urn:ietf:params:scim:schemas:core:2.0:User:name.middleName": "Q",
    }
    result = patch({"op": "add", "value": value})
    assert result[WSO2_URN]["country"] == "US"
    assert result[WSO2_URN]["preferredChannel"] == "SMS"
    assert result["nickName"] == "Babs"
    assert result["name"]["middleName"] == "Q"


def test_attribute_names_in_paths_are_case_insensitive(patch):
    """ "All facets (URN, attribute, and sub-attribute name) of the fully encoded attribute name are case insensitive." RFC 7644 §3.10"""  # noqa: E501
    result = patch(
        {"op": "add", "path": "NAME.GIVENNAME", "value": "A"},
        {"op": "add", "path": "URN:SCIM:WSO2:SCHEMA:COUNTRY", "value": "US"},
        {"op": "add", "path": 'Emails[TYPE eq "work"].VALUE', "value": "b@x.example"},
    )
    assert result["name"]["givenName"] == "A"
    assert result[WSO2_URN]["country"] == "US"
    assert result["emails"][0]["value"] == "b@x.example"
    assert not any(key in result for key in ("NAME", "Emails", "URN:SCIM:WSO2:SCHEMA"))


def test_attribute_names_in_a_path_less_value_are_case_insensitive(patch):
    """ "Attribute names are case insensitive" RFC 7643 §2.1"""
    value = {"NICKNAME": "Babs", "Name": {"MiddleName": "Q"}, "URN:SCIM:WSO2:SCHEMA": {"Country": "US"}}
    result = patch({"op": "add", "value": value})
    assert result["nickName"] == "Babs"
    assert result["name"]["middleName"] == "Q"
    assert result[WSO2_URN]["country"] == "US"
    assert not any(key in result for key in ("NICKNAME", "Name", "URN:SCIM:WSO2:SCHEMA"))


def test_add_through_a_value_filter_sets_the_sub_attribute_of_matching_values(patch):
    """ "The "valuePath" rule allows specific values of a complex multi-valued attribute to be selected." RFC 7644 §3.5.2"""  # noqa: E501
    result = patch({"op": "add", "path": 'emails[type eq "work"].value', "value": "kim@new.example"})
    assert [e["value"] for e in result["emails"]] == ["kim@new.example", "kim@home.example"]


def test_add_through_a_conjunctive_value_filter(patch):
    """ "The "valuePath" rule allows specific values of a complex multi-valued attribute to be selected." RFC 7644 §3.5.2"""  # noqa: E501
    path = 'addresses[type eq "home" and primary eq true].locality'
    result = patch({"op": "add", "path": path, "value": "Galle"})
    assert [a["locality"] for a in result["addresses"]] == ["Galle", "Kandy"]


def test_add_through_an_unmatched_equality_filter_creates_the_value(patch, user):
    """ "If the target location does not exist, the attribute and value are added." RFC 7644 §3.5.2.1"""
    # patch.py decision: an eq-only filter that matches nothing seeds the new value (Entra ID style).
    result = patch({"op": "add", "path": 'emails[type eq "other"].value', "value": "kim@other.example"})
    assert result["emails"] == [*user["emails"], {"type": "other", "value": "kim@other.example"}]


def test_add_through_an_unmatched_non_equality_filter_is_no_target(patch):
    """ "The specified "path" did not yield an attribute or attribute value that could be operated on.  This occurs when the specified "path" value contains a filter that yields no match." RFC 7644 §3.12"""  # noqa: E501
    with pytest.raises(NoTargetError) as caught:
        patch({"op": "add", "path": 'emails[value co "nowhere"].type', "value": "other"})
    assert caught.value.to_dict() == {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"],
        "status": "400",
        "scimType": "noTarget",
        "detail": 'No value matched the filter in path: emails[value co "nowhere"].type',
    }


def test_adding_a_primary_value_clears_the_other_primary(patch):
    """ "For multi-valued attributes, a PATCH operation that sets a value's "primary" sub-attribute to "true" SHALL cause the server to automatically set "primary" to "false" for any other values in the array." RFC 7644 §3.5.2"""  # noqa: E501
    new = {"value": "babs@jensen.org", "type": "other", "primary": True}
    result = patch({"op": "add", "path": "emails", "value": [new]})
    assert [e.get("primary") for e in result["emails"]] == [False, None, True]


def test_adding_a_primary_value_without_path_clears_the_other_primary(patch):
    """ "For multi-valued attributes, a PATCH operation that sets a value's "primary" sub-attribute to "true" SHALL cause the server to automatically set "primary" to "false" for any other values in the array." RFC 7644 §3.5.2"""  # noqa: E501
    new = {"type": "other", "locality": "Jaffna", "primary": True}
    result = patch({"op": "add", "value": {"addresses": [new]}})
    assert [a.get("primary") for a in result["addresses"]] == [False, None, True]


def test_setting_primary_on_an_existing_value_through_a_filter_wins(patch):
    """ "For multi-valued attributes, a PATCH operation that sets a value's "primary" sub-attribute to "true" SHALL cause the server to automatically set "primary" to "false" for any other values in the array." RFC 7644 §3.5.2"""  # noqa: E501
    result = patch({"op": "add", "path": 'emails[type eq "home"].primary', "value": True})
    assert [e["primary"] for e in result["emails"]] == [False, True]


@pytest.mark.parametrize(
    "operation",
    [
        {"op": "add", "path": "password", "value": "n3w-Secret"},
        {"op": "add", "value": {"password": "n3w-Secret"}},
        {"op": "add", "value": {"PassWord": "n3w-Secret"}},
        {"op": "add", "value": {"urn:ietf:params:scim:schemas:core:2.0:User:password": "n3w-Secret"}},
    ],
)
def test_password_add_lands_as_password(patch, operation):
    """ "This attribute is intended to be used as a means to specify an initial password when creating a new User or to reset an existing User's password." RFC 7643 §4.1.1"""  # noqa: E501
    result = patch(operation)
    assert result["password"] == "n3w-Secret"
    assert [key for key in result if key.lower() == "password"] == ["password"]


def test_immutable_attribute_may_be_added_when_it_had_no_value(custom_patch):
    """ "However, a client MAY "add" a value to an "immutable" attribute if the attribute had no previous value." RFC 7644 §3.5.2"""  # noqa: E501
    result = custom_patch({"op": "add", "path": f"{CUSTOM_URN}:badgeId", "value": "B-7"})
    assert result[CUSTOM_URN] == {"badgeId": "B-7"}


def test_user_name_may_be_set_when_it_had_no_value(patch, user):
    """ "However, a client MAY "add" a value to an "immutable" attribute if the attribute had no previous value." RFC 7644 §3.5.2"""  # noqa: E501
    del user["userName"]
    assert patch({"op": "add", "path": "userName", "value": "kim"})["userName"] == "kim"


def test_add_does_not_modify_the_input_resource(patch, user):
    """ "If a single operation encounters an error condition, the original SCIM resource MUST be restored" RFC 7644 §3.5.2"""  # noqa: E501
    before = repr(user)
    patch({"op": "add", "path": "emails", "value": [{"value": "x@y.example", "primary": True}]})
    assert repr(user) == before


def test_add_of_an_equal_value_keeps_the_stored_spelling(patch):
    """ "If the target location already contains the value specified, no changes SHOULD be made to the resource." RFC 7644 §3.5.2.1"""  # noqa: E501
    result = patch({"op": "add", "path": "emails", "value": [{"value": "KIM@HOME.example", "type": "home"}]})
    assert [e["value"] for e in result["emails"]] == ["kim@work.example", "kim@home.example"]

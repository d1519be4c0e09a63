"""PATCH failures: each asserts the full RFC 7644 §3.12 error body, as WSO2 renders it (§1.6, §1.9, §4.3)."""

from __future__ import annotations

import copy

import pytest

from scim_me.core.patch import apply_patch
from scim_me.core.patch import patch_operations
from scim_me.core.schemas import CUSTOM_URN
from scim_me.core.schemas import WSO2_URN
from scim_me.errors import ScimError

ERROR_URN = "urn:ietf:params:scim:api:messages:2.0:Error"


def body(scim_type, detail):
    return {"schemas": [ERROR_URN], "status": "400", "scimType": scim_type, "detail": detail}


def error_of(run, *args, **kwargs):
    with pytest.raises(ScimError) as caught:
        run(*args, **kwargs)
    return caught.value.to_dict()


# --- readOnly and immutable attributes ---------------------------------------------------------


def test_read_only_attributes_in_a_path_less_value_are_dropped_silently(patch, user):
    """WSO2 §1.9: readOnly attributes in a whole-object update are dropped and the stored value kept."""
    value = {
        "id": "forged-id",
        "meta": {"created": "2020-01-01T00:00:00Z", "version": "W/1"},
        "groups": [{"value": "g-admins"}],
        "roles": [{"value": "superuser"}],
        "active": False,
        "urn:scim:wso2:schema": {"accountLocked": True, "accountState": "UNLOCKED", "country": "US"},
        "urn:scim:wso2:schema:failedLoginAttempts": 0,
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "Sales"},
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value": "m-2",
        "emails": [{"value": "new@x.example", "display": "forged"}],
    }
    for op in ("add", "replace"):
        result = patch({"op": op, "value": value})
        expected = copy.deepcopy(user)
        expected[WSO2_URN]["country"] = "US"
        new_email = {"value": "new@x.example"}
        expected["emails"] = [*user["emails"], new_email] if op == "add" else [new_email]
        assert result == expected


def test_read_only_attributes_inside_a_bare_extension_path_value_are_dropped(patch, user):
    """WSO2 §1.9: this also applies to READ_ONLY attributes of extensions such as accountState."""
    result = patch({"op": "replace", "path": WSO2_URN, "value": {"accountLocked": True, "accountState": "X"}})
    assert result == user


@pytest.mark.parametrize(
    ("op", "path", "value", "verb"),
    [
        ("add", "groups", [{"value": "g-2"}], "update"),
        ("replace", "groups", [], "replace"),
        ("add", "id", "x", "update"),
        ("replace", "meta.created", "2020-01-01T00:00:00Z", "replace"),
        ("replace", "urn:scim:wso2:schema:accountLocked", True, "replace"),
        ("add", "urn:scim:wso2:schema:failedLoginAttempts", 0, "update"),
        ("replace", "roles", [{"value": "superuser"}], "replace"),
        ("add", 'roles[value eq "admin"].display', "x", "update"),
        ("replace", "active", True, "replace"),
        ("replace", 'emails[type eq "work"].display', "x", "replace"),
        (
            "replace",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value",
            "m-2",
            "replace",
        ),
        ("add", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department", "Sales", "update"),
    ],
)
def test_explicit_path_to_a_read_only_attribute_is_mutability(patch, op, path, value, verb):
    """WSO2 §1.9: an explicit path to a READ_ONLY attribute gives 400 mutability."""
    assert error_of(patch, {"op": op, "path": path, "value": value}) == body(
        "mutability", f"Can not {verb} a immutable attribute or a read-only attribute: {path}"
    )


@pytest.mark.parametrize(
    "operation",
    [
        {"op": "replace", "path": "userName", "value": "kimberly"},
        {"op": "add", "path": "userName", "value": "kimberly"},
        {"op": "replace", "path": "urn:ietf:params:scim:schemas:core:2.0:User:userName", "value": "kimberly"},
        {"op": "replace", "value": {"userName": "kimberly"}},
        {"op": "add", "value": {"urn:ietf:params:scim:schemas:core:2.0:User": {"UserName": "kimberly"}}},
        {"op": "replace", "path": "userName", "value": None},
        {"op": "replace", "value": {"userName": None}},
    ],
)
def test_changing_user_name_is_mutability(patch, operation):
    """WSO2 §1.7/§4.3: changing userName gives 400 mutability "Attribute userName cannot be modified."."""
    assert error_of(patch, operation) == body("mutability", "Attribute userName cannot be modified.")


def test_setting_user_name_to_its_current_value_is_allowed(patch, user):
    """Only a change of userName is refused."""
    assert patch({"op": "replace", "path": "userName", "value": "kim"}) == user


def test_changing_an_immutable_attribute_is_mutability(custom_patch, user):
    """RFC 7644 §3.5.2: a client MUST NOT modify an attribute that has mutability "immutable"."""
    user[CUSTOM_URN] = {"badgeId": "B-7"}
    assert custom_patch({"op": "replace", "path": f"{CUSTOM_URN}:badgeId", "value": "B-7"}) == user
    for operation in (
        {"op": "replace", "path": f"{CUSTOM_URN}:badgeId", "value": "B-8"},
        {"op": "replace", "value": {CUSTOM_URN: {"badgeId": "B-8"}}},
        {"op": "remove", "path": f"{CUSTOM_URN}:badgeId"},
    ):
        assert error_of(custom_patch, operation) == body("mutability", "Attribute badgeId cannot be modified.")


def test_removing_a_required_attribute_is_mutability(patch):
    """RFC 7644 §3.5.2.2: removing a required attribute gives scimType mutability."""
    assert error_of(patch, {"op": "remove", "path": "userName"}) == body(
        "mutability", "Can not remove a required attribute or a read-only attribute: userName"
    )


# --- values of the wrong type ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "value", "detail"),
    [
        ("nickName", 5, "nickName must be a string."),
        ("nickName", True, "nickName must be a string."),
        ("nickName", {"value": "x"}, "nickName must be a single string value."),
        ("name", "Kim", "name must be a complex (JSON object) value."),
        ("name.givenName", ["Kim"], "name.givenName must be a single string value."),
        ("emails", [5], "emails must be a complex (JSON object) value."),
        ("emails", [{"value": 5}], "emails.value must be a string."),
        ('emails[type eq "work"].primary', "true", "emails.primary must be a boolean."),
        ("urn:scim:wso2:schema:verifyEmail", "yes", "verifyEmail must be a boolean."),
        ("urn:scim:wso2:schema:emailAddresses", [1], "emailAddresses must be a string."),
        ("urn:scim:wso2:schema", "LK", "The value of urn:scim:wso2:schema must be a JSON object."),
    ],
)
def test_wrong_json_types_are_invalid_value(patch, path, value, detail):
    """RFC 7644 §3.12 invalidValue: "not compatible with the operation or attribute type"."""
    assert error_of(patch, {"op": "add", "path": path, "value": value}) == body("invalidValue", detail)


@pytest.mark.parametrize(
    ("path", "value", "detail"),
    [
        ("seniority", "5", "seniority must be an integer."),
        ("seniority", 5.5, "seniority must be an integer."),
        ("seniority", False, "seniority must be an integer."),
        (
            "keys",
            [{"issued": "yesterday"}],
            "keys.issued must be an xsd:dateTime, e.g. 2024-05-01T10:34:29Z.",
        ),
        ("keys", [{"size": 2**63}], "keys.size is out of range."),
    ],
)
def test_wrong_types_for_custom_attributes_are_invalid_value(custom_patch, path, value, detail):
    """RFC 7644 §3.12 invalidValue: "not compatible with the operation or attribute type"."""
    operation = {"op": "add", "path": f"{CUSTOM_URN}:{path}", "value": value}
    assert error_of(custom_patch, operation) == body("invalidValue", detail)


@pytest.mark.parametrize("op", ["add", "replace"])
@pytest.mark.parametrize("value", ["Babs", ["nickName"], 5, None])
def test_path_less_value_must_be_an_object(patch, op, value):
    """RFC 7644 §3.5.2.1: without a path "The "value" parameter contains a set of attributes"."""
    assert error_of(patch, {"op": op, "value": value}) == body(
        "invalidValue", f"A {op} without a path needs a JSON object value."
    )


@pytest.mark.parametrize(
    ("path", "value", "detail"),
    [
        (
            "emails",
            [{"value": "x@y.example", "type": "bogus"}],
            "emails.type must be one of: work, home, other.",
        ),
        ('emails[type eq "bogus"].value', "x@y.example", "emails.type must be one of: work, home, other."),
        (
            "phoneNumbers",
            [{"value": "1", "type": "cell"}],
            "phoneNumbers.type must be one of: work, home, mobile, fax, pager, other.",
        ),
        ("urn:scim:schemas:extension:custom:User:shirtSize", "XL", "shirtSize must be one of: S, M, L."),
    ],
)
def test_canonical_values_are_enforced(custom_patch, path, value, detail):
    """RFC 7643 §2.2 canonicalValues; a value outside them is invalidValue."""
    assert error_of(custom_patch, {"op": "add", "path": path, "value": value}) == body("invalidValue", detail)


def test_canonical_values_match_case_insensitively_when_not_case_exact(patch):
    """emails.type is caseExact false, so "WORK" is the canonical "work"."""
    result = patch({"op": "add", "path": "emails", "value": [{"value": "w@x.example", "type": "WORK"}]})
    assert result["emails"][-1] == {"value": "w@x.example", "type": "WORK"}


@pytest.mark.parametrize(
    "operation",
    [
        {"op": "add", "value": {"emails": ["plain@x.example"]}},
        {"op": "add", "value": {"emails": "plain@x.example"}},
        {"op": "add", "path": "emails", "value": ["plain@x.example"]},
    ],
)
def test_wso2_plain_string_emails_are_accepted(patch, user, operation):
    """WSO2 sends "emails": ["kim@example.com"]; each string is the value of one email."""
    assert patch(operation)["emails"] == [*user["emails"], {"value": "plain@x.example"}]


# --- paths and filters -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "detail"),
    [
        ("nickname2", "No such attribute with the name : nickname2 in the current resource"),
        ("name.nickName", "No such attribute with the name : name.nickName in the current resource"),
        ("urn:scim:wso2:schema:nosuch", "No such attribute with the name : nosuch in the current resource"),
        (
            "urn:example:unknown:attr",
            "No such attribute with the name : urn:example:unknown:attr in the current resource",
        ),
        ('emails[kind eq "work"]', "No such attribute with the name : kind in the filter"),
    ],
)
def test_unknown_attribute_in_a_path_is_invalid_path(patch, path, detail):
    """WSO2 §4.3: an unknown attribute in a path is 400 invalidPath "No such attribute ..."."""
    for op in ("add", "replace", "remove"):
        assert error_of(patch, {"op": op, "path": path, "value": "x"}) == body("invalidPath", detail)


@pytest.mark.parametrize(
    ("path", "detail"),
    [
        ("name.givenName.x", "Path value is not a valid syntax: name.givenName.x"),
        ("na me", "Path value is not a valid syntax: na me"),
        ('emails[type eq "work"', "Path value is not a valid syntax (unclosed '['): emails[type eq \"work\""),
        ('emails[type eq "work"]x', 'Path value is not a valid syntax: emails[type eq "work"]x'),
        ("urn:scim:wso2:schema:", "Path value is not a valid syntax: urn:scim:wso2:schema:"),
        (
            'name[givenName eq "Kim"]',
            'A value filter needs a multi-valued attribute: name[givenName eq "Kim"]',
        ),
        (5, "The path must be a string."),
    ],
)
def test_malformed_path_is_invalid_path(patch, path, detail):
    """RFC 7644 §3.12 invalidPath: "The "path" attribute was invalid or malformed (see Figure 7)."."""
    assert error_of(patch, {"op": "replace", "path": path, "value": "x"}) == body("invalidPath", detail)


@pytest.mark.parametrize(
    ("path", "detail"),
    [
        ("emails[type eq]", "Invalid filter: type eq"),
        ("emails[type eq work]", "Invalid filter: type eq work"),
        ("emails[]", "The filter is empty."),
        ('emails[primary gt "x"]', "The operator 'gt' is not supported for boolean."),
        ('emails[value eq "x" and]', 'Invalid filter: value eq "x" and'),
    ],
)
def test_malformed_filter_is_invalid_filter(patch, path, detail):
    """RFC 7644 §3.12 invalidFilter: "The specified filter syntax was invalid"."""
    assert error_of(patch, {"op": "replace", "path": path, "value": "x"}) == body("invalidFilter", detail)


def test_empty_path_is_no_target(patch):
    """WSO2 §1.6: an empty path gives 400 noTarget."""
    assert error_of(patch, {"op": "add", "path": " ", "value": "x"}) == body("noTarget", "Path is empty.")


# --- the PatchOp message -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("operation", "detail"),
    [
        ({"op": "frob", "path": "nickName", "value": "x"}, "Unknown operation: frob"),
        ({"op": "", "path": "nickName", "value": "x"}, "Unknown operation: "),
        ({"op": 1, "path": "nickName", "value": "x"}, "Unknown operation: 1"),
        ({"path": "nickName", "value": "x"}, "Operation can not be null."),
        ({"op": None, "path": "nickName", "value": "x"}, "Operation can not be null."),
        ({"op": "add", "path": "nickName"}, "The value is not provided to perform patch add operation."),
        ({"op": "replace"}, "The value is not provided to perform patch replace operation."),
        ("add", "Operation 0 must be a JSON object."),
    ],
)
def test_bad_operations_are_invalid_syntax(patch, operation, detail):
    """WSO2 §1.6: a missing or unknown op, or a missing value, is 400 invalidSyntax."""
    assert error_of(patch, operation) == body("invalidSyntax", detail)


@pytest.mark.parametrize(
    ("operations", "detail"),
    [
        ({"op": "add"}, "'Operations' must be a JSON array of operations."),
        (None, "'Operations' must be a JSON array of operations."),
        ([], "'Operations' must contain at least one operation."),
    ],
)
def test_operations_must_be_a_non_empty_array(registry, user, operations, detail):
    """RFC 7644 §3.5.2: "Operations", whose value is an array of one or more PATCH operations."""
    assert error_of(apply_patch, user, operations, registry) == body("invalidSyntax", detail)


def test_patch_operations_needs_the_capitalised_member(user):
    """WSO2 §1.6: the key must be "Operations"; lower-case "operations" or none is invalidSyntax."""
    assert patch_operations({"Operations": [1]}) == [1]
    assert error_of(patch_operations, {"operations": []}) == body(
        "invalidSyntax", "Invalid JSON schema. The member is 'Operations'."
    )
    assert error_of(patch_operations, {"schemas": []}) == body(
        "invalidSyntax", "The PatchOp message has no 'Operations'."
    )


def test_too_many_operations_is_too_many(registry, user):
    """RFC 7644 §3.12 tooMany: more operations than the server is willing to process."""
    operations = [{"op": "add", "path": "nickName", "value": "Babs"}] * 3
    assert apply_patch(user, operations[:2], registry, max_operations=2)["nickName"] == "Babs"
    assert error_of(apply_patch, user, operations, registry, max_operations=2) == body(
        "tooMany", "The request has 3 operations; at most 2 are accepted."
    )


# --- all or nothing ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "failing",
    [
        {"op": "add", "path": "nosuch", "value": "x"},
        {"op": "replace", "path": 'emails[type eq "other"].value', "value": "x@y.example"},
        {"op": "replace", "path": "userName", "value": "other"},
        {"op": "add", "path": "nickName", "value": 5},
        {"op": "frob"},
    ],
)
def test_a_failing_later_operation_leaves_the_input_unchanged(patch, user, failing):
    """RFC 7644 §3.5.2: "If a single operation encounters an error condition, the original SCIM resource MUST be restored"."""  # noqa: E501
    before = copy.deepcopy(user)
    operations = [
        {"op": "replace", "path": "name.givenName", "value": "Changed"},
        {"op": "remove", "path": "emails"},
        {"op": "add", "path": "urn:scim:wso2:schema:country", "value": "US"},
        {"op": "add", "path": "addresses", "value": [{"type": "other", "primary": True}]},
        failing,
    ]
    with pytest.raises(ScimError):
        patch(*operations)
    assert user == before


def test_unknown_attributes_in_a_path_less_value_are_ignored(patch, user):
    """WSO2 §1.6: in add/replace without a path, unknown keys are silently ignored (qualified or not)."""
    value = {
        "nosuch": 1,
        "name.givenName": "dotted keys are not attribute names",
        "urn:example:unknown": {"x": 1},
        "urn:scim:wso2:schema:nosuch": 1,
        "urn:ietf:params:scim:schemas:core:2.0:User:nosuch": 1,
        "urn:scim:wso2:schema": {"nosuch": 1},
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
    }
    assert patch({"op": "add", "value": value}) == user

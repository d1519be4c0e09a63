"""The schema files in schemas/, the self-service overrides, and rejection of broken files."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from scim_me.core.schemas import CORE_COMMON_URN
from scim_me.core.schemas import CUSTOM_URN
from scim_me.core.schemas import ENTERPRISE_URN
from scim_me.core.schemas import USER_URN
from scim_me.core.schemas import WSO2_URN
from scim_me.core.schemas import SchemaFileError
from scim_me.core.schemas import load_custom_schema
from scim_me.core.schemas import load_registry
from scim_me.core.schemas import parse_schema

SCHEMAS_DIR = Path(__file__).resolve().parents[2] / "schemas"
BASE_FILES = {
    "core-common.json": CORE_COMMON_URN,
    "core-user.json": USER_URN,
    "enterprise-user.json": ENTERPRISE_URN,
    "wso2-user.json": WSO2_URN,
}
POLICY = json.loads((SCHEMAS_DIR / "self-service.json").read_text(encoding="utf-8"))


def test_every_json_file_in_schemas_is_known():
    """A new file in schemas/ must be added to these tests (and probably to load_registry)."""
    found = {p.relative_to(SCHEMAS_DIR).as_posix() for p in SCHEMAS_DIR.rglob("*.json")}
    custom = {name for name in found if name.startswith("custom/")}
    assert found - custom == {*BASE_FILES, "self-service.json", "admin.json", "core-group.json"}
    assert "custom/example.json" in custom


@pytest.mark.parametrize(("name", "urn"), sorted(BASE_FILES.items()))
def test_base_schema_files_parse(name, urn):
    schema = parse_schema(json.loads((SCHEMAS_DIR / name).read_text(encoding="utf-8")), name)
    assert schema.id == urn
    assert schema.attributes
    # The RFC 7643 §7 rendering reads back to the same definitions.
    assert parse_schema(schema.to_dict(), name) == schema


@pytest.mark.parametrize("path", sorted(SCHEMAS_DIR.glob("custom/*.json")), ids=lambda p: p.name)
def test_custom_schema_files_load(path):
    schema = load_custom_schema(path)
    assert schema.id == CUSTOM_URN
    assert schema.attributes


def test_the_example_custom_schema(registry):
    schema = load_custom_schema(SCHEMAS_DIR / "custom" / "example.json")
    assert set(schema.attributes) == {"employeebadge", "shirtsize", "newsletter"}
    assert schema.attribute("ShirtSize").canonical_values == ("S", "M", "L", "XL")
    assert schema.attribute("newsletter").type == "boolean"
    extended = registry.with_custom(schema)
    assert extended.user_schema_ids() == [USER_URN, ENTERPRISE_URN, WSO2_URN, CUSTOM_URN]
    assert extended.split_urn(f"{CUSTOM_URN}:shirtSize") == (schema, "shirtSize")


def test_an_empty_custom_schema_adds_nothing(registry, tmp_path):
    path = tmp_path / "tenant.json"
    path.write_text('{"attributes": []}', encoding="utf-8")
    assert registry.with_custom(load_custom_schema(path)) is registry
    assert registry.with_custom(None) is registry


def test_the_registry_loads(registry):
    assert registry.core.id == USER_URN
    assert registry.common.id == CORE_COMMON_URN
    assert [e.id for e in registry.extensions] == [ENTERPRISE_URN, WSO2_URN]
    assert registry.user_schema_ids() == [USER_URN, ENTERPRISE_URN, WSO2_URN]
    assert registry.core_attribute("EXTERNALID") is registry.common.attribute("externalId")
    assert registry.core.attribute("name").sub("GIVENNAME").qualified_name == f"{USER_URN}:name.givenName"


@pytest.mark.parametrize(
    ("path", "schema", "rest"),
    [
        (f"{USER_URN}:name.givenName", USER_URN, "name.givenName"),
        (f"{USER_URN.upper()}:userName", USER_URN, "userName"),
        (f"{CORE_COMMON_URN}:externalId", CORE_COMMON_URN, "externalId"),
        (WSO2_URN, WSO2_URN, ""),
        (f"{WSO2_URN}:country", WSO2_URN, "country"),
        ("urn:scim:wso2:schemaX:country", None, "urn:scim:wso2:schemaX:country"),
        ("userName", None, "userName"),
    ],
)
def test_split_urn_takes_the_longest_schema_urn(registry, path, schema, rest):
    found, remainder = registry.split_urn(path)
    assert (found.id if found else None, remainder) == (schema, rest)


# --- self-service overrides --------------------------------------------------------------------


@pytest.mark.parametrize("path", POLICY["readOnlyForSelf"] + POLICY["lockedAfterSet"])
def test_every_self_service_path_names_a_real_attribute(registry, path):
    """A typo in self-service.json would silently leave an attribute writable."""
    schema, rest = registry.split_urn(path)
    assert schema is not None
    assert schema.attribute(rest) is not None


@pytest.mark.parametrize("path", POLICY["readOnlyForSelf"])
def test_read_only_for_self_covers_the_attribute_and_its_sub_attributes(registry, path):
    schema, rest = registry.split_urn(path)
    attribute = schema.attribute(rest)
    assert attribute.is_read_only
    assert all(sub.is_read_only for sub in attribute.sub_attributes.values())


def test_roles_are_read_only_for_self(registry):
    roles = registry.core.attribute("roles")
    assert roles.mutability == "readOnly"
    assert {sub.mutability for sub in roles.sub_attributes.values()} == {"readOnly"}
    raw = json.loads((SCHEMAS_DIR / "core-user.json").read_text(encoding="utf-8"))
    assert next(a for a in raw["attributes"] if a["name"] == "roles")["mutability"] == "readWrite"


def test_manager_sub_attributes_are_read_only_for_self(registry):
    manager = registry.extension(ENTERPRISE_URN).attribute("manager")
    assert manager.is_read_only
    assert {name: sub.mutability for name, sub in manager.sub_attributes.items()} == {
        "value": "readOnly",
        "$ref": "readOnly",
        "displayname": "readOnly",
    }


def test_user_name_is_locked_after_set_but_writable(registry):
    user_name = registry.core.attribute("userName")
    assert user_name.locked_after_set
    assert user_name.mutability == "readWrite"
    assert user_name.required


def test_overrides_do_not_leak_to_other_attributes(registry):
    assert registry.core.attribute("emails").mutability == "readWrite"
    assert registry.core.attribute("emails").sub("type").mutability == "readWrite"
    assert registry.core.attribute("emails").sub("display").mutability == "readOnly"
    assert not registry.core.attribute("nickName").locked_after_set
    assert registry.extension(WSO2_URN).attribute("country").mutability == "readWrite"


def test_without_a_policy_file_nothing_is_overridden(tmp_path):
    for name in BASE_FILES:
        shutil.copy(SCHEMAS_DIR / name, tmp_path / name)
    bare = load_registry(tmp_path)
    assert bare.core.attribute("roles").mutability == "readWrite"
    assert not bare.core.attribute("userName").locked_after_set


# --- broken files ------------------------------------------------------------------------------


def write_registry(tmp_path, name, text):
    """Copy schemas/ into tmp_path with one file's text replaced."""
    for base in (*BASE_FILES, "self-service.json"):
        shutil.copy(SCHEMAS_DIR / base, tmp_path / base)
    (tmp_path / name).write_text(text, encoding="utf-8")
    return tmp_path


def user_schema_with(attribute):
    return json.dumps({"id": USER_URN, "attributes": [{"name": "userName", "type": "string"}, attribute]})


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{not json", "core-user.json"),
        ("[]", "needs an 'id' and an 'attributes' list"),
        (json.dumps({"id": USER_URN}), "needs an 'id' and an 'attributes' list"),
        (json.dumps({"attributes": []}), "needs an 'id' and an 'attributes' list"),
        (user_schema_with({"name": "x"}), "without name/type"),
        (user_schema_with({"type": "string"}), "without name/type"),
        (user_schema_with("x"), "without name/type"),
        (user_schema_with({"name": "x", "type": "text"}), "unknown type 'text'"),
        (
            user_schema_with({"name": "x", "type": "string", "mutability": "writable"}),
            "illegal characteristic",
        ),
        (
            user_schema_with({"name": "x", "type": "string", "returned": "sometimes"}),
            "illegal characteristic",
        ),
        (user_schema_with({"name": "x", "type": "string", "uniqueness": "tenant"}), "illegal characteristic"),
        (user_schema_with({"name": "USERNAME", "type": "string"}), "defined twice"),
        (
            user_schema_with({"name": "x", "type": "string", "multiValued": "false"}),
            "multiValued must be true or false",
        ),
        (user_schema_with({"name": "x", "type": "string", "required": 1}), "required must be true or false"),
        (
            user_schema_with({"name": "x", "type": "string", "caseExact": "true"}),
            "caseExact must be true or false",
        ),
        (
            user_schema_with({"name": "x", "type": "string", "canonicalValues": "abc"}),
            "canonicalValues must be a list",
        ),
        (
            user_schema_with({"name": "x", "type": "reference", "referenceTypes": [1]}),
            "referenceTypes must be a list",
        ),
        (
            user_schema_with({"name": "x", "type": "complex", "subAttributes": {"name": "y", "type": "string"}}),
            "subAttributes that are not a list",
        ),
        (
            user_schema_with(
                {
                    "name": "x",
                    "type": "complex",
                    "subAttributes": [{"name": "y", "type": "complex", "subAttributes": []}],
                }
            ),
            "complex sub-attribute 'y'",
        ),
    ],
)
def test_a_broken_schema_file_raises_schema_file_error(tmp_path, text, message):
    with pytest.raises(SchemaFileError, match=message):
        load_registry(write_registry(tmp_path, "core-user.json", text))


@pytest.mark.parametrize("text", ["{", "[]", '"readOnlyForSelf"'])
def test_a_broken_policy_file_raises_schema_file_error(tmp_path, text):
    with pytest.raises(SchemaFileError, match=r"self-service\.json"):
        load_registry(write_registry(tmp_path, "self-service.json", text))


def test_a_missing_schema_file_raises_schema_file_error(tmp_path):
    with pytest.raises(SchemaFileError, match=r"core-common\.json"):
        load_registry(tmp_path)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{", "tenant.json"),
        ("[]", "expected a JSON object"),
        ("{}", "needs an 'id' and an 'attributes' list"),
        ('{"attributes": {"name": "x"}}', "needs an 'id' and an 'attributes' list"),
        ('{"attributes": [{"name": "x", "type": "colour"}]}', "unknown type 'colour'"),
    ],
)
def test_a_broken_custom_schema_file_raises_schema_file_error(tmp_path, text, message):
    path = tmp_path / "tenant.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(SchemaFileError, match=message):
        load_custom_schema(path)


def test_a_missing_custom_schema_file_raises_schema_file_error(tmp_path):
    with pytest.raises(SchemaFileError):
        load_custom_schema(tmp_path / "absent.json")

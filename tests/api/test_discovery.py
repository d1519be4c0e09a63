"""Discovery (RFC 7644 §4): ServiceProviderConfig, ResourceTypes and Schemas in both dialects."""

from __future__ import annotations

import pytest

from scim_me.core.schemas import CORE_COMMON_URN
from scim_me.core.schemas import ENTERPRISE_URN
from scim_me.core.schemas import USER_URN
from scim_me.core.schemas import WSO2_URN
from scim_me.errors import SCIM_ERROR_URN
from tests.factories import basic
from tests.factories import bearer
from tests.factories import make_tenant
from tests.factories import make_token
from tests.factories import make_user

LIST_URN = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
SCHEMA_URN = "urn:ietf:params:scim:schemas:core:2.0:Schema"
ALL_SCHEMAS = [CORE_COMMON_URN, USER_URN, ENTERPRISE_URN, WSO2_URN]
UNAUTHORIZED = {
    "schemas": [SCIM_ERROR_URN],
    "status": "401",
    "detail": "Authorization failure. Authorization information was invalid or missing from your request.",
}


@pytest.fixture
def wso2(app):
    return make_tenant(app, "acme")


@pytest.fixture
def rfc(app):
    return make_tenant(app, "initech", dialect="rfc")


def user_token(app, tenant) -> str:
    return make_token(app, tenant, make_user(app, tenant, "kim"))


def attribute(schema: dict, name: str) -> dict:
    return next(a for a in schema["attributes"] if a["name"] == name)


def sub_attribute(attr: dict, name: str) -> dict:
    return next(a for a in attr["subAttributes"] if a["name"] == name)


class TestServiceProviderConfig:
    def test_needs_no_token_and_advertises_what_is_implemented(self, client, wso2):
        response = client.get("/t/acme/scim2/ServiceProviderConfig")
        assert response.status_code == 200, response.json
        assert response.mimetype == "application/scim+json"
        assert response.headers["Location"] == "http://localhost/t/acme/scim2/ServiceProviderConfig"
        body = response.json
        assert body["schemas"] == ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"]
        assert body["patch"] == {"supported": True}
        assert body["etag"] == {"supported": True}
        assert body["changePassword"] == {"supported": True}
        assert body["bulk"] == {"supported": True, "maxOperations": 1000, "maxPayloadSize": 1048576}
        assert body["filter"] == {"supported": True, "maxResults": 200}
        assert body["sort"] == {"supported": True}
        assert [(s["type"], s["primary"]) for s in body["authenticationSchemes"]] == [
            ("oauthbearertoken", True),
            ("httpbasic", False),
        ]
        assert body["meta"] == {
            "resourceType": "ServiceProviderConfig",
            "location": "http://localhost/t/acme/scim2/ServiceProviderConfig",
        }

    def test_default_tenant_without_prefix(self, app, client):
        make_tenant(app, "carbon.super")
        response = client.get("/scim2/ServiceProviderConfig")
        assert response.status_code == 200
        assert response.headers["Location"] == "http://localhost/scim2/ServiceProviderConfig"

    def test_unknown_tenant_is_404(self, client):
        response = client.get("/t/nowhere/scim2/ServiceProviderConfig")
        assert response.status_code == 404
        assert response.json == {"schemas": [SCIM_ERROR_URN], "status": "404", "detail": "No such tenant."}

    def test_unacceptable_accept_is_406(self, client, wso2):
        response = client.get("/t/acme/scim2/ServiceProviderConfig", headers={"Accept": "text/html"})
        assert response.status_code == 406
        assert response.json == {"schemas": [SCIM_ERROR_URN], "status": "406", "detail": "text/html is not supported."}


class TestResourceTypes:
    def expected_user_type(self, location: str) -> dict:
        return {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],
            "id": "User",
            "name": "User",
            "endpoint": "/Users",
            "description": "User Account",
            "schema": USER_URN,
            "schemaExtensions": [
                {"schema": ENTERPRISE_URN, "required": False},
                {"schema": WSO2_URN, "required": False},
            ],
            "meta": {"location": location, "resourceType": "ResourceType"},
        }

    def expected_group_type(self, location: str) -> dict:
        return {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],
            "id": "Group",
            "name": "Group",
            "endpoint": "/Groups",
            "description": "Group",
            "schema": "urn:ietf:params:scim:schemas:core:2.0:Group",
            "schemaExtensions": [],
            "meta": {"location": location, "resourceType": "ResourceType"},
        }

    def test_wso2_list_needs_no_token_and_has_no_paging_fields(self, client, wso2):
        response = client.get("/t/acme/scim2/ResourceTypes")
        assert response.status_code == 200, response.json
        assert response.json == {
            "schemas": [LIST_URN],
            "totalResults": 2,
            "Resources": [
                self.expected_user_type("http://localhost/t/acme/scim2/ResourceType/User"),
                self.expected_group_type("http://localhost/t/acme/scim2/ResourceType/Group"),
            ],
        }

    def test_rfc_list_has_paging_fields(self, client, rfc):
        response = client.get("/t/initech/scim2/ResourceTypes")
        assert response.status_code == 200, response.json
        assert response.json == {
            "schemas": [LIST_URN],
            "totalResults": 2,
            "Resources": [
                self.expected_user_type("http://localhost/t/initech/scim2/ResourceTypes/User"),
                self.expected_group_type("http://localhost/t/initech/scim2/ResourceTypes/Group"),
            ],
            "startIndex": 1,
            "itemsPerPage": 2,
        }

    @pytest.mark.parametrize("path", ["/t/acme/scim2/ResourceTypes/User", "/t/acme/scim2/ResourceType/User"])
    def test_single_resource_type(self, client, wso2, path):
        response = client.get(path)
        assert response.status_code == 200
        assert response.json == self.expected_user_type("http://localhost/t/acme/scim2/ResourceType/User")

    def test_unknown_resource_type_is_404(self, client, wso2):
        response = client.get("/t/acme/scim2/ResourceTypes/Role")
        assert response.status_code == 404
        assert response.json == {"schemas": [SCIM_ERROR_URN], "status": "404", "detail": "No resource type Role."}
        group = client.get("/t/acme/scim2/ResourceTypes/Group")
        assert group.json == self.expected_group_type("http://localhost/t/acme/scim2/ResourceType/Group")


class TestSchemasWso2:
    def test_needs_authentication(self, client, wso2):
        for path in ("/t/acme/scim2/Schemas", f"/t/acme/scim2/Schemas/{USER_URN}", "/t/acme/scim2/Schemas/urn:x"):
            response = client.get(path)
            assert response.status_code == 401, path
            assert response.json == UNAUTHORIZED

    def test_credentials_are_checked_before_accept(self, client, wso2):
        response = client.get("/t/acme/scim2/Schemas", headers={"Accept": "text/html"})
        assert response.status_code == 401
        assert response.json == UNAUTHORIZED

    def test_basic_credentials_are_accepted(self, app, client, wso2):
        make_user(app, wso2, "kim", "correct-horse-9")
        assert client.get("/t/acme/scim2/Schemas", headers=basic("kim", "correct-horse-9")).status_code == 200

    def test_list_is_a_bare_array_with_java_enum_names(self, app, client, wso2):
        response = client.get("/t/acme/scim2/Schemas", headers=bearer(user_token(app, wso2)))
        assert response.status_code == 200, response.json
        body = response.json
        assert isinstance(body, list)
        assert [schema["id"] for schema in body] == ALL_SCHEMAS
        assert [schema["name"] for schema in body] == ["Core", "User", "EnterpriseUser", "SystemUser"]
        core = body[1]
        assert core["schemas"] == [SCHEMA_URN]
        assert core["meta"] == {
            "resourceType": "Schema",
            "location": f"http://localhost/t/acme/scim2/Schemas/{USER_URN}",
        }
        user_name = attribute(core, "userName")
        assert (user_name["type"], user_name["mutability"], user_name["returned"], user_name["uniqueness"]) == (
            "STRING",
            "READ_WRITE",
            "DEFAULT",
            "SERVER",
        )
        password = attribute(core, "password")
        assert (password["mutability"], password["returned"]) == ("WRITE_ONLY", "NEVER")
        assert attribute(core, "emails")["type"] == "COMPLEX"
        assert sub_attribute(attribute(core, "emails"), "display")["mutability"] == "READ_ONLY"
        created = sub_attribute(attribute(body[0], "meta"), "created")
        assert created["type"] == "DATE_TIME"
        assert attribute(body[0], "id")["returned"] == "ALWAYS"
        assert attribute(body[3], "passwordExpiryTime")["returned"] == "REQUEST"
        assert attribute(body[3], "failedLoginAttempts")["type"] == "INTEGER"
        every = [a for schema in body for a in schema["attributes"]]
        every += [s for a in every for s in a.get("subAttributes", [])]
        for attr in every:
            for key in ("type", "mutability", "returned", "uniqueness"):
                assert attr[key] == attr[key].upper(), (attr["name"], key)

    def test_one_schema_is_an_array_of_one(self, app, client, wso2):
        response = client.get(f"/t/acme/scim2/Schemas/{WSO2_URN}", headers=bearer(user_token(app, wso2)))
        assert response.status_code == 200, response.json
        assert isinstance(response.json, list)
        assert [schema["id"] for schema in response.json] == [WSO2_URN]
        assert attribute(response.json[0], "accountLocked")["mutability"] == "READ_ONLY"

    def test_schema_ids_match_case_insensitively(self, app, client, wso2):
        response = client.get(f"/t/acme/scim2/Schemas/{ENTERPRISE_URN.upper()}", headers=bearer(user_token(app, wso2)))
        assert response.status_code == 200, response.json
        assert response.json[0]["id"] == ENTERPRISE_URN

    def test_unknown_schema_is_501(self, app, client, wso2):
        response = client.get("/t/acme/scim2/Schemas/urn:example:nope", headers=bearer(user_token(app, wso2)))
        assert response.status_code == 501
        assert response.json == {
            "schemas": [SCIM_ERROR_URN],
            "status": "501",
            "detail": "only user, enterprise, system and custom schemas are supported",
        }


class TestSchemasRfc:
    def test_needs_authentication(self, client, rfc):
        response = client.get("/t/initech/scim2/Schemas")
        assert response.status_code == 401
        assert response.json == UNAUTHORIZED

    def test_list_is_a_list_response_with_rfc_casing(self, app, client, rfc):
        response = client.get("/t/initech/scim2/Schemas", headers=bearer(user_token(app, rfc)))
        assert response.status_code == 200, response.json
        body = response.json
        assert {k: v for k, v in body.items() if k != "Resources"} == {
            "schemas": [LIST_URN],
            "totalResults": 5,
            "startIndex": 1,
            "itemsPerPage": 5,
        }
        group = "urn:ietf:params:scim:schemas:core:2.0:Group"
        assert [schema["id"] for schema in body["Resources"]] == [*ALL_SCHEMAS, group]
        core = body["Resources"][1]
        user_name = attribute(core, "userName")
        assert (user_name["type"], user_name["mutability"], user_name["returned"], user_name["uniqueness"]) == (
            "string",
            "readWrite",
            "default",
            "server",
        )
        assert sub_attribute(attribute(body["Resources"][0], "meta"), "created")["type"] == "dateTime"
        assert attribute(core, "password")["mutability"] == "writeOnly"
        assert core["meta"] == {
            "resourceType": "Schema",
            "location": f"http://localhost/t/initech/scim2/Schemas/{USER_URN}",
        }

    def test_one_schema_is_a_plain_object(self, app, client, rfc):
        response = client.get(f"/t/initech/scim2/Schemas/{USER_URN}", headers=bearer(user_token(app, rfc)))
        assert response.status_code == 200, response.json
        assert response.json["id"] == USER_URN
        assert response.json["schemas"] == [SCHEMA_URN]

    def test_unknown_schema_is_404(self, app, client, rfc):
        response = client.get("/t/initech/scim2/Schemas/urn:example:nope", headers=bearer(user_token(app, rfc)))
        assert response.status_code == 404
        assert response.json == {"schemas": [SCIM_ERROR_URN], "status": "404", "detail": "No schema urn:example:nope."}


def test_a_token_of_another_tenant_is_not_accepted_for_schemas(app, client, wso2, rfc):
    response = client.get("/t/acme/scim2/Schemas", headers=bearer(user_token(app, rfc)))
    assert response.status_code == 401

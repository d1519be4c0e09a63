"""The contract (``scim_me/openapi``): every route the app serves has a documented operation,
every documented operation is served, the document is valid OpenAPI 3.1 (openapi-spec-validator),
and it is served bare and per tenant with the right ``servers``. Swagger UI's page and assets are
served by the app under a strict CSP (the headless-browser check is tests/browser/test_api_docs.py).
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from openapi_spec_validator import validate

from scim_me.openapi.document import families
from tests.factories import make_tenant

# Methods every route answers that are not operations of their own: HEAD is GET without a body,
# OPTIONS the CORS preflight (described in the document's introduction).
IMPLICIT = {"HEAD", "OPTIONS"}


def documented_path(rule: str) -> str:
    """Flask's ``/x/<name>`` and ``/x/<path:name>`` as OpenAPI's ``/x/{name}``."""
    return re.sub(r"<(?:[a-z]+:)?([A-Za-z_]+)>", r"{\1}", rule)


def served_operations(app: Any) -> set[tuple[str, str]]:
    return {
        (method, documented_path(rule.rule))
        for rule in app.url_map.iter_rules()
        for method in (rule.methods or set()) - IMPLICIT
    }


@pytest.fixture
def doc(client: Any) -> dict[str, Any]:
    response = client.get("/api/openapi.json")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    return response.get_json()


def test_every_route_has_a_documented_operation(app: Any, doc: dict[str, Any]) -> None:
    documented = {(method.upper(), path) for path, item in doc["paths"].items() for method in item}
    missing = served_operations(app) - documented
    assert not missing, f"routes without an operation in scim_me/openapi (docs/dev/openapi.md): {sorted(missing)}"
    stale = documented - served_operations(app)
    assert not stale, f"documented operations no route serves: {sorted(stale)}"


def test_the_route_check_sees_an_undocumented_route(app: Any) -> None:
    """The check above would catch a new route: one added here is not in the document."""
    app.add_url_rule("/api/users/v1/me/undocumented/<path:thing>", "undocumented", lambda thing: "", methods=["PUT"])
    documented = {(op.method, op.path) for op in families()}
    assert ("PUT", "/api/users/v1/me/undocumented/{thing}") in served_operations(app) - documented


def test_the_document_is_valid_openapi_3_1(doc: dict[str, Any]) -> None:
    assert doc["openapi"] == "3.1.0"
    validate(doc)


def test_operation_ids_are_unique(doc: dict[str, Any]) -> None:
    ids = [op["operationId"] for item in doc["paths"].values() for op in item.values()]
    assert len(ids) == len(set(ids))


def test_every_operation_documents_errors_in_its_dialect(doc: dict[str, Any]) -> None:
    for path, item in doc["paths"].items():
        for method, op in item.items():
            refs = [r.get("$ref", "") for r in op["responses"].values()]
            assert any(r.endswith("404") for r in refs), (method, path)
            if path.startswith("/scim2"):
                assert all(r.split("/")[-1].startswith("Scim") for r in refs if r), (method, path)
            if path.startswith("/api/users"):
                assert all(r.split("/")[-1].startswith("Wso2") for r in refs if r), (method, path)


def test_error_bodies_of_both_dialects_and_oauth_are_schemas(doc: dict[str, Any]) -> None:
    schemas = doc["components"]["schemas"]
    assert schemas["ScimError"]["properties"]["status"]["type"] == "string"  # RFC 7644 §3.12
    assert set(schemas["Wso2Error"]["required"]) == {"code", "message", "description"}
    assert schemas["OAuthError"]["required"] == ["error"]  # RFC 6749 §5.2
    schemes = doc["components"]["securitySchemes"]
    assert {"bearer", "basic", "clientBasic", "oauth2"} <= set(schemes)
    assert set(schemes["oauth2"]["flows"]) == {"authorizationCode", "clientCredentials"}


def test_request_bodies_come_from_the_endpoints_marshmallow_schemas(doc: dict[str, Any]) -> None:
    op = doc["paths"]["/api/users/v1/me/change-password"]["post"]
    schema = op["requestBody"]["content"]["application/json"]["schema"]
    assert schema == {"$ref": "#/components/schemas/AccountChangePasswordRequest"}
    change = doc["components"]["schemas"]["AccountChangePasswordRequest"]
    assert set(change["required"]) == {"currentPassword", "newPassword"}
    assert change["properties"]["revokeOtherSessions"]["type"] == "boolean"


def test_the_user_schema_follows_the_schema_files(doc: dict[str, Any]) -> None:
    user = doc["components"]["schemas"]["User"]["properties"]
    assert user["userName"]["type"] == "string"
    assert user["password"]["writeOnly"] is True  # returned: never
    assert "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User" in user


def test_the_bare_document_names_the_tenant_as_a_server_variable(doc: dict[str, Any]) -> None:
    urls = [server["url"] for server in doc["servers"]]
    assert urls == ["http://localhost", "http://localhost/t/{tenant}"]
    oauth = doc["components"]["securitySchemes"]["oauth2"]["flows"]["authorizationCode"]
    assert oauth["authorizationUrl"] == "http://localhost/oauth2/authorize"


def test_a_tenant_document_names_its_tenant(app: Any, client: Any) -> None:
    make_tenant(app, "acme")
    doc = client.get("/t/acme/api/openapi.json").get_json()
    assert [server["url"] for server in doc["servers"]] == ["http://localhost/t/acme"]
    flows = doc["components"]["securitySchemes"]["oauth2"]["flows"]
    assert flows["clientCredentials"]["tokenUrl"] == "http://localhost/t/acme/oauth2/token"
    validate(doc)


def test_an_unknown_tenant_has_no_document(client: Any) -> None:
    response = client.get("/t/nobody/api/openapi.json")
    assert response.status_code == 404
    assert response.get_json()["code"] == "UMG-404"


def test_the_docs_page_loads_only_from_this_origin(client: Any) -> None:
    response = client.get("/api/docs")
    assert response.status_code == 200
    csp = response.headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "script-src 'self';" in csp and "unsafe" not in csp
    page = response.get_data(as_text=True)
    assert "<script>" not in page  # no inline script
    assert not re.search(r"(src|href)=\"(https?:)?//", page)
    for asset in ("swagger-ui.css", "swagger-ui-bundle.js", "docs.js", "favicon-32x32.png"):
        assert f"/api/docs/{asset}" in page
        assert client.get(f"/api/docs/{asset}").status_code == 200
    assert client.get("/api/docs/../../setup.cfg").status_code == 404
    assert client.get("/api/docs/index.html").status_code == 404


def test_the_contract_run_checks_the_document_the_server_serves(doc: dict[str, Any]) -> None:
    """tests/contract builds the document at collection time, before a server runs."""
    from tests.contract.support import static_document

    built = static_document(base="http://localhost")
    assert {**built, "servers": doc["servers"]} == doc

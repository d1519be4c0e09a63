"""A path naming a tenant that does not exist is 404 in the error dialect of its API family
(web/context.py ``require_tenant``): the SCIM error document (RFC 7644 §3.12) on ``/scim2``,
WSO2's ``{code, message, description, traceId}`` on the OAuth and identity REST paths."""

from __future__ import annotations

import pytest

from tests.factories import make_tenant

SCIM_ERROR_URN = "urn:ietf:params:scim:api:messages:2.0:Error"


@pytest.fixture(autouse=True)
def acme(app):
    """A tenant that does exist, so a 404 below is about the name, not an empty database."""
    return make_tenant(app, "acme")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/scim2/ServiceProviderConfig"),
        ("GET", "/scim2/ResourceTypes"),
        ("GET", "/scim2/ResourceTypes/User"),
        ("GET", "/scim2/Schemas"),
        ("GET", "/scim2/Schemas/urn:ietf:params:scim:schemas:core:2.0:User"),
        ("POST", "/scim2/Me"),
    ],
)
def test_scim_paths_answer_the_scim_error_document(client, method, path):
    response = client.open(f"/t/nosuch{path}", method=method, json={} if method == "POST" else None)
    assert response.status_code == 404
    assert response.json == {"schemas": [SCIM_ERROR_URN], "status": "404", "detail": "No such tenant."}


@pytest.mark.parametrize(
    ("method", "path", "code"),
    [
        ("GET", "/oauth2/jwks", "OAUTH-404"),
        ("POST", "/oauth2/token", "OAUTH-404"),
        ("POST", "/oauth2/introspect", "OAUTH-404"),
        ("POST", "/oauth2/revoke", "OAUTH-404"),
        ("POST", "/api/identity/user/v1.0/validate-code", "UMG-10004"),
        ("GET", "/accountrecoveryendpoint/confirm-email", "UMG-10004"),
        ("POST", "/accountrecoveryendpoint/confirm-email", "UMG-10004"),
    ],
)
def test_wso2_paths_answer_their_familys_not_found(client, method, path, code):
    response = client.open(f"/t/nosuch{path}", method=method)
    assert response.status_code == 404
    body = response.json
    assert isinstance(body.pop("traceId", None), str)
    assert body == {"code": code, "message": "Not Found", "description": "No such tenant."}
    assert client.open(f"/t/acme{path}", method=method).status_code != 404

"""What the endpoints authlib answers (token, introspection, revocation) check before authlib
sees the request (api/oauth.py ``_checked``): the tenant exists, then RFC 6749 §3.2 "Request
and response parameters MUST NOT be included more than once" (authlib would take the first)."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest

from tests.factories import make_tenant

FORM = "application/x-www-form-urlencoded"
ENDPOINTS = {
    "/oauth2/token": [("grant_type", "password"), ("grant_type", "password")],
    "/oauth2/introspect": [("token", "a"), ("token", "b")],
    "/oauth2/revoke": [("token", "a"), ("token", "a")],
}


@pytest.fixture(autouse=True)
def acme(app):
    return make_tenant(app, "acme")


@pytest.mark.parametrize("path", list(ENDPOINTS))
def test_a_repeated_parameter_is_invalid_request_and_not_cached(client, path):
    response = client.post(f"/t/acme{path}", data=urlencode(ENDPOINTS[path]), content_type=FORM)
    assert response.status_code == 400
    name = ENDPOINTS[path][0][0]
    assert response.json == {"error": "invalid_request", "error_description": f"The parameter '{name}' is repeated."}
    assert (response.headers["Cache-Control"], response.headers["Pragma"]) == ("no-store", "no-cache")


@pytest.mark.parametrize("path", list(ENDPOINTS))
def test_an_unknown_tenant_is_404_before_the_parameters_are_read(client, path):
    response = client.post(f"/t/nosuch{path}", data=urlencode(ENDPOINTS[path]), content_type=FORM)
    assert response.status_code == 404
    assert response.json["code"] == "OAUTH-404"


@pytest.mark.parametrize("path", list(ENDPOINTS))
def test_parameters_given_once_reach_authlib(client, path):
    response = client.post(f"/t/acme{path}", data=urlencode(ENDPOINTS[path][:1]), content_type=FORM)
    # authlib's own answer (no client authenticated, no credentials), not the repeat check's.
    assert response.status_code in (400, 401)
    assert "repeated" not in response.get_data(as_text=True)


@pytest.mark.parametrize("path", list(ENDPOINTS))
@pytest.mark.parametrize("name", ["p\u0096", 'say"hi', "a\\b", "x" * 65])
def test_a_repeated_parameter_whose_name_cannot_be_quoted_is_still_invalid_request(client, path, name):
    """RFC 6749 §5.2: error_description is NQSCHAR only; naming such a parameter made authlib
    refuse to build the error (a 500, found by schemathesis)."""
    response = client.post(f"/t/acme{path}", data=urlencode([(name, "1"), (name, "2")]), content_type=FORM)
    assert response.status_code == 400
    assert response.json == {"error": "invalid_request", "error_description": "A parameter is repeated."}

"""Error rendering (RFC 7644 §3.12, wso2-api.md §4, security.md T-HTTP-1/2): every failure under
/scim2 is a SCIM error document with a string status, ``application/scim+json``, ``nosniff``, and
never a traceback or a database driver's message."""

from __future__ import annotations

import socket
import time

import peewee
import pytest

from scim_me.storage.db import database_proxy
from tests.factories import SCIM_JSON
from tests.factories import bearer
from tests.factories import make_tenant
from tests.factories import make_token
from tests.factories import make_user
from tests.factories import patch_body

ERROR_URN = "urn:ietf:params:scim:api:messages:2.0:Error"
SCIM_TYPES = {
    "invalidFilter", "tooMany", "uniqueness", "mutability", "invalidSyntax", "invalidPath", "noTarget",
    "invalidValue", "invalidVers", "sensitive", "invalid request",
}  # fmt: skip
LEAKS = ("Traceback", "peewee", "sqlite3", "psycopg2", 'File "', "no_such_table", "kaboom")
NOT_FOUND = {
    "schemas": [ERROR_URN],
    "status": "404",
    "detail": "Specified resource (e.g., User) or endpoint does not exist.",
}
NOT_ALLOWED = {"schemas": [ERROR_URN], "status": "405", "detail": "The HTTP method is not supported on this endpoint."}
INTERNAL = {"schemas": [ERROR_URN], "status": "500", "detail": "An internal error."}


def assert_scim_error(response, status: int) -> None:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == SCIM_JSON
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    text = response.get_data(as_text=True)
    for leak in LEAKS:
        assert leak not in text
    body = response.json
    assert body["schemas"] == [ERROR_URN]
    assert body["status"] == str(status)
    assert isinstance(body["detail"], str) and body["detail"]
    assert set(body) <= {"schemas", "status", "scimType", "detail"}
    if "scimType" in body:
        assert body["scimType"] in SCIM_TYPES


@pytest.fixture
def token(app):
    tenant = make_tenant(app, "acme")
    return make_token(app, tenant, make_user(app, tenant, "kim"))


@pytest.mark.parametrize(
    "path",
    [
        "/scim2/Nope",
        "/t/acme/scim2/Devices",
        "/t/acme/scim2/Users/Groups/x",
        "/t/acme/scim2/Me/extra",
        "/t/acme/scim2/Me/",
        "/scim2",
    ],
)
def test_unknown_route_under_scim2_is_a_scim_404(client, token, path):
    response = client.get(path, headers=bearer(token))
    assert_scim_error(response, 404)
    assert response.json == NOT_FOUND


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("TRACE", "/t/acme/scim2/Me", {"GET", "HEAD", "OPTIONS", "PATCH", "PUT", "POST", "DELETE"}),
        ("POST", "/scim2/ServiceProviderConfig", {"GET", "HEAD", "OPTIONS"}),
        ("DELETE", "/t/acme/scim2/Schemas", {"GET", "HEAD", "OPTIONS"}),
        ("PATCH", "/t/acme/scim2/ResourceTypes", {"GET", "HEAD", "OPTIONS"}),
    ],
)
def test_unsupported_method_is_a_scim_405_with_allow(client, token, method, path, allowed):
    response = client.open(path, method=method, headers=bearer(token))
    assert_scim_error(response, 405)
    assert response.json == NOT_ALLOWED
    assert {m.strip() for m in response.headers["Allow"].split(",")} == allowed


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("TRACE", "/t/acme/api/users/v1/me/sessions", {"GET", "HEAD", "OPTIONS", "DELETE"}),
        ("DELETE", "/t/acme/api/identity/consent-mgt/v1.0/consents/purposes", {"GET", "HEAD", "OPTIONS", "POST"}),
        ("TRACE", "/t/acme/oauth2/token", {"OPTIONS", "POST"}),
    ],
)
def test_unsupported_method_on_a_wso2_api_is_its_405_with_allow(client, token, method, path, allowed):
    response = client.open(path, method=method, headers=bearer(token))
    assert response.status_code == 405
    body = response.get_json()
    assert set(body) == {"code", "message", "description", "traceId"} and body["code"] == "SCM-405", body
    assert {m.strip() for m in response.headers["Allow"].split(",")} == allowed


def test_flask_debug_in_the_environment_does_not_reach_the_app(database_url, tmp_path, monkeypatch):
    # security.md T-HTTP-2: debug off, whatever a development .env says.
    from tests.support.apps import build_app

    monkeypatch.setenv("FLASK_DEBUG", "1")
    app = build_app(database_url, tmp_path)

    def explode():
        raise RuntimeError("kaboom: secret internals")

    app.add_url_rule("/scim2/_explode", "explode", explode)
    assert app.debug is False
    response = app.test_client().get("/scim2/_explode")
    assert_scim_error(response, 500)
    assert response.json == INTERNAL
    app.extensions["scim_me"].db.close_all()


def test_unexpected_exception_is_a_generic_500(app, client):
    def explode():
        raise RuntimeError("kaboom: secret internals")

    app.add_url_rule("/scim2/_explode", "explode", explode)
    response = client.get("/scim2/_explode")
    assert_scim_error(response, 500)
    assert response.json == INTERNAL


def test_database_error_is_a_generic_500_without_driver_text(app, client):
    def bad_query():
        database_proxy.execute_sql("SELECT * FROM no_such_table")

    app.add_url_rule("/scim2/_bad_query", "bad_query", bad_query)
    response = client.get("/scim2/_bad_query")
    assert_scim_error(response, 500)
    assert response.json == INTERNAL


def test_unreachable_database_is_503_with_retry_after(app, client):
    with socket.socket() as closed:  # bound, never listening: connecting is refused at once
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]

        def unreachable():
            peewee.PostgresqlDatabase("test", host="127.0.0.1", port=port, connect_timeout=5).connect()

        app.add_url_rule("/scim2/_unreachable", "unreachable", unreachable)
        response = client.get("/scim2/_unreachable")
    assert_scim_error(response, 503)
    assert response.json == {"schemas": [ERROR_URN], "status": "503", "detail": "The service is busy; retry shortly."}
    assert response.headers["Retry-After"] == "1"


def test_errors_outside_scim2_use_the_wso2_rest_format(client):
    response = client.get("/api/users/v1/nope", headers={"X-Request-Id": "trace-123"})
    assert response.status_code == 404
    assert response.mimetype == "application/json"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.json == {
        "code": "SCM-404",
        "message": "Not Found",
        "description": "Specified resource (e.g., User) or endpoint does not exist.",
        "traceId": "trace-123",
    }


def _error_requests(token: str, expired: str):
    json_headers = bearer(token, **{"Content-Type": SCIM_JSON})
    yield "GET", "/t/acme/scim2/Me", {}, None, 401
    yield "GET", "/t/acme/scim2/Me", bearer(expired), None, 401
    yield "GET", "/t/acme/scim2/Me", bearer("not.a.token"), None, 401
    yield "GET", "/t/nosuch/scim2/Me", bearer(token), None, 401
    yield "GET", "/t/acme/scim2/Me", bearer(token, Accept="text/html"), None, 406
    yield "GET", "/t/acme/scim2/Users/someone-else", bearer(token), None, 404
    yield "PATCH", "/t/acme/scim2/Me", bearer(token, **{"Content-Type": "text/plain"}), b"{}", 415
    yield "PATCH", "/t/acme/scim2/Me", json_headers, b"{", 400
    yield "PATCH", "/t/acme/scim2/Me", json_headers, b'{"Operations": [{"op": "jump"}]}', 400
    yield "PATCH", "/t/acme/scim2/Me", json_headers, b'{"Operations": [{"op": "remove"}]}', 400
    yield "PATCH", "/t/acme/scim2/Me", json_headers, b'{"Operations": [{"op": "add", "path": "nope", "value": 1}]}', 400
    stale = bearer(token, **{"Content-Type": SCIM_JSON, "If-Match": 'W/"99"'})
    yield (
        "PATCH",
        "/t/acme/scim2/Me",
        stale,
        b'{"Operations": [{"op": "replace", "path": "nickName", "value": "x"}]}',
        412,
    )
    yield "POST", "/t/acme/scim2/Me", json_headers, b'{"userName": "new"}', 403
    yield "DELETE", "/t/acme/scim2/Me", bearer(token), None, 403
    yield "TRACE", "/t/acme/scim2/Me", bearer(token), None, 405
    yield "GET", "/t/acme/scim2/Nope", bearer(token), None, 404


def test_every_scim_error_is_well_formed(app, client, token):
    tenant = make_tenant(app, "acme")
    user = make_user(app, tenant, "old-timer")
    expired = make_token(app, tenant, user, now=int(time.time()) - 7200, lifetime=3600)
    for method, path, headers, data, status in _error_requests(token, expired):
        response = client.open(path, method=method, headers=headers, data=data)
        assert_scim_error(response, status)
        if path.endswith("/Me"):
            assert response.headers["Cache-Control"] == "no-store", (method, path)


@pytest.mark.parametrize("method", ["GET", "PATCH"])
def test_me_success_responses_are_not_cached(client, token, method):
    body = patch_body({"op": "replace", "path": "nickName", "value": "shaggy"}) if method == "PATCH" else None
    response = client.open("/t/acme/scim2/Me", method=method, json=body, headers=bearer(token))
    assert response.status_code == 200, response.json
    assert response.mimetype == SCIM_JSON
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["X-Content-Type-Options"] == "nosniff"

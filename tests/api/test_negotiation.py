"""Content negotiation and strict body parsing on /scim2/Me (wso2-api.md §1.3, security.md T-FUZZ-5,
T-HTTP-3): Accept → 406, Content-Type → 415, size → 413, malformed JSON → 400 invalidSyntax."""

from __future__ import annotations

import json
import time

import pytest

from scim_me.errors import SCIM_ERROR_URN
from tests.factories import SCIM_JSON
from tests.factories import bearer
from tests.factories import make_tenant
from tests.factories import make_token
from tests.factories import make_user
from tests.factories import patch_body
from tests.factories import scim_error as error
from tests.support.apps import build_app

ME = "/t/acme/scim2/Me"
NICKNAME = patch_body({"op": "replace", "path": "nickName", "value": "shaggy"})


@pytest.fixture
def token(app):
    tenant = make_tenant(app, "acme")
    return make_token(app, tenant, make_user(app, tenant, "kim"))


def send(client, token, data: bytes | str, content_type: str | None = SCIM_JSON, method: str = "PATCH"):
    headers = bearer(token)
    if content_type is not None:
        headers["Content-Type"] = content_type
    return client.open(ME, method=method, data=data, headers=headers)


# --- Accept -----------------------------------------------------------------------------------


@pytest.mark.parametrize("accept", ["text/html", "application/xml", "text/plain;q=1", "image/*"])
def test_unsupported_accept_is_406(client, token, accept):
    response = client.get(ME, headers=bearer(token, Accept=accept))
    assert response.status_code == 406
    assert response.mimetype == SCIM_JSON
    assert response.json == error(406, f"{accept} is not supported.")


@pytest.mark.parametrize(
    "accept",
    [
        "application/scim+json",
        "application/json",
        "APPLICATION/JSON",
        "application/json; charset=utf-8",
        "text/html, application/json",
        "text/html,application/xhtml+xml,application/scim+json;q=0.9",
        "application/*",
        "*/*",
        "",
    ],
)
def test_accept_lists_naming_json_are_served(client, token, accept):
    response = client.get(ME, headers=bearer(token, Accept=accept))
    assert response.status_code == 200, response.json
    assert response.mimetype == SCIM_JSON
    assert response.json["userName"] == "kim"


def test_unsupported_accept_on_patch_is_406_and_changes_nothing(client, token):
    response = client.patch(ME, json=NICKNAME, headers=bearer(token, Accept="text/html"))
    assert response.status_code == 406
    assert response.json == error(406, "text/html is not supported.")
    assert "nickName" not in client.get(ME, headers=bearer(token)).json


# --- Content-Type -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "content_type",
    [
        "application/scim+json",
        "application/json",
        "application/json; charset=utf-8",
        "application/scim+json;charset=UTF-8",
        'application/json; charset="utf-8"',
        "Application/SCIM+JSON",
    ],
)
def test_json_content_types_are_accepted(client, token, content_type):
    response = send(client, token, json.dumps(NICKNAME), content_type)
    assert response.status_code == 200, response.json
    assert response.json["nickName"] == "shaggy"


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "text/json"]
)
@pytest.mark.parametrize("method", ["PATCH", "PUT"])
def test_other_content_types_are_415(client, token, content_type, method):
    response = send(client, token, json.dumps(NICKNAME), content_type, method)
    assert response.status_code == 415
    assert response.mimetype == SCIM_JSON
    assert response.json == error(
        415, f"Content-Type {content_type} is not supported; use application/scim+json or application/json."
    )


def test_missing_content_type_is_415(client, token):
    response = send(client, token, json.dumps(NICKNAME), content_type=None)
    assert response.status_code == 415
    assert response.json == error(
        415, "Content-Type (missing) is not supported; use application/scim+json or application/json."
    )


@pytest.mark.parametrize("charset", ["latin-1", "iso-8859-1", "utf-16", "us-ascii"])
def test_charsets_other_than_utf8_are_415(client, token, charset):
    response = send(client, token, json.dumps(NICKNAME), f"application/json; charset={charset}")
    assert response.status_code == 415
    assert response.json == error(415, "Only the utf-8 charset is supported.")


# --- size -------------------------------------------------------------------------------------


@pytest.fixture
def app_with(database_url, tmp_path):
    """Build the app with settings overrides; return it with a token for acme/kim."""
    built = []

    def _build(**overrides):
        application = build_app(database_url, tmp_path, **overrides)
        built.append(application)
        tenant = make_tenant(application, "acme")
        return application, make_token(application, tenant, make_user(application, tenant, "kim"))

    yield _build
    for application in built:
        application.extensions["scim_me"].db.close_all()


def _padded_patch(size: int) -> bytes:
    """A valid PatchOp of exactly ``size`` bytes."""
    empty = json.dumps(patch_body({"op": "replace", "path": "nickName", "value": ""})).encode()
    body = json.dumps(patch_body({"op": "replace", "path": "nickName", "value": "n" * (size - len(empty))})).encode()
    assert len(body) == size
    return body


def test_body_over_the_limit_is_413(app_with):
    small_app, token = app_with(max_body_bytes=1024)
    client = small_app.test_client()
    too_big = send(client, token, _padded_patch(1025))
    assert too_big.status_code == 413
    assert too_big.mimetype == SCIM_JSON
    assert too_big.json == error(413, "The request body is larger than this server accepts.")
    at_limit = send(client, token, _padded_patch(1024))
    assert at_limit.status_code == 200, at_limit.json


def test_default_limit_rejects_more_than_one_mib(client, token):
    response = send(client, token, b" " * (1024 * 1024) + json.dumps(NICKNAME).encode())
    assert response.status_code == 413
    assert response.json == error(413, "The request body is larger than this server accepts.")


# --- malformed JSON ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "detail"),
    [
        (b"", "The request body is empty."),
        (b"  \n ", "The request body is empty."),
        (b'{"schemas": [], "schemas": [], "Operations": []}', "Duplicate member 'schemas' in the JSON body."),
        (b'{"Operations": [{"op": "add", "op": "remove"}]}', "Duplicate member 'op' in the JSON body."),
        (b'{"Operations": [{"op": "add", "value": {"x": NaN}}]}', "NaN is not valid JSON."),
        (b'{"Operations": [{"op": "add", "value": {"x": -Infinity}}]}', "-Infinity is not valid JSON."),
        (b"[" * 33 + b"]" * 33, "The JSON body is nested deeper than 32 levels."),
    ],
    ids=["empty", "blank", "duplicate-top", "duplicate-nested", "nan", "infinity", "depth-33"],
)
def test_malformed_bodies_are_invalid_syntax(client, token, data, detail):
    response = send(client, token, data)
    assert response.status_code == 400
    assert response.mimetype == SCIM_JSON
    assert response.json == error(400, detail, "invalidSyntax")


@pytest.mark.parametrize(
    "data",
    [b"{", b'{"Operations": [}', b"not json", b"{'single': 'quotes'}", b'{"a": 1} trailing', b'{"a": "\xff"}'],
    ids=["truncated", "bad-array", "bare-word", "single-quotes", "trailing", "non-utf8"],
)
def test_unparsable_bodies_are_invalid_syntax(client, token, data):
    response = send(client, token, data)
    assert response.status_code == 400
    body = response.json
    assert body.keys() == {"schemas", "status", "scimType", "detail"}
    assert (body["schemas"], body["status"], body["scimType"]) == ([SCIM_ERROR_URN], "400", "invalidSyntax")
    assert body["detail"].startswith("The request body is not valid JSON: ")


def test_depth_limit_counts_objects_and_arrays_not_scalars(app_with):
    shallow_app, token = app_with(max_json_depth=5)
    client = shallow_app.test_client()
    # body > Operations > operation > value > name: five containers, then a string.
    at_limit = patch_body({"op": "replace", "value": {"name": {"givenName": "Kim"}}})
    response = send(client, token, json.dumps(at_limit))
    assert response.status_code == 200, response.json
    assert response.json["name"]["givenName"] == "Kim"
    over = patch_body({"op": "replace", "value": {"name": {"givenName": ["Kim"]}}})
    response = send(client, token, json.dumps(over))
    assert response.status_code == 400
    assert response.json == error(400, "The JSON body is nested deeper than 5 levels.", "invalidSyntax")


def test_32_levels_are_parsed_and_33_are_not(client, token):
    not_an_object = send(client, token, "[" * 32 + "1" + "]" * 32)
    assert not_an_object.json == error(400, "The PatchOp message must be a JSON object.", "invalidSyntax")
    too_deep = send(client, token, "[" * 33 + "1" + "]" * 33)
    assert too_deep.json == error(400, "The JSON body is nested deeper than 32 levels.", "invalidSyntax")


@pytest.mark.parametrize("depth", [1000, 100_000])
def test_very_deep_nesting_is_400_not_a_recursion_error(client, token, depth):
    response = send(client, token, b"[" * depth + b"]" * depth)
    assert response.status_code == 400
    assert response.json["scimType"] == "invalidSyntax"
    assert response.json["detail"] in (
        "The JSON body is nested too deeply.",
        "The JSON body is nested deeper than 32 levels.",
    )


def test_rejected_bodies_leave_the_user_unchanged(client, token):
    before = client.get(ME, headers=bearer(token))
    for data in (b'{"Operations": [{"op": "replace", "path": "nickName", "value": NaN}]}', b"{", b"[" * 40):
        assert send(client, token, data).status_code == 400
    after = client.get(ME, headers=bearer(token))
    assert after.json == before.json
    assert after.headers["ETag"] == before.headers["ETag"]


# --- authentication comes before the body -----------------------------------------------------


@pytest.fixture
def expired(app):
    tenant = make_tenant(app, "acme")
    user = make_user(app, tenant, "kim")
    return make_token(app, tenant, user, now=int(time.time()) - 7200, lifetime=3600)


@pytest.mark.parametrize("method", ["PATCH", "PUT"])
@pytest.mark.parametrize(
    ("data", "content_type"),
    [
        (b"{", SCIM_JSON),
        (json.dumps(NICKNAME), "text/plain"),
        (json.dumps(NICKNAME), None),
        (b"[" * 40, SCIM_JSON),
        (b" " * (1024 * 1024 + 1), SCIM_JSON),
    ],
    ids=["invalid-json", "text-plain", "no-content-type", "too-deep", "too-big"],
)
def test_unauthenticated_write_is_401_whatever_the_body(client, expired, data, content_type, method):
    """WSO2 authenticates before it reads anything (and T-FUZZ-3 expects only 401s with an expired token)."""
    response = send(client, expired, data, content_type, method)
    assert response.status_code == 401
    assert response.json == error(401, "Authorization failure. The access token has expired.")


def test_unauthenticated_get_with_bad_accept_is_401(client, expired):
    response = client.get(ME, headers=bearer(expired, Accept="text/html"))
    assert response.status_code == 401
    assert response.json == error(401, "Authorization failure. The access token has expired.")

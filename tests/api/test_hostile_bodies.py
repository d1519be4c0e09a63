"""Every endpoint that reads a JSON body answers hostile bodies with a 4xx in its own error
dialect, never a 500, and writes nothing.

The endpoints are discovered from the app's URL map (every POST, PUT and PATCH route), so a new
JSON endpoint is covered the day it is added; form endpoints are named below, with why. The
bodies are the ones the shared parser (``web/negotiation.parse_body``) exists to refuse: RFC 8259
§9 lets a parser limit nesting depth and size, §4 leaves duplicate names undefined, §8.1 requires
UTF-8, §6 has no NaN/Infinity, and a lone UTF-16 surrogate escape (§7) names no character.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from typing import NamedTuple

import pytest

from scim_me.errors import SCIM_ERROR_URN
from scim_me.storage.db import database_proxy
from scim_me.storage.models import BaseModel
from tests.factories import make_tenant
from tests.factories import make_token
from tests.factories import make_user
from tests.fixtures.database import database_at
from tests.support.apps import build_app

# Endpoints that read form parameters (or nothing), never JSON.
NOT_JSON = {
    "oauth.issue_token": "RFC 6749 §3.2: application/x-www-form-urlencoded",
    "oauth.introspect": "RFC 7662 §2.1: form-encoded",
    "oauth.revoke_token": "RFC 7009 §2.1: form-encoded",
    "oauth.userinfo": "OIDC Core §5.3.1: the access token is the only input",
    "signin.authorize": "the sign-in page's HTML form",
    "signin.logout": "the logout page's HTML form",
    "email_verification.confirm_page_post": "the confirmation page's HTML form",
    "recovery_pages.recover_password": "the recovery page's HTML form",
    "recovery_pages.recover_username": "the recovery page's HTML form",
    "recovery_pages.forced_reset_page": "the reset-link page's HTML form",
    "recovery_pages.resend_confirmation": 'the sign-in page\'s "send me a new link" HTML form',
    "devices.not_me_page": "the \"this wasn't me\" page's HTML form",
}

SCOPES = (
    "openid internal_login internal_user_password_update internal_consent_mgt_add"
    " internal_consent_mgt_delete internal_consent_mgt_view internal_user_recovery_create"
    " internal_user_mgt_create internal_user_mgt_update internal_user_mgt_list"
    " internal_group_mgt_create internal_group_mgt_update internal_group_mgt_list internal_bulk_resource_create"
)
# Path variables of the admin routes: ids nobody has (the body is refused before the lookup).
PATH_VARIABLES = {
    "<user_id>": "00000000-0000-0000-0000-000000000000",
    "<group_id>": "00000000-0000-0000-0000-0000000000ff",
    "<alert_id>": "00000000-0000-0000-0000-0000000000aa",
    "<credential_id>": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
}
DEPTH = 100_000
HOSTILE: dict[str, bytes] = {
    "deep-arrays": b"[" * DEPTH + b"]" * DEPTH,
    "deep-objects": b'{"a":' * DEPTH + b"1" + b"}" * DEPTH,
    "duplicate-keys": b'{"action": "INIT", "action": "INIT", "enabledAuthenticators": "TOTP"}',
    "invalid-utf8": b'{"action": "\xff\xfe", "code": "\xc3\x28"}',
    "lone-surrogate": b'{"action": "\\ud800", "enabledAuthenticators": "\\udfff", "code": "\\ud800x"}',
    # PostgreSQL refuses NUL in jsonb and text: refused at the parser, on both backends alike.
    "nul": b'{"action": "INIT\\u0000", "enabledAuthenticators": "\\u0000", "code": "a\\u0000b"}',
    "nul-key": b'{"act\\u0000ion": "INIT"}',
    "nan": b'{"a": NaN}',
    "infinity": b'{"a": -Infinity}',
    "overflowing-number": b'{"a": 1e400}',
    "huge-integer": b'{"a": ' + b"9" * 5000 + b"}",
    # Every JSON body here is an object; members' types are each endpoint's own tests' business.
    "array": b'[{"action": "INIT"}]',
    "string": b'"INIT"',
    "number": b"42",
    "null": b"null",
    "not-json": b"{not json",
}
OVERSIZE = 1024 * 1024 + 1  # the default max_body_bytes, plus one

# The code each WSO2 REST family answers a bad body with (the start of it).
FAMILY_CODES = {
    "/api/users/v1/me/totp": ("TOTP-",),
    "/api/users/v1/me/backup-codes": ("BCA-",),
    "/api/users/v1/me/mfa/authenticators": ("MFA-",),
    "/api/users/v1/me/change-password": ("PWD-",),
    "/api/identity/consent-mgt/v1.0": ("CM_",),
    "/api/identity/user/v1.0": ("UMG-", "18001"),
    "/api/users/v2/recovery": ("UAR-", "PWR-", "UNR-"),
    "/api/users/v1/me/alerts": ("ALR-",),
    "/api/users/v2/me/webauthn": ("FIDO-",),
}


def _json_routes() -> list[tuple[str, str, str]]:
    with tempfile.TemporaryDirectory() as scratch:
        app = build_app(f"sqlite:///{scratch}/routes.db", Path(scratch))
        rules = list(app.url_map.iter_rules())
        app.extensions["scim_me"].db.close_all()
    routes = []
    for rule in rules:
        for method in sorted((rule.methods or set()) & {"POST", "PUT", "PATCH"}):
            if rule.endpoint not in NOT_JSON:
                path = rule.rule
                for variable, value in PATH_VARIABLES.items():
                    path = path.replace(variable, value)
                routes.append((method, path, rule.endpoint))
    return routes


ROUTES = _json_routes()


def test_the_route_list_is_not_empty_and_names_only_real_endpoints() -> None:
    endpoints = {endpoint for _method, _rule, endpoint in ROUTES}
    assert {"scim_me.patch_me", "mfa.post_totp", "account.change_password", "consent_mgt.add_purpose"} <= endpoints
    assert not any("<" in rule for _method, rule, _endpoint in ROUTES), "fill in path variables below"


class Target(NamedTuple):
    app: Any
    auth: dict[str, str]


@pytest.fixture(scope="module")
def shared(backend: str, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Iterator[Target]:
    """One app and caller for the whole module: nothing here may write, and every test checks
    that its own request wrote nothing, so sharing the database is sound (and saves an app and
    a migrated schema per case)."""
    directory = tmp_path_factory.mktemp("hostile")
    with database_at(backend, directory, request) as url:
        app = build_app(url, directory)
        tenant = make_tenant(app, "acme", self_registration="open")
        # kim holds the tenant's admin role, so the admin endpoints read the bodies sent to them.
        kim = make_user(
            app,
            tenant,
            "kim",
            "correct-horse-9",
            emails=[{"value": "kim@example.com", "primary": True}],
            roles=[{"value": "admin"}],
        )
        yield Target(app, {"Authorization": f"Bearer {make_token(app, tenant, kim, SCOPES)}"})
        app.extensions["scim_me"].db.close_all()


def _snapshot(app: Any) -> dict[str, list[tuple[Any, ...]]]:
    db = app.extensions["scim_me"].db
    # The module's app outlives other tests on this worker: point the models back at its database.
    database_proxy.initialize(db)
    with db.connection_context():
        return {
            model.__name__: sorted((tuple(row) for row in model.select().tuples()), key=repr)
            for model in BaseModel.__subclasses__()
        }


def _assert_dialect(response: Any, rule: str) -> None:
    assert 400 <= response.status_code < 500, (response.status_code, response.get_data(as_text=True)[:300])
    body = response.get_json(force=True)
    if rule.startswith("/scim2"):
        assert response.mimetype == "application/scim+json"
        assert body["schemas"] == [SCIM_ERROR_URN] and body["status"] == str(response.status_code), body
        return
    assert set(body) == {"code", "message", "description", "traceId"}, body
    assert not body["code"].startswith("SCM-"), f"{rule} fell through to the generic handler: {body}"
    for prefix, codes in FAMILY_CODES.items():
        if rule.startswith(prefix):
            assert body["code"].startswith(codes), (rule, body)


@pytest.mark.parametrize("name", [*sorted(HOSTILE), "oversize"])
@pytest.mark.parametrize(("method", "rule", "endpoint"), ROUTES, ids=[f"{m} {r}" for m, r, _e in ROUTES])
def test_hostile_bodies_are_4xx_in_the_family_dialect_and_write_nothing(
    shared: Target, method: str, rule: str, endpoint: str, name: str
) -> None:
    data = HOSTILE[name] if name != "oversize" else b'{"a": "' + b"x" * OVERSIZE + b'"}'
    headers = {**shared.auth, "Content-Type": "application/json"}
    before = _snapshot(shared.app)
    response = shared.app.test_client().open(f"/t/acme{rule}", method=method, data=data, headers=headers)
    _assert_dialect(response, rule)
    assert _snapshot(shared.app) == before, f"{endpoint} wrote something for a {name} body"


@pytest.mark.parametrize(("method", "rule", "endpoint"), ROUTES, ids=[f"{m} {r}" for m, r, _e in ROUTES])
def test_a_non_json_content_type_is_refused_in_the_family_dialect(
    shared: Target, method: str, rule: str, endpoint: str
) -> None:
    """415 (400 where an API has always said 400); the MFA API reads any Content-Type as JSON, so
    a form body is a 400 there too."""
    headers = {**shared.auth, "Content-Type": "application/x-www-form-urlencoded"}
    before = _snapshot(shared.app)
    response = shared.app.test_client().open(
        f"/t/acme{rule}", method=method, data="action=INIT&code=x", headers=headers
    )
    _assert_dialect(response, rule)
    assert response.status_code in (400, 415)
    assert _snapshot(shared.app) == before, f"{endpoint} wrote something for a form body"


# Bodies each endpoint would accept but for one NUL (a SCIM PatchOp, a consent purpose, a new
# password): before the parser refused NUL they were stored on SQLite and a 500 on PostgreSQL.
NUL_IN_VALID_BODIES = [
    (
        "PATCH",
        "/scim2/Me",
        {
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "replace", "path": "displayName", "value": "Kim\u0000"}],
        },
    ),
    (
        "PATCH",
        "/scim2/Me",
        {
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "add", "value": {"nick\u0000Name": "kim"}}],
        },
    ),
    (
        "POST",
        "/api/identity/consent-mgt/v1.0/consents/purposes",
        {"purpose": "news\u0000", "description": "d", "group": "g", "groupType": "t", "piiCategories": []},
    ),
    (
        "POST",
        "/api/users/v1/me/change-password",
        {"currentPassword": "correct-horse-9", "newPassword": "a\u0000b-9xyz"},
    ),
]


@pytest.mark.parametrize(("method", "rule", "body"), NUL_IN_VALID_BODIES, ids=[r for _m, r, _b in NUL_IN_VALID_BODIES])
def test_a_nul_in_an_otherwise_valid_body_is_refused_and_writes_nothing(
    shared: Target, method: str, rule: str, body: dict[str, Any]
) -> None:
    headers = {**shared.auth, "Content-Type": "application/json"}
    before = _snapshot(shared.app)
    data = json.dumps(body)  # escapes the NUL as \\u0000
    response = shared.app.test_client().open(f"/t/acme{rule}", method=method, data=data, headers=headers)
    _assert_dialect(response, rule)
    assert response.status_code == 400
    assert "NUL" in response.get_data(as_text=True)
    assert _snapshot(shared.app) == before

"""Path parameters never reach a query unchecked (issue 12: ``DELETE /api/users/v1/me/sessions/%00x``
was a 500 on PostgreSQL, which refuses NUL in a text parameter).

Every route with a path parameter is discovered from the app's URL map, so a route added later is
covered the day it exists. Each is called, signed in with every scope, with segments no id can
hold (NUL, a control character, bytes that are not UTF-8, a CESU-encoded lone surrogate): the
router does not match them (web/converters.py), so the answer is the 404 any unknown URL gets,
in the path's dialect, on SQLite and PostgreSQL. The tenant segment (``/t/{name}``) is checked
the same way by storage.tenants.find_tenant: an unknown tenant in each family's dialect.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from typing import NamedTuple

import pytest

from scim_me.errors import SCIM_ERROR_URN
from tests.factories import make_tenant
from tests.factories import make_token
from tests.factories import make_user
from tests.fixtures.database import database_at
from tests.support.apps import build_app

SCOPES = (
    "openid internal_login internal_user_password_update internal_consent_mgt_add internal_consent_mgt_delete"
    " internal_consent_mgt_view internal_user_recovery_create internal_user_mgt_create internal_user_mgt_delete"
)
ODD_SEGMENTS = {
    "NUL first": "%00x",
    "NUL last": "x%00",
    "a control character": "a%01b",
    "DEL": "a%7Fb",
    "not UTF-8": "%FFx",
    "a lone surrogate (CESU-8)": "%ED%A0%80",
}
_VARIABLE = re.compile(r"<[^>]+>")


def _parameter_routes() -> list[tuple[str, str, str]]:
    with tempfile.TemporaryDirectory() as scratch:
        app = build_app(f"sqlite:///{scratch}/routes.db", Path(scratch))
        rules = list(app.url_map.iter_rules())
        app.extensions["scim_me"].db.close_all()
    routes = []
    for rule in rules:
        if rule.arguments and rule.endpoint != "static":
            for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
                routes.append((method, rule.rule, rule.endpoint))
    return routes


ROUTES = _parameter_routes()


def test_the_routes_with_path_parameters_are_found() -> None:
    endpoints = {endpoint for _method, _rule, endpoint in ROUTES}
    assert {"me_sessions.end_one", "discovery.schema", "consent_mgt.revoke_receipt"} <= endpoints
    assert any(rule.startswith("/scim2/Users/<") for _method, rule, _endpoint in ROUTES)


class Target(NamedTuple):
    app: Any
    auth: dict[str, str]


@pytest.fixture(scope="module")
def shared(backend: str, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Iterator[Target]:
    directory = tmp_path_factory.mktemp("paths")
    with database_at(backend, directory, request) as url:
        app = build_app(url, directory)
        tenant = make_tenant(app, "acme")
        kim = make_user(app, tenant, "kim", "correct-horse-9")
        yield Target(app, {"Authorization": f"Bearer {make_token(app, tenant, kim, SCOPES)}"})
        app.extensions["scim_me"].db.close_all()


def _assert_not_found_in_dialect(response: Any, path: str) -> None:
    assert response.status_code == 404, (response.status_code, response.get_data(as_text=True)[:300])
    body = response.get_json(force=True)
    if path.startswith("/scim2"):
        assert response.mimetype == "application/scim+json"
        assert body["schemas"] == [SCIM_ERROR_URN] and body["status"] == "404", body
    else:
        assert set(body) == {"code", "message", "description", "traceId"}, body


@pytest.mark.parametrize("segment", list(ODD_SEGMENTS.values()), ids=list(ODD_SEGMENTS))
@pytest.mark.parametrize(("method", "rule", "endpoint"), ROUTES, ids=[f"{m} {r}" for m, r, _e in ROUTES])
def test_odd_path_parameters_are_404_in_the_dialect(
    shared: Target, method: str, rule: str, endpoint: str, segment: str
) -> None:
    path = _VARIABLE.sub(segment, rule)
    response = shared.app.test_client().open(f"/t/acme{path}", method=method, headers=shared.auth, json={})
    _assert_not_found_in_dialect(response, rule)


@pytest.mark.parametrize(("method", "rule", "endpoint"), ROUTES, ids=[f"{m} {r}" for m, r, _e in ROUTES])
def test_a_plain_unknown_id_still_reaches_the_view(shared: Target, method: str, rule: str, endpoint: str) -> None:
    """The converters refuse only the odd characters: an ordinary id is routed as before (and gets
    the view's own answer, which for an unknown id is its family's 404 or a 4xx; WSO2 answers an
    unknown schema 501, which the wso2 dialect copies)."""
    path = _VARIABLE.sub("no-such-id.1~", rule)
    response = shared.app.test_client().open(f"/t/acme{path}", method=method, headers=shared.auth, json={})
    assert response.status_code < 500 or (endpoint, response.status_code) == ("discovery.schema", 501)
    body = response.get_json(force=True, silent=True) or {}
    assert not str(body.get("code", "")).startswith("SCM-"), f"{endpoint} was not routed: {body}"


@pytest.mark.parametrize("segment", list(ODD_SEGMENTS.values()), ids=list(ODD_SEGMENTS))
@pytest.mark.parametrize(
    ("path", "code"),
    [("/scim2/Me", None), ("/api/users/v1/me/sessions", "USM-"), ("/oauth2/jwks", "OAUTH-")],
)
def test_an_odd_tenant_segment_is_an_unknown_tenant(shared: Target, segment: str, path: str, code: str | None) -> None:
    response = shared.app.test_client().get(f"/t/{segment}{path}", headers=shared.auth)
    assert response.status_code in (401, 404), response.get_data(as_text=True)[:300]
    if code is not None and response.status_code == 404:
        assert response.json["code"].startswith(code), response.json

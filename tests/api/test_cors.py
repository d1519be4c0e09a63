"""CORS with WSO2 semantics (wso2-api.md §10, ``web/cors.py``): a tenant's allowed origins are the
union of its clients' origins and the server-level ``cors_allowed_origins``; preflights need no
token; a disallowed origin is refused on preflight (403) but only left without
``Access-Control-Allow-Origin`` on actual requests."""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from scim_me.config import ConfigError
from scim_me.storage.clients import create_client
from scim_me.storage.clients import delete_client
from tests.factories import bearer
from tests.factories import make_tenant
from tests.factories import make_token
from tests.factories import make_user
from tests.support.apps import build_app

ME = "/t/acme/scim2/Me"
SPA = "https://spa.acme.example"
ADMIN = "https://admin.acme.example"
BETA_SPA = "https://spa.beta.example"
ROOT_SPA = "https://console.example"
SERVER = "https://ops.example.net"


def add_client(app: Any, tenant: Any, *origins: str, name: str = "spa") -> Any:
    with app.extensions["scim_me"].db.connection_context():
        record, _ = create_client(
            tenant.id,
            name,
            public=True,
            redirect_uris=[f"{origins[0] if origins else 'https://x.example'}/callback"],
            allowed_origins=list(origins),
            grant_types=["authorization_code", "refresh_token"],
        )
    return record


def preflight(client: Any, path: str, origin: str, method: str = "PATCH", **headers: str) -> Any:
    return client.options(
        path,
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": method,
            "Access-Control-Request-Headers": "authorization,content-type",
            **headers,
        },
    )


def tokens(value: str | None) -> set[str]:
    return {part.strip().lower() for part in (value or "").split(",") if part.strip()}


@pytest.fixture
def make_app(database_url: str, tmp_path: Path) -> Iterator[Callable[..., Any]]:
    built: list[Any] = []

    def factory(**overrides: Any) -> Any:
        application = build_app(database_url, tmp_path, **overrides)
        built.append(application)
        return application

    yield factory
    for application in built:
        application.extensions["scim_me"].db.close_all()


@pytest.fixture
def acme_app(make_app: Callable[..., Any]) -> Any:
    """Tenants acme (two clients, disjoint origins), beta and carbon.super with their own clients."""
    app = make_app(tenant_cache_seconds=0)
    acme = make_tenant(app, "acme")
    beta = make_tenant(app, "beta")
    root = make_tenant(app, "carbon.super")
    add_client(app, acme, SPA, name="spa")
    add_client(app, acme, ADMIN, name="admin")
    add_client(app, beta, BETA_SPA, name="beta-spa")
    add_client(app, root, ROOT_SPA, name="console")
    return app


@pytest.fixture
def client(acme_app: Any) -> Any:
    return acme_app.test_client()


@pytest.fixture
def token(acme_app: Any) -> str:
    acme = make_tenant(acme_app, "acme")
    return make_token(acme_app, acme, make_user(acme_app, acme, "kim"))


def assert_allowed_preflight(response: Any, origin: str, max_age: int = 3600) -> None:
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.headers["Access-Control-Allow-Origin"] == origin
    assert response.headers.get_all("Access-Control-Allow-Origin") == [origin]
    assert response.headers["Access-Control-Allow-Credentials"] == "true"
    assert {"get", "patch", "put", "delete", "post"} <= tokens(response.headers.get("Access-Control-Allow-Methods"))
    assert tokens(response.headers.get("Access-Control-Allow-Headers")) == {"authorization", "content-type"}
    assert response.headers["Access-Control-Max-Age"] == str(max_age)
    assert "origin" in tokens(response.headers.get("Vary"))


def assert_denied_preflight(response: Any) -> None:
    assert response.status_code == 403
    assert response.mimetype == "text/plain"
    assert response.get_data(as_text=True) == "CORS origin denied"
    assert "Access-Control-Allow-Origin" not in response.headers
    assert "Access-Control-Allow-Credentials" not in response.headers


# --- preflight ------------------------------------------------------------------------------


def test_preflight_from_an_allowed_origin_needs_no_token(client: Any) -> None:
    response = preflight(client, ME, SPA)
    assert_allowed_preflight(response, SPA)
    assert response.headers["Access-Control-Allow-Origin"] != "*"


def test_an_origin_of_another_client_of_the_same_tenant_is_allowed(client: Any) -> None:
    # WSO2: an origin allowed for one app is allowed for every app of the tenant.
    assert_allowed_preflight(preflight(client, ME, ADMIN), ADMIN)
    assert_allowed_preflight(preflight(client, "/t/acme/scim2/Me", SPA, method="DELETE"), SPA)


@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "patch"])
def test_preflight_for_every_method_me_needs(client: Any, method: str) -> None:
    assert_allowed_preflight(preflight(client, ME, SPA, method=method), SPA)


def test_an_origin_allowed_only_in_another_tenant_is_denied(client: Any) -> None:
    assert_denied_preflight(preflight(client, ME, BETA_SPA))
    assert_denied_preflight(preflight(client, ME, ROOT_SPA))
    assert_denied_preflight(preflight(client, "/t/beta/scim2/Me", SPA))
    assert_allowed_preflight(preflight(client, "/t/beta/scim2/Me", BETA_SPA), BETA_SPA)


@pytest.mark.parametrize(
    "origin",
    [
        "https://evil.example",
        "null",
        "http://spa.acme.example",  # another scheme
        "https://spa.acme.example:8443",  # another port
        "https://spa.acme.example.evil.net",  # a suffix
        "https://evil.spa.acme.example",  # a subdomain (allow_subdomains is off)
        "https://spa.acme.exampl",  # a prefix
        "https://spa.acme.example/app",  # not an origin
        "*",
        "",
    ],
)
def test_preflight_from_lookalike_origins_is_denied(client: Any, origin: str) -> None:
    response = preflight(client, ME, origin)
    if origin == "":
        # Without an Origin it is not a CORS preflight at all; it must still not grant anything.
        assert "Access-Control-Allow-Origin" not in response.headers
        return
    assert_denied_preflight(response)


def test_preflight_with_an_unsupported_method_is_405(client: Any) -> None:
    response = preflight(client, ME, SPA, method="TRACE")
    assert response.status_code == 405
    assert response.headers.get("Access-Control-Allow-Methods") is None
    response = preflight(client, ME, SPA, method="CONNECT")
    assert response.status_code == 405


def test_preflight_from_a_denied_origin_with_a_bad_method_is_403(client: Any) -> None:
    assert_denied_preflight(preflight(client, ME, "https://evil.example", method="TRACE"))


def test_preflight_is_not_confused_by_a_bad_token(client: Any) -> None:
    response = preflight(client, ME, SPA, Authorization="Bearer garbage")
    assert_allowed_preflight(response, SPA)


def test_preflight_without_requested_headers(client: Any) -> None:
    response = client.options(ME, headers={"Origin": SPA, "Access-Control-Request-Method": "GET"})
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == SPA
    assert "Access-Control-Allow-Headers" not in response.headers


def test_server_level_origins_are_allowed_for_every_tenant(make_app: Callable[..., Any]) -> None:
    app = make_app(cors_allowed_origins=f" {SERVER.upper()}/ , https://other.example.net", cors_max_age=600)
    make_tenant(app, "acme")
    make_tenant(app, "beta")
    make_tenant(app, "carbon.super")
    client = app.test_client()
    for path in (ME, "/t/beta/scim2/Me", "/scim2/Me"):
        assert_allowed_preflight(preflight(client, path, SERVER), SERVER, max_age=600)
        assert_allowed_preflight(preflight(client, path, "https://other.example.net"), "https://other.example.net", 600)
        assert_denied_preflight(preflight(client, path, "https://third.example.net"))


def test_server_origins_given_as_a_toml_list(
    make_app: Callable[..., Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "scim-me.toml"
    config.write_text(f'cors_allowed_origins = ["{SERVER}"]\n', encoding="utf-8")
    monkeypatch.setenv("SCIM_ME_CONFIG", str(config))
    try:
        app = make_app()
    except ConfigError:
        return  # refusing the value at startup with a clear message is fine too
    make_tenant(app, "acme")
    client = app.test_client()
    assert_allowed_preflight(preflight(client, ME, SERVER), SERVER)
    assert client.get(ME, headers={"Origin": SERVER}).status_code == 401


def test_bare_path_uses_the_default_tenants_origins(client: Any, acme_app: Any) -> None:
    assert_allowed_preflight(preflight(client, "/scim2/Me", ROOT_SPA), ROOT_SPA)
    assert_denied_preflight(preflight(client, "/scim2/Me", SPA))
    assert_denied_preflight(preflight(client, "/scim2/Me", BETA_SPA))


def test_clients_added_or_removed_after_the_first_request_take_effect(acme_app: Any, client: Any) -> None:
    newcomer = "https://new.acme.example"
    assert_denied_preflight(preflight(client, ME, newcomer))
    record = add_client(acme_app, make_tenant(acme_app, "acme"), newcomer, name="new")
    assert_allowed_preflight(preflight(client, ME, newcomer), newcomer)
    with acme_app.extensions["scim_me"].db.connection_context():
        assert delete_client(record.tenant_id, record.client_id)
    assert_denied_preflight(preflight(client, ME, newcomer))


# --- actual requests ------------------------------------------------------------------------


def assert_cors_granted(response: Any, origin: str) -> None:
    assert response.headers.get_all("Access-Control-Allow-Origin") == [origin]
    assert response.headers["Access-Control-Allow-Credentials"] == "true"
    assert {"location", "etag"} <= tokens(response.headers.get("Access-Control-Expose-Headers"))
    assert "origin" in tokens(response.headers.get("Vary"))


def test_get_me_from_an_allowed_origin(client: Any, token: str) -> None:
    response = client.get(ME, headers=bearer(token, Origin=SPA))
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.json["userName"] == "kim"
    assert_cors_granted(response, SPA)


def test_get_me_from_another_clients_origin_of_the_tenant(client: Any, token: str) -> None:
    response = client.get(ME, headers=bearer(token, Origin=ADMIN))
    assert response.status_code == 200
    assert_cors_granted(response, ADMIN)


@pytest.mark.parametrize("origin", ["https://evil.example", BETA_SPA, ROOT_SPA, "null"])
def test_get_me_from_a_disallowed_origin_is_served_without_cors_headers(client: Any, token: str, origin: str) -> None:
    response = client.get(ME, headers=bearer(token, Origin=origin))
    assert response.status_code == 200
    assert response.json["userName"] == "kim"
    assert "Access-Control-Allow-Origin" not in response.headers
    assert "Access-Control-Allow-Credentials" not in response.headers
    assert "Access-Control-Expose-Headers" not in response.headers
    assert "origin" in tokens(response.headers.get("Vary"))


def test_get_me_without_origin_has_no_cors_headers(client: Any, token: str) -> None:
    response = client.get(ME, headers=bearer(token))
    assert response.status_code == 200
    assert not [name for name, _ in response.headers.items() if name.lower().startswith("access-control-")]


def test_errors_from_an_allowed_origin_are_readable_by_the_spa(client: Any) -> None:
    response = client.get(ME, headers={"Origin": SPA})
    assert response.status_code == 401
    assert "WWW-Authenticate" in response.headers
    assert_cors_granted(response, SPA)
    response = client.get(ME, headers=bearer("garbage", Origin=ADMIN))
    assert response.status_code == 401
    assert_cors_granted(response, ADMIN)


def test_errors_from_a_disallowed_origin_carry_no_cors_headers(client: Any) -> None:
    response = client.get(ME, headers={"Origin": BETA_SPA})
    assert response.status_code == 401
    assert "Access-Control-Allow-Origin" not in response.headers
    assert "origin" in tokens(response.headers.get("Vary"))


def test_patch_me_from_an_allowed_origin_exposes_etag(client: Any, token: str) -> None:
    body = {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "path": "nickName", "value": "kimmy"}],
    }
    response = client.patch(
        ME, json=body, headers=bearer(token, Origin=SPA, **{"Content-Type": "application/scim+json"})
    )
    assert response.status_code in (200, 204), response.get_data(as_text=True)
    assert_cors_granted(response, SPA)


def test_bare_me_uses_the_default_tenant_for_actual_requests(acme_app: Any, client: Any) -> None:
    root = make_tenant(acme_app, "carbon.super")
    token = make_token(acme_app, root, make_user(acme_app, root, "root-kim"))
    response = client.get("/scim2/Me", headers=bearer(token, Origin=ROOT_SPA))
    assert response.status_code == 200
    assert_cors_granted(response, ROOT_SPA)
    response = client.get("/scim2/Me", headers=bearer(token, Origin=SPA))
    assert response.status_code == 200
    assert "Access-Control-Allow-Origin" not in response.headers

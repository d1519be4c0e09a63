"""OAuth client registry (``storage/clients.py``) on both backends: validation, secrets shown once
and stored as digests, origin normalisation, tenant scoping and the per-tenant origin union."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from scim_me.storage.clients import ClientError
from scim_me.storage.clients import create_client
from scim_me.storage.clients import delete_client
from scim_me.storage.clients import find_client
from scim_me.storage.clients import list_clients
from scim_me.storage.clients import tenant_origins
from scim_me.storage.clients import verify_client_secret
from scim_me.storage.models import OAuthClient
from scim_me.storage.models import Tenant
from tests.factories import make_tenant

SPA = "https://app.example.com"


@contextmanager
def connected(app: Any) -> Iterator[None]:
    with app.extensions["scim_me"].db.connection_context():
        yield


@pytest.fixture
def acme(app: Any) -> Any:
    return make_tenant(app, "acme")


@pytest.fixture
def beta(app: Any) -> Any:
    return make_tenant(app, "beta")


def spa(tenant_id: int, name: str = "spa", origins: list[str] | None = None, **kwargs: Any) -> Any:
    params: dict[str, Any] = {
        "public": True,
        "redirect_uris": [f"{SPA}/callback"],
        "allowed_origins": [SPA] if origins is None else origins,
        "grant_types": ["authorization_code", "refresh_token"],
    }
    params.update(kwargs)
    return create_client(tenant_id, name, **params)


def test_public_spa_client_is_stored_as_given(app: Any, acme: Any) -> None:
    with connected(app):
        record, secret = create_client(
            acme.id,
            "  My SPA  ",
            public=True,
            redirect_uris=[f"{SPA}/callback", "http://localhost:3000/cb", "http://127.0.0.1:8080/cb"],
            allowed_origins=[SPA, "http://localhost:3000"],
            grant_types=["refresh_token", "authorization_code", "refresh_token"],
            scope="  openid   internal_login  ",
        )
        assert secret is None
        assert record.is_public is True
        assert record.secret_hash is None
        assert record.tenant_id == acme.id
        assert record.name == "My SPA"
        assert record.client_id and len(record.client_id) <= 64
        # Redirect URIs are kept exactly (matched by exact string comparison later).
        assert record.redirect_uris == (f"{SPA}/callback", "http://localhost:3000/cb", "http://127.0.0.1:8080/cb")
        assert set(record.allowed_origins) == {SPA, "http://localhost:3000"}
        assert sorted(record.grant_types) == ["authorization_code", "refresh_token"]
        assert record.scope == "openid internal_login"
        assert verify_client_secret(record, "anything") is False
        assert verify_client_secret(record, "") is False
        assert find_client(acme.id, record.client_id) == record
        assert list_clients(acme.id) == [record]


def test_client_ids_are_unique(app: Any, acme: Any) -> None:
    with connected(app):
        ids = {spa(acme.id, f"spa-{i}")[0].client_id for i in range(5)}
    assert len(ids) == 5


def test_confidential_client_secret_is_shown_once_and_stored_as_a_digest(app: Any, acme: Any) -> None:
    with connected(app):
        record, secret = create_client(
            acme.id,
            "backend",
            public=False,
            redirect_uris=[],
            allowed_origins=[],
            grant_types=["client_credentials"],
        )
        assert isinstance(secret, str) and len(secret) >= 32
        assert record.is_public is False
        assert record.secret_hash and record.secret_hash != secret
        assert secret not in record.secret_hash
        assert record.secret_hash == hashlib.sha256(secret.encode()).hexdigest()
        assert verify_client_secret(record, secret) is True
        assert verify_client_secret(record, secret + "x") is False
        assert verify_client_secret(record, secret[:-1]) is False
        assert verify_client_secret(record, "") is False
        assert verify_client_secret(record, record.secret_hash) is False  # the digest is not the secret
        # What is read back later still verifies; the plain secret is stored nowhere.
        stored = find_client(acme.id, record.client_id)
        assert stored is not None and verify_client_secret(stored, secret) is True
        row = OAuthClient.get(OAuthClient.client_id == record.client_id)
        assert all(secret not in str(value) for value in row.__data__.values())
        # A second confidential client gets a different secret.
        _, other = create_client(
            acme.id, "backend-2", public=False, redirect_uris=[], allowed_origins=[], grant_types=["client_credentials"]
        )
        assert other and other != secret


INVALID = [
    pytest.param({"name": ""}, "name", id="empty-name"),
    pytest.param({"name": "   "}, "name", id="blank-name"),
    pytest.param({"grant_types": ["implicit"]}, "grant types", id="unknown-grant"),
    pytest.param({"grant_types": ["authorization_code", "bogus"]}, "grant types", id="one-unknown-grant"),
    pytest.param({"grant_types": []}, "grant types", id="no-grant"),
    pytest.param(
        {"public": True, "grant_types": ["client_credentials"]}, "client_credentials", id="public-client-credentials"
    ),
    pytest.param({"redirect_uris": []}, "redirect", id="authorization-code-without-redirect"),
    pytest.param({"redirect_uris": ["http://app.example.com/cb"]}, "https", id="http-non-loopback"),
    pytest.param({"redirect_uris": ["http://127.0.0.1.evil.net/cb"]}, "https", id="http-loopback-lookalike"),
    pytest.param({"redirect_uris": ["http://localhost@evil.net/cb"]}, "https", id="http-userinfo-trick"),
    pytest.param({"redirect_uris": [f"{SPA}/cb#frag"]}, "fragment", id="redirect-with-fragment"),
    pytest.param({"redirect_uris": ["/callback"]}, "absolute", id="relative-redirect"),
    pytest.param({"redirect_uris": ["app.example.com/cb"]}, "absolute", id="schemeless-redirect"),
    pytest.param({"redirect_uris": ["javascript:alert(1)"]}, "absolute", id="javascript-redirect"),
    pytest.param({"redirect_uris": ["https:///cb"]}, "absolute", id="hostless-redirect"),
    pytest.param({"allowed_origins": [f"{SPA}/app"]}, "origin", id="origin-with-path"),
    pytest.param({"allowed_origins": [f"{SPA}/?x=1"]}, "origin", id="origin-with-query"),
    pytest.param({"allowed_origins": ["app.example.com"]}, "origin", id="origin-without-scheme"),
    pytest.param({"allowed_origins": ["ftp://app.example.com"]}, "origin", id="origin-bad-scheme"),
    pytest.param({"allowed_origins": ["*"]}, "origin", id="origin-wildcard"),
]


@pytest.mark.parametrize(("change", "named"), INVALID)
def test_invalid_client_definitions_are_refused(app: Any, acme: Any, change: dict[str, Any], named: str) -> None:
    params: dict[str, Any] = {
        "name": "spa",
        "public": True,
        "redirect_uris": [f"{SPA}/callback"],
        "allowed_origins": [SPA],
        "grant_types": ["authorization_code", "refresh_token"],
    }
    params.update(change)
    name = params.pop("name")
    with connected(app):
        with pytest.raises(ClientError) as caught:
            create_client(acme.id, name, **params)
        assert named.lower() in str(caught.value).lower()
        assert list_clients(acme.id) == []  # nothing half-stored


def test_redirect_uri_with_an_empty_fragment_is_refused(app: Any, acme: Any) -> None:
    with connected(app), pytest.raises(ClientError, match="fragment"):
        spa(acme.id, redirect_uris=[f"{SPA}/callback#"])


@pytest.mark.parametrize(
    "origin", ["https://user:pw@app.example.com", "https://app.example.com:abc", "https://app.example.com:99999"]
)
def test_origin_with_userinfo_or_a_bad_port_is_refused(app: Any, acme: Any, origin: str) -> None:
    with connected(app), pytest.raises(ClientError, match="origin"):
        spa(acme.id, origins=[origin])


@pytest.mark.parametrize("uri", ["http://localhost/cb", "http://127.0.0.1:5000/cb", "http://[::1]:8000/cb"])
def test_plain_http_redirects_are_allowed_on_loopback(app: Any, acme: Any, uri: str) -> None:
    with connected(app):
        record, _ = spa(acme.id, redirect_uris=[uri])
    assert record.redirect_uris == (uri,)


def test_client_credentials_only_client_needs_no_redirect_uri(app: Any, acme: Any) -> None:
    with connected(app):
        record, secret = create_client(
            acme.id, "svc", public=False, redirect_uris=[], allowed_origins=[], grant_types=["client_credentials"]
        )
    assert record.redirect_uris == () and secret


def test_origins_are_normalised(app: Any, acme: Any) -> None:
    with connected(app):
        record, _ = spa(
            acme.id,
            origins=[
                "HTTPS://App.Example.COM/",
                "https://app.example.com",
                " https://Admin.Example.com:8443/ ",
                "http://LOCALHOST:3000",
            ],
        )
        assert sorted(record.allowed_origins) == [
            "http://localhost:3000",
            "https://admin.example.com:8443",
            "https://app.example.com",
        ]
        assert find_client(acme.id, record.client_id).allowed_origins == record.allowed_origins
        assert tenant_origins(acme.id) == set(record.allowed_origins)


def test_find_client_is_tenant_scoped(app: Any, acme: Any, beta: Any) -> None:
    with connected(app):
        record, _ = spa(acme.id)
        assert find_client(acme.id, record.client_id) == record
        assert find_client(beta.id, record.client_id) is None
        assert find_client(acme.id, "no-such-client") is None
        assert find_client(acme.id, "") is None
        assert find_client(acme.id, "x" * 65) is None
        assert list_clients(beta.id) == []


def test_delete_client(app: Any, acme: Any, beta: Any) -> None:
    with connected(app):
        keep, _ = spa(acme.id, "keep", origins=["https://keep.example.com"])
        gone, _ = spa(acme.id, "gone", origins=["https://gone.example.com"])
        assert delete_client(beta.id, gone.client_id) is False  # another tenant cannot delete it
        assert find_client(acme.id, gone.client_id) == gone
        assert delete_client(acme.id, gone.client_id) is True
        assert find_client(acme.id, gone.client_id) is None
        assert delete_client(acme.id, gone.client_id) is False
        assert list_clients(acme.id) == [keep]
        assert tenant_origins(acme.id) == {"https://keep.example.com"}


def test_tenant_origins_is_the_union_over_the_tenants_clients(app: Any, acme: Any, beta: Any) -> None:
    with connected(app):
        assert tenant_origins(acme.id) == set()
        spa(acme.id, "one", origins=["https://one.example.com", "https://shared.example.com"])
        spa(acme.id, "two", origins=["https://two.example.com/", "https://Shared.example.com"])
        spa(acme.id, "none", origins=[])
        create_client(
            acme.id,
            "svc",
            public=False,
            redirect_uris=[],
            allowed_origins=["https://svc.example.com"],
            grant_types=["client_credentials"],
        )
        spa(beta.id, "beta", origins=["https://beta.example.com"])
        assert tenant_origins(acme.id) == {
            "https://one.example.com",
            "https://two.example.com",
            "https://shared.example.com",
            "https://svc.example.com",
        }
        assert tenant_origins(beta.id) == {"https://beta.example.com"}


def test_deleting_a_tenant_deletes_its_clients(app: Any, acme: Any, beta: Any) -> None:
    with connected(app):
        doomed, _ = spa(acme.id, "doomed")
        survivor, _ = spa(beta.id, "survivor", origins=["https://beta.example.com"])
        Tenant.delete().where(Tenant.id == acme.id).execute()
        assert OAuthClient.select().where(OAuthClient.client_id == doomed.client_id).count() == 0
        assert find_client(acme.id, doomed.client_id) is None
        assert tenant_origins(acme.id) == set()
        assert find_client(beta.id, survivor.client_id) == survivor

"""Issue 3, external issuer mode, end to end: a second scim-me instance on another loopback port
is the external OIDC issuer. The first accepts its tokens on /scim2/Me once configured with the
CLI (issuer, JWKS URL, audience, claim mapping), fetching the keys over HTTP; a token of an
unconfigured issuer, or for another audience, is refused."""

from __future__ import annotations

import pytest

from tests.e2e.support import EXTERNAL_AUDIENCE
from tests.e2e.support import HTTP_TIMEOUT_S
from tests.e2e.support import assert_scim_error
from tests.e2e.support import session
from tests.factories import bearer
from tests.support.live_server import DEFAULT_PASSWORD
from tests.support.live_server import LiveServer

pytestmark = pytest.mark.e2e


def _external_token(issuer: LiveServer, tenant: str) -> str:
    """A token from the external instance's own password grant."""
    out = issuer.cli("client", "create", "--tenant", tenant, "--name", "ext", "--public", "--grant", "password").stdout
    client_id = out.splitlines()[0].split()[1]
    with session() as http:
        response = http.post(
            issuer.url("/oauth2/token", tenant),
            data={
                "grant_type": "password",
                "username": "kim",
                "password": DEFAULT_PASSWORD,
                "client_id": client_id,
                "scope": "openid internal_login",
            },
            timeout=HTTP_TIMEOUT_S,
        )
    assert response.status_code == 200, response.text
    return response.json()["access_token"]  # type: ignore[no-any-return]


def _trust(server: LiveServer, tenant: str, issuer: LiveServer, issuer_tenant: str, audience: str) -> None:
    server.cli(
        "tenant", "issuer", "add", "--tenant", tenant,
        "--issuer", issuer.url("/oauth2/token", issuer_tenant),
        "--jwks-uri", issuer.url("/oauth2/jwks", issuer_tenant),
        "--audience", audience,
        "--user-claim", "username",
    )  # fmt: skip


def test_a_token_of_another_instance_reads_me_as_the_local_user(live_server, external_issuer):
    live_server.cli("tenant", "create", "rs")
    live_server.cli("user", "create", "--tenant", "rs", "--username", "kim", "--password", DEFAULT_PASSWORD)
    _trust(live_server, "rs", external_issuer, "idp", EXTERNAL_AUDIENCE)
    token = _external_token(external_issuer, "idp")
    with session() as http:
        # Several requests: each worker fetches the JWKS once, then every one succeeds.
        for _ in range(6):
            me = http.get(live_server.me_url("rs"), headers=bearer(token), timeout=HTTP_TIMEOUT_S)
            assert me.status_code == 200, me.text
            assert me.json()["userName"] == "kim"
        # A token of an issuer the tenant does not trust (same software, another tenant there).
        stranger = _external_token(external_issuer, "stranger")
        assert_scim_error(http.get(live_server.me_url("rs"), headers=bearer(stranger), timeout=HTTP_TIMEOUT_S), 401)
        # The same issuer's token is worthless at a tenant that does not trust it.
        assert_scim_error(http.get(live_server.me_url("acme"), headers=bearer(token), timeout=HTTP_TIMEOUT_S), 401)

    # Removed: refused at once (the configuration is read on every request).
    live_server.cli(
        "tenant", "issuer", "remove", "--tenant", "rs", "--issuer", external_issuer.url("/oauth2/token", "idp")
    )
    with session() as http:
        for _ in range(4):
            assert_scim_error(http.get(live_server.me_url("rs"), headers=bearer(token), timeout=HTTP_TIMEOUT_S), 401)


def test_a_token_for_another_audience_is_refused(live_server, external_issuer):
    live_server.cli("tenant", "create", "rs-aud")
    live_server.cli("user", "create", "--tenant", "rs-aud", "--username", "kim", "--password", DEFAULT_PASSWORD)
    _trust(live_server, "rs-aud", external_issuer, "idp", "https://another-api.example.org")
    token = _external_token(external_issuer, "idp")
    with session() as http:
        response = http.get(live_server.me_url("rs-aud"), headers=bearer(token), timeout=HTTP_TIMEOUT_S)
    body = assert_scim_error(response, 401)
    assert "audience" in body["detail"]
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]

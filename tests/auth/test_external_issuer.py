"""External issuer (resource-server) mode: /scim2/Me accepts access tokens of a configured OIDC
issuer, verified against its keys, and maps a claim to the local user. Both backends.

The issuer's JWKS is served by a real HTTP server on a loopback port (no mocked HTTP), whose
answers and fetch count the tests control; tokens are signed with keys generated here.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from joserfc import jws
from joserfc.jwk import ECKey
from joserfc.jwk import RSAKey

from scim_me.storage.external_issuers import ExternalIssuerError
from scim_me.storage.external_issuers import ExternalIssuerRecord
from scim_me.storage.external_issuers import add_issuer
from scim_me.storage.tenants import update_tenant
from tests.factories import ERROR_URN
from tests.factories import SCIM_JSON
from tests.factories import bearer
from tests.factories import make_tenant
from tests.factories import make_token
from tests.factories import make_user
from tests.support.apps import build_app
from tests.support.privacy import CM

EXTERNAL = "https://login.example.org/oauth2/default"
AUDIENCE = "scim-me-api"
ME = "/t/acme/scim2/Me"
PASSWORD = "correct-horse-9"
WSO2 = "urn:scim:wso2:schema"
VERIFIED = {"emailVerified": True}


class JwksServer:
    """A JWKS endpoint on 127.0.0.1 whose document, status and hit count the test controls."""

    def __init__(self) -> None:
        self.document: dict[str, Any] = {"keys": []}
        self.status = 200
        self.location: str | None = None  # when set, every answer is a 302 to it
        self.hits = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.hits += 1
                if server.location is not None:
                    self.send_response(302)
                    self.send_header("Location", server.location)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                body = json.dumps(server.document).encode()
                self.send_response(server.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/jwks"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def publish(self, *keys: Any) -> None:
        self.document = {"keys": [k.as_dict(private=False) for k in keys]}

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def jwks_server() -> Iterator[JwksServer]:
    server = JwksServer()
    yield server
    server.close()


def rsa_key(kid: str) -> Any:
    return RSAKey.generate_key(2048, parameters={"kid": kid, "alg": "RS256", "use": "sig"}, private=True)


def sign(key: Any, claims: dict[str, Any], **header: Any) -> str:
    head = {"alg": "RS256", "kid": key.kid, "typ": "at+jwt", **header}
    payload = json.dumps(claims, separators=(",", ":")).encode()
    return str(jws.serialize_compact(head, payload, key, algorithms=[head["alg"]]))


def claims(**changes: Any) -> dict[str, Any]:
    now = int(time.time())
    body = {
        "iss": EXTERNAL,
        "sub": "kim",
        "aud": [AUDIENCE],
        "scope": "openid internal_login",
        "client_id": "external-spa",
        "iat": now,
        "nbf": now,
        "exp": now + 600,
        "jti": "j-" + str(now),
    }
    body.update(changes)
    return {k: v for k, v in body.items() if v is not None}


def configure(app: Any, tenant: Any, **fields: Any) -> ExternalIssuerRecord:
    record = ExternalIssuerRecord(tenant_id=tenant.id, issuer=EXTERNAL, audience=AUDIENCE, **fields)
    with app.app_context(), app.extensions["scim_me"].db.connection_context():
        return add_issuer(record)


def assert_invalid_token(response: Any, reason: str | None = None) -> None:
    assert response.status_code == 401, response.get_data(as_text=True)
    assert response.mimetype == SCIM_JSON
    assert response.json["schemas"] == [ERROR_URN]
    assert response.headers["WWW-Authenticate"].startswith('Bearer realm="scim-me", error="invalid_token"')
    if reason is not None:
        assert response.json["detail"] == f"Authorization failure. {reason}"


@pytest.fixture
def tenant(app):
    return make_tenant(app, "acme")


@pytest.fixture
def kim(app, tenant):
    return make_user(
        app, tenant, "kim", PASSWORD, emails=[{"value": "Kim@Example.com", "primary": True}], **{WSO2: VERIFIED}
    )


@pytest.fixture
def key():
    return rsa_key("ext-1")


@pytest.fixture
def static_issuer(app, tenant, key):
    return configure(app, tenant, jwks={"keys": [key.as_dict(private=False)]})


# --- acceptance -------------------------------------------------------------------------------


def test_a_token_of_the_external_issuer_reads_me_as_the_mapped_user(client, kim, key, static_issuer):
    response = client.get(ME, headers=bearer(sign(key, claims())))
    assert response.status_code == 200, response.json
    assert response.json["userName"] == "kim"
    patched = client.patch(
        ME,
        json={
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "replace", "path": "nickName", "value": "ext"}],
        },
        headers=bearer(sign(key, claims()), **{"Content-Type": SCIM_JSON}),
    )
    assert patched.status_code == 200, patched.json
    assert patched.json["nickName"] == "ext"


def test_local_tokens_stay_accepted_by_default(app, client, tenant, kim, static_issuer):
    assert client.get(ME, headers=bearer(make_token(app, tenant, kim))).status_code == 200


def test_local_tokens_can_be_refused(app, client, tenant, kim, key, static_issuer):
    with app.app_context(), app.extensions["scim_me"].db.connection_context():
        update_tenant("acme", accept_local_tokens=False)
    fresh = build_app(
        app.extensions["scim_me"].settings.database_url,
        Path(app.extensions["scim_me"].settings.encryption_key_file).parent,
    )
    try:
        http = fresh.test_client()
        assert_invalid_token(
            http.get(ME, headers=bearer(make_token(app, tenant, kim))),
            "This tenant accepts tokens of its external issuers only.",
        )
        assert http.get(ME, headers=bearer(sign(key, claims()))).status_code == 200
    finally:
        fresh.extensions["scim_me"].db.close_all()


# --- refusals ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"aud": ["another-api"]}, "The access token is not meant for this API (audience)."),
        ({"aud": None}, "The access token is not meant for this API (audience)."),
        ({"exp": int(time.time()) - 3600}, "The access token has expired."),
        ({"exp": None}, "The access token has expired."),
        ({"nbf": int(time.time()) + 3600}, "The access token is not valid yet."),
        ({"sub": None}, "The access token has no 'sub' claim naming its user."),
        ({"sub": "nobody"}, "The token's user does not exist."),
    ],
    ids=["wrong-aud", "no-aud", "expired", "no-exp", "nbf", "no-sub", "unknown-user"],
)
def test_a_bad_claim_is_401(client, kim, key, static_issuer, change, reason):
    assert_invalid_token(client.get(ME, headers=bearer(sign(key, claims(**change)))), reason)


def test_an_unconfigured_issuer_is_401(client, kim, key, static_issuer):
    token = sign(key, claims(iss="https://evil.example.org/"))
    assert_invalid_token(client.get(ME, headers=bearer(token)))


def test_an_issuer_of_another_tenant_is_401_here(app, client, kim, key):
    other = make_tenant(app, "other")
    configure(app, other, jwks={"keys": [key.as_dict(private=False)]})
    assert_invalid_token(client.get(ME, headers=bearer(sign(key, claims()))))


def test_a_token_signed_by_another_key_is_401(client, kim, static_issuer):
    forged = sign(rsa_key("ext-1"), claims())  # same kid, attacker's key
    assert_invalid_token(client.get(ME, headers=bearer(forged)), "The access token's signature is invalid.")
    unknown = sign(rsa_key("ext-2"), claims())
    assert_invalid_token(
        client.get(ME, headers=bearer(unknown)), "The access token was not signed by a key of its issuer."
    )


def test_our_own_key_cannot_sign_for_the_external_issuer(app, client, tenant, kim, static_issuer):
    token = make_token(app, tenant, kim, issuer=EXTERNAL, audience=AUDIENCE)
    assert_invalid_token(client.get(ME, headers=bearer(token)))


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@pytest.mark.parametrize("alg", ["none", "None", "NONE", ""])
def test_alg_none_is_401(client, kim, key, static_issuer, alg):
    header = _b64(json.dumps({"alg": alg, "kid": key.kid}).encode())
    payload = _b64(json.dumps(claims()).encode())
    assert_invalid_token(
        client.get(ME, headers=bearer(f"{header}.{payload}.")), "The access token's algorithm is not accepted."
    )


def test_hs256_with_the_public_key_as_secret_is_401(client, kim, key, static_issuer):
    """CVE-2024-37568 pattern: the public key's PEM used as an HMAC secret."""
    secret = key.as_pem(private=False)
    header = _b64(json.dumps({"alg": "HS256", "kid": key.kid, "typ": "at+jwt"}).encode())
    payload = _b64(json.dumps(claims()).encode())
    signature = _b64(hmac.new(secret, f"{header}.{payload}".encode(), hashlib.sha256).digest())
    assert_invalid_token(
        client.get(ME, headers=bearer(f"{header}.{payload}.{signature}")),
        "The access token's algorithm is not accepted.",
    )


def test_an_algorithm_outside_the_issuers_list_is_401(app, client, tenant, kim):
    loose = RSAKey.generate_key(2048, parameters={"kid": "no-alg"}, private=True)  # fit for any RS*/PS*
    configure(app, tenant, jwks={"keys": [loose.as_dict(private=False)]}, algorithms=("RS256",))
    assert client.get(ME, headers=bearer(sign(loose, claims()))).status_code == 200
    for alg in ("RS512", "PS256"):
        token = sign(loose, claims(), alg=alg)
        assert_invalid_token(client.get(ME, headers=bearer(token)), "The access token's algorithm is not accepted.")


@pytest.mark.parametrize("member", ["jku", "jwk", "x5u"])
def test_a_token_naming_its_own_key_is_401(client, kim, key, static_issuer, member):
    token = sign(key, claims(), **{member: "https://evil.example.org/keys" if member != "jwk" else {"kty": "RSA"}})
    assert_invalid_token(
        client.get(ME, headers=bearer(token)), "The access token names keys this server does not trust."
    )


def test_an_id_token_typ_is_401(client, kim, key, static_issuer):
    token = sign(key, claims(), typ="id_token+jwt")
    assert_invalid_token(client.get(ME, headers=bearer(token)), "The token is not an access token.")


def test_a_plain_jwt_typ_is_accepted(client, kim, key, static_issuer):
    """Okta, Auth0 and Entra ID type their access tokens ``JWT``; the audience keeps ID tokens out."""
    assert client.get(ME, headers=bearer(sign(key, claims(), typ="JWT"))).status_code == 200


def test_the_revocation_list_does_not_apply_to_external_tokens(client, kim, key, static_issuer):
    """Only this server's own jtis are on its list; a colliding external jti changes nothing."""
    assert client.get(ME, headers=bearer(sign(key, claims(jti="anything")))).status_code == 200


# --- user and scope mapping -------------------------------------------------------------------


def test_email_claim_maps_to_emails(app, client, tenant, kim, key):
    configure(app, tenant, jwks={"keys": [key.as_dict(private=False)]}, user_claim="email", user_attribute="emails")
    ok = client.get(ME, headers=bearer(sign(key, claims(email="kim@example.COM", email_verified=True))))
    assert ok.status_code == 200, ok.json
    assert ok.json["userName"] == "kim"
    unverified = sign(key, claims(email="kim@example.com", email_verified=False))
    assert_invalid_token(client.get(ME, headers=bearer(unverified)), "The token's user does not exist.")


def test_an_email_shared_by_two_users_names_nobody(app, client, tenant, kim, key):
    make_user(app, tenant, "kim2", PASSWORD, emails=[{"value": "kim@example.com", "primary": True}], **{WSO2: VERIFIED})
    configure(app, tenant, jwks={"keys": [key.as_dict(private=False)]}, user_claim="email", user_attribute="emails")
    token = sign(key, claims(email="kim@example.com", email_verified=True))
    assert_invalid_token(client.get(ME, headers=bearer(token)), "The token's user does not exist.")


@pytest.mark.parametrize("verified", [None, "true", 1])
def test_email_mapping_needs_email_verified_true(app, client, tenant, kim, key, verified):
    """OIDC Core §5.7: an address the issuer does not assert as verified (claim absent, or not the
    boolean true) proves nothing about who holds it, so it names nobody."""
    configure(app, tenant, jwks={"keys": [key.as_dict(private=False)]}, user_claim="email", user_attribute="emails")
    token = sign(key, claims(email="kim@example.com", email_verified=verified))
    assert_invalid_token(client.get(ME, headers=bearer(token)), "The token's user does not exist.")


def test_only_a_verified_local_address_matches(app, client, tenant, kim, key):
    """A user who writes someone else's address into their own ``emails`` (unverified) neither
    signs in as its owner nor locks the owner out by making the address ambiguous."""
    make_user(
        app, tenant, "mallory", PASSWORD,
        emails=[{"value": "mallory@example.net", "primary": True}, {"value": "KIM@example.com"},
                {"value": "boss@example.com"}],
        **{WSO2: VERIFIED},
    )  # fmt: skip
    configure(app, tenant, jwks={"keys": [key.as_dict(private=False)]}, user_claim="email", user_attribute="emails")
    owner = client.get(ME, headers=bearer(sign(key, claims(email="kim@example.com", email_verified=True))))
    assert owner.status_code == 200, owner.json
    assert owner.json["userName"] == "kim"
    takeover = sign(key, claims(email="boss@example.com", email_verified=True))
    assert_invalid_token(client.get(ME, headers=bearer(takeover)), "The token's user does not exist.")


def test_a_primary_address_whose_verification_is_not_recorded_does_not_match(app, client, tenant, key):
    make_user(app, tenant, "lee", PASSWORD, emails=[{"value": "lee@example.com", "primary": True}])
    configure(app, tenant, jwks={"keys": [key.as_dict(private=False)]}, user_claim="email", user_attribute="emails")
    token = sign(key, claims(email="lee@example.com", email_verified=True))
    assert_invalid_token(client.get(ME, headers=bearer(token)), "The token's user does not exist.")


def test_sub_can_map_to_the_user_id(app, client, tenant, kim, key):
    configure(app, tenant, jwks={"keys": [key.as_dict(private=False)]}, user_attribute="id")
    assert client.get(ME, headers=bearer(sign(key, claims(sub=kim.id)))).status_code == 200
    assert_invalid_token(client.get(ME, headers=bearer(sign(key, claims(sub="kim")))))


def test_scp_list_with_a_scope_map(app, client, tenant, kim, key):
    configure(
        app, tenant, jwks={"keys": [key.as_dict(private=False)]}, scope_claim="scp",
        scope_map={"scim:me": "internal_login"},
    )  # fmt: skip
    assert client.get(ME, headers=bearer(sign(key, claims(scope=None, scp=["scim:me"])))).status_code == 200
    no_scope = client.get(ME, headers=bearer(sign(key, claims(scope=None, scp=["profile"]))))
    assert no_scope.status_code == 403
    # The scope claim is the configured one only: ``scope`` is ignored here.
    assert client.get(ME, headers=bearer(sign(key, claims(scope="internal_login")))).status_code == 403


PURPOSES = f"/t/acme{CM}/consents/purposes"


def test_unmapped_external_scopes_are_dropped(app, client, tenant, kim, key, static_issuer):
    """The scope map is an allow-list: a local admin scope in an external token counts only when
    the issuer's configuration maps a scope to it. Without a map, only ``internal_login`` (the
    self-service scope every local user has) passes."""
    admin = sign(key, claims(scope="openid internal_login internal_consent_mgt_add"))
    assert client.get(ME, headers=bearer(admin)).status_code == 200
    refused = client.post(PURPOSES, json={"purpose": "Marketing"}, headers=bearer(admin))
    assert refused.status_code == 403


def test_a_mapped_external_scope_grants_its_local_scope(app, client, tenant, kim, key):
    configure(
        app, tenant, jwks={"keys": [key.as_dict(private=False)]},
        scope_map={"internal_login": "internal_login", "corp:consent-admin": "internal_consent_mgt_add"},
    )  # fmt: skip
    admin = sign(key, claims(scope="internal_login corp:consent-admin"))
    assert client.post(PURPOSES, json={"purpose": "Marketing"}, headers=bearer(admin)).status_code == 200
    unmapped = sign(key, claims(scope="internal_login internal_consent_mgt_add"))
    assert client.post(PURPOSES, json={"purpose": "Other"}, headers=bearer(unmapped)).status_code == 403


def test_es256_issuer(app, client, tenant, kim):
    ec = ECKey.generate_key("P-256", parameters={"kid": "ec-1", "alg": "ES256"}, private=True)
    configure(app, tenant, jwks={"keys": [ec.as_dict(private=False)]})
    assert client.get(ME, headers=bearer(sign(ec, claims(), alg="ES256"))).status_code == 200


# --- JWKS fetching ----------------------------------------------------------------------------


def test_the_jwks_is_fetched_once_and_cached(client, tenant, kim, key, jwks_server, app):
    jwks_server.publish(key)
    configure(app, tenant, jwks_uri=jwks_server.url)
    for n in range(3):
        assert client.get(ME, headers=bearer(sign(key, claims(jti=f"t{n}")))).status_code == 200
    assert jwks_server.hits == 1


def test_a_new_kid_refetches_the_jwks_at_once(database_url, tmp_path, jwks_server):
    app = build_app(database_url, tmp_path, external_jwks_refresh_min_seconds=0)
    try:
        tenant = make_tenant(app, "acme")
        make_user(app, tenant, "kim", PASSWORD)
        old, new = rsa_key("k-old"), rsa_key("k-new")
        jwks_server.publish(old)
        configure(app, tenant, jwks_uri=jwks_server.url)
        client = app.test_client()
        assert client.get(ME, headers=bearer(sign(old, claims()))).status_code == 200
        jwks_server.publish(old, new)  # the issuer rotates
        assert client.get(ME, headers=bearer(sign(new, claims()))).status_code == 200
        assert jwks_server.hits == 2
    finally:
        app.extensions["scim_me"].db.close_all()


def test_made_up_kids_do_not_hammer_the_issuer(client, tenant, kim, key, jwks_server, app):
    jwks_server.publish(key)
    configure(app, tenant, jwks_uri=jwks_server.url)
    assert client.get(ME, headers=bearer(sign(key, claims()))).status_code == 200
    for n in range(5):
        assert_invalid_token(client.get(ME, headers=bearer(sign(rsa_key(f"made-up-{n}"), claims()))))
    assert jwks_server.hits == 1  # within external_jwks_refresh_min_seconds (30 s): no refetch


def test_an_unreachable_jwks_is_503_not_401(client, tenant, kim, key, app):
    configure(app, tenant, jwks_uri="http://127.0.0.1:9/jwks")  # discard port: nothing listens
    response = client.get(ME, headers=bearer(sign(key, claims())))
    assert response.status_code == 503, response.get_data(as_text=True)
    assert response.json["schemas"] == [ERROR_URN]
    assert response.headers["Retry-After"] == "30"


def test_a_redirecting_jwks_url_is_not_followed(client, tenant, kim, key, app, jwks_server):
    """The configured JWKS URL is the trust anchor: a redirect (an open redirect on the issuer's
    host, a hijacked path) must not pick the keys, so it counts as a failed fetch (503)."""
    elsewhere = JwksServer()
    try:
        elsewhere.publish(key)
        jwks_server.location = elsewhere.url
        configure(app, tenant, jwks_uri=jwks_server.url)
        response = client.get(ME, headers=bearer(sign(key, claims())))
        assert response.status_code == 503, response.get_data(as_text=True)
        assert jwks_server.hits == 1
        assert elsewhere.hits == 0
    finally:
        elsewhere.close()


def test_a_broken_jwks_keeps_the_last_good_keys(database_url, tmp_path, jwks_server):
    app = build_app(database_url, tmp_path, external_jwks_cache_seconds=0, external_jwks_refresh_min_seconds=0)
    try:
        tenant = make_tenant(app, "acme")
        make_user(app, tenant, "kim", PASSWORD)
        key = rsa_key("k1")
        jwks_server.publish(key)
        configure(app, tenant, jwks_uri=jwks_server.url)
        client = app.test_client()
        assert client.get(ME, headers=bearer(sign(key, claims(jti="a")))).status_code == 200
        jwks_server.status = 500
        assert client.get(ME, headers=bearer(sign(key, claims(jti="b")))).status_code == 200
        assert jwks_server.hits == 2  # it did try
    finally:
        app.extensions["scim_me"].db.close_all()


def test_symmetric_and_private_keys_in_a_fetched_jwks_are_ignored(client, tenant, kim, jwks_server, app):
    secret = b"k" * 32
    jwks_server.document = {"keys": [{"kty": "oct", "kid": "sym", "k": _b64(secret), "alg": "HS256"}]}
    configure(app, tenant, jwks_uri=jwks_server.url, algorithms=("RS256",))
    header = _b64(json.dumps({"alg": "HS256", "kid": "sym"}).encode())
    payload = _b64(json.dumps(claims()).encode())
    signature = _b64(hmac.new(secret, f"{header}.{payload}".encode(), hashlib.sha256).digest())
    assert_invalid_token(client.get(ME, headers=bearer(f"{header}.{payload}.{signature}")))


# --- configuration ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "fields",
    [
        {},  # neither a URL nor keys
        {"jwks_uri": "file:///etc/passwd"},
        {"jwks_uri": "https://a.example/jwks", "jwks": {"keys": [{"kty": "RSA"}]}},
        {"jwks": {"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}},
        {"jwks_uri": "https://a.example/jwks", "algorithms": ("HS256",)},
        {"jwks_uri": "https://a.example/jwks", "algorithms": ("none",)},
        {"jwks_uri": "https://a.example/jwks", "user_attribute": "password"},
        {"jwks_uri": "https://a.example/jwks", "scope_claim": "roles"},
    ],
    ids=["no-keys", "file-url", "both", "symmetric", "hs256", "none", "attribute", "scope-claim"],
)
def test_unsafe_configurations_are_refused(app, tenant, fields):
    with pytest.raises(ExternalIssuerError):
        configure(app, tenant, **fields)


def _cli(database_url: str, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    script = Path(sys.executable).with_name("scim-me")
    command = [str(script)] if script.is_file() else [sys.executable, "-m", "scim_me.cli"]
    env = {
        **os.environ,
        "SCIM_ME_CONFIG": "",
        "SCIM_ME_DATABASE_URL": database_url,
        "SCIM_ME_ENCRYPTION_KEY_FILE": str(tmp_path / "encryption.key"),
        "SCIM_ME_BASE_URL": "http://localhost",
    }
    env.pop("SCIM_ME_ENCRYPTION_KEY", None)
    return subprocess.run(command + list(args), env=env, capture_output=True, text=True, timeout=60, check=False)


def test_the_cli_adds_lists_switches_and_removes(app, tenant, kim, key, database_url, tmp_path):
    jwks_file = tmp_path / "jwks.json"
    jwks_file.write_text(json.dumps({"keys": [key.as_dict(private=False)]}))
    refused = _cli(database_url, tmp_path, "tenant", "issuer", "local-tokens", "--tenant", "acme", "refuse")
    assert refused.returncode != 0
    assert "add an external issuer first" in refused.stderr
    added = _cli(
        database_url, tmp_path, "tenant", "issuer", "add", "--tenant", "acme", "--issuer", EXTERNAL,
        "--jwks-file", str(jwks_file), "--audience", AUDIENCE, "--scope-claim", "scp",
        "--map-scope", "scim:me=internal_login", "--alg", "RS256",
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    again = _cli(
        database_url, tmp_path, "tenant", "issuer", "add", "--tenant", "acme", "--issuer", EXTERNAL,
        "--jwks-uri", "https://login.example.org/keys", "--audience", AUDIENCE,
    )  # fmt: skip
    assert again.returncode != 0
    assert "already configured" in again.stderr
    own = _cli(
        database_url, tmp_path, "tenant", "issuer", "add", "--tenant", "acme", "--issuer",
        "http://localhost/t/acme/oauth2/token", "--jwks-uri", "https://x.example/k", "--audience", AUDIENCE,
    )  # fmt: skip
    assert own.returncode != 0
    assert "own issuer" in own.stderr
    assert (
        _cli(database_url, tmp_path, "tenant", "issuer", "local-tokens", "--tenant", "acme", "refuse").returncode == 0
    )
    listed = _cli(database_url, tmp_path, "tenant", "issuer", "list", "--tenant", "acme")
    lines = listed.stdout.splitlines()
    entry = json.loads(lines[0])
    assert entry["issuer"] == EXTERNAL
    assert entry["static_keys"] == 1
    assert entry["scope_map"] == {"scim:me": "internal_login"}
    assert entry["algorithms"] == ["RS256"]
    assert lines[1] == "local tokens: refused"
    assert '"n"' not in listed.stdout  # no key material printed

    fresh = build_app(database_url, tmp_path)
    try:
        http = fresh.test_client()
        assert http.get(ME, headers=bearer(sign(key, claims(scope=None, scp=["scim:me"])))).status_code == 200
        assert_invalid_token(http.get(ME, headers=bearer(make_token(fresh, tenant, kim))))
    finally:
        fresh.extensions["scim_me"].db.close_all()

    assert (
        _cli(database_url, tmp_path, "tenant", "issuer", "local-tokens", "--tenant", "acme", "accept").returncode == 0
    )
    removed = _cli(database_url, tmp_path, "tenant", "issuer", "remove", "--tenant", "acme", "--issuer", EXTERNAL)
    assert removed.returncode == 0, removed.stderr
    assert (
        _cli(database_url, tmp_path, "tenant", "issuer", "list", "--tenant", "acme").stdout
        == "local tokens: accepted\n"
    )

"""security.md T-RS-1: bearer-token validation at GET /t/{tenant}/scim2/Me.

Every rejected token is a 401 SCIM error with a ``WWW-Authenticate: Bearer`` challenge; the detail
names the check that failed, so each case pins one check. Forged tokens are built by hand from a
valid token's header and claims, changing one thing at a time.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

import pytest
from joserfc import jws
from joserfc.jwk import ECKey
from joserfc.jwk import RSAKey

from scim_me.auth.keys import public_keys
from scim_me.auth.keys import signing_key
from scim_me.storage.users import delete_user
from tests.factories import SCIM_JSON
from tests.factories import bearer
from tests.factories import make_tenant
from tests.factories import make_token
from tests.factories import make_user

ERROR_URN = "urn:ietf:params:scim:api:messages:2.0:Error"
ME = "/t/acme/scim2/Me"
LEEWAY = 30  # Settings.token_leeway default
NO_CREDENTIALS = {
    "schemas": [ERROR_URN],
    "status": "401",
    "detail": "Authorization failure. Authorization information was invalid or missing from your request.",
}


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _segment(obj: Any) -> str:
    return _b64(json.dumps(obj, separators=(",", ":")).encode())


def _unpack(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    header, payload, _signature = token.split(".")
    return (
        json.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4))),
        json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))),
    )


def _sign(key: Any, header: dict[str, Any], claims: dict[str, Any]) -> str:
    payload = json.dumps(claims, separators=(",", ":")).encode()
    return str(jws.serialize_compact(header, payload, key, algorithms=[header["alg"]]))


def _tenant_key(app: Any, tenant: Any) -> Any:
    with app.extensions["scim_me"].db.connection_context():
        return signing_key(tenant.id, app.extensions["scim_me"].settings.master_key())[2]


def _public_pem(app: Any, tenant: Any, kid: str) -> bytes:
    with app.extensions["scim_me"].db.connection_context():
        jwk = public_keys(tenant.id, refresh=True)[kid]
    return RSAKey.import_key(jwk).as_pem(private=False)


def _attacker_key(kid: str) -> Any:
    return RSAKey.generate_key(2048, parameters={"kid": kid, "alg": "RS256"}, private=True)


def assert_invalid_token(response: Any, reason: str) -> None:
    assert response.status_code == 401, response.get_data(as_text=True)
    assert response.mimetype == SCIM_JSON
    assert response.json == {"schemas": [ERROR_URN], "status": "401", "detail": f"Authorization failure. {reason}"}
    assert response.headers["WWW-Authenticate"] == (
        f'Bearer realm="scim-me", error="invalid_token", error_description="{reason}"'
    )


def assert_no_credentials(response: Any) -> None:
    assert response.status_code == 401, response.get_data(as_text=True)
    assert response.mimetype == SCIM_JSON
    assert response.json == NO_CREDENTIALS
    # RFC 6750 §3.1: no error code when the request carried no usable credentials.
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="scim-me"'


@pytest.fixture
def acme(app):
    return make_tenant(app, "acme")


@pytest.fixture
def kim(app, acme):
    return make_user(app, acme, "kim")


@pytest.fixture
def valid(app, acme, kim):
    return make_token(app, acme, kim)


def test_valid_token_reads_me(client, kim, valid):
    response = client.get(ME, headers=bearer(valid))
    assert response.status_code == 200, response.json
    assert response.json["id"] == kim.id
    assert response.json["userName"] == "kim"


def test_scheme_name_is_case_insensitive(client, kim, valid):
    response = client.get(ME, headers={"Authorization": f"bearer {valid}"})
    assert response.status_code == 200, response.json
    assert response.json["id"] == kim.id


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer", "Bearer ", "Bearer    ", "Digest username=kim", "Token abc", ""],
    ids=["no-header", "bearer-no-space", "bearer-empty", "bearer-blank", "digest", "unknown-scheme", "empty"],
)
def test_missing_or_unusable_credentials_are_401(client, valid, authorization):
    headers = {} if authorization is None else {"Authorization": authorization}
    assert_no_credentials(client.get(ME, headers=headers))


def test_access_token_in_query_string_is_ignored(client, valid):
    assert_no_credentials(client.get(f"{ME}?access_token={valid}"))


@pytest.mark.parametrize("garbage", ["garbage", "a.b", "a.b.c.d", "a.b.c", "....", "x" * 9000, "é.é.é"])
def test_garbage_token_is_malformed(client, valid, garbage):
    assert_invalid_token(client.get(ME, headers=bearer(garbage)), "The access token is malformed.")


def test_token_expired_one_second_beyond_leeway_is_401(app, client, acme, kim):
    issued = int(time.time()) - 600
    token = make_token(app, acme, kim, now=issued, lifetime=600 - LEEWAY - 1)
    assert_invalid_token(client.get(ME, headers=bearer(token)), "The access token has expired.")


def test_token_not_yet_valid_is_401(app, client, acme, kim):
    token = make_token(app, acme, kim, now=int(time.time()) + 3600)
    assert_invalid_token(client.get(ME, headers=bearer(token)), "The access token is not valid yet.")


def test_token_for_another_audience_is_401(app, client, acme, kim):
    token = make_token(app, acme, kim, audience="some-other-api")
    assert_invalid_token(
        client.get(ME, headers=bearer(token)), "The access token is not meant for this API (audience)."
    )


def test_token_from_another_issuer_is_401(app, client, acme, kim):
    token = make_token(app, acme, kim, issuer="https://evil.example/oauth2/token")
    assert_invalid_token(
        client.get(ME, headers=bearer(token)), "The access token was issued for another tenant or issuer."
    )


def test_tampered_payload_breaks_the_signature(client, valid):
    header, claims = _unpack(valid)
    claims["scope"] = "openid internal_login internal_user_mgt_delete"
    original_signature = valid.rsplit(".", 1)[1]
    forged = f"{_segment(header)}.{_segment(claims)}.{original_signature}"
    assert_invalid_token(client.get(ME, headers=bearer(forged)), "The access token's signature is invalid.")


def test_signature_from_another_key_with_our_kid_is_401(client, valid):
    header, claims = _unpack(valid)
    forged = _sign(_attacker_key(header["kid"]), header, claims)
    assert_invalid_token(client.get(ME, headers=bearer(forged)), "The access token's signature is invalid.")


@pytest.mark.parametrize("alg", ["none", "None", "NONE"])
def test_alg_none_is_401(client, valid, alg):
    header, claims = _unpack(valid)
    header["alg"] = alg
    forged = f"{_segment(header)}.{_segment(claims)}."
    assert_invalid_token(client.get(ME, headers=bearer(forged)), "The access token's algorithm is not accepted.")


def test_hs256_signed_with_the_rsa_public_key_is_401(app, client, acme, valid):
    """CVE-2024-37568 pattern: the published RSA public key used as an HMAC secret."""
    header, claims = _unpack(valid)
    secret = _public_pem(app, acme, header["kid"])
    header["alg"] = "HS256"
    signing_input = f"{_segment(header)}.{_segment(claims)}"
    mac = hmac.new(secret, signing_input.encode("ascii"), hashlib.sha256).digest()
    forged = f"{signing_input}.{_b64(mac)}"
    assert_invalid_token(client.get(ME, headers=bearer(forged)), "The access token's algorithm is not accepted.")


def test_unknown_kid_is_401(client, valid):
    header, claims = _unpack(valid)
    header["kid"] = "not-a-key-of-this-tenant"
    forged = _sign(_attacker_key(header["kid"]), header, claims)
    assert_invalid_token(client.get(ME, headers=bearer(forged)), "The access token was not signed by this tenant.")


def test_missing_kid_is_401(app, client, acme, valid):
    header, claims = _unpack(valid)
    del header["kid"]
    forged = _sign(_tenant_key(app, acme), header, claims)
    assert_invalid_token(client.get(ME, headers=bearer(forged)), "The access token was not signed by this tenant.")


@pytest.mark.parametrize("member", ["jwk", "jku", "x5u"])
def test_token_naming_its_own_key_is_401(client, valid, member):
    header, claims = _unpack(valid)
    attacker = _attacker_key(header["kid"])
    # An EC public JWK: joserfc refuses protected headers over 512 bytes, an RSA JWK would be "malformed".
    embedded = ECKey.generate_key("P-256", private=False).as_dict(private=False)
    header[member] = embedded if member == "jwk" else "https://evil.example/jwks.json"
    forged = _sign(attacker, header, claims)
    assert_invalid_token(
        client.get(ME, headers=bearer(forged)), "The access token names keys this server does not trust."
    )


@pytest.mark.parametrize("typ", ["JWT", None, "id_token", "at+JWT+x"])
def test_token_that_is_not_typed_as_access_token_is_401(app, client, acme, kim, valid, typ):
    """An ID token (``typ: JWT``, audience the client, no scope) is signed by the same key but is
    not an access token."""
    header, claims = _unpack(valid)
    if typ is None:
        del header["typ"]
    else:
        header["typ"] = typ
    forged = _sign(_tenant_key(app, acme), header, claims)
    assert_invalid_token(client.get(ME, headers=bearer(forged)), "The token is not an access token.")


def test_id_token_shape_is_401(app, client, acme, kim, valid):
    header, claims = _unpack(valid)
    header["typ"] = "JWT"
    claims = {
        "iss": claims["iss"],
        "sub": kim.id,
        "aud": "test-client",
        "azp": "test-client",
        "iat": claims["iat"],
        "exp": claims["exp"],
        "nonce": "n-0S6_WzA2Mj",
        "auth_time": claims["iat"],
    }
    forged = _sign(_tenant_key(app, acme), header, claims)
    assert_invalid_token(client.get(ME, headers=bearer(forged)), "The token is not an access token.")


def test_explicit_access_token_media_type_is_accepted(app, client, acme, kim, valid):
    header, claims = _unpack(valid)
    header["typ"] = "application/at+jwt"
    forged = _sign(_tenant_key(app, acme), header, claims)
    response = client.get(ME, headers=bearer(forged))
    assert response.status_code == 200, response.json
    assert response.json["id"] == kim.id


def test_token_without_subject_is_401(app, client, acme, valid):
    header, claims = _unpack(valid)
    del claims["sub"]
    forged = _sign(_tenant_key(app, acme), header, claims)
    assert_invalid_token(client.get(ME, headers=bearer(forged)), "The access token has no subject.")


def test_token_of_a_deleted_user_is_401(app, client, acme, kim, valid):
    with app.extensions["scim_me"].db.connection_context():
        assert delete_user(acme.id, kim.id)
    assert_invalid_token(client.get(ME, headers=bearer(valid)), "The token's user does not exist.")


def test_es256_tenant_key_works(app, client):
    tenant = make_tenant(app, "ecorp", alg="ES256")
    user = make_user(app, tenant, "elliot")
    token = make_token(app, tenant, user)
    assert _unpack(token)[0]["alg"] == "ES256"
    response = client.get("/t/ecorp/scim2/Me", headers=bearer(token))
    assert response.status_code == 200, response.json
    assert response.json["userName"] == "elliot"


def test_es256_header_on_an_rsa_kid_is_401(app, client, acme, valid):
    header, claims = _unpack(valid)
    header["alg"] = "ES256"
    signing_input = f"{_segment(header)}.{_segment(claims)}"
    forged = f"{signing_input}.{valid.rsplit('.', 1)[1]}"
    assert_invalid_token(client.get(ME, headers=bearer(forged)), "The access token's signature is invalid.")


def test_token_without_internal_login_is_403_insufficient_scope(app, client, acme, kim):
    token = make_token(app, acme, kim, scope="openid profile")
    response = client.get(ME, headers=bearer(token))
    assert response.status_code == 403
    assert response.mimetype == SCIM_JSON
    assert response.json == {
        "schemas": [ERROR_URN],
        "status": "403",
        "detail": "Operation is not permitted. You do not have permissions to make this request.",
    }
    challenge = response.headers["WWW-Authenticate"]
    assert challenge == 'Bearer realm="scim-me", error="insufficient_scope", scope="internal_login"'


def test_application_token_without_user_is_403(app, client, acme):
    token = make_token(app, acme, None, scope="internal_login")
    response = client.get(ME, headers=bearer(token))
    assert response.status_code == 403
    assert response.json == {
        "schemas": [ERROR_URN],
        "status": "403",
        "detail": "This endpoint needs a token issued to a user.",
    }


def test_rejected_tokens_do_not_echo_the_token(client, valid):
    header, claims = _unpack(valid)
    claims["sub"] = "someone-else"
    forged = f"{_segment(header)}.{_segment(claims)}.{valid.rsplit('.', 1)[1]}"
    response = client.get(ME, headers=bearer(forged))
    assert response.status_code == 401
    text = response.get_data(as_text=True) + response.headers["WWW-Authenticate"]
    for part in forged.split("."):
        assert part not in text

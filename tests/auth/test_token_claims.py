"""The claims checks shared by our access tokens and external issuers' (auth/tokens.py), with an
explicit clock: RFC 7519 §4.1.4 "the current date/time MUST be before the expiration date/time
listed in the "exp" claim", §4.1.5 "the current date/time MUST be after or equal to the
not-before date/time listed in the "nbf" claim", both allowing "some small leeway ... to account
for clock skew". No database: the external verifier is given a static JWKS."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from joserfc import jws
from joserfc.jwk import KeySet
from joserfc.jwk import RSAKey

from scim_me.auth.external import JwksCache
from scim_me.auth.external import unverified_issuer
from scim_me.auth.external import verify_external_token
from scim_me.auth.tokens import AccessClaims
from scim_me.auth.tokens import TokenError
from scim_me.auth.tokens import check_claim_times
from scim_me.auth.tokens import check_claims
from scim_me.auth.tokens import signed_claims
from scim_me.auth.tokens import unverified_claim
from scim_me.auth.tokens import unverified_header
from scim_me.storage.external_issuers import ExternalIssuerRecord

T0 = 1_700_000_000
LEEWAY = 30
ISS = "https://login.example.org/oauth2/default"
AUD = "scim-me-api"
EXPIRED = "The access token has expired."
NOT_YET = "The access token is not valid yet."


def exactly(message: str) -> str:
    return f"^{re.escape(message)}$"


def claims(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"iss": ISS, "aud": [AUD], "sub": "kim", "nbf": T0, "exp": T0 + 600}
    body.update(changes)
    return {k: v for k, v in body.items() if v is not None}


@pytest.mark.parametrize(
    ("now", "leeway"), [(T0, 0), (T0 + 600, 0), (T0 + 600 + LEEWAY, LEEWAY), (T0 - LEEWAY, LEEWAY)]
)
def test_times_within_the_leeway_pass_and_return_exp(now, leeway):
    assert check_claim_times(claims(), now, leeway) == T0 + 600


@pytest.mark.parametrize(
    ("changes", "now", "message"),
    [
        ({}, T0 + 600 + LEEWAY + 1, EXPIRED),
        ({}, T0 - LEEWAY - 1, NOT_YET),
        ({"exp": None}, T0, EXPIRED),
        ({"exp": True}, T0, EXPIRED),  # a bool is an int to Python, not a NumericDate
        ({"exp": "9999999999"}, T0, EXPIRED),
        ({"exp": 9_999_999_999.5}, T0, EXPIRED),
        ({"nbf": "0"}, T0, NOT_YET),
        ({"nbf": 1.5}, T0, NOT_YET),
    ],
    ids=["expired", "early", "no-exp", "bool-exp", "text-exp", "float-exp", "text-nbf", "float-nbf"],
)
def test_times_outside_the_leeway_or_not_integers_are_refused(changes, now, message):
    with pytest.raises(TokenError, match=exactly(message)):
        check_claim_times(claims(**changes), now, LEEWAY)


def test_nbf_is_optional():
    assert check_claim_times(claims(nbf=None), T0, 0) == T0 + 600


@pytest.mark.parametrize("aud", [AUD, [AUD], ["x", AUD]])
def test_claims_pass_with_the_audience_as_a_string_or_in_a_list(aud):
    assert check_claims(claims(aud=aud), issuer=ISS, audience=AUD, now=T0, leeway=0) == T0 + 600


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"iss": ISS + "/"}, "The access token was issued for another tenant or issuer."),
        ({"iss": None}, "The access token was issued for another tenant or issuer."),
        ({"aud": ["other"]}, "The access token is not meant for this API (audience)."),
        ({"aud": {"x": AUD}}, "The access token is not meant for this API (audience)."),
        ({"exp": T0 - 1}, EXPIRED),
    ],
    ids=["other-iss", "no-iss", "other-aud", "aud-object", "expired"],
)
def test_claims_check_the_issuer_then_the_audience_then_the_times(changes, message):
    with pytest.raises(TokenError, match=exactly(message)):
        check_claims(claims(**changes), issuer=ISS, audience=AUD, now=T0, leeway=0)


@pytest.mark.parametrize(
    ("changes", "client_id", "token_id"),
    [
        ({"client_id": "spa", "azp": "other", "jti": "j-1"}, "spa", "j-1"),
        ({"azp": "spa"}, "spa", None),
        ({"client_id": 7, "jti": 7}, None, None),
    ],
    ids=["client_id", "azp", "not-strings"],
)
def test_verified_claims_name_the_client_and_the_token_id(changes, client_id, token_id):
    body = claims(**changes)
    result = AccessClaims.of(body, subject="kim", scopes=frozenset({"openid"}), expires_at=T0 + 600)
    assert (result.client_id, result.token_id, result.subject, result.expires_at) == (
        client_id,
        token_id,
        "kim",
        T0 + 600,
    )
    assert result.claims == body and result.claims is not body


# --- the external verifier goes through the same checks ----------------------------------------


@pytest.fixture(scope="module")
def key() -> Any:
    return RSAKey.generate_key(2048, parameters={"kid": "ext-1", "alg": "RS256", "use": "sig"}, private=True)


def sign(key: Any, body: dict[str, Any]) -> str:
    head = {"alg": "RS256", "kid": key.kid, "typ": "at+jwt"}
    return str(jws.serialize_compact(head, json.dumps(body).encode(), key, algorithms=["RS256"]))


def verify_external(key: Any, token: str, now: int) -> Any:
    config = ExternalIssuerRecord(tenant_id=1, issuer=ISS, audience=AUD, jwks={"keys": [key.as_dict(private=False)]})
    return verify_external_token(
        token, config, cache=JwksCache(), leeway=LEEWAY, ttl=300, min_refresh=30, timeout=1, now=now
    )


def test_an_external_token_is_accepted_up_to_the_leeway_either_side(key):
    token = sign(key, claims())
    assert verify_external(key, token, T0 - LEEWAY).expires_at == T0 + 600
    assert verify_external(key, token, T0 + 600 + LEEWAY).subject == "kim"
    with pytest.raises(TokenError, match=exactly(EXPIRED)):
        verify_external(key, token, T0 + 600 + LEEWAY + 1)
    with pytest.raises(TokenError, match=exactly(NOT_YET)):
        verify_external(key, token, T0 - LEEWAY - 1)


def test_the_signature_is_checked_against_the_given_keys_and_algorithms(key):
    token = sign(key, claims())
    assert signed_claims(token, KeySet([key]), ["RS256"]) == claims()
    other = RSAKey.generate_key(2048, parameters={"kid": "ext-1"}, private=True)
    for keys, algorithms in ((KeySet([other]), ["RS256"]), (KeySet([key]), ["ES256"])):
        with pytest.raises(TokenError, match=exactly("The access token's signature is invalid.")):
            signed_claims(token, keys, algorithms)


# --- reading a claim without trusting it ------------------------------------------------------


def test_an_unverified_claim_is_read_from_the_payload_alone(key):
    token = sign(key, claims(jti="j-1"))
    assert unverified_claim(token, "jti") == "j-1"
    assert unverified_issuer(token) == ISS
    forged = token.rsplit(".", 1)[0] + ".not-a-signature"
    assert unverified_claim(forged, "jti") == "j-1"  # routing only: nothing here is trusted


def test_the_header_is_read_before_any_check(key):
    assert unverified_header(sign(key, claims())) == {"alg": "RS256", "kid": "ext-1", "typ": "at+jwt"}
    for token in ("a.b.c", "é.b.c", "e30"):
        with pytest.raises(TokenError, match=exactly("The access token is malformed.")):
            unverified_header(token)


@pytest.mark.parametrize(
    "token",
    ["", "a.b", "a.b.c.d", "é.b.c", "e30.e30.x", "e30.WzFd.x", "e30." + "A" * 8200 + ".x", "e30.eyJqdGkiOjF9.x"],
    ids=["empty", "two-parts", "four-parts", "not-ascii", "no-claim", "not-an-object", "oversized", "not-a-string"],
)
def test_an_unreadable_token_or_claim_is_none(token):
    assert unverified_claim(token, "jti") is None

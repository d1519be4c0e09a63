"""auth/tokens.py: minting and verifying access tokens with an explicit clock (no sleeping)."""

from __future__ import annotations

import re

import pytest

from scim_me.auth.tokens import TokenError
from scim_me.auth.tokens import issuer_for
from scim_me.auth.tokens import mint_access_token
from scim_me.auth.tokens import verify_access_token
from tests.factories import make_tenant

T0 = 1_700_000_000
LIFETIME = 600
LEEWAY = 30
ISS = "http://localhost/t/acme/oauth2/token"
AUD = "scim-me"


def exactly(message: str) -> str:
    return f"^{re.escape(message)}$"


@pytest.fixture
def tenants(app):
    acme = make_tenant(app, "acme")
    beta = make_tenant(app, "beta")
    ecorp = make_tenant(app, "ecorp", alg="ES256")
    with app.extensions["scim_me"].db.connection_context():
        yield {"acme": acme, "beta": beta, "ecorp": ecorp, "master": app.extensions["scim_me"].settings.master_key()}


@pytest.fixture
def mint(tenants):
    def _mint(tenant: str = "acme", **overrides):
        args = {
            "tenant_id": tenants[tenant].id,
            "issuer": ISS,
            "subject": "user-1",
            "client_id": "my-account",
            "scopes": "openid internal_login",
            "audience": AUD,
            "lifetime": LIFETIME,
            "master_key": tenants["master"],
            "now": T0,
        }
        args.update(overrides)
        return mint_access_token(**args)

    return _mint


@pytest.fixture
def verify(tenants):
    def _verify(token: str, *, now: int = T0 + 1, tenant: str = "acme", leeway: int = LEEWAY, **overrides):
        args = {"tenant_id": tenants[tenant].id, "issuer": ISS, "audience": AUD, "leeway": leeway, "now": now}
        args.update(overrides)
        return verify_access_token(token, **args)

    return _verify


def test_round_trip(mint, verify):
    claims = verify(mint())
    assert claims.subject == "user-1"
    assert claims.client_id == "my-account"
    assert claims.scopes == frozenset({"openid", "internal_login"})
    assert claims.expires_at == T0 + LIFETIME
    assert isinstance(claims.token_id, str) and len(claims.token_id) >= 16
    assert claims.claims["aud"] == ["my-account", AUD]
    assert claims.claims["iss"] == ISS


def test_token_ids_are_unique(mint, verify):
    assert verify(mint()).token_id != verify(mint()).token_id


def test_es256_round_trip(mint, verify):
    assert verify(mint("ecorp"), tenant="ecorp").subject == "user-1"


def test_expiry_is_honoured_up_to_the_leeway(mint, verify):
    token = mint()
    assert verify(token, now=T0 + LIFETIME + LEEWAY).subject == "user-1"
    with pytest.raises(TokenError, match=exactly("The access token has expired.")):
        verify(token, now=T0 + LIFETIME + LEEWAY + 1)


def test_zero_leeway(mint, verify):
    token = mint()
    assert verify(token, now=T0 + LIFETIME, leeway=0)
    with pytest.raises(TokenError, match="expired"):
        verify(token, now=T0 + LIFETIME + 1, leeway=0)


def test_not_before_is_honoured_down_to_the_leeway(mint, verify):
    token = mint()
    assert verify(token, now=T0 - LEEWAY).subject == "user-1"
    with pytest.raises(TokenError, match=exactly("The access token is not valid yet.")):
        verify(token, now=T0 - LEEWAY - 1)


def test_zero_lifetime_is_not_eternal(mint, verify):
    token = mint(lifetime=0)
    with pytest.raises(TokenError, match="expired"):
        verify(token, now=T0 + LEEWAY + 1)


@pytest.mark.parametrize("exp", [None, "9999999999", True, 9_999_999_999.5, [T0 + 60]])
def test_exp_must_be_an_integer(mint, verify, exp):
    with pytest.raises(TokenError, match="expired"):
        verify(mint(extra={"exp": exp}))


@pytest.mark.parametrize("nbf", ["0", 1.5, {}])
def test_nbf_when_present_must_be_an_integer(mint, verify, nbf):
    with pytest.raises(TokenError, match="not valid yet"):
        verify(mint(extra={"nbf": nbf}))


def test_nbf_may_be_absent(mint, verify):
    assert verify(mint(extra={"nbf": None})).subject == "user-1"


@pytest.mark.parametrize("aud", [AUD, [AUD], ["x", AUD, "y"]])
def test_audience_may_be_a_string_or_a_list(mint, verify, aud):
    assert verify(mint(extra={"aud": aud})).subject == "user-1"


@pytest.mark.parametrize("aud", [None, "other", ["other"], [], {"aud": AUD}, AUD.upper()])
def test_audience_must_name_this_api(mint, verify, aud):
    with pytest.raises(TokenError, match=exactly("The access token is not meant for this API (audience).")):
        verify(mint(extra={"aud": aud}))


@pytest.mark.parametrize(
    "issuer", ["http://localhost/oauth2/token", "http://localhost/t/beta/oauth2/token", ISS + "/", ISS.upper()]
)
def test_issuer_must_match_exactly(mint, verify, issuer):
    with pytest.raises(TokenError, match=exactly("The access token was issued for another tenant or issuer.")):
        verify(mint(issuer=issuer))


@pytest.mark.parametrize("sub", [None, "", 42, ["user-1"]])
def test_subject_must_be_a_non_empty_string(mint, verify, sub):
    with pytest.raises(TokenError, match=exactly("The access token has no subject.")):
        verify(mint(extra={"sub": sub}))


@pytest.mark.parametrize("scope", [None, 7, ["internal_login"]])
def test_non_string_scope_grants_nothing(mint, verify, scope):
    assert verify(mint(extra={"scope": scope})).scopes == frozenset()


def test_client_id_falls_back_to_azp(mint, verify):
    assert verify(mint(extra={"client_id": None})).client_id == "my-account"
    assert verify(mint(extra={"client_id": None, "azp": None})).client_id is None


def test_token_of_another_tenant_is_not_signed_by_this_one(mint, verify):
    with pytest.raises(TokenError, match=exactly("The access token was not signed by this tenant.")):
        verify(mint("beta"))


@pytest.mark.parametrize(
    "token",
    ["", "abc", "a.b", "a.b.c.d", "a.b.c", "é.b.c", "\x00.\x00.\x00", "eyJhbGciOiJSUzI1NiJ9.e30.x" + "A" * 8200],
)
def test_malformed_tokens(verify, token):
    with pytest.raises(TokenError, match=exactly("The access token is malformed.")):
        verify(token)


def test_oversized_signed_token_is_refused(mint, verify):
    token = mint(extra={"padding": "x" * 8192})
    with pytest.raises(TokenError, match="malformed"):
        verify(token)


def test_error_messages_never_echo_the_token(mint, verify):
    token = mint()
    for now in (T0 + LIFETIME + LEEWAY + 1, T0 - LEEWAY - 1):
        with pytest.raises(TokenError) as caught:
            verify(token, now=now)
        assert all(part not in str(caught.value) for part in token.split("."))


@pytest.mark.parametrize(
    ("base", "tenant", "expected"),
    [
        ("https://id.example", "carbon.super", "https://id.example/oauth2/token"),
        ("https://id.example/", "carbon.super", "https://id.example/oauth2/token"),
        ("https://id.example", "acme", "https://id.example/t/acme/oauth2/token"),
        ("https://id.example/", "acme", "https://id.example/t/acme/oauth2/token"),
    ],
)
def test_issuer_is_tenant_qualified_except_for_the_default_tenant(base, tenant, expected):
    assert issuer_for(base, tenant, "carbon.super") == expected


def test_a_cached_verification_still_expires(mint, verify):
    from scim_me.auth.tokens import VerifiedTokens

    cache = VerifiedTokens()
    token = mint()
    assert verify(token, cache=cache).subject == "user-1"
    with pytest.raises(TokenError, match=exactly("The access token has expired.")):
        verify(token, now=T0 + LIFETIME + LEEWAY + 1, cache=cache)


def test_a_cached_verification_is_not_reused_for_another_audience_or_tenant(mint, verify):
    from scim_me.auth.tokens import VerifiedTokens

    cache = VerifiedTokens()
    token = mint()
    verify(token, cache=cache)
    with pytest.raises(TokenError):
        verify(token, cache=cache, audience="other-api")
    with pytest.raises(TokenError):
        verify(token, cache=cache, tenant="beta")


def test_the_verification_cache_is_bounded(mint, verify):
    from scim_me.auth.tokens import VerifiedTokens

    cache = VerifiedTokens(size=2)
    tokens = [mint(subject=f"user-{i}") for i in range(3)]
    for token in tokens:
        verify(token, cache=cache)
    assert len(cache._items) == 2
    assert tokens[0] not in {key[3] for key in cache._items}

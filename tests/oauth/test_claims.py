"""OIDC claims from a SCIM profile (OpenID Connect Core §5.4): released by scope, primary first."""

from scim_me.core.schemas import WSO2_URN
from scim_me.oauth.claims import user_claims

PROFILE = {
    "userName": "kim",
    "displayName": "Kim B",
    "name": {"givenName": "Kim", "familyName": "Berry", "formatted": "Kim Berry"},
    "emails": [{"value": "old@example.com"}, {"value": "kim@example.com", "primary": True}],
    "phoneNumbers": [{"value": "+94 11 000", "type": "mobile"}],
    "addresses": [{"type": "home", "locality": "Colombo", "country": "LK", "streetAddress": "1 Main St"}],
    WSO2_URN: {"emailVerified": True, "dateOfBirth": "1990-01-01"},
}


def test_only_sub_without_claim_scopes():
    assert user_claims("u-1", PROFILE, {"openid", "internal_login"}) == {"sub": "u-1"}


def test_profile_scope():
    claims = user_claims("u-1", PROFILE, {"openid", "profile"})
    assert claims == {
        "sub": "u-1",
        "name": "Kim Berry",
        "given_name": "Kim",
        "family_name": "Berry",
        "preferred_username": "kim",
        "birthdate": "1990-01-01",
    }


def test_email_scope_takes_the_primary_email_and_its_verification():
    assert user_claims("u-1", PROFILE, {"email"}) == {"sub": "u-1", "email": "kim@example.com", "email_verified": True}


def test_phone_and_address_scopes():
    claims = user_claims("u-1", PROFILE, {"phone", "address"})
    assert claims["phone_number"] == "+94 11 000"
    assert claims["phone_number_verified"] is False
    assert claims["address"] == {"street_address": "1 Main St", "locality": "Colombo", "country": "LK"}


def test_name_falls_back_to_display_name():
    profile = {"userName": "kim", "displayName": "Kim B"}
    assert user_claims("u-1", profile, {"profile"})["name"] == "Kim B"

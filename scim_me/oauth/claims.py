"""OIDC standard claims (OpenID Connect Core §5.1, §5.4) from a user's SCIM profile, by scope."""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Mapping
from typing import Any

from scim_me.core.schemas import WSO2_URN

_PROFILE: dict[str, Callable[[Mapping[str, Any]], Any]] = {
    "name": lambda p: (p.get("name") or {}).get("formatted") or p.get("displayName"),
    "given_name": lambda p: (p.get("name") or {}).get("givenName"),
    "family_name": lambda p: (p.get("name") or {}).get("familyName"),
    "middle_name": lambda p: (p.get("name") or {}).get("middleName"),
    "nickname": lambda p: p.get("nickName"),
    "preferred_username": lambda p: p.get("userName"),
    "profile": lambda p: p.get("profileUrl"),
    "picture": lambda p: _first(p.get("photos")),
    "zoneinfo": lambda p: p.get("timezone"),
    "locale": lambda p: p.get("locale") or p.get("preferredLanguage"),
    "birthdate": lambda p: (p.get(WSO2_URN) or {}).get("dateOfBirth"),
}


def _first(values: Any) -> Any:
    """The primary value of a multi-valued attribute, else the first one."""
    if not isinstance(values, list) or not values:
        return None
    items = [v for v in values if isinstance(v, Mapping)]
    chosen = next((v for v in items if v.get("primary") is True), items[0] if items else None)
    return chosen.get("value") if chosen else None


def _address(profile: Mapping[str, Any]) -> dict[str, Any] | None:
    addresses = profile.get("addresses")
    if not isinstance(addresses, list) or not addresses:
        return None
    chosen = next((a for a in addresses if a.get("primary") is True), addresses[0])
    mapping = {
        "formatted": "formatted",
        "street_address": "streetAddress",
        "locality": "locality",
        "region": "region",
        "postal_code": "postalCode",
        "country": "country",
    }
    out = {claim: chosen[attr] for claim, attr in mapping.items() if chosen.get(attr)}
    return out or None


def user_claims(user_id: str, profile: Mapping[str, Any], scopes: set[str]) -> dict[str, Any]:
    """Claims released for ``scopes``: ``sub`` always, the rest per OIDC Core §5.4."""
    claims: dict[str, Any] = {"sub": user_id}
    if "profile" in scopes:
        for claim, read in _PROFILE.items():
            value = read(profile)
            if value:
                claims[claim] = value
    if "email" in scopes:
        email = _first(profile.get("emails"))
        if email:
            claims["email"] = email
            claims["email_verified"] = bool((profile.get(WSO2_URN) or {}).get("emailVerified", False))
    if "phone" in scopes:
        phone = _first(profile.get("phoneNumbers"))
        if phone:
            claims["phone_number"] = phone
            claims["phone_number_verified"] = bool((profile.get(WSO2_URN) or {}).get("phoneVerified", False))
    if "address" in scopes:
        address = _address(profile)
        if address:
            claims["address"] = address
    return claims


def id_token_claims(user_id: str, user_name: str, profile: Mapping[str, Any], scopes: set[str]) -> dict[str, Any]:
    """An ID token's user claims: those of ``scopes`` plus ``username``, which WSO2 / Asgardeo ID
    tokens carry and the Asgardeo SDKs read as the signed-in user's username
    (``getBasicUserInfo().username``, auth-react's ``state.username``) whatever the scopes."""
    return {**user_claims(user_id, profile, scopes), "username": user_name}

"""The pure rules of the verified e-mail change (scim_me/core/email_change.py)."""

from __future__ import annotations

import pytest

from scim_me.core.email_change import WSO2_URN
from scim_me.core.email_change import apply_verified
from scim_me.core.email_change import check_address
from scim_me.core.email_change import code_digest
from scim_me.core.email_change import code_matches
from scim_me.core.email_change import hold_new_address
from scim_me.core.email_change import new_code
from scim_me.core.email_change import unverify_if_primary_changed
from scim_me.errors import InvalidValueError


def _profile(*emails: dict, verified: bool | None = True, **extra) -> dict:
    profile: dict = {"userName": "kim", **extra}
    if emails:
        profile["emails"] = list(emails)
    if verified is not None:
        profile[WSO2_URN] = {"emailVerified": verified}
    return profile


def test_a_replaced_address_is_held_and_the_rest_of_the_write_applies() -> None:
    old = _profile({"value": "kim@example.com"})
    new = {**_profile({"value": "new@example.net"}), "nickName": "kimmy"}
    held, change = hold_new_address(old, new)
    assert held["emails"] == [{"value": "kim@example.com"}]
    assert held["nickName"] == "kimmy"
    assert held[WSO2_URN] == {"emailVerified": True, "pendingEmails": [{"value": "new@example.net"}]}
    assert change is not None
    assert (change.address, change.make_primary, change.removes, change.previous) == (
        "new@example.net",
        True,
        ("kim@example.com",),
        "kim@example.com",
    )
    done = apply_verified(held, change)
    assert done["emails"] == [{"value": "new@example.net"}]
    assert done[WSO2_URN] == {"emailVerified": True}


def test_known_addresses_are_not_new_case_insensitively() -> None:
    old = _profile({"value": "Kim@Example.com"}, {"value": "b@example.com"})
    new = _profile({"value": "kim@example.COM"})
    held, change = hold_new_address(old, new)
    assert change is None
    assert held is new


def test_a_secondary_address_keeps_the_primary_and_its_flags() -> None:
    old = _profile({"value": "kim@example.com", "primary": True})
    new = _profile({"value": "kim@example.com", "primary": True}, {"value": "w@work.example", "type": "work"})
    held, change = hold_new_address(old, new)
    assert change is not None and not change.make_primary and change.removes == ()
    assert held[WSO2_URN]["pendingEmails"] == [{"value": "w@work.example", "type": "work"}]
    done = apply_verified(held, change)
    assert done["emails"] == [
        {"value": "kim@example.com", "primary": True},
        {"value": "w@work.example", "type": "work"},
    ]
    assert done[WSO2_URN]["emailVerified"] is True


def test_a_new_primary_takes_the_flag_from_the_others() -> None:
    old = _profile({"value": "kim@example.com", "primary": True}, {"value": "b@example.com"})
    new = _profile(
        {"value": "kim@example.com"}, {"value": "b@example.com"}, {"value": "n@example.net", "primary": True}
    )
    held, change = hold_new_address(old, new)
    assert change is not None and change.make_primary and change.flagged_primary and change.removes == ()
    done = apply_verified(held, change)
    assert done["emails"] == [
        {"value": "n@example.net", "primary": True},
        {"value": "kim@example.com"},
        {"value": "b@example.com"},
    ]


def test_confirmation_applies_to_the_profile_as_it_is_then() -> None:
    old = _profile({"value": "kim@example.com"})
    held, change = hold_new_address(old, _profile({"value": "n@example.net"}))
    assert change is not None
    later = {**held, "emails": [{"value": "kim@example.com"}, {"value": "added-meanwhile@example.com"}]}
    done = apply_verified(later, change)
    assert done["emails"] == [{"value": "n@example.net"}, {"value": "added-meanwhile@example.com"}]


def test_no_emails_before() -> None:
    held, change = hold_new_address(_profile(verified=None), _profile({"value": "first@example.net"}, verified=None))
    assert change is not None and change.previous is None
    assert "emails" not in held
    assert apply_verified(held, change)["emails"] == [{"value": "first@example.net"}]


def test_two_new_addresses_are_refused() -> None:
    with pytest.raises(InvalidValueError, match="one by one"):
        hold_new_address(_profile(), _profile({"value": "a@example.net"}, {"value": "b@example.net"}))


@pytest.mark.parametrize(
    "address",
    ["kim@example.com", "k.i+m@sub.example.co", "o'brien@example.ie", "kim@bücher.example", "x@xn--bcher-kva.example"],
)
def test_deliverable_addresses(address: str) -> None:
    check_address(address)


@pytest.mark.parametrize(
    "address",
    [
        "plain",
        "@example.com",
        "kim@",
        "kim@localhost",
        "kim@@example.com",
        "a b@example.com",
        '"quoted"@example.com',
        ".kim@example.com",
        "kim.@example.com",
        "k..im@example.com",
        "kim@[127.0.0.1]",
        "kim@-x.example",
        "kim@example.com\r\nBcc: eve@evil.example",
        "x" * 65 + "@example.com",
        "kim@" + "a" * 250 + ".com",
    ],
)
def test_undeliverable_addresses(address: str) -> None:
    with pytest.raises(InvalidValueError):
        check_address(address)


def test_changing_the_primary_without_verification_unverifies() -> None:
    old = _profile({"value": "kim@example.com"}, {"value": "b@example.com"})
    swapped = _profile({"value": "b@example.com"}, {"value": "kim@example.com"})
    assert unverify_if_primary_changed(old, swapped)[WSO2_URN]["emailVerified"] is False
    same = _profile({"value": "KIM@example.com"}, {"value": "b@example.com"})
    assert unverify_if_primary_changed(old, same)[WSO2_URN]["emailVerified"] is True
    removed = _profile()
    assert unverify_if_primary_changed(old, removed)[WSO2_URN]["emailVerified"] is False


def test_codes() -> None:
    codes = {new_code() for _ in range(100)}
    assert len(codes) == 100
    assert all(len(code) == 32 for code in codes)  # 24 random bytes, base64url
    code = codes.pop()
    assert code_matches(code, code_digest(code))
    assert not code_matches(code + "x", code_digest(code))
    assert len(code_digest(code)) == 64 and code not in code_digest(code)

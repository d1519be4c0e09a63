"""A /scim2/Users page reads each user's facts (groups, the account lock, MFA) in its own
statement (storage/caller.py ``page_fact_sql``): what a page shows of a user is what
``GET /scim2/Users/{id}`` shows, on both databases, and ``totalResults`` stays exact when the
COUNT(*) is skipped (a short page) or run (a full one)."""

from __future__ import annotations

from urllib.parse import quote

import pytest

from scim_me.core.schemas import WSO2_URN
from tests.factories import basic
from tests.factories import make_user

USERS = "/t/acme/scim2/Users"
WRONG = "wrong-password-1"


def test_a_page_shows_each_user_as_reading_it_does(app, client, tenant, auth):
    # A name whose folded key (NFKC + casefold: "jürgen.strasse") differs from what was typed:
    # the lock is found by the key the database computes from it, as the sign-in computes it.
    locked = make_user(app, tenant, "Jürgen.Straße", "correct-horse-9")
    member = make_user(app, tenant, "kim")
    plain = make_user(app, tenant, "lee")
    for _ in range(5):
        refused = client.get("/t/acme/scim2/Me", headers=basic("Jürgen.Straße", WRONG))
        assert refused.status_code == 401
    group = client.post(
        "/t/acme/scim2/Groups",
        json={"displayName": "Ops", "members": [{"value": member.id}]},
        headers=auth,
    )
    assert group.status_code == 201, group.json

    page = client.get(f"{USERS}?count=10", headers=auth)
    assert page.status_code == 200, page.json
    assert page.json["totalResults"] == 3
    listed = {resource["id"]: resource for resource in page.json["Resources"]}
    for user in (locked, member, plain):
        alone = client.get(f"{USERS}/{user.id}", headers=auth)
        assert alone.status_code == 200
        assert listed[user.id] == alone.json
    assert listed[locked.id][WSO2_URN]["accountLocked"] is True
    assert listed[locked.id][WSO2_URN]["lockedReason"] == "MAX_ATTEMPTS_EXCEEDED"
    assert WSO2_URN not in listed[plain.id] or "accountLocked" not in listed[plain.id][WSO2_URN]
    assert [g["display"] for g in listed[member.id]["groups"]] == ["Ops"]
    assert "groups" not in listed[plain.id]


@pytest.mark.parametrize(
    ("query", "total", "shown"),
    [
        ("count=2", 5, 2),  # a full page: counted
        ("count=10", 5, 5),  # a short first page: its length
        ("count=2&startIndex=5", 5, 1),  # a short page past the start: start - 1 + its length
        ("count=2&startIndex=9", 5, 0),  # past the end: counted
        ("count=0", 5, 0),
        ("count=2&cursor=", 5, 2),
        ("count=10&cursor=", 5, 5),
        ("filter=" + quote('userName eq "u3"'), 1, 1),
        ("filter=" + quote('userName eq "nobody"'), 0, 0),
        ("filter=" + quote('userName eq "nobody"') + "&startIndex=3", 0, 0),
    ],
)
def test_total_results_are_exact_with_or_without_a_count(app, client, tenant, auth, query, total, shown):
    for index in range(5):
        make_user(app, tenant, f"u{index}")
    response = client.get(f"{USERS}?{query}", headers=auth)
    assert response.status_code == 200, response.json
    assert response.json["totalResults"] == total
    assert len(response.json.get("Resources", [])) == shown

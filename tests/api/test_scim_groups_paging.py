"""/scim2/Groups paging: cursor paging (RFC 9865) as /Users has it, advertised by
/ServiceProviderConfig for both resource types; index totals without a COUNT(*) for short pages;
``members.value eq`` from the membership table's user_id index."""

from __future__ import annotations

from urllib.parse import quote

import pytest

from tests.factories import make_user

GROUPS = "/t/acme/scim2/Groups"


def _create(client, auth, name: str, **extra) -> str:
    response = client.post(GROUPS, json={"displayName": name, **extra}, headers=auth)
    assert response.status_code == 201, response.json
    return response.json["id"]


def _walk(client, auth, query: str, key: str = "nextCursor") -> tuple[list[str], list[dict]]:
    """Every group reached by following ``key`` from the first page of ``query``."""
    seen: list[str] = []
    pages = []
    url = f"{GROUPS}?{query}&cursor="
    while True:
        response = client.get(url, headers=auth)
        assert response.status_code == 200, response.json
        pages.append(response.json)
        seen += [group["id"] for group in response.json.get("Resources", [])]
        cursor = response.json.get(key)
        if not cursor:
            return seen, pages
        url = f"{GROUPS}?{query}&cursor={quote(cursor)}"


def test_cursor_pages_walk_every_group_once_forward_and_back(client, auth):
    """RFC 9865 §2.2: nextCursor / previousCursor, no startIndex on a cursor page."""
    ids = [_create(client, auth, f"Group {index}") for index in range(7)]
    seen, pages = _walk(client, auth, "count=3")
    assert seen == ids
    assert [len(page["Resources"]) for page in pages] == [3, 3, 1]
    assert all(page["totalResults"] == 7 and "startIndex" not in page for page in pages)
    assert "previousCursor" not in pages[0] and pages[1]["previousCursor"]
    back = client.get(f"{GROUPS}?count=3&cursor={quote(pages[2]['previousCursor'])}", headers=auth)
    assert back.status_code == 200
    assert [group["id"] for group in back.json["Resources"]] == ids[3:6]


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("sortBy=displayName", ["alpha", "Bravo", "charlie", "Delta", "echo"]),
        ("sortBy=displayName&sortOrder=descending", ["echo", "Delta", "charlie", "Bravo", "alpha"]),
        # RFC 7644 §3.4.2.3: no value sorts last ascending, first descending (both databases).
        ("sortBy=externalId", ["Delta", "Bravo", "alpha", "charlie", "echo"]),
        ("sortBy=externalId&sortOrder=descending", ["echo", "charlie", "alpha", "Bravo", "Delta"]),
    ],
)
def test_cursor_pages_follow_the_sort(client, auth, sort, expected):
    externals = {"alpha": "x3", "Bravo": "x2", "charlie": None, "Delta": "x1", "echo": None}
    for name in ["charlie", "alpha", "echo", "Delta", "Bravo"]:
        extra = {"externalId": externals[name]} if externals[name] else {}
        _create(client, auth, name, **extra)
    index = client.get(f"{GROUPS}?{sort}", headers=auth)
    names = [group["displayName"] for group in index.json["Resources"]]
    if "externalId" in sort:  # the valueless two are ordered by id among themselves
        nulls = sorted(names[3:] if "descending" not in sort else names[:2])
        assert nulls == ["charlie", "echo"]
        expected = [name if name not in nulls else None for name in expected]
        names = [name if name not in nulls else None for name in names]
    assert names == expected
    seen, pages = _walk(client, auth, f"{sort}&count=2")
    assert seen == [group["id"] for group in index.json["Resources"]]
    assert len(pages) == 3


def test_groups_added_while_paging_are_neither_repeated_nor_skipped(client, auth):
    ids = [_create(client, auth, f"Group {index}") for index in range(5)]
    first = client.get(f"{GROUPS}?count=2&cursor=", headers=auth).json
    _create(client, auth, "Group late")  # creation order: after every page seen so far
    rest, _ = _walk(client, auth, "count=2")
    following = client.get(f"{GROUPS}?count=10&cursor={quote(first['nextCursor'])}", headers=auth).json
    seen = [g["id"] for g in first["Resources"]] + [g["id"] for g in following["Resources"]]
    assert seen[:5] == ids and len(seen) == len(set(seen)) == 6
    assert rest[:5] == ids


def test_a_bad_or_foreign_cursor_is_invalid_cursor(client, auth, app, tenant):
    for index in range(3):
        _create(client, auth, f"Group {index}")
        make_user(app, tenant, f"user{index}")
    users_cursor = client.get("/t/acme/scim2/Users?count=1&cursor=", headers=auth).json["nextCursor"]
    for cursor in ("abc", users_cursor):
        response = client.get(f"{GROUPS}?count=1&cursor={quote(cursor)}", headers=auth)
        assert response.status_code == 400, response.json
        assert response.json["scimType"] == "invalidCursor"
    sorted_cursor = client.get(f"{GROUPS}?count=1&cursor=&sortBy=displayName", headers=auth).json["nextCursor"]
    other_sort = client.get(f"{GROUPS}?count=1&cursor={quote(sorted_cursor)}", headers=auth)
    assert other_sort.status_code == 400 and other_sort.json["scimType"] == "invalidCursor"


def test_service_provider_config_advertises_cursor_paging(client, tenant):
    config = client.get("/t/acme/scim2/ServiceProviderConfig").json
    assert config["pagination"]["cursor"] is True


@pytest.mark.parametrize(
    ("query", "total", "shown"),
    [
        ("count=2", 5, 2),
        ("count=10", 5, 5),
        ("count=2&startIndex=5", 5, 1),
        ("count=2&startIndex=9", 5, 0),
        ("count=0", 5, 0),
        ("filter=" + quote('displayName eq "group 3"'), 1, 1),
        ("filter=" + quote('displayName eq "nobody"') + "&startIndex=2", 0, 0),
    ],
)
def test_index_totals_are_exact(client, auth, query, total, shown):
    for index in range(5):
        _create(client, auth, f"Group {index}")
    response = client.get(f"{GROUPS}?{query}", headers=auth)
    assert response.status_code == 200, response.json
    assert response.json["totalResults"] == total
    assert len(response.json.get("Resources", [])) == shown


def test_member_filters_by_value_display_and_presence(client, auth, app, tenant):
    kim = make_user(app, tenant, "kim")
    lee = make_user(app, tenant, "lee")
    both = _create(client, auth, "Both", members=[{"value": kim.id}, {"value": lee.id}])
    only_kim = _create(client, auth, "Kim", members=[{"value": kim.id}])
    empty = _create(client, auth, "Empty")

    def ids(text: str) -> set[str]:
        response = client.get(f"{GROUPS}?filter={quote(text)}&excludedAttributes=members", headers=auth)
        assert response.status_code == 200, response.json
        return {group["id"] for group in response.json["Resources"]}

    assert ids(f'members.value eq "{kim.id}"') == {both, only_kim}
    assert ids(f'members[value eq "{lee.id}"]') == {both}
    assert ids(f'members.value eq "{kim.id}" and members.value eq "{lee.id}"') == {both}
    assert ids(f'members.value eq "{lee.id}" or members.display eq "KIM"') == {both, only_kim}
    assert ids(f'not (members.value eq "{kim.id}")') == {empty}
    assert ids("members pr") == {both, only_kim}
    assert ids(f'members.value ne "{kim.id}"') == {both}

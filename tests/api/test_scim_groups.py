"""/scim2/Groups (RFC 7643 §4.2, RFC 7644 §3.3-3.6): members in a join table, PATCH of members
including ``members[value eq "{id}"]`` (§3.5.2.2), and the users' readOnly ``groups``."""

from __future__ import annotations

import pytest

from tests.factories import basic
from tests.factories import bearer
from tests.factories import make_tenant
from tests.factories import make_token
from tests.factories import make_user
from tests.factories import patch_body
from tests.factories import scim_error
from tests.support.admin import GROUP_URN
from tests.support.admin import LIST_URN
from tests.support.admin import PASSWORD
from tests.support.admin import client_headers
from tests.support.admin import events_of

GROUPS = "/t/acme/scim2/Groups"
USERS = "/t/acme/scim2/Users"
ME = "/t/acme/scim2/Me"


@pytest.fixture
def babs(app, tenant):
    return make_user(app, tenant, "bjensen", PASSWORD)


@pytest.fixture
def jim(app, tenant):
    return make_user(app, tenant, "jsmith", PASSWORD)


def member(user):
    return {"value": user.id}


def create(client, auth, name="Tour Guides", members=()):
    body = {"schemas": [GROUP_URN], "displayName": name, "members": [member(u) for u in members]}
    response = client.post(GROUPS, json=body, headers=auth)
    assert response.status_code == 201, response.json
    return response.json


def test_create_is_201_with_members_and_location(client, auth, babs):
    """RFC 7644 §3.3 for a Group resource."""
    body = create(client, auth, members=[babs])
    assert body["schemas"] == [GROUP_URN]
    assert body["displayName"] == "Tour Guides"
    assert body["members"] == [
        {
            "value": babs.id,
            "$ref": f"http://localhost/t/acme/scim2/Users/{babs.id}",
            "display": "bjensen",
            "type": "User",
        }
    ]
    assert body["meta"]["resourceType"] == "Group"
    assert body["meta"]["location"] == f"http://localhost/t/acme/scim2/Groups/{body['id']}"
    assert body["meta"]["version"] == 'W/"1"'


def test_a_taken_display_name_is_409(client, auth):
    create(client, auth)
    again = client.post(GROUPS, json={"displayName": "tour guides"}, headers=auth)
    assert again.status_code == 409
    assert again.json == scim_error(409, "A group named tour guides already exists in this tenant.", "uniqueness")


def test_members_must_be_users_of_the_tenant(client, auth, app):
    other = make_tenant(app, "other")
    stranger = make_user(app, other, "stranger")
    response = client.post(GROUPS, json={"displayName": "x", "members": [member(stranger)]}, headers=auth)
    assert response.status_code == 400
    assert response.json == scim_error(
        400, f"No user with id {stranger.id} in this tenant; group members are users.", "invalidValue"
    )
    nested = client.post(GROUPS, json={"displayName": "x", "members": [{"value": "g", "type": "Group"}]}, headers=auth)
    assert nested.json == scim_error(400, "Group members are users; nested groups are not supported.", "invalidValue")
    assert client.get(GROUPS, headers=auth).json["totalResults"] == 0


def test_missing_display_name_is_400(client, auth):
    response = client.post(GROUPS, json={"schemas": [GROUP_URN]}, headers=auth)
    assert response.status_code == 400
    assert response.json == scim_error(400, "Required attribute displayName is missing.", "invalidValue")


def test_patch_add_member_rfc_7644_3_5_2_1(client, auth, babs, jim):
    """RFC 7644 §3.5.2.1 example: add a member to a group."""
    group = create(client, auth, members=[jim])
    body = patch_body(
        {
            "op": "add",
            "path": "members",
            "value": [{"display": "Babs Jensen", "$ref": f"/Users/{babs.id}", "value": babs.id}],
        }
    )
    response = client.patch(f"{GROUPS}/{group['id']}", json=body, headers=auth)
    assert response.status_code == 200, response.json
    assert [m["value"] for m in response.json["members"]] == [jim.id, babs.id]
    assert response.headers["ETag"] == 'W/"2"'


def test_patch_remove_one_member_by_filter_rfc_7644_3_5_2_2(client, auth, babs, jim):
    """RFC 7644 §3.5.2.2 example: "members[value eq \\"2819c223...\\"]" removes that member."""
    group = create(client, auth, members=[babs, jim])
    body = patch_body({"op": "remove", "path": f'members[value eq "{babs.id}"]'})
    response = client.patch(f"{GROUPS}/{group['id']}", json=body, headers=auth)
    assert response.status_code == 200, response.json
    assert [m["value"] for m in response.json["members"]] == [jim.id]


def test_patch_remove_all_members_rfc_7644_3_5_2_2(client, auth, babs, jim):
    """RFC 7644 §3.5.2.2 example: remove path "members" removes every member."""
    group = create(client, auth, members=[babs, jim])
    clear = patch_body({"op": "remove", "path": "members"})
    response = client.patch(f"{GROUPS}/{group['id']}", json=clear, headers=auth)
    assert response.status_code == 200
    assert "members" not in response.json


def test_patch_remove_then_add_rfc_7644_3_5_2_2(client, auth, babs, jim, app, tenant):
    """RFC 7644 §3.5.2.2 example: replace all members by remove + add in one request."""
    kim = make_user(app, tenant, "kim")
    group = create(client, auth, members=[babs, jim])
    body = patch_body(
        {"op": "remove", "path": "members"},
        {"op": "add", "path": "members", "value": [{"display": "James Smith", "value": kim.id}]},
    )
    response = client.patch(f"{GROUPS}/{group['id']}", json=body, headers=auth)
    assert [m["value"] for m in response.json["members"]] == [kim.id]


def test_patch_replace_members_rfc_7644_3_5_2_3(client, auth, babs, jim):
    """RFC 7644 §3.5.2.3 example: replace path "members" with a new list."""
    group = create(client, auth, members=[babs])
    body = patch_body({"op": "replace", "path": "members", "value": [member(jim)]})
    response = client.patch(f"{GROUPS}/{group['id']}", json=body, headers=auth)
    assert [m["value"] for m in response.json["members"]] == [jim.id]


def test_patch_display_name_and_pathless_members(client, auth, babs):
    group = create(client, auth)
    body = patch_body({"op": "replace", "value": {"displayName": "Guides", "members": [member(babs)]}})
    response = client.patch(f"{GROUPS}/{group['id']}", json=body, headers=auth)
    assert response.status_code == 200, response.json
    assert response.json["displayName"] == "Guides"
    assert [m["value"] for m in response.json["members"]] == [babs.id]


def test_patch_errors_have_full_bodies(client, auth):
    group = create(client, auth)
    url = f"{GROUPS}/{group['id']}"
    bad_filter = client.patch(url, json=patch_body({"op": "remove", "path": 'members[display eq "x"]'}), headers=auth)
    assert bad_filter.status_code == 400
    assert bad_filter.json == scim_error(
        400, 'Members are selected by value: members[value eq "{id}"] (or several joined by or).', "invalidFilter"
    )
    unknown = client.patch(url, json=patch_body({"op": "replace", "path": "nosuch", "value": 1}), headers=auth)
    assert unknown.status_code == 400
    assert unknown.json == scim_error(
        400, "No such attribute with the name : nosuch in the current resource", "invalidPath"
    )


def test_put_replaces_name_external_id_and_members(client, auth, babs, jim):
    group = create(client, auth, members=[babs])
    body = {"schemas": [GROUP_URN], "displayName": "Renamed", "externalId": "ext-1", "members": [member(jim)]}
    response = client.put(f"{GROUPS}/{group['id']}", json=body, headers=auth)
    assert response.status_code == 200, response.json
    assert response.json["displayName"] == "Renamed"
    assert response.json["externalId"] == "ext-1"
    assert [m["value"] for m in response.json["members"]] == [jim.id]


def test_users_groups_attribute_on_users_and_me(client, auth, babs, app, tenant):
    """RFC 7643 §4.1.2: groups is readOnly, computed from membership, on /Users and /Me."""
    token = make_token(app, tenant, babs)
    before = client.get(ME, headers=bearer(token))
    assert "groups" not in before.json
    group = create(client, auth, members=[babs])
    expected = [
        {
            "value": group["id"],
            "$ref": f"http://localhost/t/acme/scim2/Groups/{group['id']}",
            "display": "Tour Guides",
            "type": "direct",
        }
    ]
    me = client.get(ME, headers=bearer(token))
    assert me.json["groups"] == expected
    assert me.headers["ETag"] != before.headers["ETag"]  # the membership changed the user
    assert client.get(f"{USERS}/{babs.id}", headers=auth).json["groups"] == expected
    rename = patch_body({"op": "replace", "path": "displayName", "value": "Guides"})
    client.patch(f"{GROUPS}/{group['id']}", json=rename, headers=auth)
    assert client.get(ME, headers=bearer(token)).json["groups"][0]["display"] == "Guides"
    # groups is readOnly on /Me: a PATCH naming it is refused.
    refused = client.patch(
        ME, json=patch_body({"op": "add", "path": "groups", "value": [{"value": "x"}]}), headers=bearer(token)
    )
    assert refused.status_code == 400
    assert refused.json["scimType"] == "mutability"
    assert client.delete(f"{GROUPS}/{group['id']}", headers=auth).status_code == 204
    assert "groups" not in client.get(ME, headers=bearer(token)).json


def test_filter_members_value_eq_and_display_name(client, auth, babs, jim):
    guides = create(client, auth, "Tour Guides", [babs])
    create(client, auth, "Drivers", [jim])
    create(client, auth, "Everyone", [babs, jim])

    def names(text):
        response = client.get(GROUPS, query_string={"filter": text, "sortBy": "displayName"}, headers=auth)
        assert response.status_code == 200, response.json
        return [g["displayName"] for g in response.json.get("Resources", [])]

    assert names(f'members.value eq "{babs.id}"') == ["Everyone", "Tour Guides"]
    assert names('displayName eq "tour guides"') == ["Tour Guides"]
    assert names('displayName sw "Tour" or displayName ew "ers"') == ["Drivers", "Tour Guides"]
    assert names(f'id eq "{guides["id"]}"') == ["Tour Guides"]
    assert names('displayName co "i" and not (displayName eq "Drivers")') == ["Tour Guides"]
    assert names(f'members[value eq "{jim.id}"] and displayName sw "E"') == ["Everyone"]
    bad = client.get(GROUPS, query_string={"filter": 'title eq "x"'}, headers=auth)
    assert bad.status_code == 400
    assert bad.json["scimType"] == "invalidFilter"


def test_list_paging_count_zero_and_excluded_members(client, auth, babs):
    for name in ("a", "b", "c"):
        create(client, auth, name, [babs])
    page = client.get(f"{GROUPS}?startIndex=2&count=1&sortBy=displayName", headers=auth).json
    assert page["schemas"] == [LIST_URN]
    assert (page["totalResults"], page["startIndex"], page["itemsPerPage"]) == (3, 2, 1)
    assert page["Resources"][0]["displayName"] == "b"
    assert client.get(f"{GROUPS}?count=0", headers=auth).json == {
        "schemas": [LIST_URN],
        "totalResults": 3,
        "startIndex": 1,
        "itemsPerPage": 0,
    }
    lean = client.get(f"{GROUPS}?excludedAttributes=members", headers=auth).json
    assert all("members" not in g for g in lean["Resources"])
    search = client.post(
        f"{GROUPS}/.search",
        json={"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"], "filter": 'displayName eq "c"'},
        headers=auth,
    )
    assert search.json["totalResults"] == 1


def test_if_match_and_delete(client, auth, babs):
    group = create(client, auth, members=[babs])
    url = f"{GROUPS}/{group['id']}"
    stale = client.patch(
        url, json=patch_body({"op": "remove", "path": "members"}), headers={**auth, "If-Match": 'W/"9"'}
    )
    assert stale.status_code == 412
    assert stale.json == scim_error(412, 'The group is at version W/"1", not W/"9".')
    assert client.delete(url, headers={**auth, "If-Match": 'W/"9"'}).status_code == 412
    assert client.delete(url, headers={**auth, "If-Match": 'W/"1"'}).status_code == 204
    missing = client.get(url, headers=auth)
    assert missing.status_code == 404
    assert missing.json == scim_error(404, f"Group {group['id']} not found.")


def test_membership_changes_are_in_the_members_security_events(client, auth, babs, app, tenant):
    group = create(client, auth, members=[babs])
    client.patch(f"{GROUPS}/{group['id']}", json=patch_body({"op": "remove", "path": "members"}), headers=auth)
    kinds = [(e.kind, e.details["displayName"]) for e in events_of(app, tenant, babs.id) if e.kind.startswith("group.")]
    assert kinds == [("group.left", "Tour Guides"), ("group.joined", "Tour Guides")]


def test_regular_users_and_missing_scopes_are_403(client, app, tenant, babs):
    assert client.get(GROUPS, headers=basic("bjensen", PASSWORD)).status_code == 403
    assert client.get(GROUPS, headers=bearer(make_token(app, tenant, babs))).status_code == 403
    users_only = client_headers(app, tenant, "internal_user_mgt_list")
    assert client.get(GROUPS, headers=users_only).status_code == 403
    assert client.get(GROUPS, headers=client_headers(app, tenant, "internal_group_mgt_list")).status_code == 200


def test_groups_of_another_tenant_are_invisible(client, app, auth):
    other = make_tenant(app, "other")
    theirs = client.post(
        "/t/other/scim2/Groups", json={"displayName": "theirs"}, headers=client_headers(app, other)
    ).json
    assert client.get(f"{GROUPS}/{theirs['id']}", headers=auth).status_code == 404
    assert client.get(GROUPS, headers=auth).json["totalResults"] == 0


def test_a_listed_group_shows_its_members_as_reading_it_does(client, auth, app, tenant):
    """The list reads the members with the page (PostgreSQL) or by a statement of their own
    (SQLite): in the order they were added, as GET /Groups/{id}, with every attribute."""
    people = [make_user(app, tenant, name, PASSWORD) for name in ("zed", "amy", "mo", "bea")]
    group = create(client, auth, "Crew", [people[2], people[0]])
    added = patch_body({"op": "add", "path": "members", "value": [member(people[3]), member(people[1])]})
    assert client.patch(f"{GROUPS}/{group['id']}", json=added, headers=auth).status_code == 200
    create(client, auth, "Empty")
    single = client.get(f"{GROUPS}/{group['id']}", headers=auth).json
    assert [m["display"] for m in single["members"]] == ["mo", "zed", "bea", "amy"]
    listed = client.get(f'{GROUPS}?filter=displayName eq "crew"', headers=auth).json
    assert listed["Resources"] == [single]
    everything = client.get(f"{GROUPS}?sortBy=displayName", headers=auth).json
    assert [g["displayName"] for g in everything["Resources"]] == ["Crew", "Empty"]
    assert everything["Resources"][0] == single
    assert "members" not in everything["Resources"][1]
    bare = client.get(f'{GROUPS}?filter=displayName eq "crew"&excludedAttributes=members', headers=auth).json
    assert "members" not in bare["Resources"][0]

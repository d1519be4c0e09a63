"""ETags on /scim2/Me (RFC 7644 §3.14): weak version tags, If-None-Match and If-Match."""

from __future__ import annotations

import pytest

from scim_me.errors import SCIM_ERROR_URN
from tests.factories import bearer
from tests.factories import load_user
from tests.factories import make_tenant
from tests.factories import make_token
from tests.factories import make_user
from tests.factories import patch_body

ME = "/t/acme/scim2/Me"
NICK = patch_body({"op": "add", "value": {"nickName": "shaggy"}})


@pytest.fixture
def tenant(app):
    return make_tenant(app, "acme", self_delete=True, self_registration="open", self_registration_confirm=False)


@pytest.fixture
def kim(app, tenant):
    return make_user(app, tenant, "kim", nickName="kim-k")


@pytest.fixture
def token(app, tenant, kim):
    return make_token(app, tenant, kim)


def write(client, method: str, token: str, **headers: str):
    if method == "patch":
        return client.patch(ME, json=NICK, headers=bearer(token, **headers))
    if method == "put":
        return client.put(ME, json={"userName": "kim", "nickName": "shaggy"}, headers=bearer(token, **headers))
    return client.delete(ME, headers=bearer(token, **headers))


def test_every_me_response_carries_an_etag_equal_to_meta_version(app, client, kim, token):
    responses = [
        client.get(ME, headers=bearer(token)),
        client.get(f"/t/acme/scim2/Users/{kim.id}", headers=bearer(token)),
        client.patch(ME, json=NICK, headers=bearer(token)),
        client.put(ME, json={"userName": "kim", "title": "Dr"}, headers=bearer(token)),
        client.post(ME, json={"userName": "lee", "password": "battery-staple-42"}),
    ]
    versions = []
    for response in responses:
        assert response.status_code in (200, 201), response.json
        assert response.headers["ETag"] == response.json["meta"]["version"]
        versions.append(response.headers["ETag"])
    assert versions == ['W/"1"', 'W/"1"', 'W/"2"', 'W/"3"', 'W/"1"']


def test_if_none_match_current_is_304(client, kim, token):
    response = client.get(ME, headers=bearer(token, **{"If-None-Match": 'W/"1"'}))
    assert response.status_code == 304
    assert response.data == b""
    assert response.headers["ETag"] == 'W/"1"'


def test_if_none_match_stale_is_200(client, kim, token):
    client.patch(ME, json=NICK, headers=bearer(token))
    response = client.get(ME, headers=bearer(token, **{"If-None-Match": 'W/"1"'}))
    assert response.status_code == 200
    assert response.headers["ETag"] == 'W/"2"'
    assert response.json["nickName"] == "shaggy"


@pytest.mark.parametrize("method", ["patch", "put", "delete"])
def test_stale_if_match_is_412_and_changes_nothing(app, client, tenant, kim, token, method):
    client.patch(ME, json=patch_body({"op": "add", "value": {"title": "Dr"}}), headers=bearer(token))
    response = write(client, method, token, **{"If-Match": 'W/"1"', "Content-Type": "application/json"})
    assert response.status_code == 412
    assert response.mimetype == "application/scim+json"
    assert response.json == {
        "schemas": [SCIM_ERROR_URN],
        "status": "412",
        "detail": 'The user is at version W/"2", not W/"1".',
    }
    assert response.headers["ETag"] == 'W/"2"'
    stored = load_user(app, tenant, kim.id)
    assert stored.version == 2
    assert stored.profile["nickName"] == "kim-k"


@pytest.mark.parametrize("method", ["patch", "put"])
@pytest.mark.parametrize("if_match", ['W/"1"', '"1"', "*", 'W/"5", W/"1"'])
def test_current_if_match_writes_and_bumps_the_version(app, client, tenant, kim, token, method, if_match):
    response = write(client, method, token, **{"If-Match": if_match, "Content-Type": "application/json"})
    assert response.status_code == 200, response.json
    assert response.headers["ETag"] == 'W/"2"'
    assert response.json["meta"]["version"] == 'W/"2"'
    stored = load_user(app, tenant, kim.id)
    assert stored.version == 2
    assert stored.profile["nickName"] == "shaggy"


def test_versions_count_up_with_each_write(client, kim, token):
    for expected in range(2, 6):
        response = client.patch(
            ME,
            json=patch_body({"op": "replace", "path": "title", "value": f"t{expected}"}),
            headers=bearer(token, **{"If-Match": f'W/"{expected - 1}"'}),
        )
        assert response.status_code == 200, response.json
        assert response.headers["ETag"] == f'W/"{expected}"'


def test_if_match_is_checked_before_the_body_is_applied(app, client, tenant, kim, token):
    # A stale tag wins over an invalid operation: nothing is evaluated against an old version.
    ops = patch_body({"op": "replace", "path": "shoeSize", "value": 44})
    response = client.patch(ME, json=ops, headers=bearer(token, **{"If-Match": 'W/"9"'}))
    assert response.status_code == 412

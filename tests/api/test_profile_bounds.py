"""What one stored profile may hold (core/bounds.py): at most SCIM_ME_MAX_VALUES_PER_ATTRIBUTE
values per multi-valued attribute and SCIM_ME_MAX_PROFILE_BYTES of JSON. A write past either is
400 invalidValue (RFC 7644 §3.12: "the attribute value ... is incompatible with ... the server's
capabilities") and stores nothing, on every write path: PATCH, PUT and self-registration."""

from __future__ import annotations

import pytest

from scim_me.storage.tenants import update_tenant
from tests.factories import bearer
from tests.factories import load_user
from tests.factories import make_token
from tests.factories import make_user
from tests.factories import patch_body
from tests.factories import scim_error
from tests.support.apps import build_app

ME = "/t/acme/scim2/Me"
SCIM_JSON = {"Content-Type": "application/scim+json"}


@pytest.fixture
def app(database_url, tmp_path):
    application = build_app(database_url, tmp_path, max_values_per_attribute=5, max_profile_bytes=4096)
    yield application
    application.extensions["scim_me"].db.close_all()


@pytest.fixture
def kim(app, tenant):
    return make_user(app, tenant, "kim", phoneNumbers=[{"value": "+1 555 0100", "type": "work"}])


@pytest.fixture
def headers(app, tenant, kim):
    return bearer(make_token(app, tenant, kim), **SCIM_JSON)


def phones(count: int) -> list[dict[str, str]]:
    return [{"value": f"+1 555 01{n:02d}", "type": "work"} for n in range(count)]


def test_a_patch_that_leaves_the_cap_is_accepted(client, kim, headers):
    response = client.patch(
        ME, json=patch_body({"op": "add", "path": "phoneNumbers", "value": phones(5)[1:]}), headers=headers
    )
    assert response.status_code == 200, response.json
    assert len(response.json["phoneNumbers"]) == 5


def test_a_patch_past_the_value_cap_is_refused_and_stores_nothing(app, client, tenant, kim, headers):
    response = client.patch(
        ME, json=patch_body({"op": "add", "path": "phoneNumbers", "value": phones(6)[1:]}), headers=headers
    )
    assert response.status_code == 400
    assert response.json == scim_error(400, "phoneNumbers has 6 values; at most 5 are accepted.", "invalidValue")
    stored = load_user(app, tenant, kim.id)
    assert stored.version == kim.version and stored.profile == kim.profile


def test_a_profile_past_the_size_cap_is_refused(app, client, tenant, kim, headers):
    response = client.patch(
        ME, json=patch_body({"op": "replace", "path": "displayName", "value": "k" * 5000}), headers=headers
    )
    assert response.status_code == 400
    assert response.json["scimType"] == "invalidValue"
    assert "at most 4096 are stored per user" in response.json["detail"]
    assert load_user(app, tenant, kim.id).version == kim.version


def test_put_is_bounded_too(app, client, tenant, kim, headers):
    body = {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": "kim",
        "phoneNumbers": phones(6),
    }
    response = client.put(ME, json=body, headers=headers)
    assert response.status_code == 400
    assert response.json["detail"] == "phoneNumbers has 6 values; at most 5 are accepted."
    assert load_user(app, tenant, kim.id).version == kim.version


def test_self_registration_is_bounded_too(app, client, tenant):
    with app.extensions["scim_me"].db.connection_context():
        update_tenant("acme", self_registration="open", self_registration_confirm=False)
    body = {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": "lee",
        "password": "a-Long-passphrase-42",
        "phoneNumbers": phones(6),
    }
    response = client.post(ME, json=body, headers=SCIM_JSON)
    assert response.status_code == 400
    assert response.json["detail"] == "phoneNumbers has 6 values; at most 5 are accepted."
    assert client.post(ME, json={**body, "phoneNumbers": phones(5)}, headers=SCIM_JSON).status_code == 201

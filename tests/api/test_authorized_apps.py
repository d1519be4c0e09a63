"""``/api/users/v1|v2/me/authorized-apps`` on both backends: listing in WSO2's two shapes, and
revoking an app, which kills its tokens and refresh tokens and forgets the remembered consent."""

from __future__ import annotations

import pytest

from scim_me.storage.events import list_events
from tests.factories import assert_wso2_error
from tests.factories import bearer
from tests.factories import make_tenant
from tests.factories import make_token
from tests.factories import make_user
from tests.support.privacy import PASSWORD
from tests.support.privacy import consent_page_shown
from tests.support.privacy import make_spa
from tests.support.privacy import sign_in

V1 = "/t/acme/api/users/v1/me/authorized-apps"
V2 = "/t/acme/api/users/v2/me/authorized-apps"
ME = "/t/acme/scim2/Me"


@pytest.fixture
def kim(app, tenant):
    return make_user(app, tenant, "kim", PASSWORD)


@pytest.fixture
def lee(app, tenant):
    return make_user(app, tenant, "lee", PASSWORD)


@pytest.fixture
def third_party(app, tenant):
    return make_spa(app, tenant, "Third party", first_party=False)


@pytest.fixture
def portal(app, tenant):
    return make_spa(app, tenant, "Portal")


def test_lists_the_apps_in_both_shapes(app, tenant, client, kim, third_party, portal):
    one = sign_in(app, tenant, third_party, "kim")
    sign_in(app, tenant, portal, "kim", browser=one.browser)
    v1 = client.get(V1, headers=one.headers)
    assert v1.status_code == 200
    assert v1.json == [
        {"appId": "Portal", "clientId": portal.client_id},
        {"appId": "Third party", "clientId": third_party.client_id},
    ]
    v2 = client.get(V2, headers=one.headers).json
    assert v2 == [
        {"id": portal.client_id, "name": "Portal", "clientId": portal.client_id,
         "approvedScopes": ["internal_login", "openid"]},
        {"id": third_party.client_id, "name": "Third party", "clientId": third_party.client_id,
         "approvedScopes": ["internal_login", "openid"]},
    ]  # fmt: skip
    assert client.get(f"{V1}/{portal.client_id}", headers=one.headers).json == v1.json[0]
    assert client.get(f"{V1}/Portal", headers=one.headers).json == v1.json[0]  # v1 also takes the app name
    assert client.get(f"{V2}/{third_party.client_id}", headers=one.headers).json == v2[1]


def test_revoking_an_app_kills_its_tokens_and_consent(app, tenant, client, kim, third_party, portal):
    signed = sign_in(app, tenant, third_party, "kim")
    other = sign_in(app, tenant, portal, "kim")
    assert client.get(ME, headers=signed.headers).status_code == 200
    assert consent_page_shown(app, tenant, third_party, signed) is False  # remembered

    revoked = client.delete(f"{V2}/{third_party.client_id}", headers=other.headers)
    assert revoked.status_code == 204 and revoked.data == b""

    assert client.get(ME, headers=signed.headers).status_code == 401
    refreshed = client.post(
        "/t/acme/oauth2/token",
        data={"grant_type": "refresh_token", "refresh_token": signed.refresh_token, "client_id": third_party.client_id},
    )
    assert refreshed.status_code == 400 and refreshed.json["error"] == "invalid_grant"
    # The next sign-in through that app asks for consent again.
    assert consent_page_shown(app, tenant, third_party, signed) is True
    assert [a["clientId"] for a in client.get(V1, headers=other.headers).json] == [portal.client_id]
    assert_wso2_error(client.get(f"{V1}/{third_party.client_id}", headers=other.headers), 404, "AAP-60404")
    # The other app is untouched.
    assert client.get(ME, headers=other.headers).status_code == 200
    with app.extensions["scim_me"].db.connection_context():
        events = [e for e in list_events(tenant.id, kim.id) if e.kind == "app.revoked"]
    assert [e.details["clientId"] for e in events] == [third_party.client_id]


def test_revoking_all_apps(app, tenant, client, kim, third_party, portal):
    first = sign_in(app, tenant, third_party, "kim")
    second = sign_in(app, tenant, portal, "kim")
    assert client.delete(V1, headers=second.headers).status_code == 204
    assert client.get(ME, headers=first.headers).status_code == 401
    assert client.get(ME, headers=second.headers).status_code == 401  # the caller's own app too
    token = make_token(app, tenant, make_user(app, tenant, "probe", PASSWORD))
    assert client.get(V1, headers=bearer(token)).json == []


def test_v1_delete_one(app, tenant, client, kim, third_party, portal):
    signed = sign_in(app, tenant, third_party, "kim")
    other = sign_in(app, tenant, portal, "kim")
    assert client.delete(f"{V1}/{third_party.client_id}", headers=other.headers).status_code == 204
    assert client.get(ME, headers=signed.headers).status_code == 401


def test_users_cannot_see_or_revoke_each_others_apps(app, tenant, client, kim, lee, third_party, portal):
    kims = sign_in(app, tenant, third_party, "kim")
    lees = sign_in(app, tenant, portal, "lee")
    assert [a["clientId"] for a in client.get(V1, headers=lees.headers).json] == [portal.client_id]
    assert_wso2_error(client.get(f"{V1}/{third_party.client_id}", headers=lees.headers), 404, "AAP-60404")
    assert_wso2_error(client.delete(f"{V2}/{third_party.client_id}", headers=lees.headers), 404, "AAP-60404")
    assert client.get(ME, headers=kims.headers).status_code == 200
    # Revoking all of lee's apps leaves kim's alone.
    assert client.delete(V2, headers=lees.headers).status_code == 204
    assert client.get(ME, headers=kims.headers).status_code == 200


def test_unknown_app_is_404(app, tenant, client, kim, portal):
    signed = sign_in(app, tenant, portal, "kim")
    for url in (f"{V1}/nope", f"{V2}/nope"):
        assert_wso2_error(client.get(url, headers=signed.headers), 404, "AAP-60404")
        assert_wso2_error(client.delete(url, headers=signed.headers), 404, "AAP-60404")


def test_needs_a_user_token_with_internal_login(app, tenant, client, kim):
    app_token = make_token(app, tenant, None, "internal_login")
    assert_wso2_error(client.get(V1, headers=bearer(app_token)), 403, "AAP-60403")
    assert_wso2_error(client.get(V2, headers=bearer(make_token(app, tenant, kim, "openid"))), 403, "AAP-60403")
    assert client.get(V1).status_code == 401


def test_bare_paths(app, client):
    default = make_tenant(app, "carbon.super")
    sam = make_user(app, default, "sam", PASSWORD)
    response = client.get("/api/users/v1/me/authorized-apps", headers=bearer(make_token(app, default, sam)))
    assert response.status_code == 200 and response.json == []


def test_revoking_all_apps_is_all_or_nothing(app, tenant, client, kim, third_party, portal):
    """One transaction for every app's grants and events: when the history cannot be written,
    every app keeps its access."""
    from tests.support.faults import table_unavailable

    first = sign_in(app, tenant, third_party, "kim")
    second = sign_in(app, tenant, portal, "kim")
    with table_unavailable(app, "security_events"):
        assert client.delete(V1, headers=second.headers).status_code == 500
    assert client.get(ME, headers=first.headers).status_code == 200
    assert client.get(ME, headers=second.headers).status_code == 200
    assert client.delete(V1, headers=second.headers).status_code == 204
    assert client.get(ME, headers=first.headers).status_code == 401

"""POST /oauth2/token (password, client_credentials, refresh_token) and /oauth2/revoke, on
both backends; the access tokens are the ones /scim2/Me accepts."""

from __future__ import annotations

import base64
import json

import pytest

from scim_me.storage.clients import create_client
from scim_me.storage.grants import access_token_grant
from scim_me.storage.grants import find_grant
from tests.factories import bearer
from tests.factories import make_tenant
from tests.factories import make_user
from tests.support.statements import count_statements

PASSWORD = "correct-horse-9"
TOKEN = "/t/acme/oauth2/token"
REVOKE = "/t/acme/oauth2/revoke"
ME = "/t/acme/scim2/Me"


@pytest.fixture
def tenant(app):
    return make_tenant(app, "acme")


@pytest.fixture
def kim(app, tenant):
    return make_user(app, tenant, "kim", PASSWORD)


def _client(app, tenant, *, public, grants):
    with app.extensions["scim_me"].db.connection_context():
        return create_client(
            tenant.id,
            "public app" if public else "postman",
            public=public,
            redirect_uris=["http://localhost:5173/cb"],
            allowed_origins=[],
            grant_types=grants,
        )


@pytest.fixture
def postman(app, tenant):
    record, secret = _client(app, tenant, public=False, grants=["password", "refresh_token", "client_credentials"])
    raw = base64.b64encode(f"{record.client_id}:{secret}".encode()).decode()
    return record, {"Authorization": f"Basic {raw}"}


@pytest.fixture
def spa(app, tenant):
    record, _ = _client(app, tenant, public=True, grants=["password", "refresh_token"])
    return record


def _password_grant(client, headers, **extra):
    data = {"grant_type": "password", "username": "kim", "password": PASSWORD, "scope": "openid internal_login"}
    data.update(extra)
    return client.post(TOKEN, data=data, headers=headers)


def test_password_grant_issues_a_token_that_reads_me(client, kim, postman):
    _, auth = postman
    response = _password_grant(client, auth)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    body = response.json
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 3600
    assert body["scope"] == "openid internal_login"
    assert body["refresh_token"]
    me = client.get(ME, headers=bearer(body["access_token"]))
    assert me.status_code == 200
    assert me.json["userName"] == "kim"


def test_wrong_password_or_unknown_user_gets_no_token(client, kim, postman):
    _, auth = postman
    for data in ({"password": "wrong-password"}, {"username": "nobody"}):
        response = _password_grant(client, auth, **data)
        assert response.status_code == 400
        assert "access_token" not in response.json


def test_a_client_without_the_grant_type_is_refused(app, client, tenant, kim):
    record, secret = _client(app, tenant, public=False, grants=["client_credentials"])
    raw = base64.b64encode(f"{record.client_id}:{secret}".encode()).decode()
    response = _password_grant(client, {"Authorization": f"Basic {raw}"})
    assert response.status_code == 400
    assert response.json["error"] == "unauthorized_client"


def test_a_wrong_client_secret_is_invalid_client(client, kim, postman):
    record, _ = postman
    raw = base64.b64encode(f"{record.client_id}:not-the-secret".encode()).decode()
    response = _password_grant(client, {"Authorization": f"Basic {raw}"})
    assert response.status_code == 401
    assert response.json["error"] == "invalid_client"


def test_scope_is_limited_to_the_clients_scopes(client, kim, postman):
    _, auth = postman
    response = _password_grant(client, auth, scope="openid internal_login internal_user_mgt_delete")
    assert response.status_code == 200
    assert response.json["scope"] == "openid internal_login"


def test_client_credentials_gives_an_application_token_that_cannot_read_me(client, postman):
    _, auth = postman
    response = client.post(TOKEN, data={"grant_type": "client_credentials", "scope": "internal_login"}, headers=auth)
    assert response.status_code == 200
    assert "refresh_token" not in response.json
    assert client.get(ME, headers=bearer(response.json["access_token"])).status_code == 403


def test_a_public_client_cannot_use_client_credentials_or_a_secret(client, kim, spa):
    response = client.post(TOKEN, data={"grant_type": "client_credentials", "client_id": spa.client_id})
    assert response.status_code in (400, 401)
    assert "access_token" not in response.json


def test_refresh_rotates_and_the_old_refresh_token_dies(client, kim, postman):
    _, auth = postman
    first = _password_grant(client, auth).json
    second = client.post(
        TOKEN, data={"grant_type": "refresh_token", "refresh_token": first["refresh_token"]}, headers=auth
    )
    assert second.status_code == 200
    assert second.json["refresh_token"] != first["refresh_token"]
    assert client.get(ME, headers=bearer(second.json["access_token"])).status_code == 200
    third = client.post(
        TOKEN, data={"grant_type": "refresh_token", "refresh_token": second.json["refresh_token"]}, headers=auth
    )
    assert third.status_code == 200


def test_a_replayed_refresh_token_revokes_the_whole_grant(client, kim, postman):
    """RFC 9700 §4.14.2: reuse of a rotated refresh token revokes the active tokens of the grant."""
    _, auth = postman
    first = _password_grant(client, auth).json
    rotated = client.post(
        TOKEN, data={"grant_type": "refresh_token", "refresh_token": first["refresh_token"]}, headers=auth
    ).json
    replay = client.post(
        TOKEN, data={"grant_type": "refresh_token", "refresh_token": first["refresh_token"]}, headers=auth
    )
    assert replay.status_code == 400
    assert replay.json == {"error": "invalid_grant"}
    for access_token in (first["access_token"], rotated["access_token"]):
        assert client.get(ME, headers=bearer(access_token)).status_code == 401
    newest = client.post(
        TOKEN, data={"grant_type": "refresh_token", "refresh_token": rotated["refresh_token"]}, headers=auth
    )
    assert newest.status_code == 400


def test_another_clients_refresh_token_is_refused(app, client, tenant, kim, postman, spa):
    _, auth = postman
    issued = _password_grant(client, auth).json
    response = client.post(
        TOKEN,
        data={"grant_type": "refresh_token", "refresh_token": issued["refresh_token"], "client_id": spa.client_id},
    )
    assert response.status_code == 400
    assert response.json["error"] == "invalid_grant"


def test_a_refresh_token_presented_by_another_client_is_not_spent(client, kim, postman, spa):
    """RFC 6749 §6: the refresh token is bound to the client it was issued to. A wrong client's
    attempt is refused before the token is consumed, so the owner's next refresh still works
    and the grant (with its access token) survives; spending it first made that next refresh
    look like reuse (RFC 9700 §4.14.2) and revoked the whole grant."""
    _, auth = postman
    issued = _password_grant(client, auth).json
    stolen = client.post(
        TOKEN,
        data={"grant_type": "refresh_token", "refresh_token": issued["refresh_token"], "client_id": spa.client_id},
    )
    assert stolen.status_code == 400
    assert stolen.json["error"] == "invalid_grant"
    assert client.get(ME, headers=bearer(issued["access_token"])).status_code == 200
    owner = client.post(
        TOKEN, data={"grant_type": "refresh_token", "refresh_token": issued["refresh_token"]}, headers=auth
    )
    assert owner.status_code == 200
    assert client.get(ME, headers=bearer(owner.json["access_token"])).status_code == 200


def test_revoking_an_access_token_refuses_it_at_once(client, kim, spa):
    issued = _password_grant(client, {}, client_id=spa.client_id).json
    assert client.get(ME, headers=bearer(issued["access_token"])).status_code == 200
    revoked = client.post(REVOKE, data={"token": issued["access_token"], "client_id": spa.client_id})
    assert revoked.status_code == 200
    after = client.get(ME, headers=bearer(issued["access_token"]))
    assert after.status_code == 401
    assert after.json["detail"] == "Authorization failure. The access token has been revoked."
    # RFC 7009 §2.2: an already revoked token is answered as any other, 200.
    again = client.post(REVOKE, data={"token": issued["access_token"], "client_id": spa.client_id})
    assert again.status_code == 200


def test_revoking_a_refresh_token_ends_its_grant(client, kim, postman):
    _, auth = postman
    issued = _password_grant(client, auth).json
    revoked = client.post(
        REVOKE, data={"token": issued["refresh_token"], "token_type_hint": "refresh_token"}, headers=auth
    )
    assert revoked.status_code == 200
    assert client.get(ME, headers=bearer(issued["access_token"])).status_code == 401
    again = client.post(
        TOKEN, data={"grant_type": "refresh_token", "refresh_token": issued["refresh_token"]}, headers=auth
    )
    assert again.status_code == 400


def test_revoking_an_unknown_token_is_200_and_another_clients_token_is_left_alone(client, kim, postman, spa):
    """RFC 7009 §2.2: an invalid token is answered 200; a token of another client is not revoked."""
    assert client.post(REVOKE, data={"token": "no-such-token", "client_id": spa.client_id}).status_code == 200
    _, auth = postman
    issued = _password_grant(client, auth).json
    refused = client.post(REVOKE, data={"token": issued["access_token"], "client_id": spa.client_id})
    assert refused.status_code == 400
    assert client.get(ME, headers=bearer(issued["access_token"])).status_code == 200


def test_tokens_of_one_tenant_do_not_work_in_another(app, client, kim, postman):
    make_tenant(app, "other")
    _, auth = postman
    issued = _password_grant(client, auth).json
    assert client.get("/t/other/scim2/Me", headers=bearer(issued["access_token"])).status_code == 401
    assert client.post("/t/other/oauth2/token", data={"grant_type": "password"}, headers=auth).status_code == 401


def test_unknown_tenant_token_endpoint_is_404(client):
    assert client.post("/t/nope/oauth2/token", data={"grant_type": "password"}).status_code == 404


INTROSPECT = "/t/acme/oauth2/introspect"
USERINFO = "/t/acme/oauth2/userinfo"


def test_introspection_reports_an_active_token_to_its_client(client, kim, postman):
    record, auth = postman
    issued = _password_grant(client, auth).json
    response = client.post(INTROSPECT, data={"token": issued["access_token"]}, headers=auth)
    assert response.status_code == 200
    body = response.json
    assert body["active"] is True
    assert body["client_id"] == record.client_id
    assert body["sub"] == kim.id
    assert body["username"] == "kim"
    assert body["scope"] == "openid internal_login"


def test_introspection_says_only_inactive_for_unknown_revoked_or_foreign_tokens(app, client, tenant, kim, postman, spa):
    """RFC 7662 §2.2: no reason is given for an inactive token."""
    _, auth = postman
    assert client.post(INTROSPECT, data={"token": "garbage"}, headers=auth).json == {"active": False}
    foreign = _password_grant(client, {}, client_id=spa.client_id).json["access_token"]
    assert client.post(INTROSPECT, data={"token": foreign}, headers=auth).json == {"active": False}
    own = _password_grant(client, auth).json["access_token"]
    client.post(REVOKE, data={"token": own}, headers=auth)
    assert client.post(INTROSPECT, data={"token": own}, headers=auth).json == {"active": False}


def test_introspection_needs_a_confidential_client(client, kim, spa):
    token = _password_grant(client, {}, client_id=spa.client_id).json["access_token"]
    response = client.post(INTROSPECT, data={"token": token, "client_id": spa.client_id})
    assert response.status_code == 401
    assert response.json["error"] == "invalid_client"
    assert client.post(INTROSPECT, data={"token": token}).status_code == 401


def test_userinfo_releases_claims_by_scope(app, client, tenant):
    make_user(
        app,
        tenant,
        "kim",
        PASSWORD,
        name={"givenName": "Kim", "familyName": "Berry"},
        nickName="shaggy",
        emails=[{"value": "kim@example.com", "primary": True}],
        phoneNumbers=[{"value": "+94 11 000", "type": "mobile"}],
    )
    with app.extensions["scim_me"].db.connection_context():
        record, secret = create_client(
            tenant.id, "profile app", public=False, redirect_uris=[], allowed_origins=[],
            grant_types=["password"], scope="openid internal_login profile email phone",
        )  # fmt: skip
    raw = base64.b64encode(f"{record.client_id}:{secret}".encode()).decode()
    auth = {"Authorization": f"Basic {raw}"}

    narrow = _password_grant(client, auth, scope="openid internal_login").json["access_token"]
    assert set(client.get(USERINFO, headers=bearer(narrow)).json) == {"sub"}
    wide = _password_grant(client, auth, scope="openid profile email").json["access_token"]
    body = client.get(USERINFO, headers=bearer(wide)).json
    assert body["given_name"] == "Kim"
    assert body["family_name"] == "Berry"
    assert body["nickname"] == "shaggy"
    assert body["preferred_username"] == "kim"
    assert body["email"] == "kim@example.com"
    assert body["email_verified"] is False
    assert "phone_number" not in body


def test_userinfo_needs_openid_and_a_user(client, kim, postman):
    _, auth = postman
    no_openid = _password_grant(client, auth, scope="internal_login").json["access_token"]
    assert client.get(USERINFO, headers=bearer(no_openid)).status_code == 403
    app_token = client.post(TOKEN, data={"grant_type": "client_credentials", "scope": "openid"}, headers=auth).json
    assert client.get(USERINFO, headers=bearer(app_token["access_token"])).status_code in (400, 403)
    assert client.get(USERINFO).status_code == 401


def test_a_json_body_is_refused_saying_it_must_be_form_encoded(client, kim, postman):
    """RFC 6749 §4.1.3: token requests are application/x-www-form-urlencoded. A JSON body used to
    answer a misleading unsupported_grant_type; now the error names the real cause."""
    _, auth = postman
    data = {"grant_type": "password", "username": "kim", "password": PASSWORD, "scope": "internal_login"}
    response = client.post(TOKEN, json=data, headers=auth)
    assert response.status_code == 400
    assert response.json["error"] == "invalid_request"
    assert "must be application/x-www-form-urlencoded" in response.json["error_description"]
    assert "not application/json" in response.json["error_description"]
    assert _password_grant(client, auth).status_code == 200  # the same request, form-encoded


def _basic(client_id: str, secret: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()}


def test_a_wrong_secret_says_so_and_an_unknown_client_looks_the_same(client, kim, postman):
    """RFC 6749 §5.2 invalid_client, 401 with WWW-Authenticate: Basic. The description names the
    cause; an unknown client_id gets the same answer, so the endpoint lists no client ids
    (oauth/client_auth.py)."""
    record, _ = postman
    answers = []
    for headers, form in (
        (_basic(record.client_id, "not-the-secret"), {}),
        (_basic("no-such-client", "not-the-secret"), {}),
        ({}, {"client_id": record.client_id, "client_secret": "not-the-secret"}),
        ({}, {"client_id": "no-such-client", "client_secret": "not-the-secret"}),
    ):
        response = _password_grant(client, headers, **form)
        assert response.status_code == 401, response.json
        assert response.headers["WWW-Authenticate"].startswith("Basic ")
        assert response.json == {
            "error": "invalid_client",
            "error_description": "Client authentication failed: the client_secret is wrong, "
            "or no client has this client_id.",
        }
        answers.append((response.status_code, response.get_data(), response.headers["WWW-Authenticate"]))
    assert len(set(answers)) == 1
    # The same words at the revocation and introspection endpoints.
    for path in (REVOKE, "/t/acme/oauth2/introspect"):
        refused = client.post(path, data={"token": "x"}, headers=_basic(record.client_id, "not-the-secret"))
        assert refused.status_code == 401 and "client_secret is wrong" in refused.json["error_description"]


def test_without_a_secret_the_answer_names_both_causes(client, kim, postman):
    record, _ = postman
    for client_id in (record.client_id, "no-such-client"):  # a confidential client, an unknown id
        response = _password_grant(client, {}, client_id=client_id)
        assert response.status_code == 401
        assert response.json["error"] == "invalid_client"
        assert response.json["error_description"] == (
            "Client authentication failed: no client has this client_id, or it is a confidential client "
            "that must send its client_secret (HTTP Basic or client_secret_post)."
        )
    nothing = _password_grant(client, {})
    assert nothing.status_code == 401
    assert "send the client's credentials" in nothing.json["error_description"]


def test_a_new_grant_is_stored_with_its_tokens_in_one_transaction(app, client, postman):
    """One durable commit per client_credentials request: the grant and its token together, so no
    grant is stored without a token, and the request waits for one flush, not two. (The password
    grant has the sign-in's own writes besides: the throttle and the security event.)"""
    _, auth = postman
    begins: list[str] = []
    with count_statements(app, begins):
        response = client.post(TOKEN, data={"grant_type": "client_credentials"}, headers=auth)
    assert response.status_code == 200, response.json
    assert len(begins) == 1, begins
    claims = json.loads(base64.urlsafe_b64decode(response.json["access_token"].split(".")[1] + "=="))
    with app.extensions["scim_me"].db.connection_context():
        grant_id = access_token_grant(claims["jti"])
        assert grant_id is not None and find_grant(grant_id) is not None

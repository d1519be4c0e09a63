"""Passkeys on WSO2's FIDO2 API (``/api/users/v2/me/webauthn``), on SQLite and PostgreSQL, with
requests shaped as WSO2's My Account sends them: ``appId`` form-encoded, the ``requestId`` round
trip, the credential with base64url members and no ``rawId``, the rename as a REPLACE operation.
The authenticator is tests/support/authenticator.py: real keys, real CBOR, real signatures."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest

from scim_me.auth import passkeys
from scim_me.storage.db import write_transaction
from scim_me.storage.events import Actor
from scim_me.storage.events import list_events
from scim_me.web.context import settings
from scim_me.web.sections import Subject
from scim_me.web.sections import export_sections
from scim_me.web.sections import overview_sections
from tests.factories import assert_wso2_error
from tests.factories import basic
from tests.factories import bearer
from tests.factories import make_tenant
from tests.factories import make_token
from tests.factories import make_user
from tests.support.apps import build_app
from tests.support.authenticator import SoftAuthenticator
from tests.support.authenticator import b64

BASE = "/t/acme/api/users/v2/me/webauthn"
ORIGIN = "http://localhost"  # the test apps' base_url: the relying party id is "localhost"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def _setup(app: Any, name: str = "kim", tenant_name: str = "acme") -> tuple[Any, Any, dict[str, str]]:
    tenant = make_tenant(app, tenant_name)
    user = make_user(app, tenant, name)
    return tenant, user, bearer(make_token(app, tenant, user))


def _start(
    client: Any, auth: dict[str, str], *, usernameless: bool = False, origin: str = ORIGIN, base: str = BASE
) -> Any:
    path = "start-usernameless-registration" if usernameless else "start-registration"
    # As WSO2's My Account: axios with Content-Type form-urlencoded and data {appId: origin}.
    return client.post(
        f"{base}/{path}", data=f"appId={origin.replace(':', '%3A').replace('/', '%2F')}", headers={**auth, **FORM}
    )


def _register(
    client: Any, auth: dict[str, str], device: SoftAuthenticator, *, usernameless: bool = True, base: str = BASE
) -> dict[str, Any]:
    started = _start(client, auth, usernameless=usernameless, base=base)
    assert started.status_code == 200, started.get_json()
    body = started.get_json()
    credential = device.create(body["publicKeyCredentialCreationOptions"], ORIGIN)
    # My Account posts JSON.stringify({requestId, credential}) with Content-Type application/json.
    finished = client.post(
        f"{base}/finish-registration",
        data=json.dumps({"requestId": body["requestId"], "credential": credential}),
        headers={**auth, "Content-Type": "application/json"},
    )
    assert finished.status_code == 200, finished.get_json()
    result: dict[str, Any] = finished.get_json()
    return result


def _with_db(app: Any, fn: Any, *args: Any, **kwargs: Any) -> Any:
    with app.app_context(), app.extensions["scim_me"].db.connection_context():
        return fn(*args, **kwargs)


def test_start_registration_answers_wso2_request_id_and_creation_options(app: Any, client: Any) -> None:
    _tenant, user, auth = _setup(app)
    response = _start(client, auth)
    assert response.status_code == 200
    body = response.get_json()
    assert set(body) == {"requestId", "publicKeyCredentialCreationOptions"}
    options = body["publicKeyCredentialCreationOptions"]
    assert options["rp"] == {"id": "localhost", "name": "acme"}
    assert options["user"]["name"] == "kim"
    assert options["user"]["id"] == b64(user.id.encode())
    assert options["attestation"] == "none"
    assert options["excludeCredentials"] == []
    assert options["authenticatorSelection"]["userVerification"] == "preferred"
    assert options["authenticatorSelection"]["residentKey"] == "discouraged"
    assert len(options["challenge"]) >= 43  # 32 random bytes, base64url
    assert response.headers["Cache-Control"] == "no-store"

    usernameless = _start(client, auth, usernameless=True).get_json()["publicKeyCredentialCreationOptions"]
    assert usernameless["authenticatorSelection"]["residentKey"] == "required"
    assert usernameless["authenticatorSelection"]["requireResidentKey"] is True
    assert usernameless["authenticatorSelection"]["userVerification"] == "required"
    assert usernameless["challenge"] != options["challenge"]


def test_app_id_is_read_as_wso2_reads_it(app: Any, client: Any) -> None:
    _setup(app)
    auth = bearer(make_token(app, make_tenant(app, "acme"), make_user(app, make_tenant(app, "acme"), "lee")))
    as_json = client.post(f"{BASE}/start-registration", json={"appId": ORIGIN}, headers=auth)
    assert as_json.status_code == 200, as_json.get_json()
    bare = client.post(f"{BASE}/start-registration", data=ORIGIN, headers={**auth, "Content-Type": "text/plain"})
    assert bare.status_code == 200, bare.get_json()
    for empty in ("", "appId=", "appId=%20", "{}", '{"appId": 5}'):
        response = client.post(f"{BASE}/start-registration", data=empty, headers={**auth, **FORM})
        body = assert_wso2_error(response, 400, "FIDO-50011")
        assert "appId" in body["description"]
    for origin in ("https://evil.example", "http://localhost/path", "javascript:alert(1)", "http://localhost.evil"):
        response = _start(client, auth, origin=origin)
        assert_wso2_error(response, 400, "FIDO-50003")


def test_app_id_may_be_an_allowed_origin_within_the_relying_party(database_url: str, tmp_path: Any) -> None:
    from scim_me.storage.clients import create_client

    app = build_app(database_url, tmp_path, base_url="https://id.example.com", passkey_rp_id="example.com")
    try:
        client = app.test_client()
        tenant, _user, auth = _setup(app)
        with app.extensions["scim_me"].db.connection_context():
            create_client(
                tenant.id,
                "spa",
                public=True,
                redirect_uris=["https://app.example.com/cb"],
                allowed_origins=["https://app.example.com", "https://app.other.example"],
                grant_types=["authorization_code"],
            )
        for origin in ("https://id.example.com", "https://app.example.com"):
            response = _start(client, auth, origin=origin)
            assert response.status_code == 200, response.get_json()
            assert response.get_json()["publicKeyCredentialCreationOptions"]["rp"]["id"] == "example.com"
        # Allowed for CORS, but outside the relying-party id: a browser would refuse it anyway.
        assert_wso2_error(_start(client, auth, origin="https://app.other.example"), 400, "FIDO-50003")
        assert_wso2_error(_start(client, auth, origin="https://unknown.example.com"), 400, "FIDO-50003")
    finally:
        app.extensions["scim_me"].db.close_all()


def test_register_list_rename_delete_round_trip(app: Any, client: Any) -> None:
    tenant, user, auth = _setup(app)
    device = SoftAuthenticator()
    created = _register(client, auth, device)
    credential_id = b64(device.credentials[0].credential_id)
    assert created["credential"]["credentialId"] == credential_id
    assert created["credential"]["id"] == credential_id  # My Account reads data.credential.id
    assert created["displayName"] is None
    assert created["isUsernamelessSupported"] is True
    assert created["lastUsedTime"] is None
    assert created["registrationTime"].endswith("Z")

    listed = client.get(BASE, headers=auth)
    assert listed.status_code == 200
    assert [item["credential"]["credentialId"] for item in listed.get_json()] == [credential_id]
    text = listed.get_data(as_text=True)
    # The public key never leaves the server, nor anything but the credential id of the key.
    assert "publicKey" not in text and "publicKeyCose" not in text

    # My Account's rename: a JSON array with one REPLACE of /displayName.
    renamed = client.patch(
        f"{BASE}/{credential_id}",
        json=[{"operation": "REPLACE", "path": "/displayName", "value": "YubiKey 5"}],
        headers=auth,
    )
    assert renamed.status_code == 200, renamed.get_json()
    assert renamed.get_json()["displayName"] == "YubiKey 5"
    assert client.get(BASE, headers=auth).get_json()[0]["displayName"] == "YubiKey 5"

    # The second registration excludes the first credential.
    again = _start(client, auth).get_json()["publicKeyCredentialCreationOptions"]
    assert [c["id"] for c in again["excludeCredentials"]] == [credential_id]

    deleted = client.delete(f"{BASE}/{credential_id}", headers=auth)
    assert deleted.status_code == 200 and deleted.get_data() == b""
    assert client.get(BASE, headers=auth).get_json() == []
    assert_wso2_error(client.delete(f"{BASE}/{credential_id}", headers=auth), 404, "FIDO-50010")

    kinds = [e.kind for e in _with_db(app, list_events, tenant.id, user.id)]
    assert {"mfa.passkey.registered", "mfa.passkey.renamed", "mfa.passkey.removed"} <= set(kinds)


def test_bare_paths_serve_the_default_tenant(app: Any, client: Any) -> None:
    tenant = make_tenant(app, "carbon.super")
    user = make_user(app, tenant, "sam")
    auth = bearer(make_token(app, tenant, user))
    created = _register(client, auth, SoftAuthenticator(), base="/api/users/v2/me/webauthn")
    assert client.get("/api/users/v2/me/webauthn", headers=auth).get_json()[0]["credential"] == created["credential"]


def test_request_id_is_single_use_and_bound_to_its_user(app: Any, client: Any) -> None:
    tenant, _user, auth = _setup(app)
    other = bearer(make_token(app, tenant, make_user(app, tenant, "lee")))
    device = SoftAuthenticator()
    body = _start(client, auth, usernameless=True).get_json()
    credential = device.create(body["publicKeyCredentialCreationOptions"], ORIGIN)
    payload = {"requestId": body["requestId"], "credential": credential}
    # Another user cannot finish it (and trying spends it: no second try by anyone).
    stolen = client.post(f"{BASE}/finish-registration", json=payload, headers=other)
    assert_wso2_error(stolen, 400, "FIDO-50006")
    replay = client.post(f"{BASE}/finish-registration", json=payload, headers=auth)
    assert_wso2_error(replay, 400, "FIDO-50006")

    body = _start(client, auth, usernameless=True).get_json()
    credential = device.create(body["publicKeyCredentialCreationOptions"], ORIGIN)
    payload = {"requestId": body["requestId"], "credential": credential}
    assert client.post(f"{BASE}/finish-registration", json=payload, headers=auth).status_code == 200
    assert_wso2_error(client.post(f"{BASE}/finish-registration", json=payload, headers=auth), 400, "FIDO-50006")
    unknown = {"requestId": "x" * 43, "credential": credential}
    assert_wso2_error(client.post(f"{BASE}/finish-registration", json=unknown, headers=auth), 400, "FIDO-50006")


def test_concurrent_finishes_of_one_request_register_once(app: Any) -> None:
    _tenant, _user, auth = _setup(app)
    device = SoftAuthenticator()
    body = _start(app.test_client(), auth).get_json()
    payload = {
        "requestId": body["requestId"],
        "credential": device.create(body["publicKeyCredentialCreationOptions"], ORIGIN),
    }
    statuses: list[int] = []
    barrier = threading.Barrier(4)

    def finish() -> None:
        local = app.test_client()
        barrier.wait()
        statuses.append(local.post(f"{BASE}/finish-registration", json=payload, headers=auth).status_code)

    threads = [threading.Thread(target=finish) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(statuses) == [200, 400, 400, 400]
    assert len(app.test_client().get(BASE, headers=auth).get_json()) == 1


def test_a_credential_that_does_not_verify_is_refused(app: Any, client: Any) -> None:
    _tenant, _user, auth = _setup(app)
    device = SoftAuthenticator()
    # Signed for another origin (a phishing page relaying our challenge).
    body = _start(client, auth).get_json()
    credential = device.create(body["publicKeyCredentialCreationOptions"], "https://evil.example")
    response = client.post(
        f"{BASE}/finish-registration", json={"requestId": body["requestId"], "credential": credential}, headers=auth
    )
    assert "origin" in assert_wso2_error(response, 400, "FIDO-50006")["description"].lower()
    # For another challenge.
    body = _start(client, auth).get_json()
    credential = device.create(body["publicKeyCredentialCreationOptions"], ORIGIN, challenge=b64(b"0" * 32))
    response = client.post(
        f"{BASE}/finish-registration", json={"requestId": body["requestId"], "credential": credential}, headers=auth
    )
    assert_wso2_error(response, 400, "FIDO-50006")
    # A passkey (usernameless) needs user verification.
    body = _start(client, auth, usernameless=True).get_json()
    credential = SoftAuthenticator(uv=False).create(body["publicKeyCredentialCreationOptions"], ORIGIN)
    response = client.post(
        f"{BASE}/finish-registration", json={"requestId": body["requestId"], "credential": credential}, headers=auth
    )
    assert "verif" in assert_wso2_error(response, 400, "FIDO-50006")["description"].lower()
    # Garbage in every member.
    body = _start(client, auth).get_json()
    for credential in ({}, {"id": "x", "response": {"attestationObject": "!!", "clientDataJSON": 5}}, {"id": 1}):
        response = client.post(
            f"{BASE}/finish-registration", json={"requestId": body["requestId"], "credential": credential}, headers=auth
        )
        assert_wso2_error(response, 400, "FIDO-50006")
    for raw in (b"", b"null", b"[]", b'"text"', b"{", b'{"requestId": 5, "credential": {}}', b'{"requestId": "abc"}'):
        response = client.post(
            f"{BASE}/finish-registration", data=raw, headers={**auth, "Content-Type": "application/json"}
        )
        assert_wso2_error(response, 400, "FIDO-50006")
    assert client.get(BASE, headers=auth).get_json() == []


def test_rename_and_delete_errors(app: Any, client: Any) -> None:
    tenant, _user, auth = _setup(app)
    device = SoftAuthenticator()
    credential_id = _register(client, auth, device)["credential"]["credentialId"]
    other_user = bearer(make_token(app, tenant, make_user(app, tenant, "lee")))
    ok = [{"operation": "REPLACE", "path": "/displayName", "value": "mine"}]
    # Another user's credential does not exist for them.
    assert_wso2_error(client.patch(f"{BASE}/{credential_id}", json=ok, headers=other_user), 404, "FIDO-50010")
    assert_wso2_error(client.delete(f"{BASE}/{credential_id}", headers=other_user), 404, "FIDO-50010")
    assert_wso2_error(client.patch(f"{BASE}/{'A' * 43}", json=ok, headers=auth), 404, "FIDO-50010")
    assert_wso2_error(client.patch(f"{BASE}/not*an*id", json=ok, headers=auth), 400, "FIDO-50009")
    assert_wso2_error(client.delete(f"{BASE}/not*an*id", headers=auth), 400, "FIDO-50009")
    bad_bodies: list[Any] = [
        [],
        {},
        [{"operation": "ADD", "path": "/displayName", "value": "x"}],
        [{"operation": "REPLACE", "path": "/credentialId", "value": "x"}],
        [{"operation": "REPLACE", "path": "/displayName", "value": ""}],
        [{"operation": "REPLACE", "path": "/displayName", "value": "x" * 65}],
        [{"operation": "REPLACE", "path": "/displayName", "value": "a\nb"}],
        [{"operation": "REPLACE", "path": "/displayName", "value": 5}],
        ["REPLACE"],
    ]
    for bad in bad_bodies:
        assert_wso2_error(client.patch(f"{BASE}/{credential_id}", json=bad, headers=auth), 400, "FIDO-50014")
    assert client.get(BASE, headers=auth).get_json()[0]["displayName"] is None


def test_authentication_errors_are_wso2_bodies(app: Any, client: Any) -> None:
    tenant, _user, _auth = _setup(app)
    assert_wso2_error(client.get(BASE), 401, "FIDO-10001")
    assert_wso2_error(client.get(BASE, headers={"Authorization": "Bearer nope"}), 401, "FIDO-10001")
    assert_wso2_error(client.get(BASE, headers=basic("kim", "correct-horse-9")), 403, "FIDO-10005")
    no_login = bearer(make_token(app, tenant, make_user(app, tenant, "lee"), scope="openid"))
    assert_wso2_error(client.get(BASE, headers=no_login), 403, "FIDO-10001")


def test_credentials_are_tenant_scoped(app: Any, client: Any) -> None:
    _tenant, _user, auth = _setup(app)
    credential_id = _register(client, auth, SoftAuthenticator())["credential"]["credentialId"]
    _beta, _other, beta_auth = _setup(app, "kim", "beta")
    beta = "/t/beta/api/users/v2/me/webauthn"
    assert client.get(beta, headers=beta_auth).get_json() == []
    assert_wso2_error(client.delete(f"{beta}/{credential_id}", headers=beta_auth), 404, "FIDO-50010")
    # acme's token is refused by beta altogether.
    assert client.get(beta, headers=auth).status_code == 401


def test_export_and_overview_list_passkeys_without_key_material(app: Any, client: Any) -> None:
    tenant, user, auth = _setup(app)
    device = SoftAuthenticator()
    credential_id = _register(client, auth, device)["credential"]["credentialId"]
    overview = overview_sections()["passkeys"]
    for summary in (
        _with_db(app, export_sections()["passkeys"], tenant.id, user.id),
        _with_db(app, overview, Subject(tenant, user, None)),
    ):
        assert summary["count"] == 1
        assert summary["passkeys"][0]["credentialId"] == credential_id
        assert set(summary["passkeys"][0]) == {
            "credentialId",
            "displayName",
            "registrationTime",
            "lastUsedTime",
            "isUsernamelessSupported",
        }
    exported = client.get("/t/acme/api/identity/user/v1.0/me", headers=auth)
    assert exported.status_code == 200
    assert exported.get_json()["passkeys"]["count"] == 1


def _sign_in(app: Any, tenant: Any, device: SoftAuthenticator, *, user_id: str | None = None, **get: Any) -> Any:
    def run() -> Any:
        s = settings()
        started = passkeys.start_signin(s, tenant.id, "spa", user_id)
        assertion = device.get(started.options, ORIGIN, **get)
        checked = passkeys.check_signin(s, tenant.id, started.request_id, assertion, "spa", Actor())
        with write_transaction():
            spent = passkeys.spend_signin(tenant.id, checked, Actor())
        if isinstance(spent, passkeys.PasskeyRefused):
            raise spent
        return spent

    return _with_db(app, run)


def test_sign_in_checks_the_counter_and_refuses_a_clone(app: Any, client: Any) -> None:
    tenant, user, auth = _setup(app)
    device = SoftAuthenticator()
    _register(client, auth, device)
    passed = _sign_in(app, tenant, device)
    assert passed.user_id == user.id and passed.amr == "hwk"
    assert _sign_in(app, tenant, device, user_id=user.id).user_id == user.id  # as a second factor
    clone = SoftAuthenticator(credentials=[device.credentials[0].clone()])
    _sign_in(app, tenant, device)  # the original moves on
    with pytest.raises(passkeys.PasskeyRefused) as refused:
        _sign_in(app, tenant, clone)  # the clone's counter is one behind: stale
    assert refused.value.reason == "cloned"
    with pytest.raises(passkeys.PasskeyRefused) as refused:
        _sign_in(app, tenant, device, counter=device.credentials[0].counter)  # the same counter again
    assert refused.value.reason == "cloned"
    assert client.get(BASE, headers=auth).get_json()[0]["lastUsedTime"] is not None
    kinds = [e.kind for e in _with_db(app, list_events, tenant.id, user.id)]
    assert kinds.count("mfa.passkey.failure") == 2


def test_sign_in_rules(app: Any, client: Any) -> None:
    tenant, user, auth = _setup(app)
    device = SoftAuthenticator()
    _register(client, auth, device, usernameless=False)
    # Passwordless needs user verification; a synced passkey is "swk".
    with pytest.raises(passkeys.PasskeyRefused) as refused:
        _sign_in(app, tenant, SoftAuthenticator(uv=False, credentials=device.credentials))
    assert refused.value.reason == "invalid"
    synced = SoftAuthenticator(backup_eligible=True)
    _register(client, auth, synced)
    assert _sign_in(app, tenant, synced).amr == "swk"
    # A second factor for another user does not accept this user's passkey.
    lee = make_user(app, tenant, "lee")
    with pytest.raises(passkeys.PasskeyRefused) as refused:
        _sign_in(app, tenant, device, user_id=lee.id)
    assert refused.value.reason == "unknown"
    # Another tenant does not know the credential.
    beta = make_tenant(app, "beta")
    with pytest.raises(passkeys.PasskeyRefused) as refused:
        _sign_in(app, beta, device)
    assert refused.value.reason == "unknown"
    # Wrong assertions count on the MFA lock like wrong TOTP codes.
    wrong = SoftAuthenticator(uv=False, credentials=device.credentials)
    for _ in range(settings_of(app).mfa_max_failures):
        with pytest.raises(passkeys.PasskeyRefused):
            _sign_in(app, tenant, wrong)
    with pytest.raises(passkeys.PasskeyRefused) as refused:
        _sign_in(app, tenant, device)
    assert refused.value.reason == "locked" and refused.value.retry_after > 0
    assert user.id


def settings_of(app: Any) -> Any:
    return app.extensions["scim_me"].settings

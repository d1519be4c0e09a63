"""Passkeys on the sign-in page (issue 15), in-process on SQLite and PostgreSQL with the software
authenticator of tests/support/authenticator.py: the page's options fetch (CSRF-checked), a
passwordless sign-in (``amr`` ``["hwk", "mfa"]``), a passkey as the second factor after the
password (``["pwd", "hwk"]``), and what is refused: a stale counter, another user's passkey at
the second factor, no user verification without a password, a disabled account, replays."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from scim_me.storage.clients import create_client
from scim_me.storage.events import list_events
from scim_me.storage.tenants import update_tenant
from tests.factories import bearer
from tests.factories import make_tenant
from tests.factories import make_token
from tests.factories import make_user
from tests.oauth.test_mfa_signin import PASSWORD
from tests.oauth.test_mfa_signin import REDIRECT
from tests.oauth.test_mfa_signin import TOKEN
from tests.oauth.test_mfa_signin import _code
from tests.oauth.test_mfa_signin import _csrf
from tests.oauth.test_mfa_signin import _id_token
from tests.oauth.test_mfa_signin import _password
from tests.oauth.test_mfa_signin import _pkce
from tests.oauth.test_mfa_signin import _url
from tests.support.authenticator import SoftAuthenticator
from tests.support.faults import table_unavailable

WEBAUTHN = "/t/acme/api/users/v2/me/webauthn"
ORIGIN = "http://localhost"  # the test apps' base_url: the sign-in page's origin


@pytest.fixture
def tenant(app: Any) -> Any:
    return make_tenant(app, "acme")


@pytest.fixture
def kim(app: Any, tenant: Any) -> Any:
    return make_user(app, tenant, "kim", PASSWORD)


@pytest.fixture
def spa(app: Any, tenant: Any) -> Any:
    with app.extensions["scim_me"].db.connection_context():
        record, _ = create_client(
            tenant.id,
            "My SPA",
            public=True,
            first_party=True,
            redirect_uris=[REDIRECT],
            allowed_origins=["http://localhost:5173"],
            grant_types=["authorization_code", "refresh_token", "password"],
            scope="openid internal_login",
        )
    return record


def _register(app: Any, client: Any, tenant: Any, user: Any, device: SoftAuthenticator) -> str:
    auth = bearer(make_token(app, tenant, user))
    started = client.post(
        f"{WEBAUTHN}/start-usernameless-registration",
        data="appId=http%3A%2F%2Flocalhost",
        headers={**auth, "Content-Type": "application/x-www-form-urlencoded"},
    ).json
    credential = device.create(started["publicKeyCredentialCreationOptions"], ORIGIN)
    done = client.post(
        f"{WEBAUTHN}/finish-registration",
        json={"requestId": started["requestId"], "credential": credential},
        headers=auth,
    )
    assert done.status_code == 200, done.json
    return str(done.json["credential"]["credentialId"])


def _options(client: Any, url: str, page: Any, kind: str = "passkey_options") -> Any:
    return client.post(url, data={"csrf_token": _csrf(page.get_data(as_text=True)), "action": kind})


def _passkey(
    client: Any,
    url: str,
    page: Any,
    device: SoftAuthenticator,
    kind: str = "passkey",
    form_extra: dict[str, str] | None = None,
    **get: Any,
) -> Any:
    started = _options(client, url, page, f"{kind}_options")
    assert started.status_code == 200, started.get_data(as_text=True)
    assertion = device.get(started.json["publicKey"], ORIGIN, **get)
    form = {
        "csrf_token": _csrf(page.get_data(as_text=True)),
        "action": kind,
        "request_id": started.json["requestId"],
        "credential": json.dumps(assertion),
        **(form_extra or {}),
    }
    return client.post(url, data=form)


def _error(response: Any) -> str:
    match = re.search(r'<p class="error" role="alert">([^<]+)</p>', response.get_data(as_text=True))
    return match.group(1) if match else ""


def test_the_sign_in_page_offers_a_passkey_with_a_nonce_script(app: Any, client: Any, spa: Any) -> None:
    _verifier, challenge = _pkce()
    page = client.get(_url(spa.client_id, challenge))
    html = page.get_data(as_text=True)
    assert 'id="passkey-button"' in html and 'autocomplete="username webauthn"' in html
    nonce = re.search(r'<script nonce="([^"]+)">', html)
    assert nonce
    policy = page.headers["Content-Security-Policy"]
    assert f"script-src 'nonce-{nonce.group(1)}'" in policy and "default-src 'none'" in policy
    assert "frame-ancestors 'none'" in policy


def test_passwordless_sign_in(app: Any, client: Any, tenant: Any, kim: Any, spa: Any) -> None:
    device = SoftAuthenticator()
    _register(app, client, tenant, kim, device)
    verifier, challenge = _pkce()
    url = _url(spa.client_id, challenge)
    page = client.get(url)
    started = _options(client, url, page)
    options = started.json["publicKey"]
    assert options["userVerification"] == "required" and options.get("allowCredentials", []) == []
    assert options["rpId"] == "localhost"
    signed_in = client.post(
        url,
        data={
            "csrf_token": _csrf(page.get_data(as_text=True)),
            "action": "passkey",
            "request_id": started.json["requestId"],
            "credential": json.dumps(device.get(options, ORIGIN)),
        },
    )
    claims = _id_token(app, client, spa, _code(signed_in), verifier)
    assert claims["amr"] == ["hwk", "mfa"] and claims["sub"] == kim.id
    with app.extensions["scim_me"].db.connection_context():
        kinds = [e.kind for e in list_events(tenant.id, kim.id)]
    assert "signin.success" in kinds and "mfa.passkey.validated" in kinds


def test_the_options_fetch_needs_the_page_csrf_token(app: Any, client: Any, spa: Any) -> None:
    _verifier, challenge = _pkce()
    url = _url(spa.client_id, challenge)
    client.get(url)
    refused = client.post(url, data={"csrf_token": "forged", "action": "passkey_options"})
    assert refused.status_code == 400 and "requestId" not in refused.get_data(as_text=True)


def test_a_passkey_is_the_second_factor_after_the_password(
    app: Any, client: Any, tenant: Any, kim: Any, spa: Any
) -> None:
    device = SoftAuthenticator()
    credential_id = _register(app, client, tenant, kim, device)
    # Having a passkey turns the second factor on: the password grant no longer suffices.
    grant = client.post(
        TOKEN,
        data={
            "grant_type": "password",
            "username": "kim",
            "password": PASSWORD,
            "client_id": spa.client_id,
            "scope": "openid",
        },
    )
    assert grant.status_code == 400 and grant.json["error"] == "invalid_grant"
    verifier, challenge = _pkce()
    url = _url(spa.client_id, challenge)
    mfa_page = _password(client, url)
    html = mfa_page.get_data(as_text=True)
    assert mfa_page.status_code == 200 and 'id="passkey-button"' in html and 'id="code"' not in html
    options = _options(client, url, mfa_page, "mfa_passkey_options").json["publicKey"]
    assert [c["id"] for c in options["allowCredentials"]] == [credential_id]
    assert options["userVerification"] == "preferred"
    passed = _passkey(client, url, mfa_page, SoftAuthenticator(uv=False, credentials=device.credentials), "mfa_passkey")
    assert _id_token(app, client, spa, _code(passed), verifier)["amr"] == ["pwd", "hwk"]


def test_a_passkey_second_factor_can_trust_the_device(app: Any, client: Any, tenant: Any, kim: Any, spa: Any) -> None:
    """Issue 15: "trust this device" is offered at the second-factor step whichever factor answers
    it; trusted after a passkey, the browser's next sign-in skips the second factor (amr pwd)."""
    with app.app_context(), app.extensions["scim_me"].db.connection_context():
        update_tenant("acme", trusted_device_days=30)
    device = SoftAuthenticator()
    _register(app, client, tenant, kim, device)
    verifier, challenge = _pkce()
    url = _url(spa.client_id, challenge)
    mfa_page = _password(client, url)
    html = mfa_page.get_data(as_text=True)
    # Only a passkey is enrolled: the box stands alone and belongs to the passkey form.
    assert 'name="trust_device"' in html and 'form="passkey-form"' in html and "30 days" in html
    key = SoftAuthenticator(uv=False, credentials=device.credentials)
    passed = _passkey(client, url, mfa_page, key, "mfa_passkey", form_extra={"trust_device": "yes"})
    cookie = f"scim_me_device_{tenant.id}="
    assert any(header.startswith(cookie) for header in passed.headers.getlist("Set-Cookie"))
    assert _id_token(app, client, spa, _code(passed), verifier)["amr"] == ["pwd", "hwk"]
    client.delete_cookie(f"scim_me_sid_{tenant.id}", path="/")  # the browser closed; the device cookie stays
    verifier, challenge = _pkce()
    skipped = _password(client, _url(spa.client_id, challenge))
    assert _id_token(app, client, spa, _code(skipped), verifier)["amr"] == ["pwd"]
    # Removing the passkey the trust was granted on revokes the device, as turning TOTP off does.
    auth = bearer(make_token(app, tenant, kim))
    devices = "/t/acme/api/users/v1/me/devices"
    assert client.get(devices, headers=auth).json["totalResults"] == 1
    (passkey,) = client.get(WEBAUTHN, headers=auth).json
    assert client.delete(f"{WEBAUTHN}/{passkey['credential']['credentialId']}", headers=auth).status_code == 200
    assert client.get(devices, headers=auth).json["devices"] == []


def test_another_users_passkey_is_no_second_factor(app: Any, client: Any, tenant: Any, kim: Any, spa: Any) -> None:
    _register(app, client, tenant, kim, SoftAuthenticator())
    lee = make_user(app, tenant, "lee", PASSWORD)
    lees = SoftAuthenticator()
    _register(app, client, tenant, lee, lees)
    _verifier, challenge = _pkce()
    url = _url(spa.client_id, challenge)
    mfa_page = _password(client, url)
    refused = _passkey(client, url, mfa_page, lees, "mfa_passkey")
    assert refused.status_code == 401 and "not registered" in _error(refused)
    assert 'id="passkey-button"' in refused.get_data(as_text=True)  # still the MFA page


def test_a_stale_counter_is_refused_at_sign_in(app: Any, client: Any, tenant: Any, kim: Any, spa: Any) -> None:
    device = SoftAuthenticator()
    _register(app, client, tenant, kim, device)
    clone = SoftAuthenticator(credentials=[device.credentials[0].clone()])
    _verifier, challenge = _pkce()
    url = _url(spa.client_id, challenge)
    assert _passkey(client, url, client.get(url), device).status_code == 302
    fresh = app.test_client()
    refused = _passkey(fresh, url, fresh.get(url), clone)
    assert refused.status_code == 401 and "copied" in _error(refused)


@pytest.mark.parametrize("problem", ["no user verification", "replayed request", "disabled account", "garbage"])
def test_passwordless_refusals(app: Any, client: Any, tenant: Any, kim: Any, spa: Any, problem: str) -> None:
    device = SoftAuthenticator()
    _register(app, client, tenant, kim, device)
    _verifier, challenge = _pkce()
    url = _url(spa.client_id, challenge)
    page = client.get(url)
    csrf = _csrf(page.get_data(as_text=True))
    if problem == "no user verification":
        refused = _passkey(client, url, page, SoftAuthenticator(uv=False, credentials=device.credentials))
    elif problem == "replayed request":
        started = _options(client, url, page).json
        form = {"csrf_token": csrf, "action": "passkey", "request_id": started["requestId"]}
        form["credential"] = json.dumps(device.get(started["publicKey"], ORIGIN))
        assert client.post(url, data=form).status_code == 302
        other = app.test_client()
        page = other.get(url)
        form["csrf_token"] = _csrf(page.get_data(as_text=True))
        form["credential"] = json.dumps(device.get(started["publicKey"], ORIGIN))
        refused = other.post(url, data=form)
    elif problem == "disabled account":
        admin = bearer(make_token(app, tenant, None, scope="internal_user_mgt_update"))
        patch = {
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "replace", "value": {"active": False}}],
        }
        assert client.patch(f"/t/acme/scim2/Users/{kim.id}", json=patch, headers=admin).status_code == 200
        refused = _passkey(client, url, page, device)
    else:
        refused = client.post(url, data={"csrf_token": csrf, "action": "passkey", "request_id": "x", "credential": "{"})
    assert refused.status_code == 401, refused.get_data(as_text=True)
    assert _error(refused)
    assert "Location" not in refused.headers


@pytest.mark.parametrize("kind", ["passkey", "mfa_passkey"])
def test_a_sign_in_that_fails_after_the_passkey_leaves_it_unspent(
    app: Any, client: Any, tenant: Any, kim: Any, spa: Any, kind: str
) -> None:
    """The passkey is spent in the transaction that signs the browser in: when starting the
    session fails, its ceremony is still open, its counter where it was and its use recorded
    nowhere, so the same answer then signs the user in (for the second factor, on the same
    MFA challenge)."""
    device = SoftAuthenticator()
    _register(app, client, tenant, kim, device)
    key = device if kind == "passkey" else SoftAuthenticator(uv=False, credentials=device.credentials)
    verifier, challenge = _pkce()
    url = _url(spa.client_id, challenge)
    page = client.get(url) if kind == "passkey" else _password(client, url)
    started = _options(client, url, page, f"{kind}_options").json
    form = {
        "csrf_token": _csrf(page.get_data(as_text=True)),
        "action": kind,
        "request_id": started["requestId"],
        "credential": json.dumps(key.get(started["publicKey"], ORIGIN)),
    }
    auth = bearer(make_token(app, tenant, kim))
    with app.extensions["scim_me"].db.connection_context():
        before = [e.kind for e in list_events(tenant.id, kim.id)]
    with table_unavailable(app, "user_sessions"):
        failed = client.post(url, data=form)
    assert failed.status_code == 500
    with app.extensions["scim_me"].db.connection_context():
        assert [e.kind for e in list_events(tenant.id, kim.id)] == before  # no use, no sign-in recorded
    assert client.get(WEBAUTHN, headers=auth).json[0]["lastUsedTime"] is None
    passed = client.post(url, data=form)  # the same ceremony, the same assertion
    expected = ["hwk", "mfa"] if kind == "passkey" else ["pwd", "hwk"]
    assert _id_token(app, client, spa, _code(passed), verifier)["amr"] == expected
    assert client.get(WEBAUTHN, headers=auth).json[0]["lastUsedTime"] is not None

"""``GET /api/identity/user/v1.0/me``: the complete data export, on both backends. It holds the
profile, receipts (history too), sessions, authorized apps, security events and every registered
section, never a secret, and can be downloaded as a file."""

from __future__ import annotations

import json
import re

import pytest

from scim_me.storage.events import list_events
from scim_me.web import sections as user_sections
from tests.factories import assert_wso2_error
from tests.factories import bearer
from tests.factories import make_tenant
from tests.factories import make_token
from tests.factories import make_user
from tests.support.privacy import CM
from tests.support.privacy import PASSWORD
from tests.support.privacy import admin_token
from tests.support.privacy import consent_request
from tests.support.privacy import make_spa
from tests.support.privacy import seed_metadata
from tests.support.privacy import sign_in

EXPORT = "/t/acme/api/identity/user/v1.0/me"


@pytest.fixture
def kim(app, tenant):
    return make_user(
        app,
        tenant,
        "kim",
        PASSWORD,
        name={"givenName": "Kim", "familyName": "Berry"},
        emails=[{"value": "kim@example.com", "primary": True}],
        nickName="kb",
    )


def test_export_holds_everything_and_no_secret(app, tenant, client, kim):
    spa = make_spa(app, tenant, "Portal")
    signed = sign_in(app, tenant, spa, "kim", user_agent="Laptop/1.0")
    meta = seed_metadata(client, tenant, admin_token(app, tenant))
    first = client.post(f"/t/acme{CM}/consents", json=consent_request(meta), headers=signed.headers).json
    client.delete(f"/t/acme{CM}/consents/receipts/{first['consentReceiptId']}", headers=signed.headers)
    client.post(f"/t/acme{CM}/consents", json=consent_request(meta, service="other"), headers=signed.headers)

    response = client.get(EXPORT, headers=signed.headers)
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert "Content-Disposition" not in response.headers
    body = response.json
    assert body["tenantDomain"] == "acme"
    assert body["basic"]["http://wso2.org/claims/username"] == "kim"
    assert body["basic"]["http://wso2.org/claims/givenname"] == "Kim"
    assert body["basic"]["http://wso2.org/claims/emailaddress"] == "kim@example.com"
    assert body["user_profile"]["userid"] == kim.id
    assert body["user_profile"]["totpEnabled"] is False
    assert body["scim"]["userName"] == "kim" and body["scim"]["nickName"] == "kb"
    assert sorted(r["state"] for r in body["consents"]) == ["ACTIVE", "REVOKED"]
    assert all(r["version"] == "KI-CR-v1.1.0" for r in body["consents"])
    assert [s["userAgent"] for s in body["sessions"]] == ["Laptop/1.0"]
    assert [a["clientId"] for a in body["authorizedApps"]] == [spa.client_id]
    kinds = {e["kind"] for e in body["securityEvents"]}
    assert {"signin.success", "consent.given", "consent.revoked"} <= kinds
    assert set(user_sections.export_sections()) <= set(body)

    text = response.get_data(as_text=True)
    for secret in (PASSWORD, signed.access_token, signed.refresh_token, "$argon2", "password_hash"):
        assert secret not in text
    assert re.search(r'"password"\s*:', text) is None

    with app.extensions["scim_me"].db.connection_context():
        assert list_events(tenant.id, kim.id, limit=1)[0].kind == "data.exported"


def test_download_as_a_file(app, tenant, client, kim):
    response = client.get(f"{EXPORT}?download=true", headers=bearer(make_token(app, tenant, kim)))
    assert response.status_code == 200
    disposition = response.headers["Content-Disposition"]
    assert re.fullmatch(r'attachment; filename="scim-me-export-kim-\d{8}T\d{6}Z\.json"', disposition), disposition
    assert json.loads(response.data)["basic"]["http://wso2.org/claims/username"] == "kim"
    assert_wso2_error(
        client.get(f"{EXPORT}?download=yes", headers=bearer(make_token(app, tenant, kim))), 400, "UEX-60400"
    )


def test_a_registered_section_is_exported(app, tenant, client, kim, monkeypatch):
    monkeypatch.setattr(user_sections, "_EXPORT", dict(user_sections._EXPORT))
    user_sections.register_export_section("zzExtra", lambda tenant_id, user_id: {"user": user_id})
    body = client.get(EXPORT, headers=bearer(make_token(app, tenant, kim))).json
    assert body["zzExtra"] == {"user": kim.id}


def test_export_only_shows_the_callers_data(app, tenant, client, kim):
    lee = make_user(app, tenant, "lee", PASSWORD)
    spa = make_spa(app, tenant, "Portal")
    sign_in(app, tenant, spa, "kim")
    body = client.get(EXPORT, headers=bearer(make_token(app, tenant, lee))).json
    assert body["scim"]["userName"] == "lee"
    assert body["sessions"] == [] and body["authorizedApps"] == [] and body["consents"] == []
    assert all(e["kind"] != "signin.success" for e in body["securityEvents"])


def test_export_needs_a_user_token(app, tenant, client):
    assert_wso2_error(
        client.get(EXPORT, headers=bearer(make_token(app, tenant, None, "internal_login"))), 403, "UEX-60403"
    )
    assert client.get(EXPORT).status_code == 401


def test_bare_path(app, client):
    default = make_tenant(app, "carbon.super")
    sam = make_user(app, default, "sam", PASSWORD)
    response = client.get("/api/identity/user/v1.0/me", headers=bearer(make_token(app, default, sam)))
    assert response.status_code == 200 and response.json["tenantDomain"] == "carbon.super"

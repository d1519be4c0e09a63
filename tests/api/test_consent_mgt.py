"""Consent management (wso2-api.md §7.1) on both backends: metadata CRUD with the admin scopes,
receipts (add, list with filters, read, revoke as history), validation in WSO2's error dialect,
isolation between users and tenants, ETags and If-Match, expiry."""

from __future__ import annotations

import time

import pytest

from scim_me.storage.events import list_events
from scim_me.storage.users import delete_user
from tests.factories import assert_wso2_error
from tests.factories import basic
from tests.factories import bearer
from tests.factories import make_tenant
from tests.factories import make_token
from tests.factories import make_user
from tests.support.privacy import CM
from tests.support.privacy import PASSWORD
from tests.support.privacy import admin_token
from tests.support.privacy import consent_request
from tests.support.privacy import seed_metadata

BASE = f"/t/acme{CM}/consents"


@pytest.fixture
def kim(app, tenant):
    return make_user(app, tenant, "kim", PASSWORD)


@pytest.fixture
def lee(app, tenant):
    return make_user(app, tenant, "lee", PASSWORD)


@pytest.fixture
def admin(app, tenant):
    return admin_token(app, tenant)


@pytest.fixture
def kim_token(app, tenant, kim):
    return make_token(app, tenant, kim)


@pytest.fixture
def lee_token(app, tenant, lee):
    return make_token(app, tenant, lee)


@pytest.fixture
def meta(client, tenant, admin):
    return seed_metadata(client, tenant, admin)


def _add(client, token, body):
    return client.post(BASE, json=body, headers=bearer(token))


# ------------------------------------------------------------------ metadata


def test_pii_category_crud_with_admin_scopes(client, admin, kim_token):
    created = client.post(
        f"{BASE}/pii-categories",
        json={"piiCategory": "email", "description": "Email", "displayName": "Email address", "sensitive": False},
        headers=bearer(admin),
    )
    assert created.status_code == 201, created.json
    body = created.json
    assert body == {
        "piiCategoryId": body["piiCategoryId"],
        "piiCategory": "email",
        "description": "Email",
        "displayName": "Email address",
        "sensitive": False,
    }
    assert isinstance(body["piiCategoryId"], int)
    location = created.headers["Location"]
    assert location == f"http://localhost{BASE}/pii-categories/{body['piiCategoryId']}"
    # Any authenticated caller reads metadata, a user too.
    one = client.get(f"{BASE}/pii-categories/{body['piiCategoryId']}", headers=bearer(kim_token))
    assert one.status_code == 200 and one.json == body
    assert one.headers["ETag"].startswith('"')
    listed = client.get(f"{BASE}/pii-categories", headers=bearer(kim_token))
    assert listed.status_code == 200 and listed.json == [body]
    deleted = client.delete(f"{BASE}/pii-categories/{body['piiCategoryId']}", headers=bearer(admin))
    assert deleted.status_code == 200 and deleted.data == b""
    assert_wso2_error(
        client.get(f"{BASE}/pii-categories/{body['piiCategoryId']}", headers=bearer(admin)), 404, "CM_00035"
    )


def test_purpose_category_crud(client, admin):
    created = client.post(
        f"{BASE}/purpose-categories", json={"purposeCategory": "Legal", "description": "Law"}, headers=bearer(admin)
    )
    assert created.status_code == 200, created.json
    cid = created.json["purposeCategoryId"]
    assert created.json == {"purposeCategoryId": cid, "purposeCategory": "Legal", "description": "Law"}
    assert created.headers["Location"].endswith(f"/consents/purpose-categories/{cid}")
    assert client.get(f"{BASE}/purpose-categories", headers=bearer(admin)).json == [created.json]
    assert client.get(f"{BASE}/purpose-categories/{cid}", headers=bearer(admin)).json == created.json
    assert client.delete(f"{BASE}/purpose-categories/{cid}", headers=bearer(admin)).status_code == 200
    assert_wso2_error(client.get(f"{BASE}/purpose-categories/{cid}", headers=bearer(admin)), 404, "CM_00027")


def test_purpose_crud_with_pii_categories(client, admin, meta):
    one = client.get(f"{BASE}/purposes/{meta.purpose}", headers=bearer(admin))
    assert one.status_code == 200
    body = one.json
    assert body["purpose"] == "Contact" and body["group"] == "SIGNUP" and body["groupType"] == "SYSTEM"
    assert [(p["piiCategoryId"], p["piiCategory"], p["mandatory"]) for p in body["piiCategories"]] == [
        (meta.pii_email, "email", True),
        (meta.pii_phone, "phone", False),
    ]
    listed = client.get(f"{BASE}/purposes", headers=bearer(admin)).json
    assert listed == [
        {"purposeId": meta.purpose, "purpose": "Contact", "description": "Contact the user", "group": "SIGNUP",
         "groupType": "SYSTEM"}
    ]  # fmt: skip
    assert client.get(f"{BASE}/purposes?group=OTHER", headers=bearer(admin)).json == []
    assert client.get(f"{BASE}/purposes?groupType=SYSTEM", headers=bearer(admin)).json == listed
    plain = client.post(f"{BASE}/purposes", json={"purpose": "Marketing"}, headers=bearer(admin))
    assert plain.status_code == 200
    assert plain.json["group"] == "DEFAULT" and plain.json["piiCategories"] == []
    assert client.delete(f"{BASE}/purposes/{plain.json['purposeId']}", headers=bearer(admin)).status_code == 200
    assert_wso2_error(client.get(f"{BASE}/purposes/{plain.json['purposeId']}", headers=bearer(admin)), 404, "CM_00024")


def test_metadata_paging(client, admin):
    for i in range(5):
        client.post(f"{BASE}/purpose-categories", json={"purposeCategory": f"c{i}"}, headers=bearer(admin))
    names = [c["purposeCategory"] for c in client.get(f"{BASE}/purpose-categories?limit=2&offset=1",
                                                      headers=bearer(admin)).json]  # fmt: skip
    assert names == ["c1", "c2"]
    assert len(client.get(f"{BASE}/purpose-categories?limit=0", headers=bearer(admin)).json) == 5
    assert_wso2_error(client.get(f"{BASE}/purpose-categories?limit=-1", headers=bearer(admin)), 400, "CM_60001")
    assert_wso2_error(client.get(f"{BASE}/purpose-categories?offset=x", headers=bearer(admin)), 400, "CM_60001")


def test_duplicate_metadata_is_409(client, admin, meta):
    assert_wso2_error(
        client.post(f"{BASE}/pii-categories", json={"piiCategory": "email"}, headers=bearer(admin)), 409, "CM_00032"
    )
    assert_wso2_error(
        client.post(f"{BASE}/purpose-categories", json={"purposeCategory": "Legal"}, headers=bearer(admin)),
        409,
        "CM_00029",
    )
    same = {"purpose": "Contact", "group": "SIGNUP", "groupType": "SYSTEM"}
    assert_wso2_error(client.post(f"{BASE}/purposes", json=same, headers=bearer(admin)), 409, "CM_00022")
    # Same name in another group is another purpose (WSO2's uniqueness is name + group + type).
    assert client.post(f"{BASE}/purposes", json={**same, "group": "OTHER"}, headers=bearer(admin)).status_code == 200


def test_metadata_writes_need_the_admin_scopes(app, tenant, client, kim_token, meta):
    only_add = admin_token(app, tenant, "internal_consent_mgt_add")
    only_delete = admin_token(app, tenant, "internal_consent_mgt_delete")
    for token in (kim_token, only_delete):
        assert_wso2_error(
            client.post(f"{BASE}/pii-categories", json={"piiCategory": "x"}, headers=bearer(token)), 403, "CM_00076"
        )
        assert_wso2_error(
            client.post(f"{BASE}/purposes", json={"purpose": "x"}, headers=bearer(token)), 403, "CM_00076"
        )
        assert_wso2_error(
            client.post(f"{BASE}/purpose-categories", json={"purposeCategory": "x"}, headers=bearer(token)),
            403,
            "CM_00076",
        )
    for token in (kim_token, only_add):
        assert_wso2_error(client.delete(f"{BASE}/purposes/{meta.purpose}", headers=bearer(token)), 403, "CM_00076")
        assert_wso2_error(
            client.delete(f"{BASE}/pii-categories/{meta.pii_email}", headers=bearer(token)), 403, "CM_00076"
        )
        assert_wso2_error(
            client.delete(f"{BASE}/purpose-categories/{meta.category}", headers=bearer(token)), 403, "CM_00076"
        )
    assert client.post(f"{BASE}/pii-categories", json={"piiCategory": "x"}, headers=bearer(only_add)).status_code == 201


def test_metadata_needs_authentication(client, meta):
    response = client.get(f"{BASE}/purposes")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert_wso2_error(response, 401)


def test_metadata_validation_errors(client, admin, meta):
    cases = [
        (f"{BASE}/pii-categories", {}, "piiCategory"),
        (f"{BASE}/pii-categories", {"piiCategory": 5}, "piiCategory"),
        (f"{BASE}/pii-categories", {"piiCategory": "a", "sensitive": "yes"}, "sensitive"),
        (f"{BASE}/pii-categories", {"piiCategory": "x" * 300}, "piiCategory"),
        (f"{BASE}/purpose-categories", {"description": "no name"}, "purposeCategory"),
        (f"{BASE}/purposes", {"purpose": ""}, "purpose"),
        (f"{BASE}/purposes", {"purpose": "p", "piiCategories": [{"piiCategoryId": "1"}]}, "piiCategoryId"),
    ]
    for url, body, field in cases:
        error = assert_wso2_error(client.post(url, json=body, headers=bearer(admin)), 400, "CM_60001")
        assert field in error["description"], (body, error)
    unknown = client.post(
        f"{BASE}/purposes", json={"purpose": "p", "piiCategories": [{"piiCategoryId": 999999}]}, headers=bearer(admin)
    )
    assert_wso2_error(unknown, 400, "CM_00035")
    not_json = client.post(f"{BASE}/purposes", data="{", content_type="application/json", headers=bearer(admin))
    assert_wso2_error(not_json, 400, "CM_60001")
    wrong_type = client.post(f"{BASE}/purposes", data="purpose=x", content_type="text/plain", headers=bearer(admin))
    assert_wso2_error(wrong_type, 415)
    array = client.post(f"{BASE}/purposes", json=[{"purpose": "x"}], headers=bearer(admin))
    assert_wso2_error(array, 400, "CM_60001")


def test_unknown_and_malformed_metadata_ids_are_404(client, admin):
    for kind, code in (("purposes", "CM_00024"), ("purpose-categories", "CM_00027"), ("pii-categories", "CM_00035")):
        assert_wso2_error(client.get(f"{BASE}/{kind}/424242", headers=bearer(admin)), 404, code)
        assert_wso2_error(client.get(f"{BASE}/{kind}/abc", headers=bearer(admin)), 404, code)
        assert_wso2_error(client.delete(f"{BASE}/{kind}/424242", headers=bearer(admin)), 404, code)


def test_metadata_in_use_cannot_be_deleted(client, admin, kim_token, meta):
    assert _add(client, kim_token, consent_request(meta)).status_code == 200
    purpose = assert_wso2_error(
        client.delete(f"{BASE}/purposes/{meta.purpose}", headers=bearer(admin)), 409, "CM_60409"
    )
    assert "used by consent receipts" in purpose["description"]
    assert_wso2_error(
        client.delete(f"{BASE}/purpose-categories/{meta.category}", headers=bearer(admin)), 409, "CM_60409"
    )
    assert_wso2_error(client.delete(f"{BASE}/pii-categories/{meta.pii_email}", headers=bearer(admin)), 409, "CM_60409")
    # Still there.
    assert client.get(f"{BASE}/purposes/{meta.purpose}", headers=bearer(admin)).status_code == 200


def test_a_pii_category_used_by_a_purpose_cannot_be_deleted(client, admin, meta):
    error = assert_wso2_error(
        client.delete(f"{BASE}/pii-categories/{meta.pii_phone}", headers=bearer(admin)), 409, "CM_60409"
    )
    assert "purposes" in error["description"]


def test_metadata_etags_and_conditional_requests(client, admin, meta):
    url = f"{BASE}/purpose-categories/{meta.category}"
    first = client.get(url, headers=bearer(admin))
    tag = first.headers["ETag"]
    not_modified = client.get(url, headers=bearer(admin, **{"If-None-Match": tag}))
    assert not_modified.status_code == 304 and not_modified.headers["ETag"] == tag
    assert client.get(url, headers=bearer(admin, **{"If-None-Match": '"other"'})).status_code == 200
    stale = client.delete(f"{BASE}/purposes/{meta.purpose}", headers=bearer(admin, **{"If-Match": '"stale"'}))
    assert_wso2_error(stale, 412, "CM_60412")
    purpose_tag = client.get(f"{BASE}/purposes/{meta.purpose}", headers=bearer(admin)).headers["ETag"]
    ok = client.delete(f"{BASE}/purposes/{meta.purpose}", headers=bearer(admin, **{"If-Match": purpose_tag}))
    assert ok.status_code == 200


def test_purposes_of_another_tenant_are_invisible(app, client, admin, meta):
    other = make_tenant(app, "other")
    other_admin = admin_token(app, other)
    assert client.get(f"/t/other{CM}/consents/purposes", headers=bearer(other_admin)).json == []
    assert_wso2_error(
        client.get(f"/t/other{CM}/consents/purposes/{meta.purpose}", headers=bearer(other_admin)), 404, "CM_00024"
    )
    assert_wso2_error(client.delete(f"/t/other{CM}/consents/purposes/{meta.purpose}", headers=bearer(other_admin)), 404)
    assert_wso2_error(
        client.get(f"/t/other{CM}/consents/pii-categories/{meta.pii_email}", headers=bearer(other_admin)), 404
    )
    # A token of acme is not accepted by the other tenant at all.
    assert client.get(f"/t/other{CM}/consents/purposes", headers=bearer(admin)).status_code == 401
    # The same names may exist in both tenants.
    seed_metadata(client, other, other_admin)


def test_bare_paths_serve_the_default_tenant(app, client):
    default = make_tenant(app, "carbon.super")
    token = admin_token(app, default)
    created = client.post(f"{CM}/consents/purpose-categories", json={"purposeCategory": "Bare"}, headers=bearer(token))
    assert created.status_code == 200
    assert (
        created.headers["Location"]
        == f"http://localhost{CM}/consents/purpose-categories/{created.json['purposeCategoryId']}"
    )
    assert client.get(f"{CM}/consents/purpose-categories", headers=bearer(token)).json == [created.json]


# ------------------------------------------------------------------ receipts


def test_add_list_get_revoke_a_receipt(app, tenant, client, kim, kim_token, meta):
    before = int(time.time() * 1000)
    added = _add(client, kim_token, consent_request(meta))
    assert added.status_code == 200, added.json
    receipt_id = added.json["consentReceiptId"]
    assert added.json == {
        "consentReceiptId": receipt_id,
        "collectionMethod": "Web Form - My Account",
        "language": "en-US",
        "piiPrincipalId": "kim",
        "tenantDomain": "acme",
    }
    assert added.headers["Location"] == f"http://localhost{BASE}/receipts/{receipt_id}"

    listed = client.get(BASE, headers=bearer(kim_token))
    assert listed.status_code == 200
    assert listed.json == [
        {
            "consentReceiptID": receipt_id,
            "language": "en-US",
            "piiPrincipalId": "kim",
            "tenantDomain": "acme",
            "state": "ACTIVE",
            "spDisplayName": "My App",
            "spDescription": "The app",
        }
    ]

    receipt = client.get(f"{BASE}/receipts/{receipt_id}", headers=bearer(kim_token))
    assert receipt.status_code == 200
    doc = receipt.json
    assert doc["version"] == "KI-CR-v1.1.0"
    assert doc["consentReceiptID"] == receipt_id
    assert isinstance(doc["consentTimestamp"], int) and before - 1000 <= doc["consentTimestamp"] <= int(
        time.time() * 1000
    )
    assert doc["state"] == "ACTIVE" and doc["piiPrincipalId"] == "kim" and doc["tenantDomain"] == "acme"
    assert doc["policyUrl"] == "https://example.com/privacy" and doc["jurisdiction"] == "LK"
    assert doc["piiControllers"] == [] and doc["publicKey"] is None
    assert doc["sensitive"] is True and doc["spiCat"] == ["phone"]
    assert doc["properties"] == [{"key": "source", "value": "tests"}]
    [service] = doc["services"]
    assert service["service"] == "my-app" and service["tenantDomain"] == "acme"
    [purpose] = service["purposes"]
    assert purpose["purpose"] == "Contact" and purpose["purposeId"] == meta.purpose
    assert purpose["purposeCategory"] == ["Legal"]
    assert purpose["piiCategory"] == [
        {"piiCategoryName": "email", "piiCategoryId": meta.pii_email, "validity": "DATE_UNTIL:INDEFINITE",
         "piiCategoryDisplayName": "Email"},
        {"piiCategoryName": "phone", "piiCategoryId": meta.pii_phone, "validity": "days:30",
         "piiCategoryDisplayName": "Phone"},
    ]  # fmt: skip
    assert purpose["consentType"] == "EXPLICIT" and purpose["primaryPurpose"] is True
    assert purpose["thirdPartyDisclosure"] is False and purpose["thirdPartyName"] == ""
    assert receipt.headers["ETag"]

    revoked = client.delete(f"{BASE}/receipts/{receipt_id}", headers=bearer(kim_token))
    assert revoked.status_code == 200 and revoked.data == b""
    # Kept as history.
    after = client.get(f"{BASE}/receipts/{receipt_id}", headers=bearer(kim_token)).json
    assert after["state"] == "REVOKED" and isinstance(after["revokedTimestamp"], int)
    assert client.get(f"{BASE}?state=ACTIVE", headers=bearer(kim_token)).json == []
    assert [r["state"] for r in client.get(f"{BASE}?state=REVOKED", headers=bearer(kim_token)).json] == ["REVOKED"]
    assert len(client.get(BASE, headers=bearer(kim_token)).json) == 1
    # Revoking again changes nothing.
    assert client.delete(f"{BASE}/receipts/{receipt_id}", headers=bearer(kim_token)).status_code == 200

    with app.extensions["scim_me"].db.connection_context():
        kinds = [e.kind for e in list_events(tenant.id, kim.id)]
    assert kinds == ["consent.revoked", "consent.given"]


def test_basic_authentication_works_for_receipts(client, kim, meta):
    added = client.post(BASE, json=consent_request(meta), headers=basic("kim", PASSWORD))
    assert added.status_code == 200
    assert len(client.get(BASE, headers=basic("kim", PASSWORD)).json) == 1


def test_a_new_receipt_for_the_same_service_replaces_the_active_one(client, kim_token, meta):
    first = _add(client, kim_token, consent_request(meta)).json["consentReceiptId"]
    other_service = _add(client, kim_token, consent_request(meta, service="other-app")).json["consentReceiptId"]
    second = _add(client, kim_token, consent_request(meta)).json["consentReceiptId"]
    states = {r["consentReceiptID"]: r["state"] for r in client.get(BASE, headers=bearer(kim_token)).json}
    assert states == {first: "REVOKED", other_service: "ACTIVE", second: "ACTIVE"}


def test_list_filters_and_paging(client, kim_token, meta):
    ids = [
        _add(client, kim_token, consent_request(meta, service=f"app-{i}")).json["consentReceiptId"] for i in range(4)
    ]
    newest_first = [r["consentReceiptID"] for r in client.get(BASE, headers=bearer(kim_token)).json]
    assert sorted(newest_first) == sorted(ids)
    assert [r["consentReceiptID"] for r in client.get(f"{BASE}?service=app-2", headers=bearer(kim_token)).json] == [
        ids[2]
    ]
    assert client.get(f"{BASE}?service=nope", headers=bearer(kim_token)).json == []
    assert len(client.get(f"{BASE}?spTenantDomain=acme", headers=bearer(kim_token)).json) == 4
    assert client.get(f"{BASE}?spTenantDomain=elsewhere", headers=bearer(kim_token)).json == []
    page = client.get(f"{BASE}?limit=2&offset=1", headers=bearer(kim_token)).json
    assert [r["consentReceiptID"] for r in page] == newest_first[1:3]
    assert len(client.get(f"{BASE}?state=active", headers=bearer(kim_token)).json) == 4
    assert_wso2_error(client.get(f"{BASE}?state=GONE", headers=bearer(kim_token)), 400, "CM_60001")
    assert_wso2_error(client.get(f"{BASE}?limit=abc", headers=bearer(kim_token)), 400, "CM_60001")
    assert len(client.get(f"{BASE}?piiPrincipalId=kim", headers=bearer(kim_token)).json) == 4


@pytest.mark.parametrize(
    "mutate, field, code",
    [
        (lambda b: b.pop("services"), "services", "CM_60001"),
        (lambda b: b.update(services=[]), "services", "CM_60001"),
        (lambda b: b.pop("collectionMethod"), "collectionMethod", "CM_60001"),
        (lambda b: b.update(jurisdiction=7), "jurisdiction", "CM_60001"),
        (lambda b: b["services"][0].pop("service"), "service", "CM_60001"),
        (lambda b: b["services"][0].update(purposes=[]), "purposes", "CM_60001"),
        (lambda b: b["services"][0]["purposes"][0].update(purposeId="1"), "purposeId", "CM_60001"),
        (lambda b: b["services"][0]["purposes"][0].update(purposeId=True), "purposeId", "CM_60001"),
        (lambda b: b["services"][0]["purposes"][0].pop("consentType"), "consentType", "CM_60001"),
        (lambda b: b["services"][0]["purposes"][0].update(primaryPurpose="true"), "primaryPurpose", "CM_60001"),
        (lambda b: b["services"][0]["purposes"][0].update(piiCategory={}), "piiCategory", "CM_60001"),
        (lambda b: b["services"][0]["purposes"][0]["piiCategory"][0].pop("piiCategoryId"), "piiCategoryId", "CM_60001"),
        (lambda b: b.update(expiryTime="soon"), "expiryTime", "CM_60001"),
        (lambda b: b.update(expiryTime=1000), "expiryTime", "CM_60001"),
        (lambda b: b["services"][0]["purposes"][0].update(purposeId=999999), "999999", "CM_00024"),
        (lambda b: b["services"][0]["purposes"][0].update(purposeCategoryId=[999999]), "999999", "CM_00027"),
        (lambda b: b["services"][0]["purposes"][0]["piiCategory"][1].update(piiCategoryId=999999), "999999",
         "CM_00035"),
    ],
)  # fmt: skip
def test_invalid_consent_requests_are_400(client, kim_token, meta, mutate, field, code):
    body = consent_request(meta)
    mutate(body)
    error = assert_wso2_error(_add(client, kim_token, body), 400, code)
    assert field in error["description"], error
    assert client.get(BASE, headers=bearer(kim_token)).json == []


def test_receipt_pii_must_fit_the_purpose(client, admin, kim_token, meta):
    extra = client.post(f"{BASE}/pii-categories", json={"piiCategory": "address"}, headers=bearer(admin)).json
    body = consent_request(meta)
    body["services"][0]["purposes"][0]["piiCategory"].append({"piiCategoryId": extra["piiCategoryId"]})
    assert_wso2_error(_add(client, kim_token, body), 400, "CM_60002")
    body = consent_request(meta)
    body["services"][0]["purposes"][0]["piiCategory"] = [{"piiCategoryId": meta.pii_phone}]  # email is mandatory
    assert_wso2_error(_add(client, kim_token, body), 400, "CM_60003")


def test_recording_a_consent_needs_a_user(client, admin, meta):
    assert_wso2_error(_add(client, admin, consent_request(meta)), 403, "CM_00075")
    assert_wso2_error(client.get(BASE, headers=bearer(admin)), 403, "CM_00075")


def test_recording_a_consent_needs_internal_login(app, tenant, client, kim, meta):
    token = make_token(app, tenant, kim, "openid")
    assert_wso2_error(_add(client, token, consent_request(meta)), 403, "CM_00076")


def test_users_cannot_see_or_revoke_each_others_receipts(client, kim_token, lee_token, meta):
    kims = _add(client, kim_token, consent_request(meta)).json["consentReceiptId"]
    assert client.get(BASE, headers=bearer(lee_token)).json == []
    assert_wso2_error(client.get(f"{BASE}/receipts/{kims}", headers=bearer(lee_token)), 404, "CM_00068")
    assert_wso2_error(client.delete(f"{BASE}/receipts/{kims}", headers=bearer(lee_token)), 404, "CM_00068")
    assert_wso2_error(client.get(f"{BASE}?piiPrincipalId=kim", headers=bearer(lee_token)), 403, "CM_00076")
    assert client.get(f"{BASE}/receipts/{kims}", headers=bearer(kim_token)).json["state"] == "ACTIVE"


def test_receipts_of_another_tenant_are_invisible(app, client, kim_token, meta):
    receipt = _add(client, kim_token, consent_request(meta)).json["consentReceiptId"]
    other = make_tenant(app, "other")
    kim_there = make_user(app, other, "kim", PASSWORD)
    token = make_token(app, other, kim_there)
    assert_wso2_error(client.get(f"/t/other{CM}/consents/receipts/{receipt}", headers=bearer(token)), 404, "CM_00068")
    assert_wso2_error(
        client.delete(f"/t/other{CM}/consents/receipts/{receipt}", headers=bearer(token)), 404, "CM_00068"
    )
    assert client.get(f"/t/other{CM}/consents", headers=bearer(token)).json == []


def test_an_administrator_may_list_read_and_revoke_a_users_receipts(client, admin, kim_token, meta):
    receipt = _add(client, kim_token, consent_request(meta)).json["consentReceiptId"]
    listed = client.get(f"{BASE}?piiPrincipalId=kim", headers=bearer(admin)).json
    assert [r["consentReceiptID"] for r in listed] == [receipt]
    assert client.get(f"{BASE}?piiPrincipalId=nobody", headers=bearer(admin)).json == []
    assert client.get(f"{BASE}/receipts/{receipt}", headers=bearer(admin)).status_code == 200
    assert client.delete(f"{BASE}/receipts/{receipt}", headers=bearer(admin)).status_code == 200
    assert client.get(f"{BASE}/receipts/{receipt}", headers=bearer(kim_token)).json["state"] == "REVOKED"


def test_unknown_receipt_is_404(client, kim_token):
    assert_wso2_error(client.get(f"{BASE}/receipts/does-not-exist", headers=bearer(kim_token)), 404, "CM_00068")
    assert_wso2_error(client.delete(f"{BASE}/receipts/{'x' * 80}", headers=bearer(kim_token)), 404, "CM_00068")


def test_receipt_etag_and_if_match(client, kim_token, meta):
    receipt = _add(client, kim_token, consent_request(meta)).json["consentReceiptId"]
    url = f"{BASE}/receipts/{receipt}"
    tag = client.get(url, headers=bearer(kim_token)).headers["ETag"]
    assert client.get(url, headers=bearer(kim_token, **{"If-None-Match": tag})).status_code == 304
    stale = assert_wso2_error(client.delete(url, headers=bearer(kim_token, **{"If-Match": '"0"'})), 412, "CM_60412")
    assert "If-Match" in stale["description"]
    assert client.get(url, headers=bearer(kim_token)).json["state"] == "ACTIVE"
    assert client.delete(url, headers=bearer(kim_token, **{"If-Match": tag})).status_code == 200
    new_tag = client.get(url, headers=bearer(kim_token)).headers["ETag"]
    assert new_tag != tag
    # The old tag no longer names the receipt.
    assert_wso2_error(client.delete(url, headers=bearer(kim_token, **{"If-Match": tag})), 412, "CM_60412")


def test_an_expired_receipt_reports_expired(app, tenant, client, kim, kim_token, meta, time_machine_fixture):
    expiry = int(time.time() * 1000) + 60_000
    receipt = _add(client, kim_token, consent_request(meta, expiryTime=expiry)).json["consentReceiptId"]
    url = f"{BASE}/receipts/{receipt}"
    doc = client.get(url, headers=bearer(kim_token)).json
    assert doc["state"] == "ACTIVE" and doc["expiryTime"] == expiry
    assert [r["expiryTime"] for r in client.get(BASE, headers=bearer(kim_token)).json] == [expiry]
    time_machine_fixture.shift(120)
    token = make_token(app, tenant, kim)  # the first one is still valid, but mint one in the new "now"
    assert client.get(url, headers=bearer(token)).json["state"] == "EXPIRED"
    assert [r["state"] for r in client.get(f"{BASE}?state=EXPIRED", headers=bearer(token)).json] == ["EXPIRED"]
    assert client.get(f"{BASE}?state=ACTIVE", headers=bearer(token)).json == []
    # An expired receipt can still be revoked; it is then REVOKED for good.
    assert client.delete(url, headers=bearer(token)).status_code == 200
    assert client.get(url, headers=bearer(token)).json["state"] == "REVOKED"


@pytest.fixture
def time_machine_fixture():
    import time_machine

    with time_machine.travel(time.time(), tick=True) as traveller:
        yield traveller


def test_deleting_the_user_deletes_their_receipts(app, tenant, client, kim, kim_token, admin, meta):
    _add(client, kim_token, consent_request(meta))
    with app.extensions["scim_me"].db.connection_context():
        delete_user(tenant.id, kim.id)
    # Nothing refers to the purpose any more.
    assert client.delete(f"{BASE}/purposes/{meta.purpose}", headers=bearer(admin)).status_code == 200


def test_parallel_revokes_revoke_once(app, tenant, client, kim, kim_token, meta):
    """Ten racing revokes of one receipt: every one answers 200, exactly one changes it (one event)."""
    from concurrent.futures import ThreadPoolExecutor

    receipt = _add(client, kim_token, consent_request(meta)).json["consentReceiptId"]
    tag = client.get(f"{BASE}/receipts/{receipt}", headers=bearer(kim_token)).headers["ETag"]

    def revoke(_: int) -> int:
        return app.test_client().delete(f"{BASE}/receipts/{receipt}", headers=bearer(kim_token)).status_code

    with ThreadPoolExecutor(max_workers=10) as pool:
        statuses = list(pool.map(revoke, range(10)))
    assert statuses == [200] * 10
    with app.extensions["scim_me"].db.connection_context():
        revoked = [e for e in list_events(tenant.id, kim.id) if e.kind == "consent.revoked"]
    assert len(revoked) == 1
    # A client that read the receipt before the race and sends If-Match learns it changed.
    assert_wso2_error(
        client.delete(f"{BASE}/receipts/{receipt}", headers=bearer(kim_token, **{"If-Match": tag})), 412, "CM_60412"
    )


def test_an_oversized_consent_request_is_413(client, kim_token, meta):
    body = consent_request(meta, properties=[{"key": "k", "value": "x" * 4000}] * 400)
    assert_wso2_error(_add(client, kim_token, body), 413)


def test_if_match_star_and_lists(client, kim_token, meta):
    receipt = _add(client, kim_token, consent_request(meta)).json["consentReceiptId"]
    url = f"{BASE}/receipts/{receipt}"
    tag = client.get(url, headers=bearer(kim_token)).headers["ETag"]
    assert client.delete(url, headers=bearer(kim_token, **{"If-Match": f'"x", {tag}'})).status_code == 200
    other = _add(client, kim_token, consent_request(meta, service="b")).json["consentReceiptId"]
    assert client.delete(f"{BASE}/receipts/{other}", headers=bearer(kim_token, **{"If-Match": "*"})).status_code == 200


def test_a_receipt_and_its_history_commit_together(app, client, kim_token, meta):
    """GDPR Art. 7(1): a consent must be demonstrable. The receipt that replaces another, the
    replaced one's revocation and both events are one transaction: when the history cannot be
    written, nothing changes."""
    from tests.support.faults import table_unavailable

    first = _add(client, kim_token, consent_request(meta)).json["consentReceiptId"]
    with table_unavailable(app, "security_events"):
        failed = _add(client, kim_token, consent_request(meta))
    assert failed.status_code == 500
    assert set(failed.json) == {"code", "message", "description", "traceId"}
    states = {r["consentReceiptID"]: r["state"] for r in client.get(BASE, headers=bearer(kim_token)).json}
    assert states == {first: "ACTIVE"}

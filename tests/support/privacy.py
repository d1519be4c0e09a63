"""Helpers for the privacy API tests (consents, authorized apps, sessions, export): real sign-ins
through the authorize page (each Flask test client is one browser, so one session), admin
tokens, and consent metadata created through the API."""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs
from urllib.parse import urlencode
from urllib.parse import urlsplit

from scim_me.storage.clients import ClientRecord
from scim_me.storage.clients import create_client
from scim_me.storage.tenants import TenantRecord
from tests.factories import bearer
from tests.factories import make_token

PASSWORD = "correct-horse-9"
REDIRECT = "http://localhost:5173/callback"
CM = "/api/identity/consent-mgt/v1.0"
ADMIN_SCOPE = "internal_consent_mgt_add internal_consent_mgt_delete internal_consent_mgt_view"


def _authorize_params(client: ClientRecord, challenge: str) -> dict[str, str]:
    return {
        "response_type": "code",
        "client_id": client.client_id,
        "redirect_uri": REDIRECT,
        "scope": "openid internal_login",
        "state": "st",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }


def prefix(tenant: TenantRecord | None) -> str:
    return f"/t/{tenant.name}" if tenant is not None else ""


def make_spa(app: Any, tenant: TenantRecord, name: str = "My SPA", *, first_party: bool = True) -> ClientRecord:
    with app.extensions["scim_me"].db.connection_context():
        record, _ = create_client(
            tenant.id,
            name,
            public=True,
            first_party=first_party,
            redirect_uris=[REDIRECT],
            allowed_origins=["http://localhost:5173"],
            grant_types=["authorization_code", "refresh_token"],
            scope="openid internal_login profile email",
        )
    return record


def admin_token(app: Any, tenant: TenantRecord, scope: str = ADMIN_SCOPE) -> str:
    return make_token(app, tenant, None, scope, client_id="consent-admin")


@dataclass
class SignedIn:
    browser: Any  # the Flask test client holding the session cookie
    access_token: str
    refresh_token: str
    client: ClientRecord
    id_token: str | None = None

    @property
    def headers(self) -> dict[str, str]:
        return bearer(self.access_token)


def _csrf(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, html
    return match.group(1)


def sign_in(
    app: Any,
    tenant: TenantRecord,
    client: ClientRecord,
    user_name: str,
    *,
    browser: Any = None,
    user_agent: str = "pytest-browser/1.0",
    password: str = PASSWORD,
) -> SignedIn:
    """The code + PKCE flow through the sign-in page (and the consent page when the client is
    not first-party); a new ``browser`` (test client) makes a new session."""
    browser = browser or app.test_client()
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    params = _authorize_params(client, challenge)
    url = f"{prefix(tenant)}/oauth2/authorize?{urlencode(params)}"
    headers = {"User-Agent": user_agent}
    page = browser.get(url, headers=headers)
    if page.status_code == 200 and 'name="password"' in page.get_data(as_text=True):
        form = {"csrf_token": _csrf(page.get_data(as_text=True)), "action": "login", "username": user_name}
        page = browser.post(url, data={**form, "password": password}, headers=headers)
    if page.status_code == 200 and 'name="decision"' in page.get_data(as_text=True):
        form = {"csrf_token": _csrf(page.get_data(as_text=True)), "action": "consent", "decision": "allow"}
        page = browser.post(url, data=form, headers=headers)
    assert page.status_code == 302, page.get_data(as_text=True)
    code = parse_qs(urlsplit(page.headers["Location"]).query)["code"][0]
    tokens = browser.post(
        f"{prefix(tenant)}/oauth2/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT,
            "client_id": client.client_id,
            "code_verifier": verifier,
        },
    )
    assert tokens.status_code == 200, tokens.get_data(as_text=True)
    body = tokens.json
    return SignedIn(browser, body["access_token"], body["refresh_token"], client, body.get("id_token"))


def consent_page_shown(app: Any, tenant: TenantRecord, client: ClientRecord, signed_in: SignedIn) -> bool:
    """With the browser still signed in, does a new authorize for ``client`` ask for consent?"""
    _verifier, challenge = secrets.token_urlsafe(48), "x" * 43
    params = _authorize_params(client, challenge)
    page = signed_in.browser.get(f"{prefix(tenant)}/oauth2/authorize?{urlencode(params)}")
    if page.status_code == 302:
        return False
    assert page.status_code == 200, page.get_data(as_text=True)
    return 'name="decision"' in page.get_data(as_text=True)


@dataclass(frozen=True)
class Metadata:
    pii_email: int
    pii_phone: int
    category: int
    purpose: int


def seed_metadata(client: Any, tenant: TenantRecord, token: str, suffix: str = "") -> Metadata:
    """A PII category pair, a purpose category and a purpose (email mandatory, phone optional)."""
    base = f"{prefix(tenant)}{CM}/consents"
    email = client.post(
        f"{base}/pii-categories",
        json={"piiCategory": f"email{suffix}", "displayName": "Email", "description": "Email address"},
        headers=bearer(token),
    )
    assert email.status_code == 201, email.json
    phone = client.post(
        f"{base}/pii-categories",
        json={"piiCategory": f"phone{suffix}", "displayName": "Phone", "sensitive": True},
        headers=bearer(token),
    )
    assert phone.status_code == 201, phone.json
    category = client.post(
        f"{base}/purpose-categories", json={"purposeCategory": f"Legal{suffix}"}, headers=bearer(token)
    )
    assert category.status_code == 200, category.json
    purpose = client.post(
        f"{base}/purposes",
        json={
            "purpose": f"Contact{suffix}",
            "description": "Contact the user",
            "group": "SIGNUP",
            "groupType": "SYSTEM",
            "piiCategories": [
                {"piiCategoryId": email.json["piiCategoryId"], "mandatory": True},
                {"piiCategoryId": phone.json["piiCategoryId"], "mandatory": False},
            ],
        },
        headers=bearer(token),
    )
    assert purpose.status_code == 200, purpose.json
    return Metadata(
        email.json["piiCategoryId"],
        phone.json["piiCategoryId"],
        category.json["purposeCategoryId"],
        purpose.json["purposeId"],
    )


def consent_request(meta: Metadata, service: str = "my-app", **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "services": [
            {
                "service": service,
                "serviceDisplayName": "My App",
                "serviceDescription": "The app",
                "purposes": [
                    {
                        "purposeId": meta.purpose,
                        "purposeCategoryId": [meta.category],
                        "consentType": "EXPLICIT",
                        "piiCategory": [
                            {"piiCategoryId": meta.pii_email, "validity": "DATE_UNTIL:INDEFINITE"},
                            {"piiCategoryId": meta.pii_phone, "validity": "days:30"},
                        ],
                        "primaryPurpose": True,
                        "termination": "DATE_UNTIL:INDEFINITE",
                        "thirdPartyDisclosure": False,
                        "thirdPartyName": None,
                    }
                ],
            }
        ],
        "collectionMethod": "Web Form - My Account",
        "jurisdiction": "LK",
        "language": "en-US",
        "policyURL": "https://example.com/privacy",
        "properties": [{"key": "source", "value": "tests"}],
    }
    body.update(overrides)
    return body

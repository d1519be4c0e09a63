"""The sign-in page under lockout: a clear 429 page with Retry-After, the same for an unknown
user, no hash while locked, and no password in any page."""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from urllib.parse import urlencode

from scim_me.storage.clients import create_client
from tests.account.support import PASSWORD
from tests.account.support import events

AUTHORIZE = "/t/acme/oauth2/authorize"
REDIRECT = "http://localhost:5173/cb"


def _authorize_url(app, tenant) -> str:
    with app.extensions["scim_me"].db.connection_context():
        record, _ = create_client(
            tenant.id, "My SPA", public=True, first_party=True, redirect_uris=[REDIRECT],
            allowed_origins=[], grant_types=["authorization_code"], scope="openid internal_login",
        )  # fmt: skip
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    params = {
        "response_type": "code", "client_id": record.client_id, "redirect_uri": REDIRECT, "scope": "openid",
        "state": "s", "code_challenge": challenge, "code_challenge_method": "S256",
    }  # fmt: skip
    return f"{AUTHORIZE}?{urlencode(params)}"


def _post(client, url: str, user: str, password: str):
    page = client.get(url)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True))
    assert csrf, page.get_data(as_text=True)
    form = {"csrf_token": csrf.group(1), "action": "login", "username": user, "password": password}
    return client.post(url, data=form)


def test_signin_page_shows_a_throttled_page(app, client, tenant, kim):
    url = _authorize_url(app, tenant)
    pages = {"kim": [], "ghost": []}
    for user in ("kim", "ghost"):
        for attempt in range(6):
            password = f"wrong-guess-{attempt}"
            response = _post(client, url, user, password)
            body = response.get_data(as_text=True)
            assert password not in body
            pages[user].append((response.status_code, response.headers.get("Retry-After")))
    expected = [(401, None)] * 5 + [(429, "60")]
    assert pages["kim"] == expected
    assert pages["ghost"] == expected  # an unknown user is throttled alike
    locked = _post(client, url, "kim", PASSWORD)
    assert locked.status_code == 429
    text = locked.get_data(as_text=True)
    assert "Too many failed sign-in attempts" in text and "try again in 1 minute" in text
    assert 'name="password"' in text  # the form stays for a later try
    assert PASSWORD not in text
    assert events(app, tenant, kim, "signin.failure") == 5
    assert events(app, tenant, kim, "signin.locked") == 1  # at most one a minute per account

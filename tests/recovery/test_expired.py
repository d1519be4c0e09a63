"""Expired passwords (issue 18): with a tenant maximum age, a correct but expired password leads
to a "choose a new password" page instead of a code, and the sign-in then completes; the password
grant answers RFC 6749 §5.2 ``invalid_grant`` saying why; tokens issued before keep working on
/scim2/Me and the change-password API."""

from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import parse_qs
from urllib.parse import urlsplit

import pytest

from scim_me.storage.models import User
from scim_me.storage.users import now
from tests.factories import basic
from tests.factories import bearer
from tests.factories import make_tenant
from tests.factories import make_token
from tests.factories import make_user
from tests.recovery.support import NEW_PASSWORD
from tests.recovery.support import PASSWORD
from tests.support.privacy import make_spa
from tests.support.privacy import sign_in

REDIRECT = "http://localhost:5173/callback"


@pytest.fixture
def tenant(app):
    return make_tenant(app, "old", password_max_age_days=30)


@pytest.fixture
def lee(app, tenant):
    user = make_user(app, tenant, "lee", PASSWORD)
    with app.extensions["scim_me"].db.connection_context():
        User.update(password_changed_at=now() - timedelta(days=31)).where(User.id == user.id).execute()
    return user


def _csrf(text: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', text).group(1)


def _authorize(spa) -> str:
    from urllib.parse import urlencode

    params = {
        "response_type": "code",
        "client_id": spa.client_id,
        "redirect_uri": REDIRECT,
        "scope": "openid internal_login",
        "state": "st",
        "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
        "code_challenge_method": "S256",
    }
    return f"/t/old/oauth2/authorize?{urlencode(params)}"


def test_password_grant_says_the_password_expired(app, client, tenant, lee):
    from scim_me.storage.clients import create_client

    with app.extensions["scim_me"].db.connection_context():
        spa, _ = create_client(
            tenant.id,
            "cli",
            public=True,
            redirect_uris=[REDIRECT],
            allowed_origins=[],
            grant_types=["password"],
            scope="openid internal_login",
        )
    data = {"grant_type": "password", "username": "lee", "password": PASSWORD, "client_id": spa.client_id}
    refused = client.post("/t/old/oauth2/token", data=data)
    assert refused.status_code == 400
    assert refused.get_json()["error"] == "invalid_grant"
    assert "expired" in refused.get_json()["error_description"]
    wrong = client.post("/t/old/oauth2/token", data={**data, "password": "not-the-one-1"})
    assert "expired" not in wrong.get_json()["error_description"]  # only a proven password learns why


def test_sign_in_continues_to_the_change_page_then_completes(app, tenant, lee):
    spa = make_spa(app, tenant)
    browser = app.test_client()
    url = _authorize(spa)
    text = browser.get(url).get_data(as_text=True)
    change = browser.post(
        url, data={"csrf_token": _csrf(text), "action": "login", "username": "lee", "password": PASSWORD}
    )
    assert change.status_code == 200
    page = change.get_data(as_text=True)
    assert 'name="action" value="expired"' in page and "has expired" in page
    assert change.headers["X-Frame-Options"] == "DENY"
    same = browser.post(
        url, data={"csrf_token": _csrf(page), "action": "expired", "password": PASSWORD, "password2": PASSWORD}
    )
    assert same.status_code == 400
    assert "differ from the expired one" in same.get_data(as_text=True)
    done = browser.post(
        url,
        data={
            "csrf_token": _csrf(same.get_data(as_text=True)),
            "action": "expired",
            "password": NEW_PASSWORD,
            "password2": NEW_PASSWORD,
        },
    )
    assert done.status_code == 302, done.get_data(as_text=True)
    assert "code" in parse_qs(urlsplit(done.headers["Location"]).query)
    # The new password signs in directly next time.
    assert sign_in(app, tenant, spa, "lee", password=NEW_PASSWORD).access_token


def test_change_page_needs_the_password_first(app, tenant, lee):
    spa = make_spa(app, tenant)
    browser = app.test_client()
    url = _authorize(spa)
    text = browser.get(url).get_data(as_text=True)
    forged = browser.post(
        url, data={"csrf_token": _csrf(text), "action": "expired", "password": NEW_PASSWORD, "password2": NEW_PASSWORD}
    )
    assert forged.status_code == 400
    assert 'name="action" value="login"' in forged.get_data(as_text=True)


def test_issued_tokens_keep_working(app, client, tenant, lee):
    token = make_token(app, tenant, lee)
    assert client.get("/t/old/scim2/Me", headers=bearer(token)).status_code == 200
    # Basic proves only the expired password: refused.
    assert client.get("/t/old/scim2/Me", headers=basic("lee", PASSWORD)).status_code == 401
    changed = client.post(
        "/t/old/api/users/v1/me/change-password",
        json={"currentPassword": PASSWORD, "newPassword": NEW_PASSWORD},
        headers=bearer(token),
    )
    assert changed.status_code == 204, changed.get_data(as_text=True)
    assert client.get("/t/old/scim2/Me", headers=basic("lee", NEW_PASSWORD)).status_code == 200

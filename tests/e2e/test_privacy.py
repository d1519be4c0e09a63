"""Issue 5 on the live server (gunicorn, 2 workers): ending a session and revoking an authorized
app are seen by every worker at the next request. Each token is first used on fresh connections
until both workers have verified (and cached) it; afterwards every fresh connection must refuse it."""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from dataclasses import dataclass
from urllib.parse import parse_qs
from urllib.parse import urlencode
from urllib.parse import urlsplit

import pytest
import requests

from tests.e2e.support import HTTP_TIMEOUT_S
from tests.e2e.support import session
from tests.factories import bearer
from tests.support.live_server import DEFAULT_PASSWORD
from tests.support.live_server import LiveServer

pytestmark = pytest.mark.e2e
REDIRECT = "http://localhost:5173/cb"
FRESH_CONNECTIONS = 20


@dataclass
class Browser:
    http: requests.Session
    access_token: str


def _client(live_server: LiveServer, name: str) -> str:
    out = live_server.cli(
        "client", "create", "--tenant", "acme", "--name", name, "--public", "--first-party",
        "--redirect-uri", REDIRECT, "--grant", "authorization_code", "--grant", "refresh_token",
    ).stdout  # fmt: skip
    return out.splitlines()[0].split()[1]


def _sign_in(live_server: LiveServer, client_id: str, user: str, http: requests.Session | None = None) -> Browser:
    """Code + PKCE through the sign-in page; a new ``requests`` session is a new browser (session)."""
    http = http or session()
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    params = {
        "response_type": "code", "client_id": client_id, "redirect_uri": REDIRECT,
        "scope": "openid internal_login", "state": "s", "code_challenge": challenge, "code_challenge_method": "S256",
    }  # fmt: skip
    url = live_server.url("/oauth2/authorize") + "?" + urlencode(params)
    page = http.get(url, allow_redirects=False, timeout=HTTP_TIMEOUT_S)
    if page.status_code == 200:
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert csrf, page.text
        form = {"csrf_token": csrf.group(1), "action": "login", "username": user, "password": DEFAULT_PASSWORD}
        page = http.post(url, data=form, allow_redirects=False, timeout=HTTP_TIMEOUT_S)
    assert page.status_code == 302, page.text
    code = parse_qs(urlsplit(page.headers["Location"]).query)["code"][0]
    form = {
        "grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT, "client_id": client_id,
        "code_verifier": verifier,
    }  # fmt: skip
    tokens = http.post(live_server.url("/oauth2/token"), data=form, timeout=HTTP_TIMEOUT_S)
    assert tokens.status_code == 200, tokens.text
    return Browser(http, tokens.json()["access_token"])


def _statuses(live_server: LiveServer, token: str) -> list[int]:
    """GET /Me on FRESH_CONNECTIONS new connections (they spread over both workers)."""
    statuses = []
    for _ in range(FRESH_CONNECTIONS):
        with session() as http:
            statuses.append(http.get(live_server.me_url(), headers=bearer(token), timeout=HTTP_TIMEOUT_S).status_code)
    return statuses


def test_ending_a_session_is_seen_by_every_worker(live_server: LiveServer) -> None:
    user = live_server.create_user("sessions")
    client_id = _client(live_server, f"Session app {user}")
    laptop = _sign_in(live_server, client_id, user)
    phone = _sign_in(live_server, client_id, user)
    assert _statuses(live_server, phone.access_token) == [200] * FRESH_CONNECTIONS  # cached by both workers
    sessions_url = live_server.url("/api/users/v1/me/sessions")
    with session() as http:
        listed = http.get(sessions_url, headers=bearer(laptop.access_token), timeout=HTTP_TIMEOUT_S).json()
        assert len(listed["sessions"]) == 2
        # The laptop ends "all other sessions": the phone's.
        ended = http.delete(sessions_url, headers=bearer(laptop.access_token), timeout=HTTP_TIMEOUT_S)
        assert ended.status_code == 204
    assert _statuses(live_server, phone.access_token) == [401] * FRESH_CONNECTIONS
    assert _statuses(live_server, laptop.access_token) == [200] * FRESH_CONNECTIONS


def test_ending_one_session_by_id_is_seen_by_every_worker(live_server: LiveServer) -> None:
    user = live_server.create_user("session-one")
    client_id = _client(live_server, f"Session one {user}")
    laptop = _sign_in(live_server, client_id, user)
    phone = _sign_in(live_server, client_id, user)
    assert _statuses(live_server, phone.access_token) == [200] * FRESH_CONNECTIONS
    sessions_url = live_server.url("/api/users/v1/me/sessions")
    with session() as http:
        listed = http.get(sessions_url, headers=bearer(phone.access_token), timeout=HTTP_TIMEOUT_S).json()
        # The phone's session is the one its own token was issued under; find it by elimination.
        ids = {s["id"] for s in listed["sessions"]}
        laptop_view = http.get(sessions_url, headers=bearer(laptop.access_token), timeout=HTTP_TIMEOUT_S).json()
        assert {s["id"] for s in laptop_view["sessions"]} == ids
        http.delete(sessions_url, headers=bearer(phone.access_token), timeout=HTTP_TIMEOUT_S)  # ends the laptop's
        remaining = http.get(sessions_url, headers=bearer(phone.access_token), timeout=HTTP_TIMEOUT_S).json()
        [phone_session] = [s["id"] for s in remaining["sessions"]]
        ended = http.delete(f"{sessions_url}/{phone_session}", headers=bearer(phone.access_token), timeout=30)
        assert ended.status_code == 204
    assert _statuses(live_server, phone.access_token) == [401] * FRESH_CONNECTIONS
    assert _statuses(live_server, laptop.access_token) == [401] * FRESH_CONNECTIONS


def test_revoking_an_app_is_seen_by_every_worker(live_server: LiveServer) -> None:
    user = live_server.create_user("apps")
    revoked_client = _client(live_server, f"Revoked app {user}")
    kept_client = _client(live_server, f"Kept app {user}")
    browser = _sign_in(live_server, revoked_client, user)
    other_browser = _sign_in(live_server, revoked_client, user)  # the same app in a second session
    kept = _sign_in(live_server, kept_client, user, http=browser.http)
    for token in (browser.access_token, other_browser.access_token):
        assert _statuses(live_server, token) == [200] * FRESH_CONNECTIONS
    with session() as http:
        response = http.delete(
            live_server.url(f"/api/users/v2/me/authorized-apps/{revoked_client}"),
            headers=bearer(kept.access_token),
            timeout=HTTP_TIMEOUT_S,
        )
    assert response.status_code == 204
    for token in (browser.access_token, other_browser.access_token):
        assert _statuses(live_server, token) == [401] * FRESH_CONNECTIONS
    assert _statuses(live_server, kept.access_token) == [200] * FRESH_CONNECTIONS

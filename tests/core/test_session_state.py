"""OIDC Session Management 1.0 §3, pure (scim_me.core.session_state): WSO2's session_state
formula and the browser's serialization of an origin, which the check-session page hashes."""

from __future__ import annotations

import re

import pytest

from scim_me.core.session_state import browser_origin
from scim_me.core.session_state import new_browser_state
from scim_me.core.session_state import new_salt
from scim_me.core.session_state import session_state


def test_session_state_is_wso2s_hash_of_client_origin_browser_state_and_salt() -> None:
    # The expected digest was computed outside Python:
    #   printf '%s' "client-1 https://app.example.com opbs-value-123456 c2FsdC1zYWx0LXNhbHQ" | sha256sum
    value = session_state("client-1", "https://app.example.com", "opbs-value-123456", "c2FsdC1zYWx0LXNhbHQ")
    assert value == "3f6dd1af613e55ea8efe83654a5f1ccad60242ddc58e1aa69afff5b57cbc97f9.c2FsdC1zYWx0LXNhbHQ"


@pytest.mark.parametrize(
    "changed",
    [
        ("client-2", "https://app.example.com", "opbs-value-123456"),
        ("client-1", "https://other.example.com", "opbs-value-123456"),
        ("client-1", "https://app.example.com", "opbs-value-654321"),
    ],
    ids=["client", "origin", "browser-state"],
)
def test_any_input_changes_the_hash(changed: tuple[str, str, str]) -> None:
    salt = "c2FsdC1zYWx0LXNhbHQ"
    before = session_state("client-1", "https://app.example.com", "opbs-value-123456", salt)
    assert session_state(*changed, salt) != before


def test_a_fresh_salt_each_time() -> None:
    first = session_state("c", "https://a.example", "s")
    second = session_state("c", "https://a.example", "s")
    assert first != second
    for value in (first, second):
        digest, salt = value.split(".")
        assert re.fullmatch(r"[0-9a-f]{64}", digest)
        assert session_state("c", "https://a.example", "s", salt) == value


def test_salt_and_browser_state_are_random_url_safe_tokens() -> None:
    salts = {new_salt() for _ in range(50)}
    assert len(salts) == 50
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{22}", salt) for salt in salts)  # 16 bytes, unpadded base64url
    states = {new_browser_state() for _ in range(50)}
    assert len(states) == 50
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{32}", state) for state in states)


@pytest.mark.parametrize(
    ("url", "origin"),
    [
        ("https://app.example.com/callback?x=1#f", "https://app.example.com"),
        ("HTTPS://App.Example.COM:443/cb", "https://app.example.com"),
        ("http://localhost:80/", "http://localhost"),
        ("http://localhost:5173/index.html", "http://localhost:5173"),
        ("https://app.example.com:8443", "https://app.example.com:8443"),
        ("http://127.0.0.1:8080/cb", "http://127.0.0.1:8080"),
        ("http://[::1]:3000/cb", "http://[::1]:3000"),
        ("  https://app.example.com/  ", "https://app.example.com"),
    ],
)
def test_browser_origin_serializes_as_browsers_do(url: str, origin: str) -> None:
    assert browser_origin(url) == origin


@pytest.mark.parametrize(
    "url", ["ftp://example.com/", "app.example.com/cb", "/callback", "https://", "http://host:99999/", ""]
)
def test_browser_origin_of_no_web_url_is_none(url: str) -> None:
    assert browser_origin(url) is None

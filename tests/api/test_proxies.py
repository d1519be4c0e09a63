"""HTTPS and reverse proxies: every cookie is ``Secure`` when the request came over https, and
``X-Forwarded-Proto`` / ``X-Forwarded-For`` are honoured only from the addresses listed in
``trusted_proxies`` (security.md T-HTTP-6: a forwarded-for header from anybody else must not
change the IP that per-IP limits count). Both backends."""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from http.cookies import SimpleCookie
from urllib.parse import urlencode

import pytest

from scim_me.config import ConfigError
from scim_me.config import Settings
from tests.factories import make_tenant
from tests.factories import make_user
from tests.support.apps import build_app
from tests.support.privacy import PASSWORD
from tests.support.privacy import REDIRECT
from tests.support.privacy import make_spa

ME = "/t/acme/scim2/Me"
PROXY = "10.0.0.1"


def _authorize_url(spa) -> str:
    challenge = base64.urlsafe_b64encode(hashlib.sha256(secrets.token_bytes(32)).digest()).rstrip(b"=").decode()
    params = {
        "response_type": "code",
        "client_id": spa.client_id,
        "redirect_uri": REDIRECT,
        "scope": "openid internal_login",
        "state": "st",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    return f"/t/acme/oauth2/authorize?{urlencode(params)}"


def _cookies(response) -> dict[str, str]:
    """Each Set-Cookie of the response by name, with its attributes (lower-cased)."""
    found = {}
    for header in response.headers.getlist("Set-Cookie"):
        name = SimpleCookie(header).keys()
        found[next(iter(name))] = header.lower()
    return found


def _sign_in(client, spa, **request):
    url = _authorize_url(spa)
    page = client.get(url, **request)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True)).group(1)
    form = {"csrf_token": csrf, "action": "login", "username": "kim", "password": PASSWORD}
    return page, client.post(url, data=form, **request)


@pytest.fixture
def proxied(database_url, tmp_path):
    app = build_app(database_url, tmp_path, trusted_proxies=f"{PROXY}, 192.168.0.0/24", login_ip_max_failures=3)
    yield app
    app.extensions["scim_me"].db.close_all()


def _seed(app):
    tenant = make_tenant(app, "acme")
    make_user(app, tenant, "kim", PASSWORD)
    return make_spa(app, tenant, "Portal")


def test_every_cookie_is_secure_over_https(app):
    spa = _seed(app)
    page, signed_in = _sign_in(app.test_client(), spa, base_url="https://localhost")
    set_by_page, set_by_sign_in = _cookies(page), _cookies(signed_in)
    assert "scim_me_csrf" in set_by_page
    assert any(name.startswith("scim_me_sid_") for name in set_by_sign_in)
    for header in [*set_by_page.values(), *set_by_sign_in.values()]:
        assert "; secure" in header, header


def test_cookies_over_plain_http_are_not_marked_secure(app):
    spa = _seed(app)
    page, signed_in = _sign_in(app.test_client(), spa)
    for header in [*_cookies(page).values(), *_cookies(signed_in).values()]:
        assert "; secure" not in header, header


def test_x_forwarded_proto_counts_only_from_a_trusted_proxy(proxied):
    spa = _seed(proxied)
    https = {"X-Forwarded-Proto": "https"}
    trusted = proxied.test_client().get(_authorize_url(spa), headers=https, environ_base={"REMOTE_ADDR": PROXY})
    assert "; secure" in _cookies(trusted)["scim_me_csrf"]
    in_range = proxied.test_client().get(
        _authorize_url(spa), headers=https, environ_base={"REMOTE_ADDR": "192.168.0.7"}
    )
    assert "; secure" in _cookies(in_range)["scim_me_csrf"]
    stranger = proxied.test_client().get(_authorize_url(spa), headers=https, environ_base={"REMOTE_ADDR": "192.0.2.50"})
    assert "; secure" not in _cookies(stranger)["scim_me_csrf"]


def test_x_forwarded_proto_is_ignored_without_trusted_proxies(app):
    spa = _seed(app)
    page = app.test_client().get(_authorize_url(spa), headers={"X-Forwarded-Proto": "https"})
    assert "; secure" not in _cookies(page)["scim_me_csrf"]


def _basic(user: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:wrong-password-1".encode()).decode()}


def test_a_forwarded_for_header_from_an_untrusted_peer_does_not_change_the_counted_ip(proxied):
    _seed(proxied)
    client = proxied.test_client()
    for index in range(3):
        spoofed = {**_basic(f"victim-{index}"), "X-Forwarded-For": f"198.51.100.{index + 1}"}
        assert client.get(ME, headers=spoofed, environ_base={"REMOTE_ADDR": "192.0.2.50"}).status_code == 401
    fresh = {**_basic("victim-9"), "X-Forwarded-For": "198.51.100.99"}
    assert client.get(ME, headers=fresh, environ_base={"REMOTE_ADDR": "192.0.2.50"}).status_code == 429


def test_through_a_trusted_proxy_each_client_ip_is_counted_on_its_own(proxied):
    _seed(proxied)
    client = proxied.test_client()
    via_proxy = {"REMOTE_ADDR": PROXY}
    for index in range(3):
        # The client's address is the right-most one not of a trusted proxy.
        chain = {**_basic(f"victim-{index}"), "X-Forwarded-For": "203.0.113.200, 198.51.100.1, 192.168.0.9"}
        assert client.get(ME, headers=chain, environ_base=via_proxy).status_code == 401
    again = {**_basic("victim-9"), "X-Forwarded-For": "198.51.100.1"}
    assert client.get(ME, headers=again, environ_base=via_proxy).status_code == 429
    other = {**_basic("victim-9"), "X-Forwarded-For": "198.51.100.2"}
    assert client.get(ME, headers=other, environ_base=via_proxy).status_code == 401  # not throttled


@pytest.mark.parametrize("value", ["10.0.0.300", "proxy.example", "10.0.0.0/33"])
def test_a_trusted_proxies_entry_that_is_no_address_is_refused(value):
    with pytest.raises(ConfigError):
        Settings.load({"trusted_proxies": value}, environ={})

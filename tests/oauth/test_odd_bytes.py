"""Undecodable client credentials and odd parameter bytes at the OAuth endpoints are RFC 6749
errors, never a 500 (issue 12 fuzz findings), on both backends (a NUL reaching a PostgreSQL
query was one of them).

- HTTP Basic credentials that are not base64, not UTF-8, hold no colon or a control character:
  ``invalid_client`` 401 with ``WWW-Authenticate: Basic`` (RFC 6749 §5.2: "MUST respond with an
  HTTP 401 ... matching the authentication scheme used by the client").
- Parameters outside RFC 6749 Appendix A (``response_type=%22``, NUL, a lone surrogate, bytes
  that are not UTF-8, a broken ``%`` escape): ``invalid_request`` 400 at the token, introspection
  and revocation endpoints; a 400 page naming ``invalid_request`` at the authorization endpoint,
  which does not redirect (§4.1.2.1: the redirect URI may be the odd part).
"""

from __future__ import annotations

import base64
from urllib.parse import urlencode

import pytest

from scim_me.storage.clients import create_client
from tests.factories import make_tenant

FORM = "application/x-www-form-urlencoded"
ENDPOINTS = ("/oauth2/token", "/oauth2/introspect", "/oauth2/revoke")
BODIES = {
    "/oauth2/token": "grant_type=client_credentials",
    "/oauth2/introspect": "token=abc",
    "/oauth2/revoke": "token=abc",
}


def basic(raw: bytes) -> str:
    return "Basic " + base64.b64encode(raw).decode()


@pytest.fixture
def tenant(app):
    return make_tenant(app, "acme")


@pytest.fixture
def confidential(app, tenant):
    with app.extensions["scim_me"].db.connection_context():
        record, secret = create_client(
            tenant.id,
            "backend",
            public=False,
            redirect_uris=["http://localhost:5173/cb"],
            allowed_origins=[],
            grant_types=["client_credentials", "authorization_code"],
        )
    return record, secret


UNDECODABLE = {
    "not UTF-8": basic(b"\xff\xfe:\xff"),
    "a lone surrogate (CESU bytes)": basic(b"app:\xed\xa0\x80"),
    "not base64": "Basic %%%%",
    "base64 with junk": "Basic YTpi!!",
    "no colon": basic(b"nocolon"),
    "NUL in client_id": basic(b"a\x00b:secret"),
    "NUL once percent-decoded": basic(b"a%00b:secret"),
    "percent-escape not UTF-8": basic(b"a%ffb:secret"),
    "empty": "Basic ",
}


@pytest.mark.parametrize("path", ENDPOINTS)
@pytest.mark.parametrize("authorization", list(UNDECODABLE.values()), ids=list(UNDECODABLE))
def test_undecodable_basic_credentials_are_invalid_client_401(client, tenant, path, authorization):
    response = client.post(
        f"/t/acme{path}", data=BODIES[path], content_type=FORM, headers={"Authorization": authorization}
    )
    assert response.status_code == 401
    assert response.json["error"] == "invalid_client"
    assert response.headers["WWW-Authenticate"].startswith('Basic error="invalid_client"')
    assert response.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize("path", ENDPOINTS)
def test_well_formed_basic_credentials_still_authenticate(client, confidential, path):
    record, secret = confidential
    response = client.post(
        f"/t/acme{path}",
        data=BODIES[path],
        content_type=FORM,
        headers={"Authorization": basic(f"{record.client_id}:{secret}".encode())},
    )
    assert response.status_code == 200, response.json


ODD_PARAMETERS = {
    "a quote in grant_type": "grant_type=%22",
    "NUL in a value": "grant_type=client_credentials&scope=%00",
    "NUL in token": "token=%00x",
    "a lone surrogate": "grant_type=%ED%A0%80",
    "not UTF-8": "token=%ff",
    "raw bytes not UTF-8": b"token=\xff",
    "a broken escape": "token=%zz",
    "a truncated escape": "token=ab%2",
    "a newline in a client_id": "client_id=a%0Ab&token=x",
    "a control character in a name": "to%01ken=x",
}


@pytest.mark.parametrize("path", ENDPOINTS)
@pytest.mark.parametrize("body", list(ODD_PARAMETERS.values()), ids=list(ODD_PARAMETERS))
def test_odd_parameter_bytes_are_invalid_request(client, confidential, path, body):
    record, secret = confidential
    data = body if isinstance(body, bytes) else body.encode()
    response = client.post(
        f"/t/acme{path}",
        data=data,
        content_type=FORM,
        headers={"Authorization": basic(f"{record.client_id}:{secret}".encode())},
    )
    assert response.status_code == 400
    assert response.json["error"] == "invalid_request"
    assert response.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize("path", ENDPOINTS)
def test_odd_bytes_in_the_query_string_count_too(client, confidential, path):
    record, secret = confidential
    response = client.post(
        f"/t/acme{path}?x=%00",
        data=BODIES[path],
        content_type=FORM,
        headers={"Authorization": basic(f"{record.client_id}:{secret}".encode())},
    )
    assert response.status_code == 400
    assert response.json["error"] == "invalid_request"


ODD_AUTHORIZE = {
    "a quote in response_type": "response_type=%22",
    "a quote after a valid client": "response_type=%22&client_id={client_id}&redirect_uri=http://localhost:5173/cb",
    "NUL in client_id": "response_type=code&client_id=%00",
    "a lone surrogate in client_id": "response_type=code&client_id=%ED%A0%80",
    "a broken escape": "response_type=code&client_id=%zz",
    "not UTF-8 in state": "response_type=code&client_id={client_id}&state=%ff",
    "NUL in redirect_uri": "response_type=code&client_id={client_id}&redirect_uri=http://localhost:5173/cb%00",
}


@pytest.mark.parametrize("query", list(ODD_AUTHORIZE.values()), ids=list(ODD_AUTHORIZE))
def test_odd_bytes_at_authorize_are_an_invalid_request_page(client, confidential, query):
    record, _ = confidential
    response = client.get(f"/t/acme/oauth2/authorize?{query.format(client_id=record.client_id)}")
    assert response.status_code == 400
    assert "Location" not in response.headers
    assert "invalid_request" in response.get_data(as_text=True)


def test_odd_bytes_in_the_sign_in_form_are_refused_too(client, confidential):
    record, _ = confidential
    query = urlencode({"response_type": "code", "client_id": record.client_id})
    response = client.post(f"/t/acme/oauth2/authorize?{query}", data=b"username=kim&password=a%00b", content_type=FORM)
    assert response.status_code == 400
    assert "invalid_request" in response.get_data(as_text=True)


def test_a_well_formed_authorize_request_still_shows_the_sign_in_page(client, confidential):
    record, _ = confidential
    query = urlencode(
        {
            "response_type": "code",
            "client_id": record.client_id,
            "redirect_uri": "http://localhost:5173/cb",
            "scope": "openid",
            "state": "s p a c e ~!",
            "nonce": "nöncé",
            "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
            "code_challenge_method": "S256",
        }
    )
    response = client.get(f"/t/acme/oauth2/authorize?{query}")
    assert response.status_code == 200, response.get_data(as_text=True)

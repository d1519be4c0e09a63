"""``GET /api/users/v1/me/applications[/{id}]`` on both backends: WSO2's app launcher
(identity-api-user ``ApplicationService``): the tenant's discoverable clients with their access
URLs, WSO2's paging links, ``name`` filters and error codes."""

from __future__ import annotations

import pytest

from scim_me.storage.clients import ClientError
from scim_me.storage.clients import create_client
from scim_me.storage.clients import update_client
from tests.factories import assert_wso2_error
from tests.factories import basic
from tests.factories import bearer
from tests.factories import make_tenant
from tests.factories import make_token
from tests.factories import make_user

PATH = "/t/acme/api/users/v1/me/applications"
PASSWORD = "correct-horse-battery-9"


@pytest.fixture
def acme(app):
    return make_tenant(app, "acme")


@pytest.fixture
def kim(app, acme):
    return make_user(app, acme, "kim", PASSWORD)


@pytest.fixture
def headers(app, acme, kim):
    return bearer(make_token(app, acme, kim))


def _client(app, tenant, name, *, access_url=None, discoverable=None):
    with app.extensions["scim_me"].db.connection_context():
        created, _ = create_client(
            tenant.id,
            name,
            public=True,
            redirect_uris=["https://app.example/cb"],
            allowed_origins=[],
            grant_types=["authorization_code"],
            discoverable=bool(access_url) if discoverable is None else discoverable,
            access_url=access_url,
        )
    return created


def test_lists_the_discoverable_clients_in_wso2_shape(app, client, acme, headers):
    wiki = _client(app, acme, "Wiki", access_url="https://wiki.example/")
    mail = _client(app, acme, "Mail", access_url="https://mail.example/inbox")
    _client(app, acme, "Hidden backend")
    other = make_tenant(app, "globex")
    _client(app, other, "Globex portal", access_url="https://portal.globex.example/")

    response = client.get(PATH, headers=headers)
    assert response.status_code == 200 and response.mimetype == "application/json"
    assert response.json == {
        "totalResults": 2,
        "startIndex": 1,
        "count": 2,
        "applications": [
            {"id": mail.client_id, "name": "Mail", "accessUrl": "https://mail.example/inbox"},
            {"id": wiki.client_id, "name": "Wiki", "accessUrl": "https://wiki.example/"},
        ],
        "links": [],
    }
    one = client.get(f"{PATH}/{wiki.client_id}", headers=headers)
    assert one.status_code == 200
    assert one.json == {"id": wiki.client_id, "name": "Wiki", "accessUrl": "https://wiki.example/"}


def test_paging_links_as_wso2_builds_them(app, client, acme, headers):
    for name in ("A", "B", "C", "D", "E"):
        _client(app, acme, f"App {name}", access_url=f"https://{name.lower()}.example/")
    first = client.get(f"{PATH}?limit=2", headers=headers).json
    assert [a["name"] for a in first["applications"]] == ["App A", "App B"]
    assert (first["totalResults"], first["startIndex"], first["count"]) == (5, 1, 2)
    assert first["links"] == [{"href": f"http://localhost{PATH}?offset=2&limit=2", "rel": "next"}]
    middle = client.get(f"{PATH}?limit=2&offset=3", headers=headers).json
    assert [a["name"] for a in middle["applications"]] == ["App D", "App E"]
    assert middle["startIndex"] == 4
    assert middle["links"] == [{"href": f"http://localhost{PATH}?offset=1&limit=2", "rel": "previous"}]
    short = client.get(f"{PATH}?limit=2&offset=1", headers=headers).json
    assert short["links"] == [
        {"href": f"http://localhost{PATH}?offset=3&limit=2", "rel": "next"},
        {"href": f"http://localhost{PATH}?offset=0&limit=1", "rel": "previous"},
    ]
    past = client.get(f"{PATH}?offset=9", headers=headers).json
    assert (past["count"], past["applications"], past["totalResults"]) == (0, [], 5)


@pytest.mark.parametrize(
    ("expression", "names"),
    [
        ("name eq Wiki", ["Wiki"]),
        ('name eq "team wiki"', ["Team Wiki"]),
        ("name sw te", ["Team Wiki"]),
        ("name ew WIKI", ["Team Wiki", "Wiki"]),
        ("name co ai", ["Mail"]),
        ("name eq Nothing", []),
    ],
)
def test_name_filters(app, client, acme, headers, expression, names):
    for name in ("Wiki", "Team Wiki", "Mail"):
        _client(app, acme, name, access_url="https://apps.example/")
    body = client.get(PATH, query_string={"filter": expression}, headers=headers).json
    assert [a["name"] for a in body["applications"]] == names
    assert body["totalResults"] == len(names)


@pytest.mark.parametrize(
    ("query", "status", "code"),
    [
        ({"filter": "clientId eq x"}, 400, "APP-10002"),
        ({"filter": "name gt x"}, 400, "APP-10002"),
        ({"filter": "name"}, 400, "APP-10003"),
        ({"attributes": "name"}, 501, "APP-15004"),
        ({"sortBy": "name"}, 501, "APP-15007"),
        ({"sortOrder": "ASC"}, 501, "APP-15007"),
        ({"limit": "-1"}, 400, "APP-60400"),
        ({"offset": "x"}, 400, "APP-60400"),
    ],
)
def test_unsupported_queries_are_wso2_errors(client, headers, query, status, code):
    assert_wso2_error(client.get(PATH, query_string=query, headers=headers), status, code)


def test_an_app_that_is_not_discoverable_is_not_found(app, client, acme, headers):
    hidden = _client(app, acme, "Hidden")
    body = assert_wso2_error(client.get(f"{PATH}/{hidden.client_id}", headers=headers), 404, "APP-10001")
    assert body["message"] == "Resource not found."
    assert body["description"] == f"Unable to find any application with the provided identifier {hidden.client_id}."
    assert_wso2_error(client.get(f"{PATH}/nope", headers=headers), 404, "APP-10001")


def test_an_update_lists_and_unlists_a_client(app, client, acme, headers):
    wiki = _client(app, acme, "Wiki")
    assert client.get(PATH, headers=headers).json["applications"] == []
    with app.extensions["scim_me"].db.connection_context():
        update_client(acme.id, wiki.client_id, discoverable=True, access_url="https://wiki.example/")
    assert [a["name"] for a in client.get(PATH, headers=headers).json["applications"]] == ["Wiki"]
    with app.extensions["scim_me"].db.connection_context():
        update_client(acme.id, wiki.client_id, discoverable=False)
    assert client.get(PATH, headers=headers).json["totalResults"] == 0


@pytest.mark.parametrize(
    ("access_url", "message"),
    [
        (None, "needs an --access-url"),
        ("http://wiki.example/", "https"),
        ("ftp://wiki.example/", "absolute http(s)"),
        ("https://user:pw@wiki.example/", "absolute http(s)"),
        ("https://wiki.example/" + "a" * 2048, "absolute http(s)"),
    ],
)
def test_a_discoverable_client_needs_a_safe_access_url(app, acme, access_url, message):
    with pytest.raises(ClientError, match=message.replace("(", r"\(").replace(")", r"\)")):
        _client(app, acme, "Wiki", access_url=access_url, discoverable=True)


def test_the_launcher_is_for_users_with_internal_login(app, client, acme, kim):
    _client(app, acme, "Wiki", access_url="https://wiki.example/")
    assert_wso2_error(client.get(PATH), 401)
    machine = bearer(make_token(app, acme, None, scope="internal_login"))
    assert_wso2_error(client.get(PATH, headers=machine), 403, "APP-60403")
    no_login = bearer(make_token(app, acme, kim, scope="openid"))
    assert_wso2_error(client.get(PATH, headers=no_login), 403, "APP-60403")
    assert client.get(PATH, headers=basic("kim", PASSWORD)).json["totalResults"] == 1


def test_the_bare_path_lists_the_default_tenant(app, client, acme):
    default = make_tenant(app, "carbon.super")
    lee = make_user(app, default, "lee", PASSWORD)
    _client(app, acme, "Acme wiki", access_url="https://wiki.acme.example/")
    portal = _client(app, default, "Portal", access_url="https://portal.example/")
    body = client.get("/api/users/v1/me/applications", headers=bearer(make_token(app, default, lee))).json
    assert body["applications"] == [{"id": portal.client_id, "name": "Portal", "accessUrl": "https://portal.example/"}]

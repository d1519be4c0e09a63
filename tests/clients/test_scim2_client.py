"""Acceptance (issue 3, real client 3): the PyPI ``scim2-client`` library (httpx2 engine, the
library's own validation on) reads, PATCHes and PUTs ``/scim2/Me`` on the live server (gunicorn,
2 workers, file SQLite) with an access token from the password grant, and its ETag handling
(``If-Match`` from the version it read) gets a 412 for a stale write.

Limitation, pinned by ``test_wso2_dialect_shapes_are_refused_by_scim2_client``: scim2-client
0.13 validates strictly against RFC 7643/7644 and cannot read two shapes of the ``wso2`` dialect,
so it is tested against a tenant created with ``--dialect rfc``:

1. ``GET /scim2/Schemas`` answers a bare JSON array in the ``wso2`` dialect, as WSO2 does, not a
   ``ListResponse``: ``discover()`` raises ``UnexpectedContentFormatException`` ("The response
   payload is not a JSON object").
2. Untyped ``emails`` are plain strings (``["kim@example.com"]``) in the ``wso2`` dialect, as WSO2
   renders them: reading ``/Me`` (or the result of a PATCH) raises
   ``ResponsePayloadValidationException``, caused by ``emails.0: Input should be a valid
   dictionary or instance of Email``, even when discovery is skipped
   (``discover(schemas=False)`` with a provider of ``User`` + ``EnterpriseUser``).

Clients written for RFC 7644 should therefore use an ``rfc``-dialect tenant; WSO2-written clients
use the ``wso2`` dialect. The README's "Tenants and dialects" section says the same.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import requests
from httpx2 import Client
from scim2_client import Me
from scim2_client.engines.httpx2 import SyncSCIMClient
from scim2_client.errors import ResponsePayloadValidationException
from scim2_client.errors import UnexpectedContentFormatException
from scim2_models import EnterpriseUser
from scim2_models import PatchOp
from scim2_models import PatchOperation
from scim2_models import SCIMException
from scim2_models import ScimProvider
from scim2_models import User

from tests.support.live_server import DEFAULT_PASSWORD
from tests.support.live_server import LiveServer

pytestmark = [pytest.mark.e2e, pytest.mark.clients]

HTTP_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class Account:
    tenant: str
    username: str
    token: str


def _account(live: LiveServer, dialect: str) -> Account:
    """A fresh tenant of ``dialect`` with one user and a public password-grant client; the token
    comes from the password grant, as an admin's script would get it."""
    tenant = f"scim2c-{dialect}-{secrets.token_hex(3)}"
    live.cli("tenant", "create", tenant, "--dialect", dialect)
    live.cli(
        "user",
        "create",
        "--tenant",
        tenant,
        "--username",
        "ann",
        "--password",
        DEFAULT_PASSWORD,
        "--given-name",
        "Ann",
        "--email",
        "ann@example.com",
    )
    out = live.cli("client", "create", "--tenant", tenant, "--name", "scim2-client", "--public", "--grant", "password")
    client_id = out.stdout.split("client_id: ", 1)[1].split()[0]
    response = requests.post(
        live.url("/oauth2/token", tenant),
        data={
            "grant_type": "password",
            "username": "ann",
            "password": DEFAULT_PASSWORD,
            "client_id": client_id,
            "scope": "openid internal_login",
        },
        timeout=HTTP_TIMEOUT_S,
    )
    assert response.status_code == 200, response.text
    return Account(tenant, "ann", response.json()["access_token"])


def _http(live: LiveServer, account: Account) -> Client:
    return Client(
        base_url=live.url("/scim2", account.tenant),
        headers={"Authorization": f"Bearer {account.token}"},
        timeout=HTTP_TIMEOUT_S,
    )


@pytest.fixture
def rfc_scim(live_server: LiveServer) -> Iterator[SyncSCIMClient]:
    with _http(live_server, _account(live_server, "rfc")) as http:
        scim = SyncSCIMClient(http)
        scim.discover()  # Schemas, ResourceTypes, ServiceProviderConfig, validated by the library
        yield scim


def test_scim2_client_reads_and_patches_me(rfc_scim: SyncSCIMClient) -> None:
    user_model = rfc_scim.get_resource_model("User")
    assert user_model is not None
    assert rfc_scim.provider.config is not None and rfc_scim.provider.config.etag.supported

    me = rfc_scim.query(Me)
    assert isinstance(me, user_model)
    assert me.user_name == "ann"
    assert me.name.given_name == "Ann"
    assert [email.value for email in me.emails] == ["ann@example.com"]
    assert me.meta.version == 'W/"1"'

    nick = f"scim2-client-{secrets.token_hex(3)}"
    patch = PatchOp[user_model](
        operations=[
            PatchOperation(op="add", path="nickName", value=nick),
            PatchOperation(op="replace", path="title", value="Engineer"),
        ]
    )
    patched = rfc_scim.modify(Me, patch_op=patch)
    assert isinstance(patched, user_model)
    assert (patched.nick_name, patched.title) == (nick, "Engineer")

    again = rfc_scim.query(Me)
    assert (again.nick_name, again.title) == (nick, "Engineer")
    assert again.meta.version == patched.meta.version != me.meta.version

    removed = rfc_scim.modify(Me, patch_op=PatchOp[user_model](operations=[PatchOperation(op="remove", path="title")]))
    assert removed.title is None and removed.nick_name == nick


def test_scim2_client_replaces_me_and_honours_etags(rfc_scim: SyncSCIMClient) -> None:
    me = rfc_scim.query(Me)
    me.display_name = "Ann (PUT by scim2-client)"
    replaced = rfc_scim.replace(Me, me)  # sends If-Match with the version it read
    assert replaced.display_name == "Ann (PUT by scim2-client)"
    assert replaced.id == me.id and replaced.user_name == "ann"

    me.display_name = "a lost update"  # `me` still carries the version before the PUT
    with pytest.raises(SCIMException) as refused:
        rfc_scim.replace(Me, me)
    assert refused.value.status == 412
    assert rfc_scim.query(Me).display_name == "Ann (PUT by scim2-client)"


def test_wso2_dialect_shapes_are_refused_by_scim2_client(live_server: LiveServer) -> None:
    """The limitation the module docstring and README state, checked so they stay true."""
    account = _account(live_server, "wso2")
    with _http(live_server, account) as http:
        with pytest.raises(UnexpectedContentFormatException):
            SyncSCIMClient(http).discover()

        scim = SyncSCIMClient(http, provider=ScimProvider(models=[User, EnterpriseUser]))
        scim.discover(schemas=False)
        with pytest.raises(ResponsePayloadValidationException) as refused:
            scim.query(Me)
        assert "emails.0" in str(refused.value.__cause__)

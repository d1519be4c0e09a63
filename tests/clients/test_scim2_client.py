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
from scim2_models import SearchRequest
from scim2_models import User

from scim_me.core.accounts import ADMIN_SCOPES
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


@pytest.fixture
def admin_scim(live_server: LiveServer) -> Iterator[SyncSCIMClient]:
    """An ``rfc`` tenant and a client_credentials client with the admin scopes, its token from
    the token endpoint, as a provisioning script gets it; discovery on."""
    tenant = f"scim2c-admin-{secrets.token_hex(3)}"
    live_server.cli("tenant", "create", tenant, "--dialect", "rfc")
    scopes = " ".join(sorted(ADMIN_SCOPES))
    out = live_server.cli(
        "client", "create", "--tenant", tenant, "--name", "provisioner",
        "--grant", "client_credentials", "--scope", scopes,
    )  # fmt: skip
    client_id = out.stdout.split("client_id: ", 1)[1].split()[0]
    secret = out.stdout.split("client_secret: ", 1)[1].split()[0]
    response = requests.post(
        live_server.url("/oauth2/token", tenant),
        data={"grant_type": "client_credentials", "scope": scopes},
        auth=(client_id, secret),
        timeout=HTTP_TIMEOUT_S,
    )
    assert response.status_code == 200, response.text
    token = response.json()["access_token"]
    with Client(
        base_url=live_server.url("/scim2", tenant),
        headers={"Authorization": f"Bearer {token}"},
        timeout=HTTP_TIMEOUT_S,
    ) as http:
        scim = SyncSCIMClient(http)
        scim.discover()
        yield scim


def test_scim2_client_administers_users(admin_scim: SyncSCIMClient) -> None:
    """Create, list with a filter, patch, replace and delete a User (RFC 7644 §3.3-3.6)."""
    user_model = admin_scim.get_resource_model("User")
    babs = user_model(user_name="bjensen", display_name="Babs", emails=[{"value": "b@example.com"}])
    created = admin_scim.create(babs)
    assert created.id and created.user_name == "bjensen" and created.meta.version == 'W/"1"'
    admin_scim.create(user_model(user_name="jsmith"))

    found = admin_scim.query(user_model, query_parameters=SearchRequest(filter='userName eq "BJENSEN"'))
    assert found.total_results == 1 and found.resources[0].id == created.id

    title = PatchOp[user_model](operations=[PatchOperation(op="replace", path="title", value="Dr")])
    patched = admin_scim.modify(user_model, created.id, title)
    assert patched.title == "Dr"

    patched.display_name = "Barbara"
    replaced = admin_scim.replace(patched)
    assert (replaced.display_name, replaced.title) == ("Barbara", "Dr")

    admin_scim.delete(user_model, created.id)
    with pytest.raises(SCIMException) as gone:
        admin_scim.query(user_model, created.id)
    assert gone.value.status == 404


def test_scim2_client_administers_groups(admin_scim: SyncSCIMClient) -> None:
    user_model = admin_scim.get_resource_model("User")
    group_model = admin_scim.get_resource_model("Group")
    assert group_model is not None
    ann = admin_scim.create(user_model(user_name="ann"))
    bob = admin_scim.create(user_model(user_name="bob"))
    group = admin_scim.create(group_model(display_name="Tour Guides", members=[{"value": ann.id}]))
    assert [m.value for m in group.members] == [ann.id]

    listed = admin_scim.query(group_model, query_parameters=SearchRequest(filter=f'members.value eq "{ann.id}"'))
    assert [g.id for g in listed.resources] == [group.id]

    add = PatchOp[group_model](operations=[PatchOperation(op="add", path="members", value=[{"value": bob.id}])])
    patched = admin_scim.modify(group_model, group.id, add)
    assert sorted(m.value for m in patched.members) == sorted([ann.id, bob.id])
    assert [g.value for g in admin_scim.query(user_model, bob.id).groups] == [group.id]

    patched.display_name = "Guides"
    patched.members = [m for m in patched.members if m.value == bob.id]
    replaced = admin_scim.replace(patched)
    assert replaced.display_name == "Guides" and [m.value for m in replaced.members] == [bob.id]

    admin_scim.delete(group_model, group.id)
    assert not admin_scim.query(user_model, bob.id).groups

"""auth/keys.py: per-tenant signing keys, stored with the private half sealed under the master key."""

from __future__ import annotations

import json
from datetime import datetime
from datetime import timedelta

import pytest
from joserfc.jwk import RSAKey

from scim_me.auth.keys import create_signing_key
from scim_me.auth.keys import jwks
from scim_me.auth.keys import public_key_set
from scim_me.auth.keys import public_keys
from scim_me.auth.keys import signing_key
from scim_me.crypto import SealError
from scim_me.crypto import seal
from scim_me.crypto import unseal
from scim_me.storage.models import SigningKey
from tests.factories import make_tenant

PRIVATE_MEMBERS = {"d", "p", "q", "dp", "dq", "qi"}


@pytest.fixture
def env(app):
    """(tenant, master key), inside one database connection."""
    tenant = make_tenant(app, "acme")
    with app.extensions["scim_me"].db.connection_context():
        yield tenant, app.extensions["scim_me"].settings.master_key()


def _only_kid(tenant_id: int) -> str:
    (row,) = SigningKey.select().where(SigningKey.tenant == tenant_id)
    return row.kid


def test_private_key_is_stored_sealed(env):
    tenant, master = env
    row = SigningKey.get_by_id(_only_kid(tenant.id))
    pem = unseal(master, row.private_key, f"signing-key:{row.kid}")
    assert pem.startswith(b"-----BEGIN PRIVATE KEY-----")
    stored = " ".join(str(value) for value in row.__data__.values())
    assert "PRIVATE KEY" not in stored
    for line in pem.decode().splitlines()[1:-1]:
        assert line not in stored
    assert row.private_key.startswith("v1.")


def test_sealed_key_is_bound_to_its_kid_and_the_master_key(env):
    tenant, master = env
    row = SigningKey.get_by_id(_only_kid(tenant.id))
    with pytest.raises(SealError):
        unseal(master, row.private_key, "signing-key:another-kid")
    with pytest.raises(SealError):
        unseal(bytes(32), row.private_key, f"signing-key:{row.kid}")


def test_unsealed_key_is_the_signing_key(env):
    tenant, master = env
    kid, alg, key = signing_key(tenant.id, master)
    row = SigningKey.get_by_id(kid)
    assert (alg, row.alg) == ("RS256", "RS256")
    assert key.as_pem(private=True) == unseal(master, row.private_key, f"signing-key:{kid}")


def test_public_jwk_has_no_private_members(env):
    tenant, _master = env
    kid = _only_kid(tenant.id)
    stored = json.loads(SigningKey.get_by_id(kid).public_jwk)
    assert not PRIVATE_MEMBERS & stored.keys()
    assert (stored["kid"], stored["alg"], stored["use"], stored["kty"]) == (kid, "RS256", "sig", "RSA")
    assert jwks(tenant.id) == {"keys": [stored]}


def test_es256_key(env):
    tenant, master = env
    kid = create_signing_key(tenant.id, master, "ES256")
    stored = public_keys(tenant.id)[kid]
    assert (stored["kty"], stored["crv"], stored["alg"]) == ("EC", "P-256", "ES256")
    assert "d" not in stored
    assert signing_key(tenant.id, master)[:2] == (kid, "ES256")


@pytest.mark.parametrize("alg", ["HS256", "none", "RS512", "rs256"])
def test_only_allowlisted_algorithms_can_be_created(env, alg):
    tenant, master = env
    with pytest.raises(ValueError, match="alg must be one of RS256, ES256"):
        create_signing_key(tenant.id, master, alg)


def test_newest_active_key_signs_and_retired_keys_still_verify(env):
    tenant, master = env
    old = _only_kid(tenant.id)
    new = create_signing_key(tenant.id, master)
    SigningKey.update(created_at=datetime(2000, 1, 1)).where(SigningKey.kid == old).execute()
    assert signing_key(tenant.id, master)[0] == new
    SigningKey.update(active=False).where(SigningKey.kid == new).execute()
    assert signing_key(tenant.id, master)[0] == old
    assert public_key_set(tenant.id, new) is not None


def test_tenant_without_an_active_key_cannot_sign(env):
    tenant, master = env
    SigningKey.update(active=False).where(SigningKey.tenant == tenant.id).execute()
    with pytest.raises(LookupError):
        signing_key(tenant.id, master)


def test_unknown_kid_has_no_key_set(env):
    tenant, _master = env
    assert public_key_set(tenant.id, "no-such-kid") is None


def test_key_of_another_tenant_is_not_found(app, env):
    tenant, _master = env
    other = make_tenant(app, "beta")
    with app.extensions["scim_me"].db.connection_context():
        other_kid = _only_kid(other.id)
    assert public_key_set(tenant.id, other_kid) is None
    assert public_key_set(other.id, other_kid) is not None


def test_key_added_by_another_worker_is_found_after_one_reload(env):
    tenant, master = env
    assert len(public_keys(tenant.id)) == 1  # now cached
    key = RSAKey.generate_key(2048, parameters={"kid": "from-elsewhere", "alg": "RS256", "use": "sig"}, private=True)
    SigningKey.create(
        kid="from-elsewhere",
        tenant=tenant.id,
        alg="RS256",
        public_jwk=json.dumps(key.as_dict(private=False)),
        private_key=seal(master, key.as_pem(private=True), "signing-key:from-elsewhere"),
        active=True,
        created_at=datetime.now() + timedelta(days=1),
    )
    found = public_key_set(tenant.id, "from-elsewhere")
    assert found is not None
    assert "from-elsewhere" in public_keys(tenant.id)
    assert signing_key(tenant.id, master)[0] == "from-elsewhere"

"""How passwords are stored (security.md T-PW-5): argon2id with the production profile's
parameters and a fresh salt each time; a sign-in with a hash of older parameters hashes the
proven password again with today's, without touching the password's age or the user's version."""

from __future__ import annotations

from typing import Any

from scim_me.config import Settings
from scim_me.core.passwords import hash_password
from scim_me.core.passwords import needs_rehash
from scim_me.core.passwords import verify_password
from scim_me.storage.users import get_user
from tests.factories import make_tenant
from tests.factories import make_user
from tests.factories import password_client
from tests.support.apps import build_app

PASSWORD = "correct-horse-9"


def test_the_production_profile_stores_argon2id_with_its_parameters_and_a_fresh_salt():
    params = Settings.load(environ={"SCIM_ME_CONFIG": ""}).hash_params()  # the shipped defaults
    first, second = hash_password(PASSWORD, params), hash_password(PASSWORD, params)
    # RFC 9106's second recommended profile: 64 MiB, 3 passes, 4 lanes.
    assert first.startswith("$argon2id$v=19$m=65536,t=3,p=4$"), first
    assert first.split("$")[4] != second.split("$")[4]  # the salts
    assert verify_password(PASSWORD, first, params) and not verify_password(PASSWORD + "x", first, params)
    assert not needs_rehash(first, params)


def _stored(app: Any, tenant: Any, user_id: str) -> Any:
    with app.extensions["scim_me"].db.connection_context():
        return get_user(tenant.id, user_id)


def test_a_sign_in_hashes_a_password_of_older_parameters_again(database_url, tmp_path):
    before = build_app(database_url, tmp_path)  # the tests' cheap profile: m=1024, t=1, p=1
    tenant = make_tenant(before, "acme")
    kim = make_user(before, tenant, "kim", PASSWORD)
    auth = password_client(before, tenant).auth
    old = _stored(before, tenant, kim.id)
    assert "$m=1024,t=1,p=1$" in old.password_hash
    # The operator raises the cost; the same database is served with it.
    after = build_app(database_url, tmp_path, argon2_time_cost=2)
    client = after.test_client()

    def grant(password: str) -> int:
        data = {"grant_type": "password", "username": "kim", "password": password, "scope": "internal_login"}
        return int(client.post("/t/acme/oauth2/token", data=data, headers=auth).status_code)

    assert grant("wrong-guess-1") in (400, 401)
    assert _stored(after, tenant, kim.id).password_hash == old.password_hash  # only a proven password
    assert grant(PASSWORD) == 200
    new = _stored(after, tenant, kim.id)
    assert "$m=1024,t=2,p=1$" in new.password_hash
    assert (new.version, new.password_changed_at) == (old.version, old.password_changed_at)
    assert grant(PASSWORD) == 200
    assert _stored(after, tenant, kim.id).password_hash == new.password_hash  # once

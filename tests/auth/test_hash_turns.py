"""Password hashing takes turns (security.md T-PERF-2): at most ``password_hash_concurrency``
argon2id hashes run at once in a process, each holding ``argon2_memory_kib``; a check that finds
every turn taken waits ``password_hash_wait_ms``, then answers 503 with ``Retry-After``, counted
as no attempt."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from scim_me.core.passwords import HashingBusyError
from scim_me.core.passwords import HashParams
from scim_me.core.passwords import hash_password
from scim_me.core.passwords import hash_slot
from scim_me.core.passwords import verify_password
from scim_me.storage.events import list_events
from tests.factories import make_tenant
from tests.factories import make_user
from tests.factories import password_client
from tests.support.apps import build_app

PASSWORD = "correct-horse-9"
# One turn, so one thread can take them all; cheap hashes.
ONE_TURN = HashParams(memory_kib=8, time_cost=1, parallelism=1, concurrency=1, wait_seconds=0)


@contextmanager
def turns_taken(params: HashParams) -> Iterator[threading.Event]:
    """Another thread holds every turn until the block ends (or sets the returned event)."""
    held, release = threading.Event(), threading.Event()

    def hold() -> None:
        with hash_slot(params):
            held.set()
            release.wait(30)

    thread = threading.Thread(target=hold)
    thread.start()
    assert held.wait(30)
    try:
        yield release
    finally:
        release.set()
        thread.join(30)


def test_past_the_wait_a_hash_and_a_check_are_refused_then_run_once_a_turn_is_free():
    stored = hash_password(PASSWORD, ONE_TURN)
    with turns_taken(ONE_TURN):
        with pytest.raises(HashingBusyError) as refused:
            hash_password(PASSWORD, ONE_TURN)
        assert refused.value.status == 503 and refused.value.headers == {"Retry-After": "1"}
        with pytest.raises(HashingBusyError):
            verify_password(PASSWORD, stored, ONE_TURN)
        with pytest.raises(HashingBusyError):
            verify_password(PASSWORD, None, ONE_TURN)  # an unknown user's decoy check takes a turn too
    assert verify_password(PASSWORD, stored, ONE_TURN)


def test_a_check_waits_for_a_turn_that_frees_within_the_wait():
    patient = HashParams(memory_kib=8, time_cost=1, parallelism=1, concurrency=1, wait_seconds=20)
    stored = hash_password(PASSWORD, patient)
    with turns_taken(patient) as release:
        threading.Timer(0.05, release.set).start()
        assert verify_password(PASSWORD, stored, patient)


def test_a_turn_is_re_entrant_on_its_thread():
    with hash_slot(ONE_TURN):
        assert verify_password(PASSWORD, hash_password(PASSWORD, ONE_TURN), ONE_TURN)


@pytest.fixture
def app(database_url: str, tmp_path: Any) -> Iterator[Any]:
    application = build_app(database_url, tmp_path, password_hash_concurrency=1, password_hash_wait_ms=0)
    yield application
    application.extensions["scim_me"].db.close_all()


def test_a_sign_in_refused_a_turn_answers_503_and_counts_no_attempt(app, client):
    tenant = make_tenant(app, "acme")
    kim = make_user(app, tenant, "kim", PASSWORD)
    auth = password_client(app, tenant).auth
    data = {"grant_type": "password", "username": "kim", "password": "wrong-guess-1", "scope": "internal_login"}
    params = app.extensions["scim_me"].settings.hash_params()
    with turns_taken(params):
        for _ in range(6):  # more than the account's failures before its lock
            busy = client.post("/t/acme/oauth2/token", data=data, headers=auth)
            assert busy.status_code == 503, busy.get_data(as_text=True)
            assert busy.headers["Retry-After"] == "1"
    with app.extensions["scim_me"].db.connection_context():
        assert list_events(tenant.id, kim.id) == []  # no failure recorded, no lock
    granted = client.post("/t/acme/oauth2/token", data={**data, "password": PASSWORD}, headers=auth)
    assert granted.status_code == 200, granted.get_data(as_text=True)

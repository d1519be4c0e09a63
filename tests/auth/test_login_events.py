"""Every password channel goes through ``auth.login.verify_login`` and leaves a security event:
a failure on the sign-in page, the password grant and HTTP Basic; a success on the first two
(Basic re-proves the password on each call, so its successes are not history)."""

from __future__ import annotations

import base64

import pytest

from scim_me.storage.events import list_events
from scim_me.storage.events import record_event
from tests.factories import make_tenant
from tests.factories import make_user
from tests.factories import password_client
from tests.support.statements import count_statements

PASSWORD = "correct-horse-9"


@pytest.fixture
def tenant(app):
    return make_tenant(app, "acme")


@pytest.fixture
def kim(app, tenant):
    return make_user(app, tenant, "kim", PASSWORD)


@pytest.fixture
def postman(app, tenant):
    made = password_client(app, tenant)
    return made.record, made.auth


def _events(app, tenant, user):
    with app.extensions["scim_me"].db.connection_context():
        return list_events(tenant.id, user.id)


def _grant(client, auth, password):
    data = {"grant_type": "password", "username": "kim", "password": password, "scope": "internal_login"}
    return client.post("/t/acme/oauth2/token", data=data, headers={**auth, "User-Agent": "pytest-agent"})


def test_password_grant_records_failure_then_success(app, client, tenant, kim, postman):
    record, auth = postman
    assert _grant(client, auth, "wrong-password").status_code in (400, 401)
    assert _grant(client, auth, PASSWORD).status_code == 200
    events = _events(app, tenant, kim)
    assert [e.kind for e in events] == ["signin.success", "signin.failure"]
    assert [e.details for e in events] == [
        {"channel": "password_grant"},
        {"channel": "password_grant", "failures": 1},  # failures in a row: the failed_signins alert
    ]
    assert events[0].client_id == record.client_id
    assert events[0].user_agent == "pytest-agent"


def test_a_right_password_resets_its_counters_and_records_the_success_in_one_commit(app, client, tenant, kim, postman):
    _, auth = postman
    begins: list[str] = []
    with count_statements(app, begins):
        assert _grant(client, auth, PASSWORD).status_code == 200
    # The check reserved before the hash runs (its own commit: racing guesses must see it), then
    # the counters' reset with the signin.success event, then the tokens.
    assert len(begins) == 3, begins


def test_basic_records_failures_only(app, client, tenant, kim):
    def basic(password):
        raw = base64.b64encode(f"kim:{password}".encode()).decode()
        return client.get("/t/acme/scim2/Me", headers={"Authorization": f"Basic {raw}"})

    assert basic("wrong-password").status_code == 401
    assert basic(PASSWORD).status_code == 200
    assert [e.kind for e in _events(app, tenant, kim)] == ["signin.failure"]


def test_unknown_user_records_nothing_and_unknown_kind_is_refused(app, client, tenant, kim, postman):
    _, auth = postman
    data = {"grant_type": "password", "username": "nobody", "password": "x", "scope": "internal_login"}
    assert client.post("/t/acme/oauth2/token", data=data, headers=auth).status_code in (400, 401)
    assert _events(app, tenant, kim) == []
    with app.extensions["scim_me"].db.connection_context(), pytest.raises(ValueError):
        record_event(tenant.id, kim.id, "not.a.kind")


def test_events_are_listed_newest_first_and_paged(app, tenant, kim):
    with app.extensions["scim_me"].db.connection_context():
        for kind in ("signin.success", "password.changed", "mfa.totp.enrolled"):
            record_event(tenant.id, kim.id, kind, details={"n": kind})
        page = list_events(tenant.id, kim.id, limit=2)
        rest = list_events(tenant.id, kim.id, limit=2, offset=2)
    assert [e.kind for e in page] == ["mfa.totp.enrolled", "password.changed"]
    assert [e.kind for e in rest] == ["signin.success"]

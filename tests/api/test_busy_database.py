"""security.md T-CRASH-3: a database held by another writer answers 503, never a 500, and
readers keep working (WAL)."""

from __future__ import annotations

import sqlite3

import pytest

from tests.factories import SCIM_JSON
from tests.factories import bearer
from tests.factories import load_user
from tests.factories import make_tenant
from tests.factories import make_token
from tests.factories import make_user
from tests.factories import patch_body
from tests.support.apps import build_app


@pytest.fixture
def busy_app(tmp_path):
    path = tmp_path / "busy.db"
    application = build_app(f"sqlite:///{path}", tmp_path, db_busy_timeout_ms=200)
    yield application, path
    application.extensions["scim_me"].db.close_all()


def test_locked_database_answers_503_and_recovers(busy_app):
    app, path = busy_app
    tenant = make_tenant(app, "acme")
    user = make_user(app, tenant, "kim")
    headers = bearer(make_token(app, tenant, user), **{"Content-Type": SCIM_JSON})
    client = app.test_client()
    body = patch_body({"op": "replace", "path": "nickName", "value": "locked"})

    blocker = sqlite3.connect(path, timeout=0.1)
    blocker.execute("BEGIN EXCLUSIVE")
    try:
        refused = client.patch("/t/acme/scim2/Me", json=body, headers=headers)
        read = client.get("/t/acme/scim2/Me", headers=headers)
    finally:
        blocker.rollback()
        blocker.close()

    assert refused.status_code == 503
    assert refused.headers["Retry-After"] == "1"
    assert refused.json == {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"],
        "status": "503",
        "detail": "The service is busy; retry shortly.",
    }
    assert read.status_code == 200
    assert "nickName" not in load_user(app, tenant, user.id).profile

    retried = client.patch("/t/acme/scim2/Me", json=body, headers=headers)
    assert retried.status_code == 200
    assert retried.json["nickName"] == "locked"

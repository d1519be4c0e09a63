"""A database that refuses writes (security.md T-CRASH-4: a read-only standby, a full or failing
disk): writes answer 503 with ``Retry-After`` in their API's dialect, reads go on, nothing is
half written, and the server recovers by itself once the database takes writes again. The
refusal is real: SQLite's ``query_only`` and PostgreSQL's ``default_transaction_read_only`` on
every connection the app opens."""

from __future__ import annotations

from typing import Any

from tests.factories import PATCH_URN
from tests.factories import SCIM_JSON
from tests.factories import bearer
from tests.factories import make_tenant
from tests.factories import make_token
from tests.factories import make_user
from tests.support.apps import build_app

ME = "/t/acme/scim2/Me"
READ_ONLY = " -c default_transaction_read_only=on"


def _refuse_writes(app: Any, database_url: str, refuse: bool) -> None:
    """From the next connection on: every connection the app opens refuses writes (or not)."""
    db = app.extensions["scim_me"].db
    db.close_all()
    if database_url.startswith("sqlite"):
        db._pragmas = [p for p in db._pragmas if p[0] != "query_only"] + ([("query_only", 1)] if refuse else [])
    else:
        options = db.connect_params.get("options", "").replace(READ_ONLY, "")
        db.connect_params["options"] = options + (READ_ONLY if refuse else "")


def _nick(client: Any, token: str, value: str) -> Any:
    body = {"schemas": [PATCH_URN], "Operations": [{"op": "replace", "path": "nickName", "value": value}]}
    return client.patch(ME, json=body, headers=bearer(token, **{"Content-Type": SCIM_JSON}))


def test_writes_answer_503_reads_go_on_and_the_server_recovers(database_url, tmp_path):
    app = build_app(database_url, tmp_path)
    tenant = make_tenant(app, "acme")
    token = make_token(app, tenant, make_user(app, tenant, "kim", "correct-horse-9"))
    client = app.test_client()
    assert _nick(client, token, "before").status_code == 200

    _refuse_writes(app, database_url, True)
    refused = _nick(client, token, "during")
    assert refused.status_code == 503, refused.get_data(as_text=True)
    assert refused.get_json()["status"] == "503" and refused.headers["Retry-After"] == "30"
    read = client.get(ME, headers=bearer(token))
    assert read.status_code == 200 and read.get_json()["nickName"] == "before"  # nothing half written
    api = client.post(
        "/t/acme/api/users/v1/me/change-password",
        json={"currentPassword": "correct-horse-9", "newPassword": "another-horse-42"},
        headers=bearer(token),
    )
    assert api.status_code == 503 and set(api.get_json()) == {"code", "message", "description", "traceId"}

    _refuse_writes(app, database_url, False)
    assert _nick(client, token, "after").status_code == 200
    assert client.get(ME, headers=bearer(token)).get_json()["nickName"] == "after"
    app.extensions["scim_me"].db.close_all()

"""SQL statements per request on the hot paths, counted on the database (tests/support/statements.py).

The budgets are the counts the code runs today, not the ceilings of issue 17 (GET /Me ≤ 2,
one-op PATCH ≤ 4): a budget with room to spare would let a feature add a query to every request
unnoticed. A feature that wants to show something on /Me derives it from what the one read
already loads (scim_me/storage/caller.py: a column of the caller statement), or consciously raises
the budget here, with the figure from ``make bench``.

The user has everything features keep beside a profile: TOTP and backup codes, two sign-in
sessions with their grants, a consent receipt, an e-mail change waiting for verification, and
the bearer token is a recorded one (so its revocation is checked on every request).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from scim_me.core import otp
from scim_me.core.schemas import WSO2_URN
from tests.factories import basic
from tests.factories import bearer
from tests.factories import make_tenant
from tests.factories import make_token
from tests.factories import make_user
from tests.factories import patch_body
from tests.support.privacy import CM
from tests.support.privacy import admin_token
from tests.support.privacy import consent_request
from tests.support.privacy import make_spa
from tests.support.privacy import seed_metadata
from tests.support.privacy import sign_in
from tests.support.statements import count_statements
from tests.support.statements import count_wal_syncs

ME = "/t/acme/scim2/Me"
USERS = "/t/acme/scim2/Users"
SEARCH_URN = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"
API = "/t/acme/api/users/v1/me"
SCIM_JSON = "application/scim+json"

# Statements per request in steady state (after the first request of the token warmed the
# worker's caches). Transaction control is not counted.
GET_ME_BUDGET = 1  # the caller statement: token revocation, user row, MFA and lock state
PATCH_ME_BUDGET = 2  # the caller statement, and the compare-and-set UPDATE
# The refresh grant: the client (1), the refresh token with its grant (1), spending it, a
# compare-and-set that makes a replayed token count as reuse (1), the user for the claims (1),
# the tenant's signing key, once for the access and the ID token (1), recording the new access
# and refresh tokens (2), and for a grant of a sign-in session the session's idle/absolute
# lifetime check that also counts the refresh as a use of it (1, a compare-and-set UPDATE). Each
# is needed for the grant's security properties; the signing key is not cached across requests
# so a key rotation applies at once on every worker.
REFRESH_BUDGET = 8
# The admin list endpoints, for a client_credentials token: the page, which reads each user's
# facts (groups, MFA, lock) and the token's revocation with it (1); a full page also counts the
# matches for totalResults (1). A short page (an equality lookup) is its own total. A page with
# no row cannot carry the revocation: it is checked by a statement of its own (1).
LIST_LOOKUP_BUDGET = 1
LIST_MISS_BUDGET = 2
LIST_PAGE_BUDGET = 2
# Sorted by a profile attribute, descending: the users without a value come first, so a window of
# users is probed for them (1); none there, all of them are read by an anti-join, with the page of
# values in the same statement (1); and the count (1) (storage/user_query.py ``_walked_rows``).
# Ascending, the values fill the page: LIST_PAGE_BUDGET.
LIST_SORTED_DESCENDING_BUDGET = 3
# /scim2/Groups?filter=members.value eq: the page (a short one: no COUNT(*)) with the token's
# revocation, and on SQLite the page's members (1; PostgreSQL reads them with the page, where a
# statement costs a round trip; none when members are excluded).
GROUP_LOOKUP_BUDGET = {"sqlite": 2, "postgresql": 1}


@pytest.fixture
def app(database_url: str, tmp_path: Path) -> Iterator[Any]:
    """Durable commits, as in production: the hot paths are measured as they run, and a test
    here counts the WAL flushes (count_wal_syncs)."""
    from tests.support.apps import build_app

    application = build_app(database_url, tmp_path, sqlite_synchronous="full")
    yield application
    application.extensions["scim_me"].db.close_all()


@dataclass
class Busy:
    app: Any
    client: Any
    headers: dict[str, str]
    refresh_token: str
    spa_client_id: str
    consent_metadata: Any


@pytest.fixture
def busy(app: Any, client: Any) -> Busy:
    """kim, signed in twice through the sign-in page, then with MFA, a consent and a pending
    e-mail change, all set up through the API as the user would."""
    tenant = make_tenant(app, "acme", verify_email_on_update=True)
    make_user(app, tenant, "kim", emails=[{"value": "kim@example.com"}], **{WSO2_URN: {"emailVerified": "true"}})
    spa = make_spa(app, tenant)
    sign_in(app, tenant, spa, "kim", user_agent="other-browser/1.0")
    signed = sign_in(app, tenant, spa, "kim")
    auth = bearer(signed.access_token)

    init = client.post(f"{API}/totp", json={"action": "INIT"}, headers=auth)
    assert init.status_code == 200, init.json
    secret = client.get(f"{API}/totp/secret", headers=auth).json["secret"]
    code = otp.code_at(secret, time.time(), otp.TotpPolicy())
    valid = client.post(f"{API}/totp", json={"action": "VALIDATE", "verificationCode": code}, headers=auth)
    assert valid.json == {"isValid": True}, valid.json
    assert client.post(f"{API}/backup-codes", headers=auth).status_code == 200

    meta = seed_metadata(client, tenant, admin_token(app, tenant))
    given = client.post(f"/t/acme{CM}/consents", json=consent_request(meta), headers=auth)
    assert given.status_code == 200, given.json

    held = client.patch(
        ME,
        json=patch_body({"op": "replace", "path": "emails", "value": [{"value": "kim@new.example", "primary": True}]}),
        headers={**auth, "Content-Type": SCIM_JSON},
    )
    assert held.status_code == 200, held.json
    assert client.get(f"{API}/email-change", headers=auth).status_code == 200
    return Busy(app, client, auth, signed.refresh_token, spa.client_id, meta)


def _statements(busy: Busy, send: Any) -> list[str]:
    send()  # the first request of a token may fill per-worker caches (verified token, tenant)
    with count_statements(busy.app) as seen:
        response = send()
    assert response.status_code == 200, response.get_data(as_text=True)
    return seen


def test_get_me_runs_one_statement(busy: Busy) -> None:
    seen = _statements(busy, lambda: busy.client.get(ME, headers=busy.headers))
    assert len(seen) <= GET_ME_BUDGET, "\n".join(seen)
    # A body not rendered yet (each worker renders a user version once, web/context.py
    # RenderedBodies): the features' sections run, and must not query either.
    with count_statements(busy.app) as seen:
        response = busy.client.get(f"{ME}?excludedAttributes=nickName", headers=busy.headers)
    assert response.status_code == 200
    assert len(seen) <= GET_ME_BUDGET, "\n".join(seen)
    body = busy.client.get(ME, headers=busy.headers).json
    # What the statement has to carry: the features' read-only attributes are all there.
    assert body[WSO2_URN]["totpEnabled"] == "true" and body[WSO2_URN]["backupCodeEnabled"] == "true"


def test_my_accounts_read_only_probe_runs_one_statement(busy: Busy) -> None:
    """WSO2 My Account's ``attributes=urn:scim:wso2:schema.isReadOnlyUser``: the flag comes from
    the tenant settings and the user row the caller statement loaded (services/read_only.py)."""
    probe = f"{ME}?attributes={WSO2_URN}.isReadOnlyUser"
    seen = _statements(busy, lambda: busy.client.get(probe, headers=busy.headers))
    assert len(seen) <= GET_ME_BUDGET, "\n".join(seen)
    assert busy.client.get(probe, headers=busy.headers).json[WSO2_URN] == {"isReadOnlyUser": "false"}


def test_one_operation_patch_runs_two_statements(busy: Busy) -> None:
    counter = iter(range(1000))

    def patch() -> Any:
        op = {"op": "replace", "path": "nickName", "value": f"kim-{next(counter)}"}
        return busy.client.patch(ME, json=patch_body(op), headers={**busy.headers, "Content-Type": SCIM_JSON})

    seen = _statements(busy, patch)
    assert len(seen) <= PATCH_ME_BUDGET, "\n".join(seen)


# Pages a one-operation PATCH of /scim2/Me writes to SQLite's WAL (each is written and flushed
# before the answer): the user row's page, and for the changed attribute, whose searchable rows
# the triggers rewrite, a page of user_values and one of each index those rows enter. An index
# on user_values is a page more for every PATCH: migration step 21 left exact_head unindexed
# for that (a caseExact sort reads and sorts the attribute's values instead).
PATCH_ME_WAL_PAGES = 5


def test_one_operation_patch_writes_five_wal_pages(tmp_path: Any) -> None:
    """Counted on a real SQLite file: the WAL's frames after 20 PATCHes (one per page a
    transaction wrote; the WAL is truncated first, so none is reused)."""
    import sqlite3

    from tests.support.apps import build_app

    path = tmp_path / "pages.db"
    app = build_app(f"sqlite:///{path}", tmp_path)
    tenant = make_tenant(app, "acme")
    profile = {"name": {"givenName": "Kim", "familyName": "Lee"}, "title": "Engineer"}
    kim = make_user(app, tenant, "kim", emails=[{"value": "kim@example.com", "primary": True}], **profile)
    headers = {**bearer(make_token(app, tenant, kim)), "Content-Type": SCIM_JSON}
    client = app.test_client()

    def patch(value: str) -> None:
        op = {"op": "replace", "path": "name.givenName", "value": value}
        assert client.patch(ME, json=patch_body(op), headers=headers).status_code == 200

    patch("warm-up")  # the token's first use may write (last use), and caches fill
    with sqlite3.connect(path) as admin:
        assert admin.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0] == 0  # not busy
    for index in range(20):
        patch(f"Kim {index}")
    with sqlite3.connect(path) as admin:
        _busy, frames, _copied = admin.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    assert frames <= 20 * PATCH_ME_WAL_PAGES, frames / 20


def test_refresh_grant_statements(busy: Busy) -> None:
    tokens = [busy.refresh_token]

    def refresh() -> Any:
        response = busy.client.post(
            "/t/acme/oauth2/token",
            data={"grant_type": "refresh_token", "refresh_token": tokens[-1], "client_id": busy.spa_client_id},
        )
        if response.status_code == 200:
            tokens.append(response.json["refresh_token"])
        return response

    seen = _statements(busy, refresh)
    assert len(seen) <= REFRESH_BUDGET, "\n".join(seen)
    # Spending the token and touching the session become durable with the new tokens' commit:
    # one fdatasync per refresh on SQLite, not one per write.
    with count_wal_syncs(busy.app) as syncs:
        assert refresh().status_code == 200
    if getattr(busy.app.extensions["scim_me"].db, "wal_sync", None) is not None:
        assert syncs == [1]


@dataclass
class Directory:
    app: Any
    client: Any
    headers: dict[str, str]
    member_id: str


@pytest.fixture
def directory(app: Any, client: Any) -> Directory:
    """30 users, the first 10 in a group, one of them with TOTP, one locked out."""
    from tests.support.admin import client_headers

    tenant = make_tenant(app, "acme")
    users = [
        make_user(app, tenant, f"user{index:02d}", "correct-horse-9", title=f"Title {index % 4}") for index in range(30)
    ]
    headers = client_headers(app, tenant)
    group = client.post(
        "/t/acme/scim2/Groups",
        json={"displayName": "Ops", "members": [{"value": user.id} for user in users[:10]]},
        headers=headers,
    )
    assert group.status_code == 201, group.json
    for _ in range(5):
        assert client.get(ME, headers=basic("user03", "wrong-password-1")).status_code == 401
    return Directory(app, client, headers, users[3].id)


def _counted(directory: Directory, send: Any) -> list[str]:
    # Steady state: on PostgreSQL a page statement's text seen a second time is prepared (one
    # more statement, once per connection; storage/prepared.py), then executed by name.
    send()
    send()
    with count_statements(directory.app) as seen:
        response = send()
    assert response.status_code == 200, response.get_data(as_text=True)
    return seen


@pytest.mark.parametrize(
    ("query", "budget"),
    [
        ('filter=userName eq "user03"', LIST_LOOKUP_BUDGET),
        ('filter=emails.value eq "nobody@example.com"', LIST_MISS_BUDGET),
        ('filter=userName sw "user0"', LIST_LOOKUP_BUDGET),
    ],
)
def test_a_user_lookup_runs_one_statement(directory: Directory, query: str, budget: int) -> None:
    seen = _counted(directory, lambda: directory.client.get(f"{USERS}?{query}", headers=directory.headers))
    assert len(seen) <= budget, "\n".join(seen)


def test_a_search_request_runs_one_statement(directory: Directory) -> None:
    body = {"schemas": [SEARCH_URN], "filter": 'userName eq "user03"', "attributes": ["userName", "groups"]}
    headers = {**directory.headers, "Content-Type": SCIM_JSON}
    seen = _counted(directory, lambda: directory.client.post(f"{USERS}/.search", json=body, headers=headers))
    assert len(seen) <= LIST_LOOKUP_BUDGET, "\n".join(seen)


@pytest.mark.parametrize(
    "query",
    [
        "count=10",
        "count=10&cursor=",
        "count=10&sortBy=userName&startIndex=11",
        "count=10&sortBy=title",
        "count=10&sortBy=title&startIndex=11",
        "count=10&sortBy=title&cursor=",
    ],
)
def test_a_full_page_of_users_runs_two_statements(directory: Directory, query: str) -> None:
    seen = _counted(directory, lambda: directory.client.get(f"{USERS}?{query}", headers=directory.headers))
    assert len(seen) <= LIST_PAGE_BUDGET, "\n".join(seen)


def test_a_page_sorted_descending_by_a_profile_attribute_runs_three_statements(directory: Directory) -> None:
    query = "count=10&sortBy=title&sortOrder=descending"
    seen = _counted(directory, lambda: directory.client.get(f"{USERS}?{query}", headers=directory.headers))
    assert len(seen) <= LIST_SORTED_DESCENDING_BUDGET, "\n".join(seen)


@pytest.mark.parametrize("excluded", ["", "members"])
def test_a_membership_lookup_of_groups(directory: Directory, backend: str, excluded: str) -> None:
    url = f'/t/acme/scim2/Groups?filter=members.value eq "{directory.member_id}"&excludedAttributes={excluded}'
    seen = _counted(directory, lambda: directory.client.get(url, headers=directory.headers))
    budget = 1 if excluded else GROUP_LOOKUP_BUDGET[backend]
    assert len(seen) <= budget, "\n".join(seen)


# GET /consents (My Account's consent list): the caller (1), the page of receipts (1) and their
# services, of which each item shows the first (1), whatever the page holds.
CONSENT_LIST_BUDGET = 3


def test_the_consent_list_runs_three_statements_whatever_it_holds(busy: Busy) -> None:
    meta = busy.consent_metadata
    two = consent_request(meta, service="first-app")
    second = {**two["services"][0], "service": "second-app", "serviceDisplayName": "Second App"}
    two["services"] = [{**two["services"][0], "serviceDisplayName": None}, second]
    for body in (two, consent_request(meta, service="other-app")):
        given = busy.client.post(f"/t/acme{CM}/consents", json=body, headers=busy.headers)
        assert given.status_code == 200, given.json
    listing = f"/t/acme{CM}/consents"
    seen = _statements(busy, lambda: busy.client.get(listing, headers=busy.headers))
    assert len(seen) <= CONSENT_LIST_BUDGET, "\n".join(seen)
    items = busy.client.get(listing, headers=busy.headers).json
    assert len(items) == 3
    # The first service names the item; without a display name, its service name does.
    assert {item["spDisplayName"] for item in items} == {"My App", "first-app"}


# GET /api/users/v1/me/security: the caller (1); then each section reads what the caller statement
# did not: alerts (recent events, unacknowledged alerts: 2), trusted devices (1), the pending
# e-mail change (1), MFA (its state, the backup codes and the unused ones: 3), passkeys (count
# and list: 2) and sessions (1). The user row, the tenant and the account lock come with the caller.
SECURITY_OVERVIEW_BUDGET = 11


def test_the_security_overview_reads_the_user_once(busy: Busy) -> None:
    seen = _statements(busy, lambda: busy.client.get(f"{API}/security", headers=busy.headers))
    assert len(seen) <= SECURITY_OVERVIEW_BUDGET, "\n".join(seen)
    again = [
        sql for sql in seen[1:] if "FROM users WHERE id" in sql or 'FROM "tenants"' in sql or "login_throttles" in sql
    ]
    assert not again, "\n".join(again)  # the user row, the tenant and the lock: read by the caller (first)
    body = busy.client.get(f"{API}/security", headers=busy.headers).json
    assert body["email"]["pending"] == "kim@new.example" and body["mfa"]["totpEnabled"] is True
    assert body["password"]["locked"] is False and body["sessions"] == {"active": 2}

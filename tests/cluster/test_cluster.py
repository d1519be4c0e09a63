"""Issue 13 acceptance 2: three instances (gunicorn, 2 workers each) behind HAProxy over one
PostgreSQL database behave as one server (tests/support/cluster.py starts them as
docs/deployment.md describes). Every request goes through the load balancer; which instance
answered is read from the instances' access logs (User-Agent tags).

The tests run in this order on purpose: the metrics are scraped before the kill test takes an
instance (and its counters) away.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs
from urllib.parse import urlencode
from urllib.parse import urlsplit

import psycopg2
import pytest
import requests
from requests.adapters import HTTPAdapter

from scim_me.core import otp
from scim_me.storage.migrations.steps import MIGRATIONS
from tests.api.test_operator import value
from tests.e2e.support import HTTP_TIMEOUT_S
from tests.e2e.support import session
from tests.factories import PATCH_URN
from tests.factories import SCIM_JSON
from tests.factories import basic
from tests.factories import bearer
from tests.fixtures.cluster import FIGURES
from tests.support.cluster import METRICS_TOKEN
from tests.support.cluster import TENANT
from tests.support.cluster import Cluster

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]
PASSWORD = "cluster-horse-93"
ADMIN_PASSWORD = "tour-guide-keys-2026"  # `scim-me demo seed`'s default
SPA_REDIRECT = "http://localhost:5173/"  # the demo SPA client's
USER_URN = "urn:ietf:params:scim:schemas:core:2.0:User"
MAX_TRIES = 30
POLICY = otp.TotpPolicy()
LOAD_THREADS = 8
LOAD_BEFORE_KILL_S = 1.5
LOAD_AFTER_KILL_S = 2.5
MAX_WRITES_PER_USER = 90  # max_values_per_attribute is 100
CLIENT_ADDRESS = "127.0.0.51"
FORGED = "203.0.113.7"


@dataclass(frozen=True)
class Demo:
    postman_id: str
    postman_secret: str
    spa_id: str


@pytest.fixture(scope="module")
def demo(cluster: Cluster) -> Demo:
    """`scim-me demo seed` (the tenant, its clients and its admin) in one CLI call."""
    out = cluster.lb.cli("demo", "seed", "--tenant", TENANT).stdout
    postman = re.search(r"^demo Postman client: (\S+)\s+secret \(shown once\): (\S+)$", out, re.MULTILINE)
    spa = re.search(r"^demo SPA client \(.*\): (\S+)$", out, re.MULTILINE)
    assert postman and spa, out
    return Demo(postman.group(1), postman.group(2), spa.group(1))


def _db(cluster: Cluster, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    with psycopg2.connect(cluster.database_url) as conn, conn.cursor() as cur:
        cur.execute(sql, args)
        rows = cur.fetchall()
    conn.close()
    return rows


def _new_user(cluster: Cluster, prefix: str) -> str:
    """A user created through the load balancer by the demo admin (SCIM /Users, HTTP Basic)."""
    name = f"{prefix}-{secrets.token_hex(3)}"
    body = {
        "schemas": [USER_URN],
        "userName": name,
        "password": PASSWORD,
        "emails": [{"value": f"{name}@old.example", "primary": True}],
    }
    with session() as http:
        response = http.post(
            cluster.lb.url("/scim2/Users", TENANT),
            json=body,
            headers={**basic("admin", ADMIN_PASSWORD), "Content-Type": SCIM_JSON},
            timeout=HTTP_TIMEOUT_S,
        )
    assert response.status_code == 201, response.text
    return name


def _password_token(cluster: Cluster, demo: Demo, user: str) -> str:
    form = {
        "grant_type": "password", "username": user, "password": PASSWORD, "client_id": demo.postman_id,
        "client_secret": demo.postman_secret, "scope": "openid internal_login",
    }  # fmt: skip
    with session() as http:
        response = http.post(cluster.lb.url("/oauth2/token", TENANT), data=form, timeout=HTTP_TIMEOUT_S)
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


def _sign_in(cluster: Cluster, demo: Demo, user: str) -> str:
    """Code + PKCE through the sign-in page with the demo SPA client, in a new browser (a new
    session); its requests land on whichever instances HAProxy picks."""
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    params = {
        "response_type": "code", "client_id": demo.spa_id, "redirect_uri": SPA_REDIRECT,
        "scope": "openid internal_login", "state": "s", "code_challenge": challenge, "code_challenge_method": "S256",
    }  # fmt: skip
    url = cluster.lb.url("/oauth2/authorize", TENANT) + "?" + urlencode(params)
    with session() as http:
        page = http.get(url, timeout=HTTP_TIMEOUT_S)
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert csrf, page.text
        form = {"csrf_token": csrf.group(1), "action": "login", "username": user, "password": PASSWORD}
        signed_in = http.post(url, data=form, allow_redirects=False, timeout=HTTP_TIMEOUT_S)
        assert signed_in.status_code == 302, signed_in.text
        code = parse_qs(urlsplit(signed_in.headers["Location"]).query)["code"][0]
        form = {
            "grant_type": "authorization_code", "code": code, "redirect_uri": SPA_REDIRECT,
            "client_id": demo.spa_id, "code_verifier": verifier,
        }  # fmt: skip
        tokens = http.post(cluster.lb.url("/oauth2/token", TENANT), data=form, timeout=HTTP_TIMEOUT_S)
    assert tokens.status_code == 200, tokens.text
    return str(tokens.json()["access_token"])


def _on_every_instance(cluster: Cluster, token: str) -> dict[str, list[int]]:
    """GET /Me through the load balancer until every instance has answered; their statuses."""
    agent = f"each-{secrets.token_hex(4)}"
    for n in range(MAX_TRIES):
        with session() as http:
            http.get(cluster.lb.me_url(TENANT), headers=bearer(token, **{"User-Agent": f"{agent}-{n}"}), timeout=30)
        answered = cluster.answered_by(agent)
        if len(answered) == len(cluster.instances):
            return answered
    pytest.fail(f"{MAX_TRIES} requests through HAProxy never reached every instance: {cluster.answered_by(agent)}")


def _accepted_everywhere(answers: dict[str, list[int]]) -> bool:
    return all(set(statuses) == {200} for statuses in answers.values())


def _refused_everywhere(answers: dict[str, list[int]]) -> bool:
    return all(set(statuses) == {401} for statuses in answers.values())


def test_migrations_run_by_instances_starting_at_once_apply_once(cluster: Cluster) -> None:
    """Each instance ran `scim-me db upgrade && exec gunicorn` at the same moment."""
    versions = [version for version, _name, _step in MIGRATIONS]
    applied: list[int] = []
    for output in cluster.upgrade_outputs:
        match = re.search(r"database at version (\d+) \((?:applied \[([\d, ]*)\]|up to date)\)", output)
        assert match, output
        assert int(match.group(1)) == versions[-1]
        applied += [int(v) for v in match.group(2).split(",")] if match.group(2) else []
    assert sorted(applied) == versions  # every step applied, by exactly one instance
    rows = _db(cluster, "SELECT version FROM schema_migrations ORDER BY version")
    assert [row[0] for row in rows] == versions


def test_a_revoked_token_is_refused_by_every_instance(cluster: Cluster, demo: Demo) -> None:
    token = _password_token(cluster, demo, _new_user(cluster, "revoked"))
    assert _accepted_everywhere(_on_every_instance(cluster, token))
    with session() as http:
        form = {"token": token, "client_id": demo.postman_id, "client_secret": demo.postman_secret}
        revoked = http.post(cluster.lb.url("/oauth2/revoke", TENANT), data=form, timeout=HTTP_TIMEOUT_S)
    assert revoked.status_code == 200, revoked.text
    answers = _on_every_instance(cluster, token)
    assert _refused_everywhere(answers), answers


def test_an_ended_session_is_refused_by_every_instance(cluster: Cluster, demo: Demo) -> None:
    user = _new_user(cluster, "sessions")
    laptop, phone = _sign_in(cluster, demo, user), _sign_in(cluster, demo, user)
    assert _accepted_everywhere(_on_every_instance(cluster, phone))
    with session() as http:
        sessions_url = cluster.lb.url("/api/users/v1/me/sessions", TENANT)
        assert len(http.get(sessions_url, headers=bearer(laptop), timeout=HTTP_TIMEOUT_S).json()["sessions"]) == 2
        # The laptop ends "all other sessions": the phone's.
        assert http.delete(sessions_url, headers=bearer(laptop), timeout=HTTP_TIMEOUT_S).status_code == 204
    answers = _on_every_instance(cluster, phone)
    assert _refused_everywhere(answers), answers
    assert _accepted_everywhere(_on_every_instance(cluster, laptop))


def test_a_removed_app_authorization_is_refused_by_every_instance(cluster: Cluster, demo: Demo) -> None:
    user = _new_user(cluster, "apps")
    spa = _sign_in(cluster, demo, user)
    postman = _password_token(cluster, demo, user)
    assert _accepted_everywhere(_on_every_instance(cluster, spa))
    with session() as http:
        removed = http.delete(
            cluster.lb.url(f"/api/users/v2/me/authorized-apps/{demo.spa_id}", TENANT),
            headers=bearer(postman),
            timeout=HTTP_TIMEOUT_S,
        )
    assert removed.status_code == 204, removed.text
    answers = _on_every_instance(cluster, spa)
    assert _refused_everywhere(answers), answers
    assert _accepted_everywhere(_on_every_instance(cluster, postman))


class _FromAddress(HTTPAdapter):
    """Connect from a chosen loopback address."""

    def __init__(self, address: str) -> None:
        self._address = address
        super().__init__()

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs["source_address"] = (self._address, 0)
        super().init_poolmanager(*args, **kwargs)


def _events(cluster: Cluster, user: str, kind: str) -> int:
    rows = _db(
        cluster,
        "SELECT COUNT(*) FROM security_events e JOIN users u ON u.id = e.user_id"
        " WHERE u.user_name = %s AND e.kind = %s",
        user,
        kind,
    )
    return int(rows[0][0])


def test_fifty_parallel_wrong_passwords_over_the_instances_run_at_most_five_hashes(
    cluster: Cluster, demo: Demo
) -> None:
    """Hashes are counted as in tests/e2e/test_account_security.py: one ``signin.failure`` security
    event per password hash that did not match, written by whichever instance ran it."""
    user = _new_user(cluster, "guessed")
    agent = f"guess-{secrets.token_hex(4)}"

    def guess(n: int) -> int:
        # From 127.0.0.51, with a forged X-Forwarded-For that HAProxy appends the real address to.
        headers = {**basic(user, f"wrong-guess-{n:02d}"), "User-Agent": f"{agent}-{n}", "X-Forwarded-For": FORGED}
        with session() as http:
            http.mount("http://", _FromAddress(CLIENT_ADDRESS))
            return http.get(cluster.lb.me_url(TENANT), headers=headers, timeout=HTTP_TIMEOUT_S).status_code

    with ThreadPoolExecutor(max_workers=50) as pool:
        statuses = list(pool.map(guess, range(50)))
    assert set(statuses) == {401}
    assert len(cluster.answered_by(agent)) == len(cluster.instances)  # spread over every instance
    hashed = _events(cluster, user, "signin.failure")
    assert hashed <= 5, f"{hashed} password hashes ran for 50 parallel guesses"
    assert hashed == 5 and _events(cluster, user, "account.locked") == 1  # the limit was reached: locked
    # The instances saw the client's address (trusted_proxies = HAProxy's), not the proxy's or the forged one.
    addresses = _db(
        cluster,
        "SELECT DISTINCT e.ip FROM security_events e JOIN users u ON u.id = e.user_id"
        " WHERE u.user_name = %s AND e.kind = 'signin.failure'",
        user,
    )
    assert addresses == [(CLIENT_ADDRESS,)]
    with session() as http:
        right = http.get(cluster.lb.me_url(TENANT), headers=basic(user, PASSWORD), timeout=HTTP_TIMEOUT_S)
    assert right.status_code == 401 and right.headers["Auth-Failure-Reason"] == "account locked"


def _validate(cluster: Cluster, token: str, code: str) -> requests.Response:
    with session() as http:
        return http.post(
            cluster.lb.url("/api/users/v1/me/totp", TENANT),
            json={"action": "VALIDATE", "verificationCode": int(code)},
            headers=bearer(token),
            timeout=HTTP_TIMEOUT_S,
        )


def test_one_totp_code_sent_20_times_across_the_instances_succeeds_once(cluster: Cluster, demo: Demo) -> None:
    token = _password_token(cluster, demo, _new_user(cluster, "totp"))
    with session() as http:
        init = http.post(
            cluster.lb.url("/api/users/v1/me/totp", TENANT), json={"action": "INIT"}, headers=bearer(token), timeout=30
        )
    assert init.status_code == 200, init.text
    secret = parse_qs(urlsplit(base64.b64decode(init.json()["qrCodeUrl"]).decode()).query)["secret"][0]
    # Enrolled with the previous step's code, so the current step's code is unused.
    for _attempt in range(3):
        if _validate(cluster, token, otp.code_at(secret, time.time() - POLICY.period, POLICY)).json() == {
            "isValid": True
        }:
            break
    else:
        pytest.fail("enrolment with the previous step's code failed three times")
    code = otp.code_at(secret, time.time(), POLICY)
    with ThreadPoolExecutor(20) as pool:
        responses = list(pool.map(lambda _: _validate(cluster, token, code), range(20)))
    valid = [r for r in responses if r.status_code == 200 and r.json() == {"isValid": True}]
    assert len(valid) == 1, [(r.status_code, r.text) for r in responses]
    assert all(r.status_code in (200, 429) for r in responses), [(r.status_code, r.text) for r in responses]


def test_a_verification_mail_is_delivered_exactly_once(cluster: Cluster, demo: Demo) -> None:
    """Every worker of every instance runs a mail sender over the one outbox table."""
    users = [_new_user(cluster, "mail") for _ in range(3)]
    for user in users:
        token = _password_token(cluster, demo, user)
        body = {
            "schemas": [PATCH_URN],
            "Operations": [{"op": "replace", "path": "emails", "value": [f"{user}@new.example"]}],
        }
        with session() as http:
            response = http.patch(
                cluster.lb.me_url(TENANT), json=body, headers=bearer(token, **{"Content-Type": SCIM_JSON}), timeout=30
            )
        assert response.status_code == 200, response.text
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and _db(cluster, "SELECT 1 FROM mail_outbox WHERE state <> 'sent' LIMIT 1"):
        time.sleep(0.1)
    rows = _db(cluster, "SELECT state, attempts FROM mail_outbox")
    assert rows and {row for row in rows} == {("sent", 1)}, rows  # one attempt each: none sent twice
    time.sleep(2.5)  # two more polls of every sender: still nothing more
    for user in users:
        assert len(cluster.mail.to(f"{user}@new.example")) == 1, [
            m.subject for m in cluster.mail.to(f"{user}@new.example")
        ]
    assert len(cluster.mail.messages) == len(rows)


def test_metrics_of_every_instance_count_requests_sign_ins_and_lockouts(cluster: Cluster) -> None:
    """Scraped from each instance directly (HAProxy refuses /metrics from outside)."""
    with session() as http:
        assert http.get(f"{cluster.lb.base_url}/metrics", timeout=HTTP_TIMEOUT_S).status_code == 403
        texts = [
            http.get(f"{i.base_url}/metrics", headers=bearer(METRICS_TOKEN), timeout=HTTP_TIMEOUT_S).text
            for i in cluster.instances
        ]
    requests_total = [value(text, "scim_me_http_requests_total", route="/scim2/Me") for text in texts]
    assert all(count > 0 for count in requests_total), requests_total  # every instance served /Me
    assert sum(value(text, "scim_me_signins_total", outcome="failure") for text in texts) == 5  # the hashed guesses
    assert sum(value(text, "scim_me_signins_total", outcome="success") for text in texts) > 0
    assert sum(value(text, "scim_me_lockouts_total", factor="password") for text in texts) == 1


@dataclass
class Call:
    kind: str
    start: float
    end: float
    status: int  # 0: no HTTP answer at all
    written: str | None = None
    error: str = ""
    wall: float = 0.0


def test_kill_9_of_one_instance_under_load_loses_no_acknowledged_write(
    cluster: Cluster, demo: Demo, tmp_path: Path, record_property: Any
) -> None:
    users = [_new_user(cluster, f"load{n}") for n in range(LOAD_THREADS)]
    tokens = [_password_token(cluster, demo, user) for user in users]
    stop = threading.Event()
    calls: list[list[Call]] = [[] for _ in users]

    def load(index: int) -> None:
        headers = bearer(tokens[index], **{"Content-Type": SCIM_JSON, "User-Agent": f"load-{index}"})
        with session() as http:
            for n in range(2 * MAX_WRITES_PER_USER):
                if stop.is_set():
                    return
                written = f"t{index}-{n}" if n % 2 else None
                start, wall = time.monotonic(), time.time()
                try:
                    if written is None:
                        response = http.get(cluster.lb.me_url(TENANT), headers=headers, timeout=HTTP_TIMEOUT_S)
                    else:
                        ops = {"op": "add", "path": "ims", "value": [{"value": written}]}
                        body = {"schemas": [PATCH_URN], "Operations": [ops]}
                        response = http.patch(cluster.lb.me_url(TENANT), json=body, headers=headers, timeout=30)
                    status, error = response.status_code, ""
                except requests.RequestException as exc:
                    status, error = 0, repr(exc)
                calls[index].append(
                    Call("PATCH" if written else "GET", start, time.monotonic(), status, written, error, wall)
                )

    threads = [threading.Thread(target=load, args=(n,)) for n in range(LOAD_THREADS)]
    for thread in threads:
        thread.start()
    time.sleep(LOAD_BEFORE_KILL_S)
    victim = cluster.instances[1]
    killed_at = time.monotonic()
    victim.kill_9()
    dead_at = time.monotonic()  # arbiter and workers are gone
    time.sleep(LOAD_AFTER_KILL_S)
    stop.set()
    for thread in threads:
        thread.join(timeout=60)

    everything = [call for per_user in calls for call in per_user]
    errors = [call for call in everything if call.status != 200]
    after = [call for call in everything if call.start > dead_at]
    # Errors only for requests in flight on the killed instance: sent before the last of its
    # threads was gone (until then its socket still accepts), answered after the kill.
    timeline = [
        (round(c.start - killed_at, 3), round(c.end - killed_at, 3), c.status, c.error[:80], c.wall) for c in errors
    ]
    assert all(call.start < dead_at and call.end > killed_at for call in errors), (
        round(dead_at - killed_at, 3),
        timeline,
    )
    # Only writes fail: HAProxy sends a read the dead instance was running to another one
    # (retry-on), and answers 502 for a write, or closes a kept-alive connection without an answer.
    assert all(call.kind == "PATCH" for call in errors), timeline
    assert all(call.status in (0, 502, 503, 504) for call in errors), timeline
    # HAProxy routed around it: everything sent afterwards was answered by the others.
    assert after and all(call.status == 200 for call in after)
    survivors = [i for i in cluster.instances if i is not victim]
    after_tags = {f"load-{n}" for n in range(LOAD_THREADS)}
    assert all(any(i.answered(tag) for tag in after_tags) for i in survivors)

    # No acknowledged write is lost: every PATCH answered 200 is in the final state.
    lost = 0
    for index, token in enumerate(tokens):
        with session() as http:
            final = http.get(cluster.lb.me_url(TENANT), headers=bearer(token), timeout=HTTP_TIMEOUT_S)
        assert final.status_code == 200, final.text
        present = {item["value"] for item in final.json().get("ims", [])}
        acknowledged = {call.written for call in calls[index] if call.kind == "PATCH" and call.status == 200}
        lost += len(acknowledged - present)
    figures = {
        "instances": len(cluster.instances),
        "requests": len(everything),
        "patches_acknowledged": sum(1 for c in everything if c.kind == "PATCH" and c.status == 200),
        "requests_after_the_kill": len(after),
        "errors_during_the_kill": len(errors),
        "reads_sent_again": cluster.sent_again("GET"),
        "kill_to_gone_ms": round((dead_at - killed_at) * 1000),
        "lost_writes": lost,
    }
    record_property(FIGURES, figures)
    (tmp_path / "cluster-figures.json").write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    print(f"{FIGURES}: {json.dumps(figures)}")
    assert lost == 0, figures

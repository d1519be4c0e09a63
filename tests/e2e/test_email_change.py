"""Verified e-mail change on the live 2-worker server with the embedded file outbox: the mail is
written after the commit, the link's code confirms once even when 10 redemptions race on both
workers, the old address gets its notice, and a second change cancels the first."""

from __future__ import annotations

import re
import secrets
from concurrent.futures import ThreadPoolExecutor
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default
from pathlib import Path

import pytest
import requests

from tests.e2e.support import HTTP_TIMEOUT_S
from tests.e2e.support import session
from tests.factories import PATCH_URN
from tests.factories import SCIM_JSON
from tests.factories import bearer
from tests.support.live_server import DEFAULT_PASSWORD
from tests.support.live_server import LiveServer

pytestmark = pytest.mark.e2e
WSO2 = "urn:scim:wso2:schema"
LINK = re.compile(r"(http://\S+/accountrecoveryendpoint/confirm-email)#code=([A-Za-z0-9_-]+)")
OUTBOX_WAIT_S = 30.0


@pytest.fixture(scope="module")
def tenant(live_server: LiveServer) -> str:
    name = f"mail-{secrets.token_hex(3)}"
    live_server.cli("tenant", "create", name, "--verify-email-on-update")
    return name


def _outbox(live_server: LiveServer) -> Path:
    return live_server.workdir / "outbox"


def _mails_to(live_server: LiveServer, address: str, count: int) -> list[EmailMessage]:
    """Wait until ``count`` messages to ``address`` sit in the outbox (the workers' mail threads
    write them right after the commit)."""
    import time

    deadline = time.monotonic() + OUTBOX_WAIT_S
    while True:
        found = []
        for path in sorted(_outbox(live_server).glob("*.eml")):
            message = message_from_bytes(path.read_bytes(), policy=default)
            if str(message["To"]) == address:
                found.append(message)
        if len(found) >= count or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert len(found) == count, f"{len(found)} mails to {address}, expected {count}"
    return found  # type: ignore[return-value]


def _user(live_server: LiveServer, tenant: str) -> tuple[str, str, str]:
    name = f"mailer-{secrets.token_hex(3)}"
    address = f"{name}@old.example"
    live_server.cli(
        "user", "create", "--tenant", tenant, "--username", name, "--password", DEFAULT_PASSWORD, "--email", address
    )
    return name, address, live_server.token(user=name, tenant=tenant)


def _change(http: requests.Session, live_server: LiveServer, tenant: str, token: str, address: str) -> dict:
    body = {"schemas": [PATCH_URN], "Operations": [{"op": "replace", "path": "emails", "value": [address]}]}
    response = http.patch(
        live_server.me_url(tenant),
        json=body,
        headers=bearer(token, **{"Content-Type": SCIM_JSON}),
        timeout=HTTP_TIMEOUT_S,
    )
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def test_email_change_through_the_outbox_on_two_workers(live_server: LiveServer, tenant: str) -> None:
    name, old, token = _user(live_server, tenant)
    new = f"{name}@new.example"
    with session() as http:
        held = _change(http, live_server, tenant, token, new)
        assert held["emails"] == [old]
        assert held[WSO2]["pendingEmails"] == [{"value": new}]
        (verify,) = _mails_to(live_server, new, 1)
        match = LINK.search(verify.get_content())
        assert match, verify.get_content()
        page_url, code = match.groups()
        assert page_url == live_server.url("/accountrecoveryendpoint/confirm-email", tenant)
        # The code is a credential: it is in the outbox file, never in the server's log.
        assert code not in live_server.log_path.read_text(encoding="utf-8", errors="replace")

        # Ten redemptions at once, spread over both workers: exactly one wins.
        def redeem(_: int) -> int:
            with session() as own:
                return own.post(
                    live_server.url("/api/identity/user/v1.0/validate-code", tenant),
                    json={"code": code, "properties": []},
                    timeout=HTTP_TIMEOUT_S,
                ).status_code

        with ThreadPoolExecutor(max_workers=10) as pool:
            statuses = sorted(pool.map(redeem, range(10)))
        assert statuses == [202] + [400] * 9

        me = http.get(live_server.me_url(tenant), headers=bearer(token), timeout=HTTP_TIMEOUT_S).json()
        assert me["emails"] == [new]
        assert me[WSO2]["emailVerified"] is True
        (notice,) = _mails_to(live_server, old, 1)
        assert notice["Subject"] == "Your e-mail address was changed"
        events = http.get(
            live_server.url("/api/users/v1/me/security-events?kind=email", tenant),
            headers=bearer(token),
            timeout=HTTP_TIMEOUT_S,
        ).json()
        assert [e["kind"] for e in events["events"]] == ["email.changed", "email.change_requested"]


def test_a_second_change_cancels_the_first_across_workers(live_server: LiveServer, tenant: str) -> None:
    name, _old, token = _user(live_server, tenant)
    first, second = f"{name}@first.example", f"{name}@second.example"
    with session() as http:
        _change(http, live_server, tenant, token, first)
        first_code = LINK.search(_mails_to(live_server, first, 1)[0].get_content()).group(2)  # type: ignore[union-attr]
        _change(http, live_server, tenant, token, second)
        second_code = LINK.search(_mails_to(live_server, second, 1)[0].get_content()).group(2)  # type: ignore[union-attr]
        url = live_server.url("/api/identity/user/v1.0/me/validate-code", tenant)
        refused = http.post(url, json={"code": first_code}, headers=bearer(token), timeout=HTTP_TIMEOUT_S)
        assert refused.status_code == 400 and refused.json()["code"] == "18001"
        accepted = http.post(url, json={"code": second_code}, headers=bearer(token), timeout=HTTP_TIMEOUT_S)
        assert accepted.status_code == 202
        me = http.get(live_server.me_url(tenant), headers=bearer(token), timeout=HTTP_TIMEOUT_S).json()
        assert me["emails"] == [second]

"""Issue 18 acceptance 1, 3 and 4 on the gunicorn server (2 workers): init → recover → confirm →
reset through WSO2's recovery API, once with the file outbox (the main e2e server) and once with
a real SMTP server (aiosmtpd) behind a second gunicorn server; the app authenticates with its
client-credentials token (the tenant default). After the reset the user's earlier tokens are
refused by every worker, the old password is refused, the new one signs in."""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Iterator
from email import message_from_bytes
from email.policy import default
from typing import Any

import pytest
import requests

from tests.e2e.support import HTTP_TIMEOUT_S
from tests.e2e.support import session
from tests.factories import bearer
from tests.support.live_server import DEFAULT_PASSWORD
from tests.support.live_server import LiveServer
from tests.support.live_server import launch
from tests.support.mailserver import MailSink

pytestmark = pytest.mark.e2e
NEW_PASSWORD = "violet-staple-battery-31"
CODE = re.compile(r"Recovery code: (\d+)")
OUTBOX_WAIT_S = 30.0
MAX_REQUESTS = 200


def _client(server: LiveServer, tenant: str, *args: str) -> tuple[str, str]:
    out = server.cli("client", "create", "--tenant", tenant, *args).stdout
    client_id = re.search(r"client_id: (\S+)", out)
    secret = re.search(r"client_secret: (\S+)", out)
    assert client_id, out
    return client_id.group(1), secret.group(1) if secret else ""


def _app_token(server: LiveServer, tenant: str) -> str:
    client_id, secret = _client(
        server,
        tenant,
        "--name",
        f"recovery-{secrets.token_hex(3)}",
        "--grant",
        "client_credentials",
        "--scope",
        "internal_user_recovery_create",
    )
    with session() as http:
        response = http.post(
            server.url("/oauth2/token", tenant),
            data={"grant_type": "client_credentials"},
            auth=(client_id, secret),
            timeout=HTTP_TIMEOUT_S,
        )
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


def _user(server: LiveServer, tenant: str) -> tuple[str, str]:
    name = f"rec-{secrets.token_hex(3)}"
    address = f"{name}@example.com"
    server.cli(
        "user",
        "create",
        "--tenant",
        tenant,
        "--username",
        name,
        "--password",
        DEFAULT_PASSWORD,
        "--email",
        address,
        "--email-verified",
    )
    return name, address


def _password_tokens(server: LiveServer, tenant: str, client_id: str, user: str, password: str) -> requests.Response:
    with session() as http:
        return http.post(
            server.url("/oauth2/token", tenant),
            data={"grant_type": "password", "username": user, "password": password, "client_id": client_id},
            timeout=HTTP_TIMEOUT_S,
        )


def _recover(server: LiveServer, tenant: str, app_token: str, user: str, read_code: Any) -> None:
    base = server.url("/api/users/v2/recovery/password", tenant)
    auth = bearer(app_token)
    with session() as http:
        started = http.post(
            f"{base}/init",
            json={"claims": [{"uri": "http://wso2.org/claims/username", "value": user}]},
            headers=auth,
            timeout=HTTP_TIMEOUT_S,
        )
        assert started.status_code == 200, started.text
        code = started.json()[0]["channelInfo"]["recoveryCode"]
        sent = http.post(
            f"{base}/recover", json={"recoveryCode": code, "channelId": "1"}, headers=auth, timeout=HTTP_TIMEOUT_S
        )
        assert sent.status_code == 202, sent.text
        otp = read_code()
        confirmed = http.post(
            f"{base}/confirm",
            json={"confirmationCode": sent.json()["flowConfirmationCode"], "otp": otp},
            headers=auth,
            timeout=HTTP_TIMEOUT_S,
        )
        assert confirmed.status_code == 200, confirmed.text
        # The code works once, on whichever worker the replay lands.
        replay = http.post(
            f"{base}/confirm",
            json={"confirmationCode": sent.json()["flowConfirmationCode"], "otp": otp},
            headers=auth,
            timeout=HTTP_TIMEOUT_S,
        )
        assert replay.status_code == 406
        done = http.post(
            f"{base}/reset",
            json={
                "resetCode": confirmed.json()["resetCode"],
                "password": NEW_PASSWORD,
                "flowConfirmationCode": sent.json()["flowConfirmationCode"],
            },
            headers=auth,
            timeout=HTTP_TIMEOUT_S,
        )
        assert done.status_code == 200, done.text
        assert done.json()["code"] == "PWR-02005"


def _refused_everywhere(server: LiveServer, tenant: str, token: str) -> None:
    """GET /Me with the pre-reset token on fresh connections until both workers refused it."""
    agent = f"after-reset-{secrets.token_hex(4)}"
    for n in range(MAX_REQUESTS):
        with session() as http:
            http.get(
                server.me_url(tenant), headers=bearer(token, **{"User-Agent": f"{agent}-{n}"}), timeout=HTTP_TIMEOUT_S
            )
        answers = server.answers_by_worker(agent)
        if len(answers) >= 2:
            assert all(status == 401 for statuses in answers.values() for status in statuses), answers
            return
    pytest.fail(f"{MAX_REQUESTS} requests never reached both gunicorn workers")


def _warm_everywhere(server: LiveServer, tenant: str, token: str) -> None:
    agent = f"before-reset-{secrets.token_hex(4)}"
    for n in range(MAX_REQUESTS):
        with session() as http:
            response = http.get(
                server.me_url(tenant), headers=bearer(token, **{"User-Agent": f"{agent}-{n}"}), timeout=HTTP_TIMEOUT_S
            )
            assert response.status_code == 200
        if len(server.answers_by_worker(agent)) >= 2:
            return


def _run(server: LiveServer, tenant: str, read_code: Any) -> None:
    user, _address = _user(server, tenant)
    spa, _ = _client(
        server,
        tenant,
        "--name",
        f"cli-{secrets.token_hex(3)}",
        "--public",
        "--grant",
        "password",
        "--grant",
        "refresh_token",
    )
    before = _password_tokens(server, tenant, spa, user, DEFAULT_PASSWORD)
    assert before.status_code == 200, before.text
    _warm_everywhere(server, tenant, before.json()["access_token"])
    _recover(server, tenant, _app_token(server, tenant), user, lambda: read_code(_address))
    _refused_everywhere(server, tenant, before.json()["access_token"])
    with session() as http:
        refreshed = http.post(
            server.url("/oauth2/token", tenant),
            data={"grant_type": "refresh_token", "refresh_token": before.json()["refresh_token"], "client_id": spa},
            timeout=HTTP_TIMEOUT_S,
        )
    assert refreshed.status_code == 400
    assert _password_tokens(server, tenant, spa, user, DEFAULT_PASSWORD).status_code == 400
    assert _password_tokens(server, tenant, spa, user, NEW_PASSWORD).status_code == 200


def test_recovery_through_the_api_with_the_outbox(live_server: LiveServer) -> None:
    tenant = f"rec-{secrets.token_hex(3)}"
    live_server.cli("tenant", "create", tenant)

    def read_code(address: str) -> str:
        deadline = time.monotonic() + OUTBOX_WAIT_S
        while time.monotonic() < deadline:
            for path in sorted((live_server.workdir / "outbox").glob("*.eml")):
                message = message_from_bytes(path.read_bytes(), policy=default)
                if str(message["To"]) == address and str(message["Subject"]) == "Your password recovery code":
                    match = CODE.search(message.get_content())
                    assert match
                    return match.group(1)
            time.sleep(0.05)
        pytest.fail(f"no recovery mail to {address} in the outbox")

    _run(live_server, tenant, read_code)


@pytest.fixture(scope="module")
def smtp_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, MailSink]]:
    sink = MailSink().start()

    def prepare(server: LiveServer) -> None:
        server.cli("db", "upgrade")
        server.cli("tenant", "create", "acme")

    try:
        settings = {f"SCIM_ME_{key.upper()}": str(value) for key, value in sink.settings().items()}
        with launch(tmp_path_factory.mktemp("recovery-smtp"), prepare, **settings) as server:
            yield server, sink
    finally:
        sink.stop()


def test_recovery_through_the_api_with_a_real_smtp_server(smtp_server: tuple[LiveServer, MailSink]) -> None:
    server, sink = smtp_server

    def read_code(address: str) -> str:
        deadline = time.monotonic() + OUTBOX_WAIT_S
        while time.monotonic() < deadline:
            for message in sink.to(address):
                if message.subject == "Your password recovery code":
                    match = CODE.search(message.text)
                    assert match
                    return match.group(1)
            time.sleep(0.05)
        pytest.fail(f"no recovery mail to {address} at the SMTP server")

    _run(server, "acme", read_code)
    # The reset notice went through SMTP too.
    deadline = time.monotonic() + OUTBOX_WAIT_S
    while time.monotonic() < deadline and not any(m.subject == "Your password was reset" for m in sink.messages):
        time.sleep(0.05)
    assert any(m.subject == "Your password was reset" for m in sink.messages)


def test_sixth_send_is_429_across_workers(live_server: LiveServer) -> None:
    """The send counter is in the database: five mails within the window, on whichever worker,
    and the sixth recover is 429 with Retry-After."""
    tenant = f"rec-{secrets.token_hex(3)}"
    live_server.cli("tenant", "create", tenant)
    live_server.cli("tenant", "update", tenant, "--set", "recovery_api_auth=anonymous")
    user, _address = _user(live_server, tenant)
    base = live_server.url("/api/users/v2/recovery/password", tenant)
    agent = f"sends-{secrets.token_hex(4)}"
    statuses = []
    for n in range(6):
        with session() as http:  # a new connection each time, so both workers take part
            headers = {"User-Agent": f"{agent}-{n}"}
            started = http.post(
                f"{base}/init",
                json={"claims": [{"uri": "http://wso2.org/claims/username", "value": user}]},
                headers=headers,
                timeout=HTTP_TIMEOUT_S,
            )
            code = started.json()[0]["channelInfo"]["recoveryCode"]
            sent = http.post(
                f"{base}/recover",
                json={"recoveryCode": code, "channelId": "1"},
                headers=headers,
                timeout=HTTP_TIMEOUT_S,
            )
            statuses.append(sent.status_code)
    assert statuses == [202] * 5 + [429]
    assert sent.json()["code"] == "UAR-60001"
    assert int(sent.headers["Retry-After"]) > 0

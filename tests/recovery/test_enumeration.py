"""No account enumeration (OWASP ASVS 2.5.x / 3.x "account recovery does not reveal whether an
account exists"): for a real account, an unknown one, one without a verified address and a
hard-locked one, every step answers the same status and the same bytes apart from the codes and
the traceId; only the real account gets mail. With WSO2's "notify user existence" switch on, the
unknown account is told."""

from __future__ import annotations

import re

import pytest

from tests.factories import assert_wso2_error
from tests.factories import make_tenant
from tests.factories import make_user
from tests.recovery.support import BASE
from tests.recovery.support import EMAIL_CLAIM
from tests.recovery.support import PASSWORD
from tests.recovery.support import WSO2
from tests.recovery.support import confirm
from tests.recovery.support import init
from tests.recovery.support import recover
from tests.support.lockout import lock_row

CODES = re.compile(rb'"(recoveryCode|flowConfirmationCode|resendCode|traceId)": ?"[^"]+"')


def _scrub(body: bytes) -> bytes:
    return CODES.sub(rb'"\1": "-"', body)


def _steps(client, user: str, claim: str | None = None) -> list[tuple[int, bytes]]:
    started = init(client, user, claim) if claim else init(client, user)
    sent = recover(client, started.get_json()[0]["channelInfo"]["recoveryCode"])
    wrong = confirm(client, sent.get_json()["flowConfirmationCode"], "12345678")
    resent = client.post(f"{BASE}/password/resend", json={"resendCode": sent.get_json()["resendCode"]})
    return [(r.status_code, _scrub(r.get_data())) for r in (started, sent, wrong, resent)]


@pytest.fixture
def others(app, tenant):
    make_user(app, tenant, "unverified", PASSWORD, emails=[{"value": "un@example.com", "primary": True}])
    locked = make_user(
        app,
        tenant,
        "locked",
        PASSWORD,
        emails=[{"value": "lo@example.com", "primary": True}],
        **{WSO2: {"emailVerified": True}},
    )
    lock_row(app, tenant, "locked", failures=100, hard_locked=True)
    return locked


def test_every_step_answers_alike(client, kim, others, mail):
    real = _steps(client, "kim")
    assert [status for status, _ in real] == [200, 202, 406, 202]
    for name in ("nobody", "unverified", "locked"):
        assert _steps(client, name) == real, name
    # Only the real account got mail: its code and the resent one.
    messages = mail.wait_for(2)
    assert {m.rcpt_tos[0] for m in messages} == {"kim.berry@example.com"}


def test_by_address_answers_alike(client, kim, mail):
    real = _steps(client, "kim.berry@example.com", EMAIL_CLAIM)
    unknown = _steps(client, "kim.brry@example.com", EMAIL_CLAIM)
    # The masked channel is the address typed, so the two differ there and only there.
    assert [s for s, _ in real] == [s for s, _ in unknown]
    assert real[1:] == unknown[1:]
    assert real[0][1].replace(b"ki" + b"*" * 15, b"") == unknown[0][1].replace(b"ki" + b"*" * 14, b"")


def test_unknown_account_locks_its_sends_like_a_real_one(client, kim, mail):
    for name in ("kim", "nobody"):
        for _ in range(5):
            code = init(client, name).get_json()[0]["channelInfo"]["recoveryCode"]
            assert recover(client, code).status_code == 202
        code = init(client, name).get_json()[0]["channelInfo"]["recoveryCode"]
        assert recover(client, code).status_code == 429, name
    mail.wait_for(5)


def test_notify_user_existence_tells(app, client):
    tenant = make_tenant(app, "tells", recovery_api_auth="anonymous", notify_user_existence=True)
    make_user(
        app,
        tenant,
        "kim",
        PASSWORD,
        emails=[{"value": "kim@example.com", "primary": True}],
        **{WSO2: {"emailVerified": True}},
    )
    make_user(app, tenant, "unverified", PASSWORD, emails=[{"value": "un@example.com", "primary": True}])
    path = "/t/tells/api/users/v2/recovery/password/init"

    def init_as(name):
        return client.post(path, json={"claims": [{"uri": "http://wso2.org/claims/username", "value": name}]})

    assert_wso2_error(init_as("nobody"), 404, "UAR-10002")
    assert_wso2_error(init_as("unverified"), 404, "UAR-10003")
    known = init_as("kim")
    assert known.status_code == 200
    assert known.get_json()[0]["channelInfo"]["channels"][0]["value"] == "ki" + "*" * 9 + ".com"

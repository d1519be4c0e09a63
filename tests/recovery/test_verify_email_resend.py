"""A new confirmation code for a new account held until its address is confirmed (an
administrator's ``verifyEmail``): WSO2's anonymous ``POST /api/identity/user/v1.0/resend-code``
(``RecoveryScenario`` ``EMAIL_VERIFICATION`` or ``SELF_SIGN_UP``, or none) and the sign-in page,
which tells the right password of a held account why it waits and offers a new mail.

The API answers 201 alike for an unknown name, an account that waits for nothing and a held one
(WSO2 answers 400 for the first two: an oracle scim-me does not offer), within the recovery mail
limits per account and per client IP."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from tests.factories import assert_wso2_error
from tests.factories import basic
from tests.factories import make_tenant
from tests.factories import make_user
from tests.recovery.support import CONFIRMATION_CODE as CODE
from tests.recovery.support import ME
from tests.recovery.support import RESEND
from tests.recovery.support import USERS
from tests.recovery.support import VALIDATE
from tests.recovery.support import WSO2
from tests.recovery.support import authorize_url
from tests.recovery.support import resend_form
from tests.recovery.support import sign_in
from tests.support.admin import USER_URN
from tests.support.admin import client_headers
from tests.support.apps import mailing_app
from tests.support.faults import outbox_unavailable
from tests.support.statements import count_statements

PASSWORD = "t1meMa$heen-7"
HELD_MESSAGE = "Confirm your e-mail address: use the link we mailed you."
ANN = {
    "schemas": [USER_URN],
    "userName": "ann",
    "password": PASSWORD,
    "emails": [{"value": "ann@example.com", "primary": True}],
    WSO2: {"verifyEmail": True},
}
ACCOUNT_LIMIT = 2
IP_LIMIT = 5


@pytest.fixture
def app(database_url, tmp_path, mail):
    # Small mail limits, so each limit is reached in a few requests.
    limits = {"recovery_sends_per_window": ACCOUNT_LIMIT, "recovery_ip_sends_per_window": IP_LIMIT}
    with mailing_app(database_url, tmp_path, mail, **limits) as application:
        yield application


@pytest.fixture
def ann(app, client, tenant, mail) -> str:
    """A held account (created with verifyEmail); returns the code first mailed to it."""
    created = client.post(USERS, json=ANN, headers=client_headers(app, tenant))
    assert created.status_code == 201, created.get_json()
    (message,) = mail.wait_for(1)
    # Delivered, and marked so: a test that then takes the outbox away fails its own request,
    # not the sender still finishing this mail.
    assert app.extensions["scim_me"].mailer.wait_idle(20)
    return _code(message)


@pytest.fixture
def kim(app, tenant):
    """An account that waits for nothing."""
    return make_user(app, tenant, "kim", PASSWORD, emails=[{"value": "kim@example.com", "primary": True}])


def _code(message: Any) -> str:
    found = CODE.search(message.text)
    assert found, message.text
    return found.group(1)


def _resend(client: Any, user: str, scenario: str | None = "EMAIL_VERIFICATION", ip: str = "10.0.0.1") -> Any:
    properties = [{"key": "RecoveryScenario", "value": scenario}] if scenario is not None else []
    body = {"user": {"username": user, "realm": "PRIMARY"}, "properties": properties}
    return client.post(RESEND, json=body, environ_base={"REMOTE_ADDR": ip})


def _validate(client: Any, code: str, path: str = VALIDATE) -> Any:
    return client.post(path, json={"code": code, "properties": []})


def _expire_codes(app: Any) -> None:
    db = app.extensions["scim_me"].db
    with db.connection_context():
        db.execute_sql("UPDATE recovery_flows SET expires_at = ?".replace("?", db.param), (datetime(2000, 1, 1),))


def _mail_count(app: Any, mail: Any) -> int:
    app.extensions["scim_me"].mailer.wait_idle(20)
    return len(mail.messages)


@pytest.mark.parametrize("scenario", ["EMAIL_VERIFICATION", "SELF_SIGN_UP", None])
def test_a_resend_mails_a_fresh_code_and_the_old_one_dies(app, client, mail, ann, scenario):
    _expire_codes(app)  # the first code expired: the case a resend is for
    sent = _resend(client, "ann", scenario)
    assert sent.status_code == 201 and sent.get_data() == b""
    _, message = mail.wait_for(2)
    assert message.rcpt_tos == ["ann@example.com"] and message.subject == "Confirm your e-mail address"
    fresh = _code(message)
    assert fresh != ann
    # The previous code is gone (not merely expired); the new one has a lifetime of its own.
    assert_wso2_error(_validate(client, ann), 400, "18001")
    assert _validate(client, fresh).status_code == 202
    assert client.get(ME, headers=basic("ann", PASSWORD)).status_code == 200


def test_only_the_latest_code_works(client, mail, ann):
    assert _resend(client, "ann").status_code == 201
    assert _resend(client, "ANN", "SELF_SIGN_UP").status_code == 201  # userName is case-insensitive
    codes = [_code(message) for message in mail.wait_for(3)]
    assert len(set(codes)) == 3
    for old in codes[:2]:
        assert_wso2_error(_validate(client, old), 400, "18001")
    assert _validate(client, codes[2]).status_code == 202


def test_unknown_unheld_and_held_accounts_get_the_same_answer(app, client, mail, ann, kim):
    answers = {}
    work = {}
    for name in ("ghost", "kim", "ann"):
        with count_statements(app) as statements:
            response = _resend(client, name, ip=f"10.0.1.{len(answers)}")
        answers[name] = (response.status_code, response.get_data(), _headers(response))
        work[name] = [sql.split()[0].upper() for sql in statements if "mail_outbox" not in sql]
    assert answers["ghost"] == answers["kim"] == answers["ann"]
    assert answers["ann"][0] == 201
    # The same statements in the same order (a decoy flow for the others); only the held
    # account's transaction adds the queued mail.
    assert work["ghost"] == work["kim"] == work["ann"], work
    assert [m.rcpt_tos for m in mail.wait_for(2)] == [["ann@example.com"]] * 2
    assert _mail_count(app, mail) == 2


def _headers(response: Any) -> dict[str, str]:
    return {name: value for name, value in response.headers.items() if name.lower() not in ("date",)}


def test_the_mails_are_limited_per_account_alike(app, client, mail, ann, kim):
    refusals = []
    for number, name in enumerate(("ghost", "kim", "ann")):
        ip = f"10.0.2.{number}"
        for _ in range(ACCOUNT_LIMIT):
            assert _resend(client, name, ip=ip).status_code == 201
        refused = _resend(client, name, ip=ip)
        body = assert_wso2_error(refused, 429, "UAR-60001")
        body.pop("traceId")
        refusals.append((body, refused.headers["Retry-After"]))
    assert refusals[0] == refusals[1] == refusals[2]
    assert int(refusals[0][1]) > 0
    # The limit is the account's, not the scenario's or the IP's: another IP is refused too.
    assert _resend(client, "ann", "SELF_SIGN_UP", ip="10.0.2.99").status_code == 429
    assert _mail_count(app, mail) == 1 + ACCOUNT_LIMIT


def test_the_mails_are_limited_per_client_ip(app, client, mail, ann):
    for number in range(IP_LIMIT):
        assert _resend(client, f"name-{number}", ip="10.0.3.1").status_code == 201
    refused = _resend(client, "ann", ip="10.0.3.1")
    assert_wso2_error(refused, 429, "UAR-60001")
    assert int(refused.headers["Retry-After"]) > 0
    assert _mail_count(app, mail) == 1  # the refusal mailed nothing
    # Another client is not held back by it.
    assert _resend(client, "ann", ip="10.0.3.2").status_code == 201
    assert len(mail.wait_for(2)) == 2


@pytest.mark.parametrize(
    ("body", "describes"),
    [
        ([], "user is required"),
        ({"properties": []}, "user is required"),
        ({"user": "ann"}, "user is required"),
        ({"user": {"realm": "PRIMARY"}}, "user is required"),
        ({"user": {"username": "  "}}, "user is required"),
        ({"user": {"username": 7}}, "user is required"),
        ({"user": {"username": "ann", "realm": 1}}, "user.realm must be a string"),
        ({"user": {"username": "ann", "realm": "SECONDARY"}}, "the only user store is PRIMARY"),
        ({"user": {"username": "ann"}, "properties": "x"}, "properties must be a list"),
        (
            {"user": {"username": "ann"}, "properties": [{"key": "RecoveryScenario", "value": "ASK_PASSWORD"}]},
            "Unsupported RecoveryScenario",
        ),
        (
            {"user": {"username": "ann"}, "properties": [{"key": "RecoveryScenario", "value": "NO_SUCH_SCENARIO"}]},
            "Unsupported RecoveryScenario",
        ),
        (
            {"user": {"username": "ann"}, "properties": [{"key": "RecoveryScenario", "value": 3}]},
            "Unsupported RecoveryScenario",
        ),
    ],
)
def test_a_malformed_body_or_another_scenario_is_a_wso2_400(app, client, mail, ann, body, describes):
    refused = client.post(RESEND, json=body)
    error = assert_wso2_error(refused, 400, "UMG-10000")
    assert describes in error["description"], error
    assert _mail_count(app, mail) == 1  # nothing mailed
    assert _validate(client, ann).status_code == 202  # and the code still works


def test_a_body_that_is_not_json_is_refused_in_the_apis_dialect(client, tenant):
    assert_wso2_error(client.post(RESEND, data="user=ann", content_type="text/plain"), 415)
    assert_wso2_error(client.post(RESEND, data="{", content_type="application/json"), 400, "UMG-10000")


def test_a_resend_whose_mail_cannot_be_queued_keeps_the_old_code(app, client, mail, ann):
    with outbox_unavailable(app):
        failed = _resend(client, "ann")
    assert failed.status_code == 500
    assert "Traceback" not in failed.get_data(as_text=True)
    # One transaction: no new code was stored, the old one was not ended, nothing was sent.
    assert _mail_count(app, mail) == 1
    assert _validate(client, ann).status_code == 202
    assert client.get(ME, headers=basic("ann", PASSWORD)).status_code == 200


def test_a_resend_reaches_only_its_own_tenants_account(app, client, mail, ann):
    make_tenant(app, "globex")
    path = "/t/globex/api/identity/user/v1.0/resend-code"
    other = client.post(path, json={"user": {"username": "ann"}, "properties": []})
    assert other.status_code == 201  # as for any name
    assert _mail_count(app, mail) == 1  # acme's ann got nothing, and her code lives on
    assert _validate(client, ann).status_code == 202
    # An unknown tenant is named as such (that is no secret), in the API's dialect.
    assert_wso2_error(client.post("/t/nowhere/api/identity/user/v1.0/resend-code", json={}), 404, "UMG-10004")


# -- the sign-in page ------------------------------------------------------------------------------


def test_the_right_password_of_a_held_account_is_told_why_and_can_ask_again(app, client, tenant, mail, ann):
    url = authorize_url(app, tenant)
    held = sign_in(client, url, "ann", PASSWORD)
    assert held.status_code == 403
    html = held.get_data(as_text=True)
    assert HELD_MESSAGE in html
    action, fields = resend_form(html)
    assert action.startswith("/t/acme/accountrecoveryendpoint/confirm-email/resend?return_to=")
    assert fields["username"] == "ann" and fields["csrf_token"]
    # Nobody was signed in.
    assert "Location" not in held.headers
    assert client.get(ME, headers=basic("ann", PASSWORD)).status_code == 401

    sent = client.post(action, data=fields)
    assert sent.status_code == 303, sent.get_data(as_text=True)
    back = client.get(sent.headers["Location"])
    assert back.status_code == 200 and "we mailed you a new link" in back.get_data(as_text=True)
    _, message = mail.wait_for(2)
    assert_wso2_error(_validate(client, ann), 400, "18001")
    assert _validate(client, _code(message)).status_code == 202
    signed_in = sign_in(client, url, "ann", PASSWORD)
    assert signed_in.status_code == 302, signed_in.get_data(as_text=True)


def test_a_wrong_password_of_a_held_account_is_answered_as_any_wrong_password(app, client, tenant, mail, ann, kim):
    url = authorize_url(app, tenant)
    pages = {}
    for name in ("ann", "kim", "ghost"):
        response = sign_in(client, url, name, "wrong-guess-1")
        pages[name] = (response.status_code, response.get_data(as_text=True).count("incorrect"))
        assert HELD_MESSAGE not in response.get_data(as_text=True)
        assert "resend-confirmation" not in response.get_data(as_text=True)
    assert pages["ann"] == pages["kim"] == pages["ghost"] == (401, 1)


def test_failures_on_a_held_account_count_and_the_right_password_keeps_the_hold(app, client, tenant, mail, ann):
    url = authorize_url(app, tenant)
    for attempt in range(4):
        assert sign_in(client, url, "ann", f"wrong-{attempt}").status_code == 401
    assert sign_in(client, url, "ann", PASSWORD).status_code == 403  # resets the count, as any success
    for attempt in range(5):
        assert sign_in(client, url, "ann", f"wrong-{attempt}").status_code == 401
    throttled = sign_in(client, url, "ann", PASSWORD)
    assert throttled.status_code == 429 and throttled.headers["Retry-After"]
    # Still held throughout: the code confirms it.
    assert (
        client.get(f'{USERS}?filter=userName eq "ann"', headers=client_headers(app, tenant)).get_json()["Resources"][0][
            WSO2
        ]["lockedReason"]
        == "PENDING_EMAIL_VERIFICATION"
    )


def test_the_resend_form_needs_its_csrf_token(app, client, tenant, mail, ann):
    url = authorize_url(app, tenant)
    action, fields = resend_form(sign_in(client, url, "ann", PASSWORD).get_data(as_text=True))
    for forged in ({**fields, "csrf_token": "forged"}, {"username": "ann"}):
        refused = client.post(action, data=forged)
        assert refused.status_code == 400 and "The form expired" in refused.get_data(as_text=True)
    assert app.test_client().post(action, data=fields).status_code == 400  # another browser's token
    assert _mail_count(app, mail) == 1
    assert _validate(client, ann).status_code == 202


def test_guessing_up_to_the_hard_lock_makes_the_hold_an_ordinary_lock(app, client, tenant, mail, ann):
    from scim_me.storage.throttle import LockoutPolicy
    from scim_me.storage.throttle import account_key
    from scim_me.storage.throttle import lock_state
    from scim_me.storage.throttle import reserve
    from scim_me.storage.throttle import succeeded
    from scim_me.storage.users import now

    policy = LockoutPolicy(max_failures=50, hard_lock_failures=2)
    key = account_key(tenant.id, "ann")
    with app.extensions["scim_me"].db.connection_context():
        first = reserve(tenant.id, key, None, policy, now())
        assert first.allowed and first.held and not first.hard_locks
        succeeded(key, None, now(), held=True)  # the right password: still held, count reset
        assert lock_state(tenant.id, "ann", now()).email_pending
        for _ in range(2):
            guess = reserve(tenant.id, key, None, policy, now())
            assert guess.allowed and guess.held
        assert guess.hard_locks
        state = lock_state(tenant.id, "ann", now())
        assert state.hard and not state.email_pending
        assert not reserve(tenant.id, key, None, policy, now()).allowed
    # Confirming the address no longer lifts it: an administrator must.
    assert _validate(client, ann).status_code == 202
    assert client.get(ME, headers=basic("ann", PASSWORD)).status_code == 401

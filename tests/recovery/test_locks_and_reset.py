"""A password reset by mail proves who the user is, not that a lock should end: a lock that
failures set for a while ends with the reset, but one held until an administrator or operator
lifts it (an administrator's ``accountLocked``, or the hard lock of too many failures) refuses
the reset, even with a code mailed before the lock."""

from __future__ import annotations

from typing import Any

from scim_me.storage.models import LoginThrottle
from scim_me.storage.throttle import account_key
from scim_me.storage.users import now
from tests.factories import basic
from tests.factories import patch_body
from tests.recovery.support import ME
from tests.recovery.support import NEW_PASSWORD
from tests.recovery.support import PASSWORD
from tests.recovery.support import WSO2
from tests.recovery.support import code_from
from tests.recovery.support import confirm
from tests.recovery.support import reset
from tests.recovery.support import start_and_send
from tests.support.admin import client_headers
from tests.support.lockout import lock_row


def _reset_code(client: Any, mail: Any) -> str:
    sent = start_and_send(client)
    otp = code_from(mail.wait_for(1)[0])
    confirmed = confirm(client, sent["flowConfirmationCode"], otp)
    assert confirmed.status_code == 200, confirmed.get_data(as_text=True)
    return str(confirmed.get_json()["resetCode"])


def _refused(response: Any) -> None:
    """WSO2's answer to a reset code that is not valid (406 UAR-10001): nothing more is said."""
    assert response.status_code == 406, response.get_data(as_text=True)
    assert response.get_json()["code"] == "UAR-10001"


def test_an_administrators_lock_outlives_a_code_mailed_before_it(app, client, tenant, kim, mail):
    code = _reset_code(client, mail)
    lock = patch_body({"op": "replace", "path": f"{WSO2}:accountLocked", "value": True})
    assert (
        client.patch(f"/t/acme/scim2/Users/{kim.id}", json=lock, headers=client_headers(app, tenant)).status_code == 200
    )
    _refused(reset(client, code))
    assert client.get(ME, headers=basic("kim", NEW_PASSWORD)).status_code == 401
    assert client.get(ME, headers=basic("kim", PASSWORD)).status_code == 401


def test_a_hard_lock_from_failures_refuses_the_reset(app, client, tenant, kim, mail):
    code = _reset_code(client, mail)
    lock_row(app, tenant, "kim", failures=20, hard_locked=True)
    _refused(reset(client, code))
    assert client.get(ME, headers=basic("kim", NEW_PASSWORD)).status_code == 401
    with app.extensions["scim_me"].db.connection_context():
        assert LoginThrottle.get(LoginThrottle.key == account_key(tenant.id, "kim")).hard_locked


def test_a_lock_from_failures_for_a_while_ends_with_the_reset(app, client, tenant, kim, mail):
    from datetime import timedelta

    code = _reset_code(client, mail)
    lock_row(app, tenant, "kim", failures=5, locked_until=now() + timedelta(minutes=5))
    assert reset(client, code).status_code == 200
    assert client.get(ME, headers=basic("kim", NEW_PASSWORD)).status_code == 200

"""A factor's change and its security event commit together (auth/mfa.py, auth/passkeys.py): the
event carries, in its transaction, the notice to the user (ASVS 6.3.7), the alert and the
revocation of trusted devices. So when any of those fails the factor stays as it was, and the
retry finds it there and does the whole change; before, the factor was gone, nobody was told,
and the retry found nothing left to remove and recorded nothing."""

from __future__ import annotations

from typing import Any

import pyotp
import pytest

from tests.api.test_webauthn_api import BASE as WEBAUTHN
from tests.api.test_webauthn_api import _register
from tests.factories import bearer
from tests.factories import make_tenant
from tests.factories import make_token
from tests.factories import make_user
from tests.support.authenticator import SoftAuthenticator
from tests.support.faults import outbox_unavailable

ME = "/t/acme/api/users/v1/me"
WSO2 = "urn:scim:wso2:schema"


@pytest.fixture
def auth(app: Any) -> dict[str, str]:
    tenant = make_tenant(app, "acme")
    kim = make_user(app, tenant, "kim", emails=[{"value": "kim@example.com"}])  # a notice has somewhere to go
    return bearer(make_token(app, tenant, kim))


def _enrol_totp(client: Any, auth: dict[str, str]) -> None:
    assert client.post(f"{ME}/totp", json={"action": "INIT"}, headers=auth).status_code == 200
    secret = client.get(f"{ME}/totp/secret", headers=auth).get_json()["secret"]
    code = pyotp.TOTP(secret).now()
    validated = client.post(f"{ME}/totp", json={"action": "VALIDATE", "verificationCode": code}, headers=auth)
    assert validated.get_json() == {"isValid": True}


def _totp_enabled(client: Any, auth: dict[str, str]) -> Any:
    return client.get("/t/acme/scim2/Me", headers=auth).get_json()[WSO2]["totpEnabled"]


def _failing_then_working(app: Any, call: Any) -> None:
    with outbox_unavailable(app):
        failed = call()
    assert failed.status_code == 500, failed.get_data(as_text=True)
    assert set(failed.get_json()) == {"code", "message", "description", "traceId"}


def test_turning_totp_off_is_whole_or_nothing(app: Any, client: Any, auth: dict[str, str]) -> None:
    _enrol_totp(client, auth)
    _failing_then_working(app, lambda: client.delete(f"{ME}/totp", headers=auth))
    assert _totp_enabled(client, auth) == "true"
    assert client.delete(f"{ME}/totp", headers=auth).status_code == 200
    assert _totp_enabled(client, auth) == "false"


def test_removing_backup_codes_is_whole_or_nothing(app: Any, client: Any, auth: dict[str, str]) -> None:
    _enrol_totp(client, auth)
    assert client.post(f"{ME}/backup-codes", headers=auth).status_code == 200

    def remaining() -> int:
        return int(client.get(f"{ME}/backup-codes", headers=auth).get_json()["remainingBackupCodesCount"])

    before = remaining()
    assert before > 0
    _failing_then_working(app, lambda: client.delete(f"{ME}/backup-codes", headers=auth))
    assert remaining() == before
    assert client.delete(f"{ME}/backup-codes", headers=auth).status_code == 200
    assert remaining() == 0


def test_removing_a_passkey_is_whole_or_nothing(app: Any, client: Any, auth: dict[str, str]) -> None:
    credential_id = _register(client, auth, SoftAuthenticator())["credential"]["credentialId"]

    def listed() -> list[str]:
        return [c["credential"]["credentialId"] for c in client.get(WEBAUTHN, headers=auth).get_json()]

    _failing_then_working(app, lambda: client.delete(f"{WEBAUTHN}/{credential_id}", headers=auth))
    assert listed() == [credential_id]
    assert client.delete(f"{WEBAUTHN}/{credential_id}", headers=auth).status_code in (200, 204)
    assert listed() == []

"""No log line holds a secret (security.md T-LOG-1): a user's whole round of sign-ins and factor
changes, logged at DEBUG by every logger, leaves none of its passwords, codes, tokens, TOTP
seed or backup codes in the log, and a value with CR/LF in it cannot start a log line of its own.
"""

from __future__ import annotations

import base64
import logging
import time
from urllib.parse import parse_qs
from urllib.parse import urlsplit

import time_machine

from scim_me.core import otp
from tests.factories import bearer
from tests.factories import make_tenant
from tests.factories import make_user
from tests.factories import password_client
from tests.oauth.test_authorize import _code_from
from tests.oauth.test_authorize import _exchange
from tests.oauth.test_authorize import _params
from tests.oauth.test_authorize import _sign_in
from tests.oauth.test_authorize import pkce
from tests.support.apps import build_app
from tests.support.privacy import make_spa

PASSWORD = "correct-horse-9"
WRONG = "Wrong-Guess-Sentinel-77"
TOKEN = "/t/acme/oauth2/token"
MFA = "/t/acme/api/users/v1/me"


def test_a_round_of_sign_ins_and_factor_changes_logs_no_secret(database_url, tmp_path, caplog):
    # JSON logs, so every request also leaves its access line; DEBUG for every logger.
    app = build_app(database_url, tmp_path, log_format="json", log_level="DEBUG")
    client = app.test_client()
    caplog.set_level(logging.DEBUG)
    tenant = make_tenant(app, "acme")
    make_user(app, tenant, "kim", PASSWORD, emails=[{"value": "kim@example.com", "primary": True}])
    spa = make_spa(app, tenant, "My SPA", first_party=True)
    _record, client_secret, app_auth = password_client(
        app, tenant, ("password", "refresh_token"), "openid internal_login"
    )
    secrets: dict[str, str] = {"password": PASSWORD, "wrong password": WRONG, "client secret": client_secret}

    # The authorization code flow (PKCE): the code, the verifier and the tokens.
    verifier, challenge = pkce()
    code = _code_from(_sign_in(client, _params(spa.client_id, challenge)))
    issued = _exchange(client, spa, code, verifier).get_json()
    secrets.update(code=code, verifier=verifier, access=issued["access_token"])

    # The password grant, a wrong password, a refresh.
    grant = {"grant_type": "password", "username": "kim", "scope": "openid internal_login"}
    assert client.post(TOKEN, data={**grant, "password": WRONG}, headers=app_auth).status_code in (400, 401)
    tokens = client.post(TOKEN, data={**grant, "password": PASSWORD}, headers=app_auth).get_json()
    refreshed = client.post(
        TOKEN, data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}, headers=app_auth
    ).get_json()
    secrets.update(
        granted=tokens["access_token"], refresh=tokens["refresh_token"], refreshed=refreshed["refresh_token"]
    )
    auth = bearer(refreshed["access_token"])

    # TOTP enrolment (its seed and a code) and backup codes.
    now = (int(time.time()) // 30) * 30 + 5.0
    with time_machine.travel(now, tick=False):
        init = client.post(f"{MFA}/totp", json={"action": "INIT"}, headers=auth).get_json()
        seed = parse_qs(urlsplit(base64.b64decode(init["qrCodeUrl"]).decode()).query)["secret"][0]
        totp = otp.code_at(seed, now, otp.TotpPolicy())
        valid = client.post(f"{MFA}/totp", json={"action": "VALIDATE", "verificationCode": totp}, headers=auth)
        assert valid.get_json() == {"isValid": True}
    backup = client.post(f"{MFA}/backup-codes", headers=auth).get_json()["backupCodes"]
    secrets.update(seed=seed, totp=totp, **{f"backup code {n}": value for n, value in enumerate(backup)})

    # Values carrying CR/LF where a client chooses them (log injection): a path and a userName.
    forged = "x\r\nINFO scim_me.access forged line"
    client.get("/t/acme/scim2/Users/x%0D%0AINFO%20scim_me.access%20forged%20line", headers=auth)
    client.post(TOKEN, data={**grant, "username": forged, "password": WRONG}, headers=app_auth)

    logged = caplog.text
    assert caplog.records, "nothing was logged: the check below would pass for nothing"
    leaked = sorted(name for name, value in secrets.items() if value and value in logged)
    assert leaked == [], f"in the log: {leaked}"
    # A forged line would start a line of the log of its own, as a logged line does.
    assert not [line for line in logged.splitlines() if line.startswith("INFO scim_me.access forged")]

"""MFA self-service API on WSO2's paths (wso2-api.md §5, §6, §8; security.md T-MFA), with a
controlled clock (time-machine) so every TOTP step is chosen by the test."""

from __future__ import annotations

import base64
import time
from typing import Any
from urllib.parse import parse_qs
from urllib.parse import urlsplit

import time_machine

from scim_me.core import otp
from scim_me.core.schemas import WSO2_URN
from scim_me.storage.events import list_events
from scim_me.storage.mfa import get_state
from scim_me.web.sections import Subject
from scim_me.web.sections import export_sections
from scim_me.web.sections import overview_sections
from tests.factories import assert_wso2_error
from tests.factories import basic
from tests.factories import bearer
from tests.factories import make_tenant
from tests.factories import make_token
from tests.factories import make_user
from tests.support.apps import build_app

ME = "/t/acme/api/users/v1/me"
POLICY = otp.TotpPolicy()
PASSWORD = "correct-horse-9"


def _start() -> float:
    """A frozen time near now (tokens stay valid), 5 s into a step."""
    return (int(time.time()) // 30) * 30 + 5.0


def _setup(app: Any, dialect: str = "wso2", name: str = "kim") -> tuple[Any, Any, dict[str, str]]:
    tenant = make_tenant(app, "acme", dialect=dialect)
    user = make_user(app, tenant, name)
    return tenant, user, bearer(make_token(app, tenant, user))


def _secret_from_qr(body: dict[str, Any]) -> str:
    uri = base64.b64decode(body["qrCodeUrl"]).decode()
    return parse_qs(urlsplit(uri).query)["secret"][0]


def _code(secret: str, at: float) -> int:
    return int(otp.code_at(secret, at, POLICY))


def _enrol(client: Any, auth: dict[str, str], at: float) -> str:
    init = client.post(f"{ME}/totp", json={"action": "INIT"}, headers=auth)
    assert init.status_code == 200, init.json
    secret = _secret_from_qr(init.json)
    valid = client.post(f"{ME}/totp", json={"action": "VALIDATE", "verificationCode": _code(secret, at)}, headers=auth)
    assert valid.status_code == 200 and valid.json == {"isValid": True}, valid.json
    return secret


def _validate(client: Any, auth: dict[str, str], code: Any) -> Any:
    return client.post(f"{ME}/totp", json={"action": "VALIDATE", "verificationCode": code}, headers=auth)


def _with_db(app: Any, fn: Any, *args: Any) -> Any:
    with app.app_context(), app.extensions["scim_me"].db.connection_context():
        return fn(*args)


def test_get_totp_gives_a_pending_secret_as_wso2_qr_code_url(app: Any, client: Any) -> None:
    tenant, user, auth = _setup(app)
    first = client.get(f"{ME}/totp", headers=auth)
    assert first.status_code == 200
    assert set(first.json) == {"qrCodeUrl"}
    uri = base64.b64decode(first.json["qrCodeUrl"]).decode()
    assert uri.startswith("otpauth://totp/acme:kim?secret=")
    assert parse_qs(urlsplit(uri).query)["period"] == ["30"]
    secret = _secret_from_qr(first.json)
    # The same pending secret until INIT/REFRESH: two tabs see one secret.
    assert _secret_from_qr(client.get(f"{ME}/totp", headers=auth).json) == secret
    assert client.get(f"{ME}/totp/secret", headers=auth).json == {"secret": secret}
    view = client.post(f"{ME}/totp", json={"action": "VIEW"}, headers=auth)
    assert _secret_from_qr(view.json) == secret
    # A pending secret is not an enrolment: nothing is enabled, sign-in is not gated.
    state = _with_db(app, get_state, tenant.id, user.id)
    assert (state.totp_active, state.totp_pending) == (False, True)


def test_init_and_refresh_make_new_pending_secrets(app: Any, client: Any) -> None:
    _tenant, _user, auth = _setup(app)
    a = _secret_from_qr(client.post(f"{ME}/totp", json={"action": "INIT"}, headers=auth).json)
    b = _secret_from_qr(client.post(f"{ME}/totp", json={"action": "REFRESH"}, headers=auth).json)
    assert a != b
    assert client.get(f"{ME}/totp/secret", headers=auth).json == {"secret": b}


def test_validate_activates_and_the_scim_view_shows_it(app: Any, client: Any) -> None:
    tenant, user, auth = _setup(app)
    at = _start()
    with time_machine.travel(at, tick=False):
        me = client.get("/t/acme/scim2/Me", headers=auth)
        assert "totpEnabled" not in me.json.get(WSO2_URN, {})  # as WSO2: no claim until MFA is touched
        client.post(f"{ME}/totp", json={"action": "INIT"}, headers=auth)
        me = client.get("/t/acme/scim2/Me", headers=auth)
        assert me.json[WSO2_URN]["totpEnabled"] == "false"
        assert me.json[WSO2_URN]["backupCodeEnabled"] == "false"
        etag = me.headers["ETag"]
        _enrol(client, auth, at)
        me = client.get("/t/acme/scim2/Me", headers=auth)
    assert me.json[WSO2_URN]["totpEnabled"] == "true"
    assert me.headers["ETag"] != etag  # the view changed, so its version did
    state = _with_db(app, get_state, tenant.id, user.id)
    assert (state.totp_active, state.totp_pending, state.last_used_step) == (True, False, int(at) // 30)
    kinds = [e.kind for e in _with_db(app, list_events, tenant.id, user.id)]
    assert "mfa.totp.enrolled" in kinds


def test_rfc_dialect_shows_booleans(app: Any, client: Any) -> None:
    _tenant, _user, auth = _setup(app, dialect="rfc")
    me = client.get("/t/acme/scim2/Me", headers=auth)
    assert WSO2_URN not in me.json  # unassigned while MFA was never touched
    client.post(f"{ME}/backup-codes", headers=auth)
    me = client.get("/t/acme/scim2/Me", headers=auth)
    assert me.json[WSO2_URN] == {"totpEnabled": False, "backupCodeEnabled": True}
    assert WSO2_URN in me.json["schemas"]


def test_totp_enabled_is_read_only_for_the_user(app: Any, client: Any) -> None:
    _tenant, _user, auth = _setup(app)
    body = {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "path": f"{WSO2_URN}:totpEnabled", "value": "true"}],
    }
    client.get(f"{ME}/totp", headers=auth)
    response = client.patch("/t/acme/scim2/Me", json=body, headers=auth)
    assert response.status_code == 400, response.json
    assert response.json["scimType"] == "mutability"
    assert client.get("/t/acme/scim2/Me", headers=auth).json[WSO2_URN]["totpEnabled"] == "false"


def test_a_wrong_code_is_not_valid(app: Any, client: Any) -> None:
    _tenant, _user, auth = _setup(app)
    at = _start()
    with time_machine.travel(at, tick=False):
        secret = _secret_from_qr(client.post(f"{ME}/totp", json={"action": "INIT"}, headers=auth).json)
        wrong = (_code(secret, at) + 1) % 1_000_000
        assert _validate(client, auth, wrong).json == {"isValid": False}
        # a client-supplied time is ignored (ASVS 6.5.8)
        later = _code(secret, at + 300)
        response = client.post(
            f"{ME}/totp", json={"action": "VALIDATE", "verificationCode": later, "time": at + 300}, headers=auth
        )
        assert response.json == {"isValid": False}


def test_integer_code_with_leading_zero_is_padded(app: Any, client: Any) -> None:
    tenant, user, auth = _setup(app)
    at = _start()
    with time_machine.travel(at, tick=False):
        secret = _secret_from_qr(client.post(f"{ME}/totp", json={"action": "INIT"}, headers=auth).json)
    # Find a step whose code starts with 0 (about one in ten), then go there.
    when = next(at + 30 * k for k in range(1, 400) if otp.code_at(secret, at + 30 * k, POLICY).startswith("0"))
    with time_machine.travel(when, tick=False):
        code = otp.code_at(secret, when, POLICY)
        fresh = bearer(make_token(app, tenant, user))  # the first token expired on the way
        assert _validate(client, fresh, int(code)).json == {"isValid": True}


def test_enrolment_window(app: Any, client: Any) -> None:
    _tenant, _user, auth = _setup(app)
    at = _start()
    with time_machine.travel(at, tick=False):
        secret = _secret_from_qr(client.post(f"{ME}/totp", json={"action": "INIT"}, headers=auth).json)
        codes = {k: otp.code_at(secret, at + 30 * k, POLICY) for k in (-2, -1, 0, 1, 2)}
        for k in (-2, 1, 2):
            if codes[k] not in (codes[0], codes[-1]):
                assert _validate(client, auth, int(codes[k])).json == {"isValid": False}, k
        assert _validate(client, auth, int(codes[-1])).json == {"isValid": True}


def test_replay_and_older_step_are_refused(app: Any, client: Any) -> None:
    """T-MFA-3: the enrolment code cannot be used again; after step t is used, t-1 is refused."""
    _tenant, _user, auth = _setup(app)
    at = _start()
    with time_machine.travel(at, tick=False):
        secret = _enrol(client, auth, at)
        assert _validate(client, auth, _code(secret, at)).json == {"isValid": False}
    with time_machine.travel(at + 30, tick=False):
        assert _validate(client, auth, _code(secret, at + 30)).json == {"isValid": True}
        assert _validate(client, auth, _code(secret, at + 30)).json == {"isValid": False}
        assert _validate(client, auth, _code(secret, at)).json == {"isValid": False}  # t-1, after t


def test_re_enrolment_invalidates_the_old_secret(app: Any, client: Any) -> None:
    _tenant, _user, auth = _setup(app)
    at = _start()
    with time_machine.travel(at, tick=False):
        old = _enrol(client, auth, at)
    with time_machine.travel(at + 30, tick=False):
        new = _secret_from_qr(client.post(f"{ME}/totp", json={"action": "REFRESH"}, headers=auth).json)
        assert new != old
        assert _validate(client, auth, _code(new, at + 30)).json == {"isValid": True}
    with time_machine.travel(at + 60, tick=False):
        assert _validate(client, auth, _code(old, at + 60)).json == {"isValid": False}
        assert _validate(client, auth, _code(new, at + 60)).json == {"isValid": True}


def test_throttle_locks_with_growing_delays_and_recovers(app: Any, client: Any) -> None:
    """T-MFA-5: 5 wrong codes lock MFA; while locked even the right code is not evaluated (429,
    Retry-After); the lock grows (60 s, then 120 s); a success resets the counter."""
    tenant, user, auth = _setup(app)
    at = _start()
    with time_machine.travel(at, tick=False):
        secret = _enrol(client, auth, at)
    t = at + 30
    with time_machine.travel(t, tick=False):
        wrong = (_code(secret, t) + 1) % 1_000_000
        for _ in range(5):
            assert _validate(client, auth, wrong).json == {"isValid": False}
        locked = _validate(client, auth, _code(secret, t))
        body = assert_wso2_error(locked, 429, "TOTP-10006")
        assert locked.headers["Retry-After"] == "60"
        assert "locked" in body["description"]
    state = _with_db(app, get_state, tenant.id, user.id)
    assert state.failures == 5 and state.last_used_step == int(at) // 30  # the right code was not used
    t += 61
    with time_machine.travel(t, tick=False):
        assert _validate(client, auth, wrong).json == {"isValid": False}  # evaluated again, and wrong
        again = _validate(client, auth, _code(secret, t))
        assert_wso2_error(again, 429, "TOTP-10006")
        assert again.headers["Retry-After"] == "120"
    t += 121
    with time_machine.travel(t, tick=False):
        assert _validate(client, auth, _code(secret, t)).json == {"isValid": True}
    state = _with_db(app, get_state, tenant.id, user.id)
    assert (state.failures, state.locked_until) == (0, None)
    kinds = [e.kind for e in _with_db(app, list_events, tenant.id, user.id)]
    assert kinds.count("mfa.locked") == 2
    assert kinds.count("mfa.totp.failure") == 6


def test_delete_disables_totp(app: Any, client: Any) -> None:
    tenant, user, auth = _setup(app)
    at = _start()
    with time_machine.travel(at, tick=False):
        secret = _enrol(client, auth, at)
        deleted = client.delete(f"{ME}/totp", headers=auth)
        assert deleted.status_code == 200 and deleted.get_data() == b""
        assert client.get("/t/acme/scim2/Me", headers=auth).json[WSO2_URN]["totpEnabled"] == "false"
    with time_machine.travel(at + 30, tick=False):
        assert _validate(client, auth, _code(secret, at + 30)).status_code == 400  # nothing to validate
    kinds = [e.kind for e in _with_db(app, list_events, tenant.id, user.id)]
    assert "mfa.totp.disabled" in kinds


def test_validate_input_errors_are_400_with_clear_messages(app: Any, client: Any) -> None:
    _tenant, _user, auth = _setup(app)
    no_enrolment = _validate(client, auth, 123456)
    assert "INIT" in assert_wso2_error(no_enrolment, 400, "TOTP-10007")["description"]
    client.post(f"{ME}/totp", json={"action": "INIT"}, headers=auth)
    missing = client.post(f"{ME}/totp", json={"action": "VALIDATE"}, headers=auth)
    assert "verificationCode" in assert_wso2_error(missing, 400, "TOTP-10004")["description"]  # WSO2: 505
    for bad in ("abc", 1_000_000, -5, True, None, 1.5):
        assert_wso2_error(_validate(client, auth, bad), 400, "TOTP-10004")
    unknown = client.post(f"{ME}/totp", json={"action": "ENABLE"}, headers=auth)
    assert "INIT" in assert_wso2_error(unknown, 400, "TOTP-10002")["description"]
    assert_wso2_error(client.post(f"{ME}/totp", json={}, headers=auth), 400, "TOTP-10002")
    assert_wso2_error(client.post(f"{ME}/totp", data="{not json", headers=auth), 400, "TOTP-10008")
    assert_wso2_error(client.post(f"{ME}/totp", json=["INIT"], headers=auth), 400, "TOTP-10008")


def test_auth_errors(app: Any, client: Any) -> None:
    tenant, user, _auth = _setup(app)
    assert_wso2_error(client.get(f"{ME}/totp"), 401, "TOTP-10001")
    assert_wso2_error(client.get(f"{ME}/totp", headers=bearer("not-a-token")), 401, "TOTP-10001")
    no_scope = bearer(make_token(app, tenant, user, scope="openid"))
    assert_wso2_error(client.get(f"{ME}/totp", headers=no_scope), 403, "TOTP-10001")
    assert_wso2_error(client.get(f"{ME}/backup-codes", headers=no_scope), 403, "BCA-10001")
    app_token = bearer(make_token(app, tenant, None))
    assert_wso2_error(client.get(f"{ME}/backup-codes", headers=app_token), 403, "BCA-10001")


def test_basic_is_refused_except_for_validate(app: Any, client: Any) -> None:
    _tenant, _user, auth = _setup(app)
    creds = basic("kim", PASSWORD)
    assert_wso2_error(client.get(f"{ME}/totp", headers=creds), 403, "TOTP-10005")
    assert_wso2_error(client.get(f"{ME}/totp/secret", headers=creds), 403, "TOTP-10005")
    assert_wso2_error(client.post(f"{ME}/totp", json={"action": "INIT"}, headers=creds), 403, "TOTP-10005")
    assert_wso2_error(client.delete(f"{ME}/totp", headers=creds), 403, "TOTP-10005")
    assert_wso2_error(client.get(f"{ME}/backup-codes", headers=creds), 403, "BCA-10005")
    assert_wso2_error(client.post(f"{ME}/backup-codes", headers=creds), 403, "BCA-10005")
    assert_wso2_error(client.delete(f"{ME}/backup-codes", headers=creds), 403, "BCA-10005")
    # Refused before the password is checked: a wrong password gets the same answer.
    assert_wso2_error(client.get(f"{ME}/totp", headers=basic("kim", "wrong")), 403, "TOTP-10005")
    at = _start()
    with time_machine.travel(at, tick=False):
        secret = _secret_from_qr(client.post(f"{ME}/totp", json={"action": "INIT"}, headers=auth).json)
        ok = client.post(
            f"{ME}/totp", json={"action": "VALIDATE", "verificationCode": _code(secret, at)}, headers=creds
        )
        assert ok.status_code == 200 and ok.json == {"isValid": True}
        bad_password = client.post(
            f"{ME}/totp", json={"action": "VALIDATE", "verificationCode": 1}, headers=basic("kim", "wrong")
        )
        assert_wso2_error(bad_password, 401, "TOTP-10001")


def test_bare_paths_serve_the_default_tenant(app: Any, client: Any) -> None:
    tenant = make_tenant(app, "carbon.super")
    user = make_user(app, tenant, "sam")
    auth = bearer(make_token(app, tenant, user))
    assert client.get("/api/users/v1/me/totp", headers=auth).status_code == 200
    assert client.post("/api/users/v1/me/backup-codes", headers=auth).status_code == 200
    assert client.get("/api/users/v1/me/backup-codes", headers=auth).json == {"remainingBackupCodesCount": 10}
    # A token of another tenant does not work here.
    other = _setup(app)[2]
    assert_wso2_error(client.get("/api/users/v1/me/totp", headers=other), 401, "TOTP-10001")


def test_backup_codes_lifecycle(app: Any, client: Any) -> None:
    tenant, user, auth = _setup(app)
    assert client.get(f"{ME}/backup-codes", headers=auth).json == {"remainingBackupCodesCount": 0}
    first = client.post(f"{ME}/backup-codes", headers=auth)
    assert first.status_code == 200
    codes = first.json["backupCodes"]
    assert len(codes) == 10 == len(set(codes))
    assert all(len(c) == 10 for c in codes)
    assert client.get(f"{ME}/backup-codes", headers=auth).json == {"remainingBackupCodesCount": 10}
    assert client.get("/t/acme/scim2/Me", headers=auth).json[WSO2_URN]["backupCodeEnabled"] == "true"
    second = client.post(f"{ME}/backup-codes", headers=auth).json["backupCodes"]
    assert not set(codes) & set(second)
    deleted = client.delete(f"{ME}/backup-codes", headers=auth)
    assert deleted.status_code == 200 and deleted.get_data() == b""
    assert client.get(f"{ME}/backup-codes", headers=auth).json == {"remainingBackupCodesCount": 0}
    assert client.get("/t/acme/scim2/Me", headers=auth).json[WSO2_URN]["backupCodeEnabled"] == "false"
    kinds = [e.kind for e in _with_db(app, list_events, tenant.id, user.id)]
    assert kinds.count("mfa.backup_codes.generated") == 2 and "mfa.backup_codes.removed" in kinds


def test_backup_code_count_and_length_are_configurable(database_url: str, tmp_path: Any) -> None:
    app = build_app(database_url, tmp_path, backup_code_count=4, backup_code_length=6)
    try:
        _tenant, _user, auth = _setup(app)
        codes = app.test_client().post(f"{ME}/backup-codes", headers=auth).json["backupCodes"]
        assert len(codes) == 4 and {len(c) for c in codes} == {6}
    finally:
        app.extensions["scim_me"].db.close_all()


def test_authenticators(app: Any, client: Any) -> None:
    _tenant, _user, auth = _setup(app)
    assert client.get(f"{ME}/mfa/authenticators", headers=auth).json == {"enabledAuthenticators": ""}
    client.post(f"{ME}/backup-codes", headers=auth)
    assert client.get(f"{ME}/mfa/authenticators", headers=auth).json == {"enabledAuthenticators": "BackupCode"}
    chosen = client.post(f"{ME}/mfa/authenticators", json={"enabledAuthenticators": "TOTP, BackupCode"}, headers=auth)
    assert chosen.status_code == 200 and chosen.json == {"enabledAuthenticators": "TOTP,BackupCode"}
    assert client.get(f"{ME}/mfa/authenticators", headers=auth).json == {"enabledAuthenticators": "TOTP,BackupCode"}
    for bad in ({"enabledAuthenticators": 3}, {}, {"enabledAuthenticators": "a b"}):
        assert_wso2_error(client.post(f"{ME}/mfa/authenticators", json=bad, headers=auth), 400, "MFA-10002")
    assert_wso2_error(client.get(f"{ME}/mfa/authenticators", headers=basic("kim", PASSWORD)), 403, "MFA-10005")


def test_qr_code_images(app: Any, client: Any) -> None:
    _tenant, _user, auth = _setup(app)
    svg = client.get(f"{ME}/totp/qr-code", headers=auth)
    assert svg.status_code == 200 and svg.mimetype == "image/svg+xml"
    assert svg.get_data().lstrip().startswith(b"<svg")
    png = client.get(f"{ME}/totp/qr-code", headers={**auth, "Accept": "image/png"})
    assert png.mimetype == "image/png" and png.get_data().startswith(b"\x89PNG\r\n\x1a\n")
    assert client.get(f"{ME}/totp/qr-code?format=png", headers=auth).mimetype == "image/png"
    assert_wso2_error(client.get(f"{ME}/totp/qr-code?format=gif", headers=auth), 400, "TOTP-10009")
    assert_wso2_error(client.get(f"{ME}/totp/qr-code", headers={**auth, "Accept": "text/html"}), 406, "TOTP-10009")


def test_sections_hold_state_and_no_secret(app: Any, client: Any) -> None:
    tenant, user, auth = _setup(app)
    at = _start()
    with time_machine.travel(at, tick=False):
        secret = _enrol(client, auth, at)
    codes = client.post(f"{ME}/backup-codes", headers=auth).json["backupCodes"]
    overview = overview_sections()["mfa"]
    for summary in (
        _with_db(app, export_sections()["mfa"], tenant.id, user.id),
        _with_db(app, overview, Subject(tenant, user, None)),
    ):
        assert summary["totpEnabled"] is True and summary["remainingBackupCodesCount"] == 10
        text = repr(summary)
        assert secret not in text and not any(code in text for code in codes)


def test_active_secret_is_never_shown_again(app: Any, client: Any) -> None:
    """Once enrolled the secret stays on the server: GET/VIEW/secret start a new pending secret
    instead (which becomes active only through VALIDATE); the active one keeps working."""
    _tenant, _user, auth = _setup(app)
    at = _start()
    with time_machine.travel(at, tick=False):
        active = _enrol(client, auth, at)
        shown = client.get(f"{ME}/totp/secret", headers=auth).json["secret"]
        assert shown != active
        assert _secret_from_qr(client.get(f"{ME}/totp", headers=auth).json) == shown
    with time_machine.travel(at + 30, tick=False):
        # The pending one is what VALIDATE checks now; the active one still signs in (tests/api/test_mfa_signin.py).
        assert _validate(client, auth, _code(shown, at + 30)).json == {"isValid": True}


def test_a_secret_sealed_under_another_key_fails_closed(
    app: Any, client: Any, database_url: str, tmp_path: Any
) -> None:
    """T-MFA-6: with the wrong master key the secret does not open: a 500 (logged), never a valid code."""
    _tenant, _user, auth = _setup(app)
    at = _start()
    with time_machine.travel(at, tick=False):
        secret = _enrol(client, auth, at)
    other_dir = tmp_path / "other-key"
    other_dir.mkdir()
    # Same database, a new master key; Basic allowed for MFA users here so VALIDATE can run at all.
    other = build_app(database_url, other_dir, mfa_allow_basic=True)
    try:
        with time_machine.travel(at + 30, tick=False):
            response = other.test_client().post(
                f"{ME}/totp",
                json={"action": "VALIDATE", "verificationCode": _code(secret, at + 30)},
                headers=basic("kim", PASSWORD),  # VALIDATE takes Basic, which needs no key
            )
        assert response.status_code == 500
        assert "isValid" not in response.get_data(as_text=True) and secret not in response.get_data(as_text=True)
    finally:
        other.extensions["scim_me"].db.close_all()


def test_consecutive_failures_end_in_a_hard_lock(database_url: str, tmp_path: Any) -> None:
    """T-MFA-5: after mfa_hard_lock_failures consecutive wrong codes (100 by default; 7 here) the
    lock no longer runs out: only an operator (``scim-me user mfa-unlock``) lifts it."""
    app = build_app(database_url, tmp_path, mfa_hard_lock_failures=7)
    try:
        client = app.test_client()
        _tenant, _user, auth = _setup(app)
        t = _start()
        with time_machine.travel(t, tick=False):
            secret = _enrol(client, auth, t)
        wrong = 0
        for _ in range(7):  # 5 wrong, then one more after each lock ran out
            t += 30 * 60
            with time_machine.travel(t, tick=False):
                auth = bearer(make_token(app, _tenant, _user))
                wrong = (_code(secret, t) + 1) % 1_000_000
                assert _validate(client, auth, wrong).json == {"isValid": False}
        t += 24 * 3600
        with time_machine.travel(t, tick=False):
            auth = bearer(make_token(app, _tenant, _user))
            locked = _validate(client, auth, _code(secret, t))
            assert "administrator" in assert_wso2_error(locked, 429, "TOTP-10006")["description"]
            assert "Retry-After" not in locked.headers
    finally:
        app.extensions["scim_me"].db.close_all()


def test_basic_on_me_is_refused_for_users_with_mfa(app: Any, client: Any, database_url: str, tmp_path: Any) -> None:
    """T-MFA-8: every path enforces the same factors; HTTP Basic proves only the password."""
    _tenant, _user, auth = _setup(app)
    creds = basic("kim", PASSWORD)
    assert client.get("/t/acme/scim2/Me", headers=creds).status_code == 200
    at = _start()
    with time_machine.travel(at, tick=False):
        _enrol(client, auth, at)
    refused = client.get("/t/acme/scim2/Me", headers=creds)
    assert refused.status_code == 401 and "multi-factor" in refused.json["detail"]
    assert refused.headers["WWW-Authenticate"].startswith("Bearer")
    wrong = client.get("/t/acme/scim2/Me", headers=basic("kim", "wrong-password"))
    assert wrong.status_code == 401 and "multi-factor" not in wrong.json["detail"]  # no oracle
    assert client.get("/t/acme/scim2/Me", headers=auth).status_code == 200
    other_dir = tmp_path / "allow-basic"
    other_dir.mkdir()
    (other_dir / "encryption.key").write_text((tmp_path / "encryption.key").read_text())
    allowing = build_app(database_url, other_dir, mfa_allow_basic=True)
    try:
        assert allowing.test_client().get("/t/acme/scim2/Me", headers=creds).status_code == 200
    finally:
        allowing.extensions["scim_me"].db.close_all()


def test_factor_changes_name_the_bearer_tokens_client(app: Any, client: Any) -> None:
    """Enrolment, removal and backup-code events carry the token's client, as sign-in events do."""
    tenant, user, _auth = _setup(app)
    auth = bearer(make_token(app, tenant, user, client_id="my-account"))
    at = _start()
    with time_machine.travel(at, tick=False):
        _enrol(client, auth, at)
        assert client.delete(f"{ME}/totp", headers=auth).status_code == 200
        assert client.post(f"{ME}/backup-codes", headers=auth).status_code == 200
        assert client.delete(f"{ME}/backup-codes", headers=auth).status_code == 200
        listed = client.get(f"{ME}/security-events?limit=10", headers=auth)
    assert listed.status_code == 200, listed.json
    shown = {e["kind"]: e["clientId"] for e in listed.json["events"]}
    factor_kinds = ("mfa.totp.enrolled", "mfa.totp.disabled", "mfa.backup_codes.generated", "mfa.backup_codes.removed")
    assert {kind: shown.get(kind) for kind in factor_kinds} == dict.fromkeys(factor_kinds, "my-account")

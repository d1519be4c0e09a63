"""Passkeys on WSO2's FIDO2 API (identity-outbound-auth-fido, the one My Account calls), bare and
under ``/t/{tenant}``:

- ``POST /api/users/v2/me/webauthn/start-registration`` and ``.../start-usernameless-registration``:
  the body is ``appId=<origin>`` form-encoded, as WSO2's clients send it (a JSON ``{"appId"}`` or
  the bare origin are read too, as WSO2 does); 200 ``{requestId, publicKeyCredentialCreationOptions}``
  with binary members base64url-encoded, as My Account decodes them;
- ``POST .../finish-registration``: ``{requestId, credential}`` (the credential as
  My Account encodes it: base64url ``attestationObject`` and ``clientDataJSON``) → 200, the
  new credential in the list's shape;
- ``GET /api/users/v2/me/webauthn``: the caller's credentials (``credential.credentialId``,
  ``displayName``, ``registrationTime``, ``lastUsedTime``); never key material;
- ``PATCH .../{credentialId}``: ``[{"operation": "REPLACE", "path": "/displayName", "value": ...}]``
  (My Account's rename) → 200, the credential;
- ``DELETE .../{credentialId}`` → 200, empty (turning a factor off: step-up applies).

Scope ``internal_login``, bearer only (HTTP Basic is 403, as WSO2's FIDO API refuses it). Errors
are WSO2's ``{code, message, description, traceId}`` with ``FIDO-`` codes (docs/passkeys.md).
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import parse_qs

from flask import Blueprint
from flask import Response
from flask import request

from scim_me.auth import passkeys
from scim_me.errors import FIDO
from scim_me.errors import ApiError
from scim_me.storage import passkeys as store
from scim_me.storage.events import Actor
from scim_me.storage.passkeys import PasskeyRecord
from scim_me.storage.users import StoredUser
from scim_me.web.context import request_actor
from scim_me.web.context import settings
from scim_me.web.context import state
from scim_me.web.principal import Principal
from scim_me.web.rest import factor_caller
from scim_me.web.rest import json_response
from scim_me.web.rest import require_factor_step_up
from scim_me.web.sections import register_export_section
from scim_me.web.sections import register_overview_section

bp = Blueprint("webauthn", __name__)

BASE = "/api/users/v2/me/webauthn"
_CREDENTIAL_ID = re.compile(r"^[A-Za-z0-9_-]{1,1400}$")
_MAX_BODY = 64 * 1024  # an attestation with a certificate chain is a few kB


def _ctx(principal: Principal) -> Actor:
    return request_actor(principal.client_id)


def _iso(value: Any) -> str | None:
    return value.isoformat(timespec="milliseconds") + "Z" if value is not None else None


def describe(passkey: PasskeyRecord, user: StoredUser) -> dict[str, Any]:
    """WSO2's FIDO2CredentialRegistration shape, less the public key (it never leaves the server).
    ``credential.id`` repeats ``credentialId``: My Account reads it after a registration."""
    return {
        "credential": {
            "credentialId": passkey.credential_id,
            "id": passkey.credential_id,
            "userHandle": passkeys._b64(passkeys.user_handle(passkey.user_id)),
            "signatureCount": passkey.sign_count,
        },
        "displayName": passkey.display_name or None,
        "registrationTime": _iso(passkey.created_at),
        "lastUsedTime": _iso(passkey.last_used_at),
        "signatureCount": passkey.sign_count,
        "isUsernamelessSupported": passkey.discoverable,
        "userVerified": passkey.user_verified,
        "backupEligible": passkey.backup_eligible,
        "transports": list(passkey.transports),
        "userIdentity": {"name": user.user_name, "displayName": user.user_name},
    }


def _refused(exc: passkeys.PasskeyRefused) -> ApiError:
    if exc.reason == "origin":
        return FIDO.error("50003", exc.detail, message="Invalid origin.")
    if exc.reason == "duplicate":
        return FIDO.error("50007", exc.detail, status=409, message="Conflict")
    if exc.reason == "limit":
        return FIDO.error("50012", exc.detail, status=409, message="Too many passkeys.")
    return FIDO.error("50006", exc.detail, message="Error finishing the FIDO2 device registration.")


def _raw_body() -> bytes:
    if request.content_length is not None and request.content_length > _MAX_BODY:
        raise FIDO.error(
            "50016", f"The body is larger than {_MAX_BODY} bytes.", status=413, message="Payload Too Large"
        )
    data = request.get_data(cache=True)
    if len(data) > _MAX_BODY:
        raise FIDO.error(
            "50016", f"The body is larger than {_MAX_BODY} bytes.", status=413, message="Payload Too Large"
        )
    return data


def _app_id() -> str:
    """WSO2 reads the body as text: ``appId=...`` (form-encoded), a JSON ``{"appId": ...}``, or the
    origin itself."""
    try:
        text = _raw_body().decode("utf-8").strip()
    except UnicodeDecodeError:
        text = ""
    value: Any = None
    if text.startswith("{"):
        try:
            document = json.loads(text)
        except (ValueError, RecursionError):
            document = None
        value = document.get("appId") if isinstance(document, dict) else None
    elif "=" in text:
        values = parse_qs(text, keep_blank_values=True).get("appId")
        value = values[0] if values else None
    else:
        value = text or None
    if not isinstance(value, str) or not value.strip():
        raise FIDO.error("50011", "'appId' (the origin the passkey is registered from) is required.")
    return value.strip()[:512]


def _start(discoverable: bool) -> Response:
    tenant, user, _principal = factor_caller(FIDO)
    s = settings()
    try:
        origin = passkeys.check_origin(s, state().tenant_origins(tenant), _app_id())
        started = passkeys.start_registration(
            s,
            tenant.id,
            tenant.name,
            user.id,
            user.user_name,
            _display_name(user),
            origin,
            discoverable=discoverable,
        )
    except passkeys.PasskeyRefused as exc:
        raise _refused(exc) from exc
    return json_response({"requestId": started.request_id, "publicKeyCredentialCreationOptions": started.options})


def _display_name(user: StoredUser) -> str:
    name = user.profile.get("name") if isinstance(user.profile, dict) else None
    formatted = name.get("formatted") if isinstance(name, dict) else None
    if isinstance(formatted, str) and formatted.strip():
        return formatted.strip()[:64]
    return user.user_name


@bp.post(f"{BASE}/start-registration")
def start_registration() -> Response:
    return _start(discoverable=False)


@bp.post(f"{BASE}/start-usernameless-registration")
def start_usernameless_registration() -> Response:
    return _start(discoverable=True)


@bp.post(f"{BASE}/finish-registration")
def finish_registration() -> Response:
    tenant, user, principal = factor_caller(FIDO)
    try:
        document = json.loads(_raw_body() or b"null")
    except (ValueError, RecursionError):
        document = None
    if isinstance(document, str):  # My Account sends JSON.stringify(payload) as a JSON string body
        try:
            document = json.loads(document)
        except (ValueError, RecursionError):
            document = None
    if not isinstance(document, dict):
        raise FIDO.error("50006", "The body must be a JSON object {requestId, credential}.", message="Invalid request.")
    request_id, credential = document.get("requestId"), document.get("credential")
    if not isinstance(request_id, str) or not request_id or len(request_id) > 128:
        raise FIDO.error("50006", "'requestId' (from start-registration) is required.", message="Invalid request.")
    if not isinstance(credential, dict):
        raise FIDO.error(
            "50006", "'credential' must be the authenticator's public key credential.", message="Invalid request."
        )
    try:
        passkey = passkeys.finish_registration(settings(), tenant.id, user.id, request_id, credential, _ctx(principal))
    except passkeys.PasskeyRefused as exc:
        raise _refused(exc) from exc
    return json_response(describe(passkey, user))


@bp.get(BASE)
def list_credentials() -> Response:
    tenant, user, _principal = factor_caller(FIDO)
    return json_response([describe(p, user) for p in store.list_passkeys(tenant.id, user.id)])


def _credential_id(value: str) -> str:
    if not _CREDENTIAL_ID.match(value):
        raise FIDO.error("50009", "The credential id is not a base64url credential id.", message="Invalid credential.")
    return value


def _not_found(credential_id: str) -> ApiError:
    return FIDO.error(
        "50010", f"No passkey {credential_id[:64]} is registered for this user.", status=404, message="Not Found"
    )


@bp.patch(f"{BASE}/<credential_id>")
def rename_credential(credential_id: str) -> Response:
    tenant, user, principal = factor_caller(FIDO)
    credential_id = _credential_id(credential_id)
    name = _new_name()
    passkey = passkeys.rename(tenant.id, user.id, credential_id, name, _ctx(principal))
    if passkey is None:
        raise _not_found(credential_id)
    return json_response(describe(passkey, user))


def _new_name() -> str:
    """My Account's body: ``[{"operation": "REPLACE", "path": "/displayName", "value": "..."}]``."""
    invalid = (
        'The body must be [{"operation": "REPLACE", "path": "/displayName", "value": "<name>"}] '
        f"with a name of 1 to {passkeys.MAX_NAME} characters."
    )
    try:
        document = json.loads(_raw_body() or b"null")
    except (ValueError, RecursionError):
        document = None
    if isinstance(document, dict):
        document = [document]
    if not isinstance(document, list) or not document or len(document) > 8:
        raise FIDO.error("50014", invalid)
    name: str | None = None
    for operation in document:
        if not isinstance(operation, dict):
            raise FIDO.error("50014", invalid)
        verb, path, value = operation.get("operation"), operation.get("path"), operation.get("value")
        if not isinstance(verb, str) or verb.upper() != "REPLACE" or path not in ("/displayName", "displayName"):
            raise FIDO.error("50014", invalid)
        if not isinstance(value, str) or not value.strip() or len(value.strip()) > passkeys.MAX_NAME:
            raise FIDO.error("50014", invalid)
        if any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
            raise FIDO.error("50014", "The name may not hold control characters.")
        name = value.strip()
    assert name is not None
    return name


@bp.delete(f"{BASE}/<credential_id>")
def delete_credential(credential_id: str) -> Response:
    tenant, user, principal = factor_caller(FIDO)
    credential_id = _credential_id(credential_id)
    require_factor_step_up(FIDO, principal)  # a passkey may be the user's second factor: removing it turns MFA down
    if not passkeys.remove(tenant.id, user.id, credential_id, _ctx(principal)):
        raise _not_found(credential_id)
    return Response(b"", status=200)


# -- what other views show ------------------------------------------------------------------------


def _summary(tenant_id: int, user_id: str) -> dict[str, Any]:
    """Passkeys for the data export and the security overview: ids, names and dates, no key."""
    items = store.list_passkeys(tenant_id, user_id)
    return {
        "count": len(items),
        "passkeys": [
            {
                "credentialId": p.credential_id,
                "displayName": p.display_name or None,
                "registrationTime": _iso(p.created_at),
                "lastUsedTime": _iso(p.last_used_at),
                "isUsernamelessSupported": p.discoverable,
            }
            for p in items
        ],
    }


register_export_section("passkeys", _summary)
register_overview_section("passkeys", lambda subject: _summary(subject.tenant.id, subject.user.id))

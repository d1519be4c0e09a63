"""The passkey (WebAuthn Level 3) rules, shared by WSO2's FIDO2 API and the sign-in page; the
ceremonies themselves are checked by py_webauthn (``webauthn`` on PyPI).

- Relying party: one id for the server (``passkey_rp_id``, else the host of ``base_url``), so a
  passkey works on every tenant's sign-in page of this server; credentials are tenant-scoped in
  storage all the same (a credential of tenant A never signs anybody in on tenant B).
- Origins: a registration names its origin (WSO2's ``appId``), which must be the server's own or
  one of the tenant's allowed origins (the CORS list) and lie within the relying-party id; a
  sign-in's origin is the server's own (the page is ours).
- Attestation ``none``: the authenticator model is not verified, only the key. User verification
  is required for a username-less (discoverable) registration and for a passwordless sign-in,
  preferred otherwise.
- Signature counters: a use must show a larger counter than the last one seen (or both 0, for
  authenticators without one), checked and advanced in one conditional UPDATE; a stale counter is
  a cloned authenticator and the assertion is refused (WebAuthn §6.1.1).
- Every check takes an attempt on the user's MFA counter first, as a TOTP code does: while the
  MFA lock holds no assertion is evaluated, and wrong ones count towards it.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from webauthn import generate_authentication_options
from webauthn import generate_registration_options
from webauthn import options_to_json
from webauthn import verify_authentication_response
from webauthn import verify_registration_response
from webauthn.helpers.structs import AttestationConveyancePreference
from webauthn.helpers.structs import AuthenticatorSelectionCriteria
from webauthn.helpers.structs import AuthenticatorTransport
from webauthn.helpers.structs import CredentialDeviceType
from webauthn.helpers.structs import PublicKeyCredentialDescriptor
from webauthn.helpers.structs import ResidentKeyRequirement
from webauthn.helpers.structs import UserVerificationRequirement

from scim_me.auth import mfa
from scim_me.config import Settings
from scim_me.storage import mfa as mfa_store
from scim_me.storage import passkeys as store
from scim_me.storage.db import write_transaction
from scim_me.storage.events import Actor
from scim_me.storage.events import record_event
from scim_me.storage.grants import digest
from scim_me.storage.passkeys import PasskeyRecord

log = logging.getLogger("scim_me.passkeys")

REGISTER = "register"
REGISTER_DISCOVERABLE = "register_discoverable"
SIGNIN = "signin"  # passwordless: no user known until the assertion names one
SECOND_FACTOR = "second_factor"
MAX_NAME = 64
_REQUIRED = UserVerificationRequirement.REQUIRED
_PREFERRED = UserVerificationRequirement.PREFERRED


class PasskeyRefused(Exception):
    """A ceremony failed: ``reason`` is one of "request" (unknown, spent, expired or another
    user's request id), "origin", "invalid" (the credential does not verify), "duplicate",
    "limit", "unknown" (no such credential), "cloned" (stale counter), "locked", "hard_locked"."""

    def __init__(self, reason: str, detail: str, retry_after: int = 0) -> None:
        self.reason = reason
        self.detail = detail
        self.retry_after = retry_after
        super().__init__(detail)


@dataclass(frozen=True)
class Started:
    request_id: str
    options: dict[str, Any]


@dataclass(frozen=True)
class Passed:
    user_id: str
    passkey: PasskeyRecord
    amr: str  # RFC 8176: "hwk" for a device-bound key, "swk" for a synced (backup-eligible) one


# -- relying party ----------------------------------------------------------------------------------


def rp_id(settings: Settings) -> str:
    return settings.passkey_rp_id or (urlsplit(settings.base_url).hostname or "localhost")


def server_origin(settings: Settings) -> str:
    parts = urlsplit(settings.base_url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def _normalize(origin: str) -> str | None:
    parts = urlsplit(origin.strip())
    if parts.scheme not in ("https", "http") or not parts.hostname or parts.path not in ("", "/"):
        return None
    if parts.query or parts.fragment or parts.username or parts.password:
        return None
    return f"{parts.scheme}://{parts.netloc}".lower()


def check_origin(settings: Settings, tenant_origins: frozenset[str], app_id: str) -> str:
    """WSO2's ``appId``: an origin of the server or the tenant's allowed ones (the CORS list),
    within the relying-party id; the normalized origin, or :class:`PasskeyRefused`."""
    origin = _normalize(app_id)
    allowed = {server_origin(settings), *tenant_origins}
    allowed |= {o.strip().lower().rstrip("/") for o in settings.cors_allowed_origins.split(",") if o.strip()}
    if origin is None or origin not in allowed:
        raise PasskeyRefused("origin", f"The appId {app_id!r} is not an allowed origin of this organization.")
    host = urlsplit(origin).hostname or ""
    rp = rp_id(settings)
    if host != rp and not host.endswith("." + rp):
        raise PasskeyRefused("origin", f"The origin {origin} is not within the relying party id {rp!r}.")
    return origin


def user_handle(user_id: str) -> bytes:
    """The WebAuthn user handle: the user's id (a random UUID: no personal data, WebAuthn §14.6.1)."""
    return user_id.encode("ascii")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _transports(names: tuple[str, ...]) -> list[AuthenticatorTransport] | None:
    known = {t.value: t for t in AuthenticatorTransport}
    chosen = [known[n] for n in names if n in known]
    return chosen or None


def _descriptors(passkeys: list[PasskeyRecord]) -> list[PublicKeyCredentialDescriptor]:
    return [
        PublicKeyCredentialDescriptor(id=_unb64(p.credential_id), transports=_transports(p.transports))
        for p in passkeys
    ]


def _ceremony(
    settings: Settings,
    tenant_id: int,
    user_id: str | None,
    purpose: str,
    challenge: bytes,
    origin: str,
    client_id: str = "",
) -> str:
    request_id = secrets.token_urlsafe(32)
    store.start_ceremony(
        tenant_id,
        user_id,
        digest(request_id),
        purpose=purpose,
        challenge=_b64(challenge),
        seconds=settings.passkey_timeout_seconds,
        origin=origin,
        client_id=client_id,
    )
    return request_id


# -- registration -----------------------------------------------------------------------------------


def start_registration(
    settings: Settings,
    tenant_id: int,
    tenant_name: str,
    user_id: str,
    user_name: str,
    display_name: str,
    origin: str,
    *,
    discoverable: bool,
) -> Started:
    """WSO2's ``start-registration`` (a second-factor key) or ``start-usernameless-registration``
    (a passkey: resident key and user verification required)."""
    existing = store.list_passkeys(tenant_id, user_id)
    if len(existing) >= store.MAX_CREDENTIALS:
        raise PasskeyRefused("limit", f"A user may register at most {store.MAX_CREDENTIALS} passkeys.")
    selection = AuthenticatorSelectionCriteria(
        resident_key=ResidentKeyRequirement.REQUIRED if discoverable else ResidentKeyRequirement.DISCOURAGED,
        require_resident_key=discoverable,
        user_verification=UserVerificationRequirement.REQUIRED
        if discoverable
        else UserVerificationRequirement.PREFERRED,
    )
    options = generate_registration_options(
        rp_id=rp_id(settings),
        rp_name=settings.passkey_rp_name or tenant_name,
        user_name=user_name,
        user_id=user_handle(user_id),
        user_display_name=display_name or user_name,
        timeout=settings.passkey_timeout_seconds * 1000,
        attestation=AttestationConveyancePreference.NONE,
        authenticator_selection=selection,
        exclude_credentials=_descriptors(existing),
    )
    purpose = REGISTER_DISCOVERABLE if discoverable else REGISTER
    request_id = _ceremony(settings, tenant_id, user_id, purpose, options.challenge, origin)
    document: dict[str, Any] = json.loads(options_to_json(options))
    document.setdefault("excludeCredentials", [])  # WSO2's My Account maps over it unconditionally
    return Started(request_id, document)


def finish_registration(
    settings: Settings, tenant_id: int, user_id: str, request_id: str, credential: Any, ctx: Actor
) -> PasskeyRecord:
    """Verify the authenticator's answer to our challenge and store the public key."""
    ceremony = store.take_ceremony(tenant_id, digest(request_id), (REGISTER, REGISTER_DISCOVERABLE))
    if ceremony is None or ceremony.user_id != user_id:
        raise PasskeyRefused(
            "request", "The requestId is unknown, already used or expired: start the registration again."
        )
    discoverable = ceremony.purpose == REGISTER_DISCOVERABLE
    try:
        verified = verify_registration_response(
            credential=_as_sent(credential),
            expected_challenge=_unb64(ceremony.challenge),
            expected_rp_id=rp_id(settings),
            expected_origin=ceremony.origin,
            require_user_verification=discoverable,
        )
    except Exception as exc:
        log.info("passkey registration refused: %s", exc)
        raise PasskeyRefused("invalid", f"The credential does not verify: {_why(exc)}") from exc
    response = credential.get("response") if isinstance(credential, dict) else None
    transports = response.get("transports") if isinstance(response, dict) else None
    names = tuple(t for t in transports if isinstance(t, str))[:8] if isinstance(transports, list) else ()
    try:
        with write_transaction():  # the passkey counts as a factor exactly when its event exists
            passkey = store.add_passkey(
                tenant_id,
                user_id,
                credential_id=_b64(verified.credential_id),
                public_key=_b64(verified.credential_public_key),
                sign_count=verified.sign_count,
                display_name="",
                discoverable=discoverable,
                user_verified=verified.user_verified,
                backup_eligible=verified.credential_device_type == CredentialDeviceType.MULTI_DEVICE,
                aaguid=verified.aaguid,
                transports=names,
            )
            _event(tenant_id, user_id, "mfa.passkey.registered", ctx, discoverable=discoverable)
    except store.DuplicateCredentialError as exc:
        raise PasskeyRefused("duplicate", "This credential is already registered.") from exc
    return passkey


def _as_sent(credential: Any) -> Any:
    """WSO2's My Account sends no ``rawId`` (and may omit ``type``); in WebAuthn's JSON form
    ``id`` is the base64url of the raw id, so it stands in."""
    if not isinstance(credential, dict):
        return credential
    return {
        **credential,
        "rawId": credential.get("rawId") or credential.get("id"),
        "type": credential.get("type") or "public-key",
    }


def _why(exc: Exception) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text[:200].rstrip(".") + "."


def rename(tenant_id: int, user_id: str, credential_id: str, name: str, ctx: Actor) -> PasskeyRecord | None:
    with write_transaction():
        passkey = store.rename_passkey(tenant_id, user_id, credential_id, name)
        if passkey is not None:
            _event(tenant_id, user_id, "mfa.passkey.renamed", ctx)
    return passkey


def remove(tenant_id: int, user_id: str, credential_id: str, ctx: Actor) -> bool:
    """The passkey and its event (the notice, the alert, trusted devices revoked) together."""
    with write_transaction():
        gone = store.delete_passkey(tenant_id, user_id, credential_id)
        if gone:
            _event(tenant_id, user_id, "mfa.passkey.removed", ctx)
    return gone


def operator_reset(tenant_id: int, user_id: str) -> None:
    """``scim-me user mfa-reset``: a lost authenticator takes its passkeys with it."""
    if store.delete_all_passkeys(tenant_id, user_id):
        record_event(tenant_id, user_id, "mfa.passkey.removed", details={"by": "operator"})


# -- sign-in ----------------------------------------------------------------------------------------


def has_passkeys(tenant_id: int, user_id: str) -> bool:
    return store.count_passkeys(tenant_id, user_id) > 0


def start_signin(settings: Settings, tenant_id: int, client_id: str, user_id: str | None = None) -> Started:
    """Options for ``navigator.credentials.get``: username-less (no allow list, user verification
    required) or, after the password, the user's own credentials (user verification preferred)."""
    allowed = _descriptors(store.list_passkeys(tenant_id, user_id)) if user_id else None
    options = generate_authentication_options(
        rp_id=rp_id(settings),
        timeout=settings.passkey_timeout_seconds * 1000,
        allow_credentials=allowed,
        user_verification=UserVerificationRequirement.REQUIRED
        if user_id is None
        else UserVerificationRequirement.PREFERRED,
    )
    purpose = SIGNIN if user_id is None else SECOND_FACTOR
    origin = server_origin(settings)
    request_id = _ceremony(settings, tenant_id, user_id, purpose, options.challenge, origin, client_id)
    return Started(request_id, json.loads(options_to_json(options)))


@dataclass(frozen=True)
class Checked:
    """An assertion that verified against its open ceremony. Nothing is spent yet but one attempt
    on the user's MFA counter: :func:`spend_signin` spends the rest with the sign-in."""

    request_hash: str
    ceremony: store.Ceremony
    passkey: PasskeyRecord
    sign_count: int  # the authenticator's counter in this assertion
    attempt: mfa_store.Attempt


def check_signin(
    settings: Settings, tenant_id: int, request_id: str, credential: Any, client_id: str, ctx: Actor
) -> Checked:
    """Check an assertion against its ceremony; :class:`PasskeyRefused` when it fails, which ends
    the ceremony (and records the failure, once the passkey named a user)."""
    request_hash = digest(request_id)
    ceremony = store.find_ceremony(tenant_id, request_hash, (SIGNIN, SECOND_FACTOR))
    if ceremony is None or ceremony.client_id != client_id:
        raise PasskeyRefused("request", "The passkey request expired. Try again.")
    raw_id = credential.get("id") if isinstance(credential, dict) else None
    passkey = store.find_passkey(tenant_id, raw_id) if isinstance(raw_id, str) and len(raw_id) <= 1400 else None
    response = credential.get("response")
    handle = response.get("userHandle") if isinstance(response, dict) else None
    if (
        passkey is None
        or (ceremony.user_id is not None and passkey.user_id != ceremony.user_id)
        or (ceremony.user_id is None and not _same_handle(handle, passkey.user_id))
    ):
        store.spend_ceremony(tenant_id, request_hash)
        raise PasskeyRefused("unknown", "This passkey is not registered for this account.")
    # Taken and committed on its own before the signature is evaluated, as for a code (auth/mfa.py).
    attempt = mfa_store.take_attempt(
        tenant_id,
        passkey.user_id,
        settings.mfa_max_failures,
        mfa.lock_delays(settings),
        settings.mfa_hard_lock_failures,
    )
    if not attempt.allowed:
        store.spend_ceremony(tenant_id, request_hash)
        if attempt.hard_locked:
            raise PasskeyRefused("hard_locked", "Too many failed attempts: an administrator must unlock the account.")
        raise PasskeyRefused("locked", "Too many failed attempts.", attempt.retry_after)
    try:
        verified = verify_authentication_response(
            credential=_as_sent(credential),
            expected_challenge=_unb64(ceremony.challenge),
            expected_rp_id=rp_id(settings),
            expected_origin=ceremony.origin,
            credential_public_key=_unb64(passkey.public_key),
            credential_current_sign_count=0,  # the counter is checked below, atomically
            require_user_verification=ceremony.user_id is None,
        )
    except Exception as exc:
        log.info("passkey assertion refused: %s", exc)
        _failed(tenant_id, request_hash, passkey.user_id, ctx, "invalid", attempt)
        raise PasskeyRefused("invalid", "The passkey could not be verified.") from exc
    count = verified.new_sign_count
    if (count or passkey.sign_count) and count <= passkey.sign_count:
        _failed(tenant_id, request_hash, passkey.user_id, ctx, "cloned", attempt)
        raise _cloned()
    return Checked(request_hash, ceremony, passkey, count, attempt)


def spend_signin(tenant_id: int, checked: Checked, ctx: Actor) -> Passed | PasskeyRefused:
    """Spend a checked assertion, in the caller's transaction (the one that signs the browser in,
    so a failure there leaves the ceremony open and the counter where it was): the ceremony, the
    counter, the failure count. The refusal, not raised, when a parallel answer spent the ceremony
    first or a parallel use moved the counter past this one (its failure recorded with it: the
    caller commits)."""
    user_id = checked.passkey.user_id
    if not store.spend_ceremony(tenant_id, checked.request_hash):
        return PasskeyRefused("request", "The passkey request expired. Try again.")
    if not store.advance_counter(checked.passkey, checked.sign_count):
        _record_failure(tenant_id, user_id, ctx, "cloned", checked.attempt)
        return _cloned()
    mfa_store.reset_failures(tenant_id, user_id)
    _event(tenant_id, user_id, "mfa.passkey.validated", ctx, passwordless=checked.ceremony.user_id is None)
    return Passed(user_id, checked.passkey, "swk" if checked.passkey.backup_eligible else "hwk")


def _cloned() -> PasskeyRefused:
    return PasskeyRefused("cloned", "This passkey's signature counter went back: it may have been copied.")


def _same_handle(handle: Any, user_id: str) -> bool:
    if not isinstance(handle, str) or not handle:
        return False
    try:
        return secrets.compare_digest(_unb64(handle), user_handle(user_id))
    except (binascii.Error, ValueError):
        return False


def _failed(
    tenant_id: int, request_hash: str, user_id: str, ctx: Actor, reason: str, attempt: mfa_store.Attempt
) -> None:
    with write_transaction():  # the ceremony ends with its failure, and the lock it causes
        store.spend_ceremony(tenant_id, request_hash)
        _record_failure(tenant_id, user_id, ctx, reason, attempt)


def _record_failure(tenant_id: int, user_id: str, ctx: Actor, reason: str, attempt: mfa_store.Attempt) -> None:
    """The failure and the lock it causes: both in the history, or neither."""
    with write_transaction():
        _event(tenant_id, user_id, "mfa.passkey.failure", ctx, reason=reason)
        if attempt.locked_now:
            _event(tenant_id, user_id, "mfa.locked", ctx, failures=attempt.failures)


def _event(tenant_id: int, user_id: str, kind: str, ctx: Actor, **details: Any) -> None:
    ctx.record(tenant_id, user_id, kind, {"channel": ctx.channel, **details})

"""Passkeys on the sign-in page (``/oauth2/authorize``), as the page's own steps:

- ``passkey_options`` / ``mfa_passkey_options``: a fetch from the page (CSRF-checked) that starts a
  ceremony and answers the options for ``navigator.credentials.get`` with its ``requestId``;
- ``passkey``: a passwordless sign-in with a discoverable credential (user verification required);
- ``mfa_passkey``: the second factor after the password, bound to the page's MFA challenge.

signin.py owns the flow (sessions, consent, codes); this module checks the passkey and says who
signed in and how (RFC 8176 ``amr``, docs/passkeys.md). The page's script is inline with a
per-response nonce, so the pages keep ``default-src 'none'`` otherwise.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from typing import Any

from flask import Response
from flask import request

from scim_me.auth import passkeys
from scim_me.auth.credentials import must_change_password
from scim_me.core.accounts import is_disabled
from scim_me.storage import mfa as mfa_store
from scim_me.storage.events import Actor
from scim_me.storage.events import record_event
from scim_me.storage.grants import digest
from scim_me.storage.tenants import TenantRecord
from scim_me.storage.users import StoredUser
from scim_me.storage.users import get_user
from scim_me.web.context import request_actor
from scim_me.web.context import settings
from scim_me.web.pages import PAGE_HEADERS
from scim_me.web.rest import json_response

STEPS = frozenset({"passkey_options", "mfa_passkey_options", "passkey", "mfa_passkey"})
MFA_CHALLENGE_ATTEMPTS = 5  # as signin.py's: one MFA challenge takes at most 5 answers of any kind
_MAX_CREDENTIAL = 16 * 1024


def page_extras() -> dict[str, Any]:
    """The nonce the page's script carries and the CSP that allows it (and its fetch)."""
    nonce = secrets.token_urlsafe(16)
    policy = PAGE_HEADERS["Content-Security-Policy"] + f"; script-src 'nonce-{nonce}'; connect-src 'self'"
    return {"script_nonce": nonce, "headers": {"Content-Security-Policy": policy}}


def factors(tenant_id: int, user_id: str) -> dict[str, bool]:
    """Which second factors the MFA page offers this user."""
    return {
        "offer_code": mfa_store.get_state(tenant_id, user_id).totp_active,
        "offer_passkey": passkeys.has_passkeys(tenant_id, user_id),
    }


def _ctx(client: Any) -> Actor:
    return request_actor(client.client_id, "signin")


def _json_error(message: str, status: int = 400) -> Response:
    return json_response({"error": message}, status)


@dataclass(frozen=True)
class Outcome:
    """A checked passkey: ``user`` signed in with ``amr``, or ``problem`` to show on the page
    named by ``page`` ("signin", "mfa": the MFA page, its challenge kept; "restart": the sign-in
    page, the MFA challenge dropped). ``lost``: a parallel answer completed the MFA challenge
    first, so the caller rolls back what this one spent."""

    user: StoredUser | None = None
    amr: str = ""
    problem: str = ""
    page: str = "signin"
    lost: bool = False


@dataclass(frozen=True)
class Pending:
    """A passkey that verified, to be spent by :func:`finish` with the sign-in it unlocks."""

    checked: passkeys.Checked
    challenge: Any  # the MFA challenge it answers; None for a passwordless sign-in
    ctx: Actor


def handle(step: str, tenant: TenantRecord, client: Any, mfa_secret: str | None) -> Response | Outcome | Pending:
    """Answer an options fetch (a Response), or check a passkey answer: the problem to show (an
    :class:`Outcome`), or a :class:`Pending` passkey that verified."""
    s = settings()
    challenge = None
    if step.startswith("mfa_"):
        challenge = mfa_store.find_challenge(tenant.id, digest(mfa_secret or ""))
        if challenge is None or challenge.client_id != client.client_id:
            if step == "mfa_passkey_options":
                return _json_error("Your sign-in expired. Sign in again.", 401)
            return _restart()
    if step in ("passkey_options", "mfa_passkey_options"):
        started = passkeys.start_signin(s, tenant.id, client.client_id, challenge.user_id if challenge else None)
        return json_response({"requestId": started.request_id, "publicKey": started.options})
    raw = request.form.get("credential", "")
    try:
        credential = json.loads(raw) if 0 < len(raw) <= _MAX_CREDENTIAL else None
    except (ValueError, RecursionError):
        credential = None
    request_id = request.form.get("request_id", "")
    if not isinstance(credential, dict) or not request_id or len(request_id) > 128:
        return _refusal(None, "The passkey answer was incomplete. Try again.")
    if challenge is not None and not mfa_store.count_challenge_attempt(challenge.id_hash, MFA_CHALLENGE_ATTEMPTS):
        return _restart("Too many attempts. Sign in again.")
    ctx = _ctx(client)
    try:
        checked = passkeys.check_signin(s, tenant.id, request_id, credential, client.client_id, ctx)
    except passkeys.PasskeyRefused as exc:
        return _refusal(challenge, _message(exc))
    if challenge is not None and checked.passkey.user_id != challenge.user_id:
        return _restart()
    return Pending(checked, challenge, ctx)


def finish(pending: Pending, tenant: TenantRecord, client: Any) -> Outcome:
    """Spend the passkey, in the caller's transaction (the one that signs the browser in): its
    ceremony, counter and failure count, the MFA challenge it answers, the events. A refusal is
    an :class:`Outcome` to commit (its failure is recorded); a lost challenge one to roll back."""
    challenge = pending.challenge
    passed = passkeys.spend_signin(tenant.id, pending.checked, pending.ctx)
    if isinstance(passed, passkeys.PasskeyRefused):
        return _refusal(challenge, _message(passed))
    if challenge is not None and not mfa_store.complete_challenge(challenge.id_hash):
        return Outcome(problem="Your sign-in expired. Sign in again.", page="restart", lost=True)
    user = get_user(tenant.id, passed.user_id)
    if user is None:
        return _refusal(challenge, "This passkey is not registered for this account.")
    if challenge is None:
        problem = _passwordless_refused(tenant, user, client)
        if problem:
            return Outcome(problem=problem)
        return Outcome(user, f"{passed.amr} mfa")
    return Outcome(user, f"pwd {passed.amr}")


def _passwordless_refused(tenant: TenantRecord, user: StoredUser, client: Any) -> str:
    """What the password step would refuse after a right password: a disabled account, or one
    whose administrator demanded a new password. Recorded as the password step records it."""
    details = {"channel": "signin", "method": "passkey"}
    ip, agent = request.remote_addr or "", request.headers.get("User-Agent", "")
    if is_disabled(user.profile):
        record_event(
            tenant.id,
            user.id,
            "signin.failure",
            ip=ip,
            user_agent=agent,
            client_id=client.client_id,
            details={**details, "reason": "disabled"},
        )
        return "The username or password is incorrect."
    if must_change_password(settings(), tenant, user) == "forced":
        return (
            "Your administrator asked you to choose a new password: use the link we mailed you, "
            'or "Forgot password?" below.'
        )
    record_event(
        tenant.id, user.id, "signin.success", ip=ip, user_agent=agent, client_id=client.client_id, details=details
    )
    return ""


def _message(exc: passkeys.PasskeyRefused) -> str:
    if exc.reason == "locked":
        return f"Too many failed attempts. Try again in {exc.retry_after} seconds."
    if exc.reason == "hard_locked":
        return "Too many failed attempts. Your administrator must unlock your account."
    if exc.reason == "cloned":
        return "This passkey was refused: its signature counter went back, so it may have been copied."
    if exc.reason == "request":
        return "The passkey request expired. Try again."
    if exc.reason == "unknown":
        return "This passkey is not registered for this account."
    return "The passkey could not be verified."


def _refusal(challenge: Any, message: str) -> Outcome:
    """Stay on the page the user was on (the MFA page keeps its challenge), showing ``message``."""
    return Outcome(problem=message, page="mfa" if challenge is not None else "signin")


def _restart(message: str = "Your sign-in expired. Sign in again.") -> Outcome:
    return Outcome(problem=message, page="restart")

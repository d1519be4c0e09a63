"""The issuer's browser side: ``/oauth2/authorize`` (sign-in page, consent page, code issue),
``/oidc/logout`` and the OIDC discovery documents, on WSO2's paths.

The request is validated by authlib before any page is shown (client, exact redirect URI,
``response_type=code``, PKCE S256), so a bad request never renders a sign-in form. Forms carry a
CSRF token bound to the browser's signed cookie; pages forbid framing. A sign-in starts a
session record (the future sessions API lists and ends them); its cookie holds an opaque
secret whose digest is stored.
"""

from __future__ import annotations

import secrets
from typing import Any
from urllib.parse import urlencode

from authlib.oauth2 import OAuth2Error
from authlib.oidc.core.errors import ConsentRequiredError
from authlib.oidc.core.errors import LoginRequiredError
from flask import Blueprint
from flask import Response
from flask import g
from flask import redirect
from flask import request
from flask import session as browser

from scim_me.auth import mfa
from scim_me.auth.credentials import must_change_password
from scim_me.auth.login import AccountHeld
from scim_me.auth.login import LoginThrottled
from scim_me.auth.login import lockout_policy
from scim_me.auth.login import verify_login
from scim_me.core.session_state import new_browser_state
from scim_me.oauth.browser_state import change_browser_state
from scim_me.oauth.browser_state import read_browser_state
from scim_me.oauth.browser_state import set_browser_state
from scim_me.oauth.browser_state import use_browser_state
from scim_me.oauth.code_flow import TenantIssuerParameter
from scim_me.oauth.logout import LogoutHint
from scim_me.oauth.logout import verify_id_token_hint
from scim_me.oauth.requests import FRESH_LOGIN_KEY
from scim_me.oauth.requests import malformed_parameters
from scim_me.oauth.requests import request_fingerprint
from scim_me.oauth.requests import requested_prompts
from scim_me.oauth.requests import sign_in_too_old
from scim_me.services import device_signin as devices
from scim_me.services import passkey_signin
from scim_me.services import recovery
from scim_me.storage.clients import find_client
from scim_me.storage.consents import grant_consent
from scim_me.storage.consents import has_consent
from scim_me.storage.db import write_transaction
from scim_me.storage.events import Actor
from scim_me.storage.grants import digest
from scim_me.storage.mfa import complete_challenge
from scim_me.storage.mfa import count_challenge_attempt
from scim_me.storage.mfa import create_challenge
from scim_me.storage.mfa import find_challenge
from scim_me.storage.sessions import SessionLimits
from scim_me.storage.sessions import SessionRecord
from scim_me.storage.sessions import end_session
from scim_me.storage.sessions import find_session
from scim_me.storage.sessions import start_session
from scim_me.storage.sessions import touch_session
from scim_me.storage.tenants import TenantRecord
from scim_me.storage.users import StoredUser
from scim_me.storage.users import find_user
from scim_me.storage.users import get_user
from scim_me.web.context import current_tenant
from scim_me.web.context import oauth_server
from scim_me.web.context import request_actor
from scim_me.web.context import settings
from scim_me.web.context import tenant_issuer
from scim_me.web.pages import check_csrf
from scim_me.web.pages import csrf_token
from scim_me.web.pages import page
from scim_me.web.rest import json_response

bp = Blueprint("signin", __name__)


def _page(template: str, status: int = 200, **context: Any) -> Response:
    if template == "signin.html":
        context.setdefault("notice", browser.pop("signin_notice", None))  # after a password reset
    if template in ("signin.html", "mfa.html"):
        context.update(passkey_signin.page_extras())  # the passkey script's nonce and CSP
    return page(template, status, recovery_links=_recovery_links(), **context)


def _recovery_links() -> dict[str, str]:
    """ "Forgot password?" / "Forgot username?": the recovery pages, told to come back to this
    authorization request when done."""
    back = urlencode({"return_to": request.script_root + (request.full_path if request.query_string else request.path)})
    root = request.script_root + "/accountrecoveryendpoint"
    return {
        "password": f"{root}/recoverpassword.do?{back}",
        "username": f"{root}/recoverusername.do?{back}",
        "confirm_email": f"{root}/confirm-email/resend?{back}",
    }


def _message(heading: str, message: str, status: int) -> Response:
    return page("message.html", status, heading=heading, message=message)


def _cookie_name(tenant: TenantRecord) -> str:
    return f"scim_me_sid_{tenant.id}"


_csrf_token = csrf_token
_check_csrf = check_csrf


def _signed_in(tenant: TenantRecord) -> tuple[SessionRecord | None, StoredUser | None]:
    found = find_session(tenant.id, request.cookies.get(_cookie_name(tenant), ""), SessionLimits.of(tenant.settings))
    if found is None:
        return None, None
    user = get_user(tenant.id, found.user_id)
    if user is None:
        return None, None
    touch_session(found.id)  # the sessions API reports it as lastAccessTime
    return found, user


def _throttled_page(client_name: str, action: str, retry_after: int) -> Response:
    """429 (RFC 6585 §4) with Retry-After: the form stays, with a plain explanation. Shown the
    same for an unknown username, which locks alike."""
    minutes = max(1, -(-retry_after // 60))
    response = _page(
        "signin.html",
        429,
        client_name=client_name,
        action=action,
        csrf_token=_csrf_token(),
        error=(
            "Too many failed sign-in attempts. For your security, sign-in is paused; "
            f"try again in {minutes} minute{'s' if minutes != 1 else ''}."
        ),
    )
    response.headers["Retry-After"] = str(retry_after)
    return response


def _held_page(client_name: str, action: str, user_name: str) -> Response:
    """The right password of an account held until its address is confirmed (an administrator's
    verifyEmail, or a self-registration): why it cannot sign in, and a button that mails a new
    link (recovery_pages.py, the resend-code API's service). Only the right password gets here, so
    a guesser sees nothing of it; the wrong one has the usual answer."""
    return _page(
        "signin.html",
        403,
        client_name=client_name,
        action=action,
        csrf_token=_csrf_token(),
        error="Confirm your e-mail address: use the link we mailed you.",
        resend_confirmation={"action": _recovery_links()["confirm_email"], "username": user_name},
    )


def _client_ip() -> str:
    return request.remote_addr or ""


@bp.route("/oauth2/authorize", methods=["GET", "POST"])
def authorize() -> Response:
    tenant = current_tenant()
    if tenant is None:
        return _message("Unknown organization", "This sign-in link names an organization that does not exist.", 404)
    form_body = request.get_data(cache=True) if request.mimetype == "application/x-www-form-urlencoded" else b""
    problem = malformed_parameters(request.query_string, form_body)
    if problem is not None:
        # invalid_request (RFC 6749 §4.1.2.1), shown, not redirected: the redirect URI may be the odd part.
        return _message("Sign-in request rejected", f"invalid_request: {problem}", 400)
    server = oauth_server()
    session, user = _signed_in(tenant)
    prompts = requested_prompts(request.values)
    fresh = browser.get(FRESH_LOGIN_KEY) == request_fingerprint(request.query_string)
    too_old = session is not None and sign_in_too_old(session.auth_time, request.values.get("max_age"))
    if not fresh and ("login" in prompts or too_old):
        user = None  # prompt=login or max_age: a live session is not enough, ask for the password again
    try:
        grant = server.get_consent_grant(end_user=user)
    except OAuth2Error as error:
        if getattr(error, "redirect_uri", None):
            response: Response = _issuer_parameter().add_to(server.handle_error_response(None, error))
            return response
        # No trustworthy redirect URI: never redirect, explain instead (RFC 6749 §4.1.2.1).
        return _message("Sign-in request rejected", error.get_error_description() or error.error, 400)
    client = grant.client.record
    action = request.full_path if request.query_string else request.path
    action = request.script_root + action
    new_cookie: str | None = None
    device = None  # the user's trusted device this browser holds (the second factor was skipped)
    trusted: devices.Trusted | None = None  # a device trusted at this sign-in's second factor
    if request.method == "POST":
        if not _check_csrf():
            return _message("Session expired", "The form expired. Go back and try again.", 400)
        step = request.form.get("action")
        if step == "login":
            attempted = request.form.get("username", "")
            try:
                candidate = verify_login(
                    tenant.id,
                    find_user(tenant.id, attempted),
                    request.form.get("password", ""),
                    settings().hash_params(),
                    channel="signin",
                    ip=_client_ip(),
                    user_agent=request.headers.get("User-Agent", ""),
                    client_id=client.client_id,
                    attempted_name=attempted,
                    lockout=lockout_policy(settings()),
                )
            except AccountHeld:
                return _held_page(client.name, action, attempted)
            except LoginThrottled as exc:
                return _throttled_page(client.name, action, exc.retry_after)
            if candidate is None:
                return _page(
                    "signin.html",
                    401,
                    client_name=client.name,
                    action=action,
                    csrf_token=_csrf_token(),
                    error="The username or password is incorrect.",
                )
            why = must_change_password(settings(), tenant, candidate)
            if why == "forced":
                return _page(
                    "signin.html",
                    403,
                    client_name=client.name,
                    action=action,
                    csrf_token=_csrf_token(),
                    error=(
                        "Your administrator asked you to choose a new password: use the link we mailed you, "
                        'or "Forgot password?" below.'
                    ),
                )
            if mfa.required(tenant.id, candidate.id):
                device = devices.trusted_device(tenant, candidate)
                if device is None:
                    return _mfa_challenge(tenant, candidate, client, action)
            if why == "expired":
                return _expired_page(tenant, candidate, client, action, "pwd")
            session, new_cookie, trusted = _sign_browser_in(tenant, client, session, candidate, "pwd", device=device)
            user = candidate
        elif step == "mfa":
            reserved = _reserve_mfa_answer(tenant, client, action)
            if isinstance(reserved, Response):
                return reserved
            try:
                # The factor is spent with everything it unlocks, in one transaction: the
                # challenge, a trusted device, the old session's end and the new one (or the
                # expired-password step). A failure, or a parallel answer that completed the
                # challenge first, leaves the backup code or TOTP step unspent.
                with write_transaction():
                    answered = _check_mfa_answer(tenant, client, action, *reserved)
                    if isinstance(answered, Response):
                        return answered  # the failure's record commits
                    if must_change_password(settings(), tenant, answered) == "expired":
                        browser.pop(_MFA_KEY, None)
                        return _expired_page(tenant, answered, client, action, "pwd otp")
                    session, new_cookie, trusted = _sign_browser_in(
                        tenant, client, session, answered, "pwd otp", trust=True
                    )
            except _ChallengeTaken:
                return _restart(client, action, "Your sign-in expired. Sign in again.")
            browser.pop(_MFA_KEY, None)  # only now: after a rollback the challenge is still open
            user = answered
        elif step in passkey_signin.STEPS:
            pending = passkey_signin.handle(step, tenant, client, browser.get(_MFA_KEY))
            if isinstance(pending, Response):
                return pending  # the options for navigator.credentials.get
            if isinstance(pending, passkey_signin.Outcome):
                return _passkey_problem(tenant, client, action, pending)
            try:
                # As for a code: the passkey is spent with the sign-in it unlocks, in one
                # transaction (ceremony, counter, challenge, session). A failure, or a parallel
                # answer that completed the challenge first, leaves the challenge open.
                with write_transaction():
                    outcome = passkey_signin.finish(pending, tenant, client)
                    if outcome.lost:
                        raise _ChallengeTaken
                    passed = outcome.user
                    second = outcome.amr.startswith("pwd")  # the second factor, after the password
                    if passed is not None and second and must_change_password(settings(), tenant, passed) == "expired":
                        browser.pop(_MFA_KEY, None)
                        return _expired_page(tenant, passed, client, action, outcome.amr)
                    if passed is not None:
                        session, new_cookie, trusted = _sign_browser_in(
                            tenant, client, session, passed, outcome.amr, trust=second
                        )
            except _ChallengeTaken:
                return _restart(client, action, "Your sign-in expired. Sign in again.")
            if passed is None:
                # The refusal's record committed above; the page is rendered outside the write lock.
                return _passkey_problem(tenant, client, action, outcome)
            if second:
                browser.pop(_MFA_KEY, None)  # only now: after a rollback the challenge is still open
            user = passed
        elif step == "expired":
            changed = _expired_answer(tenant, client, action)
            if isinstance(changed, Response):
                return changed
            changed_user, amr = changed
            session, new_cookie, trusted = _sign_browser_in(tenant, client, session, changed_user, amr)
            user = changed_user
        elif step == "consent" and user is not None:
            if request.form.get("decision") != "allow":
                response = server.create_authorization_response(grant=grant, grant_user=None)
                return response
            grant_consent(tenant.id, user.id, client.id, grant.request.payload.scope or "")
    if session is None or user is None:
        if "none" in prompts:
            return _prompt_error(grant, LoginRequiredError())
        return _page("signin.html", client_name=client.name, action=action, csrf_token=_csrf_token())
    scope = grant.request.payload.scope or ""
    browser_state, send_browser_state = _browser_state(tenant, signed_in_now=new_cookie is not None)
    if not client.first_party and not has_consent(tenant.id, user.id, client.id, scope):
        if "none" in prompts:
            return _prompt_error(grant, ConsentRequiredError())
        response = _page(
            "consent.html",
            client_name=client.name,
            user_name=user.user_name,
            scopes=scope.split(),
            action=action,
            csrf_token=_csrf_token(),
        )
    else:
        g.signin_session = session
        browser.pop(FRESH_LOGIN_KEY, None)
        use_browser_state(browser_state)  # session_state in the response (OIDC Session Management)
        response = server.create_authorization_response(grant=grant, grant_user=user)
    if new_cookie is not None:
        response.set_cookie(
            _cookie_name(tenant),
            new_cookie,
            httponly=True,
            secure=request.is_secure,
            samesite="Lax",
            path="/",
        )
    devices.set_device_cookie(response, tenant, trusted)
    if send_browser_state:
        set_browser_state(response, tenant, browser_state)
    return response


def _browser_state(tenant: TenantRecord, *, signed_in_now: bool) -> tuple[str, bool]:
    """The OP browser state for a signed-in browser, and whether it must be sent: a new one
    at every sign-in (so apps of the previous sign-in see a change), and for a session that
    began before the browser had one."""
    current = read_browser_state(tenant)
    if signed_in_now or current is None:
        return new_browser_state(), True
    return current, False


def _sign_browser_in(
    tenant: TenantRecord,
    client: Any,
    session: SessionRecord | None,
    user: StoredUser,
    amr: str,
    *,
    device: Any = None,
    trust: bool = False,
) -> tuple[SessionRecord, str, devices.Trusted | None]:
    """Sign this browser in as ``user``: the session it had ends and a new one starts, with the
    device's trust (asked for after a second factor: ``trust``; or the one it already holds:
    ``device``) and the new-device assessment, in one transaction. Returns the new session, its
    cookie secret and the device trusted now."""
    with write_transaction():
        trusted = devices.trust_if_asked(tenant, user) if trust else None
        if session is not None:
            end_session(session.id)
        new_session, cookie = start_session(
            tenant.id, user.id, request.headers.get("User-Agent", ""), _client_ip(), amr=amr
        )
        devices.after_sign_in(tenant, user, new_session, client.client_id, device, trusted)
    browser["csrf"] = secrets.token_urlsafe(32)  # a new session gets a new CSRF token
    browser[FRESH_LOGIN_KEY] = request_fingerprint(request.query_string)
    return new_session, cookie, trusted


# -- second factor (issue 4) -----------------------------------------------------------------------
# After the password, a user with an active TOTP is half signed in: the browser's signed cookie
# holds an opaque challenge secret, the server holds its digest with the user, the client and an
# expiry. No session exists until the second factor passes. Wrong codes count on the user's
# shared MFA counter (locks with growing delays, every worker alike); a challenge also takes at
# most MFA_CHALLENGE_ATTEMPTS answers before the password must be given again.
MFA_CHALLENGE_ATTEMPTS = 5
_MFA_KEY = "mfa_challenge"


def _mfa_page(
    client_name: str,
    user_name: str,
    action: str,
    status: int = 200,
    error: str | None = None,
    offers: dict[str, bool] | None = None,
) -> Response:
    return _page(
        "mfa.html",
        status,
        client_name=client_name,
        user_name=user_name,
        action=action,
        csrf_token=_csrf_token(),
        digits=settings().totp_digits,
        trust_days=devices.trust_days(),
        error=error,
        **(offers or {"offer_code": True, "offer_passkey": False}),
    )


def _passkey_problem(tenant: TenantRecord, client: Any, action: str, outcome: passkey_signin.Outcome) -> Response:
    """A passkey that did not sign anybody in: the MFA page again (its challenge kept) or the
    sign-in page."""
    if outcome.page == "mfa":
        challenge = find_challenge(tenant.id, digest(str(browser.get(_MFA_KEY, ""))))
        user = get_user(tenant.id, challenge.user_id) if challenge is not None else None
        if user is not None:
            offers = passkey_signin.factors(tenant.id, user.id)
            return _mfa_page(client.name, user.user_name, action, 401, outcome.problem, offers)
    if outcome.page in ("mfa", "restart"):
        return _restart(client, action, outcome.problem)
    return _page(
        "signin.html", 401, client_name=client.name, action=action, csrf_token=_csrf_token(), error=outcome.problem
    )


def _mfa_challenge(tenant: TenantRecord, user: StoredUser, client: Any, action: str) -> Response:
    secret = secrets.token_urlsafe(32)
    create_challenge(tenant.id, user.id, client.client_id, digest(secret), settings().mfa_signin_seconds)
    browser[_MFA_KEY] = secret
    browser["csrf"] = secrets.token_urlsafe(32)  # the password step is done: a new CSRF token
    return _mfa_page(client.name, user.user_name, action, offers=passkey_signin.factors(tenant.id, user.id))


def _restart(client: Any, action: str, message: str) -> Response:
    browser.pop(_MFA_KEY, None)
    return _page("signin.html", 400, client_name=client.name, action=action, csrf_token=_csrf_token(), error=message)


class _ChallengeTaken(Exception):
    """A parallel answer completed this sign-in's challenge first: roll this one back."""


def _reserve_mfa_answer(
    tenant: TenantRecord, client: Any, action: str
) -> tuple[StoredUser, str, mfa.Answer] | Response:
    """The challenge's user, the challenge and the answer with its attempts counted (the
    challenge's and the user's, each committed on its own before the code is evaluated), or the
    page to show instead."""
    id_hash = digest(str(browser.get(_MFA_KEY, "")))
    challenge = find_challenge(tenant.id, id_hash)
    if challenge is None or challenge.client_id != client.client_id:
        return _restart(client, action, "Your sign-in expired. Sign in again.")
    user = get_user(tenant.id, challenge.user_id)
    if user is None:
        return _restart(client, action, "Your sign-in expired. Sign in again.")
    if not count_challenge_attempt(id_hash, MFA_CHALLENGE_ATTEMPTS):
        return _restart(client, action, "Too many attempts. Sign in again.")
    reserved = mfa.reserve_second_factor(settings(), tenant.id, user.id, request.form.get("code", ""))
    if isinstance(reserved, mfa.Verdict):
        return _mfa_refused(tenant, client, action, user, id_hash, reserved)
    return user, id_hash, reserved


def _check_mfa_answer(
    tenant: TenantRecord, client: Any, action: str, user: StoredUser, id_hash: str, answer: mfa.Answer
) -> StoredUser | Response:
    """The user once the second factor passed, or the page to show instead; in the caller's
    transaction, which :class:`_ChallengeTaken` rolls back."""
    context = request_actor(client.client_id, "signin")
    verdict = mfa.check_second_factor(settings(), answer, context)
    if not verdict.ok:
        return _mfa_refused(tenant, client, action, user, id_hash, verdict)
    if not complete_challenge(id_hash):
        raise _ChallengeTaken
    return user


def _mfa_refused(
    tenant: TenantRecord, client: Any, action: str, user: StoredUser, id_hash: str, verdict: mfa.Verdict
) -> Response:
    if verdict.reason == "locked":
        response = _mfa_page(
            client.name,
            user.user_name,
            action,
            429,
            f"Too many wrong codes. Try again in {verdict.retry_after} seconds.",
            passkey_signin.factors(tenant.id, user.id),
        )
        response.headers["Retry-After"] = str(verdict.retry_after)
        return response
    if verdict.reason == "hard_locked":
        message = "Too many wrong codes. Your administrator must unlock your account."
        return _mfa_page(client.name, user.user_name, action, 429, message, passkey_signin.factors(tenant.id, user.id))
    if verdict.reason == "not_enrolled":  # MFA was turned off meanwhile: start again
        complete_challenge(id_hash)
        return _restart(client, action, "Your sign-in expired. Sign in again.")
    error = "That backup code was already used." if verdict.reason == "spent" else "That code is not valid."
    return _mfa_page(client.name, user.user_name, action, 401, error, passkey_signin.factors(tenant.id, user.id))


# -- expired password (issue 18) -------------------------------------------------------------------
# A correct but expired password (the tenant's maximum age) signs nobody in: after it (and after
# the second factor, for MFA users) the page asks for a new one. The browser's signed cookie holds
# a one-time code of an "expired" recovery flow bound to the user; the new password goes through
# the tenant's policy like any reset, and then the sign-in completes with the factors already shown.
_EXPIRED_KEY = "expired_change"


def _expired_page(tenant: TenantRecord, user: StoredUser, client: Any, action: str, amr: str) -> Response:
    code = recovery.start_expired_change(settings(), tenant, user, _recovery_caller(client))
    browser[_EXPIRED_KEY] = {"code": code, "amr": amr, "client": client.client_id}
    browser["csrf"] = secrets.token_urlsafe(32)  # the password step is done: a new CSRF token
    return _new_password_page(action)


def _new_password_page(action: str, status: int = 200, error: str | None = None) -> Response:
    return _page(
        "new_password.html",
        status,
        action=action,
        form_action="expired",
        csrf_token=_csrf_token(),
        reason="Your password has expired. Choose a new one to continue signing in.",
        error=error,
    )


def _recovery_caller(client: Any) -> Actor:
    return request_actor(client.client_id)


def _expired_answer(tenant: TenantRecord, client: Any, action: str) -> tuple[StoredUser, str] | Response:
    """The user and their sign-in methods once the new password is set, or the page to show."""
    state = browser.get(_EXPIRED_KEY) or {}
    if not state.get("code") or state.get("client") != client.client_id:
        return _restart(client, action, "Your sign-in expired. Sign in again.")
    password = request.form.get("password", "")
    if password != request.form.get("password2", ""):
        return _new_password_page(action, 400, "The two passwords differ.")
    try:
        user = recovery.reset(
            settings(), tenant, state["code"], password, _recovery_caller(client), kinds=(recovery.EXPIRED,)
        )
    except recovery.RecoveryRefused as exc:
        if exc.reason in ("policy", "history"):
            return _new_password_page(action, 400, exc.detail)
        browser.pop(_EXPIRED_KEY, None)
        return _restart(client, action, "Your sign-in expired. Sign in again.")
    browser.pop(_EXPIRED_KEY, None)
    return user, str(state.get("amr") or "pwd")


def _issuer_parameter() -> TenantIssuerParameter:
    return TenantIssuerParameter()


def _prompt_error(grant: Any, error: OAuth2Error) -> Response:
    """OIDC Core §3.1.2.6: ``prompt=none`` errors go back to the client's validated redirect URI."""
    error.redirect_uri = grant.redirect_uri
    error.state = grant.request.payload.state
    response: Response = _issuer_parameter().add_to(oauth_server().handle_error_response(None, error))
    return response


@bp.route("/oidc/logout", methods=["GET", "POST"])
def logout() -> Any:
    """RP-initiated logout: end the session (and its tokens) and return to the app if its
    ``post_logout_redirect_uri`` is one of the client's registered redirect URIs.

    OIDC RP-Initiated Logout 1.0 §2: without an ``id_token_hint`` this tenant issued to the
    signed-in user, the user is asked to confirm (a form with the page's CSRF token), so a
    cross-site link or form cannot sign anybody out (see :mod:`scim_me.oauth.logout`)."""
    tenant = current_tenant()
    if tenant is None:
        return _message("Unknown organization", "This link names an organization that does not exist.", 404)
    session, user = _signed_in(tenant)
    named_client = request.values.get("client_id", "")
    if session is not None and user is not None and not _logout_proven(tenant, user, named_client):
        if request.method != "POST" or request.form.get("action") != "logout":
            return _page(
                "logout.html",
                user_name=user.user_name,
                action=request.script_root + request.path,
                csrf_token=_csrf_token(),
                fields={
                    name: request.values[name]
                    for name in ("post_logout_redirect_uri", "client_id", "state", "id_token_hint")
                    if request.values.get(name)
                },
            )
        if not _check_csrf():
            return _message("Session expired", "The form expired. Go back and try again.", 400)
    if session is not None:
        end_session(session.id)
    state_changed = session is not None or read_browser_state(tenant) is not None
    target = request.values.get("post_logout_redirect_uri")
    client = find_client(tenant.id, named_client or _hinted_client(tenant)) if target else None
    if target and client is not None and target in client.redirect_uris:
        state = request.values.get("state")
        location = target + (("&" if "?" in target else "?") + urlencode({"state": state}) if state else "")
        response: Any = redirect(location, code=302)
    else:
        response = _message("Signed out", "You have been signed out.", 200)
    response.delete_cookie(_cookie_name(tenant), path="/", secure=request.is_secure, httponly=True, samesite="Lax")
    if state_changed:
        change_browser_state(response, tenant)  # the apps' check-session frames see "changed"
    return response


def _logout_hint(tenant: TenantRecord) -> LogoutHint | None:
    token = request.values.get("id_token_hint", "")
    if not token:
        return None
    return verify_id_token_hint(token, tenant_id=tenant.id, issuer=tenant_issuer(tenant))


def _logout_proven(tenant: TenantRecord, user: StoredUser, named_client: str) -> bool:
    """The hint names the signed-in user and, when the request names a client, was issued to it
    (RP-Initiated Logout §2: the OP verifies that ``client_id`` matches the hint's)."""
    hint = _logout_hint(tenant)
    return hint is not None and hint.subject == user.id and (not named_client or named_client in hint.audiences)


def _hinted_client(tenant: TenantRecord) -> str:
    """RP-Initiated Logout §2: without ``client_id``, the app is the verified hint's audience."""
    hint = _logout_hint(tenant)
    return hint.audiences[0] if hint is not None and len(hint.audiences) == 1 else ""


def _discovery() -> Response:
    tenant = current_tenant()
    if tenant is None:
        return _message("Unknown organization", "No such organization.", 404)
    issuer = tenant_issuer(tenant)
    base = issuer[: -len("/oauth2/token")]
    document = {
        "issuer": issuer,
        "authorization_endpoint": f"{base}/oauth2/authorize",
        "token_endpoint": f"{base}/oauth2/token",
        "userinfo_endpoint": f"{base}/oauth2/userinfo",
        "jwks_uri": f"{base}/oauth2/jwks",
        "revocation_endpoint": f"{base}/oauth2/revoke",
        "introspection_endpoint": f"{base}/oauth2/introspect",
        "end_session_endpoint": f"{base}/oidc/logout",
        "check_session_iframe": f"{base}/oidc/checksession",  # OIDC Session Management 1.0 §3.3
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token", "password", "client_credentials"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256", "ES256"],
        "code_challenge_methods_supported": ["S256"],
        "authorization_response_iss_parameter_supported": True,  # RFC 9207
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "scopes_supported": ["openid", "profile", "email", "phone", "address", "internal_login"],
        "claims_supported": [
            "sub",
            "name",
            "given_name",
            "family_name",
            "middle_name",
            "nickname",
            "preferred_username",
            "profile",
            "picture",
            "zoneinfo",
            "locale",
            "birthdate",
            "email",
            "email_verified",
            "phone_number",
            "phone_number_verified",
            "address",
        ],
    }
    return json_response(document, headers={"Cache-Control": "max-age=300"})


@bp.get("/oauth2/token/.well-known/openid-configuration")
def discovery_wso2() -> Response:
    return _discovery()


@bp.get("/oauth2/oidcdiscovery/.well-known/openid-configuration")
def discovery_wso2_legacy() -> Response:
    return _discovery()


@bp.get("/.well-known/openid-configuration")
def discovery() -> Response:
    return _discovery()

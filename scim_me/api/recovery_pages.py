"""The sign-in page's account-recovery pages (WSO2's ``accountrecoveryendpoint``), server-rendered
with the sign-in page's look and protections (``web/pages.py``: CSRF token, no framing, no cache,
no referrer), on the same code as the recovery API (``services/recovery.py``):

- ``/accountrecoveryendpoint/recoverpassword.do``: username or address → a code is mailed → the
  code → a new password → back to the authorization request the user started (``return_to``,
  only ever this tenant's ``/oauth2/authorize``), where they sign in with it (and meet their
  second factor).
- ``/accountrecoveryendpoint/recoverusername.do``: address → the username is mailed.
- ``/accountrecoveryendpoint/password-reset``: the link an administrator's forced reset mails
  (code in the fragment, never sent to the server by a link scanner; the click POSTs it).
- ``POST /accountrecoveryendpoint/confirm-email/resend``: the sign-in page's "Send me a new link"
  for an account held until its address is confirmed (``services/verify_email.resend``, as the
  resend-code API), then back to the authorization request.

The flow's codes live in the browser's signed session cookie, never in a URL; every answer is
the same whether the account exists or not, as in the API.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint
from flask import Response
from flask import redirect
from flask import request
from flask import session as browser

from scim_me.core.recovery import Identifier
from scim_me.services import recovery
from scim_me.services import verify_email
from scim_me.services.recovery import CHANNEL_ID
from scim_me.services.recovery import RecoveryRefused
from scim_me.storage import recovery_flows as flows
from scim_me.storage.events import Actor
from scim_me.web.context import current_tenant
from scim_me.web.context import request_actor
from scim_me.web.context import settings
from scim_me.web.pages import check_csrf
from scim_me.web.pages import csrf_token
from scim_me.web.pages import message
from scim_me.web.pages import page

bp = Blueprint("recovery_pages", __name__)

_STATE = "recovery"  # the browser's flow: {"flow": flowConfirmationCode, "resend": ..., "reset": ...}
_LINK_PAGE_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
_MAX_INPUT = 320


def _caller() -> Actor:
    return request_actor()


def _return_to() -> str:
    """Where to go when done: this tenant's authorization endpoint with its query, else nowhere
    (an open redirect would let a mail point users at any site)."""
    given = request.values.get("return_to", "")
    parts = urlsplit(given)
    if parts.scheme or parts.netloc or parts.path != request.script_root + "/oauth2/authorize" or "\\" in given:
        return ""
    return given


def _try_again(exc: RecoveryRefused, too_many: str) -> str:
    minutes = max(1, -(-exc.retry_after // 60))
    return f"Too many {too_many}. For your security, try again in {minutes} minute{'s' if minutes != 1 else ''}."


def _throttled(template: str, exc: RecoveryRefused, **context: Any) -> Response:
    error = _try_again(exc, "attempts")
    return page(template, 429, headers={"Retry-After": str(exc.retry_after)}, error=error, **context)


def _password_page(step: str, status: int = 200, **context: Any) -> Response:
    return page(
        "recover_password.html",
        status,
        step=step,
        action=request.script_root + request.path,
        csrf_token=csrf_token(),
        return_to=_return_to(),
        minutes=max(1, settings().recovery_code_lifetime // 60),
        **context,
    )


@bp.route("/accountrecoveryendpoint/recoverpassword.do", methods=["GET", "POST"])
def recover_password() -> Response:
    tenant = current_tenant()
    if tenant is None:
        return message("Unknown organization", "This link names an organization that does not exist.", 404)
    if not tenant.settings.password_recovery:
        return message("Not available", "Password recovery is turned off for this organization.", 403)
    if request.method == "GET":
        browser.pop(_STATE, None)
        return _password_page("init")
    if not check_csrf():
        return message("Session expired", "The form expired. Go back and try again.", 400)
    step = request.form.get("step", "")
    state = dict(browser.get(_STATE) or {})
    s = settings()
    try:
        if step == "init":
            typed = request.form.get("identifier", "").strip()[:_MAX_INPUT]
            if not typed:
                return _password_page("init", 400, error="Enter your username or e-mail address.")
            identifier = Identifier(None, typed) if "@" in typed else Identifier(typed, None)
            started = recovery.start(s, tenant, identifier, flows.PASSWORD, _caller())
            notified = recovery.send(s, tenant, started.recovery_code, CHANNEL_ID, flows.PASSWORD, _caller())
            assert notified is not None
            browser[_STATE] = {"flow": notified.flow_code, "resend": notified.resend_code}
            return _password_page("code")
        if step == "resend" and state.get("resend"):
            notified = recovery.resend(s, tenant, state["resend"], _caller())
            browser[_STATE] = {"flow": notified.flow_code, "resend": notified.resend_code}
            return _password_page("code", notice="We sent a new code. The previous one no longer works.")
        if step == "code" and state.get("flow"):
            reset_code = recovery.confirm(s, tenant, state["flow"], request.form.get("code", "")[:64], _caller())
            browser[_STATE] = {"flow": state["flow"], "reset": reset_code}
            return _password_page("reset")
        if step == "reset" and state.get("reset"):
            return _reset(tenant, state)
    except RecoveryRefused as exc:
        return _refused(step, exc)
    browser.pop(_STATE, None)
    return _password_page("init", 400, error="This recovery expired. Start again.")


def _refused(step: str, exc: RecoveryRefused) -> Response:
    if exc.reason == "throttled":
        current = "code" if step in ("code", "resend") else "init"
        return _throttled(
            "recover_password.html",
            exc,
            step=current,
            action=request.script_root + request.path,
            csrf_token=csrf_token(),
            return_to=_return_to(),
            minutes=max(1, settings().recovery_code_lifetime // 60),
        )
    if exc.reason == "invalid_code":
        return _password_page("code", 401, error="That code is not valid. Check the latest mail we sent.")
    browser.pop(_STATE, None)
    return _password_page("init", 400, error="This recovery expired or was replaced by a newer one. Start again.")


def _reset(tenant: Any, state: dict[str, str]) -> Response:
    password = request.form.get("password", "")
    if password != request.form.get("password2", ""):
        return _password_page("reset", 400, error="The two passwords differ.")
    try:
        recovery.reset(settings(), tenant, state["reset"], password, _caller(), flow_code=state["flow"])
    except RecoveryRefused as exc:
        if exc.reason in ("policy", "history"):
            return _password_page("reset", 400, error=exc.detail)
        raise
    browser.pop(_STATE, None)
    target = _return_to()
    if target:
        browser["signin_notice"] = "Your password was changed. Sign in with the new one."
        return redirect(target, code=303)  # type: ignore[return-value]
    return message("Password changed", "Your password was changed. Sign in to your app with the new one.", 200)


@bp.route("/accountrecoveryendpoint/recoverusername.do", methods=["GET", "POST"])
def recover_username() -> Response:
    tenant = current_tenant()
    if tenant is None:
        return message("Unknown organization", "This link names an organization that does not exist.", 404)
    if not tenant.settings.username_recovery:
        return message("Not available", "Username recovery is turned off for this organization.", 403)
    context: dict[str, Any] = {
        "action": request.script_root + request.path,
        "csrf_token": csrf_token(),
        "return_to": _return_to(),
    }
    if request.method == "GET":
        return page("recover_username.html", **context)
    if not check_csrf():
        return message("Session expired", "The form expired. Go back and try again.", 400)
    typed = request.form.get("email", "").strip()[:_MAX_INPUT]
    if "@" not in typed:
        return page("recover_username.html", 400, error="Enter the e-mail address of your account.", **context)
    s = settings()
    try:
        started = recovery.start(s, tenant, Identifier(None, typed), flows.USERNAME, _caller())
        recovery.send(s, tenant, started.recovery_code, CHANNEL_ID, flows.USERNAME, _caller())
    except RecoveryRefused as exc:
        if exc.reason != "throttled":
            raise
        return _throttled("recover_username.html", exc, **context)
    return page("recover_username.html", sent=True, **context)


@bp.route("/accountrecoveryendpoint/password-reset", methods=["GET", "POST"])
def forced_reset_page() -> Response:
    """The page an administrator's forced-reset mail and an invitation (askPassword) link to."""
    tenant = current_tenant()
    if tenant is None:
        return message("Unknown organization", "This link names an organization that does not exist.", 404)
    headers = {"Content-Security-Policy": _LINK_PAGE_CSP}
    context: dict[str, Any] = {
        "action": request.script_root + request.path,
        "form_action": "reset",
        "with_code": True,
        # The same page for a forced reset's link and an invitation's (the code says which).
        "reason": "Choose the password of your account.",
    }
    if request.method == "GET":
        return page("new_password.html", headers=headers, csrf_token=csrf_token(), **context)
    if not check_csrf():
        return message("Session expired", "The form expired. Open the link again.", 400)
    password = request.form.get("password", "")
    if password != request.form.get("password2", ""):
        return page(
            "new_password.html",
            400,
            headers=headers,
            csrf_token=csrf_token(),
            error="The two passwords differ.",
            **context,
        )
    try:
        recovery.reset(
            settings(),
            tenant,
            request.form.get("code", "")[:64],
            password,
            _caller(),
            kinds=(flows.FORCED, flows.INVITE),
        )
    except RecoveryRefused as exc:
        if exc.reason in ("policy", "history"):
            return page("new_password.html", 400, headers=headers, csrf_token=csrf_token(), error=exc.detail, **context)
        return message(
            "Link expired",
            'This link is no longer valid. Use "Forgot password?" on the sign-in page to get a new code.',
            400,
        )
    return message("Password changed", "Your password was changed. Sign in to your app with the new one.", 200)


_RESENT = (
    "If your account is waiting for its e-mail address to be confirmed, we mailed you a new link."
    " The previous one no longer works."
)


@bp.post("/accountrecoveryendpoint/confirm-email/resend")
def resend_confirmation() -> Response:
    """The sign-in page's button for an account held until its address is confirmed. It answers
    as the resend-code API does: the same for every name (the button shows only after the right
    password, but anybody can post this form), within the same mail limits."""
    tenant = current_tenant()
    if tenant is None:
        return message("Unknown organization", "This link names an organization that does not exist.", 404)
    if not check_csrf():
        return message("Session expired", "The form expired. Go back and try again.", 400)
    typed = request.form.get("username", "").strip()[:_MAX_INPUT]
    if not typed:
        return message("Nothing to send", "Sign in again to ask for a new link.", 400)
    try:
        verify_email.resend(settings(), tenant, typed, _caller())
    except RecoveryRefused as exc:
        if exc.reason != "throttled":
            raise
        retry = {"Retry-After": str(exc.retry_after)}
        text = _try_again(exc, "mails")
        return page("message.html", 429, headers=retry, heading="Try again later", message=text)
    target = _return_to()
    if target:
        browser["signin_notice"] = _RESENT
        return redirect(target, code=303)  # type: ignore[return-value]
    return message("Check your mail", _RESENT, 200)

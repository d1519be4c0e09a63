"""The signed cookie that carries the sign-in pages' CSRF token, opened only when sent.

Flask builds the cookie's signing serializer (a key derivation) on every request before it
looks for the cookie. API calls with a bearer token never send it, so that was pure cost on
every GET and PATCH of /Me; the serializer is now built only for a request that has the cookie.
"""

from __future__ import annotations

from flask import Flask
from flask import Request
from flask import Response
from flask import request
from flask.sessions import SecureCookieSession
from flask.sessions import SecureCookieSessionInterface
from flask.sessions import SessionMixin


class LazyCookieSessionInterface(SecureCookieSessionInterface):
    def get_cookie_secure(self, app: Flask) -> bool:
        # The cookie carries the CSRF token and the MFA challenge secret: ``Secure`` whenever
        # the request came over https (directly, or through a trusted proxy: web/proxies.py).
        return bool(super().get_cookie_secure(app)) or request.is_secure

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        if app.secret_key and (
            "HTTP_COOKIE" not in request.environ or not request.cookies.get(self.get_cookie_name(app))
        ):
            return self.session_class()
        return super().open_session(app, request)

    def save_session(self, app: Flask, session: SessionMixin, response: Response) -> None:
        # A session nobody touched, with nothing in it, has nothing to save (Flask would work out
        # the cookie's attributes first, then return): every API request.
        if not session and not session.modified and not session.accessed:
            return
        super().save_session(app, session, response)

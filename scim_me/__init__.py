"""scim-me: a self-hostable SCIM 2.0 /Me self-service server, wire-compatible with WSO2 / Asgardeo."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from typing import Any

from flask import Flask
from flask import Request
from flask import Response
from flask import request
from jinja2 import PackageLoader

from scim_me.config import Settings

__version__ = "0.1.0"


def create_app(overrides: Mapping[str, Any] | None = None) -> Flask:
    """Build the application: settings → database → schemas → blueprints → error handlers."""
    from scim_me.api import account
    from scim_me.api import alerts
    from scim_me.api import authorized_apps
    from scim_me.api import checksession
    from scim_me.api import consent_mgt
    from scim_me.api import devices
    from scim_me.api import discovery
    from scim_me.api import email_verification
    from scim_me.api import export
    from scim_me.api import me_applications
    from scim_me.api import me_sessions
    from scim_me.api import mfa
    from scim_me.api import oauth
    from scim_me.api import operator
    from scim_me.api import recovery
    from scim_me.api import recovery_pages
    from scim_me.api import resend_code
    from scim_me.api import scim_bulk
    from scim_me.api import scim_groups
    from scim_me.api import scim_me
    from scim_me.api import scim_users
    from scim_me.api import security
    from scim_me.api import signin
    from scim_me.api import tenant_rules
    from scim_me.api import webauthn
    from scim_me.core.schemas import load_custom_schema
    from scim_me.core.schemas import load_group_registry
    from scim_me.core.schemas import load_registry
    from scim_me.notify import notices
    from scim_me.notify.outbox import build_outbox_mailer
    from scim_me.oauth.server import build_authorization_server
    from scim_me.openapi import web as openapi_web
    from scim_me.services import alerts as alert_rules
    from scim_me.services import devices as device_rules
    from scim_me.storage.db import database_proxy
    from scim_me.storage.db import open_database
    from scim_me.storage.migrations import LATEST
    from scim_me.storage.migrations import current_version
    from scim_me.tenancy import TenantPrefixMiddleware
    from scim_me.web import observe
    from scim_me.web.context import AppState
    from scim_me.web.converters import register_converters
    from scim_me.web.cookie_session import LazyCookieSessionInterface
    from scim_me.web.cors import register_cors
    from scim_me.web.flask_classes import ScimMeFlask
    from scim_me.web.handlers import register_error_handlers
    from scim_me.web.proxies import TrustedProxies

    settings = Settings.load(overrides)
    observe.configure_logging(settings)

    # Templates are package data, read through importlib (jinja2's PackageLoader), not a folder
    # next to the source: the same in a checkout, an editable install and a wheel. No static
    # folder: every route is an API operation (the Swagger UI assets are one, api/docs).
    app = ScimMeFlask(__name__, template_folder=None, static_folder=None)
    register_converters(app)  # before any route: no path parameter reaches a view unchecked
    app.jinja_loader = PackageLoader("scim_me", "templates")
    # Flask reads FLASK_DEBUG from the environment: a development .env must not turn debug
    # behaviour (exceptions propagated past the error handlers, templates reloaded) on in
    # production. Nothing in scim-me needs it.
    app.config["DEBUG"] = False
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes

    class _Request(Request):
        # The same limit as MAX_CONTENT_LENGTH, without Flask looking it up in the app's config
        # through two context proxies each time a body is read.
        _max_content_length = settings.max_body_bytes

    app.request_class = _Request
    # Signs the sign-in pages' CSRF cookie; derived from the master key, so workers agree.
    app.secret_key = hmac.new(settings.master_key(), b"scim-me flask session", hashlib.sha256).digest()
    app.config["SESSION_COOKIE_NAME"] = "scim_me_csrf"
    app.config["SESSION_COOKIE_HTTPONLY"] = True
    app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    app.session_interface = LazyCookieSessionInterface()
    app.json.sort_keys = False  # type: ignore[attr-defined]

    db = open_database(settings.database_url, **settings.database_options())
    database_proxy.initialize(db)
    with db.connection_context():
        version = current_version(db)
    if version < LATEST:
        raise RuntimeError(f"database schema is at version {version}, expected {LATEST}: run `scim-me db upgrade`")

    registry = load_registry(settings.schema_source())
    custom: dict[str, Any] = {}
    custom_dir = settings.custom_schema_source()
    if custom_dir.is_dir():
        for path in sorted(custom_dir.iterdir(), key=lambda entry: entry.name):
            if path.name.endswith(".json") and path.is_file():
                custom[path.name.removesuffix(".json").lower()] = load_custom_schema(path)
    app_state = AppState(
        settings=settings,
        db=db,
        registry=registry,
        admin_registry=load_registry(settings.schema_source(), admin=True),
        group_registry=load_group_registry(settings.schema_source()),
        mailer=build_outbox_mailer(settings, db),
        custom_schemas=custom,
    )
    app.extensions["scim_me"] = app_state
    notices.register()
    alert_rules.register(alert_rules.AlertPolicy.of(settings))
    device_rules.register()

    @app.before_request
    def _connect() -> None:
        if request.endpoint == "operator.health":
            return  # liveness: the process answers, whatever the database does
        database_proxy.initialize(db)
        db.connect(reuse_if_open=True)

    @app.teardown_request
    def _close(_exc: BaseException | None) -> None:
        if not db.is_closed():
            db.close()

    @app.after_request
    def _headers(response: Response) -> Response:
        # One pass over the headers: werkzeug looks up a missing header by raising an exception.
        present = {name.lower() for name, _value in response.headers}
        if "x-content-type-options" not in present:
            response.headers.add("X-Content-Type-Options", "nosniff")
        if "cache-control" not in present:
            response.headers.add("Cache-Control", "no-store")
        return response

    app_state.oauth = build_authorization_server(app)
    register_cors(app)
    app.register_blueprint(scim_me.bp)
    app.register_blueprint(scim_users.bp)
    app.register_blueprint(scim_groups.bp)
    app.register_blueprint(scim_bulk.bp)
    app.register_blueprint(oauth.bp)
    app.register_blueprint(signin.bp)
    app.register_blueprint(checksession.bp)
    app.register_blueprint(discovery.bp)
    app.register_blueprint(security.bp)
    app.register_blueprint(email_verification.bp)
    app.register_blueprint(resend_code.bp)
    app.register_blueprint(account.bp)
    app.register_blueprint(mfa.bp)
    app.register_blueprint(webauthn.bp)
    app.register_blueprint(consent_mgt.bp)
    app.register_blueprint(authorized_apps.bp)
    app.register_blueprint(me_sessions.bp)
    app.register_blueprint(me_applications.bp)
    app.register_blueprint(alerts.bp)
    app.register_blueprint(devices.bp)
    app.register_blueprint(export.bp)
    app.register_blueprint(tenant_rules.bp)
    app.register_blueprint(recovery.bp)
    app.register_blueprint(recovery_pages.bp)
    app.register_blueprint(operator.bp)
    app.register_blueprint(openapi_web.bp)
    register_error_handlers(app)
    observe.install(app, settings)
    app.wsgi_app = TenantPrefixMiddleware(app.wsgi_app, settings.default_tenant)  # type: ignore[method-assign]
    if settings.trusted_proxies:
        # Outermost: the client's scheme and address are settled before anything reads them.
        app.wsgi_app = TrustedProxies(app.wsgi_app, settings.trusted_proxy_networks())  # type: ignore[method-assign]
    return app

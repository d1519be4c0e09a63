"""The application's state (one typed object in ``app.extensions["scim_me"]``) and the
per-request accessors built on it: settings, the tenant named by the URL, its schemas."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass
from dataclasses import field

from authlib.integrations.flask_oauth2 import AuthorizationServer
from flask import Request
from flask.ctx import _AppCtxGlobals

# Flask's own context variables, behind its ``current_app`` / ``request`` proxies. Each proxy
# access costs about ten times a context-variable read and a /Me request makes dozens, so the
# accessors below read them directly (the proxies stay for everything off the hot path).
from flask.globals import _cv_app
from flask.globals import _cv_request

from scim_me.auth.external import JwksCache
from scim_me.auth.tokens import VerifiedTokens
from scim_me.auth.tokens import issuer_for
from scim_me.config import Settings
from scim_me.core.schemas import Schema
from scim_me.core.schemas import SchemaRegistry
from scim_me.errors import ApiError
from scim_me.errors import NotFoundError
from scim_me.notify.outbox import OutboxMailer
from scim_me.storage.clients import tenant_origins
from scim_me.storage.db import Database
from scim_me.storage.events import Actor
from scim_me.storage.tenants import TenantRecord
from scim_me.storage.tenants import find_tenant
from scim_me.tenancy import TENANT_KEY


class RenderedBodies:
    """A bounded per-worker LRU of response bodies, for views whose body is a pure function of
    a key that includes the version of what they show (GET /scim2/Me: the user's version)."""

    def __init__(self, size: int = 1024) -> None:
        self.size = size
        self._items: OrderedDict[Hashable, str] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> str | None:
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
            return found

    def put(self, key: Hashable, body: str) -> None:
        with self._lock:
            self._items[key] = body
            while len(self._items) > self.size:
                self._items.popitem(last=False)


@dataclass
class AppState:
    """Everything one app holds: built once by ``create_app``, shared by its requests."""

    settings: Settings
    db: Database
    registry: SchemaRegistry
    mailer: OutboxMailer
    # The User schemas as administrators write them (/scim2/Users): without the self-service
    # overrides (core/schemas.load_registry(admin=True)).
    admin_registry: SchemaRegistry
    group_registry: SchemaRegistry  # the Group resource type (/scim2/Groups)
    custom_schemas: dict[str, Schema] = field(default_factory=dict)
    # Set right after the state exists: building the server needs the app.
    oauth: AuthorizationServer | None = None
    _registries: dict[str, SchemaRegistry] = field(default_factory=dict)
    _admin_registries: dict[str, SchemaRegistry] = field(default_factory=dict)
    _tenants: dict[str, tuple[float, TenantRecord]] = field(default_factory=dict)
    verified_tokens: VerifiedTokens = field(default_factory=VerifiedTokens)
    _origins: dict[int, tuple[float, frozenset[str]]] = field(default_factory=dict)
    jwks: JwksCache = field(default_factory=JwksCache)  # external issuers' keys
    user_bodies: RenderedBodies = field(default_factory=RenderedBodies)  # /scim2/Me, per user version
    # The users of /scim2/Users pages, per user version (services/user_view.user_texts): apart
    # from /Me's, so an administrator paging through a large tenant does not push out the bodies
    # its users' own requests reuse. About 1 KB each.
    page_bodies: RenderedBodies = field(default_factory=lambda: RenderedBodies(4096))

    def tenant_origins(self, tenant: TenantRecord) -> frozenset[str]:
        """The tenant's CORS origins (its clients' allowed origins), cached like tenants."""
        now = time.monotonic()
        cached = self._origins.get(tenant.id)
        if cached is not None and cached[0] > now:
            return cached[1]
        origins = frozenset(tenant_origins(tenant.id))
        if self.settings.tenant_cache_seconds > 0:
            self._origins[tenant.id] = (now + self.settings.tenant_cache_seconds, origins)
        return origins

    def tenant(self, name: str) -> TenantRecord | None:
        """Find a tenant, cached per worker for ``tenant_cache_seconds``: every request needs it
        and it changes only through the operator CLI. Unknown names are never cached."""
        now = time.monotonic()
        cached = self._tenants.get(name)
        if cached is not None and cached[0] > now:
            return cached[1]
        record = find_tenant(name)
        if record is not None and self.settings.tenant_cache_seconds > 0:
            self._tenants[name] = (now + self.settings.tenant_cache_seconds, record)
        return record

    def registry_for(self, tenant: str) -> SchemaRegistry:
        cached = self._registries.get(tenant)
        if cached is None:
            cached = self.registry.with_custom(self.custom_schemas.get(tenant))
            self._registries[tenant] = cached
        return cached

    def admin_registry_for(self, tenant: str) -> SchemaRegistry:
        cached = self._admin_registries.get(tenant)
        if cached is None:
            cached = self.admin_registry.with_custom(self.custom_schemas.get(tenant))
            self._admin_registries[tenant] = cached
        return cached


def state() -> AppState:
    return _cv_app.get().app.extensions["scim_me"]  # type: ignore[no-any-return]


def app_globals() -> _AppCtxGlobals:
    """``flask.g`` itself (this request's app context's namespace)."""
    return _cv_app.get().g


def tenant_issuer(tenant: TenantRecord) -> str:
    """The issuer of ``tenant``'s own tokens: WSO2's ``{base}/oauth2/token``, under ``/t/{name}``
    except for the default tenant."""
    s = settings()
    return issuer_for(s.base_url, tenant.name, s.default_tenant)


def request_actor(client_id: str | None = None, channel: str = "api") -> Actor:
    """The current request's client, as security events record who acted."""
    req = current_request()
    return Actor(req.remote_addr or "", req.headers.get("User-Agent", ""), client_id, channel)


def current_request() -> Request:
    """The request object itself, for functions that read several of its attributes."""
    return _cv_request.get().request


def oauth_server() -> AuthorizationServer:
    server = state().oauth
    if server is None:
        raise RuntimeError("the authorization server is built by create_app")
    return server


def settings() -> Settings:
    return state().settings


def tenant_name() -> str:
    return str(current_request().environ.get(TENANT_KEY) or settings().default_tenant)


def current_tenant() -> TenantRecord | None:
    found = app_globals()
    if "tenant" not in found:
        found.tenant = state().tenant(tenant_name())
    return found.tenant  # type: ignore[no-any-return]


def require_tenant(wso2_code: str | None = None) -> TenantRecord:
    """The tenant the URL names. An unknown one is 404 in the endpoint's own error dialect: the
    SCIM error document, or with ``wso2_code`` a WSO2 REST error (``{code, message, description}``)."""
    tenant = current_tenant()
    if tenant is None:
        if wso2_code is None:
            raise NotFoundError("No such tenant.")
        raise ApiError("No such tenant.", status=404, code=wso2_code, message="Not Found")
    return tenant


def registry() -> SchemaRegistry:
    return state().registry_for(tenant_name())


def admin_registry() -> SchemaRegistry:
    """The tenant's User schemas as administrators write them (``/scim2/Users``)."""
    return state().admin_registry_for(tenant_name())


def group_registry() -> SchemaRegistry:
    return state().group_registry


def base_url() -> str:
    """The externally visible URL of this tenant's root (``.../t/{tenant}`` or bare)."""
    found = app_globals()
    if "base_url" not in found:
        found.base_url = _host_url() + current_request().script_root
    return str(found.base_url)


# ``request.host_url`` decodes the URL as an IRI on every request (a tenth of a GET /Me); it is a
# function of the scheme and the Host header alone, so each worker keeps the few it sees.
_HOST_URLS: dict[tuple[str, str], str] = {}
_HOST_URLS_LIMIT = 256  # the Host header is the client's: bounded, whatever it sends


def _host_url() -> str:
    req = current_request()
    key = (req.scheme, req.host)
    found = _HOST_URLS.get(key)
    if found is None:
        found = req.host_url.rstrip("/")
        if len(_HOST_URLS) >= _HOST_URLS_LIMIT:
            _HOST_URLS.clear()
        _HOST_URLS[key] = found
    return found

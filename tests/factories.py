"""Plain helpers that create tenants, users and tokens directly through the storage layer."""

from __future__ import annotations

import base64
import time
from typing import Any
from typing import NamedTuple

from scim_me.auth.keys import create_signing_key
from scim_me.auth.tokens import issuer_for
from scim_me.auth.tokens import mint_access_token
from scim_me.core.passwords import hash_password
from scim_me.storage.tenants import TenantRecord
from scim_me.storage.tenants import TenantSettings
from scim_me.storage.tenants import create_tenant
from scim_me.storage.tenants import find_tenant
from scim_me.storage.users import StoredUser
from scim_me.storage.users import create_user
from scim_me.storage.users import get_user
from tests.support.apps import lent_rsa_key

PATCH_URN = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
ERROR_URN = "urn:ietf:params:scim:api:messages:2.0:Error"
SCIM_JSON = "application/scim+json"


def _settings(app: Any) -> Any:
    return app.extensions["scim_me"].settings


def make_tenant(
    app: Any, name: str = "acme", dialect: str = "wso2", alg: str = "RS256", **settings: Any
) -> TenantRecord:
    with app.app_context(), app.extensions["scim_me"].db.connection_context():
        existing = find_tenant(name)
        if existing is not None:
            return existing
        tenant = create_tenant(name, dialect, TenantSettings(**settings))
        with lent_rsa_key(_settings(app).database_url):  # a key no other live database holds
            create_signing_key(tenant.id, _settings(app).master_key(), alg)
        return tenant


def make_user(
    app: Any, tenant: TenantRecord, user_name: str = "kim", password: str | None = "correct-horse-9", **profile: Any
) -> StoredUser:
    s = _settings(app)
    params = s.hash_params()
    body = {"userName": user_name, **profile}
    with app.extensions["scim_me"].db.connection_context():
        return create_user(tenant.id, body, hash_password(password, params) if password else None)


def load_user(app: Any, tenant: TenantRecord, user_id: str) -> StoredUser | None:
    with app.extensions["scim_me"].db.connection_context():
        return get_user(tenant.id, user_id)


def make_token(
    app: Any,
    tenant: TenantRecord,
    user: StoredUser | None,
    scope: str = "openid internal_login",
    *,
    lifetime: int = 3600,
    now: int | None = None,
    audience: str | None = None,
    issuer: str | None = None,
    client_id: str = "test-client",
    extra: dict[str, Any] | None = None,
) -> str:
    s = _settings(app)
    claims = dict(extra or {})
    if user is None:
        claims.setdefault("sub_type", "application")
    else:
        # As the issuer's tokens: the user signed in when the token was issued (RFC 9470 step-up
        # reads it); a test of stale sign-ins passes its own ``auth_time``.
        claims.setdefault("auth_time", int(time.time()) if now is None else now)
    with app.extensions["scim_me"].db.connection_context():
        return mint_access_token(
            tenant_id=tenant.id,
            issuer=issuer or issuer_for(s.base_url, tenant.name, s.default_tenant),
            subject=user.id if user else client_id,
            client_id=client_id,
            scopes=scope,
            audience=audience or s.resource_audience,
            lifetime=lifetime,
            master_key=s.master_key(),
            now=now,
            extra=claims,
        )


def bearer(token: str, **headers: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", **headers}


def basic(user_name: str, password: str) -> dict[str, str]:
    raw = base64.b64encode(f"{user_name}:{password}".encode()).decode()
    return {"Authorization": f"Basic {raw}"}


class PasswordClient(NamedTuple):
    record: Any
    secret: str
    auth: dict[str, str]  # its Basic header


def password_client(
    app: Any, tenant: Any, grant_types: tuple[str, ...] = ("password",), scope: str | None = None
) -> PasswordClient:
    """A confidential client (``postman``) with ``grant_types``, its secret and its Basic header."""
    from scim_me.storage.clients import create_client

    extra = {"scope": scope} if scope is not None else {}
    with app.extensions["scim_me"].db.connection_context():
        record, secret = create_client(
            tenant.id,
            "postman",
            public=False,
            redirect_uris=[],
            allowed_origins=[],
            grant_types=list(grant_types),
            **extra,
        )
    return PasswordClient(record, secret, basic(record.client_id, secret))


def patch_body(*operations: dict[str, Any]) -> dict[str, Any]:
    return {"schemas": [PATCH_URN], "Operations": list(operations)}


def me_path(tenant: TenantRecord | None, default_tenant: str = "carbon.super") -> str:
    if tenant is None or tenant.name == default_tenant:
        return "/scim2/Me"
    return f"/t/{tenant.name}/scim2/Me"


def scim_error(status: int, detail: str, scim_type: str | None = None) -> dict[str, Any]:
    """The RFC 7644 §3.12 error document the server must answer, ``status`` as a string."""
    body: dict[str, Any] = {"schemas": [ERROR_URN], "status": str(status)}
    if scim_type:
        body["scimType"] = scim_type
    body["detail"] = detail
    return body


def assert_wso2_error(response: Any, status: int, code: str | None = None) -> dict[str, Any]:
    """A WSO2 REST error (the /api/... endpoints): exactly code, message, description, traceId;
    ``code`` checked when given. Returns the body for further checks."""
    assert response.status_code == status, (response.status_code, response.get_data(as_text=True))
    body: dict[str, Any] = response.get_json()
    assert set(body) == {"code", "message", "description", "traceId"}, body
    if code is not None:
        assert body["code"] == code, body
    return body

"""``/api/users/v1/me/authorized-apps`` and ``/api/users/v2/me/authorized-apps`` (wso2-api.md §8):
the apps the caller let act for them, and revoking them.

v1 items are ``{appId, clientId}`` (``appId`` is the app's name, as WSO2 shows it); v2 items are
``{id, name, clientId, approvedScopes}``. scim-me has no separate application id, so ``id`` is the
client id; a path's ``{application-id}`` is the client id (v1 also takes the app's name when it
names exactly one app). Revoking (204) revokes the app's grants and tokens for the caller on
every worker and forgets the remembered consent, so its next sign-in asks again. Another user's
app, or an app the caller never authorized, is 404.

Errors: ``AAP-60403`` (not a user token with internal_login), ``AAP-60404`` (no such app).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint
from flask import Response

from scim_me.errors import AAP
from scim_me.storage.authorized_apps import AuthorizedApp
from scim_me.storage.authorized_apps import list_authorized_apps
from scim_me.storage.authorized_apps import revoke_authorized_app
from scim_me.storage.db import write_transaction
from scim_me.web.principal import Principal
from scim_me.web.rest import empty
from scim_me.web.rest import json_response
from scim_me.web.rest import record
from scim_me.web.rest import self_service_caller
from scim_me.web.sections import register_export_section

bp = Blueprint("authorized_apps", __name__)

V1 = "/api/users/v1/me/authorized-apps"
V2 = "/api/users/v2/me/authorized-apps"


def _v1(app: AuthorizedApp) -> dict[str, Any]:
    return {"appId": app.name, "clientId": app.client_id}


def _v2(app: AuthorizedApp) -> dict[str, Any]:
    return {
        "id": app.client_id,
        "name": app.name,
        "clientId": app.client_id,
        "approvedScopes": list(app.approved_scopes),
    }


def _caller() -> tuple[Principal, str]:
    principal = self_service_caller(AAP)
    assert principal.user_id is not None
    return principal, principal.user_id


def _find(principal: Principal, user_id: str, application_id: str, *, by_name: bool) -> AuthorizedApp:
    apps = list_authorized_apps(principal.tenant.id, user_id)
    match = [app for app in apps if app.client_id == application_id]
    if not match and by_name:
        named = [app for app in apps if app.name == application_id]
        match = named if len(named) == 1 else []
    if not match:
        raise AAP.error(
            "60404",
            f"No authorized application {application_id!r} was found for the user.",
            status=404,
            message="Application not found",
        )
    return match[0]


def _revoke(principal: Principal, user_id: str, app: AuthorizedApp) -> None:
    """The app's grants (so its tokens) and the event, in one transaction."""
    with write_transaction():
        grants = revoke_authorized_app(principal.tenant.id, user_id, app.client_pk)
        record(principal, user_id, "app.revoked", clientId=app.client_id, appName=app.name, grants=grants)


@bp.get(V1)
def list_v1() -> Response:
    principal, user_id = _caller()
    return json_response([_v1(app) for app in list_authorized_apps(principal.tenant.id, user_id)])


@bp.get(V2)
def list_v2() -> Response:
    principal, user_id = _caller()
    return json_response([_v2(app) for app in list_authorized_apps(principal.tenant.id, user_id)])


@bp.get(f"{V1}/<application_id>")
def get_v1(application_id: str) -> Response:
    principal, user_id = _caller()
    return json_response(_v1(_find(principal, user_id, application_id, by_name=True)))


@bp.get(f"{V2}/<application_id>")
def get_v2(application_id: str) -> Response:
    principal, user_id = _caller()
    return json_response(_v2(_find(principal, user_id, application_id, by_name=False)))


@bp.delete(V1)
@bp.delete(V2)
def revoke_all() -> Response:
    principal, user_id = _caller()
    apps = list_authorized_apps(principal.tenant.id, user_id)
    with write_transaction():  # all of them or none
        for app in apps:
            _revoke(principal, user_id, app)
    return empty(204)


@bp.delete(f"{V1}/<application_id>")
def revoke_v1(application_id: str) -> Response:
    principal, user_id = _caller()
    _revoke(principal, user_id, _find(principal, user_id, application_id, by_name=True))
    return empty(204)


@bp.delete(f"{V2}/<application_id>")
def revoke_v2(application_id: str) -> Response:
    principal, user_id = _caller()
    _revoke(principal, user_id, _find(principal, user_id, application_id, by_name=False))
    return empty(204)


def _export_apps(tenant_id: int, user_id: str) -> list[dict[str, Any]]:
    return [_v2(app) for app in list_authorized_apps(tenant_id, user_id)]


register_export_section("authorizedApps", _export_apps)

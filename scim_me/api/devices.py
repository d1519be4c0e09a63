"""Trusted devices: ``/api/users/v1/me/devices`` (list, revoke one, revoke all) and the "this
wasn't me" page a new-device notice links to. The rules live in services/devices.py, the sign-in
page's hooks in services/device_signin.py; docs/trusted-devices.md describes the behaviour.

The API answers in WSO2's REST dialect (``DEV-`` codes, scim-me's own: WSO2 has no such API);
another user's device id, like an unknown one, is 404 ``DEV-60404``.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint
from flask import Response
from flask import request

from scim_me.core.timestamps import iso_or_none
from scim_me.errors import DEV
from scim_me.services import devices as rules
from scim_me.storage import alerts as alert_store
from scim_me.storage import devices as store
from scim_me.storage.db import write_transaction
from scim_me.storage.events import record_event
from scim_me.storage.sessions import end_other_sessions
from scim_me.web.context import current_tenant
from scim_me.web.pages import check_csrf
from scim_me.web.pages import csrf_token
from scim_me.web.pages import message
from scim_me.web.pages import page
from scim_me.web.rest import empty
from scim_me.web.rest import json_response
from scim_me.web.rest import self_service_caller
from scim_me.web.sections import Subject
from scim_me.web.sections import register_export_section
from scim_me.web.sections import register_overview_section

bp = Blueprint("devices", __name__)

PATH = "/api/users/v1/me/devices"


def _ip() -> str:
    return request.remote_addr or ""


def _user_agent() -> str:
    return request.headers.get("User-Agent", "")


# -- the API -------------------------------------------------------------------------------------


def represent_device(device: store.DeviceRecord) -> dict[str, Any]:
    return {
        "id": device.id,
        "name": device.name,
        "userAgent": device.user_agent or None,
        "createdTime": iso_or_none(device.created_at),
        "lastUsedTime": iso_or_none(device.last_used_at),
        "lastUsedIp": device.last_ip or None,
        "expiryTime": iso_or_none(device.expires_at),
    }


def _caller() -> tuple[Any, str]:
    principal = self_service_caller(DEV)
    assert principal.user_id is not None
    return principal, principal.user_id


@bp.get(PATH)
def list_my_devices() -> Response:
    principal, user_id = _caller()
    found = store.list_devices(principal.tenant.id, user_id)
    return json_response({"totalResults": len(found), "devices": [represent_device(d) for d in found]})


@bp.delete(PATH)
def revoke_my_devices() -> Response:
    principal, user_id = _caller()
    rules.revoke(
        principal.tenant.id,
        user_id,
        None,
        ip=_ip(),
        user_agent=_user_agent(),
        client_id=principal.client_id,
        reason="user revoked every device",
    )
    return empty(204)


@bp.delete(f"{PATH}/<device_id>")
def revoke_my_device(device_id: str) -> Response:
    principal, user_id = _caller()
    revoked = rules.revoke(
        principal.tenant.id,
        user_id,
        device_id,
        ip=_ip(),
        user_agent=_user_agent(),
        client_id=principal.client_id,
        reason="user revoked the device",
    )
    if not revoked:
        raise DEV.error(
            "60404", f"No trusted device {device_id[:64]!r} was found for the user.", status=404, message="Not Found"
        )
    return empty(204)


def _export_devices(tenant_id: int, user_id: str) -> list[dict[str, Any]]:
    return [represent_device(d) for d in store.list_devices(tenant_id, user_id)]


def _overview_devices(subject: Subject) -> dict[str, Any]:
    return {"trusted": len(store.list_devices(subject.tenant.id, subject.user.id))}


register_export_section("trustedDevices", _export_devices)
register_overview_section("devices", _overview_devices)


# -- "this wasn't me" ------------------------------------------------------------------------------
# The new-device notice links here with a one-time code after '#' (never sent by a link scanner or
# logged). The page asks to confirm; the confirmation ends every session and token of the user,
# revokes every trusted device, and acknowledges the alert.
_LINK_PAGE_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)


def _link_not_valid() -> Response:
    return message(
        "Link not valid",
        "This link has expired or was used already. Sign in and review your account's security alerts.",
        400,
    )


@bp.route(rules.NOT_ME_PATH, methods=["GET", "POST"])
def not_me_page() -> Response:
    tenant = current_tenant()
    if tenant is None:
        return message("Unknown organization", "This link names an organization that does not exist.", 404)
    headers = {"Content-Security-Policy": _LINK_PAGE_CSP}
    action = request.script_root + request.path
    if request.method == "GET":
        return page("not_me.html", headers=headers, action=action, csrf_token=csrf_token())
    if not check_csrf():
        return message("Session expired", "The form expired. Open the link again.", 400)
    alert = alert_store.find_by_action(tenant.id, request.form.get("code", ""))
    if alert is None:  # decided by a read: a wrong code never queues for the write lock
        return _link_not_valid()
    # The link is spent in the transaction that signs everything out: a failure leaves it usable.
    with write_transaction():
        if not alert_store.spend_action(alert.id):
            return _link_not_valid()
        ended = end_other_sessions(tenant.id, alert.user_id)
        rules.revoke(tenant.id, alert.user_id, None, ip=_ip(), user_agent=_user_agent(), reason="this wasn't me")
        record_event(
            tenant.id,
            alert.user_id,
            "session.ended",
            ip=_ip(),
            user_agent=_user_agent(),
            details={"reason": "this wasn't me", "alertId": alert.id, "ended": ended},
        )
    return message(
        "Signed out everywhere",
        "Every session of your account has ended and no device is trusted any more. "
        "Change your password now, and review your account's security alerts.",
        200,
    )

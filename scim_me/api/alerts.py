"""``/api/users/v1/me/alerts``: the security alerts raised for the caller (services/alerts.py),
and acknowledging them. WSO2 has no such API; it answers in WSO2's REST dialect and list style.

``GET`` lists unacknowledged alerts first, then newest first, paged with ``limit`` (1 to 100,
default 20) and ``offset``. ``POST /{id}/acknowledge`` marks one acknowledged (again: no change)
and answers it; the alert stays in the list as history. Another user's alert id, like an unknown
one, is 404 ``ALR-60404``.
"""

from __future__ import annotations

from datetime import UTC
from typing import Any
from urllib.parse import urlencode

from flask import Blueprint
from flask import Response
from flask import request

from scim_me.core.timestamps import iso_or_none
from scim_me.errors import ALR
from scim_me.services.alerts import TITLES
from scim_me.storage.alerts import AlertRecord
from scim_me.storage.alerts import acknowledge
from scim_me.storage.alerts import count_alerts
from scim_me.storage.alerts import list_alerts
from scim_me.web.bodies import Body
from scim_me.web.bodies import Wso2Body
from scim_me.web.bodies import read_body
from scim_me.web.context import base_url
from scim_me.web.rest import json_response
from scim_me.web.rest import self_service_caller
from scim_me.web.sections import register_export_section

bp = Blueprint("alerts", __name__)

PATH = "/api/users/v1/me/alerts"
DEFAULT_LIMIT = 20
MAX_LIMIT = 100
_INVALID = ALR.kind("60001", "Invalid request parameter.")
_BODY = Wso2Body(ALR.kind("60002", "Invalid request body."))


class AcknowledgeRequest(Body):
    """No member is needed; a body, when sent, must be a JSON object."""


def _int_arg(name: str, default: int, low: int, high: int) -> int:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    if not raw.isdigit() or len(raw) > 9 or not low <= int(raw) <= high:
        raise _INVALID(f"{name} must be an integer from {low} to {high}.")
    return int(raw)


def represent_alert(alert: AlertRecord) -> dict[str, Any]:
    return {
        "id": alert.id,
        "type": alert.type,
        "title": TITLES.get(alert.type, alert.type),
        "time": iso_or_none(alert.raised_at),
        "timestamp": str(int(alert.raised_at.replace(tzinfo=UTC).timestamp() * 1000)),
        "acknowledged": alert.acknowledged_at is not None,
        "acknowledgedTime": iso_or_none(alert.acknowledged_at),
        "ip": alert.ip or None,
        "userAgent": alert.user_agent or None,
        "details": alert.details,
    }


def _link(offset: int, limit: int) -> str:
    return f"{base_url()}{request.path}?{urlencode({'limit': limit, 'offset': offset})}"


@bp.get(PATH)
def list_my_alerts() -> Response:
    principal = self_service_caller(ALR)
    assert principal.user_id is not None
    limit = _int_arg("limit", DEFAULT_LIMIT, 1, MAX_LIMIT)
    offset = _int_arg("offset", 0, 0, 1_000_000)
    tenant_id, user_id = principal.tenant.id, principal.user_id
    page = list_alerts(tenant_id, user_id, limit=limit, offset=offset)
    total = count_alerts(tenant_id, user_id)
    links = []
    if offset > 0:
        links.append({"rel": "previous", "href": _link(max(0, offset - limit), limit)})
    if offset + len(page) < total:
        links.append({"rel": "next", "href": _link(offset + limit, limit)})
    return json_response(
        {
            "totalResults": total,
            "unacknowledged": count_alerts(tenant_id, user_id, unacknowledged_only=True),
            "count": len(page),
            "startIndex": offset + 1,
            "alerts": [represent_alert(alert) for alert in page],
            "links": links,
        }
    )


@bp.post(f"{PATH}/<alert_id>/acknowledge")
def acknowledge_alert(alert_id: str) -> Response:
    principal = self_service_caller(ALR)
    assert principal.user_id is not None
    read_body(AcknowledgeRequest(), _BODY, optional=True)
    alert = acknowledge(principal.tenant.id, principal.user_id, alert_id) if len(alert_id) <= 36 else None
    if alert is None:
        raise ALR.error("60404", f"No alert {alert_id[:64]!r} was found for the user.", status=404, message="Not Found")
    return json_response(represent_alert(alert))


def _export_alerts(tenant_id: int, user_id: str) -> list[dict[str, Any]]:
    return [represent_alert(alert) for alert in list_alerts(tenant_id, user_id, limit=1000, offset=0)]


register_export_section("alerts", _export_alerts)

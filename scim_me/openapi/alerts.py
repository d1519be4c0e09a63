"""scim-me's own self-service additions next to WSO2's My Account APIs: security alerts
(``/api/users/v1/me/alerts``) and trusted devices (``/api/users/v1/me/devices``), in WSO2's REST
error dialect (docs/security-alerts.md, docs/trusted-devices.md)."""

from __future__ import annotations

from typing import Any

from scim_me.api.alerts import AcknowledgeRequest
from scim_me.openapi.spec import FORM
from scim_me.openapi.spec import NONE
from scim_me.openapi.spec import Operation
from scim_me.openapi.spec import body
from scim_me.openapi.spec import html
from scim_me.openapi.spec import no_body
from scim_me.openapi.spec import ok
from scim_me.openapi.spec import path_param
from scim_me.openapi.spec import query
from scim_me.openapi.spec import ref

TAG_ALERTS = "Security alerts"
TAG_DEVICES = "Trusted devices"
ME = "/api/users/v1/me"
_STRING = {"type": "string"}
_NULLABLE_STRING = {"type": ["string", "null"]}
ALERT_TYPES = [
    "new_device",
    "new_network",
    "password_changed",
    "mfa_disabled",
    "passkey_removed",
    "account_locked",
    "failed_signins",
]


def schemas() -> dict[str, Any]:
    return {
        "SecurityAlert": {
            "type": "object",
            "required": ["id", "type", "title", "time", "timestamp", "acknowledged"],
            "properties": {
                "id": _STRING,
                "type": {"type": "string", "enum": ALERT_TYPES},
                "title": _STRING,
                "time": {"type": "string", "description": "ISO-8601 UTC"},
                "timestamp": {"type": "string", "description": "epoch milliseconds, as a string"},
                "acknowledged": {"type": "boolean"},
                "acknowledgedTime": _NULLABLE_STRING,
                "ip": _NULLABLE_STRING,
                "userAgent": _NULLABLE_STRING,
                "details": {"type": "object"},
            },
        },
        "TrustedDevice": {
            "type": "object",
            "required": ["id", "name", "createdTime", "lastUsedTime", "expiryTime"],
            "properties": {
                "id": _STRING,
                "name": {"type": "string", "example": "Firefox 133 on Ubuntu"},
                "userAgent": _NULLABLE_STRING,
                "createdTime": _STRING,
                "lastUsedTime": _STRING,
                "lastUsedIp": _NULLABLE_STRING,
                "expiryTime": _STRING,
            },
        },
        "TrustedDevices": {
            "type": "object",
            "required": ["totalResults", "devices"],
            "properties": {
                "totalResults": {"type": "integer"},
                "devices": {"type": "array", "items": ref("TrustedDevice")},
            },
        },
        "SecurityAlerts": {
            "type": "object",
            "required": ["totalResults", "unacknowledged", "count", "startIndex", "alerts", "links"],
            "properties": {
                "totalResults": {"type": "integer"},
                "unacknowledged": {"type": "integer"},
                "count": {"type": "integer"},
                "startIndex": {"type": "integer"},
                "alerts": {"type": "array", "items": ref("SecurityAlert")},
                "links": {
                    "type": "array",
                    "items": {"type": "object", "properties": {"rel": _STRING, "href": _STRING}},
                },
            },
        },
    }


OPERATIONS = [
    Operation(
        "GET",
        f"{ME}/alerts",
        "The caller's security alerts: unacknowledged first, then newest first",
        TAG_ALERTS,
        {200: ok(ref("SecurityAlerts"))},
        "wso2",
        (400, 401, 403, 429),
        parameters=[
            query("limit", "1..100 (default 20)", {"type": "integer", "minimum": 1, "maximum": 100}),
            query("offset", "Skip this many", {"type": "integer", "minimum": 0}),
        ],
    ),
    Operation(
        "POST",
        f"{ME}/alerts/{{alert_id}}/acknowledge",
        "Acknowledge one alert (it stays in the list as history); another user's id is 404",
        TAG_ALERTS,
        {200: ok(ref("SecurityAlert"))},
        "wso2",
        (400, 401, 403, 413, 415, 429),
        parameters=[path_param("alert_id", "An alert id from the list")],
        request=body(AcknowledgeRequest, required=False),
    ),
    Operation(
        "GET",
        f"{ME}/devices",
        "The caller's trusted devices (they skip the second factor at sign-in), most recently used first",
        TAG_DEVICES,
        {200: ok(ref("TrustedDevices"))},
        "wso2",
        (401, 403, 429),
    ),
    Operation(
        "DELETE",
        f"{ME}/devices",
        "Revoke every trusted device; their browsers' sessions end and sign-in asks for every factor",
        TAG_DEVICES,
        {204: no_body("Revoked")},
        "wso2",
        (401, 403, 429),
    ),
    Operation(
        "DELETE",
        f"{ME}/devices/{{device_id}}",
        "Revoke one trusted device (its browser's session ends); another user's id is 404",
        TAG_DEVICES,
        {204: no_body("Revoked")},
        "wso2",
        (401, 403, 429),
        parameters=[path_param("device_id", "A device id from the list")],
    ),
    Operation(
        "GET",
        "/security/not-me",
        "The page a new-device notice links to (code after '#'): asks to confirm",
        TAG_ALERTS,
        {200: html()},
        "html",
        (400,),
        security=NONE,
    ),
    Operation(
        "POST",
        "/security/not-me",
        'Confirm "this wasn\'t me": every session and token of the user ends, every trusted device is revoked',
        TAG_ALERTS,
        {200: html("Signed out everywhere")},
        "html",
        (400,),
        security=NONE,
        request=body(
            {"type": "object", "properties": {"csrf_token": _STRING, "code": _STRING}}, (FORM,), required=True
        ),
        operation_id="postSecurityNotMe",
    ),
]

"""The operator surface, bare paths only (``/t/{tenant}/health`` is 404): liveness, readiness
and Prometheus metrics behind the ``metrics_token`` setting (404 while it is unset)."""

from __future__ import annotations

from scim_me.openapi.spec import NONE
from scim_me.openapi.spec import Operation
from scim_me.openapi.spec import ok

TAG = "Operations"
_STATUS = {
    "type": "object",
    "required": ["status"],
    "properties": {"status": {"type": "string", "enum": ["UP", "DOWN"]}, "checks": {"type": "object"}},
}

OPERATIONS = [
    Operation("GET", "/health", "Liveness: the process answers", TAG, {200: ok(_STATUS)}, "wso2", (), security=NONE),
    Operation(
        "GET",
        "/ready",
        "Readiness: database reachable, migrations current, signing key opens (503 otherwise)",
        TAG,
        {200: ok(_STATUS), 503: ok(_STATUS, "Not ready")},
        "wso2",
        (),
        security=NONE,
    ),
    Operation(
        "GET",
        "/metrics",
        "Prometheus metrics (Authorization: Bearer <metrics_token>)",
        TAG,
        {
            200: {
                "description": "Prometheus text exposition",
                "content": {"text/plain": {"schema": {"type": "string"}}},
            }
        },
        "wso2",
        (401,),
        security=({"metricsToken": []},),
    ),
]

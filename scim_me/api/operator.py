"""Operator endpoints, outside tenant routing (``/t/{tenant}/health`` is 404):

- ``GET /health``: the process answers (liveness); touches nothing else, not even the database.
- ``GET /ready``: the database answers, its migrations are current, and the newest signing key
  decrypts with the master key (readiness); 503 names the failing check.
- ``GET /metrics``: Prometheus exposition (web/observe.py), with ``Authorization: Bearer
  {metrics_token}``; 404 while ``metrics_token`` is empty.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Iterator
from typing import Any

from flask import Blueprint
from flask import Response
from flask import request

from scim_me.auth.keys import newest_key_opens
from scim_me.errors import ApiError
from scim_me.errors import NotFoundError
from scim_me.storage.migrations import LATEST
from scim_me.storage.migrations import current_version
from scim_me.storage.outbox import waiting_count
from scim_me.tenancy import TENANT_KEY
from scim_me.web import observe
from scim_me.web.context import state
from scim_me.web.rest import json_response

bp = Blueprint("operator", __name__)
log = logging.getLogger("scim_me.ready")


def _outside_tenants() -> None:
    if request.script_root.endswith(f"/t/{request.environ.get(TENANT_KEY)}"):
        raise NotFoundError()


@bp.get("/health")
def health() -> Response:
    _outside_tenants()
    return json_response({"status": "UP"})


def _checks() -> dict[str, str]:
    app = state()
    checks: dict[str, str] = {}
    try:
        version = current_version(app.db)
        checks["database"] = "UP"
        checks["migrations"] = "UP" if version == LATEST else f"DOWN: at version {version}, expected {LATEST}"
    except Exception as exc:  # any failure to reach the database is "not ready", not a 500
        log.warning("readiness: database unreachable: %s", type(exc).__name__)
        checks["database"] = f"DOWN: {type(exc).__name__}"
        checks["migrations"] = "UNKNOWN"
        checks["keys"] = "UNKNOWN"
        return checks
    try:
        newest_key_opens(app.settings.master_key())
        checks["keys"] = "UP"
    except Exception as exc:  # a wrong master key, a missing key file, no signing key
        log.warning("readiness: signing key not loadable: %s", type(exc).__name__)
        checks["keys"] = f"DOWN: {type(exc).__name__}"
    return checks


@bp.get("/ready")
def ready() -> Response:
    _outside_tenants()
    checks = _checks()
    up = all(value == "UP" for value in checks.values())
    return json_response({"status": "UP" if up else "DOWN", "checks": checks}, status=200 if up else 503)


def _mail_queue() -> Iterator[Any]:
    # The outbox table: one figure for every instance, whichever answers the scrape.
    yield observe.gauge("scim_me_mail_queue_depth", "Mails waiting for delivery", waiting_count())


@bp.get("/metrics")
def metrics() -> Response:
    _outside_tenants()
    token = state().settings.metrics_token
    if not token:
        raise NotFoundError()
    scheme, _, offered = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(offered.strip().encode(), token.encode()):
        raise ApiError(
            "Scraping /metrics needs Authorization: Bearer with the metrics_token setting.",
            status=401,
            code="SCM-401",
            message="Unauthorized",
            headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
        )
    body, content_type = observe.scrape(_mail_queue)
    return Response(body, mimetype=None, content_type=content_type)

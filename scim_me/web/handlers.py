"""The one place where exceptions become responses.

- :class:`ScimError` under ``/scim2`` → RFC 7644 §3.12 JSON, ``application/scim+json``.
- :class:`ApiError` (WSO2 REST APIs) → ``{code, message, description, traceId}``.
- Werkzeug HTTP errors (404, 405, 413, ...) → the dialect of the path they happened on.
- A locked or unreachable database → 503 with ``Retry-After``.
- Anything else → logged with its traceback, answered with a generic 500 and no details.
"""

from __future__ import annotations

import json
import logging
import uuid
from typing import Any

from flask import Flask
from flask import Response
from flask import g
from flask import request
from werkzeug.exceptions import HTTPException

from scim_me.errors import ApiError
from scim_me.errors import MethodNotAllowedError
from scim_me.errors import NotFoundError
from scim_me.errors import PayloadTooLargeError
from scim_me.errors import ScimError
from scim_me.errors import ServerError
from scim_me.errors import TooManyError
from scim_me.errors import UnavailableError
from scim_me.errors import reason
from scim_me.storage.db import is_busy
from scim_me.storage.db import lost_session_state
from scim_me.storage.db import over_budget
from scim_me.storage.db import refuses_writes

SCIM_JSON = "application/scim+json"
log = logging.getLogger("scim_me.errors")
# RFC 7644 §3.12 tooMany: "more results than the server is willing to calculate or process".
OVER_BUDGET = (
    "The request needs more database work than one request may do; narrow the filter, sort by"
    " another attribute or page with a cursor (RFC 9865)."
)


def trace_id() -> str:
    if "trace_id" not in g:
        g.trace_id = request.headers.get("X-Request-Id") or str(uuid.uuid4())
    return str(g.trace_id)


def scim_response(error: ScimError) -> Response:
    response = Response(json.dumps(error.to_dict()), status=error.status, mimetype=SCIM_JSON)
    for name, value in error.headers.items():
        response.headers[name] = value
    return response


def api_response(error: ApiError) -> Response:
    response = Response(json.dumps(error.to_dict(trace_id())), status=error.status, mimetype="application/json")
    for name, value in error.headers.items():
        response.headers[name] = value
    return response


def _is_scim_path() -> bool:
    return request.path.startswith("/scim2")


def _from_http(exc: HTTPException) -> ScimError:
    status = exc.code or 500
    if status == 404:
        return NotFoundError()
    if status == 405:
        allowed = ", ".join(getattr(exc, "valid_methods", None) or [])
        return MethodNotAllowedError(headers={"Allow": allowed} if allowed else None)
    if status == 413:
        return PayloadTooLargeError()
    return ScimError(exc.description or "The request was not understood.", status=status)


def _generic_response(error: ScimError) -> Response:
    """An error no API family claimed: SCIM's body under /scim2, else a WSO2 body with ``SCM-``."""
    if _is_scim_path():
        return scim_response(error)
    return api_response(
        ApiError(
            error.detail,
            status=error.status,
            code=f"SCM-{error.status}",
            message=reason(error.status),
            headers=error.headers,
        )
    )


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(ScimError)
    def _scim(error: ScimError) -> Response:
        if not _is_scim_path():
            # Headers too: a 401 must carry its WWW-Authenticate challenge (RFC 6750 §3).
            return api_response(
                ApiError(error.detail, status=error.status, message=reason(error.status), headers=error.headers)
            )
        return scim_response(error)

    @app.errorhandler(ApiError)
    def _api(error: ApiError) -> Response:
        return api_response(error)

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException) -> Response:
        error = _from_http(exc)
        return _generic_response(error)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Response:
        if over_budget(exc):
            # Before is_busy: PostgreSQL's message says "statement timeout".
            log.warning("a statement ran past db_statement_timeout_ms and was stopped (trace %s)", trace_id())
            error: ScimError = TooManyError(OVER_BUDGET)
        elif is_busy(exc):
            log.warning("database busy: %s", exc)
            error = UnavailableError(headers={"Retry-After": "1"})
        elif refuses_writes(exc):
            log.error("the database refuses writes (read-only, full or failing): %s", exc)
            error = UnavailableError(headers={"Retry-After": "30"})
        else:
            log.exception("unhandled error (trace %s)", trace_id())
            if lost_session_state(exc):
                log.error(
                    "PostgreSQL connections do not keep their prepared statements: behind a "
                    "transaction-pooling PgBouncer set postgres_transaction_pooling = true "
                    "(docs/deployment.md)"
                )
            error = ServerError()
        return _generic_response(error)


def json_text(payload: Any) -> str:
    return json.dumps(payload, ensure_ascii=False)


def json_body(payload: Any, status: int = 200) -> Response:
    """A SCIM body (``application/scim+json``); WSO2 REST bodies go through ``rest.json_response``."""
    return Response(json_text(payload), status=status, mimetype=SCIM_JSON)

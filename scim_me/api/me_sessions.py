"""``/api/users/v1/me/sessions`` (wso2-api.md §8): the caller's sign-in sessions, and ending them.

``GET`` answers WSO2's shape, ``{"userId", "sessions": [{id, applications, userAgent, ip,
loginTime, lastAccessTime}]}`` with epoch-millisecond strings, or literally ``{}`` when there is
no session; ``limit``/``offset``, ``filter`` and ``sort`` answer 501 as in WSO2 (USM-10003,
USM-10004, USM-10005).

``DELETE`` ends every session except the one the caller's token was issued under (found via the
token's grant); ``?includeCurrent=true`` ends that one too. ``DELETE /{id}`` ends one session,
the current one included (that is a sign-out). Ending a session revokes the tokens of every grant
it made, seen by every worker at the next request. Both answer 204. Unlike WSO2, which swallows
the error, an unknown session id (or another user's) is 404 ``USM-60404``: a client must be able
to tell that nothing was ended.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint
from flask import Response
from flask import request

from scim_me.core.consent import epoch_ms
from scim_me.errors import USM
from scim_me.storage.db import write_transaction
from scim_me.storage.sessions import SessionLimits
from scim_me.storage.sessions import SessionRecord
from scim_me.storage.sessions import end_session
from scim_me.storage.sessions import get_user_session
from scim_me.storage.sessions import list_user_sessions
from scim_me.storage.sessions import session_applications
from scim_me.storage.sessions import session_of_token
from scim_me.storage.tenants import get_tenant
from scim_me.storage.users import get_user
from scim_me.web.principal import Principal
from scim_me.web.rest import empty
from scim_me.web.rest import json_response
from scim_me.web.rest import record
from scim_me.web.rest import self_service_caller
from scim_me.web.sections import register_export_section

bp = Blueprint("me_sessions", __name__)

PATH = "/api/users/v1/me/sessions"
_NOT_IMPLEMENTED = (
    ("limit", "10003", "Pagination is not supported."),
    ("offset", "10003", "Pagination is not supported."),
    ("filter", "10004", "Filtering is not supported."),
    ("sort", "10005", "Sorting is not supported."),
)


def _caller() -> tuple[Principal, str]:
    principal = self_service_caller(USM)
    assert principal.user_id is not None
    return principal, principal.user_id


def _documents(tenant_id: int, user_id: str, sessions: list[SessionRecord]) -> list[dict[str, Any]]:
    user = get_user(tenant_id, user_id)
    subject = user.user_name if user else ""
    apps = session_applications([s.id for s in sessions])
    return [
        {
            "id": s.id,
            "applications": [
                {"id": app.client_id, "subject": subject, "appName": app.name, "appId": str(app.client_pk)}
                for app in apps.get(s.id, [])
            ],
            "userAgent": s.user_agent,
            "ip": s.ip,
            "loginTime": str(epoch_ms(s.login_time)),
            "lastAccessTime": str(epoch_ms(s.last_access)),
        }
        for s in sessions
    ]


def _end(principal: Principal, user_id: str, session: SessionRecord, reason: str) -> None:
    """In the caller's transaction: the session (its grants, so its tokens) and its event."""
    end_session(session.id)
    record(principal, user_id, "session.ended", sessionId=session.id, reason=reason)


@bp.get(PATH)
def list_sessions() -> Response:
    principal, user_id = _caller()
    for name, number, description in _NOT_IMPLEMENTED:
        if name in request.args:
            raise USM.error(number, description, status=501, message="Not Implemented")
    sessions = list_user_sessions(principal.tenant.id, user_id, SessionLimits.of(principal.tenant.settings))
    if not sessions:
        return json_response({})
    return json_response({"userId": user_id, "sessions": _documents(principal.tenant.id, user_id, sessions)})


@bp.delete(PATH)
def end_sessions() -> Response:
    principal, user_id = _caller()
    raw = request.args.get("includeCurrent", "false").lower()
    if raw not in ("true", "false"):
        raise USM.error("60400", "includeCurrent must be true or false.")
    current = None if raw == "true" else session_of_token(principal.token_id)
    sessions = list_user_sessions(principal.tenant.id, user_id, SessionLimits.of(principal.tenant.settings))
    with write_transaction():  # "sign out everywhere" ends all of them or none
        for session in sessions:
            if session.id != current:
                _end(principal, user_id, session, "user ended all sessions")
    return empty(204)


@bp.delete(f"{PATH}/<session_id>")
def end_one(session_id: str) -> Response:
    principal, user_id = _caller()
    session = get_user_session(principal.tenant.id, user_id, session_id, SessionLimits.of(principal.tenant.settings))
    if session is None:
        raise USM.error(
            "60404",
            f"No active session {session_id!r} was found for the user.",
            status=404,
            message="Session not found",
        )
    with write_transaction():
        _end(principal, user_id, session, "user ended the session")
    return empty(204)


def _export_sessions(tenant_id: int, user_id: str) -> list[dict[str, Any]]:
    tenant = get_tenant(tenant_id)
    if tenant is None:
        return []
    return _documents(tenant_id, user_id, list_user_sessions(tenant_id, user_id, SessionLimits.of(tenant.settings)))


register_export_section("sessions", _export_sessions)

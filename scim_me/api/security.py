"""The account's security at a glance and its history, for the user themself:

- ``GET /api/users/v1/me/security``: one object of sections (password, sessions, recent alerts,
  e-mail, MFA, ...). Features add theirs with ``web.sections.register_overview_section``; the
  built-in sections here are defaults a feature may replace by registering the same name.
- ``GET /api/users/v1/me/security-events``: the security history (``storage/events.py``), newest
  first, filtered by ``kind`` and ``since``/``until``, paged by ``limit`` with ``offset`` (WSO2's
  list style) or with the opaque ``cursor`` of the previous page (stable while new events arrive).

Both answer under ``/t/{tenant}`` and bare, need ``internal_login``, and fail in WSO2's REST error
dialect. The event kinds are documented in docs/security-events.md.
"""

from __future__ import annotations

import base64
import binascii
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

from flask import Blueprint
from flask import Response
from flask import request

from scim_me.core.timestamps import iso_or_none
from scim_me.errors import SEC
from scim_me.notify.notices import primary_email
from scim_me.storage.alerts import count_alerts
from scim_me.storage.email_changes import find_for_user
from scim_me.storage.events import KINDS
from scim_me.storage.events import EventRecord
from scim_me.storage.events import count_events
from scim_me.storage.events import list_events
from scim_me.storage.models import UserSession
from scim_me.storage.users import get_user
from scim_me.storage.users import now
from scim_me.web.context import base_url
from scim_me.web.context import current_tenant
from scim_me.web.context import settings
from scim_me.web.guards import authenticate
from scim_me.web.guards import require_scope
from scim_me.web.guards import require_user
from scim_me.web.principal import LOGIN_SCOPE
from scim_me.web.principal import Principal
from scim_me.web.principal import unauthorized
from scim_me.web.rest import json_response
from scim_me.web.sections import OverviewSection
from scim_me.web.sections import Subject
from scim_me.web.sections import overview_sections

bp = Blueprint("security", __name__)

WSO2_URN = "urn:scim:wso2:schema"
DEFAULT_LIMIT = 20
MAX_LIMIT = 100
# What counts as an alert in the overview: failures, locks, and changes to how one signs in.
ALERT_KINDS = frozenset(
    {
        "signin.failure",
        "signin.locked",
        "account.locked",
        "account.disabled",
        "password.changed",
        "password.reset",
        "password.reset_required",
        "mfa.totp.disabled",
        "mfa.totp.failure",
        "mfa.backup_codes.removed",
        "mfa.passkey.removed",
        "mfa.passkey.failure",
        "mfa.locked",
        "email.change_requested",
        "email.changed",
    }
)


_INVALID = SEC.kind("10001", "Invalid request parameter.")


def _epoch_ms(value: datetime) -> int:
    return int(value.replace(tzinfo=UTC).timestamp() * 1000)


def _caller() -> tuple[Principal, str]:
    principal = authenticate(current_tenant())
    require_scope(principal, LOGIN_SCOPE)
    return principal, require_user(principal)


# --- overview ---------------------------------------------------------------------------------


def _password_section(subject: Subject) -> Any:
    """A fallback; the account feature (services/password_state.py) registers the real ``password``
    section (last change, expiry, lock), with the same key names."""
    user = subject.user
    expiry = (user.profile.get(WSO2_URN) or {}).get("passwordExpiryTime")
    return {"lastChanged": iso_or_none(user.password_changed_at), "expiryTime": expiry}


def _sessions_section(subject: Subject) -> Any:
    tenant_id, user_id = subject.tenant.id, subject.user.id
    active = (
        UserSession.select()
        .where((UserSession.tenant == tenant_id) & (UserSession.user == user_id) & UserSession.ended_at.is_null())
        .count()
    )
    return {"active": int(active)}


def _alerts_section(subject: Subject) -> Any:
    tenant_id, user_id = subject.tenant.id, subject.user.id
    days = settings().security_alert_window_days
    since = now() - timedelta(days=days)
    recent = count_events(tenant_id, user_id, kinds=ALERT_KINDS, since=since)
    # ``unacknowledged``: the alerts of /api/users/v1/me/alerts the user has not acknowledged.
    return {
        "unacknowledged": count_alerts(tenant_id, user_id, unacknowledged_only=True),
        "recent": recent,
        "windowDays": days,
        "since": iso_or_none(since),
    }


def _email_section(subject: Subject) -> Any:
    profile = subject.user.profile
    wso2 = profile.get(WSO2_URN) or {}
    # The pending change's own row, not pendingEmails: an expired change is not pending any more.
    change = find_for_user(subject.tenant.id, subject.user.id)
    live = change is not None and change.expires_at > now()
    return {
        "address": primary_email(profile),
        "verified": bool(wso2.get("emailVerified", False)),
        "pending": change.change.address if change is not None and live else None,
        "pendingExpiryTime": iso_or_none(change.expires_at) if change is not None and live else None,
    }


def _mfa_section(subject: Subject) -> Any:
    """A fallback from the SCIM view; the MFA feature (api/mfa.py) registers the real ``mfa``
    section, with the same two keys and more."""
    wso2 = subject.user.profile.get(WSO2_URN) or {}
    totp = str(wso2.get("totpEnabled", "false")).lower() == "true"
    backup = str(wso2.get("backupCodeEnabled", "false")).lower() == "true"
    return {"totpEnabled": totp, "backupCodeEnabled": backup}


BUILT_IN: dict[str, OverviewSection] = {
    "alerts": _alerts_section,
    "email": _email_section,
    "mfa": _mfa_section,
    "password": _password_section,
    "sessions": _sessions_section,
}


@bp.get("/api/users/v1/me/security")
def security_overview() -> Response:
    principal, user_id = _caller()
    # The user row and facts authentication read (the caller statement) serve every section.
    user = principal.user if principal.user is not None else get_user(principal.tenant.id, user_id)
    if user is None:
        raise unauthorized("The token's user does not exist.")
    subject = Subject(principal.tenant, user, principal.facts if principal.user is not None else None)
    sections = {**BUILT_IN, **overview_sections()}
    body: dict[str, Any] = {"userId": user_id}
    for name in sorted(sections):
        body[name] = sections[name](subject)
    return json_response(body)


# --- events -----------------------------------------------------------------------------------


def _int_arg(name: str, default: int, low: int, high: int) -> int:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise _INVALID(f"{name} must be an integer.") from None
    if not low <= value <= high:
        raise _INVALID(f"{name} must be between {low} and {high}.")
    return value


def _time_arg(name: str) -> datetime | None:
    """ISO-8601 (``2026-12-01T10:00:00Z``, offsets allowed) or epoch milliseconds."""
    raw = request.args.get(name)
    if raw is None or raw == "":
        return None
    try:
        if raw.isdigit():
            return datetime.fromtimestamp(int(raw) / 1000, UTC).replace(tzinfo=None)
        parsed = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except (ValueError, OverflowError, OSError):
        raise _INVALID(f"{name} must be an ISO-8601 date-time or epoch milliseconds.") from None
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(UTC).replace(tzinfo=None)
    return parsed


def _kinds_arg() -> frozenset[str] | None:
    """``kind`` repeated or comma-separated; a family name (``mfa``, ``signin``) selects all its kinds."""
    wanted: set[str] = set()
    for raw in request.args.getlist("kind"):
        for name in (part.strip() for part in raw.split(",")):
            if not name:
                continue
            if name in KINDS:
                wanted.add(name)
                continue
            family = {kind for kind in KINDS if kind.startswith(name + ".")}
            if not family:
                raise _INVALID(f"Unknown event kind {name[:64]!r}; see the documented kinds.")
            wanted |= family
    return frozenset(wanted) or None


def _encode_cursor(event: EventRecord) -> str:
    raw = f"{event.occurred_at.isoformat()}|{event.id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(text: str) -> tuple[datetime, int]:
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode()
        stamp, _, ident = raw.partition("|")
        return datetime.fromisoformat(stamp), int(ident)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise _INVALID("cursor is not one this server returned.") from None


def represent_event(event: EventRecord) -> dict[str, Any]:
    return {
        "id": str(event.id),
        "kind": event.kind,
        "time": iso_or_none(event.occurred_at),
        "timestamp": str(_epoch_ms(event.occurred_at)),
        "ip": event.ip or None,
        "userAgent": event.user_agent or None,
        "clientId": event.client_id,
        "details": event.details,
    }


def _link(params: dict[str, str]) -> str:
    query = [(k, v) for k, v in request.args.items(multi=True) if k not in ("offset", "cursor")]
    query += list(params.items())
    return f"{base_url()}{request.path}?{urlencode(query)}"


@bp.get("/api/users/v1/me/security-events")
def security_events() -> Response:
    principal, user_id = _caller()
    tenant_id = principal.tenant.id
    limit = _int_arg("limit", DEFAULT_LIMIT, 1, MAX_LIMIT)
    offset = _int_arg("offset", 0, 0, 1_000_000)
    kinds = _kinds_arg()
    since = _time_arg("since")
    until = _time_arg("until")
    cursor_text = request.args.get("cursor")
    if cursor_text and offset:
        raise _INVALID("Use either offset or cursor, not both.")
    before = _decode_cursor(cursor_text) if cursor_text else None
    # One extra row tells whether a next page exists without a second query.
    rows = list_events(
        tenant_id, user_id, limit=limit + 1, offset=offset, kinds=kinds, since=since, until=until, before=before
    )
    page, more = rows[:limit], len(rows) > limit
    total = count_events(tenant_id, user_id, kinds=kinds, since=since, until=until)
    links: list[dict[str, str]] = []
    body: dict[str, Any] = {"totalResults": total, "count": len(page)}
    if before is None:
        body["startIndex"] = offset + 1
        if offset > 0:
            links.append({"rel": "previous", "href": _link({"offset": str(max(0, offset - limit))})})
        if more:
            links.append({"rel": "next", "href": _link({"offset": str(offset + limit)})})
    if more and page:
        body["nextCursor"] = _encode_cursor(page[-1])
        if before is not None:
            links.append({"rel": "next", "href": _link({"cursor": body["nextCursor"]})})
    body["events"] = [represent_event(event) for event in page]
    body["links"] = links
    return json_response(body)

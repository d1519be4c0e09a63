"""``GET /api/identity/user/v1.0/me``: everything scim-me holds about the caller (GDPR Art. 15 and
20), in one JSON document.

- ``basic``: the profile as WSO2 claim URIs (the key WSO2 IS answers with);
- ``user_profile``: the profile in Asgardeo's documented shape;
- ``scim``: the full SCIM ``/Me`` representation;
- one key per section registered with ``web.sections.register_export_section`` (consent
  receipts with their history, sessions, authorized apps, security events, and every other
  feature's own, e.g. MFA state). Sections never hold secrets: no password hash, no TOTP seed,
  no token, no cookie.

``?download=true`` adds ``Content-Disposition: attachment`` with a file name, so a browser saves
it as a file. Every export is recorded as a ``data.exported`` security event. Scope
``internal_login``; errors ``UEX-60403`` (not a user token) and ``UEX-60400`` (bad parameter).
"""

from __future__ import annotations

import re
from typing import Any

from flask import Blueprint
from flask import Response
from flask import request

from scim_me.core.schemas import WSO2_URN
from scim_me.core.timestamps import iso
from scim_me.errors import UEX
from scim_me.services.user_view import represent
from scim_me.storage.events import list_events
from scim_me.storage.users import StoredUser
from scim_me.storage.users import get_user
from scim_me.storage.users import now
from scim_me.web.context import registry
from scim_me.web.rest import json_response
from scim_me.web.rest import record
from scim_me.web.rest import self_service_caller
from scim_me.web.sections import export_sections
from scim_me.web.sections import register_export_section

bp = Blueprint("export", __name__)

PATH = "/api/identity/user/v1.0/me"
_CLAIMS = "http://wso2.org/claims/"
_EVENT_PAGE = 500
_SECRET_KEYS = {"password"}


def _primary(values: Any, kind: str | None = None) -> str | None:
    if not isinstance(values, list):
        return None
    items = [v for v in values if isinstance(v, dict) and (kind is None or v.get("type") == kind)]
    chosen = next((v for v in items if v.get("primary") is True), items[0] if items else None)
    value = chosen.get("value") if chosen else None
    return str(value) if value is not None else None


def _basic(user: StoredUser, scim: dict[str, Any]) -> dict[str, Any]:
    name = scim.get("name") or {}
    ext = scim.get(WSO2_URN) or {}
    claims: dict[str, Any] = {
        "username": user.user_name,
        "userid": user.id,
        "givenname": name.get("givenName"),
        "lastname": name.get("familyName"),
        "middleName": name.get("middleName"),
        "fullname": name.get("formatted"),
        "displayName": scim.get("displayName"),
        "nickname": scim.get("nickName"),
        "emailaddress": _primary(scim.get("emails")),
        "mobile": _primary(scim.get("phoneNumbers"), "mobile") or _primary(scim.get("phoneNumbers")),
        "country": ext.get("country"),
        "dob": ext.get("dateOfBirth"),
        "locality": scim.get("locale"),
        "preferredLanguage": scim.get("preferredLanguage"),
        "timeZone": scim.get("timezone"),
        "created": iso(user.created_at),
        "modified": iso(user.updated_at),
    }
    return {_CLAIMS + key: value for key, value in claims.items() if value not in (None, "")}


def _flag(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.lower() == "true")


def _user_profile(user: StoredUser, scim: dict[str, Any]) -> dict[str, Any]:
    name = scim.get("name") or {}
    ext = scim.get(WSO2_URN) or {}
    return {
        "userid": user.id,
        "username": user.user_name,
        "givenname": name.get("givenName"),
        "lastname": name.get("familyName"),
        "emailaddress": _primary(scim.get("emails")),
        "emailVerified": _flag(ext.get("emailVerified")),
        "totpEnabled": _flag(ext.get("totpEnabled")),
        "backupCodeEnabled": _flag(ext.get("backupCodeEnabled")),
        "created": iso(user.created_at),
        "modified": iso(user.updated_at),
    }


def _strip_secrets(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip_secrets(v) for k, v in value.items() if k not in _SECRET_KEYS}
    if isinstance(value, list):
        return [_strip_secrets(v) for v in value]
    return value


def _download_name(user_name: str) -> str:
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", user_name)[:64] or "user"
    return f"scim-me-export-{safe}-{now().strftime('%Y%m%dT%H%M%SZ')}.json"


@bp.get(PATH)
def export_me() -> Response:
    principal = self_service_caller(UEX)
    raw = request.args.get("download", "false").lower()
    if raw not in ("true", "false"):
        raise UEX.error("60400", "download must be true or false.")
    assert principal.user_id is not None
    user = get_user(principal.tenant.id, principal.user_id)
    if user is None:
        raise UEX.error("60404", "The user no longer exists.", status=404, message="Not Found")
    scim = _strip_secrets(represent(user, principal.tenant, registry()))
    document: dict[str, Any] = {
        "exportedAt": iso(now()),
        "tenantDomain": principal.tenant.name,
        "basic": _basic(user, scim),
        "user_profile": _user_profile(user, scim),
        "scim": scim,
    }
    for name, section in export_sections().items():
        if name not in document:
            document[name] = _strip_secrets(section(principal.tenant.id, user.id))
    record(principal, user.id, "data.exported", download=raw == "true")
    response = json_response(document)
    if raw == "true":
        response.headers["Content-Disposition"] = f'attachment; filename="{_download_name(user.user_name)}"'
    return response


def _export_events(tenant_id: int, user_id: str) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    offset = 0
    while True:
        page = list_events(tenant_id, user_id, limit=_EVENT_PAGE, offset=offset)
        events += [
            {
                "kind": e.kind,
                "time": iso(e.occurred_at),
                "ip": e.ip,
                "userAgent": e.user_agent,
                "clientId": e.client_id,
                "details": e.details,
            }
            for e in page
        ]
        if len(page) < _EVENT_PAGE:
            return events
        offset += _EVENT_PAGE


register_export_section("securityEvents", _export_events)

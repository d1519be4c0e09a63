"""Trusted devices and new-device sign-ins (docs/trusted-devices.md, docs/security-alerts.md).

**Trusting a device.** At the second-factor step a user may tick "trust this device" when the
tenant allows it (``trusted_device_days`` > 0). The browser then holds a cookie, per tenant,
signed with the app's key (itsdangerous) and naming the tenant, the user and an opaque token; the
server keeps the token's digest. A later sign-in of the same user from that browser skips the
second factor while the device row lives: until it expires (a fixed lifetime from the moment it
was trusted, never extended by use) or is revoked (the devices API, a password change or reset on
any path, MFA turned off, "this wasn't me"). The session's ``amr`` is then ``["pwd"]``: only the
password was proven in that sign-in, and apps must be able to tell.

**New device.** After a sign-in on the sign-in page, a browser that holds none of the user's
trusted-device cookies and whose browser and OS family (ua-parser) appear in none of the user's
earlier sign-ins records ``signin.new_device``, which raises the ``new_device`` alert; in the same
transaction a "this wasn't me" code is attached to the alert and the notice is queued in the
durable mail outbox. A user's first sign-in has nothing to compare with and raises nothing.
"""

from __future__ import annotations

import ipaddress
import secrets
from datetime import timedelta
from functools import lru_cache
from typing import Any

from itsdangerous import BadSignature
from itsdangerous import URLSafeSerializer
from ua_parser import parse as parse_user_agent

from scim_me.notify.mail import Mail
from scim_me.notify.notices import current_mailer
from scim_me.notify.notices import primary_email
from scim_me.notify.notices import tenant_url
from scim_me.storage import alerts as alert_store
from scim_me.storage import devices as store
from scim_me.storage.db import write_transaction
from scim_me.storage.events import EventRecord
from scim_me.storage.events import list_events
from scim_me.storage.events import record_event
from scim_me.storage.events import subscribe
from scim_me.storage.sessions import end_session
from scim_me.storage.users import get_user
from scim_me.storage.users import now

MAX_DAYS = 365
# How many earlier sign-ins the new-device and new-network checks compare with.
HISTORY = 50
NOT_ME_PATH = "/security/not-me"
# Events after which no trusted device may skip the second factor any more: a factor removed is
# a factor the trust was granted on (a passkey removed, like TOTP turned off).
REVOKING_KINDS = frozenset(
    {"password.changed", "password.reset", "password.reset_required", "mfa.totp.disabled", "mfa.passkey.removed"}
)


# -- names and families ---------------------------------------------------------------------------


@lru_cache(maxsize=1024)
def _parsed(user_agent: str) -> tuple[str | None, str | None, str | None, str | None, str | None]:
    result = parse_user_agent(user_agent[:512]) if user_agent else None
    if result is None:
        return None, None, None, None, None
    browser = result.user_agent
    system = result.os
    device = result.device
    return (
        browser.family if browser else None,
        browser.major if browser else None,
        system.family if system else None,
        system.major if system else None,
        device.family if device and device.family not in ("Other", "Generic Smartphone") else None,
    )


def device_name(user_agent: str) -> str:
    """A readable name: "Firefox 133 on Ubuntu", "Mobile Safari 17 on iOS 17 (iPhone)"."""
    browser, major, system, system_major, device = _parsed(user_agent)
    if browser is None and system is None:
        return "Unknown browser"
    name = " ".join(part for part in (browser or "Unknown browser", major) if part)
    if system:
        name += " on " + " ".join(part for part in (system, system_major) if part)
    if device:
        name += f" ({device})"
    return name


def user_agent_family(user_agent: str) -> str:
    """Browser and OS family, without versions: an update is not a new device."""
    browser, _major, system, _system_major, device = _parsed(user_agent)
    return f"{browser or '?'}|{system or '?'}|{device or ''}"


def network_of(ip: str) -> str | None:
    """The /24 (IPv4) or /48 (IPv6) around an address; None when it is not one."""
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    prefix = 24 if address.version == 4 else 48
    return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False))


# -- the cookie -------------------------------------------------------------------------------------


def cookie_name(tenant_id: int) -> str:
    return f"scim_me_device_{tenant_id}"


def _serializer(secret_key: bytes) -> URLSafeSerializer:
    return URLSafeSerializer(secret_key, salt="scim-me trusted device")


def seal_cookie(secret_key: bytes, tenant_id: int, user_id: str, token: str) -> str:
    return str(_serializer(secret_key).dumps({"t": tenant_id, "u": user_id, "k": token}))


def open_cookie(secret_key: bytes, tenant_id: int, user_id: str, value: str) -> str | None:
    """The token of a cookie this server signed for this tenant and user, else None (no query)."""
    if not value or len(value) > 512:
        return None
    try:
        payload = _serializer(secret_key).loads(value)
    except BadSignature:
        return None
    if not isinstance(payload, dict) or payload.get("t") != tenant_id or payload.get("u") != user_id:
        return None
    token = payload.get("k")
    return token if isinstance(token, str) else None


def lifetime_days(tenant: Any) -> int:
    """0 when the tenant does not let users trust devices."""
    days = int(getattr(tenant.settings, "trusted_device_days", 0) or 0)
    return max(0, min(days, MAX_DAYS))


def recognise(tenant: Any, user_id: str, secret_key: bytes, cookie: str, ip: str) -> store.DeviceRecord | None:
    """The user's live trusted device this browser's cookie names (its last use noted), else None."""
    if lifetime_days(tenant) == 0:
        return None  # the tenant turned the feature off: no device skips the second factor any more
    token = open_cookie(secret_key, tenant.id, user_id, cookie)
    if token is None:
        return None
    device = store.find_device(tenant.id, user_id, token)
    if device is not None:
        store.touch_device(device.id, ip)
    return device


def trust(tenant: Any, user_id: str, secret_key: bytes, user_agent: str, ip: str) -> tuple[str, str, int] | None:
    """Trust this browser for the user: the device id, the cookie value and its max-age in
    seconds; None when the tenant does not allow it."""
    days = lifetime_days(tenant)
    if days == 0:
        return None
    name = device_name(user_agent)
    with write_transaction():
        device, token = store.add_device(tenant.id, user_id, name, user_agent, ip, timedelta(days=days))
        record_event(
            tenant.id,
            user_id,
            "device.trusted",
            ip=ip,
            user_agent=user_agent,
            details={"deviceId": device.id, "name": name},
        )
    return device.id, seal_cookie(secret_key, tenant.id, user_id, token), days * 86400


def holds_device(tenant: Any, user_id: str, secret_key: bytes, cookie: str) -> bool:
    """Whether the browser's cookie names a live trusted device of the user (nothing is written)."""
    token = open_cookie(secret_key, tenant.id, user_id, cookie)
    return token is not None and store.find_device(tenant.id, user_id, token) is not None


def revoke(
    tenant_id: int,
    user_id: str,
    device_id: str | None,
    *,
    ip: str = "",
    user_agent: str = "",
    client_id: str | None = None,
    reason: str,
) -> int:
    """Revoke one of the user's devices (``device_id``) or all of them, and end the sessions of
    the browsers that held them: the next sign-in there asks for every factor. How many devices."""
    with write_transaction():
        sessions = store.sessions_of(tenant_id, user_id, [device_id] if device_id is not None else None)
        if device_id is not None:
            count = 1 if store.revoke_device(tenant_id, user_id, device_id) else 0
        else:
            count = store.revoke_all(tenant_id, user_id)
        if count == 0:
            return 0
        for session_id in sessions:
            end_session(session_id)
        details: dict[str, Any] = {"count": count, "reason": reason, "sessionsEnded": len(sessions)}
        if device_id is not None:
            details["deviceId"] = device_id
        record_event(
            tenant_id, user_id, "device.revoked", ip=ip, user_agent=user_agent, client_id=client_id, details=details
        )
    return count


def _revoke_on_event(tenant_id: int, event: EventRecord) -> None:
    if store.has_devices(tenant_id, event.user_id):
        count = store.revoke_all(tenant_id, event.user_id)
        record_event(tenant_id, event.user_id, "device.revoked", details={"count": count, "because": event.kind})


# -- new device, new network ----------------------------------------------------------------------


def assess_sign_in(
    settings: Any, tenant: Any, user_id: str, *, user_agent: str, ip: str, client_id: str | None, known_device: bool
) -> str | None:
    """After a sign-in on the sign-in page: record ``signin.new_device`` (with its notice) or
    ``signin.new_network`` when this sign-in is one; which, or None."""
    # The newest success is this sign-in's own (recorded with its password check).
    earlier = list_events(tenant.id, user_id, limit=HISTORY + 1, kinds=frozenset({"signin.success"}))[1:]
    if not earlier:
        return None
    name = device_name(user_agent)
    details: dict[str, Any] = {"device": name}
    if client_id:
        details["clientId"] = client_id
    if not known_device and user_agent_family(user_agent) not in {user_agent_family(e.user_agent) for e in earlier}:
        _new_device(settings, tenant, user_id, user_agent, ip, details)
        return "new_device"
    network = network_of(ip)
    if settings.alert_new_network and network is not None:
        known = {network_of(e.ip) for e in earlier}
        if network not in known:
            record_event(
                tenant.id,
                user_id,
                "signin.new_network",
                ip=ip,
                user_agent=user_agent,
                details={**details, "network": network},
            )
            return "new_network"
    return None


def _new_device(settings: Any, tenant: Any, user_id: str, user_agent: str, ip: str, details: dict[str, Any]) -> None:
    code = secrets.token_urlsafe(32)
    hours = settings.alert_not_me_link_hours
    with write_transaction():
        event = record_event(tenant.id, user_id, "signin.new_device", ip=ip, user_agent=user_agent, details=details)
        alert_store.attach_action(f"event:{event.id}", code, now() + timedelta(hours=hours))
        _queue_notice(settings, tenant, user_id, event, code, hours)


def _queue_notice(settings: Any, tenant: Any, user_id: str, event: EventRecord, code: str, hours: int) -> None:
    """The new-device notice, queued in the caller's transaction (the durable outbox)."""
    mailer = current_mailer()
    user = get_user(tenant.id, user_id)
    address = primary_email(user.profile) if user is not None else None
    if mailer is None or user is None or not address:
        return
    link = f"{tenant_url(settings, tenant.name)}{NOT_ME_PATH}#code={code}"
    lines = [
        "Hello,",
        "",
        f"Your account {user.user_name} (organization {tenant.name}) was just used to sign in from a new device.",
        "",
        f"When: {event.occurred_at.strftime('%Y-%m-%d %H:%M:%S')} UTC",
        f"Device: {event.details.get('device', 'Unknown browser')}",
    ]
    if event.ip:
        lines.append(f"From IP address: {event.ip}")
    lines += [
        "",
        "If this was you, there is nothing to do.",
        "If it was not you, open this link to sign that device out: it ends every session of your account",
        f"after you confirm (the link works for {hours} hours):",
        "",
        link,
        "",
        "Then change your password.",
    ]
    mailer.send_later(
        Mail(to=address, subject="New sign-in to your account", text="\n".join(lines), kind="notice.new_device")
    )


def register() -> None:
    """Revoke trusted devices with the events that must end them (create_app and the CLI)."""
    subscribe("devices.revoke", REVOKING_KINDS, _revoke_on_event, in_transaction=True)

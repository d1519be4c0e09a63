"""The sign-in page's hooks for trusted devices (services/devices.py has the rules): skip the
second factor for a browser holding one of the user's trusted devices, trust this browser when
the user ticks the box, and judge a completed sign-in for a new device. api/signin.py calls these
at four points and holds no device logic of its own."""

from __future__ import annotations

from dataclasses import dataclass

from flask import Response
from flask import current_app
from flask import request

from scim_me.services import devices as rules
from scim_me.storage import devices as store
from scim_me.storage.sessions import SessionRecord
from scim_me.storage.tenants import TenantRecord
from scim_me.storage.users import StoredUser
from scim_me.web.context import current_tenant
from scim_me.web.context import settings


def _secret_key() -> bytes:
    key = current_app.secret_key
    return key if isinstance(key, bytes) else str(key).encode()


def _ip() -> str:
    return request.remote_addr or ""


def _user_agent() -> str:
    return request.headers.get("User-Agent", "")


# -- the sign-in page's hooks --------------------------------------------------------------------


@dataclass(frozen=True)
class Trusted:
    """A device trusted in this sign-in: its id and the cookie to set."""

    device_id: str
    cookie: str
    max_age: int


def trusted_device(tenant: TenantRecord, user: StoredUser) -> store.DeviceRecord | None:
    """The user's trusted device this browser holds: the second factor is skipped; None: ask."""
    cookie = request.cookies.get(rules.cookie_name(tenant.id), "")
    return rules.recognise(tenant, user.id, _secret_key(), cookie, _ip()) if cookie else None


def trust_if_asked(tenant: TenantRecord, user: StoredUser) -> Trusted | None:
    """After a passed second factor: trust this browser when the user ticked the box and the tenant allows it."""
    if request.form.get("trust_device") != "yes":
        return None
    made = rules.trust(tenant, user.id, _secret_key(), _user_agent(), _ip())
    if made is None:
        return None
    device_id, cookie, max_age = made
    return Trusted(device_id, cookie, max_age)


def after_sign_in(
    tenant: TenantRecord,
    user: StoredUser,
    session: SessionRecord,
    client_id: str,
    device: store.DeviceRecord | None,
    trusted: Trusted | None,
) -> None:
    """A sign-in completed on the page: judge whether it is a new device (alert and notice) and
    tie the session to the browser's trusted device, if any."""
    cookie = request.cookies.get(rules.cookie_name(tenant.id), "")
    known = device is not None or (bool(cookie) and rules.holds_device(tenant, user.id, _secret_key(), cookie))
    rules.assess_sign_in(
        settings(), tenant, user.id, user_agent=_user_agent(), ip=_ip(), client_id=client_id, known_device=known
    )
    device_id = trusted.device_id if trusted is not None else device.id if device is not None else None
    if device_id is not None:
        store.attach_to_session(session.id, device_id)


def set_device_cookie(response: Response, tenant: TenantRecord, trusted: Trusted | None) -> None:
    if trusted is None:
        return
    # SameSite=Strict: the sign-in form posts from this origin, so the cookie is sent there and
    # nowhere else. Secure whenever the request came over HTTPS (web/proxies.py).
    response.set_cookie(
        rules.cookie_name(tenant.id),
        trusted.cookie,
        max_age=trusted.max_age,
        httponly=True,
        secure=request.is_secure,
        samesite="Strict",
        path="/",
    )


def trust_days() -> int:
    tenant = current_tenant()
    return rules.lifetime_days(tenant) if tenant is not None else 0

"""Which security events raise an alert the user can acknowledge (docs/security-alerts.md).

Alerts are raised from the security history, inside the transaction that records the event
(``storage.events.subscribe(..., in_transaction=True)``): an alert exists exactly when its event
committed, whichever path recorded it (the APIs, the sign-in page, an administrator, the CLI).
Each occurrence raises one alert: one per event, and one per burst of failed sign-ins.

| alert type | raised by |
| --- | --- |
| ``new_device`` | ``signin.new_device`` (services/devices.py decides; it also mails the notice) |
| ``new_network`` | ``signin.new_network`` |
| ``password_changed`` | ``password.changed``, ``password.reset`` |
| ``mfa_disabled`` | ``mfa.totp.disabled`` |
| ``passkey_removed`` | any event kind naming a passkey or WebAuthn credential removed |
| ``account_locked`` | ``account.locked``, ``mfa.locked`` |
| ``failed_signins`` | the ``alert_failed_signins``-th failed password check in a row (lockout counter) |

Another feature raises its own alert with :func:`raise_alert`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from scim_me.storage import alerts as store
from scim_me.storage.events import KINDS
from scim_me.storage.events import EventRecord
from scim_me.storage.events import subscribe

TITLES: dict[str, str] = {
    "new_device": "Sign-in from a new device",
    "new_network": "Sign-in from a new network",
    "password_changed": "Your password was changed",
    "mfa_disabled": "Two-step verification was turned off",
    "passkey_removed": "A passkey was removed",
    "account_locked": "Your account was locked after failed attempts",
    "failed_signins": "Several failed sign-in attempts",
}
TYPES = frozenset(TITLES)

EVENT_ALERTS: dict[str, str] = {
    "signin.new_device": "new_device",
    "signin.new_network": "new_network",
    "password.changed": "password_changed",
    "password.reset": "password_changed",
    "mfa.totp.disabled": "mfa_disabled",
    "account.locked": "account_locked",
    "mfa.locked": "account_locked",
}
_FAILURE = "signin.failure"


@dataclass(frozen=True)
class AlertPolicy:
    """The ``failed_signins``-th failed password check in a row (0: never) raises one alert."""

    failed_signins: int = 3

    @classmethod
    def of(cls, settings: Any) -> AlertPolicy:
        return cls(settings.alert_failed_signins)


_policy = AlertPolicy()


def is_passkey_removal(kind: str) -> bool:
    """A passkey (WebAuthn / FIDO2 credential) was removed: matched by name, so the passkey
    feature's event raises the alert as soon as its kind exists."""
    words = kind.split(".")
    return bool({"passkey", "passkeys", "webauthn", "fido", "fido2"} & set(words)) and words[-1] in (
        "removed",
        "deleted",
        "revoked",
    )


def alert_type_for(kind: str) -> str | None:
    if kind in EVENT_ALERTS:
        return EVENT_ALERTS[kind]
    return "passkey_removed" if is_passkey_removal(kind) else None


def raise_alert(tenant_id: int, user_id: str, alert_type: str, dedupe_key: str, **fields: Any) -> str | None:
    """Raise an alert of ``alert_type`` once per ``dedupe_key``; its id, or None when already
    raised. ``fields``: the keyword arguments of storage/alerts.py ``insert_alert``."""
    if alert_type not in TYPES:
        raise ValueError(f"unknown alert type {alert_type!r}")
    return store.insert_alert(tenant_id, user_id, alert_type, dedupe_key, **fields)


def _from_event(tenant_id: int, event: EventRecord) -> None:
    alert_type = alert_type_for(event.kind)
    if alert_type is None:
        return
    details = {"event": event.kind, **event.details}
    raise_alert(
        tenant_id,
        event.user_id,
        alert_type,
        f"event:{event.id}",
        event_id=event.id,
        ip=event.ip,
        user_agent=event.user_agent,
        details=details,
        at=event.occurred_at,
    )


def _on_failure(tenant_id: int, event: EventRecord) -> None:
    """The account's failures in a row (the lockout counter, storage/throttle.py: a successful
    sign-in starts it afresh) reached the threshold: one alert for the burst, raised by exactly
    one failure however many race, since the counter is taken atomically."""
    threshold = _policy.failed_signins
    if threshold <= 0 or event.details.get("failures") != threshold:
        return
    raise_alert(
        tenant_id,
        event.user_id,
        "failed_signins",
        f"event:{event.id}",
        event_id=event.id,
        ip=event.ip,
        user_agent=event.user_agent,
        details={"event": event.kind, **event.details},
        at=event.occurred_at,
    )


def register(policy: AlertPolicy | None = None) -> None:
    """Raise alerts from the security history (create_app and the CLI call this)."""
    global _policy
    _policy = policy or AlertPolicy()
    kinds = {kind for kind in KINDS if alert_type_for(kind) is not None}
    subscribe("alerts.from_events", kinds, _from_event, in_transaction=True)
    subscribe("alerts.failed_signins", {_FAILURE}, _on_failure, in_transaction=True)


def unacknowledged(tenant_id: int, user_id: str) -> int:
    return store.count_alerts(tenant_id, user_id, unacknowledged_only=True)

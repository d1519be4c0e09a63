"""Notices to the account holder about changes to how they sign in (ASVS 6.3.7: users are told
when their authentication details change): a password change or reset, and MFA turned off.

They are listeners on the security history (``storage.events.subscribe``), so the password and
MFA features only record their events. The notice is queued in the durable outbox inside the
transaction that records the event, to the user's address as it is then: the change and its
notice commit together (a change nobody is told of cannot happen), in one durable commit, and
the mail leaves from the sender thread afterwards. Outside a request (the operator CLI) it is
sent once the transaction has committed.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from flask import current_app
from flask import has_app_context

from scim_me.config import ConfigError
from scim_me.config import Settings
from scim_me.notify.mail import Mail
from scim_me.notify.mail import Mailer
from scim_me.notify.mail import build_mailer
from scim_me.storage.db import after_commit
from scim_me.storage.events import EventRecord
from scim_me.storage.events import subscribe
from scim_me.storage.models import Tenant
from scim_me.storage.users import get_user

log = logging.getLogger("scim_me.mail")

_SUBJECTS: dict[str, tuple[str, str]] = {
    "password.changed": ("Your password was changed", "The password of your account {user} was changed."),
    "password.reset": ("Your password was reset", "The password of your account {user} was reset."),
    "mfa.totp.disabled": (
        "Authenticator app sign-in was turned off",
        "Sign-in with an authenticator app (TOTP) was turned off for your account {user}.",
    ),
    "mfa.backup_codes.removed": (
        "Your backup codes were removed",
        "The backup codes of your account {user} were removed.",
    ),
    "mfa.passkey.removed": (
        "A passkey was removed",
        "A passkey (security key) was removed from your account {user}.",
    ),
}
NOTICE_KINDS = frozenset(_SUBJECTS)


def primary_email(profile: Mapping[str, Any]) -> str | None:
    """The address mail goes to: the ``primary`` e-mail, else the first (as OIDC ``email``)."""
    emails = profile.get("emails")
    if not isinstance(emails, list):
        return None
    items = [item for item in emails if isinstance(item, Mapping) and isinstance(item.get("value"), str)]
    chosen = next((item for item in items if item.get("primary") is True), items[0] if items else None)
    return str(chosen["value"]) if chosen else None


def tenant_url(settings: Settings, tenant_name: str) -> str:
    """The tenant's public root, from the configured base URL: links in mail are never built
    from the request's Host header (an attacker could point them at their own server)."""
    base = settings.base_url.rstrip("/")
    return base if tenant_name == settings.default_tenant else f"{base}/t/{tenant_name}"


def current_mailer() -> Mailer | None:
    if not has_app_context():
        return None
    # The app state lives above this layer: read its mailer by attribute.
    mailer: Mailer | None = getattr(current_app.extensions.get("scim_me"), "mailer", None)
    return mailer


def _describe(event: EventRecord) -> str:
    lines = [f"When: {event.occurred_at.strftime('%Y-%m-%d %H:%M:%S')} UTC"]
    if event.ip:
        lines.append(f"From IP address: {event.ip}")
    if event.user_agent:
        lines.append(f"Browser or app: {event.user_agent[:200]}")
    return "\n".join(lines)


def _process_mailer() -> Mailer | None:
    """Outside a request (the operator CLI resetting a password): a mailer from the same settings
    the CLI uses. It sends at once, since the process ends right after the command."""
    try:
        return build_mailer(Settings.load())
    except ConfigError as exc:
        log.warning("mail is not configured (%s)", exc)
        return None


def notify_security_change(tenant_id: int, event: EventRecord) -> None:
    mailer = current_mailer()
    inline = mailer is None
    if mailer is None:
        mailer = _process_mailer()
    if mailer is None:
        log.info("no mailer in this process; %s notice for user %s not sent", event.kind, event.user_id)
        return
    user = get_user(tenant_id, event.user_id)
    address = primary_email(user.profile) if user else None
    if user is None or not address:
        log.info("%s notice not sent: user %s has no e-mail address", event.kind, event.user_id)
        return
    subject, what = _SUBJECTS[event.kind]
    tenant = Tenant.get_or_none(Tenant.id == tenant_id)
    text = (
        f"Hello,\n\n{what.format(user=user.user_name)}"
        f"{f' (organization {tenant.name})' if tenant else ''}\n\n{_describe(event)}\n\n"
        "If this was you, there is nothing to do.\n"
        "If it was not, change your password now, review your account's recent security events,"
        " and contact your administrator.\n"
    )
    mail = Mail(to=address, subject=subject, text=text, kind=f"notice.{event.kind}")
    if inline:
        sender = mailer

        def deliver() -> None:
            sender.deliver(mail)

        after_commit(deliver)  # never SMTP while the transaction holds the writer lock
    else:
        mailer.send_later(mail)


def register() -> None:
    subscribe("notify.security_change", NOTICE_KINDS, notify_security_change, in_transaction=True)

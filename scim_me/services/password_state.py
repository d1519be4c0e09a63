"""What a password change does besides storing the hash (history, event, ending the other
sessions), and what the account's password state looks like from outside: the readOnly
``urn:scim:wso2:schema`` attributes of /Me and the "password" section of the security overview.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import request

from scim_me.auth.credentials import password_replaced
from scim_me.auth.credentials import policy_for
from scim_me.core.password_policy import expiry_time
from scim_me.storage.caller import UserFacts
from scim_me.storage.events import record_event
from scim_me.storage.grants import access_token_grant
from scim_me.storage.grants import find_grant
from scim_me.storage.sessions import end_other_sessions
from scim_me.storage.tenants import TenantRecord
from scim_me.storage.throttle import LockState
from scim_me.storage.throttle import lock_state
from scim_me.storage.users import StoredUser
from scim_me.storage.users import now
from scim_me.web.context import settings
from scim_me.web.principal import Principal
from scim_me.web.sections import Subject
from scim_me.web.sections import register_overview_section
from scim_me.web.sections import register_user_attributes

WSO2_URN = "urn:scim:wso2:schema"


def _epoch_ms(moment: datetime) -> str:
    # Stored times are naive UTC.
    return str(int((moment - datetime(1970, 1, 1)).total_seconds() * 1000))


def _iso(moment: datetime | None) -> str | None:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ") if moment else None


def caller_keeps(principal: Principal | None) -> tuple[str | None, str | None]:
    """The grant and the sign-in session of the bearer token making this request (None, None for
    HTTP Basic or a token minted outside the issuer)."""
    if principal is None or not principal.token_id:
        return None, None
    grant_id = access_token_grant(principal.token_id)
    grant = find_grant(grant_id) if grant_id else None
    if grant is None:
        return None, None
    return grant.id, grant.session_id


def after_password_change(
    tenant: TenantRecord, previous: StoredUser, principal: Principal | None, *, channel: str, revoke_others: bool
) -> int:
    """Remember the replaced hash, record ``password.changed`` and, when asked, end every other
    session and grant of the user (the caller's own are kept). Returns how many were ended."""
    password_replaced(tenant, settings(), previous)
    ended = 0
    if revoke_others:
        keep_grant, keep_session = caller_keeps(principal)
        ended = end_other_sessions(tenant.id, previous.id, keep_grant_id=keep_grant, keep_session_id=keep_session)
    record_event(
        tenant.id,
        previous.id,
        "password.changed",
        ip=request.remote_addr or "",
        user_agent=request.headers.get("User-Agent", ""),
        client_id=principal.client_id if principal else None,
        details={"channel": channel, "revokedOtherSessions": revoke_others, "ended": ended},
    )
    return ended


def password_summary(tenant: TenantRecord, user: StoredUser, lock: LockState | None = None) -> dict[str, Any]:
    """The password's state; ``lock`` as read with the user (storage/caller.py), else read now."""
    policy = policy_for(tenant.settings, settings())
    expires = expiry_time(user.password_changed_at, policy)
    current = now()
    if lock is None:
        lock = lock_state(tenant.id, user.user_name, current)
    return {
        "lastChanged": _iso(user.password_changed_at),
        "expiryTime": _iso(expires),
        "expired": bool(expires and expires <= current),
        "locked": lock.locked,
        "lockedUntil": None if lock.hard else _iso(lock.until),
    }


def wso2_password_attributes(user: StoredUser, tenant: TenantRecord, lock: LockState) -> dict[str, Any]:
    """The server-computed readOnly attributes of ``urn:scim:wso2:schema``: while the account is
    locked, ``accountLocked`` true with ``lockedReason`` and ``unlockTime`` (and ``accountState``
    ``PENDING_EV`` while a new account's address waits for confirmation, ``PENDING_SR`` when the
    account registered itself); with a maximum-age rule, ``passwordExpiryTime``. Times are epoch
    milliseconds as text, as WSO2 writes them. Nothing is added for an unlocked account without
    expiry, so the stored profile shows as is."""
    policy = policy_for(tenant.settings, settings())
    expires = expiry_time(user.password_changed_at, policy)
    attributes: dict[str, Any] = {}
    if lock.locked:
        attributes["accountLocked"] = True
        attributes["lockedReason"] = _locked_reason(lock)
        if lock.email_pending:
            # WSO2's states until the address is confirmed (IdentityRecoveryConstants
            # PENDING_SELF_REGISTRATION / PENDING_EMAIL_VERIFICATION).
            attributes["accountState"] = "PENDING_SR" if lock.sign_up else "PENDING_EV"
        if lock.until is not None and not lock.hard:
            attributes["unlockTime"] = _epoch_ms(lock.until)
    if expires is not None:
        attributes["passwordExpiryTime"] = _epoch_ms(expires)
    return attributes


def _locked_reason(lock: LockState) -> str:
    """WSO2's ``lockedReason`` (IdentityMgtConstants.LockedReason) of a lock."""
    if lock.sign_up:
        return "PENDING_SELF_REGISTRATION"  # self-registration with confirmation (services/self_registration.py)
    if lock.email_pending:
        return "PENDING_EMAIL_VERIFICATION"  # an administrator's verifyEmail (services/verify_email.py)
    # An administrator's lock counts no failures (storage/throttle.lock_account).
    return "ADMIN_INITIATED" if lock.hard and not lock.failures else "MAX_ATTEMPTS_EXCEEDED"


def _overview(subject: Subject) -> Any:
    return password_summary(subject.tenant, subject.user, subject.facts.lock if subject.facts else None)


def _scim_attributes(tenant: TenantRecord, user: StoredUser, facts: UserFacts) -> dict[str, dict[str, Any]]:
    attributes = wso2_password_attributes(user, tenant, facts.lock)
    return {WSO2_URN: attributes} if attributes else {}


register_overview_section("password", _overview)
register_user_attributes("password", _scim_attributes)

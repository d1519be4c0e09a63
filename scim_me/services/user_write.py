"""The one write path of a stored user, shared by ``/scim2/Me`` (the user), ``/scim2/Users`` and
``/scim2/Bulk`` (an administrator): change the profile with a pure function (PATCH engine, PUT
replacement), hash a new password under the tenant's policy, compare-and-set the row, and do what
a change implies (password history, ending sessions, security events).

Where the two callers differ it is said by :class:`Writer`: a user's own change may be refused by
the tenant (``password_update_in_me``), holds a new e-mail address for verification and keeps
the caller's session; an administrator's password reset skips the minimum-age rule and ends every
session, and each of their changes is recorded in the user's security history (who, which
attributes, never a value).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from werkzeug.http import parse_etags

from scim_me.auth.credentials import new_password_hash
from scim_me.auth.credentials import password_replaced
from scim_me.config import Settings
from scim_me.core.accounts import is_disabled
from scim_me.core.accounts import take_account_locked
from scim_me.core.bounds import check_value_counts
from scim_me.core.patch import apply_patch
from scim_me.core.recovery import NO_REQUESTS
from scim_me.core.recovery import UpdateRequests
from scim_me.core.recovery import reset_forced
from scim_me.core.recovery import take_ask_password
from scim_me.core.recovery import take_body_requests
from scim_me.core.recovery import take_patch_requests
from scim_me.core.recovery import take_profile_requests
from scim_me.core.recovery import take_verify_email
from scim_me.core.replace import new_resource
from scim_me.core.replace import replace_resource
from scim_me.errors import ConflictError
from scim_me.errors import InvalidRequestError
from scim_me.errors import InvalidValueError
from scim_me.errors import NotFoundError
from scim_me.errors import PreconditionFailedError
from scim_me.notify.notices import primary_email
from scim_me.services.email_change import hold_email_change
from scim_me.services.email_change import store_email_change
from scim_me.services.password_state import after_password_change
from scim_me.services.read_only import check_writable
from scim_me.services.recovery import invite_user
from scim_me.services.recovery import require_new_password
from scim_me.services.user_view import entity_tag
from scim_me.services.verify_email import hold_until_confirmed
from scim_me.storage.caller import UserFacts
from scim_me.storage.db import write_transaction
from scim_me.storage.events import Actor
from scim_me.storage.recovery_flows import RESET_KINDS
from scim_me.storage.recovery_flows import end_flows
from scim_me.storage.sessions import end_other_sessions
from scim_me.storage.tenants import TenantRecord
from scim_me.storage.throttle import lock_account
from scim_me.storage.throttle import lock_state
from scim_me.storage.throttle import unlock
from scim_me.storage.users import StoredUser
from scim_me.storage.users import create_user
from scim_me.storage.users import delete_user
from scim_me.storage.users import get_user
from scim_me.storage.users import now
from scim_me.storage.users import update_user
from scim_me.web.context import admin_registry
from scim_me.web.context import request_actor
from scim_me.web.context import settings
from scim_me.web.principal import Principal
from scim_me.web.step_up import require_recent_sign_in
from scim_me.web.validation import load_patch_request

_NO_PASSWORD: Any = object()
Mutation = Callable[[dict[str, Any]], dict[str, Any]]


@dataclass(frozen=True)
class Writer:
    """Who changes the user: the user themselves (``admin`` False) or an administrator."""

    tenant: TenantRecord
    principal: Principal | None
    admin: bool = False
    channel: str = "scim_me"  # recorded in security events: scim_me, scim_users, scim_bulk

    def actor(self) -> dict[str, Any]:
        """Who acted, as the security history shows it (ids and names, never a credential)."""
        principal = self.principal
        if principal is None:
            return {}
        actor: dict[str, Any] = {"channel": self.channel}
        if principal.user is not None:
            actor["userId"] = principal.user.id
            actor["userName"] = principal.user.user_name
        if principal.client_id:
            actor["clientId"] = principal.client_id
        return actor


def check_if_match(user_version: int, header: str | None, what: str = "user") -> bool:
    """RFC 7644 §3.14 / RFC 7232 §3.1: 412 when ``If-Match`` names another version; True when
    the client sent one."""
    if header is None:
        return False
    tags = parse_etags(header)
    if not tags.contains_weak(str(user_version)) and not tags.star_tag:
        raise PreconditionFailedError(
            f"The {what} is at version {entity_tag(user_version)}, not {header}.",
            headers={"ETag": entity_tag(user_version)},
        )
    return True


def hash_new_password(writer: Writer, password: object, profile: dict[str, Any], user: StoredUser | None) -> str:
    """Apply the tenant's password policy and hash; a violation is 400 ``invalidValue`` naming
    the rule, and the password is never part of an error message. A user's own change through
    /Me may be switched off per tenant (WSO2 ``disablePasswordUpdateInMeEndpoint``)."""
    tenant = writer.tenant
    if user is not None and not writer.admin and not tenant.settings.password_update_in_me:
        raise InvalidRequestError("Password update is not allowed for scim2/Me endpoint")
    user_name = profile.get("userName") if isinstance(profile.get("userName"), str) else None
    return new_password_hash(
        tenant,
        settings(),
        settings().hash_params(),
        password,
        user_name=user_name or (user.user_name if user else None),
        profile=profile,
        user=user,
        # An administrator resetting a password is not bound by the user's minimum-age rule.
        user_initiated=not writer.admin,
    )


def check_bounds(profile: dict[str, Any], config: Settings | None = None) -> None:
    # The stored size is checked by storage, on the JSON text it writes (max_bytes).
    check_value_counts(profile, max_values=(config or settings()).max_values_per_attribute)


def changed_attributes(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """The names of the top-level and extension attributes that differ (values never shown)."""
    names: list[str] = []
    for key in sorted(set(before) | set(after)):
        old, new = before.get(key), after.get(key)
        if old == new:
            continue
        if key.startswith("urn:") and isinstance(old or {}, dict) and isinstance(new or {}, dict):
            names += [f"{key}:{sub}" for sub in changed_attributes(old or {}, new or {})]
        else:
            names.append(key)
    return names


def write_user(
    writer: Writer,
    user: StoredUser,
    facts: UserFacts | None,
    mutate: Mutation,
    *,
    if_match: str | None = None,
    requests: UpdateRequests = NO_REQUESTS,
) -> tuple[StoredUser, UserFacts | None]:
    """Change and compare-and-set ``user``; re-read and retry on a lost race unless If-Match.
    Returns the stored result and the facts still valid for it (None when they must be read).
    ``requests``: WSO2's request flags the caller took out of the request body
    (:func:`take_body_requests`, :func:`take_patch_requests`); those the change leaves in the
    profile are taken out of it here, so none is ever stored.

    The first attempt writes the user as authentication read it, with no lock held while the
    change is computed. A lost race means another writer is changing this user right now, so
    the retry runs inside a write transaction that locks the user from the re-read to the commit
    (SQLite's writer lock; on PostgreSQL the row, read ``FOR UPDATE``), and cannot lose again:
    a lost race costs a statement or two, not another durable commit. The loop (``patch_retries``)
    only bounds what no scim-me writer does: change the row without that lock."""
    hashed: dict[str, str] = {}
    check_writable(writer.tenant, user)  # WSO2: a read-only user store refuses the write
    conditional = check_if_match(user.version, if_match)
    written = _write_once(writer, user, facts, mutate, hashed, requests)
    if written is not None:
        return written
    for _attempt in range(settings().patch_retries - 1):
        with write_transaction():
            fresh = get_user(writer.tenant.id, user.id, for_update=True)
            if fresh is None:
                raise NotFoundError("User not found in the user store.")
            if conditional:
                raise PreconditionFailedError(
                    f"The user changed while this request ran; it is now at {entity_tag(fresh.version)}.",
                    headers={"ETag": entity_tag(fresh.version)},
                )
            check_writable(writer.tenant, fresh)
            # The other write changed the profile only (user names never change), so the facts
            # (MFA, lock, groups) read with the caller still describe the user.
            written = _write_once(writer, fresh, facts, mutate, hashed, requests)
        if written is not None:
            return written
    raise ConflictError("The user is being changed by many requests at once; retry.", headers={"Retry-After": "1"})


def _write_once(
    writer: Writer,
    user: StoredUser,
    facts: UserFacts | None,
    mutate: Mutation,
    hashed: dict[str, str],
    requests: UpdateRequests,
) -> tuple[StoredUser, UserFacts | None] | None:
    """One compare-and-set attempt of :func:`write_user`; None when ``user`` is no longer the
    stored version. ``hashed`` keeps each new password's hash across attempts."""
    tenant = writer.tenant
    config = settings()
    # A profile written before the flags were requests may still hold them: the change starts
    # from the profile without them (so the write drops them, and a PUT that sends back what a
    # GET showed is not taken for a new request).
    base, stored = take_profile_requests(user.profile, strict=False)
    new_profile, found = take_profile_requests(mutate(base))
    requests = requests | found
    _check_update_requests(writer, requests, stored)
    check_bounds(new_profile, config)
    lock_change = _lock_change(writer, user, new_profile)
    if not writer.admin and writer.principal is not None and new_profile.get("emails") != user.profile.get("emails"):
        # A user's address is where recovery and notices go: changing it is a step-up action
        # (RFC 9470), checked before anything is hashed or written.
        require_recent_sign_in(writer.principal)
    password = new_profile.pop("password", _NO_PASSWORD)
    email_change = None
    if not writer.admin or (requests.verify_email and tenant.settings.verify_email_on_update):
        # With "verify email on update" a new address waits in pendingEmails (email_verification.py).
        # An administrator's address applies at once unless the write asks for verifyEmail (WSO2's
        # UseVerifyClaim, which scim-me's administrators always have); with the setting off WSO2
        # drops the flag and verifies nothing, and so does this.
        new_profile, email_change = hold_email_change(tenant, user, new_profile)
    password_hash: Any = _NO_PASSWORD
    if password is not _NO_PASSWORD:
        if not isinstance(password, str):
            raise InvalidValueError("The password must be a string.")
        if password not in hashed:
            hashed[password] = hash_new_password(writer, password, new_profile, user)
        password_hash = hashed[password]
    if password_hash is _NO_PASSWORD and new_profile == user.profile and email_change is None and lock_change is None:
        return user, facts
    limit = config.max_profile_bytes
    password_set = password_hash is not _NO_PASSWORD
    extra: dict[str, Any] = {"password_hash": password_hash} if password_set else {}
    if email_change is None and not writer.admin and not password_set:
        # The one statement is a transaction of its own (storage/db.py execute_write).
        updated = update_user(user, new_profile, max_bytes=limit, **extra)
    else:
        # What the change implies commits with it: a held address, an administrator's side
        # effects, or a new password's history, ended sessions, event and notice.
        with write_transaction():
            updated = update_user(user, new_profile, max_bytes=limit, **extra)
            if updated is not None and email_change is not None:
                store_email_change(tenant, updated, email_change)
            if updated is not None and writer.admin:
                _after_admin_change(writer, user, updated, password_set, lock_change)
            elif updated is not None and password_set:
                after_password_change(tenant, user, writer.principal, channel=writer.channel, revoke_others=True)
    if updated is None:
        return None
    if password_set:
        facts = None  # read again after a password change rather than reason about the lock
    # The write changed the profile only (the user_name column and the features' rows stay), so
    # the facts read with the user still describe it.
    return updated, facts


def _check_update_requests(writer: Writer, requests: UpdateRequests, stored: UpdateRequests) -> None:
    """``askPassword`` invites a user who has no password yet (on creation); WSO2 acts on it only
    on PRE_ADD_USER/POST_ADD_USER (AskPasswordBasedPasswordSetupHandler), so on an update it
    would be a claim stored and doing nothing. It is refused rather than silently dropped. A
    profile stored with ``askPassword`` true (before it was a request) sent back unchanged is
    not a request: a GET's body PUT back must not fail."""
    if writer.admin and requests.ask_password and not stored.ask_password:
        raise InvalidValueError(
            "askPassword invites a new user (POST); to make an existing user choose a new password,"
            " send urn:scim:wso2:schema forcePasswordReset true."
        )


def _caller(writer: Writer) -> Actor:
    return request_actor(writer.principal.client_id if writer.principal else None)


def record_admin_event(writer: Writer, user_id: str, kind: str, details: dict[str, Any]) -> None:
    """Record in ``user_id``'s security history what an administrator did, and who."""
    _caller(writer).record(writer.tenant.id, user_id, kind, {"by": writer.actor(), **details})


def _lock_change(writer: Writer, user: StoredUser, new_profile: dict[str, Any]) -> bool | None:
    """An administrator's ``accountLocked`` (taken out of ``new_profile``: the lock lives in the
    lockout table): True to lock, False to unlock, None when the write changes no lock."""
    if not writer.admin:
        return None  # readOnly on /Me: the PATCH engine refused it already
    wanted = take_account_locked(new_profile)
    if wanted is None:
        return None
    state = lock_state(writer.tenant.id, user.user_name, now())
    # A lock that failures set for a while becomes one held until unlocked. A hold for an
    # unconfirmed address stays what it is (as on WSO2, where the account is locked already): a
    # GET's body PUT back, which says accountLocked true, must not turn it into a lock that
    # confirming the address no longer lifts.
    return None if (wanted and state.hard) or (not wanted and not state.locked) else wanted


def _after_admin_change(
    writer: Writer, before: StoredUser, after: StoredUser, password_set: bool, lock_change: bool | None = None
) -> None:
    """In the write's transaction: what an administrator's change implies for the user."""
    tenant = writer.tenant
    attributes = changed_attributes(before.profile, after.profile)
    ended = 0
    if password_set:
        password_replaced(tenant, settings(), before)
    if lock_change is True:
        lock_account(tenant.id, before.user_name, now())  # WSO2's accountLocked: held until unlocked
        end_flows(tenant.id, before.id, RESET_KINDS)  # no mailed code or link outlives the lock
    elif lock_change is False:
        unlock(tenant.id, before.user_name)
    disabled = is_disabled(after.profile) and not is_disabled(before.profile)
    if password_set or disabled or lock_change is True:
        # A reset password, a disabled or locked account: every session and token ends now.
        ended = end_other_sessions(tenant.id, before.id)
    if password_set:
        record_admin_event(writer, before.id, "password.reset", {"channel": writer.channel, "ended": ended})
    if lock_change is True:
        record_admin_event(writer, before.id, "account.locked", {"reason": "admin", "ended": ended})
    elif lock_change is False:
        record_admin_event(writer, before.id, "account.unlocked", {})
    if disabled:
        record_admin_event(writer, before.id, "account.disabled", {"ended": ended})
    elif is_disabled(before.profile) and not is_disabled(after.profile):
        record_admin_event(writer, before.id, "account.enabled", {})
    if attributes:
        record_admin_event(writer, before.id, "profile.updated", {"attributes": attributes})
    if reset_forced(after.profile) and not reset_forced(before.profile):
        # WSO2's admin-forced reset (``forcePasswordReset: true``): the sessions end and the
        # reset link is queued in this write's transaction, with the flag.
        require_new_password(settings(), tenant, after, _caller(writer), channel=writer.channel, by=writer.actor())


def record_admin_creation(writer: Writer, user: StoredUser) -> None:
    """The first entry of a user an administrator created."""
    record_admin_event(writer, user.id, "account.created", {"attributes": changed_attributes({}, user.profile)})


def remove_user(tenant_id: int, user: StoredUser, *, version: int | None = None) -> bool:
    """Delete the user and everything that is theirs (sessions, grants and so every token, MFA,
    consents, events: the database cascades from the user row), with the account's lockout row,
    in one transaction. False when absent or, with ``version``, changed meanwhile."""
    with write_transaction():
        if not delete_user(tenant_id, user.id, version=version):
            return False
        # The lockout row is keyed by the name, not the user: its lock, failures or hold for an
        # address nobody will confirm must not fall on the next user of that name.
        unlock(tenant_id, user.user_name)
    return True


def admin_writer(principal: Principal, channel: str = "scim_users") -> Writer:
    """An administrator's writes (``/scim2/Users``, ``/scim2/Bulk``)."""
    return Writer(principal.tenant, principal, admin=True, channel=channel)


def _check_requests(invited: bool, verify: bool, password: Any, address: str | None) -> None:
    """WSO2's creation requests ``askPassword`` and ``verifyEmail``: each needs an address to mail,
    and they exclude each other (and askPassword a password)."""
    if invited and password is not None:
        raise InvalidValueError("askPassword lets the user choose the password: send one or the other.")
    if invited and verify:
        # WSO2's handlers disagree across releases (one ignored askPassword, now both mail and
        # the later code wins): the two invitations are refused rather than half honoured.
        raise InvalidValueError("askPassword and verifyEmail are two invitations: send one or the other.")
    if invited and address is None:
        raise InvalidValueError("askPassword needs an e-mail address to send the invitation to.")
    if verify and address is None:
        raise InvalidValueError("verifyEmail needs an e-mail address to confirm.")


def create_admin_user(writer: Writer, body: Any) -> StoredUser:
    """RFC 7644 §3.3: a new user from a User body; a password is optional (set later)."""
    tenant = writer.tenant
    check_writable(tenant)
    body, invited = take_ask_password(body)
    body, verify = take_verify_email(body)
    profile = new_resource(body, admin_registry())
    check_bounds(profile)
    locked = take_account_locked(profile)
    password = profile.pop("password", None)
    address = primary_email(profile)
    _check_requests(invited, verify, password, address)
    password_hash = None
    if password is not None:
        if not isinstance(password, str):
            raise InvalidValueError("The password must be a string.")
        password_hash = hash_new_password(writer, password, profile, None)
    with write_transaction():
        user = create_user(tenant.id, profile, password_hash, max_bytes=settings().max_profile_bytes)
        record_admin_creation(writer, user)
        if invited and address is not None:
            # The user and the invitation commit together: no account waits for a mail never sent.
            invite_user(settings(), tenant, user, address)
        if verify and address is not None:
            hold_until_confirmed(settings(), tenant, user, address)
        if locked:
            # After the hold: an administrator's lock is not lifted by confirming the address.
            lock_account(tenant.id, user.user_name, now())
            record_admin_event(writer, user.id, "account.locked", {"reason": "admin", "ended": 0})
    return user


def replace_admin_user(writer: Writer, user: StoredUser, body: Any, if_match: str | None) -> StoredUser:
    """RFC 7644 §3.5.1 by an administrator."""
    reg = admin_registry()
    body, requests = take_body_requests(body, admin=True)
    updated, _facts = write_user(
        writer, user, None, lambda profile: replace_resource(profile, body, reg), if_match=if_match, requests=requests
    )
    return updated


def patch_admin_user(writer: Writer, user: StoredUser, body: Any, if_match: str | None) -> StoredUser:
    """RFC 7644 §3.5.2 by an administrator."""
    sent = load_patch_request(body)
    operations, requests = take_patch_requests(sent, admin=True)
    reg = admin_registry()
    # Both caps bound the engine's work per request (core/patch_workspace.py), as on PATCH /Me.
    limits = {"max_operations": settings().max_operations, "max_values": settings().max_values_per_attribute}
    updated, _facts = write_user(
        writer,
        user,
        None,
        # Operations that only set request flags leave nothing for the engine (which refuses an
        # empty list): the profile stays as it is.
        lambda profile: apply_patch(profile, operations, reg, **limits) if operations or not sent else profile,
        if_match=if_match,
        requests=requests,
    )
    return updated


def delete_admin_user(tenant: TenantRecord, user: StoredUser, if_match: str | None) -> None:
    """RFC 7644 §3.6; 412 when If-Match names another version."""
    check_writable(tenant, user)
    conditional = check_if_match(user.version, if_match)
    if not remove_user(tenant.id, user, version=user.version if conditional else None):
        raise PreconditionFailedError("The user changed while this request ran.")

"""Self-registration (``POST /scim2/Me``): a new account from a User body that carries its
password, per the tenant's ``self_registration`` mode (off, open, scope; api/scim_me.py).

With the tenant's ``self_registration_confirm`` on (the default), the account is held until the
user confirms the e-mail address, as WSO2's self sign-up with "lock on creation" (on by default
there: identity-governance ``SelfRegistrationConfigImpl``) holds it: ``accountLocked`` true,
``lockedReason`` ``PENDING_SELF_REGISTRATION``, ``accountState`` ``PENDING_SR``
(``SelfRegistrationUtils.lockUserAccount``, ``IdentityRecoveryConstants.PENDING_SELF_REGISTRATION``).
The user, the hold, the code and its queued mail commit in one transaction
(services/verify_email.py does the hold and the code; validate-code, the mailed link's page,
resend-code and the sign-in page serve it as they serve an administrator's verifyEmail). Off,
the account signs in at once.

WSO2's request flags (``urn:scim:wso2:schema``) are taken out of the body, never stored, as on
every other write (core/recovery.py):

- ``askPassword: true`` is 400 ``invalidValue``: it asks that a user an administrator creates
  choose the password through a mailed invitation, and a self-registration carries its password.
  ``false`` is accepted and does nothing.
- ``verifyEmail`` (``true``, ``false`` or ``"true"``, also under the enterprise extension) is
  accepted and decides nothing: the tenant does. With ``self_registration_confirm`` on the address
  is confirmed anyway (one hold, one code); off, the account signs in at once. So WSO2 does:
  ``UserEmailVerificationHandler`` returns for a user added with the self sign-up role ("Will be
  handled in self signup handler"), and ``UserSelfRegistrationHandler`` locks per the tenant's
  ``SelfRegistration.LockOnCreation``. An anonymous caller cannot choose a tenant's policy, nor
  have a mail sent where the tenant sends none.

Confirming needs an address: with the setting on and no primary e-mail address, 400
``invalidValue``.

An anonymous registration (mode ``open``) counts against the client IP's mail limit, the counter
that password recovery and resend-code mails count on (``SCIM_ME_RECOVERY_IP_SENDS_PER_WINDOW``
within ``SCIM_ME_RECOVERY_SEND_WINDOW_SECONDS``): each one mails an address of the caller's
choosing, or creates an account without one. It is counted once the body is known to be a
registration (a malformed body costs nothing and writes nothing) and before the password is
hashed or the name is looked up, so a taken name's 409 cannot be probed faster either. Over the
limit: ``RecoveryRefused("throttled")``, answered 429 with ``Retry-After``. A caller with the
``internal_user_mgt_create`` scope (mode ``scope``) is not limited per IP.

Every registration that mails a confirmation, in either mode, also counts against its address
(``SCIM_ME_RECOVERY_ADDRESS_SENDS_PER_WINDOW``, services/recovery.py ``take_address_mail_slot``):
the per-IP limit does not stop many clients from registering one victim's address under many
names. Past it, 429 with ``Retry-After`` as well. This is our decision; WSO2 has no such limit.

An unconfirmed registration does not keep its name for ever: anybody may register with any
name, so one left unconfirmed would otherwise squat it. Once its confirmation has lapsed (no
unexpired code of it left: a resend renews it), a new registration of the same name replaces it,
in the new registration's transaction: the held account and everything of it is deleted (as
``DELETE /scim2/Users`` deletes), and the new account's ``account.created`` event names the one it
replaced. A confirmed account, one an administrator locked or created with ``verifyEmail``, and
one whose code still works keep their name (409 ``uniqueness`` as before). WSO2 keeps
unconfirmed self sign-ups until an administrator deletes them; this is our decision.
"""

from __future__ import annotations

import logging
from typing import Any

from scim_me.core.recovery import take_ask_password
from scim_me.core.recovery import take_verify_email
from scim_me.core.replace import new_resource
from scim_me.errors import InvalidValueError
from scim_me.notify.notices import primary_email
from scim_me.services.recovery import RecoveryRefused
from scim_me.services.recovery import take_address_mail_slot
from scim_me.services.recovery import take_ip_mail_slot
from scim_me.services.user_write import Writer
from scim_me.services.user_write import changed_attributes
from scim_me.services.user_write import check_bounds
from scim_me.services.user_write import hash_new_password
from scim_me.services.user_write import remove_user
from scim_me.services.verify_email import hold_until_confirmed
from scim_me.storage import recovery_flows as flows
from scim_me.storage.db import write_transaction
from scim_me.storage.events import Actor
from scim_me.storage.recovery_flows import has_live_flow
from scim_me.storage.tenants import TenantRecord
from scim_me.storage.throttle import lock_state
from scim_me.storage.users import StoredUser
from scim_me.storage.users import create_user
from scim_me.storage.users import find_user
from scim_me.storage.users import now
from scim_me.web.context import registry
from scim_me.web.context import settings

log = logging.getLogger("scim_me.self_registration")

THROTTLED = "Too many self-registrations from this client; retry after the time given in Retry-After."
ADDRESS_THROTTLED = "Too many confirmation mails to this address; retry after the time given in Retry-After."


def register(tenant: TenantRecord, body: Any, caller: Actor, *, anonymous: bool) -> StoredUser:
    """Create the account ``body`` describes (its own password included) and, when the tenant says
    so, hold it until the address is confirmed; ``anonymous``: count it against the caller's IP.
    Raises ``RecoveryRefused("throttled")`` past that limit."""
    config = settings()
    body, invited = take_ask_password(body)
    body, _verify = take_verify_email(body)  # taken out, never stored; the tenant decides (above)
    if invited:
        raise InvalidValueError(
            "askPassword invites a user an administrator creates to choose a password; a self-registration"
            " sends its password."
        )
    profile = new_resource(body, registry())
    check_bounds(profile)
    password = profile.pop("password", None)
    if password is None:
        raise InvalidValueError("A password is required to register.")
    address = primary_email(profile) if tenant.settings.self_registration_confirm else None
    if tenant.settings.self_registration_confirm and address is None:
        raise InvalidValueError(
            "An e-mail address is required to register: it is confirmed before the account signs in."
        )
    with write_transaction():  # both counts in one commit; a refusal by either counts neither
        if anonymous:
            take_ip_mail_slot(config, caller, THROTTLED)
        if address is not None:
            # Whoever registers, with whichever name: the address's owner gets at most so many mails.
            wait = take_address_mail_slot(config, address)
            if wait:
                raise RecoveryRefused("throttled", ADDRESS_THROTTLED, wait)
    # Registration creates the credential; the tenant's password_update_in_me switch only
    # governs changing it through /Me (WSO2 applies it in updateMe, not createUser).
    password_hash = hash_new_password(Writer(tenant, None), password, profile, None)
    with write_transaction():
        replaced = _reclaim_lapsed(tenant, str(profile.get("userName", "")))
        user = create_user(tenant.id, profile, password_hash, max_bytes=config.max_profile_bytes)
        details: dict[str, Any] = {"channel": "self_registration", "attributes": changed_attributes({}, user.profile)}
        if replaced is not None:
            details["replaced_unconfirmed"] = replaced.id
        caller.record(tenant.id, user.id, "account.created", details)
        if address is not None:
            # The user, the hold, the code and its mail commit together: no account waits for a
            # mail that was never queued, and no mail names an account that was never stored.
            hold_until_confirmed(config, tenant, user, address, sign_up=True)
    if replaced is not None:
        log.info("unconfirmed self-registration %s lapsed; user %s registered its name", replaced.id, user.id)
    if address is not None:
        log.info("self-registered user %s held until its address is confirmed", user.id)
    return user


def _reclaim_lapsed(tenant: TenantRecord, user_name: str) -> StoredUser | None:
    """In the registration's transaction: delete the self-registered account holding
    ``user_name`` if it was never confirmed and its confirmation lapsed (module docstring), and
    return it; None when no such account stands in the way."""
    held = find_user(tenant.id, user_name)
    if held is None:
        return None
    at = now()
    if not lock_state(tenant.id, held.user_name, at).sign_up:
        return None  # confirmed, an administrator's lock or verifyEmail, or no hold at all
    if has_live_flow(tenant.id, held.id, (flows.SELF_SIGN_UP,), at):
        return None
    # Against the version read: a confirmation that lands first changes it, and the name stays.
    return held if remove_user(tenant.id, held, version=held.version) else None

"""WSO2's identity-governance connectors, answered from the tenant's real settings
(``POST /api/server/v1/identity-governance/preferences``).

WSO2 keeps self-service switches in "governance connectors" (wso2/identity-api-server
``identity-governance.yaml`` lists them with their properties); My Account and the login portal
ask for a few properties to decide which features to show. scim-me has no connectors: each
property below is computed from the tenant's settings (storage/tenants.TenantSettings) and the
server's (config.Settings), so the answer is what the server does. A WSO2 feature scim-me lacks
(security questions, reCAPTCHA, SMS) answers ``"false"``: true of this server, and a UI then
hides it. Values are strings, as WSO2's; durations are in WSO2's units (minutes, days).

``scim-me.mfa`` is scim-me's own connector: WSO2 configures TOTP and backup codes per
authenticator, not as a governance connector, so there is no WSO2 name to answer under.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from scim_me.auth.credentials import policy_for
from scim_me.config import Settings
from scim_me.storage.tenants import TenantRecord


@dataclass(frozen=True)
class Facts:
    tenant: TenantRecord
    settings: Settings


Property = Callable[[Facts], object]


def _minutes(seconds: int) -> str:
    """WSO2 counts these durations in minutes; a setting that is not whole minutes keeps its
    fraction rather than being rounded into something the server does not do."""
    if seconds % 60 == 0:
        return str(seconds // 60)
    return f"{seconds / 60:.4f}".rstrip("0")


def _off(_facts: Facts) -> bool:
    return False


def _history_count(f: Facts) -> int:
    return policy_for(f.tenant.settings, f.settings).history_count


def _max_age_days(f: Facts) -> int:
    return policy_for(f.tenant.settings, f.settings).max_age.days


# connector name → property name → how to compute it. Order is the answer's order when a
# request names a connector without properties.
CONNECTORS: dict[str, dict[str, Property]] = {
    "self-sign-up": {
        "SelfRegistration.Enable": lambda f: f.tenant.settings.self_registration != "off",
        # A registered account is held until its address is confirmed (PENDING_SR), as WSO2's lock
        # on creation; off, it signs in at once (services/self_registration.py).
        "SelfRegistration.LockOnCreation": lambda f: f.tenant.settings.self_registration_confirm,
        # WSO2's confirmation mailed to an account usable meanwhile (accountState PENDING_SR, no
        # lock): scim-me holds every account it mails a confirmation to.
        "SelfRegistration.SendConfirmationOnCreation": _off,
        # A mail after the confirmation: none is sent.
        "SelfRegistration.NotifyAccountConfirmation": _off,
        "SelfRegistration.VerificationCode.ExpiryTime": lambda f: _minutes(f.settings.recovery_link_lifetime),
        "SelfRegistration.ReCaptcha": _off,
        "SelfRegistration.ResendConfirmationReCaptcha": _off,
    },
    "lite-user-sign-up": {"LiteRegistration.Enable": _off},
    "user-email-verification": {
        # An administrator's verifyEmail on a new user holds the account until the address is
        # confirmed, and askPassword mails an invitation to choose a password (services/verify_email.py,
        # services/recovery.invite_user): always offered, both codes valid recovery_link_lifetime.
        "EmailVerification.Enable": lambda f: True,
        "EmailVerification.LockOnCreation": lambda f: True,
        "EmailVerification.ExpiryTime": lambda f: _minutes(f.settings.recovery_link_lifetime),
        "EmailVerification.AskPassword.ExpiryTime": lambda f: _minutes(f.settings.recovery_link_lifetime),
    },
    "user-claim-update": {
        "UserClaimUpdate.Email.EnableVerification": lambda f: f.tenant.settings.verify_email_on_update,
        "UserClaimUpdate.Email.VerificationCode.ExpiryTime": lambda f: _minutes(f.settings.email_change_code_lifetime),
        "UserClaimUpdate.MobileNumber.EnableVerification": _off,
    },
    "account.lock.handler": {
        "account.lock.handler.enable": lambda f: True,
        "account.lock.handler.On.Failure.Max.Attempts": lambda f: f.settings.login_max_failures,
        "account.lock.handler.Time": lambda f: _minutes(f.settings.login_lock_seconds),
        # Each further failure doubles the lock (auth/login.py), up to login_max_lock_seconds.
        "account.lock.handler.login.fail.timeout.ratio": lambda f: 2,
    },
    "passwordHistory": {
        "passwordHistory.enable": lambda f: _history_count(f) > 0,
        "passwordHistory.count": _history_count,
    },
    "passwordPolicy": {
        "passwordPolicy.enable": lambda f: True,
        "passwordPolicy.min.length": lambda f: policy_for(f.tenant.settings, f.settings).min_length,
        "passwordPolicy.max.length": lambda f: policy_for(f.tenant.settings, f.settings).max_length,
    },
    "passwordExpiry": {
        "passwordExpiry.enablePasswordExpiry": lambda f: _max_age_days(f) > 0,
        "passwordExpiry.passwordExpiryInDays": _max_age_days,
    },
    "account-recovery": {
        "Recovery.Notification.Password.Enable": lambda f: f.tenant.settings.password_recovery,
        # The mailed code is an OTP (docs/account-recovery.md), not a link; no SMS.
        "Recovery.Notification.Password.emailLink.Enable": _off,
        "Recovery.Notification.Password.OTP.SendOTPInEmail": lambda f: f.tenant.settings.password_recovery,
        "Recovery.Notification.Password.smsOtp.Enable": _off,
        "Recovery.Notification.Username.Enable": lambda f: f.tenant.settings.username_recovery,
        "Recovery.Notification.Username.Email.Enable": lambda f: f.tenant.settings.username_recovery,
        "Recovery.Notification.Username.SMS.Enable": _off,
        "Recovery.Question.Password.Enable": _off,
        "Recovery.Question.Password.Forced.Enable": _off,
        "Recovery.ReCaptcha.Password.Enable": _off,
        "Recovery.ReCaptcha.Username.Enable": _off,
        "Recovery.NotifyUserExistence": lambda f: f.tenant.settings.notify_user_existence,
        "Recovery.Notification.InternallyManage": lambda f: True,
        "Recovery.ExpiryTime": lambda f: _minutes(f.settings.recovery_code_lifetime),
        "Recovery.AutoLogin.Enable": _off,
    },
    "scim-me.mfa": {
        "TOTP.Enable": lambda f: True,
        "TOTP.Digits": lambda f: f.settings.totp_digits,
        "TOTP.Period": lambda f: f.settings.totp_period,
        "BackupCodes.Enable": lambda f: True,
        "BackupCodes.Count": lambda f: f.settings.backup_code_count,
        "MFA.AllowBasicAuthentication": lambda f: f.settings.mfa_allow_basic,
    },
}


def _text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class UnknownConnector(LookupError):
    """WSO2's IDG-50011: no connector has this name."""


class UnknownProperty(LookupError):
    """WSO2's IDG-50012: the connector has no such property."""


def preferences(
    tenant: TenantRecord, settings: Settings, connector: str, names: list[str] | None
) -> list[dict[str, str]]:
    """``[{"name", "value"}]`` for ``names`` of ``connector`` (every property when None), in the
    order asked. Names are matched exactly, as WSO2 does."""
    table = CONNECTORS.get(connector)
    if table is None:
        raise UnknownConnector(connector)
    facts = Facts(tenant, settings)
    wanted = list(table) if names is None else names
    answer = []
    for name in wanted:
        compute = table.get(name)
        if compute is None:
            raise UnknownProperty(name)
        answer.append({"name": name, "value": _text(compute(facts))})
    return answer

"""Settings: the only reader of the environment.

Precedence: explicit overrides (tests) > ``SCIM_ME_*`` environment variables > the TOML file named
by ``SCIM_ME_CONFIG`` (default ``instance/scim-me.toml`` in the checkout, if present) > defaults.
Defaults point at the checkout's ``instance/`` folder, so the CLI and ``make run`` share one
database and one key without flags.
"""

from __future__ import annotations

import base64
import ipaddress
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
from dataclasses import fields
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import TYPE_CHECKING
from typing import Any

if TYPE_CHECKING:
    from scim_me.core.passwords import HashParams

REPO_ROOT = Path(__file__).resolve().parent.parent
# In a checkout (make run, the CLI, the tests) the instance folder is the checkout's; an installed
# package has no checkout, so its defaults are relative to the working directory.
INSTANCE_DIR = (REPO_ROOT if (REPO_ROOT / "setup.cfg").is_file() else Path.cwd()) / "instance"
PREFIX = "SCIM_ME_"
# The schema files shipped in the package (setup.cfg maps it to the top-level schemas/ folder).
BUNDLED_SCHEMAS = "scim_me.bundled_schemas"


Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class ConfigError(RuntimeError):
    """The configuration is incomplete or invalid; the message says what to set."""


@dataclass(frozen=True)
class Settings:
    database_url: str = f"sqlite:///{INSTANCE_DIR / 'scim-me.db'}"
    base_url: str = "http://127.0.0.1:8080"
    # Empty: the schema files shipped with the package; a folder replaces them as a whole.
    schemas_dir: str = ""
    custom_schemas_dir: str = ""
    encryption_key: str = ""
    encryption_key_file: str = str(INSTANCE_DIR / "encryption.key")
    default_tenant: str = "carbon.super"
    resource_audience: str = "scim-me"
    access_token_lifetime: int = 3600
    refresh_token_lifetime: int = 86400
    # A grant's hard end, however often its refresh token rotates (RFC 9700 §4.14.2): 7 days.
    refresh_token_absolute_lifetime: int = 604800
    code_lifetime: int = 300
    # External issuers (resource-server mode): how long their JWKS is cached per worker, how often
    # an unknown kid may trigger a refetch, and the fetch timeout (seconds).
    external_jwks_cache_seconds: int = 300
    external_jwks_refresh_min_seconds: int = 30
    external_jwks_timeout: int = 5
    token_leeway: int = 30
    max_operations: int = 1000
    max_body_bytes: int = 1024 * 1024
    max_json_depth: int = 32
    # What one stored profile may hold (core/bounds.py): values per multi-valued attribute, bytes.
    max_values_per_attribute: int = 100
    max_profile_bytes: int = 64 * 1024
    password_min_length: int = 8
    password_max_length: int = 256
    # Extra blocklisted passwords, one a line, on top of the shipped list (auth/blocklist.py).
    password_blocklist_file: str = ""
    # Lockout (auth/login.py): after login_max_failures consecutive failures the account locks
    # for login_lock_seconds, doubling with each further failure up to login_max_lock_seconds;
    # login_hard_lock_failures consecutive failures lock it until `scim-me user unlock` (0 = never).
    login_max_failures: int = 5
    login_lock_seconds: int = 60
    login_max_lock_seconds: int = 900
    login_hard_lock_failures: int = 100
    # One client IP may fail this many password checks per window, across all accounts.
    login_ip_max_failures: int = 20
    login_ip_window_seconds: int = 60
    argon2_memory_kib: int = 65536
    argon2_time_cost: int = 3
    argon2_parallelism: int = 4
    db_busy_timeout_ms: int = 10000
    sqlite_synchronous: str = "full"
    patch_retries: int = 20
    tenant_cache_seconds: int = 5
    cors_allowed_origins: str = ""
    # Reverse proxies (IP addresses or networks, comma-separated) whose X-Forwarded-Proto and
    # X-Forwarded-For are honoured (web/proxies.py); from any other peer they are ignored.
    trusted_proxies: str = ""
    cors_max_age: int = 3600
    log_level: str = "INFO"
    # Outgoing mail (scim_me/notify/mail.py): "outbox" writes .eml files (embedded default),
    # "smtp" relays through smtp_host.
    mail_transport: str = "outbox"
    mail_from: str = "scim-me <no-reply@localhost>"
    mail_outbox_dir: str = str(INSTANCE_DIR / "outbox")
    mail_retries: int = 3
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 587
    smtp_security: str = "starttls"
    smtp_username: str = ""
    smtp_password: str = ""
    smtp_timeout: int = 10
    email_change_code_lifetime: int = 86400
    email_change_mails_per_hour: int = 5
    # Account recovery (services/recovery.py, docs/account-recovery.md). Lifetimes in seconds: the
    # recoveryCode/resendCode and the mailed code, the resetCode, a mailed reset link (forced reset).
    recovery_code_lifetime: int = 900
    recovery_reset_code_lifetime: int = 900
    recovery_link_lifetime: int = 86400
    recovery_otp_digits: int = 8
    # Mails (recover + resend) per account and per client IP within the window; then 429.
    recovery_sends_per_window: int = 5
    recovery_ip_sends_per_window: int = 20
    recovery_send_window_seconds: int = 3600
    # Wrong codes: per flow (then the flow is dead), per account and per IP within the window.
    recovery_max_attempts: int = 5
    recovery_account_attempts_per_window: int = 10
    recovery_ip_attempts_per_window: int = 30
    security_alert_window_days: int = 30
    # MFA (issue 4). RFC 6238 §5.2 defaults: 6 digits, SHA-1, 30 s. The issuer shown in
    # authenticator apps is the tenant's name unless totp_issuer is set.
    totp_digits: int = 6
    totp_algorithm: str = "SHA1"
    totp_period: int = 30
    totp_issuer: str = ""
    backup_code_count: int = 10
    backup_code_length: int = 10  # base32 characters, 5 bits each: 50 bits by default
    mfa_max_failures: int = 5  # wrong codes before the MFA lock (RFC 4226 §7.3)
    mfa_lock_seconds: int = 60  # first lock; doubles with every further failure
    mfa_lock_max_seconds: int = 900
    mfa_hard_lock_failures: int = 100  # consecutive wrong codes that lock MFA until an operator unlocks it
    mfa_signin_seconds: int = 300  # how long the sign-in page waits for the second factor
    # HTTP Basic on /scim2/Me proves only the password: for a user with MFA active it is refused
    # unless this is on (WSO2 allows it; My Account uses Basic to prove the current password).
    mfa_allow_basic: bool = False
    extra: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def load(cls, overrides: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None) -> Settings:
        """Build settings from defaults, the config file, the environment and ``overrides``."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        config_file = Path(env.get(PREFIX + "CONFIG", str(INSTANCE_DIR / "scim-me.toml")))
        if config_file.is_file():
            with config_file.open("rb") as handle:
                values.update(tomllib.load(handle))
        known = {f.name: f for f in fields(cls) if f.name != "extra"}
        for name, spec in known.items():
            raw = env.get(PREFIX + name.upper())
            if raw is not None:
                try:
                    values[name] = parse_setting(raw, spec.default, strict_bool=False)
                except SettingTextError as exc:
                    raise ConfigError(f"expected {exc.expected}, got {raw!r}") from exc
        values.update(overrides or {})
        origins = values.get("cors_allowed_origins")
        if isinstance(origins, (list, tuple)):
            # deployment.toml style: a list of origins
            values["cors_allowed_origins"] = ",".join(str(o) for o in origins)
        elif origins is not None and not isinstance(origins, str):
            raise ConfigError("cors_allowed_origins must be a list or a comma-separated string")
        proxies = values.get("trusted_proxies")
        if isinstance(proxies, (list, tuple)):
            values["trusted_proxies"] = ",".join(str(p) for p in proxies)
        elif proxies is not None and not isinstance(proxies, str):
            raise ConfigError("trusted_proxies must be a list or a comma-separated string")
        unknown = {k: v for k, v in values.items() if k not in known}
        settings = cls(**{k: v for k, v in values.items() if k in known}, extra=unknown)
        settings.validate()
        return settings

    def trusted_proxy_networks(self) -> tuple[Network, ...]:
        """``trusted_proxies`` (``10.0.0.1, 192.168.0.0/24, ::1``) as networks."""
        networks = []
        for entry in (part.strip() for part in self.trusted_proxies.split(",")):
            if entry:
                try:
                    networks.append(ipaddress.ip_network(entry, strict=False))
                except ValueError as exc:
                    raise ConfigError(f"trusted_proxies: {entry!r} is not an IP address or network") from exc
        return tuple(networks)

    def validate(self) -> None:
        self.trusted_proxy_networks()
        if self.password_min_length < 1 or not self.password_min_length <= self.password_max_length <= 1024:
            raise ConfigError("password_min_length must be >= 1 and <= password_max_length (at most 1024)")
        if self.login_max_failures < 1 or self.login_lock_seconds < 1 or self.login_max_lock_seconds < 1:
            raise ConfigError("login_max_failures, login_lock_seconds and login_max_lock_seconds must be >= 1")
        if self.login_ip_max_failures < 1 or self.login_ip_window_seconds < 1 or self.login_hard_lock_failures < 0:
            raise ConfigError("login_ip_max_failures and login_ip_window_seconds must be >= 1")
        if self.max_operations < 1 or self.max_body_bytes < 1024:
            raise ConfigError("max_operations must be >= 1 and max_body_bytes >= 1024")
        if self.max_values_per_attribute < 1 or self.max_profile_bytes < 1024:
            raise ConfigError("max_values_per_attribute must be >= 1 and max_profile_bytes >= 1024")
        if self.sqlite_synchronous not in ("full", "normal"):
            raise ConfigError("sqlite_synchronous must be 'full' or 'normal'")
        if not 1 <= self.backup_code_count <= 100 or not 4 <= self.backup_code_length <= 64:
            # 4 base32 characters are 20 bits, ASVS 6.5.4's floor for lookup secrets.
            raise ConfigError("backup_code_count must be 1..100 and backup_code_length 4..64")
        if self.mfa_hard_lock_failures <= self.mfa_max_failures:
            raise ConfigError("mfa_hard_lock_failures must be greater than mfa_max_failures")
        if self.mfa_max_failures < 1 or self.mfa_lock_seconds < 1 or self.mfa_lock_max_seconds < self.mfa_lock_seconds:
            raise ConfigError(
                "mfa_max_failures and mfa_lock_seconds must be >= 1, mfa_lock_max_seconds >= mfa_lock_seconds"
            )
        from scim_me.core.otp import TotpPolicy

        try:
            TotpPolicy(self.totp_digits, self.totp_algorithm, self.totp_period)
        except ValueError as exc:
            raise ConfigError(str(exc)) from exc
        if self.refresh_token_absolute_lifetime < 1 or self.refresh_token_lifetime < 1:
            raise ConfigError("refresh_token_lifetime and refresh_token_absolute_lifetime must be >= 1 second")
        if not self.database_url.startswith(("sqlite:", "postgres:", "postgresql:")):
            raise ConfigError("database_url must be sqlite:///PATH or postgresql://...")
        if self.mail_transport not in ("outbox", "smtp"):
            raise ConfigError("mail_transport must be 'outbox' or 'smtp'")
        if self.smtp_security not in ("none", "starttls", "tls"):
            raise ConfigError("smtp_security must be 'none', 'starttls' or 'tls'")
        if self.mail_transport == "smtp" and self.smtp_username and self.smtp_security == "none":
            # AUTH PLAIN/LOGIN over a clear connection would hand the relay password to the network.
            raise ConfigError("smtp_username needs smtp_security 'starttls' or 'tls'")
        recovery_numbers = (
            self.recovery_sends_per_window,
            self.recovery_ip_sends_per_window,
            self.recovery_send_window_seconds,
            self.recovery_max_attempts,
            self.recovery_account_attempts_per_window,
            self.recovery_ip_attempts_per_window,
        )
        if min(recovery_numbers) < 1 or not 6 <= self.recovery_otp_digits <= 10:
            raise ConfigError("recovery_* limits must be >= 1 and recovery_otp_digits between 6 and 10")
        if min(self.recovery_code_lifetime, self.recovery_reset_code_lifetime, self.recovery_link_lifetime) < 60:
            raise ConfigError("recovery_*_lifetime must be at least 60 seconds")
        if self.email_change_mails_per_hour < 1:
            raise ConfigError("email_change_mails_per_hour must be >= 1")
        if self.email_change_code_lifetime < 60 or self.mail_retries < 1 or self.smtp_timeout < 1:
            raise ConfigError("email_change_code_lifetime >= 60, mail_retries >= 1 and smtp_timeout >= 1 are required")

    def schema_source(self) -> Traversable:
        """Where the User schemas are read: ``schemas_dir`` if set, else the shipped files."""
        if self.schemas_dir:
            return Path(self.schemas_dir)
        try:
            return resources.files(BUNDLED_SCHEMAS)
        except ModuleNotFoundError as exc:
            # An editable install made before the schemas became package data maps no such package.
            raise ConfigError(
                f"the shipped schemas ({BUNDLED_SCHEMAS}) are not installed: run `make install` (or set schemas_dir)"
            ) from exc

    def custom_schema_source(self) -> Traversable:
        """Where the per-tenant custom attribute files (``{tenant}.json``) are read."""
        if self.custom_schemas_dir:
            return Path(self.custom_schemas_dir)
        return self.schema_source() / "custom"

    def hash_params(self) -> HashParams:
        """The argon2id cost parameters every password hash and verification uses."""
        from scim_me.core.passwords import HashParams

        return HashParams(self.argon2_memory_kib, self.argon2_time_cost, self.argon2_parallelism)

    def master_key(self) -> bytes:
        """Return the 32-byte key that encrypts secrets at rest; fail with a clear message."""
        text = self.encryption_key
        if not text:
            path = Path(self.encryption_key_file)
            if not path.is_file():
                raise ConfigError(
                    f"No encryption key: set SCIM_ME_ENCRYPTION_KEY or create {path} "
                    "(`scim-me keys init` writes a new one)."
                )
            text = path.read_text(encoding="ascii").strip()
        try:
            key = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        except ValueError as exc:
            raise ConfigError("The encryption key must be 32 bytes, base64url-encoded.") from exc
        if len(key) != 32:
            raise ConfigError("The encryption key must be 32 bytes, base64url-encoded.")
        return key


TRUE_WORDS = ("1", "true", "yes", "on")
FALSE_WORDS = ("0", "false", "no", "off")


class SettingTextError(ValueError):
    """A setting's text is not of the setting's type; ``expected`` says what is (``an integer``)."""

    def __init__(self, expected: str) -> None:
        super().__init__(expected)
        self.expected = expected


def parse_setting(raw: str, default: Any, *, strict_bool: bool = True) -> Any:
    """``raw`` (an environment variable, a CLI ``KEY=VALUE``) as a value of the type of the
    setting's ``default``: a bool from the words in TRUE_WORDS / FALSE_WORDS (any case), an int,
    or the text itself. ``strict_bool=False`` reads any other word as false, as the environment
    always has. Raises :class:`SettingTextError`."""
    if isinstance(default, bool):
        word = raw.strip().lower()
        if strict_bool and word not in TRUE_WORDS + FALSE_WORDS:
            raise SettingTextError("true or false")
        return word in TRUE_WORDS
    if isinstance(default, int):
        try:
            return int(raw)
        except ValueError as exc:
            raise SettingTextError("an integer") from exc
    return raw


def new_master_key() -> str:
    """Return a fresh base64url master key for ``instance/encryption.key``."""
    return base64.urlsafe_b64encode(os.urandom(32)).decode("ascii").rstrip("=")

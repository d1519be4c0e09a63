"""Settings: the only reader of the environment.

Precedence: explicit overrides (tests) > ``SCIM_ME_*`` environment variables > the TOML file named
by ``SCIM_ME_CONFIG`` (default ``instance/scim-me.toml`` in the checkout, if present; empty: no
file) > defaults. Mistakes stop the load with one line naming the key (``Settings.load``); the
reference, docs/configuration.md, is generated from the class below (``make config-docs``).
Defaults point at the checkout's ``instance/`` folder, so the CLI and ``make run`` share one
database and one key without flags.
"""

from __future__ import annotations

import base64
import difflib
import ipaddress
import json
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
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
    """Every setting. The comment right above a field (or at the end of its line) is its entry in
    docs/configuration.md, and a ``# -- Title`` line starts a section there: after adding or
    changing a setting, run ``make config-docs`` (tests/test_config_docs.py checks it is current)."""

    # -- Server
    # `sqlite:///PATH` or `postgresql://user@host:port/db`; a PostgreSQL on the same machine through its
    # Unix socket as libpq writes it, `postgresql://user@/db?host=/var/run/postgresql`. Query
    # parameters are libpq's (`sslmode`, `options`, ...).
    database_url: str = f"sqlite:///{INSTANCE_DIR / 'scim-me.db'}"
    # Public base URL: token issuers (`{base_url}/oauth2/token`), `Location` headers, mail links. `make run`
    # writes it to the instance config, so the CLI mints tokens for the port that is served.
    base_url: str = "http://127.0.0.1:8080"
    # Tenant served on bare paths (WSO2's super tenant).
    default_tenant: str = "carbon.super"
    # Folder of User schema files replacing the shipped ones as a whole; empty: the files shipped in the
    # package (the checkout's `schemas/`).
    schemas_dir: str = ""
    # Folder of per-tenant custom attribute files (`{tenant}.json`); empty: `custom/` of the schemas.
    custom_schemas_dir: str = ""
    # Comma-separated origins allowed (CORS) for every tenant (TOML: a list).
    cors_allowed_origins: str = ""
    # Preflight cache lifetime, seconds.
    cors_max_age: int = 3600
    # Reverse proxies (IP addresses or networks, comma-separated; TOML: a list) whose X-Forwarded-Proto
    # (https: cookies get `Secure`) and X-Forwarded-For (the client address per-IP limits and security
    # events use) are honoured (web/proxies.py); from any other peer both are ignored.
    trusted_proxies: str = ""
    # Python logging level: DEBUG, INFO, WARNING, ERROR, CRITICAL. authlib and peewee log at INFO at
    # most whatever it says: at DEBUG they would log issued tokens and statements' parameters.
    log_level: str = "INFO"
    # How long a worker caches a tenant record, seconds (tenant settings changed with the CLI apply after this).
    tenant_cache_seconds: int = 5

    # -- Operations
    # `text`: plain log lines; `json`: one JSON object a line, and an access line per request with its
    # traceId, tenant, route template, status and latency (never a header, query string or body).
    log_format: str = "text"
    # Bearer token Prometheus must send to scrape `/metrics`; empty: no `/metrics` (404) and nothing is
    # counted. With several gunicorn workers, set PROMETHEUS_MULTIPROC_DIR (docs/operations.md).
    metrics_token: str = ""
    # How often each gunicorn worker prunes expired codes, tokens, grants, ended sessions and idle
    # throttle rows (storage/maintenance.py, with scim_me.gunicorn_conf), seconds; 0: never (run
    # `scim-me maintenance prune` from cron instead).
    maintenance_interval_seconds: int = 3600

    # -- Secrets at rest
    # 32-byte base64url master key that encrypts secrets at rest (signing keys, TOTP secrets).
    encryption_key: str = ""
    # File holding the master key when `encryption_key` is empty (`scim-me keys init` writes it, 0600).
    encryption_key_file: str = str(INSTANCE_DIR / "encryption.key")

    # -- Tokens
    # Audience an access token must carry.
    resource_audience: str = "scim-me"
    # Access token lifetime, seconds (WSO2's default).
    access_token_lifetime: int = 3600
    # Refresh token lifetime, seconds (WSO2's default).
    refresh_token_lifetime: int = 86400
    # A grant's hard end, however often its refresh token rotates (RFC 9700 §4.14.2), seconds: 7 days.
    refresh_token_absolute_lifetime: int = 604800
    # Authorization code lifetime, seconds (WSO2's default); codes are single use.
    code_lifetime: int = 300
    # External issuers (resource-server mode): how long a worker caches their JWKS, seconds.
    external_jwks_cache_seconds: int = 300
    # Least time between JWKS refetches an unknown `kid` may trigger, seconds.
    external_jwks_refresh_min_seconds: int = 30
    # External JWKS fetch timeout, seconds.
    external_jwks_timeout: int = 5
    # Clock skew allowed on `exp` / `nbf`, seconds.
    token_leeway: int = 30

    # -- Request limits
    # PatchOp operations per request (more: 400 `tooMany`).
    max_operations: int = 1000
    # Request body limit, bytes (more: 413).
    max_body_bytes: int = 1024 * 1024
    # JSON nesting limit (more: 400 `invalidSyntax`).
    max_json_depth: int = 32
    # Values one multi-valued attribute may hold after a write (core/bounds.py; more: 400 `invalidValue`).
    max_values_per_attribute: int = 100
    # A user's stored profile as compact JSON, bytes (more: 400 `invalidValue`, nothing stored).
    max_profile_bytes: int = 64 * 1024
    # Largest page of a list or search (RFC 7644 §3.4.2.4: a larger `count` gets this many);
    # /ServiceProviderConfig advertises it (`filter.maxResults`, RFC 9865 `pagination.maxPageSize`).
    max_page_size: int = 200
    # Page size of a list or search that names no `count` (at most `max_page_size`).
    default_page_size: int = 100

    # -- Passwords and lockout
    # Least password length in code points (NFKC), never truncated.
    password_min_length: int = 8
    # Greatest password length in code points (at most 1024).
    password_max_length: int = 256
    # Extra blocklisted passwords, one a line, on top of the shipped list (auth/blocklist.py).
    password_blocklist_file: str = ""
    # Consecutive failed password checks that lock the account (auth/login.py).
    login_max_failures: int = 5
    # The first lock, seconds; it doubles with each further failure.
    login_lock_seconds: int = 60
    # The longest lock, seconds.
    login_max_lock_seconds: int = 900
    # Consecutive failures that lock the account until `scim-me user unlock` (0: never).
    login_hard_lock_failures: int = 100
    # Failed password checks one client IP may make per window, across all accounts.
    login_ip_max_failures: int = 20
    # That window, seconds.
    login_ip_window_seconds: int = 60
    # argon2id memory cost, KiB.
    argon2_memory_kib: int = 65536
    # argon2id time cost (iterations).
    argon2_time_cost: int = 3
    # argon2id parallelism (lanes).
    argon2_parallelism: int = 4
    # Password hashes and checks one process runs at once. Each holds `argon2_memory_kib`, so a
    # process never needs more than this many times that, whatever the worker class (a sync
    # worker runs one at a time anyway); more wait for a turn.
    password_hash_concurrency: int = 2
    # How long a password check waits for its turn, milliseconds; then 503 with `Retry-After`
    # (counted as no attempt: the account's and the IP's failure counters are not touched).
    password_hash_wait_ms: int = 5000

    # -- Database
    # SQLite busy timeout, milliseconds; a still-locked database answers 503 + `Retry-After`.
    db_busy_timeout_ms: int = 10000
    # `full`: every acknowledged write survives power loss (the WAL is fdatasync'ed before the
    # answer, after the write lock is released: a group commit, storage/db.py); `normal`: no fsync
    # before answering, survives a crash of the process, not of the machine.
    sqlite_synchronous: str = "full"
    # Time budget of each statement, milliseconds (0: none): a request whose statement runs
    # longer (a filter and sort that read the whole tenant) is stopped and answers 400
    # `tooMany`, so no request holds a worker for long. PostgreSQL: the session's
    # `statement_timeout` (behind a transaction pooler, set it on the role instead); migration
    # steps run without it.
    db_statement_timeout_ms: int = 5000
    # PostgreSQL reached through a transaction-pooling PgBouncer: keep no state on a server
    # connection between transactions (no SQL `PREPARE`, no session advisory lock). Statements
    # are then planned on every execution (docs/deployment.md).
    postgres_transaction_pooling: bool = False
    # Compare-and-set retries for writes without `If-Match`.
    patch_retries: int = 20

    # -- Mail
    # `outbox` writes one `.eml` file per message into `mail_outbox_dir` (embedded default); `smtp`
    # relays through `smtp_host` (docs/mail.md).
    mail_transport: str = "outbox"
    # The From header of every mail.
    mail_from: str = "scim-me <no-reply@localhost>"
    # Folder of the `outbox` transport.
    mail_outbox_dir: str = str(INSTANCE_DIR / "outbox")
    # Delivery attempts per mail before it is given up.
    mail_retries: int = 3
    # Pause after the first failed attempt, seconds; it doubles with each further one.
    mail_backoff_seconds: int = 1
    # How often each worker's sender looks for mail queued by other processes or due for a retry, seconds.
    mail_poll_seconds: int = 5
    # SMTP relay host.
    smtp_host: str = "127.0.0.1"
    # SMTP relay port.
    smtp_port: int = 587
    # `starttls`, `tls` (implicit) or `none` (only without credentials).
    smtp_security: str = "starttls"
    # SMTP AUTH user name; empty: no AUTH.
    smtp_username: str = ""
    # SMTP AUTH password (never logged).
    smtp_password: str = ""
    # SMTP connect and command timeout, seconds.
    smtp_timeout: int = 10

    # -- E-mail change and security alerts
    # How long a mailed e-mail change code is valid, seconds (at least 60).
    email_change_code_lifetime: int = 86400
    # Verification mails one user may trigger per hour.
    email_change_mails_per_hour: int = 5
    # How far back the security overview counts alert-kind events (`alerts.recent`), days.
    security_alert_window_days: int = 30
    # Failed password checks of one account in a row (the lockout counter: a successful check starts it
    # afresh) whose last raises one `failed_signins` alert (docs/security-alerts.md); 0: no such alert.
    alert_failed_signins: int = 3
    # Raise a `new_network` alert for a sign-in from an address outside every network (IPv4 /24, IPv6 /48)
    # of the account's earlier sign-ins. Off by default: mobile and home addresses change often, and an
    # alert nobody needs teaches users to ignore alerts.
    alert_new_network: bool = False
    # How long the "this wasn't me" link of a new-device notice works, hours.
    alert_not_me_link_hours: int = 168

    # -- Account recovery
    # Lifetime of the recoveryCode/resendCode and the mailed code, seconds (services/recovery.py,
    # docs/account-recovery.md).
    recovery_code_lifetime: int = 900
    # Lifetime of a resetCode, seconds.
    recovery_reset_code_lifetime: int = 900
    # Lifetime of a mailed link: a forced reset's, an invitation's, a new account's e-mail
    # confirmation (verifyEmail, self-registration), seconds.
    recovery_link_lifetime: int = 86400
    # Digits of a mailed recovery code.
    recovery_otp_digits: int = 8
    # Mails per account within the window (password recover + resend, resend of a new account's
    # confirmation code); then 429.
    recovery_sends_per_window: int = 5
    # Mails per client IP within the window (recovery, resend-code), each anonymous
    # self-registration counted as one (docs/self-registration.md); then 429.
    recovery_ip_sends_per_window: int = 20
    # Mails to one address nobody has confirmed yet, within the window, whoever asks and for
    # whichever account: a new account's confirmation (self-registration, resend-code) and an
    # e-mail change's verification (docs/self-registration.md); then 429, or no mail where the
    # answer must not tell (resend-code).
    recovery_address_sends_per_window: int = 10
    # Recoveries one client IP may start (init) within the window; then 429.
    recovery_ip_inits_per_window: int = 100
    # The window for recovery mails, seconds.
    recovery_send_window_seconds: int = 3600
    # Wrong codes per recovery flow; then the flow is dead.
    recovery_max_attempts: int = 5
    # Wrong codes per account within the window.
    recovery_account_attempts_per_window: int = 10
    # Wrong codes per client IP within the window.
    recovery_ip_attempts_per_window: int = 30

    # -- MFA
    # TOTP code length (RFC 6238 §5.2 default 6; 7-8 go into the otpauth URI).
    totp_digits: int = 6
    # TOTP HMAC: SHA1 (default), SHA256 or SHA512.
    totp_algorithm: str = "SHA1"
    # TOTP time step, seconds.
    totp_period: int = 30
    # Issuer shown in authenticator apps; empty: the tenant's name.
    totp_issuer: str = ""
    # Backup codes per set.
    backup_code_count: int = 10
    # Characters per backup code (base32, 5 bits each: 50 bits by default; at least 4).
    backup_code_length: int = 10
    # Wrong codes before the MFA lock (RFC 4226 §7.3).
    mfa_max_failures: int = 5
    # First MFA lock, seconds; doubles with every further wrong code.
    mfa_lock_seconds: int = 60
    # Longest MFA lock, seconds.
    mfa_lock_max_seconds: int = 900
    # Consecutive wrong codes that lock MFA until `scim-me user mfa-unlock`.
    mfa_hard_lock_failures: int = 100
    # How long the sign-in page waits for the second factor, seconds.
    mfa_signin_seconds: int = 300
    # Accept HTTP Basic on /scim2/Me for users with MFA active (WSO2 does; off, a password alone
    # cannot read or change such an account).
    mfa_allow_basic: bool = False

    # -- Passkeys
    # WebAuthn relying-party id: a domain that every origin passkeys are used from ends with (the
    # sign-in page's and the apps' registering them); empty: the host of `base_url`. Browsers refuse
    # IP addresses, so serve passkeys from a name (`localhost` in development).
    passkey_rp_id: str = ""
    # Relying-party name shown by authenticators; empty: the tenant's name.
    passkey_rp_name: str = ""
    # How long a registration or sign-in ceremony (its challenge) stays usable, seconds.
    passkey_timeout_seconds: int = 300

    @classmethod
    def load(cls, overrides: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None) -> Settings:
        """Build settings from defaults, the config file, the environment and ``overrides``.

        Every mistake stops the load with a one-line :class:`ConfigError` naming the key or the
        variable: an unknown key or ``SCIM_ME_*`` variable (with the nearest valid name), a value
        of the wrong type, invalid TOML (with its position), a config file named by
        ``SCIM_ME_CONFIG`` that does not exist (empty ``SCIM_ME_CONFIG``: no file)."""
        env = os.environ if environ is None else environ
        known = {f.name: f for f in fields(cls)}
        values: dict[str, Any] = _read_config_file(env)
        unknown_vars = sorted(
            key
            for key in env
            if key.startswith(PREFIX) and _is_setting_variable(key) and key[len(PREFIX) :].lower() not in known
        )
        if unknown_vars:
            names = [PREFIX + name.upper() for name in known]
            raise ConfigError(_unknown("environment variable", unknown_vars, names))
        for name, spec in known.items():
            raw = env.get(PREFIX + name.upper())
            if raw is not None:
                try:
                    values[name] = parse_setting(raw, spec.default)
                except SettingTextError as exc:
                    raise ConfigError(f"{PREFIX + name.upper()}: expected {exc.expected}, got {raw!r}") from exc
        unknown_overrides = sorted(set(overrides or {}) - set(known))
        if unknown_overrides:
            raise ConfigError(_unknown("setting", unknown_overrides, list(known)))
        values.update(overrides or {})
        for name in LIST_SETTINGS:
            if isinstance(values.get(name), (list, tuple)):
                # deployment.toml style: a list of origins / proxies
                values[name] = ",".join(str(item) for item in values[name])
        for name, value in values.items():
            _check_type(name, value, known[name].default)
        settings = cls(**values)
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
        if self.log_format not in ("text", "json"):
            raise ConfigError("log_format must be 'text' or 'json'")
        if self.mail_backoff_seconds < 0 or self.mail_poll_seconds < 1:
            raise ConfigError("mail_backoff_seconds must be >= 0 and mail_poll_seconds >= 1")
        if self.alert_failed_signins < 0:
            raise ConfigError("alert_failed_signins must be >= 0")
        if self.alert_not_me_link_hours < 1:
            raise ConfigError("alert_not_me_link_hours must be >= 1")
        if self.maintenance_interval_seconds < 0:
            raise ConfigError("maintenance_interval_seconds must be >= 0 (0: no periodic pruning)")
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
        if not 1 <= self.default_page_size <= self.max_page_size:
            raise ConfigError("default_page_size must be >= 1 and at most max_page_size")
        if self.password_hash_concurrency < 1 or self.password_hash_wait_ms < 0:
            raise ConfigError("password_hash_concurrency must be >= 1 and password_hash_wait_ms >= 0")
        if self.log_level.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
            raise ConfigError("log_level must be DEBUG, INFO, WARNING, ERROR or CRITICAL")
        if self.db_statement_timeout_ms < 0:
            raise ConfigError("db_statement_timeout_ms must be >= 0 (0: no budget)")
        if self.sqlite_synchronous not in ("full", "normal"):
            raise ConfigError("sqlite_synchronous must be 'full' or 'normal'")
        if not 1 <= self.backup_code_count <= 100 or not 4 <= self.backup_code_length <= 64:
            # 4 base32 characters are 20 bits, ASVS 6.5.4's floor for lookup secrets.
            raise ConfigError("backup_code_count must be 1..100 and backup_code_length 4..64")
        if not 30 <= self.passkey_timeout_seconds <= 3600:
            raise ConfigError("passkey_timeout_seconds must be 30..3600")
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
            self.recovery_address_sends_per_window,
            self.recovery_ip_inits_per_window,
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

    def database_options(self) -> dict[str, Any]:
        """The keyword arguments of storage.db.open_database for this configuration."""
        return {
            "busy_timeout_ms": self.db_busy_timeout_ms,
            "synchronous": self.sqlite_synchronous,
            "transaction_pooling": self.postgres_transaction_pooling,
            "statement_timeout_ms": self.db_statement_timeout_ms,
        }

    def hash_params(self) -> HashParams:
        """The argon2id cost parameters every password hash and verification uses."""
        from scim_me.core.passwords import HashParams

        return HashParams(
            self.argon2_memory_kib,
            self.argon2_time_cost,
            self.argon2_parallelism,
            concurrency=self.password_hash_concurrency,
            wait_seconds=self.password_hash_wait_ms / 1000,
        )

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


# Settings a TOML file may give as a list; they are comma-separated text everywhere else.
LIST_SETTINGS = ("cors_allowed_origins", "trusted_proxies")
# SCIM_ME_* variables that are not settings: the config file's name, and the test suite's and the
# benchmark's own switches (SCIM_ME_TEST_POSTGRES_URL, SCIM_ME_BENCH_...), which reach the servers
# they start.
NOT_SETTINGS = (PREFIX + "CONFIG",)
OTHER_PREFIXES = (PREFIX + "TEST_", PREFIX + "BENCH_")
DEFAULT_CONFIG_FILE = INSTANCE_DIR / "scim-me.toml"


def config_file_path(environ: Mapping[str, str] | None = None) -> Path | None:
    """The config file to read: ``SCIM_ME_CONFIG`` (empty: none), else ``instance/scim-me.toml``."""
    named = (os.environ if environ is None else environ).get(PREFIX + "CONFIG")
    if named is None:
        return DEFAULT_CONFIG_FILE
    return Path(named) if named else None


def write_setting(path: Path, key: str, text: str) -> Any:
    """Set ``key`` to ``text`` (converted to the setting's type) in the TOML file ``path``, keeping
    its other lines; create the file (0600: it may hold secrets) if needed. Returns the value."""
    known = {f.name: f.default for f in fields(Settings)}
    if key not in known:
        raise ConfigError(_unknown("setting", [key], list(known)))
    try:
        value = parse_setting(text, known[key])
    except SettingTextError as exc:
        raise ConfigError(f"{key}: expected {exc.expected}, got {text!r}") from exc
    literal = ("true" if value else "false") if isinstance(value, bool) else str(value)
    if isinstance(value, str):
        literal = json.dumps(value)  # a JSON string is a TOML basic string
    lines = path.read_text(encoding="utf-8").splitlines() if path.is_file() else []
    entry = f"{key} = {literal}"
    for index, line in enumerate(lines):
        if line.split("=", 1)[0].strip() == key:
            lines[index] = entry
            break
        if line.lstrip().startswith("["):  # keys after a table header belong to the table
            lines.insert(index, entry)
            break
    else:
        lines.append(entry)
    content = "\n".join(lines) + "\n"
    try:
        tomllib.loads(content)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from exc
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    scratch = path.with_name(path.name + ".tmp")
    fd = os.open(scratch, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(content)
    os.replace(scratch, path)
    return value


def prometheus_multiproc_dir() -> str:
    """prometheus-client's own variable: where gunicorn workers share their metric files."""
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR", "")


def _is_setting_variable(key: str) -> bool:
    return key not in NOT_SETTINGS and not key.startswith(OTHER_PREFIXES)


def _read_config_file(environ: Mapping[str, str]) -> dict[str, Any]:
    path = config_file_path(environ)
    if path is None:
        return {}
    if not path.is_file():
        if PREFIX + "CONFIG" in environ:
            # Named explicitly: a typo in the path must not start a server on the defaults.
            raise ConfigError(f"SCIM_ME_CONFIG names {path}, which does not exist (empty SCIM_ME_CONFIG: no file)")
        return {}
    try:
        with path.open("rb") as handle:
            values = tomllib.load(handle)
    except tomllib.TOMLDecodeError as exc:
        # tomllib's message ends with "(at line L, column C)".
        raise ConfigError(f"{path}: invalid TOML: {exc}") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from exc
    known = [f.name for f in fields(Settings)]
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise ConfigError(f"{path}: " + _unknown("setting", unknown, known))
    return values


def _unknown(kind: str, names: list[str], valid: list[str]) -> str:
    """``unknown setting bse_url (did you mean base_url?)``: one line for all of them."""
    described = []
    for name in names:
        close = difflib.get_close_matches(name, valid, n=1, cutoff=0.6)
        described.append(f"{name} (did you mean {close[0]}?)" if close else name)
    plural = "s" if len(names) > 1 else ""
    return f"unknown {kind}{plural} " + ", ".join(described)


def _check_type(name: str, value: Any, default: Any) -> None:
    """A value from TOML or overrides must have the type of the setting's default."""
    if isinstance(default, bool):
        ok, expected = isinstance(value, bool), "true or false"
    elif isinstance(default, int):
        ok, expected = isinstance(value, int) and not isinstance(value, bool), "an integer"
    else:
        ok, expected = isinstance(value, str), "a string" + (" or a list" if name in LIST_SETTINGS else "")
    if not ok:
        raise ConfigError(f"{name}: expected {expected}, got {value!r}")


TRUE_WORDS = ("1", "true", "yes", "on")
FALSE_WORDS = ("0", "false", "no", "off")


class SettingTextError(ValueError):
    """A setting's text is not of the setting's type; ``expected`` says what is (``an integer``)."""

    def __init__(self, expected: str) -> None:
        super().__init__(expected)
        self.expected = expected


def parse_setting(raw: str, default: Any) -> Any:
    """``raw`` (an environment variable, a CLI ``KEY=VALUE``) as a value of the type of the
    setting's ``default``: a bool from the words in TRUE_WORDS / FALSE_WORDS (any case; any
    other word is a mistake, not false: ``SCIM_ME_MFA_ALLOW_BASIC=enabled`` must not read as
    off), an int, or the text itself. Raises :class:`SettingTextError`."""
    if isinstance(default, bool):
        word = raw.strip().lower()
        if word not in TRUE_WORDS + FALSE_WORDS:
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

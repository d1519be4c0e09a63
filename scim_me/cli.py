"""The ``scim-me`` operator CLI. With no flags it uses the same configuration and database as
``make run`` (the checkout's ``instance/`` folder), so scripts can rely on these exact forms:

    scim-me db upgrade
    scim-me tenant create NAME [--dialect wso2|rfc]
    scim-me tenant list
    scim-me user create --tenant NAME --username U --password P
    scim-me user list|set-password|unlock|delete ...
    scim-me token --tenant NAME --user U [--scope "openid internal_login"]
    scim-me tenant issuer add|remove|list|local-tokens ... (external issuers)
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING
from typing import Any

import click

from scim_me.config import ConfigError
from scim_me.config import Settings
from scim_me.config import SettingTextError
from scim_me.config import config_file_path
from scim_me.config import new_master_key
from scim_me.config import parse_setting
from scim_me.config import write_setting

if TYPE_CHECKING:  # storage is imported inside the commands, as everywhere in this module
    from scim_me.storage.tenants import TenantRecord
    from scim_me.storage.users import StoredUser


def _settings() -> Settings:
    try:
        return Settings.load()
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc


@contextmanager
def _database(settings: Settings) -> Iterator[Any]:
    from scim_me.storage.db import database_proxy
    from scim_me.storage.db import make_private_directory
    from scim_me.storage.db import open_database

    if settings.database_url.startswith("sqlite:"):
        from urllib.parse import urlparse

        make_private_directory(Path(urlparse(settings.database_url).path).parent)
    db: Any = open_database(settings.database_url, **settings.database_options())
    database_proxy.initialize(db)
    with db.connection_context():
        yield db
    db.close_all()


def _master_key(settings: Settings) -> bytes:
    try:
        return settings.master_key()
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc


def _tenant(name: str) -> Any:
    from scim_me.storage.tenants import find_tenant

    tenant = find_tenant(name)
    if tenant is None:
        raise click.ClickException(f"no tenant {name!r} (create it with `scim-me tenant create {name}`)")
    return tenant


def _target_user(settings: Settings, tenant_name: str | None, username: str) -> tuple[TenantRecord, StoredUser]:
    """The tenant (``--tenant``, else the default one) and its user ``username``: what every
    command that acts on one user starts from. Fails with the CLI's message when either is missing."""
    from scim_me.storage.users import find_user

    record = _tenant(tenant_name or settings.default_tenant)
    found = find_user(record.id, username)
    if found is None:
        raise click.ClickException(f"no user {username!r} in tenant {record.name}")
    return record, found


@click.group()
def main() -> None:
    """Operate a scim-me server: database, tenants, users, tokens."""
    # Security notices (e.g. a password the operator resets) are mailed from the CLI too.
    from scim_me.notify import notices
    from scim_me.services import alerts
    from scim_me.services import devices

    notices.register()
    alerts.register()  # an operator's password reset or MFA reset raises the user's alert too
    devices.register()  # ... and revokes the user's trusted devices


@main.group()
def maintenance() -> None:
    """Housekeeping of the database."""


@maintenance.command("prune")
def maintenance_prune() -> None:
    """Delete expired codes, tokens, grants, ended sessions, stale e-mail changes and idle
    throttle rows (safe while serving, and on several instances at once)."""
    from scim_me.storage.maintenance import prune

    settings = _settings()
    with _database(settings):
        counts = prune(
            leeway_seconds=settings.token_leeway, absolute_lifetime_seconds=settings.refresh_token_absolute_lifetime
        )
    if counts is None:
        click.echo("another instance is pruning right now; nothing done")
        return
    click.echo(", ".join(f"{name} {count}" for name, count in counts.items()))


@main.group("config")
def config_group() -> None:
    """The TOML config file (``SCIM_ME_CONFIG``, default ``instance/scim-me.toml``)."""


@config_group.command("set")
@click.argument("key")
@click.argument("value")
def config_set(key: str, value: str) -> None:
    """Set KEY (a setting's lower-case name) to VALUE in the config file."""
    path = config_file_path()
    if path is None:
        raise click.ClickException("SCIM_ME_CONFIG is empty: there is no config file to write")
    try:
        write_setting(path, key, value)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"{path}: {key} set")


@config_group.command("check")
def config_check() -> None:
    """Load the configuration as the server does; one line says what is wrong, if anything."""
    _settings()
    path = config_file_path()
    click.echo(f"configuration valid ({path if path is not None and path.is_file() else 'no config file'})")


@main.group()
def keys() -> None:
    """The master key that encrypts secrets at rest."""


@keys.command("init")
def keys_init() -> None:
    """Write a new master key to the configured key file, unless one is configured already."""
    settings = _settings()
    if settings.encryption_key:
        click.echo("SCIM_ME_ENCRYPTION_KEY is set; nothing to do.")
        return
    path = Path(settings.encryption_key_file)
    if path.exists():
        click.echo(f"{path} exists; keeping it.")
        return
    from scim_me.storage.db import make_private_directory

    make_private_directory(path.parent)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(new_master_key() + "\n")
    click.echo(f"wrote a new master key to {path}")


@main.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Apply pending migrations and make sure the default tenant exists."""
    from scim_me.storage.migrations import LATEST
    from scim_me.storage.migrations import upgrade

    settings = _settings()
    key = _master_key(settings)
    with _database(settings) as database:
        applied = upgrade(database)
        _ensure_tenant(settings.default_tenant, "wso2", key)
    click.echo(f"database at version {LATEST}" + (f" (applied {applied})" if applied else " (up to date)"))


def _ensure_tenant(name: str, dialect: str, key: bytes, **settings: Any) -> Any:
    from scim_me.auth.keys import create_signing_key
    from scim_me.storage.db import database_proxy
    from scim_me.storage.tenants import TenantError
    from scim_me.storage.tenants import TenantSettings
    from scim_me.storage.tenants import create_tenant
    from scim_me.storage.tenants import find_tenant

    existing = find_tenant(name)
    if existing is not None:
        return existing
    try:
        with database_proxy.atomic():
            tenant = create_tenant(name, dialect, TenantSettings(**settings))
            create_signing_key(tenant.id, key)
    except TenantError:
        # Another process created it in the meantime (instances running `db upgrade` at once).
        raced = find_tenant(name)
        if raced is None:
            raise
        return raced
    return tenant


@main.group()
def tenant() -> None:
    """Tenants (``/t/{name}/...``)."""


@tenant.command("create")
@click.argument("name")
@click.option("--dialect", type=click.Choice(["wso2", "rfc"]), default="wso2", show_default=True)
@click.option("--self-registration", type=click.Choice(["off", "open", "scope"]), default="off", show_default=True)
@click.option(
    "--self-registration-confirm/--no-self-registration-confirm",
    default=True,
    show_default=True,
    help="hold a self-registered account until its e-mail address is confirmed",
)
@click.option("--self-delete/--no-self-delete", default=False, show_default=True)
@click.option("--verify-email-on-update/--no-verify-email-on-update", default=False, show_default=True)
@click.option("--alg", type=click.Choice(["RS256", "ES256"]), default="RS256", show_default=True)
def tenant_create(
    name: str,
    dialect: str,
    self_registration: str,
    self_registration_confirm: bool,
    self_delete: bool,
    verify_email_on_update: bool,
    alg: str,
) -> None:
    """Create a tenant with its own signing key."""
    from scim_me.auth.keys import create_signing_key
    from scim_me.storage.db import database_proxy
    from scim_me.storage.tenants import TenantError
    from scim_me.storage.tenants import TenantSettings
    from scim_me.storage.tenants import create_tenant

    settings = _settings()
    key = _master_key(settings)
    with _database(settings):
        try:
            with database_proxy.atomic():
                record = create_tenant(
                    name,
                    dialect,
                    TenantSettings(
                        self_registration=self_registration,
                        self_registration_confirm=self_registration_confirm,
                        self_delete=self_delete,
                        verify_email_on_update=verify_email_on_update,
                    ),
                )
                create_signing_key(record.id, key, alg)
        except TenantError as exc:
            raise click.ClickException(str(exc)) from exc
    click.echo(f"created tenant {record.name} (dialect {record.dialect})")


@tenant.command("update")
@click.argument("name")
@click.option("--dialect", type=click.Choice(["wso2", "rfc"]))
@click.option("--self-registration", type=click.Choice(["off", "open", "scope"]))
@click.option("--self-registration-confirm/--no-self-registration-confirm", default=None)
@click.option("--self-delete/--no-self-delete", default=None)
@click.option("--password-update-in-me/--no-password-update-in-me", default=None)
@click.option("--verify-email-on-update/--no-verify-email-on-update", default=None)
@click.option(
    "--set",
    "assignments",
    multiple=True,
    metavar="KEY=VALUE",
    help="any other tenant setting, e.g. password_history_count=5 (repeatable; see docs/account-security.md)",
)
def tenant_update(
    name: str,
    dialect: str | None,
    self_registration: str | None,
    self_registration_confirm: bool | None,
    self_delete: bool | None,
    password_update_in_me: bool | None,
    verify_email_on_update: bool | None,
    assignments: tuple[str, ...],
) -> None:
    """Change a tenant's dialect or self-service switches."""
    from scim_me.storage.tenants import TenantError
    from scim_me.storage.tenants import TenantSettings
    from scim_me.storage.tenants import update_tenant

    extra: dict[str, Any] = {}
    defaults = TenantSettings()
    for assignment in assignments:
        key, sep, raw = assignment.partition("=")
        key = key.strip()
        if not sep or key not in TenantSettings.__dataclass_fields__:
            raise click.ClickException(f"unknown tenant setting in {assignment!r}")
        try:
            # A setting whose default is "not chosen" (max_auth_age: the dialect's) takes an integer.
            default = getattr(defaults, key)
            extra[key] = parse_setting(raw.strip(), 0 if default is None else default)
        except SettingTextError as exc:
            raise click.ClickException(f"{key} takes {exc.expected}") from exc
    # A switch may be given by its own flag or by --set; both at once must agree.
    flags = {
        "self_registration": self_registration,
        "self_registration_confirm": self_registration_confirm,
        "self_delete": self_delete,
        "password_update_in_me": password_update_in_me,
        "verify_email_on_update": verify_email_on_update,
    }
    for key, value in flags.items():
        if value is None:
            continue
        if key in extra and extra[key] != value:
            raise click.ClickException(f"{key} is given twice with different values")
        extra[key] = value
    settings = _settings()
    with _database(settings):
        try:
            record = update_tenant(name, dialect=dialect, **extra)
        except TenantError as exc:
            raise click.ClickException(str(exc)) from exc
    click.echo(json.dumps({"name": record.name, "dialect": record.dialect, **record.settings.__dict__}))


@tenant.command("list")
def tenant_list() -> None:
    """List tenants."""
    from scim_me.storage.tenants import list_tenants

    with _database(_settings()):
        for record in list_tenants():
            click.echo(f"{record.name}\t{record.dialect}\t{record.settings.to_json()}")


@tenant.group("issuer")
def tenant_issuer() -> None:
    """External OIDC issuers whose access tokens a tenant accepts (resource-server mode)."""


@tenant_issuer.command("add")
@click.option("--tenant", "tenant_name", required=True)
@click.option("--issuer", required=True, help="The exact `iss` of its tokens.")
@click.option("--jwks-uri", help="Where its public keys are published (fetched and cached).")
@click.option("--jwks-file", type=click.Path(exists=True, dir_okay=False), help="A static JWKS instead of a URL.")
@click.option("--audience", required=True, help="The `aud` its tokens must carry for this API.")
@click.option("--user-claim", default="sub", show_default=True, help="The claim naming the user.")
@click.option(
    "--user-attribute",
    type=click.Choice(["userName", "id", "emails"]),
    default="userName",
    show_default=True,
    help="The local attribute that claim is matched against.",
)
@click.option("--scope-claim", type=click.Choice(["scope", "scp"]), default="scope", show_default=True)
@click.option(
    "--map-scope",
    multiple=True,
    metavar="EXTERNAL=LOCAL",
    help="Allow an external scope as a local one, e.g. scim:me=internal_login (unmapped scopes are dropped).",
)
@click.option("--alg", "algorithms", multiple=True, help="Accepted algorithms (default RS256, PS256, ES256).")
def tenant_issuer_add(
    tenant_name: str,
    issuer: str,
    jwks_uri: str | None,
    jwks_file: str | None,
    audience: str,
    user_claim: str,
    user_attribute: str,
    scope_claim: str,
    map_scope: tuple[str, ...],
    algorithms: tuple[str, ...],
) -> None:
    """Accept access tokens of ISSUER on the tenant's /scim2/Me."""
    from scim_me.auth.tokens import issuer_for
    from scim_me.storage.external_issuers import DEFAULT_ALGORITHMS
    from scim_me.storage.external_issuers import ExternalIssuerError
    from scim_me.storage.external_issuers import ExternalIssuerRecord
    from scim_me.storage.external_issuers import add_issuer

    settings = _settings()
    scope_map: dict[str, str] = {}
    for item in map_scope:
        external, sep, local = item.partition("=")
        if not sep or not external or not local:
            raise click.ClickException(f"--map-scope wants EXTERNAL=LOCAL, got {item!r}")
        scope_map[external] = local
    jwks = None
    if jwks_file is not None:
        try:
            jwks = json.loads(Path(jwks_file).read_text(encoding="utf-8"))
        except ValueError as exc:
            raise click.ClickException(f"{jwks_file} is not JSON: {exc}") from exc
    with _database(settings):
        record = _tenant(tenant_name)
        if issuer.rstrip("/") == issuer_for(settings.base_url, record.name, settings.default_tenant).rstrip("/"):
            raise click.ClickException("that is this tenant's own issuer")
        try:
            add_issuer(
                ExternalIssuerRecord(
                    tenant_id=record.id,
                    issuer=issuer,
                    audience=audience,
                    jwks_uri=jwks_uri,
                    jwks=jwks,
                    user_claim=user_claim,
                    user_attribute=user_attribute,
                    scope_claim=scope_claim,
                    algorithms=tuple(algorithms) or DEFAULT_ALGORITHMS,
                    scope_map=scope_map,
                )
            )
        except ExternalIssuerError as exc:
            raise click.ClickException(str(exc)) from exc
    click.echo(f"tenant {record.name} now accepts tokens of {issuer}")


@tenant_issuer.command("remove")
@click.option("--tenant", "tenant_name", required=True)
@click.option("--issuer", required=True)
def tenant_issuer_remove(tenant_name: str, issuer: str) -> None:
    """Stop accepting ISSUER's tokens (each worker notices at its next request)."""
    from scim_me.storage.external_issuers import remove_issuer

    with _database(_settings()):
        record = _tenant(tenant_name)
        if not remove_issuer(record.id, issuer):
            raise click.ClickException(f"tenant {record.name} has no external issuer {issuer!r}")
    click.echo(f"removed {issuer} from tenant {record.name}")


@tenant_issuer.command("list")
@click.option("--tenant", "tenant_name", required=True)
def tenant_issuer_list(tenant_name: str) -> None:
    """One JSON object a line, then whether the tenant's own tokens are accepted."""
    from scim_me.storage.external_issuers import list_issuers

    with _database(_settings()):
        record = _tenant(tenant_name)
        for item in list_issuers(record.id):
            click.echo(
                json.dumps(
                    {
                        "issuer": item.issuer,
                        "audience": item.audience,
                        "jwks_uri": item.jwks_uri,
                        "static_keys": len(item.jwks.get("keys", [])) if item.jwks else 0,
                        "user_claim": item.user_claim,
                        "user_attribute": item.user_attribute,
                        "scope_claim": item.scope_claim,
                        "scope_map": item.scope_map,
                        "algorithms": list(item.algorithms),
                    }
                )
            )
        click.echo(f"local tokens: {'accepted' if record.settings.accept_local_tokens else 'refused'}")


@tenant_issuer.command("local-tokens")
@click.option("--tenant", "tenant_name", required=True)
@click.argument("mode", type=click.Choice(["accept", "refuse"]))
def tenant_issuer_local_tokens(tenant_name: str, mode: str) -> None:
    """Whether the tenant's own access tokens stay accepted besides its external issuers'."""
    from scim_me.storage.external_issuers import list_issuers
    from scim_me.storage.tenants import update_tenant

    with _database(_settings()):
        record = _tenant(tenant_name)
        if mode == "refuse" and not list_issuers(record.id):
            raise click.ClickException("add an external issuer first: otherwise no token would be accepted")
        update_tenant(record.name, accept_local_tokens=mode == "accept")
    click.echo(f"tenant {record.name}: local tokens {'accepted' if mode == 'accept' else 'refused'}")


@main.group()
def user() -> None:
    """Users of a tenant."""


def _hash(settings: Settings, tenant: Any, password: str, profile: dict[str, Any], previous: Any = None) -> str:
    """The tenant's password policy, as on every other path (auth/credentials.py), then argon2id.
    An operator's reset is not bound by the minimum-age rule; history still applies."""
    from scim_me.auth.credentials import new_password_hash
    from scim_me.errors import ScimError

    params = settings.hash_params()
    try:
        return new_password_hash(
            tenant,
            settings,
            params,
            password,
            user_name=profile.get("userName"),
            profile=profile,
            user=previous,
            user_initiated=False,
        )
    except ScimError as exc:
        raise click.ClickException(exc.detail) from exc


def _tenant_option(func: Any) -> Any:
    return click.option("--tenant", "tenant_name", default=None, help="tenant name (default: the default tenant)")(func)


@keys.command("rotate")
@_tenant_option
@click.option("--alg", type=click.Choice(["RS256", "ES256"]), default=None, help="default: the current key's")
def keys_rotate(tenant_name: str | None, alg: str | None) -> None:
    """A new token signing key for the tenant. It signs from now on, on every instance; the old
    keys stay published in the JWKS and keep verifying the tokens they signed until those expire."""
    from scim_me.auth.keys import rotate_signing_key

    settings = _settings()
    key = _master_key(settings)
    with _database(settings):
        record = _tenant(tenant_name or settings.default_tenant)
        kid = rotate_signing_key(record.id, key, alg)
    click.echo(f"tenant {record.name} signs with the new key {kid} from now on")


@user.command("create")
@_tenant_option
@click.option("--username", required=True)
@click.option("--password", required=True)
@click.option("--given-name")
@click.option("--family-name")
@click.option("--email")
@click.option(
    "--email-verified", is_flag=True, help="the operator checked the address (emailVerified; account recovery mails it)"
)
@click.option(
    "--role", "roles", multiple=True, help="a role (repeatable); the tenant's admin_role makes an administrator"
)
@click.option(
    "--read-only",
    is_flag=True,
    help="provision the user read-only (WSO2 isReadOnlyUser): no profile or password change through any API",
)
def user_create(
    tenant_name: str | None,
    username: str,
    password: str,
    given_name: str | None,
    family_name: str | None,
    email: str | None,
    email_verified: bool,
    roles: tuple[str, ...],
    read_only: bool,
) -> None:
    """Create a user."""
    from scim_me.errors import ScimError
    from scim_me.storage.users import create_user

    settings = _settings()
    if not username.strip():
        raise click.ClickException("the username must not be empty")
    profile: dict[str, Any] = {"userName": username}
    if given_name or family_name:
        profile["name"] = {k: v for k, v in (("givenName", given_name), ("familyName", family_name)) if v}
    if email:
        profile["emails"] = [{"value": email, "primary": True}]
        if email_verified:
            profile["urn:scim:wso2:schema"] = {"emailVerified": True}
    if roles:
        profile["roles"] = [{"value": role} for role in dict.fromkeys(roles)]
    if read_only:
        profile.setdefault("urn:scim:wso2:schema", {})["isReadOnlyUser"] = True
    with _database(settings):
        record = _tenant(tenant_name or settings.default_tenant)
        password_hash = _hash(settings, record, password, profile)
        try:
            created = create_user(record.id, profile, password_hash)
        except ScimError as exc:
            raise click.ClickException(exc.detail) from exc
    click.echo(created.id)


@user.command("list")
@_tenant_option
def user_list(tenant_name: str | None) -> None:
    """List a tenant's users (id and userName)."""
    from scim_me.storage.users import list_users

    settings = _settings()
    with _database(settings):
        record = _tenant(tenant_name or settings.default_tenant)
        for stored in list_users(record.id):
            click.echo(f"{stored.id}\t{stored.user_name}")


@user.command("set-password")
@_tenant_option
@click.option("--username", required=True)
@click.option("--password", required=True)
def user_set_password(tenant_name: str | None, username: str, password: str) -> None:
    """Replace a user's password."""
    from scim_me.auth.credentials import password_replaced
    from scim_me.storage.events import record_event
    from scim_me.storage.users import set_password_hash

    settings = _settings()
    with _database(settings):
        record, found = _target_user(settings, tenant_name, username)
        password_hash = _hash(settings, record, password, {**found.profile, "userName": found.user_name}, found)
        if not set_password_hash(record.id, found.id, password_hash):
            raise click.ClickException(f"no user {username!r} in tenant {record.name}")
        password_replaced(record, settings, found)
        _clear_forced_reset(record, found)
        record_event(record.id, found.id, "password.reset", details={"channel": "cli"})
    click.echo("password changed")


def _clear_forced_reset(record: Any, found: Any) -> None:
    """A password the operator sets answers a forced reset too."""
    from scim_me.core.recovery import reset_forced
    from scim_me.core.recovery import with_forced_reset
    from scim_me.storage.users import get_user
    from scim_me.storage.users import update_user

    current = get_user(record.id, found.id)
    while current is not None and reset_forced(current.profile):
        if update_user(current, with_forced_reset(current.profile, False)) is not None:
            return
        current = get_user(record.id, found.id)


@user.command("force-reset")
@_tenant_option
@click.option("--username", required=True)
def user_force_reset(tenant_name: str | None, username: str) -> None:
    """Force a password reset (WSO2's forcePasswordReset): the old password stops signing in,
    every session and token of the user ends, and a reset link is mailed to the user."""
    from scim_me.services.recovery import force_password_reset
    from scim_me.storage.events import Actor

    settings = _settings()
    with _database(settings):
        record, found = _target_user(settings, tenant_name, username)
        mailed = force_password_reset(settings, record, found, Actor(), channel="cli")
    if mailed:
        click.echo("password reset forced; a reset link was mailed to the user")
    else:
        click.echo(
            "password reset forced; the user has no e-mail address, set one with `scim-me user set-password`",
            err=True,
        )


@user.command("unlock")
@_tenant_option
@click.option("--username", required=True)
def user_unlock(tenant_name: str | None, username: str) -> None:
    """Lift a password lockout (timed or hard), or the hold of a new account whose address is not
    confirmed yet (verifyEmail; the address stays unverified), and reset the failed-password counter."""
    from scim_me.storage.events import record_event
    from scim_me.storage.throttle import unlock

    settings = _settings()
    with _database(settings):
        record, found = _target_user(settings, tenant_name, username)
        cleared = unlock(record.id, found.user_name)
        record_event(record.id, found.id, "account.unlocked", details={"channel": "cli", "wasLocked": cleared})
    click.echo("unlocked" if cleared else "not locked")


def _mfa_operator(tenant_name: str | None, username: str, *, unlock_only: bool) -> None:
    from scim_me.auth import passkeys
    from scim_me.auth.mfa import operator_reset
    from scim_me.storage.db import write_transaction

    settings = _settings()
    with _database(settings):
        record, found = _target_user(settings, tenant_name, username)
        with write_transaction():  # every factor goes, with its event, or none does
            operator_reset(record.id, found.id, unlock_only=unlock_only)
            if not unlock_only:  # a lost authenticator: its passkeys go too
                passkeys.operator_reset(record.id, found.id)


@user.command("mfa-unlock")
@_tenant_option
@click.option("--username", required=True)
def user_mfa_unlock(tenant_name: str | None, username: str) -> None:
    """Clear a user's MFA lock and failure count (the TOTP and backup codes stay)."""
    _mfa_operator(tenant_name, username, unlock_only=True)
    click.echo("mfa unlocked")


@user.command("mfa-reset")
@_tenant_option
@click.option("--username", required=True)
def user_mfa_reset(tenant_name: str | None, username: str) -> None:
    """Remove a user's TOTP and backup codes (lost authenticator): the password alone signs in
    until the user enrols again. Verify the user's identity before running this."""
    _mfa_operator(tenant_name, username, unlock_only=False)
    click.echo("mfa reset")


@user.command("delete")
@_tenant_option
@click.option("--username", required=True)
def user_delete(tenant_name: str | None, username: str) -> None:
    """Delete a user and everything stored for them."""
    from scim_me.services.user_write import remove_user

    settings = _settings()
    with _database(settings):
        record, found = _target_user(settings, tenant_name, username)
        if not remove_user(record.id, found):  # deleted by someone else meanwhile
            raise click.ClickException(f"no user {username!r} in tenant {record.name}")
    click.echo("deleted")


@main.group()
def client() -> None:
    """OAuth clients of a tenant (apps that sign users in)."""


@client.command("create")
@_tenant_option
@click.option("--name", required=True)
@click.option("--public", is_flag=True, help="a public client (SPA, no secret)")
@click.option("--first-party", is_flag=True, help="skip the consent screen for this client")
@click.option("--redirect-uri", "redirect_uris", multiple=True, help="exact redirect URI (repeatable)")
@click.option("--allowed-origin", "allowed_origins", multiple=True, help="CORS origin (repeatable)")
@click.option(
    "--grant",
    "grants",
    multiple=True,
    type=click.Choice(["authorization_code", "refresh_token", "password", "client_credentials"]),
    help="grant type (repeatable; default authorization_code and refresh_token)",
)
@click.option("--scope", default="openid internal_login", show_default=True, help="scopes the client may ask for")
@click.option(
    "--discoverable", is_flag=True, help="list it in the users' app launcher (GET /api/users/v1/me/applications)"
)
@click.option("--access-url", default=None, help="where the app launcher sends users (needed with --discoverable)")
def client_create(
    tenant_name: str | None,
    name: str,
    public: bool,
    first_party: bool,
    redirect_uris: tuple[str, ...],
    allowed_origins: tuple[str, ...],
    grants: tuple[str, ...],
    scope: str,
    discoverable: bool,
    access_url: str | None,
) -> None:
    """Register a client; prints its client_id (and, once, the secret of a confidential one)."""
    from scim_me.storage.clients import ClientError
    from scim_me.storage.clients import create_client

    settings = _settings()
    with _database(settings):
        record = _tenant(tenant_name or settings.default_tenant)
        try:
            created, secret = create_client(
                record.id,
                name,
                public=public,
                redirect_uris=list(redirect_uris),
                allowed_origins=list(allowed_origins),
                grant_types=list(grants or ("authorization_code", "refresh_token")),
                scope=scope,
                first_party=first_party,
                discoverable=discoverable,
                access_url=access_url,
            )
        except ClientError as exc:
            raise click.ClickException(str(exc)) from exc
    click.echo(f"client_id: {created.client_id}")
    if secret:
        click.echo(f"client_secret: {secret}  (shown once; store it now)")


@client.command("update")
@_tenant_option
@click.option("--client-id", required=True)
@click.option("--name", default=None, help="a new display name")
@click.option(
    "--discoverable/--not-discoverable",
    default=None,
    help="list it in the users' app launcher, or stop listing it",
)
@click.option("--access-url", default=None, help="where the app launcher sends users ('' clears it)")
def client_update(
    tenant_name: str | None, client_id: str, name: str | None, discoverable: bool | None, access_url: str | None
) -> None:
    """Change a client's name and how the app launcher lists it."""
    from scim_me.storage.clients import ClientError
    from scim_me.storage.clients import update_client

    settings = _settings()
    with _database(settings):
        record = _tenant(tenant_name or settings.default_tenant)
        try:
            updated = update_client(record.id, client_id, name=name, discoverable=discoverable, access_url=access_url)
        except ClientError as exc:
            raise click.ClickException(str(exc)) from exc
        if updated is None:
            raise click.ClickException(f"no client {client_id!r} in tenant {record.name}")
    listed = f"discoverable, {updated.access_url}" if updated.discoverable else "not discoverable"
    click.echo(f"updated {updated.client_id} ({updated.name}): {listed}")


@client.command("list")
@_tenant_option
def client_list(tenant_name: str | None) -> None:
    """List a tenant's clients (never their secrets)."""
    from scim_me.storage.clients import list_clients

    settings = _settings()
    with _database(settings):
        record = _tenant(tenant_name or settings.default_tenant)
        for item in list_clients(record.id):
            kind = "public" if item.is_public else "confidential"
            click.echo(
                f"{item.client_id}\t{item.name}\t{kind}\t{' '.join(item.grant_types)}\t"
                f"{' '.join(item.redirect_uris)}\t{' '.join(item.allowed_origins)}"
                + (f"\tdiscoverable {item.access_url}" if item.discoverable else "")
            )


@client.command("delete")
@_tenant_option
@click.option("--client-id", required=True)
def client_delete(tenant_name: str | None, client_id: str) -> None:
    """Delete a client."""
    from scim_me.storage.clients import delete_client

    settings = _settings()
    with _database(settings):
        record = _tenant(tenant_name or settings.default_tenant)
        if not delete_client(record.id, client_id):
            raise click.ClickException(f"no client {client_id!r} in tenant {record.name}")
    click.echo("deleted")


@client.command("rotate-secret")
@_tenant_option
@click.option("--client-id", required=True)
@click.option(
    "--keep-tokens", is_flag=True, help="leave the tokens already issued to the client valid (default: revoke them)"
)
def client_rotate_secret(tenant_name: str | None, client_id: str, keep_tokens: bool) -> None:
    """Give a confidential client a new secret (printed once); the old one stops working."""
    from scim_me.storage.clients import ClientError
    from scim_me.storage.clients import rotate_client_secret

    settings = _settings()
    with _database(settings):
        record = _tenant(tenant_name or settings.default_tenant)
        try:
            secret = rotate_client_secret(record.id, client_id, revoke_grants=not keep_tokens)
        except ClientError as exc:
            raise click.ClickException(str(exc)) from exc
        if secret is None:
            raise click.ClickException(f"no client {client_id!r} in tenant {record.name}")
    click.echo(f"client_secret: {secret}")
    click.echo(
        "(shown once; the previous secret no longer works" + ("" if keep_tokens else ", its tokens are revoked") + ")"
    )


@main.command("token")
@_tenant_option
@click.option("--user", "username", help="the user the token is for (omit for an application token)")
@click.option("--scope", default="openid internal_login", show_default=True)
@click.option("--client", "client_id", default="scim-me-cli", show_default=True)
@click.option("--lifetime", type=click.IntRange(min=1), default=None, help="seconds (default: access_token_lifetime)")
def token(tenant_name: str | None, username: str | None, scope: str, client_id: str, lifetime: int | None) -> None:
    """Mint an access token for development and tests; prints the bare token."""
    from scim_me.auth.tokens import issuer_for
    from scim_me.auth.tokens import mint_access_token

    settings = _settings()
    key = _master_key(settings)
    with _database(settings):
        extra: dict[str, Any] = {}
        if username:
            record, found = _target_user(settings, tenant_name, username)
            subject = found.id
            extra["username"] = found.user_name
            # The operator stands for the user's sign-in: the token counts as freshly
            # authenticated for step-up (RFC 9470) until the tenant's max_auth_age passes.
            extra["auth_time"] = int(time.time())
        else:
            record = _tenant(tenant_name or settings.default_tenant)
            subject = client_id
            extra["sub_type"] = "application"
        access_token = mint_access_token(
            tenant_id=record.id,
            issuer=issuer_for(settings.base_url, record.name, settings.default_tenant),
            subject=subject,
            client_id=client_id,
            scopes=scope,
            audience=settings.resource_audience,
            lifetime=lifetime or settings.access_token_lifetime,
            master_key=key,
            extra=extra,
        )
    sys.stdout.write(access_token + "\n")


@main.group()
def demo() -> None:
    """Demo data for ``make run``."""


@demo.command("seed")
@click.option("--tenant", "tenant_name", default="demo", show_default=True)
@click.option("--username", default="kim", show_default=True)
@click.option("--password", default="demo-password-2026", show_default=True)
@click.option("--spa-origin", default="http://localhost:5173", show_default=True, help="the demo SPA's origin")
@click.option("--admin-password", default="tour-guide-keys-2026", show_default=True, help="the demo admin's")
@click.option(
    "--postman-environment",
    "environment_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="also write a Postman environment for the demo (client secrets included, owner-only); a "
    "client whose secret is neither new nor in this file gets a new one",
)
def demo_seed(
    tenant_name: str,
    username: str,
    password: str,
    spa_origin: str,
    admin_password: str,
    environment_path: Path | None,
) -> None:
    """Create the demo tenant and user if missing (idempotent)."""
    from scim_me.postman_environment import read_client_secrets
    from scim_me.postman_environment import write_environment
    from scim_me.storage.users import create_user
    from scim_me.storage.users import find_user

    secrets = _DemoSecrets(environment_path, read_client_secrets(environment_path) if environment_path else {})
    settings = _settings()
    key = _master_key(settings)
    with _database(settings):
        # The demo verifies e-mail changes: the mails land in the outbox (instance/outbox/*.eml).
        record = _ensure_tenant(
            tenant_name, "wso2", key, self_registration="off", self_delete=True, verify_email_on_update=True
        )
        if find_user(record.id, username) is None:
            profile = {
                "userName": username,
                "name": {"givenName": "Kim", "familyName": "Berry"},
                "emails": [{"value": f"{username}@example.com", "primary": True}],
                "urn:scim:wso2:schema": {"country": "Sri Lanka"},
            }
            create_user(record.id, profile, _hash(settings, record, password, profile))
        clients = _ensure_demo_clients(record.id, spa_origin, secrets)
        clients += _ensure_demo_admin(settings, record, admin_password, secrets)
    click.echo(f"demo tenant {tenant_name}, user {username} / {password}")
    for line in clients:
        click.echo(line)
    if environment_path is not None:
        prefix = "" if record.name == settings.default_tenant else f"/t/{record.name}"
        write_environment(
            environment_path,
            {
                "base_url": settings.base_url.rstrip("/"),
                "tenant_path": prefix,
                "username": username,
                "password": password,
                "scope": "openid internal_login",
                "admin_username": "admin",
                "admin_password": admin_password,
                **secrets.variables,
            },
        )
        click.echo(f"Postman environment: {environment_path}")


class _DemoSecrets:
    """The demo clients' secrets for the Postman environment: new ones as they are created, known
    ones from the previous environment file, and (only when writing one) a new secret for a client
    whose secret was shown once and is known nowhere any more."""

    def __init__(self, path: Path | None, known: dict[str, str]) -> None:
        self.path = path
        self.known = known
        self.variables: dict[str, str] = {}

    def line(self, tenant_id: int, client: Any, created: str | None, variable: str, labels: tuple[str, str]) -> str:
        """The seed's line for a confidential demo client (``labels``: with a secret shown, and
        without); remembers its id and secret for the environment."""
        from scim_me.postman_environment import CLIENT_PAIRS
        from scim_me.storage.clients import rotate_client_secret

        shown, quiet = labels
        secret = created
        if created is not None:
            text = f"{shown}: {client.client_id}  secret (shown once): {created}"
        elif self.path is None:
            return f"{quiet}: {client.client_id}  (secret was shown when it was created)"
        elif client.client_id in self.known:
            secret = self.known[client.client_id]
            text = f"{quiet}: {client.client_id}  (secret in {self.path})"
        else:
            secret = rotate_client_secret(tenant_id, client.client_id)
            text = f"{shown}: {client.client_id}  new secret (shown once): {secret}"
        self.variables[variable] = client.client_id
        self.variables[CLIENT_PAIRS[variable]] = secret or ""
        return text


def _ensure_demo_admin(settings: Any, record: Any, password: str, secrets: _DemoSecrets) -> list[str]:
    """The demo tenant's administrator (the tenant's admin role: HTTP Basic on /scim2/Users,
    /Groups, /Bulk, as WSO2 admins use it in Postman) and a ``demo-admin`` client_credentials
    client with the admin scopes; with how to call /scim2/Users with each."""
    from scim_me.core.accounts import ADMIN_SCOPES
    from scim_me.storage.clients import create_client
    from scim_me.storage.clients import list_clients
    from scim_me.storage.users import create_user
    from scim_me.storage.users import find_user

    role = record.settings.admin_role
    if find_user(record.id, "admin") is None:
        profile = {"userName": "admin", "roles": [{"value": role, "display": role}]}
        create_user(record.id, profile, _hash(settings, record, password, profile))
    base = settings.base_url.rstrip("/")
    prefix = "" if record.name == settings.default_tenant else f"/t/{record.name}"
    lines = [
        f"demo admin user admin / {password} (role {role!r}): HTTP Basic on the admin SCIM endpoints:",
        f"  curl -s -u 'admin:{password}' {base}{prefix}/scim2/Users",
    ]
    existing = {c.name: c for c in list_clients(record.id)}
    client = existing.get("demo-admin")
    scopes = " ".join(sorted(ADMIN_SCOPES))
    secret = None
    if client is None:
        client, secret = create_client(
            record.id,
            "demo-admin",
            public=False,
            first_party=True,
            redirect_uris=[],
            allowed_origins=[],
            grant_types=["client_credentials"],
            scope=scopes,
        )
    labels = ("demo-admin client (client_credentials, admin scopes)", "demo-admin client")
    lines.append(secrets.line(record.id, client, secret, "admin_client_id", labels))
    lines += [
        "  token: curl -s -u '<client id>:<secret>' -d grant_type=client_credentials "
        f"-d 'scope={scopes}' {base}{prefix}/oauth2/token",
        f"  then:  curl -s {base}{prefix}/scim2/Users -H 'Authorization: Bearer <access_token>'",
    ]
    return lines


def _ensure_demo_clients(tenant_id: int, spa_origin: str, secrets: _DemoSecrets) -> list[str]:
    """A public SPA client (code + PKCE, listed in the app launcher) and a confidential Postman
    client (password grant)."""
    from scim_me.storage.clients import create_client
    from scim_me.storage.clients import list_clients
    from scim_me.storage.clients import update_client

    existing = {c.name: c for c in list_clients(tenant_id)}
    lines = []
    spa = existing.get("demo-spa")
    if spa is None:
        spa, _ = create_client(
            tenant_id,
            "demo-spa",
            public=True,
            first_party=True,
            redirect_uris=[f"{spa_origin}/"],
            allowed_origins=[spa_origin],
            grant_types=["authorization_code", "refresh_token"],
            scope="openid internal_login profile email",
            discoverable=True,
            access_url=f"{spa_origin}/",
        )
    elif not spa.discoverable:
        # Seeded before clients could be discoverable: list it in the app launcher too.
        spa = update_client(tenant_id, spa.client_id, discoverable=True, access_url=f"{spa_origin}/") or spa
    lines.append(f"demo SPA client (public, code + PKCE, redirect {spa.redirect_uris[0]}): {spa.client_id}")
    postman = existing.get("demo-postman")
    secret = None
    if postman is None:
        postman, secret = create_client(
            tenant_id,
            "demo-postman",
            public=False,
            first_party=True,
            redirect_uris=["https://oauth.pstmn.io/v1/callback"],
            allowed_origins=[],
            grant_types=["authorization_code", "refresh_token", "password"],
            scope="openid internal_login profile email",
        )
    labels = ("demo Postman client", "demo Postman client")
    lines.append(secrets.line(tenant_id, postman, secret, "client_id", labels))
    lines.append(_ensure_consent_admin(tenant_id, existing, secrets))
    lines.append(_ensure_recovery_app(tenant_id, existing, secrets))
    return lines


def _ensure_recovery_app(tenant_id: int, existing: dict[str, Any], secrets: _DemoSecrets) -> str:
    """A confidential machine client (client_credentials) with ``internal_user_recovery_create``:
    what an app that builds its own "forgot password" pages calls the recovery API with."""
    from scim_me.storage.clients import create_client

    app = existing.get("demo-recovery-app")
    secret = None
    if app is None:
        app, secret = create_client(
            tenant_id,
            "demo-recovery-app",
            public=False,
            first_party=True,
            redirect_uris=[],
            allowed_origins=[],
            grant_types=["client_credentials"],
            scope="internal_user_recovery_create",
        )
    labels = ("demo recovery client (client_credentials)", "demo recovery client")
    return secrets.line(tenant_id, app, secret, "recovery_client_id", labels)


def _ensure_consent_admin(tenant_id: int, existing: dict[str, Any], secrets: _DemoSecrets) -> str:
    """A confidential machine client (client_credentials) with the consent-management admin
    scopes, so an administrator (or Postman) can create purposes and PII categories."""
    from scim_me.core.consent import ADD_SCOPE
    from scim_me.core.consent import DELETE_SCOPE
    from scim_me.core.consent import VIEW_SCOPE
    from scim_me.storage.clients import create_client

    admin = existing.get("demo-consent-admin")
    secret = None
    if admin is None:
        admin, secret = create_client(
            tenant_id,
            "demo-consent-admin",
            public=False,
            first_party=True,
            redirect_uris=[],
            allowed_origins=[],
            grant_types=["client_credentials"],
            scope=f"{ADD_SCOPE} {DELETE_SCOPE} {VIEW_SCOPE}",
        )
    labels = ("demo consent-admin client (client_credentials)", "demo consent-admin client")
    return secrets.line(tenant_id, admin, secret, "consent_admin_client_id", labels)


if __name__ == "__main__":  # pragma: no cover
    main()

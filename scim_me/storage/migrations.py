"""Versioned schema migrations. Each step is applied once, in order, in its own transaction, and
recorded in ``schema_migrations``. Steps are never edited after release: a change is a new step.

Step bodies declare frozen copies of the tables they touch instead of importing ``models.py``,
so later model changes cannot rewrite history.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC
from datetime import datetime
from typing import Any

import peewee
from playhouse.migrate import SchemaMigrator
from playhouse.migrate import migrate

from scim_me.storage.db import write_transaction

Step = Callable[[peewee.Database], None]


def _initial(db: peewee.Database) -> None:
    class Frozen(peewee.Model):
        class Meta:
            database = db

    class Tenant(Frozen):
        id = peewee.AutoField()
        name = peewee.CharField(max_length=255, unique=True)
        dialect = peewee.CharField(max_length=16, default="wso2")
        settings = peewee.TextField(default="{}")
        created_at = peewee.DateTimeField()

        class Meta:
            table_name = "tenants"

    class User(Frozen):
        id = peewee.CharField(max_length=36, primary_key=True)
        tenant = peewee.ForeignKeyField(Tenant, on_delete="CASCADE", column_name="tenant_id")
        user_name = peewee.CharField(max_length=255)
        user_name_key = peewee.CharField(max_length=255)
        password_hash = peewee.TextField(null=True)
        password_changed_at = peewee.DateTimeField(null=True)
        profile = peewee.TextField(default="{}")
        version = peewee.IntegerField(default=1)
        created_at = peewee.DateTimeField()
        updated_at = peewee.DateTimeField()

        class Meta:
            table_name = "users"
            indexes = ((("tenant", "user_name_key"), True),)

    class SigningKey(Frozen):
        kid = peewee.CharField(max_length=64, primary_key=True)
        tenant = peewee.ForeignKeyField(Tenant, on_delete="CASCADE", column_name="tenant_id")
        alg = peewee.CharField(max_length=16)
        public_jwk = peewee.TextField()
        private_key = peewee.TextField()
        active = peewee.BooleanField(default=True)
        created_at = peewee.DateTimeField()

        class Meta:
            table_name = "signing_keys"

    db.create_tables([Tenant, User, SigningKey], safe=False)


def _oauth_clients(db: peewee.Database) -> None:
    class Frozen(peewee.Model):
        class Meta:
            database = db

    class Tenant(Frozen):
        id = peewee.AutoField()

        class Meta:
            table_name = "tenants"

    class OAuthClient(Frozen):
        id = peewee.AutoField()
        tenant = peewee.ForeignKeyField(Tenant, on_delete="CASCADE", column_name="tenant_id")
        client_id = peewee.CharField(max_length=64, unique=True)
        name = peewee.CharField(max_length=255)
        secret_hash = peewee.CharField(max_length=128, null=True)
        is_public = peewee.BooleanField(default=True)
        first_party = peewee.BooleanField(default=False)
        redirect_uris = peewee.TextField(default="[]")
        allowed_origins = peewee.TextField(default="[]")
        grant_types = peewee.TextField(default="[]")
        scope = peewee.TextField(default="")
        created_at = peewee.DateTimeField()

        class Meta:
            table_name = "oauth_clients"

    db.create_tables([OAuthClient], safe=False)


def _oauth_tokens(db: peewee.Database) -> None:
    class Frozen(peewee.Model):
        class Meta:
            database = db

    class Tenant(Frozen):
        id = peewee.AutoField()

        class Meta:
            table_name = "tenants"

    class User(Frozen):
        id = peewee.CharField(max_length=36, primary_key=True)

        class Meta:
            table_name = "users"

    class OAuthClient(Frozen):
        id = peewee.AutoField()

        class Meta:
            table_name = "oauth_clients"

    class OAuthGrant(Frozen):
        id = peewee.CharField(max_length=36, primary_key=True)
        tenant = peewee.ForeignKeyField(Tenant, on_delete="CASCADE", column_name="tenant_id")
        client = peewee.ForeignKeyField(OAuthClient, on_delete="CASCADE", column_name="client_pk")
        user = peewee.ForeignKeyField(User, null=True, on_delete="CASCADE", column_name="user_id")
        session_id = peewee.CharField(max_length=64, null=True, index=True)
        scope = peewee.TextField(default="")
        created_at = peewee.DateTimeField()
        revoked_at = peewee.DateTimeField(null=True)

        class Meta:
            table_name = "oauth_grants"

    class OAuthAccessToken(Frozen):
        jti = peewee.CharField(max_length=64, primary_key=True)
        grant = peewee.ForeignKeyField(OAuthGrant, on_delete="CASCADE", column_name="grant_id")
        expires_at = peewee.DateTimeField()
        revoked_at = peewee.DateTimeField(null=True)

        class Meta:
            table_name = "oauth_access_tokens"

    class OAuthRefreshToken(Frozen):
        token_hash = peewee.CharField(max_length=64, primary_key=True)
        grant = peewee.ForeignKeyField(OAuthGrant, on_delete="CASCADE", column_name="grant_id")
        expires_at = peewee.DateTimeField()
        used_at = peewee.DateTimeField(null=True)
        created_at = peewee.DateTimeField()

        class Meta:
            table_name = "oauth_refresh_tokens"

    db.create_tables([OAuthGrant, OAuthAccessToken, OAuthRefreshToken], safe=False)


def _signin(db: peewee.Database) -> None:
    class Frozen(peewee.Model):
        class Meta:
            database = db

    class Tenant(Frozen):
        id = peewee.AutoField()

        class Meta:
            table_name = "tenants"

    class User(Frozen):
        id = peewee.CharField(max_length=36, primary_key=True)

        class Meta:
            table_name = "users"

    class OAuthClient(Frozen):
        id = peewee.AutoField()

        class Meta:
            table_name = "oauth_clients"

    class UserSession(Frozen):
        id = peewee.CharField(max_length=36, primary_key=True)
        tenant = peewee.ForeignKeyField(Tenant, on_delete="CASCADE", column_name="tenant_id")
        user = peewee.ForeignKeyField(User, on_delete="CASCADE", column_name="user_id")
        secret_hash = peewee.CharField(max_length=64, unique=True)
        user_agent = peewee.CharField(max_length=512, default="")
        ip = peewee.CharField(max_length=64, default="")
        login_time = peewee.DateTimeField()
        last_access = peewee.DateTimeField()
        ended_at = peewee.DateTimeField(null=True)

        class Meta:
            table_name = "user_sessions"

    class OAuthCode(Frozen):
        code_hash = peewee.CharField(max_length=64, primary_key=True)
        tenant = peewee.ForeignKeyField(Tenant, on_delete="CASCADE", column_name="tenant_id")
        client = peewee.ForeignKeyField(OAuthClient, on_delete="CASCADE", column_name="client_pk")
        user = peewee.ForeignKeyField(User, on_delete="CASCADE", column_name="user_id")
        session_id = peewee.CharField(max_length=36, null=True)
        redirect_uri = peewee.TextField()
        scope = peewee.TextField(default="")
        nonce = peewee.CharField(max_length=255, null=True)
        code_challenge = peewee.CharField(max_length=128, null=True)
        code_challenge_method = peewee.CharField(max_length=16, null=True)
        auth_time = peewee.BigIntegerField()
        expires_at = peewee.DateTimeField()
        used_at = peewee.DateTimeField(null=True)
        replayed_at = peewee.DateTimeField(null=True)
        grant_id = peewee.CharField(max_length=36, null=True)

        class Meta:
            table_name = "oauth_codes"

    class OAuthConsent(Frozen):
        id = peewee.AutoField()
        tenant = peewee.ForeignKeyField(Tenant, on_delete="CASCADE", column_name="tenant_id")
        user = peewee.ForeignKeyField(User, on_delete="CASCADE", column_name="user_id")
        client = peewee.ForeignKeyField(OAuthClient, on_delete="CASCADE", column_name="client_pk")
        scope = peewee.TextField(default="")
        granted_at = peewee.DateTimeField()

        class Meta:
            table_name = "oauth_consents"
            indexes = ((("user", "client"), True),)

    db.create_tables([UserSession, OAuthCode, OAuthConsent], safe=False)


def _security_events(db: peewee.Database) -> None:
    class Frozen(peewee.Model):
        class Meta:
            database = db

    class Tenant(Frozen):
        id = peewee.AutoField()

        class Meta:
            table_name = "tenants"

    class User(Frozen):
        id = peewee.CharField(max_length=36, primary_key=True)

        class Meta:
            table_name = "users"

    class SecurityEvent(Frozen):
        id = peewee.BigAutoField()
        tenant = peewee.ForeignKeyField(Tenant, on_delete="CASCADE", column_name="tenant_id")
        user = peewee.ForeignKeyField(User, on_delete="CASCADE", column_name="user_id")
        kind = peewee.CharField(max_length=64)
        occurred_at = peewee.DateTimeField()
        ip = peewee.CharField(max_length=64, default="")
        user_agent = peewee.CharField(max_length=512, default="")
        client_id = peewee.CharField(max_length=64, null=True)
        details = peewee.TextField(default="{}")

        class Meta:
            table_name = "security_events"
            indexes = ((("user", "occurred_at"), False),)

    db.create_tables([SecurityEvent], safe=False)


def _mfa(db: peewee.Database) -> None:
    """TOTP and backup codes (issue 4): per-user MFA state with sealed secrets, backup codes as
    keyed digests, the half-signed-in state of the sign-in page, and the authentication methods
    (RFC 8176 ``amr``) of sessions and codes."""

    class Frozen(peewee.Model):
        class Meta:
            database = db

    class Tenant(Frozen):
        id = peewee.AutoField()

        class Meta:
            table_name = "tenants"

    class User(Frozen):
        id = peewee.CharField(max_length=36, primary_key=True)

        class Meta:
            table_name = "users"

    class UserMfa(Frozen):
        user = peewee.ForeignKeyField(User, primary_key=True, on_delete="CASCADE", column_name="user_id")
        tenant = peewee.ForeignKeyField(Tenant, on_delete="CASCADE", column_name="tenant_id")
        totp_secret = peewee.TextField(null=True)
        totp_pending = peewee.TextField(null=True)
        totp_enabled_at = peewee.DateTimeField(null=True)
        last_used_step = peewee.BigIntegerField(null=True)
        failures = peewee.IntegerField(default=0)
        locked_until = peewee.DateTimeField(null=True)
        enabled_authenticators = peewee.CharField(max_length=512, null=True)
        updated_at = peewee.DateTimeField()

        class Meta:
            table_name = "user_mfa"

    class MfaBackupCode(Frozen):
        id = peewee.AutoField()
        tenant = peewee.ForeignKeyField(Tenant, on_delete="CASCADE", column_name="tenant_id")
        user = peewee.ForeignKeyField(User, on_delete="CASCADE", column_name="user_id")
        digest = peewee.CharField(max_length=64)
        created_at = peewee.DateTimeField()
        used_at = peewee.DateTimeField(null=True)

        class Meta:
            table_name = "mfa_backup_codes"
            indexes = ((("user", "digest"), True),)

    class MfaChallenge(Frozen):
        id_hash = peewee.CharField(max_length=64, primary_key=True)
        tenant = peewee.ForeignKeyField(Tenant, on_delete="CASCADE", column_name="tenant_id")
        user = peewee.ForeignKeyField(User, on_delete="CASCADE", column_name="user_id")
        client_id = peewee.CharField(max_length=64)
        attempts = peewee.IntegerField(default=0)
        created_at = peewee.DateTimeField()
        expires_at = peewee.DateTimeField()
        completed_at = peewee.DateTimeField(null=True)

        class Meta:
            table_name = "mfa_challenges"

    db.create_tables([UserMfa, MfaBackupCode, MfaChallenge], safe=False)
    migrator = SchemaMigrator.from_database(db)
    migrate(
        migrator.add_column("user_sessions", "amr", peewee.CharField(max_length=64, default="pwd")),
        migrator.add_column("oauth_codes", "amr", peewee.CharField(max_length=64, default="pwd")),
    )


def _password_history_and_throttles(db: peewee.Database) -> None:
    class Frozen(peewee.Model):
        class Meta:
            database = db

    class Tenant(Frozen):
        id = peewee.AutoField()

        class Meta:
            table_name = "tenants"

    class User(Frozen):
        id = peewee.CharField(max_length=36, primary_key=True)

        class Meta:
            table_name = "users"

    class PasswordHistory(Frozen):
        id = peewee.BigAutoField()
        tenant = peewee.ForeignKeyField(Tenant, on_delete="CASCADE", column_name="tenant_id")
        user = peewee.ForeignKeyField(User, on_delete="CASCADE", column_name="user_id")
        password_hash = peewee.TextField()
        created_at = peewee.DateTimeField()

        class Meta:
            table_name = "password_history"
            indexes = ((("user", "created_at"), False),)

    class LoginThrottle(Frozen):
        # key: SHA-256 of ("account", tenant, userName key) or ("ip", address); never the name
        # itself, which is sometimes a password typed into the wrong field.
        key = peewee.CharField(max_length=64, primary_key=True)
        kind = peewee.CharField(max_length=16)
        tenant_id = peewee.IntegerField(null=True)
        failures = peewee.IntegerField(default=0)
        window_start = peewee.DateTimeField()
        locked_until = peewee.DateTimeField(null=True)
        hard_locked = peewee.BooleanField(default=False)
        updated_at = peewee.DateTimeField()

        class Meta:
            table_name = "login_throttles"

    db.create_tables([PasswordHistory, LoginThrottle], safe=False)


MIGRATIONS: list[tuple[int, str, Step]] = [
    (1, "tenants, users, signing keys", _initial),
    (2, "oauth clients", _oauth_clients),
    (3, "oauth grants, access and refresh tokens", _oauth_tokens),
    (4, "sign-in sessions, authorization codes, consents", _signin),
    (5, "security events", _security_events),
    (6, "mfa: totp, backup codes, sign-in challenges, amr", _mfa),
    (7, "password history, login throttles", _password_history_and_throttles),
]
LATEST = MIGRATIONS[-1][0]


def _applied_model(db: peewee.Database) -> Any:
    """The ``schema_migrations`` table, bound to ``db``.

    A fresh class per call: binding one module-level model with ``bind_ctx`` is process-global,
    so two threads upgrading two databases at once would run each other's queries (and deadlock
    SQLite against their own write lock).
    """

    class Applied(peewee.Model):
        version = peewee.IntegerField(primary_key=True)
        name = peewee.CharField(max_length=255)
        applied_at = peewee.DateTimeField()

        class Meta:
            database = db
            table_name = "schema_migrations"

    return Applied


def _serialize_upgraders(db: peewee.Database) -> None:
    """Inside a write transaction: make concurrent upgraders (two CLIs, two deploy hooks) take turns.
    SQLite's ``BEGIN IMMEDIATE`` already does; PostgreSQL needs an advisory lock."""
    if isinstance(db, peewee.PostgresqlDatabase):
        db.execute_sql("SELECT pg_advisory_xact_lock(727274)")  # type: ignore[no-untyped-call]


def current_version(db: peewee.Database) -> int:
    """Return the highest applied step, 0 for an empty database."""
    if not db.table_exists("schema_migrations"):
        return 0
    applied = _applied_model(db)
    value = applied.select(peewee.fn.MAX(applied.version)).scalar()
    return int(value or 0)


def upgrade(db: peewee.Database) -> list[int]:
    """Apply every pending step; return the versions applied. Safe to run concurrently."""
    applied_model = _applied_model(db)
    applied: list[int] = []
    with write_transaction(db):
        # Under the lock too: concurrent CREATE TABLE IF NOT EXISTS races on PostgreSQL's catalog
        # ("duplicate key value violates unique constraint pg_type_typname_nsp_index").
        _serialize_upgraders(db)
        db.create_tables([applied_model], safe=True)
    for version, name, step in MIGRATIONS:
        with write_transaction(db):
            _serialize_upgraders(db)
            if applied_model.get_or_none(applied_model.version == version) is not None:
                continue
            step(db)
            applied_model.create(version=version, name=name, applied_at=datetime.now(UTC).replace(tzinfo=None))
            applied.append(version)
    return applied

"""The schema as the migration steps built it, declared once and evolved.

``FrozenSchema(db, version)`` gives every table as it stood after step ``version``, bound to
``db``. Each table is declared once, as the step that created it left it (and listed in
``CREATED``); a later step's change is written into that declaration (``if self.version >= N:``
around an added column, the old and new definitions of a changed one, ``if self.version < N:``
around a dropped one), never by copying the table into the step. Steps take what they create or
alter from here instead of importing ``models.py``, so a model change cannot rewrite history.
``tests/storage/test_schema_drift.py`` checks the models against the upgraded database, and that a
database built from this base at any version upgrades to the same schema as an empty one (so a
step and its declaration agree).

Fresh classes per instance, bound through ``Meta.database``: binding module-level models with
``bind_ctx`` is process-global, so two threads upgrading two databases at once would run each
other's queries.
"""

from __future__ import annotations

from functools import cached_property
from typing import Any

import peewee

# The step that created each table (declared below in the same order).
CREATED: dict[int, tuple[str, ...]] = {
    1: ("Tenant", "User", "SigningKey"),
    2: ("OAuthClient",),
    3: ("OAuthGrant", "OAuthAccessToken", "OAuthRefreshToken"),
    4: ("UserSession", "OAuthCode", "OAuthConsent"),
    5: ("SecurityEvent",),
    6: ("UserMfa", "MfaBackupCode", "MfaChallenge"),
    7: ("PasswordHistory", "LoginThrottle"),
    8: ("EmailChange",),
    9: ("ExternalIssuer",),
    10: (
        "PiiCategory",
        "PurposeCategory",
        "Purpose",
        "PurposePii",
        "Receipt",
        "ReceiptService",
        "ReceiptPurpose",
        "ReceiptPurposeCategory",
        "ReceiptPii",
    ),
    12: ("RecoveryFlow",),
    13: ("UserValue",),
    14: ("Group", "GroupMember"),
    16: ("MailOutbox",),
    18: ("TrustedDevice", "SecurityAlert"),
    19: ("WebauthnCredential", "WebauthnChallenge"),
    20: ("TenantUserCount",),
}


class FrozenSchema:
    """The tables of the schema at ``version``, as peewee models bound to ``db``: each declared on
    first use, so a step pays only for the tables it touches and the ones they reference."""

    def __init__(self, db: peewee.Database, version: int) -> None:
        self._db = db
        self.version = version

    def tables(self) -> list[Any]:
        """The tables that existed after step ``version``, in the order the steps created them."""
        return [getattr(self, name) for step, names in CREATED.items() if step <= self.version for name in names]

    # 1: tenants, users, signing keys

    @cached_property
    def Tenant(self) -> Any:
        class Tenant(peewee.Model):
            id = peewee.AutoField()
            name = peewee.CharField(max_length=255, unique=True)
            dialect = peewee.CharField(max_length=16, default="wso2")
            settings = peewee.TextField(default="{}")
            created_at = peewee.DateTimeField()

            class Meta:
                database = self._db
                table_name = "tenants"

        return Tenant

    @cached_property
    def User(self) -> Any:
        class User(peewee.Model):
            id = peewee.CharField(max_length=36, primary_key=True)
            tenant = peewee.ForeignKeyField(self.Tenant, on_delete="CASCADE", column_name="tenant_id")
            user_name = peewee.CharField(max_length=255)
            user_name_key = peewee.CharField(max_length=255)
            if self.version >= 11:
                user_name_skeleton = peewee.CharField(max_length=255, null=True)
            password_hash = peewee.TextField(null=True)
            password_changed_at = peewee.DateTimeField(null=True)
            profile = peewee.TextField(default="{}")
            version = peewee.IntegerField(default=1)
            created_at = peewee.DateTimeField()
            updated_at = peewee.DateTimeField()
            if self.version >= 13:
                search = peewee.TextField(null=True)

            class Meta:
                database = self._db
                table_name = "users"
                indexes = (
                    ((("tenant", "user_name_key"), True),)
                    + (((("tenant", "user_name_skeleton"), True),) if self.version >= 11 else ())
                    + (((("tenant", "created_at", "id"), False),) if self.version >= 13 else ())
                    + (((("tenant", "id"), False),) if self.version >= 21 else ())
                )

        return User

    @cached_property
    def SigningKey(self) -> Any:
        class SigningKey(peewee.Model):
            kid = peewee.CharField(max_length=64, primary_key=True)
            tenant = peewee.ForeignKeyField(self.Tenant, on_delete="CASCADE", column_name="tenant_id")
            alg = peewee.CharField(max_length=16)
            public_jwk = peewee.TextField()
            private_key = peewee.TextField()
            active = peewee.BooleanField(default=True)
            created_at = peewee.DateTimeField()

            class Meta:
                database = self._db
                table_name = "signing_keys"

        return SigningKey

    # 2: OAuth clients

    @cached_property
    def OAuthClient(self) -> Any:
        class OAuthClient(peewee.Model):
            id = peewee.AutoField()
            tenant = peewee.ForeignKeyField(self.Tenant, on_delete="CASCADE", column_name="tenant_id")
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
            if self.version >= 17:
                discoverable = peewee.BooleanField(default=False)
                access_url = peewee.CharField(max_length=2048, null=True)

            class Meta:
                database = self._db
                table_name = "oauth_clients"

        return OAuthClient

    # 3: OAuth grants, access and refresh tokens

    @cached_property
    def OAuthGrant(self) -> Any:
        class OAuthGrant(peewee.Model):
            id = peewee.CharField(max_length=36, primary_key=True)
            tenant = peewee.ForeignKeyField(self.Tenant, on_delete="CASCADE", column_name="tenant_id")
            client = peewee.ForeignKeyField(self.OAuthClient, on_delete="CASCADE", column_name="client_pk")
            user = peewee.ForeignKeyField(self.User, null=True, on_delete="CASCADE", column_name="user_id")
            session_id = peewee.CharField(max_length=64, null=True, index=True)
            scope = peewee.TextField(default="")
            created_at = peewee.DateTimeField()
            revoked_at = peewee.DateTimeField(null=True)

            class Meta:
                database = self._db
                table_name = "oauth_grants"

        return OAuthGrant

    @cached_property
    def OAuthAccessToken(self) -> Any:
        class OAuthAccessToken(peewee.Model):
            jti = peewee.CharField(max_length=64, primary_key=True)
            grant = peewee.ForeignKeyField(self.OAuthGrant, on_delete="CASCADE", column_name="grant_id")
            expires_at = peewee.DateTimeField()
            revoked_at = peewee.DateTimeField(null=True)

            class Meta:
                database = self._db
                table_name = "oauth_access_tokens"

        return OAuthAccessToken

    @cached_property
    def OAuthRefreshToken(self) -> Any:
        class OAuthRefreshToken(peewee.Model):
            token_hash = peewee.CharField(max_length=64, primary_key=True)
            grant = peewee.ForeignKeyField(self.OAuthGrant, on_delete="CASCADE", column_name="grant_id")
            expires_at = peewee.DateTimeField()
            used_at = peewee.DateTimeField(null=True)
            created_at = peewee.DateTimeField()

            class Meta:
                database = self._db
                table_name = "oauth_refresh_tokens"

        return OAuthRefreshToken

    # 4: sign-in sessions, authorization codes, consents

    @cached_property
    def UserSession(self) -> Any:
        class UserSession(peewee.Model):
            id = peewee.CharField(max_length=36, primary_key=True)
            tenant = peewee.ForeignKeyField(self.Tenant, on_delete="CASCADE", column_name="tenant_id")
            user = peewee.ForeignKeyField(self.User, on_delete="CASCADE", column_name="user_id")
            secret_hash = peewee.CharField(max_length=64, unique=True)
            user_agent = peewee.CharField(max_length=512, default="")
            ip = peewee.CharField(max_length=64, default="")
            login_time = peewee.DateTimeField()
            last_access = peewee.DateTimeField()
            ended_at = peewee.DateTimeField(null=True)
            if self.version >= 6:
                amr = peewee.CharField(max_length=64, default="pwd")
            if self.version >= 18:
                device_id = peewee.CharField(max_length=36, null=True)

            class Meta:
                database = self._db
                table_name = "user_sessions"

        return UserSession

    @cached_property
    def OAuthCode(self) -> Any:
        class OAuthCode(peewee.Model):
            code_hash = peewee.CharField(max_length=64, primary_key=True)
            tenant = peewee.ForeignKeyField(self.Tenant, on_delete="CASCADE", column_name="tenant_id")
            client = peewee.ForeignKeyField(self.OAuthClient, on_delete="CASCADE", column_name="client_pk")
            user = peewee.ForeignKeyField(self.User, on_delete="CASCADE", column_name="user_id")
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
            if self.version >= 6:
                amr = peewee.CharField(max_length=64, default="pwd")

            class Meta:
                database = self._db
                table_name = "oauth_codes"

        return OAuthCode

    @cached_property
    def OAuthConsent(self) -> Any:
        class OAuthConsent(peewee.Model):
            id = peewee.AutoField()
            tenant = peewee.ForeignKeyField(self.Tenant, on_delete="CASCADE", column_name="tenant_id")
            user = peewee.ForeignKeyField(self.User, on_delete="CASCADE", column_name="user_id")
            client = peewee.ForeignKeyField(self.OAuthClient, on_delete="CASCADE", column_name="client_pk")
            scope = peewee.TextField(default="")
            granted_at = peewee.DateTimeField()

            class Meta:
                database = self._db
                table_name = "oauth_consents"
                indexes = ((("user", "client"), True),)

        return OAuthConsent

    # 5: security events

    @cached_property
    def SecurityEvent(self) -> Any:
        class SecurityEvent(peewee.Model):
            id = peewee.BigAutoField()
            tenant = peewee.ForeignKeyField(self.Tenant, on_delete="CASCADE", column_name="tenant_id")
            user = peewee.ForeignKeyField(self.User, on_delete="CASCADE", column_name="user_id")
            kind = peewee.CharField(max_length=64)
            occurred_at = peewee.DateTimeField()
            ip = peewee.CharField(max_length=64, default="")
            user_agent = peewee.CharField(max_length=512, default="")
            client_id = peewee.CharField(max_length=64, null=True)
            details = peewee.TextField(default="{}")

            class Meta:
                database = self._db
                table_name = "security_events"
                indexes = ((("user", "occurred_at"), False),)

        return SecurityEvent

    # 6: MFA (also adds ``amr`` to sessions and codes, above)

    @cached_property
    def UserMfa(self) -> Any:
        class UserMfa(peewee.Model):
            user = peewee.ForeignKeyField(self.User, primary_key=True, on_delete="CASCADE", column_name="user_id")
            tenant = peewee.ForeignKeyField(self.Tenant, on_delete="CASCADE", column_name="tenant_id")
            totp_secret = peewee.TextField(null=True)
            totp_pending = peewee.TextField(null=True)
            totp_enabled_at = peewee.DateTimeField(null=True)
            last_used_step = peewee.BigIntegerField(null=True)
            failures = peewee.IntegerField(default=0)
            locked_until = peewee.DateTimeField(null=True)
            enabled_authenticators = peewee.CharField(max_length=512, null=True)
            updated_at = peewee.DateTimeField()

            class Meta:
                database = self._db
                table_name = "user_mfa"

        return UserMfa

    @cached_property
    def MfaBackupCode(self) -> Any:
        class MfaBackupCode(peewee.Model):
            id = peewee.AutoField()
            tenant = peewee.ForeignKeyField(self.Tenant, on_delete="CASCADE", column_name="tenant_id")
            user = peewee.ForeignKeyField(self.User, on_delete="CASCADE", column_name="user_id")
            digest = peewee.CharField(max_length=64)
            created_at = peewee.DateTimeField()
            used_at = peewee.DateTimeField(null=True)

            class Meta:
                database = self._db
                table_name = "mfa_backup_codes"
                indexes = ((("user", "digest"), True),)

        return MfaBackupCode

    @cached_property
    def MfaChallenge(self) -> Any:
        class MfaChallenge(peewee.Model):
            id_hash = peewee.CharField(max_length=64, primary_key=True)
            tenant = peewee.ForeignKeyField(self.Tenant, on_delete="CASCADE", column_name="tenant_id")
            user = peewee.ForeignKeyField(self.User, on_delete="CASCADE", column_name="user_id")
            client_id = peewee.CharField(max_length=64)
            attempts = peewee.IntegerField(default=0)
            created_at = peewee.DateTimeField()
            expires_at = peewee.DateTimeField()
            completed_at = peewee.DateTimeField(null=True)

            class Meta:
                database = self._db
                table_name = "mfa_challenges"

        return MfaChallenge

    # 7: password history, login throttles

    @cached_property
    def PasswordHistory(self) -> Any:
        class PasswordHistory(peewee.Model):
            id = peewee.BigAutoField()
            tenant = peewee.ForeignKeyField(self.Tenant, on_delete="CASCADE", column_name="tenant_id")
            user = peewee.ForeignKeyField(self.User, on_delete="CASCADE", column_name="user_id")
            password_hash = peewee.TextField()
            created_at = peewee.DateTimeField()

            class Meta:
                database = self._db
                table_name = "password_history"
                indexes = ((("user", "created_at"), False),)

        return PasswordHistory

    @cached_property
    def LoginThrottle(self) -> Any:
        class LoginThrottle(peewee.Model):
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
                database = self._db
                table_name = "login_throttles"

        return LoginThrottle

    # 8: pending e-mail changes

    @cached_property
    def EmailChange(self) -> Any:
        class EmailChange(peewee.Model):
            id = peewee.CharField(max_length=36, primary_key=True)
            tenant = peewee.ForeignKeyField(self.Tenant, on_delete="CASCADE", column_name="tenant_id")
            # unique: one pending change per user; a new request replaces the old one (upsert)
            user = peewee.ForeignKeyField(self.User, on_delete="CASCADE", column_name="user_id", unique=True)
            address = peewee.CharField(max_length=254)
            email_type = peewee.CharField(max_length=32, null=True)
            make_primary = peewee.BooleanField(default=True)
            flagged_primary = peewee.BooleanField(default=False)
            removes = peewee.TextField(default="[]")
            previous = peewee.CharField(max_length=254, null=True)
            code_hash = peewee.CharField(max_length=64, unique=True)
            created_at = peewee.DateTimeField()
            expires_at = peewee.DateTimeField()
            ip = peewee.CharField(max_length=64, default="")
            user_agent = peewee.CharField(max_length=512, default="")

            class Meta:
                database = self._db
                table_name = "email_changes"

        return EmailChange

    # 9: external token issuers

    @cached_property
    def ExternalIssuer(self) -> Any:
        class ExternalIssuer(peewee.Model):
            id = peewee.AutoField()
            tenant = peewee.ForeignKeyField(self.Tenant, on_delete="CASCADE", column_name="tenant_id")
            issuer = peewee.CharField(max_length=512)
            jwks_uri = peewee.TextField(null=True)
            jwks = peewee.TextField(null=True)
            audience = peewee.CharField(max_length=512)
            user_claim = peewee.CharField(max_length=64, default="sub")
            user_attribute = peewee.CharField(max_length=64, default="userName")
            scope_claim = peewee.CharField(max_length=64, default="scope")
            algorithms = peewee.TextField(default="[]")
            scope_map = peewee.TextField(default="{}")
            created_at = peewee.DateTimeField()

            class Meta:
                database = self._db
                table_name = "external_issuers"
                indexes = ((("tenant", "issuer"), True),)

        return ExternalIssuer

    # 10: consent management. Foreign keys without ``on_delete`` are NO ACTION on purpose:

    # metadata a receipt or purpose refers to cannot be deleted.

    @cached_property
    def PiiCategory(self) -> Any:
        class PiiCategory(peewee.Model):
            id = peewee.AutoField()
            tenant = peewee.ForeignKeyField(self.Tenant, on_delete="CASCADE", column_name="tenant_id")
            name = peewee.CharField(max_length=255)
            description = peewee.TextField(default="")
            display_name = peewee.CharField(max_length=255, null=True)
            sensitive = peewee.BooleanField(default=False)
            created_at = peewee.DateTimeField()

            class Meta:
                database = self._db
                table_name = "consent_pii_categories"
                indexes = ((("tenant", "name"), True),)

        return PiiCategory

    @cached_property
    def PurposeCategory(self) -> Any:
        class PurposeCategory(peewee.Model):
            id = peewee.AutoField()
            tenant = peewee.ForeignKeyField(self.Tenant, on_delete="CASCADE", column_name="tenant_id")
            name = peewee.CharField(max_length=255)
            description = peewee.TextField(default="")
            created_at = peewee.DateTimeField()

            class Meta:
                database = self._db
                table_name = "consent_purpose_categories"
                indexes = ((("tenant", "name"), True),)

        return PurposeCategory

    @cached_property
    def Purpose(self) -> Any:
        class Purpose(peewee.Model):
            id = peewee.AutoField()
            tenant = peewee.ForeignKeyField(self.Tenant, on_delete="CASCADE", column_name="tenant_id")
            name = peewee.CharField(max_length=255)
            description = peewee.TextField(default="")
            group_name = peewee.CharField(max_length=255)
            group_type = peewee.CharField(max_length=255)
            created_at = peewee.DateTimeField()

            class Meta:
                database = self._db
                table_name = "consent_purposes"
                indexes = ((("tenant", "name", "group_name", "group_type"), True),)

        return Purpose

    @cached_property
    def PurposePii(self) -> Any:
        class PurposePii(peewee.Model):
            id = peewee.AutoField()
            purpose = peewee.ForeignKeyField(self.Purpose, on_delete="CASCADE", column_name="purpose_id")
            pii_category = peewee.ForeignKeyField(self.PiiCategory, column_name="pii_category_id")
            mandatory = peewee.BooleanField(default=False)

            class Meta:
                database = self._db
                table_name = "consent_purpose_pii"
                indexes = ((("purpose", "pii_category"), True),)

        return PurposePii

    @cached_property
    def Receipt(self) -> Any:
        class Receipt(peewee.Model):
            id = peewee.CharField(max_length=36, primary_key=True)
            tenant = peewee.ForeignKeyField(self.Tenant, on_delete="CASCADE", column_name="tenant_id")
            user = peewee.ForeignKeyField(self.User, on_delete="CASCADE", column_name="user_id")
            pii_principal_id = peewee.CharField(max_length=255)
            collection_method = peewee.CharField(max_length=255)
            jurisdiction = peewee.CharField(max_length=255)
            language = peewee.CharField(max_length=64)
            policy_url = peewee.TextField()
            state = peewee.CharField(max_length=16)
            created_at = peewee.DateTimeField()
            expires_at = peewee.DateTimeField(null=True)
            revoked_at = peewee.DateTimeField(null=True)
            version = peewee.IntegerField(default=1)
            properties = peewee.TextField(default="[]")

            class Meta:
                database = self._db
                table_name = "consent_receipts"
                indexes = ((("tenant", "user", "state"), False),)

        return Receipt

    @cached_property
    def ReceiptService(self) -> Any:
        class ReceiptService(peewee.Model):
            id = peewee.AutoField()
            receipt = peewee.ForeignKeyField(self.Receipt, on_delete="CASCADE", column_name="receipt_id")
            position = peewee.IntegerField()
            service = peewee.CharField(max_length=255)
            display_name = peewee.CharField(max_length=255, null=True)
            description = peewee.TextField(null=True)
            tenant_domain = peewee.CharField(max_length=255)

            class Meta:
                database = self._db
                table_name = "consent_receipt_services"
                indexes = ((("service",), False),)

        return ReceiptService

    @cached_property
    def ReceiptPurpose(self) -> Any:
        class ReceiptPurpose(peewee.Model):
            id = peewee.AutoField()
            receipt_service = peewee.ForeignKeyField(
                self.ReceiptService, on_delete="CASCADE", column_name="receipt_service_id"
            )
            position = peewee.IntegerField()
            purpose = peewee.ForeignKeyField(self.Purpose, column_name="purpose_id")
            consent_type = peewee.CharField(max_length=64)
            primary_purpose = peewee.BooleanField()
            termination = peewee.CharField(max_length=255)
            third_party_disclosure = peewee.BooleanField()
            third_party_name = peewee.CharField(max_length=255, null=True)

            class Meta:
                database = self._db
                table_name = "consent_receipt_purposes"

        return ReceiptPurpose

    @cached_property
    def ReceiptPurposeCategory(self) -> Any:
        class ReceiptPurposeCategory(peewee.Model):
            id = peewee.AutoField()
            receipt_purpose = peewee.ForeignKeyField(
                self.ReceiptPurpose, on_delete="CASCADE", column_name="receipt_purpose_id"
            )
            purpose_category = peewee.ForeignKeyField(self.PurposeCategory, column_name="purpose_category_id")

            class Meta:
                database = self._db
                table_name = "consent_receipt_purpose_categories"

        return ReceiptPurposeCategory

    @cached_property
    def ReceiptPii(self) -> Any:
        class ReceiptPii(peewee.Model):
            id = peewee.AutoField()
            receipt_purpose = peewee.ForeignKeyField(
                self.ReceiptPurpose, on_delete="CASCADE", column_name="receipt_purpose_id"
            )
            pii_category = peewee.ForeignKeyField(self.PiiCategory, column_name="pii_category_id")
            position = peewee.IntegerField()
            validity = peewee.CharField(max_length=255)

            class Meta:
                database = self._db
                table_name = "consent_receipt_pii"

        return ReceiptPii

    # 12: account recovery flows

    @cached_property
    def RecoveryFlow(self) -> Any:
        class RecoveryFlow(peewee.Model):
            id = peewee.CharField(max_length=36, primary_key=True)
            tenant = peewee.ForeignKeyField(self.Tenant, on_delete="CASCADE", column_name="tenant_id")
            user = peewee.ForeignKeyField(self.User, null=True, on_delete="CASCADE", column_name="user_id")
            account_key = peewee.CharField(max_length=64, index=True)
            kind = peewee.CharField(max_length=16)
            step = peewee.CharField(max_length=16)
            recovery_code_hash = peewee.CharField(max_length=64, null=True, unique=True)
            flow_code_hash = peewee.CharField(max_length=64, null=True, unique=True)
            resend_code_hash = peewee.CharField(max_length=64, null=True, unique=True)
            reset_code_hash = peewee.CharField(max_length=64, null=True, unique=True)
            otp_hash = peewee.CharField(max_length=64, null=True)
            attempts = peewee.IntegerField(default=0)
            return_to = peewee.TextField(null=True)
            created_at = peewee.DateTimeField()
            expires_at = peewee.DateTimeField()
            ip = peewee.CharField(max_length=64, default="")

            class Meta:
                database = self._db
                table_name = "recovery_flows"

        return RecoveryFlow

    # 13: searchable values

    @cached_property
    def UserValue(self) -> Any:
        # Code point order on PostgreSQL too (SQLite's BINARY is already), as the filters compare.
        c = None if isinstance(self._db, peewee.SqliteDatabase) else '"C"'

        class UserValue(peewee.Model):
            tenant_id = peewee.IntegerField()
            user = peewee.ForeignKeyField(self.User, on_delete="CASCADE", column_name="user_id")
            attr = peewee.CharField(max_length=255)
            sub = peewee.CharField(max_length=255)
            pos = peewee.IntegerField()
            exact = peewee.TextField(null=True, collation=c)
            folded = peewee.TextField(null=True, collation=c)
            head = peewee.CharField(max_length=128, null=True, collation=c)
            if self.version >= 21:
                exact_head = peewee.CharField(max_length=128, null=True, collation=c)
            num = peewee.DoubleField(null=True)
            flag = peewee.BooleanField(null=True)
            instant = peewee.CharField(max_length=32, null=True)

            class Meta:
                database = self._db
                table_name = "user_values"
                primary_key = False
                indexes = (
                    (("tenant_id", "attr", "sub", "head"), False)
                    if self.version < 21
                    else (("tenant_id", "attr", "sub", "head", "user"), False),
                    (("user", "attr", "pos"), False),
                )

        if self.version >= 21:
            # The sort indexes of the other sort columns hold only the rows with such a value.
            for column in ("num", "flag", "instant"):
                field = getattr(UserValue, column)
                fields = [UserValue.tenant_id, UserValue.attr, UserValue.sub, field, UserValue.user]
                UserValue.add_index(UserValue.index(*fields, where=field.is_null(False)))
        return UserValue

    # 14: groups and their members (one row per membership)

    @cached_property
    def Group(self) -> Any:
        class Group(peewee.Model):
            id = peewee.CharField(max_length=36, primary_key=True)
            tenant = peewee.ForeignKeyField(self.Tenant, on_delete="CASCADE", column_name="tenant_id")
            display_name = peewee.CharField(max_length=255)
            display_key = peewee.CharField(max_length=255)
            external_id = peewee.CharField(max_length=255, null=True)
            version = peewee.IntegerField(default=1)
            created_at = peewee.DateTimeField()
            updated_at = peewee.DateTimeField()

            class Meta:
                database = self._db
                table_name = "scim_groups"
                indexes = ((("tenant", "display_key"), True),)

        return Group

    @cached_property
    def GroupMember(self) -> Any:
        class GroupMember(peewee.Model):
            id = peewee.BigAutoField()
            group = peewee.ForeignKeyField(self.Group, on_delete="CASCADE", column_name="group_id")
            user = peewee.ForeignKeyField(self.User, on_delete="CASCADE", column_name="user_id")
            tenant = peewee.ForeignKeyField(self.Tenant, on_delete="CASCADE", column_name="tenant_id")
            added_at = peewee.DateTimeField()

            class Meta:
                database = self._db
                table_name = "scim_group_members"
                indexes = ((("group", "user"), True),)

        return GroupMember

    # 16: the durable mail outbox

    @cached_property
    def MailOutbox(self) -> Any:
        class MailOutbox(peewee.Model):
            id = peewee.BigAutoField()
            kind = peewee.CharField(max_length=64)
            recipient = peewee.CharField(max_length=320)
            subject = peewee.TextField()
            body = peewee.TextField()
            state = peewee.CharField(max_length=16, default="pending")
            attempts = peewee.IntegerField(default=0)
            created_at = peewee.DateTimeField()
            next_attempt_at = peewee.DateTimeField()
            claimed_at = peewee.DateTimeField(null=True)
            sent_at = peewee.DateTimeField(null=True)
            last_error = peewee.CharField(max_length=255, default="")

            class Meta:
                database = self._db
                table_name = "mail_outbox"
                indexes = ((("state", "next_attempt_at"), False),)

        return MailOutbox

    # 18: trusted devices and security alerts

    @cached_property
    def TrustedDevice(self) -> Any:
        class TrustedDevice(peewee.Model):
            id = peewee.CharField(max_length=36, primary_key=True)
            tenant = peewee.ForeignKeyField(self.Tenant, on_delete="CASCADE", column_name="tenant_id")
            user = peewee.ForeignKeyField(self.User, on_delete="CASCADE", column_name="user_id")
            token_hash = peewee.CharField(max_length=64, unique=True)
            name = peewee.CharField(max_length=255)
            user_agent = peewee.CharField(max_length=512, default="")
            created_at = peewee.DateTimeField()
            last_used_at = peewee.DateTimeField()
            last_ip = peewee.CharField(max_length=64, default="")
            expires_at = peewee.DateTimeField()

            class Meta:
                database = self._db
                table_name = "trusted_devices"
                indexes = ((("user", "expires_at"), False),)

        return TrustedDevice

    @cached_property
    def SecurityAlert(self) -> Any:
        class SecurityAlert(peewee.Model):
            id = peewee.CharField(max_length=36, primary_key=True)
            tenant = peewee.ForeignKeyField(self.Tenant, on_delete="CASCADE", column_name="tenant_id")
            user = peewee.ForeignKeyField(self.User, on_delete="CASCADE", column_name="user_id")
            type = peewee.CharField(max_length=32)
            dedupe_key = peewee.CharField(max_length=128, unique=True)
            event_id = peewee.BigIntegerField(null=True)
            raised_at = peewee.DateTimeField()
            acknowledged_at = peewee.DateTimeField(null=True)
            ip = peewee.CharField(max_length=64, default="")
            user_agent = peewee.CharField(max_length=512, default="")
            details = peewee.TextField(default="{}")
            action_hash = peewee.CharField(max_length=64, null=True, unique=True)
            action_expires_at = peewee.DateTimeField(null=True)

            class Meta:
                database = self._db
                table_name = "security_alerts"
                indexes = ((("user", "raised_at"), False),)

        return SecurityAlert

    # 19: passkeys (WebAuthn credentials and their single-use ceremonies)

    @cached_property
    def WebauthnCredential(self) -> Any:
        class WebauthnCredential(peewee.Model):
            id = peewee.BigAutoField()
            tenant = peewee.ForeignKeyField(self.Tenant, on_delete="CASCADE", column_name="tenant_id")
            user = peewee.ForeignKeyField(self.User, on_delete="CASCADE", column_name="user_id")
            credential_id = peewee.CharField(max_length=1400)
            public_key = peewee.TextField()
            sign_count = peewee.BigIntegerField(default=0)
            display_name = peewee.CharField(max_length=255, default="")
            discoverable = peewee.BooleanField(default=False)
            user_verified = peewee.BooleanField(default=False)
            backup_eligible = peewee.BooleanField(default=False)
            aaguid = peewee.CharField(max_length=36, default="")
            transports = peewee.CharField(max_length=255, default="")
            created_at = peewee.DateTimeField()
            last_used_at = peewee.DateTimeField(null=True)

            class Meta:
                database = self._db
                table_name = "passkey_credentials"
                indexes = ((("tenant", "credential_id"), True),)

        return WebauthnCredential

    @cached_property
    def WebauthnChallenge(self) -> Any:
        class WebauthnChallenge(peewee.Model):
            id_hash = peewee.CharField(max_length=64, primary_key=True)
            tenant = peewee.ForeignKeyField(self.Tenant, on_delete="CASCADE", column_name="tenant_id")
            user = peewee.ForeignKeyField(self.User, null=True, on_delete="CASCADE", column_name="user_id")
            purpose = peewee.CharField(max_length=32)
            challenge = peewee.CharField(max_length=128)
            origin = peewee.CharField(max_length=512, default="")
            client_id = peewee.CharField(max_length=64, default="")
            created_at = peewee.DateTimeField()
            expires_at = peewee.DateTimeField()
            used_at = peewee.DateTimeField(null=True)

            class Meta:
                database = self._db
                table_name = "passkey_challenges"
                indexes = ((("expires_at",), False),)

        return WebauthnChallenge

    # 20: each tenant's number of users, kept by triggers

    @cached_property
    def TenantUserCount(self) -> Any:
        class TenantUserCount(peewee.Model):
            tenant = peewee.ForeignKeyField(self.Tenant, primary_key=True, on_delete="CASCADE", column_name="tenant_id")
            users = peewee.BigIntegerField(default=0)

            class Meta:
                database = self._db
                table_name = "tenant_user_counts"

        return TenantUserCount

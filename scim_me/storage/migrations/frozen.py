"""The schema as the migration steps built it, declared once and evolved.

``FrozenSchema(db, version)`` declares every table as it stood after step ``version``, bound to
``db``. Each table is declared once, as the step that created it left it; a later step's change is
written into that declaration (``if schema_version >= N:`` around an added column, the old and new
definitions of a changed one, ``if schema_version < N:`` around a dropped one), never by copying
the table into the step. Steps take what they create or alter from here instead of importing
``models.py``, so a model change cannot rewrite history. ``tests/storage/test_schema_drift.py``
checks the models against the upgraded database, and that a database built from this base at any
version upgrades to the same schema as an empty one (so a step and its declaration agree).

Fresh classes per call, bound through ``Meta.database``: binding module-level models with
``bind_ctx`` is process-global, so two threads upgrading two databases at once would run each
other's queries.
"""

from __future__ import annotations

import peewee


class FrozenSchema:
    """Every table of the schema at ``version``, as peewee models bound to ``db``."""

    def __init__(self, db: peewee.Database, version: int) -> None:
        self.version = version
        # Named so no column shadows it inside a class body (``users.version`` does).
        schema_version = version

        class Frozen(peewee.Model):
            class Meta:
                database = db

        # 1: tenants, users, signing keys

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

        # 2: OAuth clients

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

        # 3: OAuth grants, access and refresh tokens

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

        # 4: sign-in sessions, authorization codes, consents

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
            if schema_version >= 6:
                amr = peewee.CharField(max_length=64, default="pwd")

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
            if schema_version >= 6:
                amr = peewee.CharField(max_length=64, default="pwd")

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

        # 5: security events

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

        # 6: MFA (also adds ``amr`` to sessions and codes, above)

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

        # 7: password history, login throttles

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

        # 8: pending e-mail changes

        class EmailChange(Frozen):
            id = peewee.CharField(max_length=36, primary_key=True)
            tenant = peewee.ForeignKeyField(Tenant, on_delete="CASCADE", column_name="tenant_id")
            # unique: one pending change per user; a new request replaces the old one (upsert)
            user = peewee.ForeignKeyField(User, on_delete="CASCADE", column_name="user_id", unique=True)
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
                table_name = "email_changes"

        # 9: external token issuers

        class ExternalIssuer(Frozen):
            id = peewee.AutoField()
            tenant = peewee.ForeignKeyField(Tenant, on_delete="CASCADE", column_name="tenant_id")
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
                table_name = "external_issuers"
                indexes = ((("tenant", "issuer"), True),)

        # 10: consent management. Foreign keys without ``on_delete`` are NO ACTION on purpose:
        # metadata a receipt or purpose refers to cannot be deleted.

        class PiiCategory(Frozen):
            id = peewee.AutoField()
            tenant = peewee.ForeignKeyField(Tenant, on_delete="CASCADE", column_name="tenant_id")
            name = peewee.CharField(max_length=255)
            description = peewee.TextField(default="")
            display_name = peewee.CharField(max_length=255, null=True)
            sensitive = peewee.BooleanField(default=False)
            created_at = peewee.DateTimeField()

            class Meta:
                table_name = "consent_pii_categories"
                indexes = ((("tenant", "name"), True),)

        class PurposeCategory(Frozen):
            id = peewee.AutoField()
            tenant = peewee.ForeignKeyField(Tenant, on_delete="CASCADE", column_name="tenant_id")
            name = peewee.CharField(max_length=255)
            description = peewee.TextField(default="")
            created_at = peewee.DateTimeField()

            class Meta:
                table_name = "consent_purpose_categories"
                indexes = ((("tenant", "name"), True),)

        class Purpose(Frozen):
            id = peewee.AutoField()
            tenant = peewee.ForeignKeyField(Tenant, on_delete="CASCADE", column_name="tenant_id")
            name = peewee.CharField(max_length=255)
            description = peewee.TextField(default="")
            group_name = peewee.CharField(max_length=255)
            group_type = peewee.CharField(max_length=255)
            created_at = peewee.DateTimeField()

            class Meta:
                table_name = "consent_purposes"
                indexes = ((("tenant", "name", "group_name", "group_type"), True),)

        class PurposePii(Frozen):
            id = peewee.AutoField()
            purpose = peewee.ForeignKeyField(Purpose, on_delete="CASCADE", column_name="purpose_id")
            pii_category = peewee.ForeignKeyField(PiiCategory, column_name="pii_category_id")
            mandatory = peewee.BooleanField(default=False)

            class Meta:
                table_name = "consent_purpose_pii"
                indexes = ((("purpose", "pii_category"), True),)

        class Receipt(Frozen):
            id = peewee.CharField(max_length=36, primary_key=True)
            tenant = peewee.ForeignKeyField(Tenant, on_delete="CASCADE", column_name="tenant_id")
            user = peewee.ForeignKeyField(User, on_delete="CASCADE", column_name="user_id")
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
                table_name = "consent_receipts"
                indexes = ((("tenant", "user", "state"), False),)

        class ReceiptService(Frozen):
            id = peewee.AutoField()
            receipt = peewee.ForeignKeyField(Receipt, on_delete="CASCADE", column_name="receipt_id")
            position = peewee.IntegerField()
            service = peewee.CharField(max_length=255)
            display_name = peewee.CharField(max_length=255, null=True)
            description = peewee.TextField(null=True)
            tenant_domain = peewee.CharField(max_length=255)

            class Meta:
                table_name = "consent_receipt_services"
                indexes = ((("service",), False),)

        class ReceiptPurpose(Frozen):
            id = peewee.AutoField()
            receipt_service = peewee.ForeignKeyField(
                ReceiptService, on_delete="CASCADE", column_name="receipt_service_id"
            )
            position = peewee.IntegerField()
            purpose = peewee.ForeignKeyField(Purpose, column_name="purpose_id")
            consent_type = peewee.CharField(max_length=64)
            primary_purpose = peewee.BooleanField()
            termination = peewee.CharField(max_length=255)
            third_party_disclosure = peewee.BooleanField()
            third_party_name = peewee.CharField(max_length=255, null=True)

            class Meta:
                table_name = "consent_receipt_purposes"

        class ReceiptPurposeCategory(Frozen):
            id = peewee.AutoField()
            receipt_purpose = peewee.ForeignKeyField(
                ReceiptPurpose, on_delete="CASCADE", column_name="receipt_purpose_id"
            )
            purpose_category = peewee.ForeignKeyField(PurposeCategory, column_name="purpose_category_id")

            class Meta:
                table_name = "consent_receipt_purpose_categories"

        class ReceiptPii(Frozen):
            id = peewee.AutoField()
            receipt_purpose = peewee.ForeignKeyField(
                ReceiptPurpose, on_delete="CASCADE", column_name="receipt_purpose_id"
            )
            pii_category = peewee.ForeignKeyField(PiiCategory, column_name="pii_category_id")
            position = peewee.IntegerField()
            validity = peewee.CharField(max_length=255)

            class Meta:
                table_name = "consent_receipt_pii"

        self.Tenant = Tenant
        self.User = User
        self.SigningKey = SigningKey
        self.OAuthClient = OAuthClient
        self.OAuthGrant = OAuthGrant
        self.OAuthAccessToken = OAuthAccessToken
        self.OAuthRefreshToken = OAuthRefreshToken
        self.UserSession = UserSession
        self.OAuthCode = OAuthCode
        self.OAuthConsent = OAuthConsent
        self.SecurityEvent = SecurityEvent
        self.UserMfa = UserMfa
        self.MfaBackupCode = MfaBackupCode
        self.MfaChallenge = MfaChallenge
        self.PasswordHistory = PasswordHistory
        self.LoginThrottle = LoginThrottle
        self.EmailChange = EmailChange
        self.ExternalIssuer = ExternalIssuer
        self.PiiCategory = PiiCategory
        self.PurposeCategory = PurposeCategory
        self.Purpose = Purpose
        self.PurposePii = PurposePii
        self.Receipt = Receipt
        self.ReceiptService = ReceiptService
        self.ReceiptPurpose = ReceiptPurpose
        self.ReceiptPurposeCategory = ReceiptPurposeCategory
        self.ReceiptPii = ReceiptPii
        # The step that created each table: what existed at ``version`` (see ``tables``).
        self._created: dict[int, list[type[peewee.Model]]] = {
            1: [Tenant, User, SigningKey],
            2: [OAuthClient],
            3: [OAuthGrant, OAuthAccessToken, OAuthRefreshToken],
            4: [UserSession, OAuthCode, OAuthConsent],
            5: [SecurityEvent],
            6: [UserMfa, MfaBackupCode, MfaChallenge],
            7: [PasswordHistory, LoginThrottle],
            8: [EmailChange],
            9: [ExternalIssuer],
            10: [
                PiiCategory,
                PurposeCategory,
                Purpose,
                PurposePii,
                Receipt,
                ReceiptService,
                ReceiptPurpose,
                ReceiptPurposeCategory,
                ReceiptPii,
            ],
        }

    def tables(self) -> list[type[peewee.Model]]:
        """The tables that existed after step ``version``, in the order they were created."""
        return [table for step, tables in sorted(self._created.items()) if step <= self.version for table in tables]

"""peewee models for the current schema. Migrations (``migrations/``) create and change the
tables; these classes only read and write them, and declare every column, index and foreign key
the migrations built (tests/storage/test_schema_drift.py holds them to it). Every row belongs to
a tenant."""

from __future__ import annotations

import peewee

from scim_me.storage.db import database_proxy


class BaseModel(peewee.Model):
    class Meta:
        database = database_proxy
        legacy_table_names = False


class Tenant(BaseModel):
    id = peewee.AutoField()
    name = peewee.CharField(max_length=255, unique=True)
    dialect = peewee.CharField(max_length=16, default="wso2")
    settings = peewee.TextField(default="{}")
    created_at = peewee.DateTimeField()

    class Meta:
        table_name = "tenants"


class User(BaseModel):
    id = peewee.CharField(max_length=36, primary_key=True)
    tenant = peewee.ForeignKeyField(Tenant, backref="users", on_delete="CASCADE", column_name="tenant_id")
    user_name = peewee.CharField(max_length=255)
    user_name_key = peewee.CharField(max_length=255)
    # Look-alike key (core/usernames.skeleton): unique per tenant, so "kiṁ" cannot join "kim".
    # NULL for a user who shared one with an older user when step 11 ran.
    user_name_skeleton = peewee.CharField(max_length=255, null=True)
    password_hash = peewee.TextField(null=True)
    password_changed_at = peewee.DateTimeField(null=True)
    profile = peewee.TextField(default="{}")
    version = peewee.IntegerField(default=1)
    created_at = peewee.DateTimeField()
    updated_at = peewee.DateTimeField()
    # How the last write changed the profile's searchable values, [dropped keys, new rows]
    # (core/search_values.search_change), written with the profile; triggers apply it to
    # user_values (migration step 15, docs/scim-filters.md).
    search = peewee.TextField(null=True)

    class Meta:
        table_name = "users"
        indexes = (
            (("tenant", "user_name_key"), True),
            (("tenant", "user_name_skeleton"), True),
            # Listing in creation order (storage/user_query.py): new users come after every page.
            (("tenant", "created_at", "id"), False),
            # The users without a value of a sortBy attribute, in id order (storage/user_query.py).
            (("tenant", "id"), False),
        )


class UserValue(BaseModel):
    """One searchable value of a user, maintained by triggers from the changes written to
    ``users.search``: never written by the application. ``head`` is the indexed prefix of
    ``folded``, ``exact_head`` of ``exact``. Each sort column but ``exact_head`` is indexed after
    ``(tenant_id, attr, sub)`` and before ``user_id``, so a sort by an attribute walks its index in
    order (migration step 21; the ``num``, ``flag`` and ``instant`` indexes are partial: rows with
    such a value). Every index here is a page more for every PATCH of a profile to write: a sort
    by a caseExact string (no index) reads and sorts the attribute's values instead."""

    tenant_id = peewee.IntegerField()
    user = peewee.ForeignKeyField(User, on_delete="CASCADE", column_name="user_id")
    attr = peewee.CharField(max_length=255)
    sub = peewee.CharField(max_length=255)
    pos = peewee.IntegerField()
    exact = peewee.TextField(null=True)
    folded = peewee.TextField(null=True)
    head = peewee.CharField(max_length=128, null=True)
    exact_head = peewee.CharField(max_length=128, null=True)
    num = peewee.DoubleField(null=True)
    flag = peewee.BooleanField(null=True)
    instant = peewee.CharField(max_length=32, null=True)

    class Meta:
        table_name = "user_values"
        primary_key = False
        indexes = (
            (("tenant_id", "attr", "sub", "head", "user"), False),
            (("tenant_id", "attr", "sub", "num", "user"), False),
            (("tenant_id", "attr", "sub", "flag", "user"), False),
            (("tenant_id", "attr", "sub", "instant", "user"), False),
            (("user", "attr", "pos"), False),
        )


class TenantUserCount(BaseModel):
    """How many users a tenant has: ``totalResults`` of a /scim2/Users page without a filter,
    read instead of counting every user (storage/user_query.py). Kept by triggers on ``users``
    (migration step 20): never written by the application."""

    tenant = peewee.ForeignKeyField(Tenant, primary_key=True, on_delete="CASCADE", column_name="tenant_id")
    users = peewee.BigIntegerField(default=0)

    class Meta:
        table_name = "tenant_user_counts"


class SigningKey(BaseModel):
    kid = peewee.CharField(max_length=64, primary_key=True)
    tenant = peewee.ForeignKeyField(Tenant, backref="keys", on_delete="CASCADE", column_name="tenant_id")
    alg = peewee.CharField(max_length=16)
    public_jwk = peewee.TextField()
    private_key = peewee.TextField()
    active = peewee.BooleanField(default=True)
    created_at = peewee.DateTimeField()

    class Meta:
        table_name = "signing_keys"


class OAuthClient(BaseModel):
    id = peewee.AutoField()
    tenant = peewee.ForeignKeyField(Tenant, backref="clients", on_delete="CASCADE", column_name="tenant_id")
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
    # Listed in the users' app launcher (GET /api/users/v1/me/applications), opening access_url.
    discoverable = peewee.BooleanField(default=False)
    access_url = peewee.CharField(max_length=2048, null=True)

    class Meta:
        table_name = "oauth_clients"


class OAuthGrant(BaseModel):
    """One authorization: a client acting for a user (or itself), the family of its tokens."""

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


class OAuthAccessToken(BaseModel):
    jti = peewee.CharField(max_length=64, primary_key=True)
    grant = peewee.ForeignKeyField(OAuthGrant, on_delete="CASCADE", column_name="grant_id")
    expires_at = peewee.DateTimeField()
    revoked_at = peewee.DateTimeField(null=True)

    class Meta:
        table_name = "oauth_access_tokens"


class OAuthRefreshToken(BaseModel):
    token_hash = peewee.CharField(max_length=64, primary_key=True)
    grant = peewee.ForeignKeyField(OAuthGrant, on_delete="CASCADE", column_name="grant_id")
    expires_at = peewee.DateTimeField()
    used_at = peewee.DateTimeField(null=True)
    created_at = peewee.DateTimeField()

    class Meta:
        table_name = "oauth_refresh_tokens"


class UserSession(BaseModel):
    id = peewee.CharField(max_length=36, primary_key=True)
    tenant = peewee.ForeignKeyField(Tenant, on_delete="CASCADE", column_name="tenant_id")
    user = peewee.ForeignKeyField(User, on_delete="CASCADE", column_name="user_id")
    secret_hash = peewee.CharField(max_length=64, unique=True)
    user_agent = peewee.CharField(max_length=512, default="")
    ip = peewee.CharField(max_length=64, default="")
    login_time = peewee.DateTimeField()
    last_access = peewee.DateTimeField()
    ended_at = peewee.DateTimeField(null=True)
    amr = peewee.CharField(max_length=64, default="pwd")  # RFC 8176 methods, space-separated
    # The trusted device (storage/devices.py) this browser held: revoking it ends the session too.
    device_id = peewee.CharField(max_length=36, null=True)

    class Meta:
        table_name = "user_sessions"


class OAuthCode(BaseModel):
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
    amr = peewee.CharField(max_length=64, default="pwd")

    class Meta:
        table_name = "oauth_codes"


class OAuthConsent(BaseModel):
    id = peewee.AutoField()
    tenant = peewee.ForeignKeyField(Tenant, on_delete="CASCADE", column_name="tenant_id")
    user = peewee.ForeignKeyField(User, on_delete="CASCADE", column_name="user_id")
    client = peewee.ForeignKeyField(OAuthClient, on_delete="CASCADE", column_name="client_pk")
    scope = peewee.TextField(default="")
    granted_at = peewee.DateTimeField()

    class Meta:
        table_name = "oauth_consents"
        indexes = ((("user", "client"), True),)


class SecurityEvent(BaseModel):
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


class UserMfa(BaseModel):
    """One row per user with any MFA state. Secrets are sealed (``scim_me.crypto``), never plain."""

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


class MfaBackupCode(BaseModel):
    id = peewee.AutoField()
    tenant = peewee.ForeignKeyField(Tenant, on_delete="CASCADE", column_name="tenant_id")
    user = peewee.ForeignKeyField(User, on_delete="CASCADE", column_name="user_id")
    digest = peewee.CharField(max_length=64)
    created_at = peewee.DateTimeField()
    used_at = peewee.DateTimeField(null=True)

    class Meta:
        table_name = "mfa_backup_codes"
        indexes = ((("user", "digest"), True),)


class MfaChallenge(BaseModel):
    """A sign-in between the password and the second factor, bound server-side."""

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


class PasswordHistory(BaseModel):
    """Previous password hashes of a user (only kept while the tenant has a history rule)."""

    id = peewee.BigAutoField()
    tenant = peewee.ForeignKeyField(Tenant, on_delete="CASCADE", column_name="tenant_id")
    user = peewee.ForeignKeyField(User, on_delete="CASCADE", column_name="user_id")
    password_hash = peewee.TextField()
    created_at = peewee.DateTimeField()

    class Meta:
        table_name = "password_history"
        indexes = ((("user", "created_at"), False),)


class LoginThrottle(BaseModel):
    """Failed-password counters of an account (by tenant and userName) or a client IP."""

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


class EmailChange(BaseModel):
    """A new e-mail address waiting for its verification code (one per user)."""

    id = peewee.CharField(max_length=36, primary_key=True)
    tenant = peewee.ForeignKeyField(Tenant, on_delete="CASCADE", column_name="tenant_id")
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


class RecoveryFlow(BaseModel):
    """One account-recovery flow (services/recovery.py): the digests of its codes, its step and
    expiry. ``user`` is NULL for a flow started for an unknown or unusable account, which goes
    through the same steps and never mails anything (no enumeration)."""

    id = peewee.CharField(max_length=36, primary_key=True)
    tenant = peewee.ForeignKeyField(Tenant, on_delete="CASCADE", column_name="tenant_id")
    user = peewee.ForeignKeyField(User, null=True, on_delete="CASCADE", column_name="user_id")
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
        table_name = "recovery_flows"


class ExternalIssuer(BaseModel):
    """An OIDC issuer whose access tokens a tenant accepts (resource-server mode)."""

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


class Group(BaseModel):
    """A SCIM Group (RFC 7643 §4.2). ``display_key`` is the displayName folded for uniqueness."""

    id = peewee.CharField(max_length=36, primary_key=True)
    tenant = peewee.ForeignKeyField(Tenant, on_delete="CASCADE", column_name="tenant_id")
    display_name = peewee.CharField(max_length=255)
    display_key = peewee.CharField(max_length=255)
    external_id = peewee.CharField(max_length=255, null=True)
    version = peewee.IntegerField(default=1)
    created_at = peewee.DateTimeField()
    updated_at = peewee.DateTimeField()

    class Meta:
        table_name = "scim_groups"
        indexes = ((("tenant", "display_key"), True),)


class GroupMember(BaseModel):
    """One member of a group: a row per membership, never a document rewritten per change."""

    id = peewee.BigAutoField()
    group = peewee.ForeignKeyField(Group, on_delete="CASCADE", column_name="group_id")
    user = peewee.ForeignKeyField(User, on_delete="CASCADE", column_name="user_id")
    tenant = peewee.ForeignKeyField(Tenant, on_delete="CASCADE", column_name="tenant_id")
    added_at = peewee.DateTimeField()

    class Meta:
        table_name = "scim_group_members"
        indexes = ((("group", "user"), True),)


class MailOutbox(BaseModel):
    """A mail to send (storage/outbox.py): ``pending`` until a sender claims it (``sending``, the
    attempt recorded first), then ``sent``, back to ``pending`` with a later ``next_attempt_at``
    after a transient failure, ``failed``, or ``unknown`` when its sender died mid-attempt. The
    body is sealed with the master key (it holds codes and links)."""

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
        table_name = "mail_outbox"
        indexes = ((("state", "next_attempt_at"), False),)


class TrustedDevice(BaseModel):
    """A browser the user chose to trust at the second-factor step (auth/devices.py): its cookie
    holds an opaque token whose digest is ``token_hash``; until ``expires_at`` a sign-in from it
    skips the second factor. Revoking deletes the row, so the next sign-in asks again."""

    id = peewee.CharField(max_length=36, primary_key=True)
    tenant = peewee.ForeignKeyField(Tenant, on_delete="CASCADE", column_name="tenant_id")
    user = peewee.ForeignKeyField(User, on_delete="CASCADE", column_name="user_id")
    token_hash = peewee.CharField(max_length=64, unique=True)
    name = peewee.CharField(max_length=255)
    user_agent = peewee.CharField(max_length=512, default="")
    created_at = peewee.DateTimeField()
    last_used_at = peewee.DateTimeField()
    last_ip = peewee.CharField(max_length=64, default="")
    expires_at = peewee.DateTimeField()

    class Meta:
        table_name = "trusted_devices"
        indexes = ((("user", "expires_at"), False),)


class SecurityAlert(BaseModel):
    """A security event the user should look at (services/alerts.py), until acknowledged and
    after: acknowledging sets ``acknowledged_at``, the row stays as history. ``dedupe_key`` is
    unique, so one occurrence (one event, one burst of failures) raises one alert. A new-device
    alert's "this wasn't me" link holds a code whose digest is ``action_hash``."""

    id = peewee.CharField(max_length=36, primary_key=True)
    tenant = peewee.ForeignKeyField(Tenant, on_delete="CASCADE", column_name="tenant_id")
    user = peewee.ForeignKeyField(User, on_delete="CASCADE", column_name="user_id")
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
        table_name = "security_alerts"
        indexes = ((("user", "raised_at"), False),)


class WebauthnCredential(BaseModel):
    """A passkey (WebAuthn credential): the public key only (COSE), its signature counter and
    what the user sees; ``credential_id`` (base64url) is unique within a tenant."""

    id = peewee.BigAutoField()
    tenant = peewee.ForeignKeyField(Tenant, on_delete="CASCADE", column_name="tenant_id")
    user = peewee.ForeignKeyField(User, on_delete="CASCADE", column_name="user_id")
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
        table_name = "passkey_credentials"
        indexes = ((("tenant", "credential_id"), True),)


class WebauthnChallenge(BaseModel):
    """One registration or sign-in ceremony: single use, expiring, bound to its tenant (and user,
    when one is known); ``id_hash`` is the digest of the request id the client holds."""

    id_hash = peewee.CharField(max_length=64, primary_key=True)
    tenant = peewee.ForeignKeyField(Tenant, on_delete="CASCADE", column_name="tenant_id")
    user = peewee.ForeignKeyField(User, null=True, on_delete="CASCADE", column_name="user_id")
    purpose = peewee.CharField(max_length=32)
    challenge = peewee.CharField(max_length=128)
    origin = peewee.CharField(max_length=512, default="")
    client_id = peewee.CharField(max_length=64, default="")
    created_at = peewee.DateTimeField()
    expires_at = peewee.DateTimeField()
    used_at = peewee.DateTimeField(null=True)

    class Meta:
        table_name = "passkey_challenges"
        indexes = ((("expires_at",), False),)


class SchemaMigration(BaseModel):
    version = peewee.IntegerField(primary_key=True)
    name = peewee.CharField(max_length=255)
    applied_at = peewee.DateTimeField()

    class Meta:
        table_name = "schema_migrations"


class ConsentPiiCategory(BaseModel):
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


class ConsentPurposeCategory(BaseModel):
    id = peewee.AutoField()
    tenant = peewee.ForeignKeyField(Tenant, on_delete="CASCADE", column_name="tenant_id")
    name = peewee.CharField(max_length=255)
    description = peewee.TextField(default="")
    created_at = peewee.DateTimeField()

    class Meta:
        table_name = "consent_purpose_categories"
        indexes = ((("tenant", "name"), True),)


class ConsentPurpose(BaseModel):
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


class ConsentPurposePii(BaseModel):
    id = peewee.AutoField()
    purpose = peewee.ForeignKeyField(ConsentPurpose, on_delete="CASCADE", column_name="purpose_id")
    pii_category = peewee.ForeignKeyField(ConsentPiiCategory, column_name="pii_category_id")
    mandatory = peewee.BooleanField(default=False)

    class Meta:
        table_name = "consent_purpose_pii"
        indexes = ((("purpose", "pii_category"), True),)


class ConsentReceipt(BaseModel):
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


class ConsentReceiptService(BaseModel):
    id = peewee.AutoField()
    receipt = peewee.ForeignKeyField(ConsentReceipt, on_delete="CASCADE", column_name="receipt_id")
    position = peewee.IntegerField()
    service = peewee.CharField(max_length=255)
    display_name = peewee.CharField(max_length=255, null=True)
    description = peewee.TextField(null=True)
    tenant_domain = peewee.CharField(max_length=255)

    class Meta:
        table_name = "consent_receipt_services"
        indexes = ((("service",), False),)


class ConsentReceiptPurpose(BaseModel):
    id = peewee.AutoField()
    receipt_service = peewee.ForeignKeyField(
        ConsentReceiptService, on_delete="CASCADE", column_name="receipt_service_id"
    )
    position = peewee.IntegerField()
    purpose = peewee.ForeignKeyField(ConsentPurpose, column_name="purpose_id")
    consent_type = peewee.CharField(max_length=64)
    primary_purpose = peewee.BooleanField()
    termination = peewee.CharField(max_length=255)
    third_party_disclosure = peewee.BooleanField()
    third_party_name = peewee.CharField(max_length=255, null=True)

    class Meta:
        table_name = "consent_receipt_purposes"


class ConsentReceiptPurposeCategory(BaseModel):
    id = peewee.AutoField()
    receipt_purpose = peewee.ForeignKeyField(
        ConsentReceiptPurpose, on_delete="CASCADE", column_name="receipt_purpose_id"
    )
    purpose_category = peewee.ForeignKeyField(ConsentPurposeCategory, column_name="purpose_category_id")

    class Meta:
        table_name = "consent_receipt_purpose_categories"


class ConsentReceiptPii(BaseModel):
    id = peewee.AutoField()
    receipt_purpose = peewee.ForeignKeyField(
        ConsentReceiptPurpose, on_delete="CASCADE", column_name="receipt_purpose_id"
    )
    pii_category = peewee.ForeignKeyField(ConsentPiiCategory, column_name="pii_category_id")
    position = peewee.IntegerField()
    validity = peewee.CharField(max_length=255)

    class Meta:
        table_name = "consent_receipt_pii"

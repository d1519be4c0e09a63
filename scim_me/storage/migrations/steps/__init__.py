"""The migration steps in order. A step module is named for what it does and numbered for its
place (``vNN_``); it has ``VERSION``, ``NAME`` (recorded in ``schema_migrations``) and ``apply``."""

from __future__ import annotations

from collections.abc import Callable

import peewee

from scim_me.storage.migrations.steps import v01_tenants_users_signing_keys
from scim_me.storage.migrations.steps import v02_oauth_clients
from scim_me.storage.migrations.steps import v03_oauth_tokens
from scim_me.storage.migrations.steps import v04_signin
from scim_me.storage.migrations.steps import v05_security_events
from scim_me.storage.migrations.steps import v06_mfa
from scim_me.storage.migrations.steps import v07_password_history_and_throttles
from scim_me.storage.migrations.steps import v08_email_changes
from scim_me.storage.migrations.steps import v09_external_issuers
from scim_me.storage.migrations.steps import v10_consent_management
from scim_me.storage.migrations.steps import v11_user_name_skeletons
from scim_me.storage.migrations.steps import v12_recovery_flows
from scim_me.storage.migrations.steps import v13_user_search_values
from scim_me.storage.migrations.steps import v14_groups
from scim_me.storage.migrations.steps import v15_user_search_changes
from scim_me.storage.migrations.steps import v16_mail_outbox
from scim_me.storage.migrations.steps import v17_discoverable_clients
from scim_me.storage.migrations.steps import v18_devices_and_alerts
from scim_me.storage.migrations.steps import v19_passkeys
from scim_me.storage.migrations.steps import v20_tenant_user_counts
from scim_me.storage.migrations.steps import v21_user_value_sort_indexes

Step = Callable[[peewee.Database], None]

MIGRATIONS: list[tuple[int, str, Step]] = [
    (step.VERSION, step.NAME, step.apply)
    for step in (
        v01_tenants_users_signing_keys,
        v02_oauth_clients,
        v03_oauth_tokens,
        v04_signin,
        v05_security_events,
        v06_mfa,
        v07_password_history_and_throttles,
        v08_email_changes,
        v09_external_issuers,
        v10_consent_management,
        v11_user_name_skeletons,
        v12_recovery_flows,
        v13_user_search_values,
        v14_groups,
        v15_user_search_changes,
        v16_mail_outbox,
        v17_discoverable_clients,
        v18_devices_and_alerts,
        v19_passkeys,
        v20_tenant_user_counts,
        v21_user_value_sort_indexes,
    )
]

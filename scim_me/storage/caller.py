"""The hot path's one read: the bearer token's revocation, the caller's user row and what the
features keep beside the profile that ``/scim2/Me`` shows, in a single statement.

Every authenticated request runs it, so it is hand-written SQL (composing it with peewee's query
builder costs more than running it) and it is the only place a feature's read-only SCIM
attributes come from. A feature that wants to show more on /Me adds a column here, derived in
the database, instead of a query of its own on every request; tests/api/test_query_budget.py
counts the statements and fails when a request runs more.

The account lock (``login_throttles``) is keyed by a digest of the user's name, which the
statement cannot compute: the key of the name seen last time is remembered per worker and sent
along, and checked against the name the row holds; for a first request or after a rename the
lock is read on its own, once.

The token's sign-in session (through its grant) is joined too and compared with the tenant's
idle and absolute lifetimes, so an access token stops working the moment its session expires,
without a read of its own.
"""

from __future__ import annotations

import json
import threading
import weakref
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from scim_me.storage.db import current_database
from scim_me.storage.db import is_sqlite
from scim_me.storage.db import keeps_session_state
from scim_me.storage.models import LoginThrottle
from scim_me.storage.sessions import SessionLimits
from scim_me.storage.throttle import LockState
from scim_me.storage.throttle import account_key
from scim_me.storage.throttle import lock_state
from scim_me.storage.throttle import lock_state_of
from scim_me.storage.users import ID_LENGTH
from scim_me.storage.users import StoredUser
from scim_me.storage.users import now
from scim_me.storage.users import user_from_row
from scim_me.storage.users import user_name_key


@dataclass(frozen=True)
class UserFacts:
    """What features hold outside the profile that /Me shows as read-only attributes."""

    mfa_configured: bool  # the user has an MFA row (set anything up): WSO2 shows the claims then
    totp_active: bool
    backup_codes: bool  # backup codes were generated (used or not)
    lock: LockState
    # (group id, displayName) of the groups the user is a member of, by name: the readOnly
    # ``groups`` attribute, computed from the membership table in the same statement.
    groups: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Caller:
    user: StoredUser
    facts: UserFacts
    # The access token's record says it (or its grant) was revoked. False for a token with no
    # record (minted outside the issuer, e.g. by the development CLI).
    token_revoked: bool
    # The sign-in session the token's grant was made under, when it ended or outlived the
    # tenant's idle or absolute lifetime (storage/sessions.py); None for a live one or none.
    expired_session: str | None = None


_CALLER_SQL = """
SELECT u.id, u.tenant_id, u.user_name, u.profile, u.version, u.created_at, u.updated_at,
       u.password_hash, u.password_changed_at, u.user_name_key,
       t.jti, t.revoked_at, g.revoked_at,
       m.user_id, m.totp_secret,
       EXISTS (SELECT 1 FROM mfa_backup_codes c WHERE c.user_id = u.id AND c.tenant_id = u.tenant_id),
       l.key, l.failures, l.locked_until, l.hard_locked,
       s.id, (s.ended_at IS NOT NULL OR s.last_access < ? OR s.login_time < ?),
       {groups}, l.kind
FROM users u
LEFT JOIN oauth_access_tokens t ON t.jti = ?
LEFT JOIN oauth_grants g ON g.id = t.grant_id
LEFT JOIN user_sessions s ON s.id = g.session_id
LEFT JOIN user_mfa m ON m.user_id = u.id AND m.tenant_id = u.tenant_id
LEFT JOIN login_throttles l ON l.key = ?
WHERE u.id = ? AND u.tenant_id = ?
"""

_FACTS_SQL = """
SELECT m.user_id, m.totp_secret,
       EXISTS (SELECT 1 FROM mfa_backup_codes c WHERE c.user_id = u.id AND c.tenant_id = u.tenant_id),
       {groups}
FROM users u
LEFT JOIN user_mfa m ON m.user_id = u.id AND m.tenant_id = u.tenant_id
WHERE u.id = ? AND u.tenant_id = ?
"""

# The user's groups as one JSON text of [id, displayName] pairs: a correlated subquery on the
# membership table's user_id index, so /Me shows ``groups`` without a statement of its own and
# always current (no copy on the user row to rewrite when a group is renamed). The aggregate is
# spelled per database; the order is applied in Python (_groups).
_GROUPS = {
    "sqlite": (
        "(SELECT json_group_array(json_array(gr.id, gr.display_name)) FROM scim_group_members gm "
        "JOIN scim_groups gr ON gr.id = gm.group_id WHERE gm.user_id = u.id)"
    ),
    "postgresql": (
        "(SELECT json_agg(json_build_array(gr.id, gr.display_name))::text FROM scim_group_members gm "
        "JOIN scim_groups gr ON gr.id = gm.group_id WHERE gm.user_id = u.id)"
    ),
}


def _sql(template: str, sqlite: bool) -> str:
    return template.replace("{groups}", _GROUPS["sqlite" if sqlite else "postgresql"])


_CALLER_SQLITE = _sql(_CALLER_SQL, True)
_CALLER_POSTGRESQL = _sql(_CALLER_SQL, False)
_FACTS_SQLITE = _sql(_FACTS_SQL, True)
_FACTS_POSTGRESQL = _sql(_FACTS_SQL, False)


# The groups column's text → the pairs, by name: a function of the text alone, and a page's
# users share a few texts (the members of a group, the same few groups). Bounded in number and size.
_GROUP_PAIRS: dict[str, tuple[tuple[str, str], ...]] = {}
_GROUP_TEXT_LIMIT = 2000  # a few groups' worth: 4,096 texts stay within ~8 MB


def _groups(text: Any) -> tuple[tuple[str, str], ...]:
    if not text:
        return ()
    found = _GROUP_PAIRS.get(text)
    if found is None:
        pairs = [(str(pair[0]), str(pair[1])) for pair in json.loads(text)]
        found = tuple(sorted(pairs, key=lambda pair: (pair[1].casefold(), pair[0])))
        if len(text) <= _GROUP_TEXT_LIMIT:
            if len(_GROUP_PAIRS) >= 4096:
                _GROUP_PAIRS.clear()
            _GROUP_PAIRS[text] = found
    return found


class _LockKeys:
    """Per worker: (tenant, user id) → (user_name_key, account lock key) of the name seen last."""

    LIMIT = 20_000

    def __init__(self) -> None:
        self._keys: dict[tuple[int, str], tuple[str, str]] = {}
        self._lock = threading.Lock()

    def get(self, tenant_id: int, user_id: str) -> tuple[str, str] | None:
        return self._keys.get((tenant_id, user_id))

    def put(self, tenant_id: int, user_id: str, name_key: str, lock_key: str) -> None:
        with self._lock:
            if len(self._keys) >= self.LIMIT:
                self._keys.clear()
            self._keys[(tenant_id, user_id)] = (name_key, lock_key)


_lock_keys = _LockKeys()
_EPOCH = datetime(1970, 1, 1)  # no lifetimes given: only an ended session counts as over


def _datetime(field: Any, value: Any) -> datetime | None:
    return field.python_value(value)  # type: ignore[no-any-return]


def _lock(user: StoredUser, name_key: str, sent: tuple[str, str] | None, row: tuple[Any, ...]) -> LockState:
    """The account lock from the joined columns when the key sent was this name's, else read."""
    if sent is not None and sent[0] == name_key:
        if row[0] is None:
            return LockState(False, False, None, 0)
        return lock_state_of(row[1], _datetime(LoginThrottle.locked_until, row[2]), bool(row[3]), now(), row[4])
    _lock_keys.put(user.tenant_id, user.id, name_key, account_key(user.tenant_id, user.user_name))
    return lock_state(user.tenant_id, user.user_name, now())


def _facts(mfa_row: Any, totp_secret: Any, backup_codes: Any, lock: LockState, groups: Any = None) -> UserFacts:
    return UserFacts(
        mfa_configured=mfa_row is not None,
        totp_active=totp_secret is not None,
        backup_codes=bool(backup_codes),
        lock=lock,
        groups=_groups(groups),
    )


# PostgreSQL plans a statement on every execution unless it is prepared, and planning this one
# (0.4 ms) costs seven times its execution (0.06 ms): each pooled connection prepares it once.
# SQLite keeps compiled statements per connection by itself (the sqlite3 module's cache).
_PREPARED_NAME = "scim_me_caller"
_prepared: weakref.WeakSet[Any] = weakref.WeakSet()


def _numbered(sql: str) -> str:
    parts = sql.split("?")
    return "".join(f"{part}${index}" if index < len(parts) else part for index, part in enumerate(parts, 1))


def _run_caller_statement(params: tuple[Any, ...]) -> tuple[Any, ...] | None:
    db = current_database()
    if is_sqlite(db):
        return db.execute_sql(_CALLER_SQLITE, params).fetchone()  # type: ignore[no-any-return]
    if not keeps_session_state(db):  # behind a transaction pooler: planned every time
        return db.execute_sql(_CALLER_POSTGRESQL.replace("?", db.param), params).fetchone()  # type: ignore[no-any-return]
    connection = db.connection()
    if connection not in _prepared:
        db.execute_sql(f"PREPARE {_PREPARED_NAME} AS {_numbered(_CALLER_POSTGRESQL)}")
        _prepared.add(connection)
    placeholders = ", ".join([db.param] * len(params))
    return db.execute_sql(f"EXECUTE {_PREPARED_NAME}({placeholders})", params).fetchone()  # type: ignore[no-any-return]


def load_caller(
    tenant_id: int, user_id: str, token_id: str | None, limits: SessionLimits | None = None
) -> Caller | None:
    """The user ``user_id`` of the tenant with their facts, whether the access token
    ``token_id`` was revoked, and whether the sign-in session of its grant is over by
    ``limits`` (the tenant's session lifetimes); None when there is no such user."""
    if len(user_id) > ID_LENGTH or "\x00" in user_id:
        return None  # no stored id looks like that (and PostgreSQL refuses NUL)
    sent = _lock_keys.get(tenant_id, user_id)
    # A session is over once idle since before ``idle_since`` or signed in before ``absolute_since``.
    stamp = now()
    idle_since = stamp - limits.idle if limits is not None else _EPOCH
    absolute_since = stamp - limits.absolute if limits is not None else _EPOCH
    params = (idle_since, absolute_since, token_id, sent[1] if sent else None, user_id, tenant_id)
    row = _run_caller_statement(params)
    if row is None:
        return None
    user = user_from_row(row)
    lock = _lock(user, row[9], sent, (*row[16:20], row[23]))
    revoked = row[10] is not None and (row[11] is not None or row[12] is not None)
    expired = row[20] if row[20] is not None and row[21] else None
    return Caller(user, _facts(row[13], row[14], row[15], lock, row[22]), revoked, expired)


def load_facts(user: StoredUser) -> UserFacts:
    """The facts of a user read another way (HTTP Basic, a write's result under a new name)."""
    db = current_database()
    sql = _FACTS_SQLITE if is_sqlite(db) else _FACTS_POSTGRESQL
    row = db.execute_sql(sql.replace("?", db.param), (user.id, user.tenant_id)).fetchone()
    name_key = user_name_key(user.user_name)
    _lock_keys.put(user.tenant_id, user.id, name_key, account_key(user.tenant_id, user.user_name))
    lock = lock_state(user.tenant_id, user.user_name, now())
    if row is None:
        return UserFacts(False, False, False, lock)
    return _facts(row[0], row[1], row[2], lock, row[3])


# The facts of the users ``u`` of a /scim2/Users page as columns of the page statement
# (storage/user_query.py), so a page of any size costs one statement: MFA, backup codes, groups,
# and the account lock, joined by its key (core/accounts.lock_key) computed in SQL: PostgreSQL's
# sha256(), SQLite's function registered by storage/db.py.
_LOCK_KEY = {
    "sqlite": "scim_lock_key(u.tenant_id, u.user_name_key)",
    "postgresql": (
        "encode(sha256(convert_to('account', 'UTF8') || '\\x00'::bytea || convert_to(u.tenant_id::text, 'UTF8')"
        " || '\\x00'::bytea || convert_to(u.user_name_key, 'UTF8')), 'hex')"
    ),
}
_PAGE_FACT_COLUMNS = (
    "fm.user_id, fm.totp_secret, "
    "EXISTS (SELECT 1 FROM mfa_backup_codes c WHERE c.user_id = u.id AND c.tenant_id = u.tenant_id), "
    "{groups}, fl.key, fl.failures, fl.locked_until, fl.hard_locked, fl.kind"
)
PAGE_FACT_COUNT = 9


def page_fact_sql(sqlite: bool) -> tuple[str, str]:
    """The columns (``PAGE_FACT_COUNT`` of them) and the joins that add each page user's facts
    to a statement over ``users AS u``; ``facts_from_columns`` reads them."""
    dialect = "sqlite" if sqlite else "postgresql"
    joins = (
        "LEFT JOIN user_mfa fm ON fm.user_id = u.id AND fm.tenant_id = u.tenant_id "
        f"LEFT JOIN login_throttles fl ON fl.key = {_LOCK_KEY[dialect]}"
    )
    return _PAGE_FACT_COLUMNS.replace("{groups}", _GROUPS[dialect]), joins


_NO_LOCK = LockState(False, False, None, 0)  # frozen: one for every user without a throttle row


def facts_from_columns(columns: tuple[Any, ...], stamp: datetime) -> UserFacts:
    """A user's facts from the ``page_fact_sql`` columns of its row, the lock as of ``stamp``."""
    mfa_row, totp_secret, backup_codes, groups, lock_row, failures, locked_until, hard, kind = columns
    lock = (
        lock_state_of(failures, _datetime(LoginThrottle.locked_until, locked_until), bool(hard), stamp, kind)
        if lock_row is not None
        else _NO_LOCK
    )
    return _facts(mfa_row, totp_secret, backup_codes, lock, groups)

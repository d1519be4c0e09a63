"""User rows: the SCIM profile as a JSON document plus the credential and a version counter.

Updates are compare-and-set on ``version`` (``UPDATE ... WHERE id = ? AND version = ?``), so two
workers that read the same version cannot both write: the loser sees zero rows changed and
retries or answers 412. Nothing here reads, modifies and saves a whole row.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import unicodedata
import uuid
from dataclasses import dataclass
from datetime import UTC
from datetime import datetime
from typing import Any

import peewee

from scim_me.core.bounds import check_stored_size
from scim_me.core.search_values import search_change
from scim_me.core.usernames import check_user_name
from scim_me.core.usernames import skeleton
from scim_me.errors import InvalidValueError
from scim_me.errors import UniquenessError
from scim_me.storage.db import current_database
from scim_me.storage.db import execute_write
from scim_me.storage.db import is_sqlite
from scim_me.storage.db import sql_datetime
from scim_me.storage.db import write_transaction
from scim_me.storage.models import User
from scim_me.storage.prepared import execute as execute_statement

_UNCHANGED: Any = object()
ID_LENGTH = 36  # users.id is varchar(36), a UUID
USER_NAME_LENGTH = 255  # users.user_name and users.user_name_key are varchar(255)


@dataclass(frozen=True)
class StoredUser:
    id: str
    tenant_id: int
    user_name: str
    profile: dict[str, Any]
    version: int
    created_at: datetime
    updated_at: datetime
    password_hash: str | None
    password_changed_at: datetime | None


def now() -> datetime:
    """Naive UTC, the form stored in both SQLite and PostgreSQL."""
    return datetime.now(UTC).replace(tzinfo=None)


def user_name_key(user_name: str) -> str:
    """The uniqueness key: userName is caseExact false (RFC 7643 §4.1.1), NFKC + casefold."""
    return unicodedata.normalize("NFKC", user_name).casefold()


def stored_user(row: User) -> StoredUser:
    """A user from its peewee row."""
    return StoredUser(
        id=row.id,
        tenant_id=row.tenant_id,  # type: ignore[attr-defined]
        user_name=row.user_name,
        profile=json.loads(row.profile),
        version=row.version,
        created_at=row.created_at,
        updated_at=row.updated_at,
        password_hash=row.password_hash,
        password_changed_at=row.password_changed_at,
    )


def _dump(profile: dict[str, Any], max_bytes: int | None = None) -> str:
    text = json.dumps(profile, separators=(",", ":"), ensure_ascii=False)
    if max_bytes is not None:
        check_stored_size(text, max_bytes=max_bytes)
    return text


def search_text(profile: dict[str, Any]) -> str:
    """``users.search`` of a new user: every value filters find them by, as the change
    ``[[], rows]`` (core/search_values.py), written in the same statement as the profile; the
    database's triggers copy it to ``user_values`` (migration step 15). An update writes only
    the changed attributes' rows (``update_user``), so a one-attribute PATCH stays cheap."""
    return json.dumps(search_change(None, profile), separators=(",", ":"), ensure_ascii=False)


def _storable(text: str, limit: int) -> bool:
    """Whether ``text`` fits a ``varchar(limit)`` column. PostgreSQL refuses NUL in any string
    (psycopg2 raises ValueError before the query is sent) and longer values (DataError)."""
    return len(text) <= limit and "\x00" not in text


def get_user(tenant_id: int, user_id: str, *, for_update: bool = False) -> StoredUser | None:
    """The user, or None. ``for_update`` (inside a write transaction): on PostgreSQL the row is
    locked until the commit, as SQLite's writer lock already holds every row."""
    if not _storable(user_id, ID_LENGTH):
        return None  # no stored id looks like that; asking PostgreSQL would be an error, not a miss
    db = current_database()
    # The hottest query (every authenticated request): hand-written, since composing it with
    # peewee's query builder costs more than running it.
    sql = _GET_USER_SQL.replace("?", db.param)
    if for_update and not is_sqlite(db):
        sql += " FOR UPDATE"
    row = db.execute_sql(sql, (user_id, tenant_id)).fetchone()
    if row is None:
        return None
    return user_from_row(row)


def user_from_row(row: tuple[Any, ...]) -> StoredUser:
    """A user from the columns id, tenant_id, user_name, profile, version, created_at, updated_at,
    password_hash, password_changed_at (in that order), as the hand-written hot-path queries read them."""
    return StoredUser(
        id=row[0],
        tenant_id=row[1],
        user_name=row[2],
        profile=json.loads(row[3]),
        version=row[4],
        created_at=_timestamp(row[5]),
        updated_at=_timestamp(row[6]),
        password_hash=row[7],
        password_changed_at=_timestamp(row[8]),
    )


class _DecodedProfile:
    """``profile`` of a :class:`ListedUser`: the stored JSON decoded on first read, then kept in
    the instance (a non-data descriptor: the instance's own value wins once set)."""

    def __get__(self, user: Any, owner: type | None = None) -> Any:
        if user is None:
            return self
        profile = json.loads(user.__dict__["_profile_text"])
        user.__dict__["profile"] = profile
        return profile


class ListedUser(StoredUser):
    """A user of a list page whose profile is decoded only when read: a page whose users'
    texts are kept (services/user_view.user_texts) needs their ids and versions only. Equal to,
    and used as, the :class:`StoredUser` of the same row."""

    profile = _DecodedProfile()

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, StoredUser):
            return NotImplemented
        return all(getattr(self, name) == getattr(other, name) for name in _FIELDS)

    __hash__ = StoredUser.__hash__


_FIELDS = tuple(field.name for field in dataclasses.fields(StoredUser))


def listed_user_from_row(row: tuple[Any, ...]) -> StoredUser:
    """``user_from_row`` with the profile decoded when first read (:class:`ListedUser`)."""
    user = object.__new__(ListedUser)
    user.__dict__.update(
        id=row[0],
        tenant_id=row[1],
        user_name=row[2],
        _profile_text=row[3],
        version=row[4],
        created_at=_timestamp(row[5]),
        updated_at=_timestamp(row[6]),
        password_hash=row[7],
        password_changed_at=_timestamp(row[8]),
    )
    return user


def _timestamp(value: Any) -> Any:
    """A timestamp column as peewee's DateTimeField reads it: PostgreSQL's driver returns a
    datetime; SQLite returns the text Python's adapter wrote, which peewee parses by trying
    strptime formats, six times the cost of ``fromisoformat`` for the same result."""
    if isinstance(value, str) and len(value) in (19, 26) and value[10] == " ":
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            pass
    return User.created_at.python_value(value)  # type: ignore[no-untyped-call]


_GET_USER_SQL = (
    "SELECT id, tenant_id, user_name, profile, version, created_at, updated_at, password_hash, "
    "password_changed_at FROM users WHERE id = ? AND tenant_id = ?"
)


def find_user(tenant_id: int, user_name: str) -> StoredUser | None:
    key = user_name_key(user_name)
    if not _storable(key, USER_NAME_LENGTH):
        return None  # create_user never stores such a name (Basic auth sends anything here)
    row = User.get_or_none((User.tenant == tenant_id) & (User.user_name_key == key))
    return stored_user(row) if row else None


def list_users(tenant_id: int) -> list[StoredUser]:
    return [stored_user(row) for row in User.select().where(User.tenant == tenant_id).order_by(User.user_name_key)]


def create_user(
    tenant_id: int, profile: dict[str, Any], password_hash: str | None, *, max_bytes: int | None = None
) -> StoredUser:
    """Insert a user; a taken userName in the tenant is 409 ``uniqueness``; with ``max_bytes``, a
    larger stored profile is ``invalidValue``."""
    user_name = profile["userName"]
    if not isinstance(user_name, str) or not user_name:
        raise InvalidValueError("userName must be a non-empty string.")
    check_user_name(user_name)
    if not _storable(user_name, USER_NAME_LENGTH) or not _storable(user_name_key(user_name), USER_NAME_LENGTH):
        raise InvalidValueError(
            f"userName must be at most {USER_NAME_LENGTH} characters (after case folding) and contain no NUL."
        )
    stamp = now()
    try:
        with write_transaction():
            row = User.create(
                id=str(uuid.uuid4()),
                tenant=tenant_id,
                user_name=user_name,
                user_name_key=user_name_key(user_name),
                user_name_skeleton=skeleton(user_name),
                password_hash=password_hash,
                password_changed_at=stamp if password_hash else None,
                profile=_dump(profile, max_bytes),
                search=search_text(profile),
                version=1,
                created_at=stamp,
                updated_at=stamp,
            )
    except peewee.IntegrityError as exc:
        raise UniquenessError(f"User name {user_name} is already taken in this tenant.") from exc
    return stored_user(row)


def update_user(
    current: StoredUser, profile: dict[str, Any], *, password_hash: Any = _UNCHANGED, max_bytes: int | None = None
) -> StoredUser | None:
    """Write ``profile`` if the row is still at ``current.version``; None when it is not. With
    ``max_bytes``, a profile whose stored JSON is larger is refused (``invalidValue``)."""
    stamp = now()
    db = current_database()
    written = sql_datetime(db, stamp)
    params: list[Any] = [_dump(profile, max_bytes)]
    dropped, rows = search_change(current.profile, profile)
    with_search = bool(dropped or rows)  # setting ``search`` is what fires the trigger: only for a real change
    if with_search:
        params.append(json.dumps([dropped, rows], separators=(",", ":"), ensure_ascii=False))
    params.append(written)
    if password_hash is not _UNCHANGED:
        params += [password_hash, written]
    params += [current.id, current.tenant_id, current.version]
    sql = _update_sql(with_search, password_hash is not _UNCHANGED, db.param)
    if is_sqlite(db):
        changed = execute_write(sql, params, db).rowcount
    else:
        # PostgreSQL would plan it on every write (~0.09 ms of a 0.5 ms statement): prepared on
        # each connection's first write outside a transaction (storage/prepared.py).
        changed = execute_statement(sql, params, recurring=True).rowcount
    if changed != 1:
        return None
    return StoredUser(
        id=current.id,
        tenant_id=current.tenant_id,
        user_name=current.user_name,
        profile=profile,
        version=current.version + 1,
        created_at=current.created_at,
        updated_at=stamp,
        password_hash=current.password_hash if password_hash is _UNCHANGED else password_hash,
        password_changed_at=current.password_changed_at if password_hash is _UNCHANGED else stamp,
    )


@functools.cache
def _update_sql(with_search: bool, with_password: bool, param: str) -> str:
    """The compare-and-set UPDATE of update_user, hand-written like get_user: it runs on every write."""
    columns = ["profile = ?", *(["search = ?"] if with_search else []), "version = version + 1", "updated_at = ?"]
    if with_password:
        columns += ["password_hash = ?", "password_changed_at = ?"]
    sql = f"UPDATE users SET {', '.join(columns)} WHERE id = ? AND tenant_id = ? AND version = ?"  # noqa: S608 (fixed column names)
    return sql.replace("?", param)


def upgrade_password_hash(tenant_id: int, user_id: str, current: str, upgraded: str) -> bool:
    """Store ``upgraded``, the same password hashed with today's parameters, if the stored hash
    is still ``current``. The password did not change: neither its age (``password_changed_at``)
    nor the user's version (the representation and its ETag) moves."""
    query = User.update({User.password_hash: upgraded}).where(
        (User.id == user_id) & (User.tenant == tenant_id) & (User.password_hash == current)
    )
    with write_transaction():
        return bool(query.execute() == 1)


def set_password_hash(tenant_id: int, user_id: str, password_hash: str, *, expected: str | None = None) -> bool:
    """Replace the credential (CLI, change-password); bumps the version so cached ETags go stale.
    With ``expected``, only if the stored hash is still that one (of two racing changes proven
    with the same current password, one wins)."""
    stamp = now()
    query = User.update(
        {
            User.password_hash: password_hash,
            User.password_changed_at: stamp,
            User.version: User.version + 1,
            User.updated_at: stamp,
        }
    ).where((User.id == user_id) & (User.tenant == tenant_id))
    if expected is not None:
        query = query.where(User.password_hash == expected)
    with write_transaction():
        changed = query.execute()
    return bool(changed == 1)


def delete_user(tenant_id: int, user_id: str, *, version: int | None = None) -> bool:
    """Delete the user row (credentials and profile with it); False if absent or version moved."""
    query = User.delete().where((User.id == user_id) & (User.tenant == tenant_id))
    if version is not None:
        query = query.where(User.version == version)
    with write_transaction():
        return bool(query.execute() == 1)

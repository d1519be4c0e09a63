"""SCIM groups and their members (``/scim2/Groups``), stored relationally.

A group row holds the group's own attributes and a version counter (compare-and-set like users);
each membership is one ``scim_group_members`` row, so adding a member to a group of any size is
one INSERT and removing one a DELETE of one row. A membership change also bumps the version of
the users it concerns: their ``groups`` attribute changed, so their ETag must (RFC 7644 §3.14),
and /Me bodies cached by version are not served stale.
"""

from __future__ import annotations

import unicodedata
import uuid
from collections.abc import Iterable
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import peewee

from scim_me.errors import InvalidValueError
from scim_me.errors import UniquenessError
from scim_me.storage.db import write_transaction
from scim_me.storage.models import Group
from scim_me.storage.models import GroupMember
from scim_me.storage.models import User
from scim_me.storage.users import ID_LENGTH
from scim_me.storage.users import now

NAME_LENGTH = 255
_CHUNK = 500  # ids per IN (...) list: far below SQLite's and PostgreSQL's parameter limits


@dataclass(frozen=True)
class StoredGroup:
    id: str
    tenant_id: int
    display_name: str
    external_id: str | None
    version: int
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class Member:
    user_id: str
    user_name: str


def display_key(name: str) -> str:
    """Group names are unique per tenant regardless of case and width (caseExact false)."""
    return unicodedata.normalize("NFKC", name).casefold()


def stored_group(row: Group) -> StoredGroup:
    return StoredGroup(
        id=row.id,
        tenant_id=row.tenant_id,  # type: ignore[attr-defined]
        display_name=row.display_name,
        external_id=row.external_id,
        version=row.version,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _check_name(name: object) -> str:
    if not isinstance(name, str) or not name.strip():
        raise InvalidValueError("displayName must be a non-empty string.")
    if len(name) > NAME_LENGTH or len(display_key(name)) > NAME_LENGTH or "\x00" in name:
        raise InvalidValueError(f"displayName must be at most {NAME_LENGTH} characters and contain no NUL.")
    return name


def _check_external_id(value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > NAME_LENGTH or "\x00" in value:
        raise InvalidValueError(f"externalId must be a string of at most {NAME_LENGTH} characters.")
    return value


def _chunks(ids: Sequence[str]) -> Iterable[Sequence[str]]:
    for start in range(0, len(ids), _CHUNK):
        yield ids[start : start + _CHUNK]


def check_users(tenant_id: int, user_ids: Sequence[str]) -> None:
    """400 ``invalidValue`` unless every id is a user of the tenant (members are users here)."""
    wanted = list(dict.fromkeys(user_ids))
    found: set[str] = set()
    for chunk in _chunks([i for i in wanted if len(i) <= ID_LENGTH and "\x00" not in i]):
        query = User.select(User.id).where((User.tenant == tenant_id) & (User.id.in_(list(chunk))))
        found.update(row.id for row in query)
    missing = [i for i in wanted if i not in found]
    if missing:
        raise InvalidValueError(f"No user with id {missing[0]} in this tenant; group members are users.")


def _bump_users(tenant_id: int, user_ids: Iterable[str]) -> None:
    ids = list(dict.fromkeys(user_ids))
    stamp = now()
    for chunk in _chunks(ids):
        User.update({User.version: User.version + 1, User.updated_at: stamp}).where(
            (User.tenant == tenant_id) & (User.id.in_(list(chunk)))
        ).execute()


def _bump_all_members(group: StoredGroup) -> None:
    members = GroupMember.select(GroupMember.user).where(GroupMember.group == group.id)
    User.update({User.version: User.version + 1, User.updated_at: now()}).where(
        (User.tenant == group.tenant_id) & (User.id.in_(members))
    ).execute()


def create_group(tenant_id: int, display_name: object, external_id: object, member_ids: Sequence[str]) -> StoredGroup:
    """Insert a group with its members; a taken displayName is 409 ``uniqueness``."""
    name = _check_name(display_name)
    external = _check_external_id(external_id)
    stamp = now()
    try:
        with write_transaction():
            check_users(tenant_id, member_ids)
            row = Group.create(
                id=str(uuid.uuid4()),
                tenant=tenant_id,
                display_name=name,
                display_key=display_key(name),
                external_id=external,
                version=1,
                created_at=stamp,
                updated_at=stamp,
            )
            group = stored_group(row)
            _insert_members(group, member_ids)
    except peewee.IntegrityError as exc:
        raise UniquenessError(f"A group named {name} already exists in this tenant.") from exc
    return group


def _insert_members(group: StoredGroup, user_ids: Sequence[str]) -> list[str]:
    """Add the users not yet members; returns the ones added."""
    wanted = list(dict.fromkeys(user_ids))
    if not wanted:
        return []
    present: set[str] = set()
    for chunk in _chunks(wanted):
        query = GroupMember.select(GroupMember.user).where(
            (GroupMember.group == group.id) & (GroupMember.user.in_(list(chunk)))
        )
        present.update(row.user_id for row in query)  # type: ignore[attr-defined]
    added = [i for i in wanted if i not in present]
    stamp = now()
    for chunk in _chunks(added):
        GroupMember.insert_many(
            [{"group": group.id, "user": i, "tenant": group.tenant_id, "added_at": stamp} for i in chunk]
        ).execute()
    _bump_users(group.tenant_id, added)
    return added


def get_group(tenant_id: int, group_id: str) -> StoredGroup | None:
    if len(group_id) > ID_LENGTH or "\x00" in group_id:
        return None
    row = Group.get_or_none((Group.id == group_id) & (Group.tenant == tenant_id))
    return stored_group(row) if row else None


def group_members(group_id: str) -> list[Member]:
    query: Any = (
        GroupMember.select(GroupMember.user, User.user_name)
        .join(User, on=(GroupMember.user == User.id))
        .where(GroupMember.group == group_id)
        .order_by(GroupMember.id)
        .tuples()
    )
    return [Member(user_id, user_name) for user_id, user_name in query]


def members_of_groups(group_ids: Sequence[str]) -> dict[str, list[Member]]:
    """The members of several groups in one query per chunk (a list page)."""
    found: dict[str, list[Member]] = {i: [] for i in group_ids}
    for chunk in _chunks(list(group_ids)):
        query: Any = (
            GroupMember.select(GroupMember.group, GroupMember.user, User.user_name)
            .join(User, on=(GroupMember.user == User.id))
            .where(GroupMember.group.in_(list(chunk)))
            .order_by(GroupMember.id)
            .tuples()
        )
        for group_id, user_id, user_name in query:
            found[group_id].append(Member(user_id, user_name))
    return found


def update_group(current: StoredGroup, display_name: object, external_id: object) -> StoredGroup | None:
    """Write the group's own attributes if still at ``current.version``; None when it moved."""
    name = _check_name(display_name)
    external = _check_external_id(external_id)
    stamp = now()
    try:
        with write_transaction():
            changed = (
                Group.update(
                    display_name=name,
                    display_key=display_key(name),
                    external_id=external,
                    version=Group.version + 1,
                    updated_at=stamp,
                )
                .where(
                    (Group.id == current.id) & (Group.tenant == current.tenant_id) & (Group.version == current.version)
                )
                .execute()
            )
            if changed == 1 and name != current.display_name:
                _bump_all_members(current)  # the members' groups.display changed
    except peewee.IntegrityError as exc:
        raise UniquenessError(f"A group named {name} already exists in this tenant.") from exc
    if changed != 1:
        return None
    return StoredGroup(current.id, current.tenant_id, name, external, current.version + 1, current.created_at, stamp)


def add_members(group: StoredGroup, user_ids: Sequence[str]) -> list[str]:
    """Add users (checked to be the tenant's); returns the ids that were not members yet."""
    check_users(group.tenant_id, user_ids)
    return _insert_members(group, user_ids)


def remove_members(group: StoredGroup, user_ids: Sequence[str]) -> list[str]:
    """Remove these members; returns the ids that were members."""
    wanted = list(dict.fromkeys(user_ids))
    removed: list[str] = []
    for chunk in _chunks(wanted):
        present = GroupMember.select(GroupMember.user).where(
            (GroupMember.group == group.id) & (GroupMember.user.in_(list(chunk)))
        )
        hits = [row.user_id for row in present]  # type: ignore[attr-defined]
        if hits:
            GroupMember.delete().where((GroupMember.group == group.id) & (GroupMember.user.in_(hits))).execute()
            removed += hits
    _bump_users(group.tenant_id, removed)
    return removed


def remove_all_members(group: StoredGroup) -> list[str]:
    members = [m.user_id for m in group_members(group.id)]
    return remove_members(group, members)


def touch_group(group: StoredGroup) -> StoredGroup | None:
    """Bump the version after a membership change (compare-and-set: None when it moved)."""
    stamp = now()
    changed = (
        Group.update(version=Group.version + 1, updated_at=stamp)
        .where((Group.id == group.id) & (Group.version == group.version))
        .execute()
    )
    if changed != 1:
        return None
    return StoredGroup(
        group.id, group.tenant_id, group.display_name, group.external_id, group.version + 1, group.created_at, stamp
    )


def delete_group(group: StoredGroup, *, version: int | None = None) -> bool:
    """Delete the group (its membership rows cascade); the former members' versions move.
    False when absent or, with ``version``, changed meanwhile."""
    with write_transaction():
        members = [m.user_id for m in group_members(group.id)]
        query = Group.delete().where((Group.id == group.id) & (Group.tenant == group.tenant_id))
        if version is not None:
            query = query.where(Group.version == version)
        if query.execute() != 1:
            return False
        _bump_users(group.tenant_id, members)
    return True

"""Pages of a tenant's users for ``GET /scim2/Users`` (RFC 7644 §3.4.2.4 index paging).

Until the filter translation (issue 11, the storage search module) lands, the only filter answered
here is ``userName eq "..."``, from the unique per-tenant key (an index lookup); sorting is by
the columns a user row has: ``userName``, ``id``, ``meta.created``, ``meta.lastModified``.
The sort always ends with ``id``, so pages are stable when values tie.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from scim_me.storage.models import User
from scim_me.storage.users import StoredUser
from scim_me.storage.users import stored_user
from scim_me.storage.users import user_name_key

SORT_COLUMNS: dict[str, Any] = {
    "username": User.user_name_key,
    "id": User.id,
    "meta.created": User.created_at,
    "meta.lastmodified": User.updated_at,
}


@dataclass(frozen=True)
class UserPage:
    total: int
    users: list[StoredUser]


def page_users(
    tenant_id: int,
    *,
    offset: int,
    limit: int,
    sort: str | None = None,
    descending: bool = False,
    user_name: str | None = None,
) -> UserPage:
    """``limit`` users of the tenant after ``offset``, and how many there are in all."""
    query = User.select().where(User.tenant == tenant_id)
    if user_name is not None:
        query = query.where(User.user_name_key == user_name_key(user_name))
    total = query.count()
    if limit <= 0:
        return UserPage(total, [])
    column = SORT_COLUMNS[(sort or "meta.created").lower()]
    order = [column.desc() if descending else column.asc()]
    if column is not User.id:
        order.append(User.id.desc() if descending else User.id.asc())
    rows = query.order_by(*order).offset(offset).limit(limit)
    return UserPage(total, [stored_user(row) for row in rows])

"""``user_values`` always holds exactly the searchable values of the stored profile
(core/search_values.search_rows), although each write sends only what it changed
(``search_change``, migration step 15): generated sequences of profile writes, on SQLite and
PostgreSQL. A change that forgot a dropped attribute, a renamed spelling, an extension attribute
or a value whose type flipped (``true`` → ``1``) leaves a row behind here."""

from __future__ import annotations

import itertools
from typing import Any

from hypothesis import HealthCheck
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from scim_me.core.schemas import ENTERPRISE_URN
from scim_me.core.search_values import search_change
from scim_me.core.search_values import search_rows
from scim_me.storage.db import current_database
from scim_me.storage.tenants import create_tenant
from scim_me.storage.users import create_user
from scim_me.storage.users import get_user
from scim_me.storage.users import update_user

_TENANTS = itertools.count()
SCALARS = st.one_of(
    st.sampled_from(["Kim", "kim", "STRASSE", "straße", "2026-01-02T03:04:05Z", "", "Ä" + "l" * 140]),
    st.booleans(),
    st.sampled_from([0, 1, 2.5]),
)
EMAILS = st.lists(
    st.fixed_dictionaries(
        {"value": st.sampled_from(["a@x.org", "B@x.org"])},
        optional={"type": st.sampled_from(["work", "home"]), "primary": st.booleans()},
    ),
    max_size=3,
)
EDITS = st.one_of(
    st.tuples(st.sampled_from(["nickName", "title", "locale", "active"]), SCALARS),
    st.tuples(st.just("emails"), EMAILS),
    st.tuples(st.just("name"), st.fixed_dictionaries({}, optional={"givenName": SCALARS, "familyName": SCALARS})),
    st.tuples(
        st.just(ENTERPRISE_URN),
        st.fixed_dictionaries(
            {}, optional={"employeeNumber": SCALARS, "manager": st.fixed_dictionaries({"value": SCALARS})}
        ),
    ),
    st.tuples(st.sampled_from(["nickName", "title", "emails", "name", ENTERPRISE_URN]), st.none()),
)


def stored_rows(user_id: str) -> list[tuple[Any, ...]]:
    cursor = current_database().execute_sql(
        "SELECT attr, sub, pos, exact, folded, num, flag, instant, head, exact_head FROM user_values WHERE user_id = "
        + current_database().param,
        (user_id,),
    )
    return sorted(tuple(row) for row in cursor.fetchall())


def expected_rows(profile: dict[str, Any]) -> list[tuple[Any, ...]]:
    rows = []
    for attr, sub, pos, exact, folded, num, flag, instant in search_rows(profile):
        folded = exact if folded is None else folded
        # The indexed prefixes the triggers derive (steps 13 and 21): 128 characters.
        heads = (None if folded is None else folded[:128], None if exact is None else exact[:128])
        rows.append((attr, sub, pos, exact, folded, num, flag, instant, *heads))
    return sorted(rows)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(edits=st.lists(EDITS, min_size=1, max_size=8))
def test_user_values_follow_every_write(db: Any, edits: list[tuple[str, Any]]) -> None:
    tenant = create_tenant(f"t{next(_TENANTS)}")
    user = create_user(tenant.id, {"userName": "kim", "nickName": "K", "emails": [{"value": "k@x.org"}]}, None)
    assert stored_rows(user.id) == _normalized(expected_rows(user.profile))
    for name, value in edits:
        current = get_user(tenant.id, user.id)
        assert current is not None
        profile = {key: item for key, item in current.profile.items() if key != name}
        if value is not None:
            profile[name] = value
        assert update_user(current, profile) is not None
        assert stored_rows(user.id) == _normalized(expected_rows(profile))


def _normalized(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    # Databases hand booleans back as 0/1 (SQLite) and numbers as floats.
    return sorted(
        (
            attr,
            sub,
            pos,
            exact,
            folded,
            None if num is None else float(num),
            None if flag is None else bool(flag),
            instant,
            head,
            exact_head,
        )
        for attr, sub, pos, exact, folded, num, flag, instant, head, exact_head in rows
    )


def test_a_write_that_changes_nothing_searchable_sends_no_change() -> None:
    profile = {"userName": "kim", "emails": [{"value": "k@x.org", "primary": True}]}
    assert search_change(profile, dict(profile)) == ([], [])


def test_a_one_attribute_change_sends_that_attribute_only() -> None:
    before = {
        "userName": "kim",
        "nickName": "a",
        "emails": [{"value": "k@x.org"}],
        ENTERPRISE_URN: {"employeeNumber": "1"},
    }
    after = {**before, "nickName": "b", ENTERPRISE_URN: {"employeeNumber": "2"}}
    dropped, rows = search_change(before, after)
    assert dropped == ["ent:employeenumber", "nickname"]
    assert sorted(row[0] for row in rows) == ["ent:employeenumber", "nickname"]


def test_a_type_flip_counts_as_a_change() -> None:
    dropped, _rows = search_change({"active": True}, {"active": 1})
    assert dropped == ["active"]

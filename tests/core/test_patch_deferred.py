"""Remembered filter matches and deferred writes (scim_me/core/patch_workspace.py) change no result.

The oracle: RFC 7644 §3.5.2 applies a PatchOp's operations "sequentially in the order they
appear", so one request of N operations must equal N requests of one operation each (which share
no per-request state). Each test runs both and compares, on the cases where a stale remembered
match or a lost or misordered deferred write would show, then a hypothesis search over random
sequences of the operation shapes involved. (The phone "numbers" are any strings: the schema
asks no format, and addresses read well in filters.)
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from scim_me.core.filters import MAX_FILTER_DEPTH
from scim_me.core.filters import MAX_FILTER_TERMS
from scim_me.core.filters import parse_filter
from scim_me.core.patch import apply_patch
from scim_me.core.schemas import CUSTOM_URN
from scim_me.errors import InvalidFilterError
from scim_me.errors import InvalidValueError
from scim_me.errors import ScimError


def one_by_one(resource: dict[str, Any], operations: list[dict[str, Any]], registry: Any) -> dict[str, Any]:
    for operation in operations:
        resource = apply_patch(resource, [operation], registry)
    return resource


def outcome(run: Any) -> Any:
    try:
        return run()
    except ScimError as exc:
        return type(exc)


def assert_same_as_one_by_one(user: dict[str, Any], operations: list[dict[str, Any]], registry: Any) -> Any:
    together = outcome(lambda: apply_patch(user, operations, registry))
    assert together == outcome(lambda: one_by_one(user, operations, registry))
    return together


def write(filter_text: str, sub: str, value: Any, op: str = "replace") -> dict[str, Any]:
    return {"op": op, "path": f"phoneNumbers[{filter_text}].{sub}", "value": value}


def add(*values: dict[str, Any]) -> dict[str, Any]:
    return {"op": "add", "path": "phoneNumbers", "value": list(values)}


MANY = [add(*({"value": f"u{i}@x.example", "type": "home"} for i in range(20)))]


def test_the_same_filtered_write_repeated_leaves_the_last_value_on_every_match(registry, user):
    ops = [*MANY, *(write('value sw "U"', "display", f"d{i}") for i in range(50))]
    result = assert_same_as_one_by_one(user, ops, registry)
    assert {e.get("display") for e in result["phoneNumbers"]} == {None, "d49"}
    assert [e["value"] for e in result["phoneNumbers"] if "display" in e] == [f"u{i}@x.example" for i in range(20)]


def test_a_filter_reading_a_deferred_sub_attribute_sees_the_write(registry, user):
    ops = [
        *MANY,
        write('value sw "u1"', "display", "tens"),
        write('display eq "TENS"', "type", "work"),  # display is read: the write above is applied first
        write('type eq "work" and value ew "5@x.example"', "display", "fifteen"),
    ]
    result = assert_same_as_one_by_one(user, ops, registry)
    work = [(e["value"], e.get("display")) for e in result["phoneNumbers"] if e.get("type") == "work"]
    tens = ["u1", *(f"u1{i}" for i in range(10))]
    assert work == [(f"{v}@x.example", "fifteen" if v == "u15" else "tens") for v in tens]


def test_overlapping_filters_alternating_keep_the_last_writer_per_value(registry, user):
    ops = [*MANY]
    for i in range(10):
        ops.append(write('value sw "u1"', "display", f"a{i}"))  # u1, u10..u19
        ops.append(write('value co "9"', "display", f"b{i}"))  # u9, u19
    result = assert_same_as_one_by_one(user, ops, registry)
    by_value = {e["value"]: e.get("display") for e in result["phoneNumbers"]}
    assert by_value["u19@x.example"] == "b9" and by_value["u10@x.example"] == "a9" and by_value["u9@x.example"] == "b9"


def test_values_appended_after_a_write_get_only_later_writes(registry, user):
    ops = [
        *MANY,
        write('value sw "u"', "display", "first"),
        add({"value": "u99@x.example"}),
        write('value sw "u2"', "display", "second"),
        add({"value": "u98@x.example"}),
        write('value sw "u"', "display", "third"),
        add({"value": "u97@x.example"}),
    ]
    result = assert_same_as_one_by_one(user, ops, registry)
    assert result["phoneNumbers"][-1] == {"value": "u97@x.example"}
    assert result["phoneNumbers"][-2] == {"value": "u98@x.example", "display": "third"}


def test_a_write_to_a_sub_attribute_a_remembered_filter_reads_forgets_its_matches(registry, user):
    ops = [
        *MANY,
        write('type co "OM"', "display", "x"),  # all 20 (remembered: not an eq filter)
        write('value eq "u3@x.example"', "type", "work"),  # type changes for one value
        write('type co "OM"', "display", "y"),  # 19 now
    ]
    result = assert_same_as_one_by_one(user, ops, registry)
    displays = {e["value"]: e.get("display") for e in result["phoneNumbers"] if e["value"].startswith("u")}
    assert displays.pop("u3@x.example") == "x" and set(displays.values()) == {"y"}


@pytest.mark.parametrize(
    "after",
    [
        add({"value": "U4@x.example", "type": "work", "display": "merged"}),  # duplicate check reads type
        {"op": "remove", "path": 'phoneNumbers[type eq "work"]'},
        {"op": "remove", "path": "phoneNumbers", "value": [{"value": "u5@x.example"}]},
        {"op": "replace", "path": "phoneNumbers.display", "value": "everyone"},
        {"op": "replace", "value": {"phoneNumbers": [{"value": "only@x.example"}]}},
        {"op": "add", "value": {"phoneNumbers": [{"value": "u6@x.example", "type": "work", "primary": True}]}},
        {"op": "replace", "path": 'phoneNumbers[value eq "u7@x.example"]', "value": {"type": "other"}},
        {"op": "replace", "path": 'phoneNumbers[value eq "u8@x.example"].primary', "value": True},
        {"op": "remove", "path": 'phoneNumbers[value sw "u"].type'},
        write('value eq "nobody@x.example" and type eq "work"', "display", "seeded", op="add"),
        {"op": "replace", "path": "displayName", "value": "Elsewhere"},
    ],
)
def test_every_other_operation_sees_the_deferred_writes(registry, user, after):
    ops = [*MANY, write('value sw "u"', "type", "work"), write('value co "x"', "display", "d"), after]
    assert_same_as_one_by_one(user, ops, registry)


def test_stored_primaries_and_odd_values_take_the_immediate_path(registry, user):
    stored = {
        **user,
        "phoneNumbers": [{"value": "a@x.example", "primary": True}, {"value": "b@x.example", "primary": True}],
    }
    ops = [write('value sw "a"', "display", "x"), write('value co "x"', "type", "home")]
    result = assert_same_as_one_by_one(stored, ops, registry)
    assert [e.get("primary") for e in result["phoneNumbers"]] == [True, False]


_FILTERS = [
    'value sw "u1"',
    'value co "2"',
    'type eq "home"',
    'display eq "a"',
    'type co "or"',
    "primary eq true",
    'value ew "3@X.example"',
    'display sw "" and value sw "U"',
    'value sw "u2" or type ew "ork"',
]
_OPS = st.one_of(
    st.builds(
        write,
        st.sampled_from(_FILTERS),
        st.sampled_from(["display", "type", "primary", "value"]),
        st.sampled_from(["a", "b", "work", "home", "u13@x.example", True, None]),
        st.sampled_from(["add", "replace"]),
    ),
    st.builds(
        lambda i, t: add({"value": f"u{i}@x.example", "type": t}), st.integers(0, 25), st.sampled_from(["work", "home"])
    ),
    st.builds(lambda f: {"op": "remove", "path": f"phoneNumbers[{f}]"}, st.sampled_from(_FILTERS)),
    st.builds(lambda f: {"op": "remove", "path": f"phoneNumbers[{f}].display"}, st.sampled_from(_FILTERS)),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(operations=st.lists(_OPS, min_size=1, max_size=12))
def test_random_sequences_equal_one_request_per_operation(registry, user, operations):
    assert_same_as_one_by_one(user, [*MANY, *operations], registry)


# --- sw / ew through the sorted prefix index ---


def test_sw_and_ew_see_values_changed_earlier_in_the_request(registry, user):
    ops = [
        *MANY,
        write('value sw "u1"', "display", "before"),  # builds the prefix index over value
        write('value eq "u12@x.example"', "value", "Zed@x.example"),
        write('value sw "z"', "display", "zed"),  # case-insensitive: finds the changed value
        write('value sw "u1"', "display", "after"),  # u12 is no longer there
        write('value ew "D@X.EXAMPLE"', "type", "work"),
        add({"value": "u1999@x.example"}),  # appended after the index was built
        write('value sw "U19"', "display", "appended"),
    ]
    result = assert_same_as_one_by_one(user, ops, registry)
    by_value = {e["value"]: (e.get("display"), e.get("type")) for e in result["phoneNumbers"]}
    assert by_value["Zed@x.example"] == ("zed", "work")
    assert by_value["u11@x.example"] == ("after", "home")
    assert (by_value["u19@x.example"], by_value["u1999@x.example"]) == (("appended", "home"), ("appended", None))


def test_sw_honours_case_exact_and_skips_values_that_are_not_strings(custom_registry, user):
    urn = CUSTOM_URN
    keys = [{"value": "Key-1", "size": 1}, {"value": "key-2", "size": 2}, {"value": "KEY-3"}, {"size": 4}]
    ops = [
        {"op": "add", "path": f"{urn}:keys", "value": keys},
        {"op": "replace", "path": f'{urn}:keys[value sw "Key"].label', "value": "exact"},
        {"op": "replace", "path": f'{urn}:keys[label ew "ACT"].size', "value": 9},
        {"op": "replace", "path": f'{urn}:keys[value sw ""].label', "value": "any string"},
    ]
    result = assert_same_as_one_by_one(user, ops, custom_registry)
    assert [(k.get("value"), k.get("label"), k.get("size")) for k in result[urn]["keys"]] == [
        ("Key-1", "any string", 9),
        ("key-2", "any string", 2),
        ("KEY-3", "any string", None),
        (None, None, 4),
    ]


# --- bounds --------------------------------------------------------------------------------


def test_an_append_past_max_values_is_refused_at_once(registry, user):
    ops = [add({"value": f"n{i}@x.example"}) for i in range(5)]
    assert len(apply_patch(user, ops[:4], registry, max_values=5)["phoneNumbers"]) == 5
    with pytest.raises(InvalidValueError, match="phoneNumbers has 6 values; at most 5 are accepted"):
        apply_patch(user, ops, registry, max_values=5)


def test_filters_deeper_or_longer_than_the_bounds_are_invalid_filters():
    nested = "(" * MAX_FILTER_DEPTH + 'type eq "x"' + ")" * MAX_FILTER_DEPTH
    assert parse_filter(nested) == parse_filter('type eq "x"')
    with pytest.raises(InvalidFilterError, match="nested too deeply"):
        parse_filter("(" + nested + ")")
    chain = " or ".join(['type eq "x"'] * MAX_FILTER_TERMS)
    parse_filter(chain)
    with pytest.raises(InvalidFilterError, match=f"more than {MAX_FILTER_TERMS} comparisons"):
        parse_filter(chain + " and value pr")
    # Keywords and brackets inside string literals are not counted.
    parse_filter(" or ".join(['type eq "(((((((((( and or and or"'] * MAX_FILTER_TERMS))

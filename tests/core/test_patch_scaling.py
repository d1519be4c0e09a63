"""The PATCH engine's per-request indexes (``scim_me.core.patch._Workspace``) change no behaviour.

Every test applies all its operations in ONE request, so later operations run against indexes
that earlier ones updated: duplicate checks on ``add`` (folded value → position), ``eq`` filters
(sub-attribute key → positions, with other filter shapes scanning), the tracked primary value
and unassigned values. The cases are the ones where a stale or too narrow index would show.
"""

from __future__ import annotations

import copy

import pytest

from scim_me.core.filters import Compare
from scim_me.core.filters import parse_filter
from scim_me.core.patch import apply_patch
from scim_me.core.schemas import CUSTOM_URN
from scim_me.core.schemas import WSO2_URN
from scim_me.errors import InvalidFilterError
from scim_me.errors import NoTargetError


def add_emails(*values: dict) -> dict:
    return {"op": "add", "path": "emails", "value": list(values)}


def emails_of(result: dict) -> list[tuple[str, str | None]]:
    return [(e["value"], e.get("type")) for e in result["emails"]]


def primaries(result: dict) -> list[str]:
    return [e["value"] for e in result["emails"] if e.get("primary") is True]


# --- add: duplicate check by folded value ----------------------------------------------------


def test_add_after_a_filtered_replace_compares_with_the_updated_value(patch):
    result = patch(
        add_emails({"value": "a@x.example", "type": "home"}),
        {"op": "replace", "path": 'emails[value eq "a@x.example"].type', "value": "other"},
        # Equal to the value as it was: no longer stored, so it is added again.
        add_emails({"value": "a@x.example", "type": "home"}),
        # Equal to the value as it is now: a duplicate.
        add_emails({"value": "A@X.example", "type": "other"}),
    )
    assert emails_of(result)[2:] == [("a@x.example", "other"), ("a@x.example", "home")]


def test_case_insensitive_duplicate_after_the_stored_spelling_was_replaced(patch):
    result = patch(
        add_emails({"value": "a@x.example"}),
        {"op": "replace", "path": 'emails[value eq "a@x.example"].value', "value": "Kim@Example.COM"},
        add_emails({"value": "kim@example.com"}),  # the same address: the stored spelling stays
        add_emails({"value": "a@x.example"}),  # the old address is gone: added
    )
    assert emails_of(result)[2:] == [("Kim@Example.COM", None), ("a@x.example", None)]


def test_duplicate_check_ignores_primary_and_display_and_merges_new_keys(patch, user):
    result = patch(
        add_emails({"value": "KIM@home.example", "type": "home", "primary": True}),
        add_emails({"value": "kim@home.example", "type": "home"}),
    )
    assert result["emails"] == [
        {**user["emails"][0], "primary": False},
        {"value": "kim@home.example", "type": "home", "primary": True},
    ]


def test_duplicates_within_one_add_value_collapse(patch):
    result = patch(add_emails({"value": "n@x.example"}, {"value": "N@x.example"}, {"value": "n@X.example"}))
    assert emails_of(result)[2:] == [("n@x.example", None)]


def test_case_exact_values_are_not_duplicates(custom_patch):
    result = custom_patch(
        {"op": "add", "path": f"{CUSTOM_URN}:badges", "value": ["Gold", "gold", "Gold"]},
        {"op": "add", "path": f"{CUSTOM_URN}:badges", "value": ["GOLD", "gold"]},
    )
    assert result[CUSTOM_URN]["badges"] == ["Gold", "gold", "GOLD"]


def test_case_insensitive_primitive_values_are_duplicates(patch, user):
    result = patch(
        {"op": "add", "path": f"{WSO2_URN}:emailAddresses", "value": ["New@x.example", "KIM@X.example"]},
        {"op": "add", "path": f"{WSO2_URN}:emailAddresses", "value": ["new@x.example"]},
    )
    assert result[WSO2_URN]["emailAddresses"] == ["kim@x.example", "New@x.example"]


def test_add_after_a_whole_list_replace_sees_the_new_list(patch):
    result = patch(
        add_emails({"value": "a@x.example"}),
        {"op": "replace", "path": "emails", "value": [{"value": "b@x.example"}, {"value": "b@x.example"}]},
        add_emails({"value": "a@x.example"}, {"value": "B@x.example", "primary": True}),
    )
    # A whole-list replace keeps duplicates; a later add merges into the first of them.
    assert result["emails"] == [
        {"value": "b@x.example", "primary": True},
        {"value": "b@x.example"},
        {"value": "a@x.example"},
    ]


# --- primary -------------------------------------------------------------------------------


def test_primary_moves_across_many_adds(patch):
    ops = [add_emails({"value": f"u{i}@x.example", "primary": True}) for i in range(60)]
    result = patch(*ops)
    assert primaries(result) == ["u59@x.example"]
    assert len(result["emails"]) == 62


def test_primary_set_through_a_filter_wins_then_moves_back_on_add(patch):
    ops = [add_emails({"value": f"u{i}@x.example"}) for i in range(30)]
    result = patch(
        *ops,
        {"op": "replace", "path": 'emails[value eq "u7@x.example"].primary', "value": True},
        {"op": "replace", "path": 'emails[value eq "U20@x.example"].primary', "value": True},
        add_emails({"value": "kim@work.example", "primary": True}),
    )
    assert primaries(result) == ["kim@work.example"]
    assert [e.get("primary") for e in result["emails"] if e["value"] in ("u7@x.example", "u20@x.example")] == [
        False,
        False,
    ]


def test_primary_false_through_a_filter_leaves_no_primary(patch):
    result = patch(
        add_emails({"value": "a@x.example", "primary": True}),
        {"op": "replace", "path": 'emails[value eq "a@x.example"].primary', "value": False},
        add_emails({"value": "b@x.example"}),
    )
    assert primaries(result) == []


# --- filters -------------------------------------------------------------------------------


def test_remove_then_add_and_filters_see_the_shifted_positions(patch):
    result = patch(
        add_emails({"value": "a@x.example"}, {"value": "b@x.example"}, {"value": "c@x.example"}),
        {"op": "remove", "path": 'emails[value eq "a@x.example"]'},
        {"op": "replace", "path": 'emails[value eq "c@x.example"].type', "value": "work"},
        add_emails({"value": "a@x.example", "type": "home"}),
        {"op": "replace", "path": 'emails[value eq "b@x.example"].type', "value": "other"},
    )
    assert emails_of(result)[2:] == [("b@x.example", "other"), ("c@x.example", "work"), ("a@x.example", "home")]


def test_removed_sub_attribute_no_longer_matches(patch):
    with pytest.raises(NoTargetError):
        patch(
            add_emails({"value": "a@x.example", "type": "home"}),
            {"op": "remove", "path": 'emails[value eq "a@x.example"].type'},
            {"op": "replace", "path": 'emails[type eq "home" and value eq "a@x.example"].type', "value": "work"},
        )


def test_filtered_replace_with_null_drops_the_value_and_later_operations_see_it_gone(patch):
    result = patch(
        add_emails({"value": "a@x.example"}, {"value": "b@x.example"}),
        {"op": "replace", "path": 'emails[value eq "a@x.example"]', "value": None},
        {"op": "replace", "path": 'emails[value eq "b@x.example"].type', "value": "home"},
        add_emails({"value": "a@x.example", "type": "work"}),
    )
    assert emails_of(result)[2:] == [("b@x.example", "home"), ("a@x.example", "work")]


def test_or_filter_falls_back_to_a_scan(patch):
    result = patch(
        add_emails({"value": "a@x.example", "type": "home"}, {"value": "b@x.example", "type": "other"}),
        # One side is not an eq test: every value is tested.
        {"op": "replace", "path": 'emails[value eq "a@x.example" or type co "THE"].type', "value": "work"},
    )
    assert emails_of(result)[2:] == [("a@x.example", "work"), ("b@x.example", "work")]


@pytest.mark.parametrize(
    ("filter_text", "expected"),
    [
        ('value eq "A@X.EXAMPLE" or value eq "c@x.example"', ["a@x.example", "c@x.example"]),
        ('type eq "home" and value ne "b@x.example"', ["kim@home.example", "a@x.example", "c@x.example"]),
        ('not (value eq "b@x.example")', ["kim@work.example", "kim@home.example", "a@x.example", "c@x.example"]),
        ('VALUE Eq "b@x.example"', ["b@x.example"]),
        ('value eq "b@x.example" and type eq "other"', []),
        ("primary eq true", ["kim@work.example"]),
        ('value eq "b@x.example" and (type eq "home" or type eq "other")', ["b@x.example"]),
    ],
)
def test_filter_shapes_find_every_match(patch, filter_text, expected):
    ops = [
        add_emails(
            {"value": "a@x.example", "type": "home"},
            {"value": "b@x.example", "type": "home"},
            {"value": "c@x.example", "type": "home"},
        ),
        # Build the value index first, so the filter under test runs against a maintained one.
        {"op": "replace", "path": 'emails[value eq "c@x.example"].type', "value": "home"},
        {"op": "replace", "path": 'emails[type eq "home"].type', "value": "home"},
    ]
    if not expected:
        with pytest.raises(NoTargetError):
            patch(*ops, {"op": "remove", "path": f"emails[{filter_text}]"})
        return
    result = patch(*ops, {"op": "remove", "path": f"emails[{filter_text}]"})
    removed = [e["value"] for e in patch(*ops)["emails"] if e not in result["emails"]]
    assert removed == expected


def test_case_exact_filter_matches_only_the_exact_spelling(custom_patch):
    keys = [{"value": "Key-1"}, {"value": "key-1"}, {"value": "KEY-1"}]
    result = custom_patch(
        {"op": "add", "path": f"{CUSTOM_URN}:keys", "value": keys},
        {"op": "replace", "path": f'{CUSTOM_URN}:keys[value eq "key-1"].label', "value": "lower"},
        {"op": "replace", "path": f'{CUSTOM_URN}:keys[label eq "LOWER"].size', "value": 3},
    )
    assert result[CUSTOM_URN]["keys"] == [
        {"value": "Key-1"},
        {"value": "key-1", "label": "lower", "size": 3},
        {"value": "KEY-1"},
    ]


def test_numeric_and_datetime_equality_match_different_spellings(custom_patch):
    keys = [
        {"value": "k1", "size": 1, "issued": "2024-05-01T10:00:00Z"},
        {"value": "k2", "size": 2, "issued": "2024-05-01T12:00:00+02:00"},
    ]
    result = custom_patch(
        {"op": "add", "path": f"{CUSTOM_URN}:keys", "value": keys},
        {"op": "replace", "path": f"{CUSTOM_URN}:keys[size eq 1.0].label", "value": "one"},
        {"op": "replace", "path": f'{CUSTOM_URN}:keys[issued eq "2024-05-01T10:00:00+00:00"].size', "value": 5},
    )
    assert [(k["value"], k.get("label"), k["size"]) for k in result[CUSTOM_URN]["keys"]] == [
        ("k1", "one", 5),
        ("k2", None, 5),
    ]


def test_add_through_an_unmatched_eq_filter_creates_a_value_later_operations_find(patch):
    result = patch(
        {"op": "add", "path": 'emails[type eq "other" and value eq "n@x.example"].primary', "value": True},
        add_emails({"value": "N@x.example", "type": "other"}),  # a duplicate of the created value
        {"op": "replace", "path": 'emails[value eq "n@x.example"].type', "value": "home"},
    )
    assert result["emails"][2:] == [{"type": "home", "value": "n@x.example", "primary": True}]
    assert primaries(result) == ["n@x.example"]


def test_pathless_add_uses_the_same_duplicate_check(patch):
    result = patch(
        add_emails({"value": "a@x.example"}),
        {"op": "replace", "path": 'emails[value eq "a@x.example"].type', "value": "work"},
        {"op": "add", "value": {"emails": [{"value": "A@x.example", "type": "work"}, {"value": "z@x.example"}]}},
    )
    assert emails_of(result)[2:] == [("a@x.example", "work"), ("z@x.example", None)]


# --- odd stored data and all-or-nothing ----------------------------------------------------


def test_stored_unassigned_values_are_dropped_and_positions_stay_right(patch, user):
    stored = {**user, "emails": [{}, None, *user["emails"], {}]}
    result = patch(
        add_emails({"value": "a@x.example"}),
        {"op": "replace", "path": 'emails[value eq "a@x.example"].type', "value": "home"},
        add_emails({"value": "a@x.example", "type": "home", "primary": True}),
        resource=stored,
    )
    assert emails_of(result) == [("kim@work.example", "work"), ("kim@home.example", "home"), ("a@x.example", "home")]
    assert primaries(result) == ["a@x.example"]


def test_stored_unassigned_values_are_dropped_by_an_add_alone(patch, user):
    stored = {**user, "emails": [{}, *user["emails"], None]}
    result = patch(add_emails({"value": "a@x.example"}), resource=stored)
    assert result["emails"] == [*user["emails"], {"value": "a@x.example"}]


def test_a_value_emptied_by_a_filtered_remove_is_dropped(patch, user):
    result = patch(
        {"op": "add", "path": 'emails[type eq "other"].type', "value": "other"},  # creates {"type": "other"}
        {"op": "remove", "path": 'emails[type eq "other"].type'},
    )
    assert result["emails"] == user["emails"]


def test_stored_duplicates_and_two_primaries(patch, user):
    stored = {
        **user,
        "emails": [
            {"value": "d@x.example", "primary": True},
            {"value": "D@x.example", "type": "home"},
            {"value": "d@x.example", "primary": True},
        ],
    }
    result = patch(
        {"op": "replace", "path": 'emails[value eq "d@x.example"].type', "value": "work"},
        add_emails({"value": "d@X.example", "type": "work", "display": "ignored"}),
        resource=stored,
    )
    # Every duplicate matches the filter; the add merges into the first; the last primary touched wins.
    assert result["emails"] == [
        {"value": "d@x.example", "primary": False, "type": "work"},
        {"value": "D@x.example", "type": "work"},
        {"value": "d@x.example", "primary": True, "type": "work"},
    ]


def test_the_input_is_untouched_whether_the_request_succeeds_or_fails(registry, user):
    before = copy.deepcopy(user)
    ops = [add_emails({"value": f"u{i}@x.example", "primary": i % 7 == 0}) for i in range(40)]
    ops += [{"op": "replace", "path": f'emails[value eq "u{i}@x.example"].type', "value": "home"} for i in range(40)]
    apply_patch(user, ops, registry)
    assert user == before
    with pytest.raises(NoTargetError):
        apply_patch(user, [*ops, {"op": "remove", "path": 'emails[value eq "nobody@x.example"]'}], registry)
    assert user == before


# --- the filter parser's fast path ---------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('value eq "kim@example.com"', Compare("eq", "value", "kim@example.com")),
        ('  Value\tSW "k" ', Compare("sw", "Value", "k")),
        ('type eq""', Compare("eq", "type", "")),
        ('value eq "a\\"b"', Compare("eq", "value", 'a"b')),  # an escape: the general parser
        ('value eq "caf\\u00e9"', Compare("eq", "value", "café")),
    ],
)
def test_simple_filters_parse_as_the_general_parser_does(text, expected):
    assert parse_filter(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        'trueName eq "x"',  # the lexer reads the literal "true" first
        'value eq "tab\there"',  # a control character inside the string
        'value \u017fw "x"',  # long s: not an ASCII operator
        'value pr "x"',
        'and eq "x"',
    ],
)
def test_filters_the_general_parser_rejects_are_still_rejected(text):
    with pytest.raises(InvalidFilterError):
        parse_filter(text)

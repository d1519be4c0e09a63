"""T-FUZZ-1 (security.md §5): generated PatchOp bodies against ``PATCH /t/acme/scim2/Me``.

About 70% of the bodies follow the RFC 7644 grammar (ops in any case, real attribute paths,
URN-qualified paths, value filters, extension objects) and 30% are mutated (junk ops and paths,
wrong JSON types, nulls, nested junk, huge numbers, lists for objects, unicode, a missing or
non-list ``Operations``). Through the Flask test client on a SQLite file, one app and one user
for the whole run (put back to its initial document, through the storage layer, before an
example whenever the previous one changed it); each example is judged by comparing the stored
user before and after:

- never a 5xx, never an unhandled exception logged;
- every 4xx is a SCIM Error whose scimType (if any) is one RFC 7644 §3.12 names (or WSO2's
  ``invalid request``), and the stored user (profile, credential and version) is unchanged;
- every 2xx keeps id, meta.created, userName and every attribute that is read-only for the user
  (``schemas/self-service.json`` and the schemas' own readOnly ones), never shows a
  ``password`` member, and its ETag is the stored version.

The run is reproducible (the same examples every time, from fixed seeds); a failure prints the
falsifying body. It is split into SHARDS tests of MAX_EXAMPLES / SHARDS examples each, seeded
apart, so parallel workers (pytest-xdist) share it instead of one worker running it alone.
"""

from __future__ import annotations

import itertools
import json
import logging
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck
from hypothesis import given
from hypothesis import seed
from hypothesis import settings
from hypothesis import strategies as st

from scim_me.storage.users import update_user
from tests.factories import PATCH_URN
from tests.factories import SCIM_JSON
from tests.factories import bearer
from tests.factories import load_user
from tests.factories import make_tenant
from tests.factories import make_token
from tests.factories import make_user
from tests.support.apps import build_app

ERROR_URN = "urn:ietf:params:scim:api:messages:2.0:Error"
CORE = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
WSO2 = "urn:scim:wso2:schema"
SCIM_TYPES = {
    "invalidFilter",
    "tooMany",
    "uniqueness",
    "mutability",
    "invalidSyntax",
    "invalidPath",
    "noTarget",
    "invalidValue",
    "invalidVers",
    "sensitive",
    "invalid request",
}
MAX_EXAMPLES = 2500
SHARDS = 4
SHARD_EXAMPLES = MAX_EXAMPLES // SHARDS

INITIAL_PROFILE: dict[str, Any] = {
    "name": {"givenName": "Kim", "familyName": "Berry", "formatted": "Kim Berry"},
    "displayName": "Kim Berry",
    "nickName": "kb",
    "title": "Engineer",
    "locale": "en-GB",
    "emails": [
        {"value": "kim@work.example", "type": "work", "primary": True},
        {"value": "kim@home.example", "type": "home"},
    ],
    "phoneNumbers": [{"value": "+44 20 7946 0000", "type": "mobile"}],
    "addresses": [{"locality": "London", "country": "GB", "type": "work", "primary": True}],
    "ims": [{"value": "kimb", "type": "xmpp"}],
    ENTERPRISE: {"department": "R&D", "employeeNumber": "42", "manager": {"value": "m-1", "displayName": "Max"}},
    WSO2: {"country": "United Kingdom", "mobileNumbers": ["+44 20 7946 0000"]},
}

# ---- grammatical bodies ------------------------------------------------------------------------

TYPES = {
    "emails": ["work", "home", "other"],
    "phoneNumbers": ["work", "home", "mobile", "fax", "pager", "other"],
    "ims": ["skype", "xmpp", "gtalk"],
    "photos": ["photo", "thumbnail"],
    "addresses": ["work", "home", "other"],
    "entitlements": ["admin", "reader"],
    "roles": ["staff", "guest"],
    "x509Certificates": ["x509"],
    "groups": ["direct", "indirect"],
}
MULTI = list(TYPES)
MULTI_SUBS = {
    "addresses": ["formatted", "streetAddress", "locality", "region", "postalCode", "country", "type", "primary"],
    "roles": ["value", "display", "type", "primary", "audienceValue"],
    "groups": ["value", "display", "type", "$ref"],
}
DEFAULT_SUBS = ["value", "display", "type", "primary"]
STRINGS = [
    "displayName",
    "nickName",
    "title",
    "userType",
    "preferredLanguage",
    "timezone",
    "externalId",
    "name.givenName",
    "name.familyName",
    "name.formatted",
    "name.middleName",
    "name.honorificPrefix",
]
STRING_EXTENSIONS = [
    f"{ENTERPRISE}:department",
    f"{ENTERPRISE}:employeeNumber",
    f"{ENTERPRISE}:costCenter",
    f"{ENTERPRISE}:manager.value",
    f"{ENTERPRISE}:manager.displayName",
    f"{WSO2}:country",
    f"{WSO2}:preferredChannel",
]
READ_ONLY = ["id", "meta", "meta.version", "groups", f"{WSO2}:accountLocked", f"{WSO2}:failedLoginAttempts", "schemas"]
URNS = [CORE, ENTERPRISE, WSO2]
COMPARE = ["eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le", "EQ", "Eq"]

short_text = st.text(max_size=24)
words = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789 -.", min_size=1, max_size=16)
json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**6), max_value=10**6),
    st.floats(allow_nan=False, allow_infinity=False, width=32),
    short_text,
    st.sampled_from(["work", "home", "other", "mobile", "kim@work.example", "true", "1", "", "x@y.example"]),
)


def _random_case(word: str) -> st.SearchStrategy[str]:
    return st.lists(st.booleans(), min_size=len(word), max_size=len(word)).map(
        lambda flips: "".join(c.upper() if f else c.lower() for c, f in zip(word, flips, strict=True))
    )


ops = st.sampled_from(["add", "replace", "remove"]).flatmap(lambda op: st.one_of(st.just(op), _random_case(op)))


def _sub_value(attr: str, sub: str) -> st.SearchStrategy[Any]:
    if sub == "primary":
        return st.booleans()
    if sub == "type":
        return st.sampled_from(TYPES[attr])
    if sub == "value" and attr == "emails":
        return words.map(lambda w: w.replace(" ", "") + "@example.com")
    return words


@st.composite
def multi_items(draw: st.DrawFn, attr: str) -> dict[str, Any]:
    subs = MULTI_SUBS.get(attr, DEFAULT_SUBS)
    chosen = draw(st.lists(st.sampled_from(subs), min_size=1, max_size=3, unique=True))
    item = {sub: draw(_sub_value(attr, sub)) for sub in chosen}
    if "value" in subs and draw(st.integers(0, 3)) > 0:
        item["value"] = draw(_sub_value(attr, "value"))
    return item


def well_typed(path: str) -> st.SearchStrategy[Any]:
    """A value that fits ``path`` (which may still be refused: read-only, required, ...)."""
    bare = path.removeprefix(CORE + ":")
    head = bare.split("[", 1)[0].split(".", 1)[0]
    if "[" in bare:
        tail = bare.rsplit("]", 1)[1]
        if tail:
            return _sub_value(head, tail[1:])
        return multi_items(head)
    if bare in ("active", f"{WSO2}:verifyEmail"):
        return st.booleans()
    if bare == "password":
        return st.text(min_size=8, max_size=40)
    if bare in ("locale",):
        return st.sampled_from(["en-US", "fr-FR", "si-LK"])
    if bare == "profileUrl":
        return words.map(lambda w: "https://example.com/" + w.replace(" ", ""))
    if bare == "name":
        return st.fixed_dictionaries({}, optional={"givenName": words, "familyName": words, "formatted": words})
    if head in TYPES:
        if "." in bare:
            return _sub_value(head, bare.split(".", 1)[1])
        return st.one_of(st.lists(multi_items(head), min_size=1, max_size=2), multi_items(head))
    if bare == ENTERPRISE:
        return st.fixed_dictionaries({}, optional={"department": words, "costCenter": words})
    if bare == WSO2:
        return st.fixed_dictionaries({}, optional={"country": words, "mobileNumbers": st.lists(words, max_size=2)})
    if bare == f"{ENTERPRISE}:manager":
        return st.fixed_dictionaries({"value": words}, optional={"displayName": words})
    if bare in (f"{WSO2}:mobileNumbers", f"{WSO2}:emailAddresses"):
        return st.lists(words, min_size=1, max_size=3)
    return words


@st.composite
def comparisons(draw: st.DrawFn, attr: str) -> str:
    subs = MULTI_SUBS.get(attr, DEFAULT_SUBS)
    sub = draw(st.sampled_from([*subs, "junk"]))
    if draw(st.integers(0, 9)) == 0:
        return f"{sub} pr"
    value = draw(
        st.one_of(
            st.sampled_from(TYPES[attr]).map(json.dumps),
            st.sampled_from(['"kim@work.example"', "true", "false", "null", "42", '""']),
            short_text.map(json.dumps),
        )
    )
    return f"{sub} {draw(st.sampled_from(COMPARE))} {value}"


@st.composite
def value_filters(draw: st.DrawFn) -> str:
    attr = draw(st.sampled_from(MULTI))
    expr = draw(comparisons(attr))
    for _ in range(draw(st.integers(0, 2))):
        expr = expr + draw(st.sampled_from([" and ", " or ", " AND "])) + draw(comparisons(attr))
    if draw(st.integers(0, 7)) == 0:
        expr = f"not ({expr})"
    subs = MULTI_SUBS.get(attr, DEFAULT_SUBS)
    tail = draw(st.one_of(st.just(""), st.sampled_from(subs).map(lambda s: "." + s)))
    prefix = draw(st.sampled_from(["", CORE + ":"]))
    return f"{prefix}{attr}[{expr}]{tail}"


@st.composite
def multi_paths(draw: st.DrawFn) -> str:
    attr = draw(st.sampled_from(MULTI))
    sub = draw(st.one_of(st.just(""), st.sampled_from(MULTI_SUBS.get(attr, DEFAULT_SUBS)).map(lambda s: "." + s)))
    return attr + sub


simple_paths = st.sampled_from([*STRINGS, "active", "password", "locale", "profileUrl", "name"])
_path_kinds: list[st.SearchStrategy[str]] = [
    simple_paths,
    simple_paths.map(lambda p: f"{CORE}:{p}"),
    multi_paths(),
    value_filters(),
    st.sampled_from([*STRING_EXTENSIONS, f"{ENTERPRISE}:manager", f"{WSO2}:mobileNumbers", f"{WSO2}:verifyEmail"]),
    st.sampled_from(URNS),
    st.sampled_from([*READ_ONLY, "userName"]),
]
# Weights out of 20: plain 6, URN-qualified 2, multi-valued 3, value filters 4, extensions 3,
# bare schema URNs 1, read-only or immutable targets 1.
_PATH_WEIGHTS = [6, 2, 3, 4, 3, 1, 1]
paths = st.integers(0, sum(_PATH_WEIGHTS) - 1).flatmap(
    lambda n: _path_kinds[next(i for i, edge in enumerate(itertools.accumulate(_PATH_WEIGHTS)) if n < edge)]
)


def _multi_value(subs: list[str]) -> st.SearchStrategy[dict[str, Any]]:
    return st.dictionaries(st.sampled_from(subs), json_scalars, max_size=4)


any_values = st.one_of(
    json_scalars,
    _multi_value(DEFAULT_SUBS),
    st.lists(_multi_value(DEFAULT_SUBS), max_size=3),
    st.lists(st.fixed_dictionaries({"value": short_text, "primary": st.just(True)}), min_size=2, max_size=3),
    st.dictionaries(st.sampled_from(["givenName", "familyName", "formatted", "junk"]), json_scalars, max_size=3),
    st.lists(json_scalars, max_size=3),
)


@st.composite
def pathless_values(draw: st.DrawFn) -> dict[str, Any]:
    keys = draw(
        st.lists(
            st.sampled_from(
                [
                    "displayName",
                    "nickName",
                    "title",
                    "name",
                    "emails",
                    "phoneNumbers",
                    "addresses",
                    "active",
                    "password",
                    "locale",
                    "userName",
                    "id",
                    "meta",
                    "groups",
                    "schemas",
                    "unknownThing",
                    f"{CORE}:nickName",
                    f"{ENTERPRISE}:department",
                    ENTERPRISE,
                    WSO2,
                ]
            ),
            max_size=4,
            unique=True,
        )
    )
    value: dict[str, Any] = {}
    for key in keys:
        typed = well_typed(key) if key not in ("id", "meta", "schemas", "unknownThing", "userName") else any_values
        value[key] = draw(typed if draw(st.integers(0, 4)) > 0 else any_values)
    return value


@st.composite
def grammatical_operations(draw: st.DrawFn) -> dict[str, Any]:
    op = draw(ops)
    operation: dict[str, Any] = {"op": op}
    if op.lower() != "remove" and draw(st.integers(0, 3)) == 0:
        operation["value"] = draw(pathless_values())
        return operation
    path = draw(paths)
    operation["path"] = path
    if op.lower() != "remove" or draw(st.integers(0, 5)) == 0:
        operation["value"] = draw(well_typed(path) if draw(st.integers(0, 4)) > 0 else any_values)
    return operation


grammatical_bodies = st.lists(grammatical_operations(), min_size=1, max_size=3).map(
    lambda operations: {"schemas": [PATCH_URN], "Operations": operations}
)

# ---- mutated bodies ----------------------------------------------------------------------------

huge_numbers = st.one_of(
    st.integers(min_value=2**63, max_value=10**40),
    st.integers(min_value=-(10**40), max_value=-(2**63)),
    st.sampled_from([1e308, -1e308, 5e-324, 10**400]),
)
unicode_text = st.text(alphabet=st.characters(codec="utf-8"), max_size=64)
long_text = st.integers(256, 4096).map(lambda n: "a" * n)
junk = st.recursive(
    st.one_of(json_scalars, huge_numbers, unicode_text),
    lambda children: st.one_of(st.lists(children, max_size=3), st.dictionaries(short_text, children, max_size=3)),
    max_leaves=12,
)
junk_paths = st.one_of(
    unicode_text,
    long_text,
    st.sampled_from(
        [
            "",
            " ",
            ".",
            "emails[",
            "emails]",
            "emails[type eq]",
            'emails[type eq "work"',
            "emails[]",
            'emails[type eq "work"].value.extra',
            "name..givenName",
            "urn:",
            "urn:bogus:schema:attr",
            f"{ENTERPRISE}:",
            f"{ENTERPRISE}:nope",
            'emails[type eq "a"][value eq "b"]',
            "emails.value[type eq 1]",
            "members",
            'emails[value co "\\"]',
            "123",
            "name.givenName.more",
            "$ref",
            'emails[(type eq "work")]',
        ]
    ),
    st.integers(),
    st.lists(short_text, max_size=2),
    st.none(),
)
junk_ops = st.one_of(
    st.sampled_from(["", "ADD ", "delete", "patch", "move", "copy", "test", "upsert", "replace\u0000", "re place"]),
    unicode_text,
    st.integers(),
    st.none(),
    st.booleans(),
    st.lists(st.sampled_from(["add", "replace"]), max_size=2),
)


@st.composite
def mutated_operations(draw: st.DrawFn) -> Any:
    base: dict[str, Any] = dict(draw(grammatical_operations()))
    mutation = draw(st.integers(0, 9))
    if mutation == 0:
        base["op"] = draw(junk_ops)
    elif mutation == 1:
        base["path"] = draw(junk_paths)
    elif mutation == 2:
        base["value"] = draw(junk)
    elif mutation == 3:
        base.pop(draw(st.sampled_from(["op", "path", "value"])), None)
    elif mutation == 4:
        base["value"] = draw(st.one_of(huge_numbers, long_text, st.lists(long_text, max_size=2), unicode_text))
    elif mutation == 5:
        base[draw(st.sampled_from(["Op", "PATH", "Value", "extra", "from"]))] = draw(junk)
    elif mutation == 6:
        return draw(junk)  # the operation itself is not an object
    elif mutation == 7:
        base["value"] = {"password": draw(st.one_of(junk, st.just(""), st.just("short"), long_text))}
    elif mutation == 8:
        base["value"] = [base.get("value")] if draw(st.booleans()) else {"value": base.get("value")}
    else:
        base["path"] = draw(paths) + draw(st.sampled_from(["\u00e9", "[", "]", '"', " eq ", "..", ":", "\U0001f600"]))
    return base


@st.composite
def mutated_bodies(draw: st.DrawFn) -> Any:
    kind = draw(st.integers(0, 9))
    if kind <= 4:  # a well-formed envelope with one or more bad operations among good ones
        operations: list[Any] = draw(st.lists(grammatical_operations(), min_size=1, max_size=4))
        for _ in range(draw(st.integers(1, len(operations)))):
            operations[draw(st.integers(0, len(operations) - 1))] = draw(mutated_operations())
        return {"schemas": [PATCH_URN], "Operations": operations}
    if kind == 5:
        return {"schemas": [PATCH_URN]}  # no Operations
    if kind == 6:
        return {"schemas": [PATCH_URN], "Operations": draw(st.one_of(junk, st.dictionaries(short_text, junk)))}
    if kind == 7:
        body = draw(grammatical_bodies)
        body["schemas"] = draw(st.one_of(junk, st.lists(unicode_text, max_size=2)))
        return body
    if kind == 8:
        body = draw(grammatical_bodies)
        body["operations" if draw(st.booleans()) else draw(short_text)] = body.pop("Operations")
        return body
    return draw(junk)  # the body itself is anything


# 7 in 10 bodies follow the grammar, 3 in 10 are mutated.
bodies = st.integers(0, 9).flatmap(lambda n: grammatical_bodies if n < 7 else mutated_bodies())


def _has_password_member(value: Any) -> bool:
    if isinstance(value, dict):
        return any(str(k).lower() == "password" or _has_password_member(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_password_member(v) for v in value)
    return False


def _read_only_view(profile: dict[str, Any], registry: Any) -> dict[str, Any]:
    """The stored values of every attribute (or sub-attribute) the user may not change via /Me."""
    view: dict[str, Any] = {}
    for schema in registry.all_schemas():
        is_core = schema.id in (registry.core.id, registry.common.id)
        container = profile if is_core else profile.get(schema.id) or {}
        for attr in schema.attributes.values():
            value = container.get(attr.name)
            if attr.is_read_only:
                view[attr.qualified_name] = value
            elif isinstance(value, dict):
                for sub in attr.sub_attributes.values():
                    if sub.is_read_only:
                        view[sub.qualified_name] = value.get(sub.name)
    return view


def _state(user: Any) -> tuple[Any, ...]:
    return (user.profile, user.version, user.password_hash, user.password_changed_at, user.updated_at, user.user_name)


@pytest.mark.parametrize("shard", range(SHARDS))
def test_generated_patch_bodies_never_break_the_server(
    shard: int, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    app = build_app(f"sqlite:///{tmp_path / 'fuzz.db'}", tmp_path)
    db = app.extensions["scim_me"].db
    try:
        tenant = make_tenant(app, "acme")
        user = make_user(app, tenant, "kim", **INITIAL_PROFILE)
        token = make_token(app, tenant, user)
        client = app.test_client()
        headers = bearer(token, **{"Content-Type": SCIM_JSON, "Accept": SCIM_JSON})
        initial = client.get("/t/acme/scim2/Me", headers=headers)
        assert initial.status_code == 200, initial.json
        created = initial.json["meta"]["created"]
        registry = app.extensions["scim_me"].registry_for("acme")
        protected = _read_only_view(user.profile, registry)
        assert protected[f"{ENTERPRISE}:department"] == "R&D"  # the view really covers something
        seen: dict[str, int] = {"2xx": 0, "4xx": 0, "changed": 0}

        @seed(shard)
        @settings(
            max_examples=SHARD_EXAMPLES,
            deadline=None,
            database=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
        )
        @given(body=bodies)
        def check(body: Any) -> None:
            before = load_user(app, tenant, user.id)
            assert before is not None
            if before.profile != user.profile or before.password_hash != user.password_hash:
                # Every example starts from the same document, so a failure replays exactly.
                with db.connection_context():
                    assert update_user(before, user.profile, password_hash=user.password_hash) is not None
                before = load_user(app, tenant, user.id)
                assert before is not None

            response = client.patch("/t/acme/scim2/Me", data=json.dumps(body), headers=headers)
            after = load_user(app, tenant, user.id)
            assert after is not None
            status = response.status_code
            assert status < 500, (status, response.get_data(as_text=True))
            payload = response.get_json(silent=True)
            assert isinstance(payload, dict), (status, response.get_data(as_text=True))
            assert not _has_password_member(payload), payload

            if 400 <= status < 500:
                seen["4xx"] += 1
                assert response.mimetype == SCIM_JSON
                assert payload["schemas"] == [ERROR_URN], payload
                assert payload["status"] == str(status), payload
                assert isinstance(payload.get("detail"), str), payload
                if "scimType" in payload:
                    assert payload["scimType"] in SCIM_TYPES, payload
                assert _state(after) == _state(before), "a rejected PATCH changed the stored user"
                return

            assert status == 200, (status, payload)
            seen["2xx"] += 1
            assert payload["id"] == user.id
            assert payload["userName"] == "kim"
            assert payload["meta"]["created"] == created
            assert response.headers["ETag"] == f'W/"{after.version}"'
            assert after.user_name == "kim"
            assert after.profile.get("userName") == "kim"
            assert after.created_at == before.created_at
            assert after.version in (before.version, before.version + 1)
            if after.version != before.version:
                seen["changed"] += 1
            assert "password" not in after.profile
            assert _read_only_view(after.profile, registry) == _read_only_view(before.profile, registry)

        check()
    finally:
        db.close_all()

    errors = [r for r in caplog.records if r.levelno >= logging.ERROR and r.name.startswith("scim_me")]
    assert errors == [], errors[0].getMessage()
    # The mix really exercised both sides: plenty of accepted and of rejected bodies.
    assert seen["2xx"] >= SHARD_EXAMPLES // 10, seen
    assert seen["changed"] >= SHARD_EXAMPLES // 10, seen
    assert seen["4xx"] >= SHARD_EXAMPLES // 5, seen

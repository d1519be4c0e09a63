"""The searchable values of a stored profile: the rows ``users.search`` carries and the database
explodes into ``user_values`` (docs/scim-filters.md).

One row per scalar leaf of the profile, ``[key, sub, pos, exact, folded, number, flag, instant]``:

- ``key``: the attribute, lower-cased; an extension attribute is prefixed with its schema
  (:func:`attribute_key`), so ``urn:...:enterprise:2.0:User:manager`` is ``ent:manager``;
- ``sub``: the lower-cased sub-attribute, ``""`` for a simple attribute;
- ``pos``: the value's index in a multi-valued attribute (0 otherwise), so that the tests of one
  complex filter (``emails[type eq "work" and value co "@x"]``) meet on the SAME value;
- the value, typed: a string in ``exact`` and ``folded`` (casefolded: caseExact false
  comparisons, RFC 7643 §2.2) and, when it reads as an xsd:dateTime, ``instant`` (UTC, fixed
  width, so text order is time order); a number in ``number`` (a double: integers beyond 2**53
  compare approximately); a boolean in ``flag``.

Each element of a multi-valued complex attribute (and a single complex value) also gets a marker
row (``sub`` ``""``, no value): a value filter enumerates the elements through them, even one with
no sub-attribute set. The rows depend on the profile alone, never on the schema: a schema change
(a tenant's custom attribute becoming caseExact) needs no rewrite, as queries choose ``exact`` or
``folded`` by the schema they are asked under.

The keys are stored: :data:`KEY_PREFIXES` may gain entries, never change one.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import UTC
from datetime import datetime
from typing import Any

from scim_me.core.schemas import CUSTOM_URN
from scim_me.core.schemas import ENTERPRISE_URN
from scim_me.core.schemas import WSO2_URN

# Short prefixes for the extensions every tenant has (index entries stay short); any other URN
# is its own prefix.
KEY_PREFIXES = {ENTERPRISE_URN.lower(): "ent:", WSO2_URN.lower(): "wso2:", CUSTOM_URN.lower(): "custom:"}

# The longest string indexed in full; the index is on the first INDEXED_PREFIX characters of
# ``folded`` (a btree entry has a size limit on PostgreSQL), queries compare the whole value.
INDEXED_PREFIX = 128

_LOOKS_LIKE_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")

Row = list[Any]


def attribute_key(schema_urn: str | None, name: str) -> str:
    """The stored key of a top-level attribute: its lower-cased name, prefixed for extensions."""
    if schema_urn is None:
        return name.lower()
    lowered = schema_urn.lower()
    return KEY_PREFIXES.get(lowered, lowered + ":") + name.lower()


def fold(text: str) -> str:
    """The caseExact-false form of a string (RFC 7643 §2.2): Unicode case folding."""
    return text.casefold()


def parse_instant(text: str) -> datetime | None:
    """An xsd:dateTime (RFC 7643 §2.3.5) as an aware UTC datetime; None if it is not one.
    Without an offset it is read as UTC, as the PATCH engine does (core/filters.py)."""
    if not _LOOKS_LIKE_DATE.match(text):
        return None
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    try:
        return parsed.astimezone(UTC)
    except (OverflowError, ValueError):
        return None  # year 1 with a positive offset: no UTC instant in datetime's range


def instant_text(moment: datetime) -> str:
    """Fixed-width UTC text of an aware datetime: text order is time order."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _leaf(key: str, sub: str, pos: int, value: Any) -> Row | None:
    if isinstance(value, bool):
        return [key, sub, pos, None, None, None, value, None]
    if isinstance(value, (int, float)):
        number = as_number(value)
        return None if number is None else [key, sub, pos, None, None, number, None, None]
    if isinstance(value, str):
        folded = fold(value)
        moment = parse_instant(value)
        # ``folded`` is left out when it is the string itself (the database fills it in).
        instant = instant_text(moment) if moment else None
        return [key, sub, pos, value, None if folded == value else folded, None, None, instant]
    return None  # null, or a nested structure SCIM does not have: nothing to search


def as_number(value: int | float) -> float | None:
    """A number as the database compares it (a double); None for what no double holds."""
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) else None


def _marker(key: str, pos: int) -> Row:
    return [key, "", pos, None, None, None, None, None]


def _complex(key: str, pos: int, value: Mapping[str, Any], rows: list[Row]) -> None:
    rows.append(_marker(key, pos))
    for sub, inner in value.items():
        row = _leaf(key, sub.lower(), pos, inner)
        if row is not None:
            rows.append(row)


def _attribute(key: str, value: Any, rows: list[Row]) -> None:
    if isinstance(value, list):
        for pos, item in enumerate(value):
            if isinstance(item, Mapping):
                _complex(key, pos, item, rows)
            else:
                row = _leaf(key, "", pos, item)
                if row is not None:
                    rows.append(row)
    elif isinstance(value, Mapping):
        _complex(key, 0, value, rows)
    else:
        row = _leaf(key, "", 0, value)
        if row is not None:
            rows.append(row)


def _keyed(profile: Mapping[str, Any]) -> dict[str, list[Any]]:
    """The profile's searchable attributes by stored key (an extension's attributes under their
    own keys); a list, as two spellings of one name would share a key."""
    keyed: dict[str, list[Any]] = {}
    for name, value in profile.items():
        if name.lower() == "password":
            continue  # never stored in a profile; never searchable should it be
        if name[:4].lower() == "urn:" and isinstance(value, Mapping):
            for inner_name, inner in value.items():
                keyed.setdefault(attribute_key(name, inner_name), []).append(inner)
        else:
            keyed.setdefault(attribute_key(None, name), []).append(value)
    return keyed


def search_rows(profile: Mapping[str, Any]) -> list[Row]:
    """Every searchable value of ``profile`` (a stored profile: core attributes at the top,
    extensions under their URN), as rows described in the module docstring."""
    rows: list[Row] = []
    for key, values in _keyed(profile).items():
        for value in values:
            _attribute(key, value, rows)
    return rows


_ABSENT = object()


def _same(left: Any, right: Any) -> bool:
    """Equal as JSON values: ``True`` is not ``1`` here (they are stored as different rows)."""
    if left is right:
        return True
    kind = type(left)
    if kind is not type(right):
        return False
    if kind is dict:
        if len(left) != len(right):
            return False
        for key, value in left.items():  # noqa: SIM110 (a loop: no generator on the write path)
            if not _same(value, right.get(key, _ABSENT)):
                return False
        return True
    if kind is list:
        if len(left) != len(right):
            return False
        for value, other in zip(left, right, strict=True):  # noqa: SIM110 (as above)
            if not _same(value, other):
                return False
        return True
    return bool(left == right)


def _keys_of(name: str, value: Any) -> list[str]:
    """The stored keys a top-level profile entry makes (as :func:`_keyed` makes them)."""
    if name.lower() == "password":
        return []
    if name[:4].lower() == "urn:" and isinstance(value, Mapping):
        return [attribute_key(name, inner) for inner in value]
    return [attribute_key(None, name)]


def _changed_keys(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[str]:
    """The stored keys whose values differ between two profiles."""
    keys: set[str] = set()
    for name in before.keys() | after.keys():
        old, new = before.get(name, _ABSENT), after.get(name, _ABSENT)
        if old is new or (old == new and _same(old, new)):
            continue
        if name[:4].lower() == "urn:" and isinstance(old, Mapping) and isinstance(new, Mapping):
            for inner in old.keys() | new.keys():
                if not _same(old.get(inner, _ABSENT), new.get(inner, _ABSENT)):
                    keys.add(attribute_key(name, inner))
            continue
        if old is not _ABSENT:
            keys.update(_keys_of(name, old))
        if new is not _ABSENT:
            keys.update(_keys_of(name, new))
    return sorted(keys)


def search_change(before: Mapping[str, Any] | None, after: Mapping[str, Any]) -> tuple[list[str], list[Row]]:
    """What a write from ``before`` (None: a new user) to ``after`` changes in the searchable
    values: the keys whose rows go, and the rows that replace them. A one-attribute PATCH thus
    rewrites that attribute's rows, not the profile's: the write path stays cheap."""
    if before is None:
        return [], search_rows(after)
    changed = _changed_keys(before, after)
    if not changed:
        return [], []
    new = _keyed(after)
    rows: list[Row] = []
    for key in changed:
        for value in new.get(key, ()):
            _attribute(key, value, rows)
    return changed, rows

"""The PATCH engine's per-request workspace: multi-valued attributes indexed once per request.

One request may carry a thousand operations that add to, filter, or write through a filter into
one long multi-valued attribute (security.md T-FUZZ: 1,000 x ``replace phoneNumbers[value sw
"+1"].display`` over 2,000 values took 19 s). :class:`Workspace` tracks each such list for the
length of one ``apply_patch`` call so that an operation costs O(1) amortised, not O(values):

- ``add`` finds duplicates through an index of folded values (RFC 7644 §3.5.2.1);
- an ``eq`` filter narrows through an index of one sub-attribute's keys, an ``sw`` or ``ew``
  filter through a sorted index of its (folded, for ``ew`` reversed) strings;
- any other filter is compiled once and its matches are remembered: the same filter again costs
  nothing while no sub-attribute it reads has changed, and only the values appended since are
  tested (appends are the only change that does not touch an existing value);
- a write of one sub-attribute through a filter (``emails[type eq "work"].display``) is recorded
  and applied when something next reads the list, and a later write of the same sub-attribute
  through the same filter replaces the recorded one instead of touching every value again.

Operations that rebuild a list (removing values, replacing the whole attribute, writing a
sub-attribute of every value) cost O(length), as they must; the indexes are rebuilt when next
needed. What stays O(values) per operation: a filter read right after a deferred write to a
sub-attribute it reads, and distinct filters of other shapes (``co``, ``ne``, ``pr``, ``gt``...);
the value and operation caps bound them
(SCIM_ME_MAX_VALUES_PER_ATTRIBUTE, SCIM_ME_MAX_OPERATIONS).

Every index only narrows or replays: :func:`~scim_me.core.filters.matches` semantics decide, and
the results equal applying the operations one by one (tests/core/test_patch_scaling.py).
"""

from __future__ import annotations

from bisect import bisect_left
from bisect import insort
from collections.abc import Callable
from collections.abc import Mapping
from collections.abc import MutableMapping
from collections.abc import Set
from dataclasses import dataclass
from dataclasses import field
from itertools import islice
from typing import Any

from scim_me.core.filters import Node
from scim_me.core.filters import compile_filter
from scim_me.core.filters import eq_candidates
from scim_me.core.filters import eq_indexable
from scim_me.core.filters import eq_key
from scim_me.core.filters import filter_names
from scim_me.core.filters import read_value
from scim_me.core.schemas import Attribute
from scim_me.core.values import fold
from scim_me.core.values import is_unassigned
from scim_me.core.values import same_value
from scim_me.errors import InvalidValueError

Lookup = Callable[[str], Attribute | None]


def has_primary(attr: Attribute) -> bool:
    return attr.is_complex and attr.sub("primary") is not None


def is_primary(item: Any) -> bool:
    return isinstance(item, Mapping) and item.get("primary") is True


def primary_winner(primaries: list[int], touched: set[int]) -> int:
    """Of the positions flagged primary (ascending), the last one touched, else the first."""
    favoured = [i for i in primaries if i in touched]
    return favoured[-1] if favoured else primaries[0]


# The key of a value that has none: ``fold`` raised, or gave something unhashable (a list).
_UNKEYED: Any = object()
_NO_POSITIONS: frozenset[int] = frozenset()


class _PositionIndex:
    """Positions of a list's values grouped by a key computed once per value."""

    def __init__(self, key_of: Callable[[Any], Any], items: list[Any]) -> None:
        self._key_of = key_of
        self._keys: list[Any] = []  # each position's key, cached: an update must find its old bucket
        self._buckets: dict[Any, set[int]] = {}
        self.unkeyed: set[int] = set()
        for position, item in enumerate(items):
            self.put(position, item)

    def put(self, position: int, item: Any) -> None:
        """Record ``item`` at ``position``: a new last position, or an existing one updated."""
        assert position <= len(self._keys)
        key = self._key_of(item)
        if position < len(self._keys):
            self._forget(position)
            self._keys[position] = key
        else:
            self._keys.append(key)
        if key is _UNKEYED:
            self.unkeyed.add(position)
        else:
            self._buckets.setdefault(key, set()).add(position)

    def _forget(self, position: int) -> None:
        key = self._keys[position]
        if key is _UNKEYED:
            self.unkeyed.discard(position)
            return
        bucket = self._buckets[key]
        bucket.discard(position)
        if not bucket:
            del self._buckets[key]

    def get(self, key: Any) -> Set[int]:
        return self._buckets.get(key, _NO_POSITIONS)


class _PrefixIndex:
    """Positions whose string value of one sub-attribute starts with a given prefix: the strings
    (casefolded unless ``caseExact``, reversed for ``ew``) kept sorted with their positions."""

    def __init__(self, name: str, attr: Attribute | None, reverse: bool, items: list[Any]) -> None:
        self._name = name
        self._case_exact = attr is not None and attr.case_exact
        self._reverse = reverse
        self._sorted: list[tuple[str, int]] = []
        self._key_at: list[str | None] = []
        for position, item in enumerate(items):
            self.put(position, item)

    def key(self, text: str) -> str:
        folded = text if self._case_exact else text.casefold()
        return folded[::-1] if self._reverse else folded

    def put(self, position: int, item: Any) -> None:
        """Record ``item`` at ``position``: a new last position, or an existing one updated."""
        value = read_value(item, self._name)
        key = self.key(value) if isinstance(value, str) else None
        if position < len(self._key_at):
            old = self._key_at[position]
            if old == key:
                return  # another sub-attribute changed
            if old is not None:
                del self._sorted[bisect_left(self._sorted, (old, position))]
            self._key_at[position] = key
        else:
            self._key_at.append(key)
        if key is not None:
            insort(self._sorted, (key, position))

    def starting_with(self, literal: str) -> set[int]:
        prefix = self.key(literal)
        found = set()
        for index in range(bisect_left(self._sorted, (prefix, -1)), len(self._sorted)):
            key, position = self._sorted[index]
            if not key.startswith(prefix):
                break
            found.add(position)
        return found


def _fold_key(attr: Attribute, item: Any) -> Any:
    """``fold(attr, item)`` if it can be computed and hashed, else ``_UNKEYED``.

    Only odd stored data has no key (a value holding a list, or keys differing only in case whose
    values do not sort). Such values are compared with ``same_value`` one by one, in list order,
    as before, so anything it raises is still raised at the same point.
    """
    try:
        key = fold(attr, item)
        hash(key)
    except Exception:
        return _UNKEYED
    return key


def _eq_key_of(name: str, attr: Attribute | None) -> Callable[[Any], Any]:
    """The key of a value for ``name eq ...`` filters; unkeyed values can never match one."""

    def key_of(item: Any) -> Any:
        key = eq_key(read_value(item, name), attr)
        return _UNKEYED if key is None else key

    return key_of


def _mark(positions: set[int], position: int, flag: bool) -> None:
    if flag:
        positions.add(position)
    else:
        positions.discard(position)


@dataclass(eq=False)
class Matches:
    """A filter's matches over a prefix of the list: ascending positions < ``covered``.

    Only ever extended (by values appended since), so an older view of ``positions`` is a prefix
    of a newer one; when a sub-attribute the filter reads changes, a new object replaces it.
    """

    stamp: tuple[int, ...]
    positions: list[int] = field(default_factory=list)
    covered: int = 0


@dataclass(frozen=True)
class _Write:
    """A sub-attribute value written through a filter, not yet applied to the values."""

    name: str  # the sub-attribute's name as the schema spells it
    positions: list[int]  # read up to ``count``: a Matches list may grow after the write
    count: int
    value: Any


class IndexedValues:
    """One multi-valued attribute's values in the working resource, with indexes over them.

    ``items`` is this request's own list and changes only through :meth:`append`, :meth:`replace`
    and :meth:`settle`, which keep every index current. Code that builds a new list instead
    (removing values, replacing the attribute) simply leaves this object behind: the workspace
    sees that the container no longer holds ``items`` and indexes the new list when next asked.
    While writes are deferred, ``items`` lacks them: read it only after :meth:`settle`.
    """

    def __init__(self, attr: Attribute, items: list[Any], max_values: int | None, label: str) -> None:
        self.attr = attr
        self.items = items
        self._max_values = max_values
        self._label = label
        # Positions holding an unassigned value: the operation's end drops them (RFC 7643 §2.5).
        self.empty = {i for i, item in enumerate(items) if is_unassigned(item)}
        # Positions of a complex attribute that hold no JSON object (odd stored data).
        self._odd = {i for i, item in enumerate(items) if not isinstance(item, Mapping)} if attr.is_complex else set()
        self._primary = {i for i, item in enumerate(items) if is_primary(item)} if has_primary(attr) else None
        # Built on first use: many requests only add, or only filter.
        self._folds: _PositionIndex | None = None
        self._eqs: dict[str, _PositionIndex] = {}  # by lower-cased filter attribute name
        self._prefixes: dict[tuple[str, str], _PrefixIndex] = {}  # by (op, lower-cased name)
        self._predicates: dict[Node, Callable[[Any], bool]] = {}
        self._matches: dict[Node, Matches] = {}
        # A counter per lower-cased sub-attribute name, bumped when a value's sub-attribute of that
        # name changes (the "" entry: a change of unknown extent). Remembered matches carry them.
        self._changes: dict[str, int] = {}
        self._pending: dict[tuple[str, object], _Write] = {}
        self._pending_names: set[str] = set()

    def append(self, item: Any) -> int:
        if self._max_values is not None and len(self.items) >= self._max_values:
            # Refused now rather than after the remaining operations ran over a longer list; worded
            # as core/bounds.py words the same refusal of a finished profile.
            raise InvalidValueError(
                f"{self._label} has {len(self.items) + 1} values; at most {self._max_values} are accepted."
            )
        self.items.append(item)
        position = len(self.items) - 1
        self._record(position, item)
        return position

    def replace(self, position: int, item: Any, changed: str | None = None) -> None:
        """Put ``item`` at ``position``; ``changed`` names the one sub-attribute that differs, if known."""
        self.items[position] = item
        key = "" if changed is None else changed.lower()
        self._changes[key] = self._changes.get(key, 0) + 1
        self._record(position, item)

    def _record(self, position: int, item: Any) -> None:
        _mark(self.empty, position, is_unassigned(item))
        if self.attr.is_complex:
            _mark(self._odd, position, not isinstance(item, Mapping))
        if self._primary is not None:
            _mark(self._primary, position, is_primary(item))
        if self._folds is not None:
            self._folds.put(position, item)
        for index in self._eqs.values():
            index.put(position, item)
        for prefixes in self._prefixes.values():
            prefixes.put(position, item)

    def first_equal(self, candidate: Any) -> int | None:
        """The first position whose value ``same_value`` finds equal to ``candidate``, if any."""
        self.settle()
        if self._folds is None:
            self._folds = _PositionIndex(lambda item: _fold_key(self.attr, item), self.items)
        key = _fold_key(self.attr, candidate)
        if key is _UNKEYED:  # not for a coerced value; kept exact all the same
            return next((i for i, item in enumerate(self.items) if same_value(self.attr, item, candidate)), None)
        bucket = self._folds.get(key)
        first = min(bucket) if bucket else None
        for position in sorted(self._folds.unkeyed):
            if first is not None and position > first:
                break
            if same_value(self.attr, self.items[position], candidate):
                return position
        return first

    def matching(self, node: Node, lookup: Lookup) -> list[int]:
        """The positions whose value ``node`` matches, ascending, as a scan would find them."""
        return list(self.select(node, lookup)[0])

    def select(self, node: Node, lookup: Lookup) -> tuple[list[int], Matches]:
        """:meth:`matching` without the copy: the positions (do not change them) and the
        :class:`Matches` that remembers them.

        ``eq``, ``sw`` and ``ew`` tests narrow the values to test through an index; the values
        appended since a filter's matches were found are tested one by one.
        """
        names = filter_names(node)
        if not self._pending_names.isdisjoint(names):
            self.settle()  # the filter reads a sub-attribute whose writes are still pending
        predicate = self._predicates.get(node)
        if predicate is None:
            predicate = self._predicates[node] = compile_filter(node, lookup)
        items = self.items
        stamp = (self._changes.get("", 0), *(self._changes.get(name, 0) for name in sorted(names)))
        found = self._matches.get(node)
        if found is None or found.stamp != stamp:
            candidates = eq_candidates(node, lambda op, name, literal: self._positions(op, name, literal, lookup))
            pool = range(len(items)) if candidates is None else sorted(candidates)
            found = self._matches[node] = Matches(stamp, [p for p in pool if predicate(items[p])], len(items))
        elif found.covered < len(items):
            found.positions.extend(p for p in range(found.covered, len(items)) if predicate(items[p]))
            found.covered = len(items)
        return found.positions, found

    def _positions(self, op: str, name: str, literal: Any, lookup: Lookup) -> set[int] | None:
        attr = lookup(name)
        if op != "eq":
            prefixes = self._prefixes.get((op, name.lower()))
            if prefixes is None:
                prefixes = _PrefixIndex(name, attr, op == "ew", self.items)
                self._prefixes[(op, name.lower())] = prefixes
            return prefixes.starting_with(literal)
        key = eq_key(literal, attr)
        if key is None or not eq_indexable(attr):
            return None
        index = self._eqs.get(name.lower())
        if index is None:
            index = self._eqs[name.lower()] = _PositionIndex(_eq_key_of(name, attr), self.items)
        return set(index.get(key))

    def can_defer(self, sub: Attribute) -> bool:
        """True when writing a non-null ``sub`` into matched values may wait for :meth:`settle`:
        it can change no primary flag, empty no value, and every value is a JSON object."""
        return (
            sub.name.lower() != "primary"
            and not self.empty
            and not self._odd
            and (self._primary is None or len(self._primary) <= 1)
        )

    def defer(self, sub: Attribute, positions: list[int], matches: Matches, value: Any) -> None:
        """Record ``value`` (coerced, not None) as ``sub`` of the values at ``positions``.

        Writing the same sub-attribute through the same remembered filter again supersedes the
        earlier write: its positions are a prefix of the new ones (see :class:`Matches`).
        """
        key = (sub.name, matches)
        self._pending.pop(key, None)  # re-inserted last: the order of writes is kept
        self._pending[key] = _Write(sub.name, positions, len(positions), value)
        self._pending_names.add(sub.name.lower())

    def settle(self) -> None:
        """Apply the deferred writes in the order they were made."""
        if not self._pending:
            return
        writes = list(self._pending.values())
        self._pending.clear()
        self._pending_names.clear()
        for write in writes:
            for position in islice(write.positions, write.count):
                self.replace(position, {**self.items[position], write.name: write.value}, write.name)

    def normalize_primary(self, touched: set[int]) -> None:
        """Keep at most one ``primary: true`` (RFC 7643 §2.4), from the tracked primary positions.

        The value this operation set as primary wins; the others are set to false.
        """
        if self._primary is None or len(self._primary) <= 1:
            return
        self.settle()
        primaries = sorted(self._primary)
        winner = primary_winner(primaries, touched)
        for position in primaries:
            if position != winner:
                self.replace(position, {**self.items[position], "primary": False}, "primary")


class Workspace:
    """The indexed multi-valued attributes of one ``apply_patch`` call (dropped with it).

    ``max_values``, when given, refuses an operation that appends a value beyond it, so a request
    can not grow a list past the stored-profile cap and then run its other operations over it.
    ``top_level`` are the schema ids whose attributes sit at the resource's top level (errors name
    the others ``urn:...:name``).
    """

    def __init__(self, max_values: int | None = None, top_level: tuple[str, ...] = ()) -> None:
        self._tracked: dict[tuple[str, str], IndexedValues] = {}
        self._max_values = max_values
        self._top_level = top_level

    def values(self, container: MutableMapping[str, Any], attr: Attribute) -> IndexedValues:
        """``attr``'s values in ``container``, indexed.

        The first time, and whenever other code has put a new list in its place, the list is
        copied into the container (so changing it in place can touch nothing else) and indexed.
        """
        key = (attr.schema, attr.name)
        current = container.get(attr.name)
        tracked = self._tracked.get(key)
        if tracked is not None and tracked.items is current:
            return tracked
        items = list(current or [])
        container[attr.name] = items
        label = attr.name if attr.schema in self._top_level else f"{attr.schema}:{attr.name}"
        tracked = self._tracked[key] = IndexedValues(attr, items, self._max_values, label)
        return tracked

    def known_compact(self, container: Mapping[str, Any], attr: Attribute) -> bool:
        """True when ``attr``'s list in ``container`` is tracked and holds no unassigned value."""
        tracked = self._tracked.get((attr.schema, attr.name))
        return tracked is not None and tracked.items is container.get(attr.name) and not tracked.empty

    def settle(self, attr: Attribute) -> None:
        """Apply ``attr``'s deferred writes: call before code that reads its list directly."""
        tracked = self._tracked.get((attr.schema, attr.name))
        if tracked is not None:
            tracked.settle()

    def settle_all(self) -> None:
        for tracked in self._tracked.values():
            tracked.settle()

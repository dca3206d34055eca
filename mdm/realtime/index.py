"""The candidate index: the records a record would be compared with, found without a scan.

For each blocking rule the index keeps a hash of every record's key (its values of the
rule's columns) as an *entry* of one sorted int64 array, beside the record's slot: the
rule's number in the top bits, the hash's low bits below (59 of them for 16 rules).
The records sharing a record's keys, for every rule at once, are then one vectorised
binary search away. Records added or removed since the array was built wait in a small
overlay (a dict per rule) until :meth:`CandidateIndex.compact` merges them in.

The candidates are exactly the records the bulk run pairs with the record (see
:func:`mdm.linkage.model.blocking_sql`): those sharing every key of at least one rule,
all keys present. A rule with ``max_block_size`` pairs on its keys only while at most
that many records share them (the bulk run counts them by a hash of the keys),
counting the record being matched in place of the one it updates. A rule whose two
keys may be swapped (``any_order``) joins them lesser first.

An entry only points: the key of the records it points at is checked against the
record's (read from the :class:`RecordTable`), and no two keys in the index share an
entry (a rule whose keys would is hashed anew with another seed), so the counts of
records sharing a key are exact. The hash is Python's own (SipHash on text): the index
lives in one process and is built afresh at start-up, so it need not be stable across
processes, and it is ~50 ns a key.

The owner keeps the index in step with the table: ``index.remove(slot)`` before a
record changes or goes, ``index.add(slot)`` once the table holds its new values.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import repeat
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from mdm.errors import ConflictError, NotFoundError
from mdm.realtime.records import RecordTable
from mdm.rules.match import BlockingRule, MatchRules

_NO_SLOTS: frozenset[int] = frozenset()


def key_columns(rules: MatchRules) -> tuple[str, ...]:
    """The columns the blocking rules read, in the order they first appear."""
    return tuple(dict.fromkeys(key for rule in rules.blocking for key in rule.keys))


def _text(value: Any) -> str | None:
    """A key value as DuckDB's VARCHAR writes it; None when missing."""
    if value.__class__ is str:
        return value
    if value is None or value is pd.NA or (isinstance(value, float) and value != value):
        return None
    if isinstance(value, bool | np.bool_):
        return "true" if value else "false"
    return str(value)


def _texts(values: Iterable[Any]) -> list[str] | None:
    texts = []
    for value in values:
        if value.__class__ is not str:
            value = _text(value)
            if value is None:
                return None
        texts.append(value)
    return texts


def _join(texts: Sequence[str]) -> str:
    if len(texts) == 1:
        return texts[0]
    return "".join(f"{len(t)}:{t}" for t in texts)


def encode_key(values: Sequence[Any]) -> str | None:
    """A rule's key for one record, None unless every value is present: the values
    length-prefixed, so that equal keys mean equal values."""
    texts = _texts(values)
    return None if texts is None else _join(texts)


def rule_texts(rule: BlockingRule, values: Sequence[Any]) -> list[str] | None:
    """A rule's key values for one record as text (None unless all are present); for
    ``any_order``, in order (lesser first, as DuckDB's ``least`` compares text)."""
    texts = _texts(values)
    if texts is not None and rule.any_order and texts[1] < texts[0]:
        texts.reverse()
    return texts


def rule_key(rule: BlockingRule, values: Sequence[Any]) -> str | None:
    """:func:`encode_key` for ``rule``: what the bulk run compares (see
    :func:`mdm.linkage.model.blocking_sql`)."""
    texts = rule_texts(rule, values)
    return None if texts is None else _join(texts)


def encode_keys(columns: Sequence[pa.Array], any_order: bool = False) -> pa.Array:
    """:func:`encode_key` of every row, vectorised (null where a value is missing);
    ``any_order``: two columns, lesser first (:func:`rule_texts`)."""
    texts = [c.cast(pa.string()) for c in columns]
    if any_order:
        texts = [
            pc.min_element_wise(*texts, skip_nulls=False),
            pc.max_element_wise(*texts, skip_nulls=False),
        ]
    if len(texts) == 1:
        return texts[0]
    parts = [
        pc.binary_join_element_wise(pc.utf8_length(t).cast(pa.string()), t, ":") for t in texts
    ]
    return pc.binary_join_element_wise(*parts, "")


def hash_key(key: str, seed: int = 0) -> int:
    """The hash of a key under ``seed`` (seed 0 is Python's ``hash``)."""
    return hash(key) if not seed else hash((seed, key))


def hash_keys(keys: Sequence[str], seed: int = 0) -> np.ndarray:
    """:func:`hash_key` of each key, as int64."""
    hashed = map(hash, keys) if not seed else map(hash, zip(repeat(seed), keys))
    return np.fromiter(hashed, dtype=np.int64, count=len(keys))


@dataclass(eq=False)
class _Rule:
    """One blocking rule: its tag in the array, its hash seed, and its overlay."""

    rule: BlockingRule
    prefix: int  # the rule's tag, in the top bits of each of its entries
    mask: int  # the bits of a hash an entry keeps
    seed: int = 0
    #: tagged hash -> (key, slots) for records added since the last compaction.
    pending: dict[int, tuple[str, set[int]]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.keys = tuple(self.rule.keys)
        self.cap = self.rule.max_block_size

    def entry(self, key: str) -> int:
        """The array entry of a key: the rule's tag, then the key's hash."""
        return self.prefix | (hash_key(key, self.seed) & self.mask)

    def entries(self, keys: Sequence[str]) -> np.ndarray:
        return np.int64(self.prefix) | (hash_keys(keys, self.seed) & np.int64(self.mask))


class CandidateIndex:
    """Blocking keys of a :class:`RecordTable`'s records, for finding candidates.

    Build it with :meth:`build`. ``compact_after`` merges the overlay once this many
    records were added or removed since the last compaction.
    """

    def __init__(
        self, table: RecordTable, rules: MatchRules, *, compact_after: int | None = 20_000
    ) -> None:
        self.table = table
        self.rules = rules
        self.compact_after = compact_after
        bits = max(1, (len(rules.blocking) - 1).bit_length())
        shift = 63 - bits  # entries stay non-negative int64
        self._rules = [
            _Rule(rule, i << shift, (1 << shift) - 1) for i, rule in enumerate(rules.blocking)
        ]
        self._entries = np.zeros(0, dtype=np.int64)  # sorted
        self._slots = np.zeros(0, dtype=np.int32)  # beside the entries
        self._members = np.zeros(0, dtype=bool)  # slots in the array
        self._removed: set[int] = set()  # of those, removed since
        self._pending: dict[int, tuple[int | None, ...]] = {}  # added since: slot -> entries
        self._size = 0

    @classmethod
    def build(
        cls, table: RecordTable, rules: MatchRules, *, compact_after: int | None = 20_000
    ) -> CandidateIndex:
        """Index every record of ``table`` on the blocking rules of ``rules``."""
        missing = [k for k in key_columns(rules) if k not in table.columns]
        if missing:
            raise ValueError(f"the record table lacks blocking key column(s) {missing}")
        index = cls(table, rules, compact_after=compact_after)
        members = np.zeros(table.slots, dtype=bool)
        members[table.live_slots()] = True
        index._rebuild(members)
        return index

    # --- reading -------------------------------------------------------------------

    def __len__(self) -> int:
        """How many records the index holds."""
        return self._size

    def __contains__(self, slot: object) -> bool:
        if not isinstance(slot, int | np.integer):
            return False
        slot = int(slot)
        if slot in self._pending:
            return True
        return 0 <= slot < len(self._members) and self._members[slot] and slot not in self._removed

    def candidates(self, record: Mapping[str, Any], slot: int | None = None) -> np.ndarray:
        """The slots of the records the bulk run would pair ``record`` with, ascending.

        ``slot`` is the record's own slot when it updates an indexed record: the record
        then counts in place of that slot's record, which is not a candidate. Left out,
        it is found from the record's ``source`` and ``record_id`` (a record without
        them is new); -1 says the record has no slot, without looking.
        """
        if slot is None:
            slot = self._own_slot(record)
        get = record.get
        wanted = []
        for rule in self._rules:
            texts = rule_texts(rule.rule, [get(k) for k in rule.keys])
            if texts is not None:
                key = _join(texts)
                wanted.append((rule, texts, key, rule.entry(key)))
        if not wanted:
            return np.zeros(0, dtype=np.int64)
        entries = np.fromiter((w[3] for w in wanted), dtype=np.int64, count=len(wanted))
        lows = self._entries.searchsorted(entries).tolist()
        highs = self._entries.searchsorted(entries, "right").tolist()
        removed = self._removed
        found: set[int] = set()
        for (rule, texts, key, entry), low, high in zip(wanted, lows, highs, strict=True):
            high, added = self._span(rule, texts, key, entry, low, high, slot)
            cap = rule.cap
            if cap is not None and high - low - len(removed) + len(added) > cap:
                continue  # more than cap records share the key, whatever was removed
            run = self._live(low, high)
            if cap is not None:
                here = slot in added or slot in run
                if len(run) + len(added) + (not here) > cap:
                    continue  # more than cap records would share the key
            found.update(run)
            found.update(added)
        found.discard(slot)
        return np.array(sorted(found), dtype=np.int64)

    def pairs_among(self, rows: Mapping[int, Mapping[str, Any]]) -> list[tuple[int, int]]:
        """The pairs (lower slot first, ascending) of indexed records in ``rows`` (slot ->
        the record's values, as the table holds them) that :meth:`candidates` pairs:
        those sharing a rule's key, on a capped rule only while the records sharing it
        are at most the cap. Without a lookup per record: a neighbourhood's records are
        grouped by key, and only a capped key shared in it is counted in the index."""
        groups: dict[tuple[int, str], list[int]] = {}
        for slot, record in rows.items():
            get = record.get
            for number, rule in enumerate(self._rules):
                texts = rule_texts(rule.rule, [get(k) for k in rule.keys])
                if texts is not None:
                    groups.setdefault((number, _join(texts)), []).append(slot)
        found: set[tuple[int, int]] = set()
        for (number, key), slots in groups.items():
            if len(slots) < 2:
                continue
            rule = self._rules[number]
            if rule.cap is not None:
                entry = rule.entry(key)
                low = int(self._entries.searchsorted(entry))
                high = int(self._entries.searchsorted(entry, "right"))
                high, added = self._span(rule, None, key, entry, low, high)
                if len(self._live(low, high)) + len(added) > rule.cap:
                    continue
            slots.sort()
            found.update((a, b) for i, a in enumerate(slots) for b in slots[i + 1 :] if a != b)
        return sorted(found)

    def _span(
        self,
        rule: _Rule,
        texts: Sequence[str] | None,
        key: str,
        entry: int,
        low: int,
        high: int,
        slot: int | None = None,
    ) -> tuple[int, frozenset[int] | set[int]]:
        """Of the array's run ``[low, high)`` for ``entry`` (``rule``'s entry of ``key``):
        where it ends (``low`` when the run is another key's, its hash the same), and the
        records with ``key`` waiting in the overlay. ``slot``: the record's own."""
        first = self._first_live(low, high)
        alone = high - low == 1 and first == slot  # a run of its own: nothing to check
        if first is not None and not alone and not self._run_has_key(rule, first, texts, key):
            high = low  # another key with the same hash
        waiting = rule.pending.get(entry)
        added = waiting[1] if waiting is not None and waiting[0] == key else _NO_SLOTS
        return high, added

    def _live(self, low: int, high: int) -> list[int]:
        """The slots of the array's ``[low, high)`` still in the index."""
        run = self._slots[low:high].tolist() if high > low else []
        if self._removed:
            run = [s for s in run if s not in self._removed]
        return run

    @property
    def nbytes(self) -> int:
        """Approximate bytes held (the arrays, plus ~200 bytes an overlay entry)."""
        arrays = self._entries.nbytes + self._slots.nbytes + self._members.nbytes
        waiting = sum(len(rule.pending) for rule in self._rules)
        return arrays + 200 * waiting + 100 * (len(self._pending) + len(self._removed))

    # --- writing --------------------------------------------------------------------

    def add(self, slot: int, record: Mapping[str, Any] | None = None) -> None:
        """Index the record in ``slot``: ``record`` when given (the values the table
        holds for it), else read from the table."""
        slot = int(slot)
        if slot in self:
            raise ConflictError(f"slot {slot} is in the candidate index already; remove it first")
        record = self.table.row(slot) if record is None else record
        keys = [rule_key(r.rule, [record.get(k) for k in r.keys]) for r in self._rules]
        entries = [
            None if k is None else r.entry(k) for k, r in zip(keys, self._rules, strict=True)
        ]
        clashing = self._clashing(keys, entries)
        if clashing:  # two keys, one hash: index these rules anew with another seed
            for i in clashing:
                self._rules[i].seed += 1
            members = self._member_mask()
            members[slot] = True
            self._rebuild(members)
            return
        for rule, key, entry in zip(self._rules, keys, entries, strict=True):
            if entry is None:
                continue
            waiting = rule.pending.get(entry)
            if waiting is None:
                rule.pending[entry] = (key, {slot})  # type: ignore[assignment]
            else:
                waiting[1].add(slot)
        self._pending[slot] = tuple(entries)
        self._size += 1
        self._maybe_compact()

    def remove(self, slot: int) -> None:
        """Take the record in ``slot`` out of the index."""
        slot = int(slot)
        entries = self._pending.pop(slot, None)
        if entries is not None:
            for rule, entry in zip(self._rules, entries, strict=True):
                if entry is None:
                    continue
                slots = rule.pending[entry][1]
                slots.discard(slot)
                if not slots:
                    del rule.pending[entry]
        elif slot in self:
            self._removed.add(slot)
        else:
            raise NotFoundError(f"slot {slot} is not in the candidate index")
        self._size -= 1
        self._maybe_compact()

    def compact(self) -> None:
        """Merge the records added and removed since the last compaction into the array."""
        if not self._pending and not self._removed:
            return
        entries, slots = self._entries, self._slots
        if self._removed:
            gone = np.fromiter(self._removed, dtype=np.int64, count=len(self._removed))
            keep = ~np.isin(slots, gone, kind="table")  # slots are small ints: a lookup table
            entries, slots = entries[keep], slots[keep]
        waiting = [(e, s) for r in self._rules for e, (_, ss) in r.pending.items() for s in ss]
        if waiting:
            new_entries = np.array([e for e, _ in waiting], dtype=np.int64)
            new_slots = np.array([s for _, s in waiting], dtype=np.int32)
            order = np.argsort(new_entries)
            at = entries.searchsorted(new_entries[order])
            entries = np.insert(entries, at, new_entries[order])
            slots = np.insert(slots, at, new_slots[order])
        self._members = self._member_mask()
        self._entries, self._slots = entries, slots
        for rule in self._rules:
            rule.pending = {}
        self._removed.clear()
        self._pending.clear()

    # --- internals ------------------------------------------------------------------

    def _own_slot(self, record: Mapping[str, Any]) -> int | None:
        source, record_id = record.get("source"), record.get("record_id")
        if not isinstance(source, str) or not isinstance(record_id, str):
            return None
        slot = self.table.slot_of(source, record_id)
        return slot if slot is not None and slot in self else None

    def _first_live(self, low: int, high: int) -> int | None:
        """The first slot of ``_slots[low:high]`` still in the index."""
        for at in range(low, high):
            slot = int(self._slots[at])
            if slot not in self._removed:
                return slot
        return None

    def _run_has_key(
        self, rule: _Rule, slot: int, texts: Sequence[str] | None, key: str | None
    ) -> bool:
        """Whether the record in ``slot`` (of a run: all in it have one key) has ``key``;
        ``texts`` are the values the key was made of, when known."""
        values = self.table.values(slot, rule.keys)
        return values == texts or rule_key(rule.rule, values) == key

    def _clashing(self, keys: Sequence[str | None], entries: Sequence[int | None]) -> set[int]:
        """The rules (by number) under which another key than the one given has the same
        entry in the index (waiting, or in the array: one vectorised search for all)."""
        clashing, searched = set(), []
        for number, (rule, key, entry) in enumerate(zip(self._rules, keys, entries, strict=True)):
            if entry is None:
                continue
            waiting = rule.pending.get(entry)
            if waiting is None:
                searched.append((number, rule, key, entry))
            elif waiting[0] != key:
                clashing.add(number)
        if not searched:
            return clashing
        wanted = np.fromiter((e for *_, e in searched), dtype=np.int64, count=len(searched))
        lows = self._entries.searchsorted(wanted).tolist()
        highs = self._entries.searchsorted(wanted, "right").tolist()
        for (number, rule, key, _), low, high in zip(searched, lows, highs, strict=True):
            first = self._first_live(low, high) if high > low else None
            if first is not None and not self._run_has_key(rule, first, None, key):
                clashing.add(number)
        return clashing

    def _member_mask(self) -> np.ndarray:
        members = np.zeros(self.table.slots, dtype=bool)
        members[: len(self._members)] = self._members
        members[list(self._removed)] = False
        members[list(self._pending)] = True
        return members

    def _rebuild(self, members: np.ndarray) -> None:
        """Index the table's records in ``members`` afresh."""
        values = self.table.to_arrow(key_columns(self.rules))
        entries, slots = [], []
        for rule in self._rules:
            found = _rule_entries(rule, [values[k] for k in rule.keys], members)
            entries.append(found[0])
            slots.append(found[1])
        del values
        # Each rule's entries are sorted and carry its number in their top bits: in rule
        # order, the whole is sorted.
        self._entries = np.concatenate(entries)
        self._slots = np.concatenate(slots)
        pa.default_memory_pool().release_unused()  # the keys' buffers, back to the system
        self._members = members
        for rule in self._rules:
            rule.pending = {}
        self._removed.clear()
        self._pending.clear()
        self._size = int(members.sum())

    def _maybe_compact(self) -> None:
        waiting = len(self._pending) + len(self._removed)
        if self.compact_after is not None and waiting >= self.compact_after:
            self.compact()


def _rule_entries(
    rule: _Rule, columns: Sequence[pa.ChunkedArray], members: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """A rule's entries, sorted, and their slots, hashed with the next seed until no two
    keys share an entry (the rule's seed is left at the one that does)."""
    keys = encode_keys([c.combine_chunks() for c in columns], rule.rule.any_order)
    present = members[: len(keys)] & keys.is_valid().to_numpy(zero_copy_only=False)
    slots = np.flatnonzero(present).astype(np.int32)
    texts = keys.take(slots).to_pylist()
    distinct = 0
    while True:
        entries = rule.entries(texts)
        distinct = distinct or len(set(texts))  # after hashing: the texts cache their hash
        order = np.argsort(entries)
        entries = entries[order]
        # Equal keys share an entry, so as many distinct entries as keys: no collision.
        if not len(entries) or 1 + np.count_nonzero(entries[1:] != entries[:-1]) == distinct:
            return entries, slots[order]
        rule.seed += 1

"""The candidate index: the records a record would be compared with, found without a scan.

For each blocking rule the index keeps a 64-bit hash of every record's key (its values
of the rule's columns) in a sorted array beside the record's slot, so the records that
share a key are one binary search away. Records added or removed since the arrays were
built wait in a small overlay (a dict per rule) until :meth:`CandidateIndex.compact`
merges them in.

The candidates are exactly the records the bulk run pairs with the record (see
:func:`mdm.linkage.model.blocking_sql`): those sharing every key of at least one rule,
all keys present. A rule with ``max_block_size`` pairs on its joined keys (as
``concat_ws('|', ...)`` writes them) only while at most that many records share them,
counting the record being matched in place of the one it updates.

A hash only points: the key of the records it points at is checked against the
record's (read from the :class:`RecordTable`), and no two keys in the index share a
hash (a rule whose keys would is hashed anew with another seed), so the counts of
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
        return value  # type: ignore[no-any-return]
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


def _join(texts: Sequence[str], joined: bool) -> str:
    if joined:
        return "|".join(texts)
    if len(texts) == 1:
        return texts[0]
    return "".join(f"{len(t)}:{t}" for t in texts)


def encode_key(values: Sequence[Any], joined: bool) -> str | None:
    """A rule's key for one record, None unless every value is present. ``joined``
    (a capped rule) gives ``concat_ws('|', ...)``, which the bulk run compares;
    otherwise the values are length-prefixed, so that equal keys mean equal values."""
    texts = _texts(values)
    return None if texts is None else _join(texts, joined)


def encode_keys(columns: Sequence[pa.Array], joined: bool) -> pa.Array:
    """:func:`encode_key` of every row, vectorised (null where a value is missing)."""
    texts = [c.cast(pa.string()) for c in columns]
    if joined:
        return pc.binary_join_element_wise(*texts, "|")
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
class _RuleIndex:
    """One blocking rule's keys: sorted hashes with their slots, and the overlay."""

    rule: BlockingRule
    seed: int
    hashes: np.ndarray  # int64, sorted
    slots: np.ndarray  # int32, beside hashes
    #: hash -> (key, slots) for records added since the last compaction.
    pending: dict[int, tuple[str, set[int]]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.keys = tuple(self.rule.keys)
        self.cap = self.rule.max_block_size
        self.joined = self.cap is not None

    def run(self, h: int) -> np.ndarray:
        """The slots in the arrays whose key hashes to ``h``."""
        hashes = self.hashes
        low = int(hashes.searchsorted(h))
        if low == len(hashes) or hashes[low] != h:
            return self.slots[:0]
        if low + 1 == len(hashes) or hashes[low + 1] != h:
            return self.slots[low : low + 1]  # a key of one record (the most common)
        return self.slots[low : int(hashes.searchsorted(h, "right"))]  # type: ignore[no-any-return]

    @property
    def nbytes(self) -> int:
        return int(self.hashes.nbytes + self.slots.nbytes) + 200 * len(self.pending)


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
        self._members = np.zeros(0, dtype=bool)  # slots in the arrays
        self._removed: set[int] = set()  # of those, removed since
        self._pending: dict[int, tuple[int | None, ...]] = {}  # added since: slot -> hashes
        self._size = 0
        self._rules: list[_RuleIndex] = []

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
        index._rebuild(members, [0] * len(rules.blocking))
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
        them is new).
        """
        if slot is None:
            slot = self._own_slot(record)
        removed = self._removed
        found: set[int] = set()
        get = record.get
        for rule in self._rules:
            texts = _texts([get(k) for k in rule.keys])
            if texts is None:
                continue
            key = _join(texts, rule.joined)
            h = hash_key(key, rule.seed)
            run = rule.run(h)
            alone = len(run) == 1 and run[0] == slot  # only its own: nothing to check
            if len(run) and not alone and not self._run_has_key(rule, run, texts, key):
                run = run[:0]  # another key with the same hash
            entry = rule.pending.get(h)
            added = entry[1] if entry is not None and entry[0] == key else _NO_SLOTS
            cap = rule.cap
            if cap is not None and len(run) - len(removed) + len(added) > cap:
                continue  # more than cap records share the key, whatever was removed
            kept = [s for s in run.tolist() if s not in removed] if removed else run.tolist()
            if cap is not None:
                here = slot in added or slot in kept
                if len(kept) + len(added) + (not here) > cap:
                    continue
            found.update(kept)
            found.update(added)
        found.discard(slot)  # type: ignore[arg-type]
        return np.array(sorted(found), dtype=np.int64)

    @property
    def nbytes(self) -> int:
        """Approximate bytes held (the arrays, plus ~200 bytes an overlay entry)."""
        arrays = sum(rule.nbytes for rule in self._rules) + self._members.nbytes
        return arrays + 100 * (len(self._pending) + len(self._removed))

    # --- writing --------------------------------------------------------------------

    def add(self, slot: int, record: Mapping[str, Any] | None = None) -> None:
        """Index the record in ``slot``: ``record`` when given (the values the table
        holds for it), else read from the table."""
        slot = int(slot)
        if slot in self:
            raise ConflictError(f"slot {slot} is in the candidate index already; remove it first")
        record = self.table.row(slot) if record is None else record
        keys = [encode_key([record.get(k) for k in r.keys], r.joined) for r in self._rules]
        hashes = [
            None if k is None else hash_key(k, r.seed)
            for k, r in zip(keys, self._rules, strict=True)
        ]
        clashing = {
            i
            for i, (rule, key, h) in enumerate(zip(self._rules, keys, hashes, strict=True))
            if h is not None and self._collides(rule, key, h)  # type: ignore[arg-type]
        }
        if clashing:  # two keys, one hash: index this rule anew with another seed
            members = self._member_mask()
            members[slot] = True
            self._rebuild(members, [r.seed + (i in clashing) for i, r in enumerate(self._rules)])
            return
        for rule, key, h in zip(self._rules, keys, hashes, strict=True):
            if h is None:
                continue
            entry = rule.pending.get(h)
            if entry is None:
                rule.pending[h] = (key, {slot})  # type: ignore[assignment]
            else:
                entry[1].add(slot)
        self._pending[slot] = tuple(hashes)
        self._size += 1
        self._maybe_compact()

    def remove(self, slot: int) -> None:
        """Take the record in ``slot`` out of the index."""
        slot = int(slot)
        hashes = self._pending.pop(slot, None)
        if hashes is not None:
            for rule, h in zip(self._rules, hashes, strict=True):
                if h is None:
                    continue
                slots = rule.pending[h][1]
                slots.discard(slot)
                if not slots:
                    del rule.pending[h]
        elif slot in self:
            self._removed.add(slot)
        else:
            raise NotFoundError(f"slot {slot} is not in the candidate index")
        self._size -= 1
        self._maybe_compact()

    def compact(self) -> None:
        """Merge the records added and removed since the last compaction into the arrays."""
        if not self._pending and not self._removed:
            return
        removed = np.fromiter(self._removed, dtype=np.int64, count=len(self._removed))
        for rule in self._rules:
            hashes, slots = rule.hashes, rule.slots
            if len(removed):
                keep = ~np.isin(slots, removed)
                hashes, slots = hashes[keep], slots[keep]
            if rule.pending:
                items = rule.pending.items()
                new_hashes = np.array([h for h, (_, s) in items for _ in s], dtype=np.int64)
                new_slots = np.array([x for _, (_, s) in items for x in s], dtype=np.int32)
                order = np.argsort(new_hashes, kind="stable")
                at = hashes.searchsorted(new_hashes[order])
                hashes = np.insert(hashes, at, new_hashes[order])
                slots = np.insert(slots, at, new_slots[order])
            rule.hashes, rule.slots, rule.pending = hashes, slots, {}
        self._members = self._member_mask()
        self._removed.clear()
        self._pending.clear()

    # --- internals ------------------------------------------------------------------

    def _own_slot(self, record: Mapping[str, Any]) -> int | None:
        source, record_id = record.get("source"), record.get("record_id")
        if not isinstance(source, str) or not isinstance(record_id, str):
            return None
        slot = self.table.slot_of(source, record_id)
        return slot if slot is not None and slot in self else None

    def _run_has_key(
        self, rule: _RuleIndex, run: np.ndarray, texts: Sequence[str] | None, key: str
    ) -> bool | None:
        """Whether the records of a hash run have ``key`` (all do or none: one tells),
        None when none of them is in the index any more. ``texts`` are the values the
        key was made of, when known."""
        removed = self._removed
        for slot in run.tolist():
            if slot not in removed:
                values = self.table.values(slot, rule.keys)
                return values == texts or encode_key(values, rule.joined) == key
        return None

    def _collides(self, rule: _RuleIndex, key: str, h: int) -> bool:
        """Whether another key in the index has the hash ``h``."""
        entry = rule.pending.get(h)
        if entry is not None:
            return entry[0] != key
        run = rule.run(h)
        return len(run) > 0 and self._run_has_key(rule, run, None, key) is False

    def _member_mask(self) -> np.ndarray:
        members = np.zeros(self.table.slots, dtype=bool)
        members[: len(self._members)] = self._members
        members[list(self._removed)] = False
        members[list(self._pending)] = True
        return members

    def _rebuild(self, members: np.ndarray, seeds: Sequence[int]) -> None:
        """Index the table's records in ``members`` afresh."""
        values = self.table.to_arrow(key_columns(self.rules))
        self._rules = [
            _build_rule(rule, [values[k] for k in rule.keys], members, seed)
            for rule, seed in zip(self.rules.blocking, seeds, strict=True)
        ]
        del values
        pa.default_memory_pool().release_unused()  # the keys' buffers, back to the system
        self._members = members
        self._removed.clear()
        self._pending.clear()
        self._size = int(members.sum())

    def _maybe_compact(self) -> None:
        waiting = len(self._pending) + len(self._removed)
        if self.compact_after is not None and waiting >= self.compact_after:
            self.compact()


def _build_rule(
    rule: BlockingRule, columns: Sequence[pa.ChunkedArray], members: np.ndarray, seed: int
) -> _RuleIndex:
    """A rule's sorted hashes, hashed with the next seed until no two keys share one."""
    keys = encode_keys([c.combine_chunks() for c in columns], rule.max_block_size is not None)
    present = members[: len(keys)] & keys.is_valid().to_numpy(zero_copy_only=False)
    slots = np.flatnonzero(present).astype(np.int32)
    keys = keys.take(slots)
    texts = keys.to_pylist()
    distinct = 0
    while True:
        hashes = hash_keys(texts, seed)
        distinct = distinct or len(set(texts))  # after hashing: the texts cache their hash
        order = np.argsort(hashes)
        hashes = hashes[order]
        # Equal keys hash alike, so as many distinct hashes as keys means no collision.
        if len(hashes) == 0 or 1 + np.count_nonzero(hashes[1:] != hashes[:-1]) == distinct:
            return _RuleIndex(rule, seed, hashes, slots[order])
        seed += 1

"""The store's records in memory, column by column: what the real-time path reads.

A :class:`RecordTable` holds the columns the scorer and the service read for every
record of the store, loaded once at start-up (DuckDB to Arrow, no Python object per
row). A record lives in a *slot*: slots ``0 .. n-1`` are the store's records in
``(source, record_id)`` order (the order the bulk run numbers them in), and records
added later take the next free slot. A slot never changes meaning; a deleted record
leaves a tombstone.

A column is kept in one of three ways, whichever is cheapest: few distinct values (a
city, a first name, a list of name variants) as a small integer code per record into
a list of the values; other text (an email, a record id) as its UTF-8 bytes end to
end with an offset per record; anything else as an Arrow array. Reading ~50 records
then costs tens of microseconds, and a million records ~170 bytes each for the
scorer's columns. Writes go to an overlay of plain dicts, merged into the columns by
:meth:`RecordTable.compact`.

Why one module of this size: one data structure (columns, slots, free list, growth,
loading from the store) whose invariants hold across all of its methods.
"""

from __future__ import annotations

import bisect
from array import array as pyarray
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from mdm.errors import ConflictError, InputError, NotFoundError
from mdm.schema import RECORD_COLUMNS
from mdm.standardise.text import clean_text

GOLDEN_ID = "golden_id"
IDENTITY = ("source", "record_id")

#: A column is coded when it has at most this share of distinct values.
CODED_SHARE = 1 / 8


class _Coded:
    """A column of few distinct values: a small integer code per slot (-1: missing)."""

    __slots__ = ("codes", "dictionary", "lists", "values")

    def __init__(self, codes: np.ndarray, dictionary: pa.Array) -> None:
        size = len(dictionary)
        kind = "b" if size < 2**7 else "h" if size < 2**15 else "i"
        self.codes = pyarray(kind, codes.astype(np.dtype(kind)).tobytes())
        self.dictionary = dictionary
        self.values: list[Any] = [*dictionary.to_pylist(), None]
        self.lists = pa.types.is_list(dictionary.type)

    def take(self, slots: list[int]) -> list[Any]:
        codes, values = self.codes, self.values
        if self.lists:  # a fresh list each time: the shared one must not change
            return [None if (v := values[codes[i]]) is None else list(v) for i in slots]
        return [values[codes[i]] for i in slots]

    def get(self, slot: int) -> Any:
        value = self.values[self.codes[slot]]
        return list(value) if self.lists and value is not None else value

    def arrow(self) -> pa.Array:
        codes = np.frombuffer(self.codes, dtype=np.dtype(self.codes.typecode))
        return self.dictionary.take(pa.array(codes, mask=codes < 0))

    @property
    def nbytes(self) -> int:
        values = sum(_size_of(v) + 8 for v in self.values)
        return self.codes.itemsize * len(self.codes) + values


class _Text:
    """A text column of many distinct values: UTF-8 bytes end to end, with offsets.

    A missing value is an empty slice; when the column also holds empty strings, a
    byte per record tells the two apart."""

    __slots__ = ("data", "offsets", "type", "valid")

    def __init__(self, array: pa.Array) -> None:
        self.type = array.type
        wide = array.type == pa.large_string()
        _, offsets, data = array.buffers()
        width = np.int64 if wide else np.int32
        at = np.frombuffer(offsets, dtype=width, count=array.offset + len(array) + 1)
        self.offsets = pyarray("q" if wide else "i", at[array.offset :].tobytes())
        self.data = data.to_pybytes() if data is not None else b""
        empty = pc.fill_null(pc.equal(pc.binary_length(array), 0), False)
        self.valid = np.asarray(array.is_valid()).tobytes() if pc.any(empty).as_py() else None

    def take(self, slots: list[int]) -> list[Any]:
        data, offsets, valid = self.data, self.offsets, self.valid
        if valid is None:
            return [data[offsets[i] : offsets[i + 1]].decode() or None for i in slots]
        return [data[offsets[i] : offsets[i + 1]].decode() if valid[i] else None for i in slots]

    def get(self, slot: int) -> Any:
        if self.valid is not None and not self.valid[slot]:
            return None
        return self.data[self.offsets[slot] : self.offsets[slot + 1]].decode() or (
            "" if self.valid is not None else None
        )

    def arrow(self) -> pa.Array:
        offsets = np.frombuffer(self.offsets, dtype=np.dtype(self.offsets.typecode))
        valid = (
            np.frombuffer(self.valid, dtype=bool)
            if self.valid is not None
            else np.diff(offsets) > 0
        )
        validity = pa.py_buffer(np.packbits(valid, bitorder="little").tobytes())
        buffers = [validity, pa.py_buffer(self.offsets), pa.py_buffer(self.data)]
        return pa.Array.from_buffers(self.type, len(self.offsets) - 1, buffers)

    @property
    def nbytes(self) -> int:
        valid = len(self.valid) if self.valid is not None else 0
        return len(self.data) + self.offsets.itemsize * len(self.offsets) + valid


class _Plain:
    """Any other column, kept as one Arrow array."""

    __slots__ = ("array",)

    def __init__(self, array: pa.Array) -> None:
        self.array = array

    def take(self, slots: list[int]) -> list[Any]:
        return self.array.take(pa.array(slots, pa.int64())).to_pylist()  # type: ignore[no-any-return]

    def get(self, slot: int) -> Any:
        return self.array[slot].as_py()

    def arrow(self) -> pa.Array:
        return self.array

    @property
    def nbytes(self) -> int:
        return int(self.array.nbytes)


_Column = _Coded | _Text | _Plain


def _store_column(array: pa.Array | pa.ChunkedArray) -> _Column:
    """The cheapest of the three column kinds for these values."""
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    try:
        if pa.types.is_list(array.type):
            indices, dictionary = _encode_lists(array)
        else:
            encoded = pc.dictionary_encode(array)
            indices, dictionary = encoded.indices, encoded.dictionary
    except pa.ArrowNotImplementedError:
        return _Plain(array)
    if len(dictionary) <= max(len(array) * CODED_SHARE, 16):
        return _Coded(indices.fill_null(-1).to_numpy(zero_copy_only=False), dictionary)
    if array.type in (pa.string(), pa.large_string()):
        return _Text(array)
    return _Plain(array)


def _encode_lists(array: pa.ListArray) -> tuple[pa.Array, pa.Array]:
    """Dictionary codes of a list-of-text column: each list written as one string no
    other list writes (every item escaped and marked), then encoded."""
    items = pc.replace_substring(array.values.cast(pa.string()), "\\", "\\\\")
    items = pc.replace_substring(items, "\x1e", "\\e")
    marked = pc.binary_join_element_wise("\x1e", items, "")
    lists = pa.ListArray.from_arrays(array.offsets, marked, mask=array.is_null())
    encoded = pc.dictionary_encode(pc.binary_join(lists, ""))
    codes = encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False)
    present = codes >= 0
    _, first = np.unique(codes[present], return_index=True)
    return encoded.indices, array.take(np.flatnonzero(present)[first])


def _size_of(value: Any) -> int:
    if isinstance(value, str):
        return len(value) + 49
    if isinstance(value, list):
        return 56 + 8 * len(value) + sum(len(v) + 49 for v in value if isinstance(v, str))
    return 0


def _plain(value: Any) -> Any:
    """A value as the scorer reads it: missing as None, an array as a list."""
    if value is None or value is pd.NA:
        return None
    if isinstance(value, float) and value != value:
        return None
    if isinstance(value, np.ndarray | tuple):
        return list(value)
    if isinstance(value, np.generic):
        return value.item()
    return value


class RecordTable:
    """Columns of the store's records by slot, with writes in a small overlay.

    Args:
        table: the records, one row each (``source`` and ``record_id`` required, unique);
            they are put in ``(source, record_id)`` order, which numbers the slots.
        compact_after: merge the overlay into the columns once it holds this many
            records (None: only when :meth:`compact` is called).
    """

    def __init__(self, table: pa.Table, *, compact_after: int | None = 100_000) -> None:
        missing = [c for c in IDENTITY if c not in table.column_names]
        if missing:
            raise InputError(f"a record table needs columns {missing}; it has {table.column_names}")
        if GOLDEN_ID not in table.column_names:
            table = table.append_column(GOLDEN_ID, pa.nulls(len(table), pa.string()))
        order = None
        if not _in_order(table.select(IDENTITY)):
            order = pc.sort_indices(table, [(c, "ascending") for c in IDENTITY])
            _in_order(table.select(IDENTITY).take(order))
        names = [*IDENTITY, GOLDEN_ID, *(c for c in table.column_names if c not in _FIRST)]
        self.columns: tuple[str, ...] = tuple(names)
        self.compact_after = compact_after
        self._types = {c: table.schema.field(c).type for c in names}
        self._base = {
            c: _store_column(table[c] if order is None else table[c].take(order)) for c in names
        }
        self._base_list = [self._base[c] for c in names]
        # The loaded slots are in (source, record_id) order: where each source's records
        # lie among them (a lookup searches the record ids of one source only).
        self._runs = _runs(table["source"] if order is None else table["source"].take(order))
        self._stored = len(table)  # slots held by the columns
        self._next = len(table)
        self._rows: dict[int, dict[str, Any]] = {}  # slots added or changed since compaction
        self._golden: dict[int, str | None] = {}  # golden ids changed since compaction
        self._ids: dict[tuple[str, str], int] = {}  # ids of slots added after loading
        self._deleted: set[int] = set()

    @classmethod
    def load(
        cls,
        con: duckdb.DuckDBPyConnection,
        columns: Iterable[str],
        *,
        compact_after: int | None = 100_000,
        computed: Mapping[str, str] | None = None,
    ) -> RecordTable:
        """The store's records with ``columns`` (plus source, record_id and golden_id).

        A column that is not a record column is an extra attribute, read from the
        record's ``extra`` and cleaned as the bulk run cleans it. ``computed`` adds
        columns by SQL expression over the records table ``r`` (name -> expression).
        """
        computed = dict(computed or {})
        wanted = [c for c in dict.fromkeys(columns) if c not in _FIRST and c not in computed]
        extras = [c for c in wanted if c not in RECORD_COLUMNS]
        selected = ["r.source", "r.record_id", "x.golden_id"] + [
            f'r."{c}"'
            if c in RECORD_COLUMNS
            else f"json_extract_string(r.extra, ${1 + extras.index(c)}) AS {_quoted(c)}"
            for c in wanted
        ]
        selected += [f"{expression} AS {_quoted(name)}" for name, expression in computed.items()]
        sql = (
            f"SELECT {', '.join(selected)} FROM records r "
            "LEFT JOIN xref x USING (source, record_id)"
        )
        paths = ["/" + c.replace("~", "~0").replace("/", "~1") for c in extras]  # JSON pointers
        table = con.sql(sql, params=paths or None).to_arrow_table()
        for name in wanted:
            if name not in RECORD_COLUMNS:
                position = table.column_names.index(name)
                table = table.set_column(position, name, _clean_extra(table[name]))
        found = cls(table, compact_after=compact_after)
        del table
        pa.default_memory_pool().release_unused()  # the load's buffers, back to the system
        return found

    # --- reading -------------------------------------------------------------------

    def __len__(self) -> int:
        """How many records the table holds (deleted ones not counted)."""
        return self._next - len(self._deleted)

    @property
    def slots(self) -> int:
        """One more than the highest slot ever used."""
        return self._next

    def is_live(self, slot: int) -> bool:
        """Whether ``slot`` holds a record (not deleted, not beyond the table)."""
        return 0 <= slot < self._next and slot not in self._deleted

    def slot_of(self, source: str, record_id: str) -> int | None:
        """The slot of a record, or None when the table does not hold it."""
        slot = self._ids.get((source, record_id))
        if slot is not None:
            return slot
        low, high = self._runs.get(source, (0, 0))
        if low == high:
            return None
        ids = self._base["record_id"]
        view: _Bytes | _Values = _Values(ids)
        key: bytes | str = record_id
        if isinstance(ids, _Text):
            view, key = _Bytes(ids), record_id.encode("utf-8", "surrogatepass")
        at = bisect.bisect_left(view, key, low, high)
        if at < high and view[at] == key and at not in self._deleted:
            return at
        return None

    def sources(self) -> list[str]:
        """The sources the live records come from, in order."""
        found = {
            source
            for source, (low, high) in self._runs.items()
            if any(slot not in self._deleted for slot in range(low, high))
        }
        found.update(source for source, _ in self._ids)  # the records added since loading
        return sorted(found)

    def rows(
        self, slots: Sequence[int] | np.ndarray, columns: Sequence[str] | None = None
    ) -> list[dict[str, Any]]:
        """The records in ``slots``, in order: plain dicts (of ``columns``, by default
        all) with None for a missing value and a list for a list column (what
        :meth:`Scorer.prepare` reads)."""
        wanted = slots.tolist() if isinstance(slots, np.ndarray) else [int(s) for s in slots]
        if not wanted:
            return []
        self._check_live(wanted)
        names = self.columns if columns is None else tuple(columns)
        stored = self._base_list if columns is None else [self._base[c] for c in names]
        changed, golden = self._rows, self._golden
        if not changed and not golden:
            return [dict(zip(names, v, strict=True)) for v in _take(stored, wanted)]
        from_base = [s for s in wanted if s not in changed]
        taken = dict(zip(from_base, _take(stored, from_base), strict=True))
        found = []
        for slot in wanted:
            row = changed.get(slot)
            if row is not None:
                found.append({c: row[c] for c in names})
                continue
            values = dict(zip(names, taken[slot], strict=True))
            if slot in golden and GOLDEN_ID in values:
                values[GOLDEN_ID] = golden[slot]
            found.append(values)
        return found

    def row(self, slot: int) -> dict[str, Any]:
        """One record (a fresh dict)."""
        return self.rows([slot])[0]

    def value(self, slot: int, column: str) -> Any:
        """One value of one record (no check that the slot is live)."""
        row = self._rows.get(slot)
        if row is not None:
            return row[column]
        if column == GOLDEN_ID and slot in self._golden:
            return self._golden[slot]
        return self._base[column].get(slot)

    def values(self, slot: int, columns: Sequence[str]) -> list[Any]:
        """Some values of one record (no check that the slot is live)."""
        row = self._rows.get(slot)
        if row is not None:
            return [row[c] for c in columns]
        if self._golden and slot in self._golden:
            return [self.value(slot, c) for c in columns]
        base = self._base
        return [base[c].get(slot) for c in columns]

    def key(self, slot: int) -> tuple[str, str]:
        """(source, record_id) of a record."""
        self._check_live([slot])
        return self.value(slot, "source"), self.value(slot, "record_id")

    def golden_id(self, slot: int) -> str | None:
        """The golden id a record belongs to (None before it is clustered)."""
        self._check_live([slot])
        return self.value(slot, GOLDEN_ID)  # type: ignore[no-any-return]

    def clustered_golden_id(self, slot: int) -> str:
        """:meth:`golden_id` of a record known to be clustered (every record the engine
        holds, but one being added until it is linked)."""
        golden_id = self.golden_id(slot)
        assert golden_id is not None, f"the record in slot {slot} has no golden record"
        return golden_id

    def golden_ids(self) -> Iterator[tuple[int, str]]:
        """(slot, golden id) of every record that has one."""
        base = self._base[GOLDEN_ID].arrow().slice(0, self._stored)
        for slot, golden_id in enumerate(base.to_pylist()):
            if slot in self._rows or slot in self._golden or slot in self._deleted:
                continue
            if golden_id is not None:
                yield slot, golden_id
        changed = {s: r[GOLDEN_ID] for s, r in self._rows.items()} | self._golden
        for slot in sorted(changed):
            if changed[slot] is not None and slot not in self._deleted:
                yield slot, changed[slot]

    def live_slots(self) -> np.ndarray:
        """Every slot holding a record, ascending."""
        live = np.ones(self._next, dtype=bool)
        live[list(self._deleted)] = False
        return np.flatnonzero(live)

    def to_arrow(self, columns: Sequence[str] | None = None) -> pa.Table:
        """The columns over every slot (a deleted slot keeps the values it last had)."""
        names = list(columns or self.columns)
        return pa.table({c: self._column_arrow(c) for c in names})

    @property
    def nbytes(self) -> int:
        """Approximate bytes held (columns, plus the overlay at ~100 bytes a value)."""
        columns = sum(column.nbytes for column in self._base_list)
        overlay = (len(self._rows) * len(self.columns) + len(self._golden)) * 100
        return columns + overlay

    # --- writing --------------------------------------------------------------------

    def append(self, record: Mapping[str, Any]) -> int:
        """Add a record; returns its slot."""
        source, record_id = record.get("source"), record.get("record_id")
        if not isinstance(source, str) or not isinstance(record_id, str) or not record_id:
            raise InputError(
                f"a record needs a source and a record_id; got {source!r}, {record_id!r}"
            )
        if self.slot_of(source, record_id) is not None:
            raise ConflictError(f"record {source}/{record_id} is in the table already")
        slot = self._next
        self._next += 1
        self._rows[slot] = self._normalised(record, record.get(GOLDEN_ID))
        self._ids[(source, record_id)] = slot
        self._maybe_compact()
        return slot

    def update(self, slot: int, record: Mapping[str, Any]) -> None:
        """Replace a record's values; its source, record_id and golden id stay."""
        source, record_id = self.key(slot)
        given = (record.get("source", source), record.get("record_id", record_id))
        if given != (source, record_id):
            raise ConflictError(
                f"slot {slot} holds {source}/{record_id}, not {given[0]}/{given[1]}; "
                "a record's source and record_id cannot change"
            )
        golden_id = self.value(slot, GOLDEN_ID)
        values = self._normalised({**record, "source": source, "record_id": record_id}, golden_id)
        self._rows[slot] = values
        self._golden.pop(slot, None)
        self._maybe_compact()

    def delete(self, slot: int) -> None:
        """Remove a record, leaving a tombstone: the slot is never reused."""
        source, record_id = self.key(slot)
        self._deleted.add(slot)
        self._ids.pop((source, record_id), None)

    def set_golden(self, slots: Iterable[int], golden_id: str | None) -> None:
        """Put records in a golden record."""
        for slot in slots:
            self._check_live([slot])
            row = self._rows.get(slot)
            if row is not None:
                row[GOLDEN_ID] = golden_id
            else:
                self._golden[slot] = golden_id

    def compact(self) -> None:
        """Merge the overlay into the columns (slots keep their meaning)."""
        if not self._rows and not self._golden:
            return
        merged = self.to_arrow()
        self._base = {c: _store_column(merged[c]) for c in self.columns}
        self._base_list = [self._base[c] for c in self.columns]
        self._stored = self._next
        self._rows.clear()
        self._golden.clear()

    # --- internals ------------------------------------------------------------------

    def _check_live(self, slots: list[int]) -> None:
        dead = self._deleted and not self._deleted.isdisjoint(slots)
        if min(slots) < 0 or max(slots) >= self._next or dead:
            bad = [s for s in slots if not self.is_live(s)]
            raise NotFoundError(f"no record in slot(s) {bad[:10]} of the record table")

    def _normalised(self, record: Mapping[str, Any], golden_id: Any) -> dict[str, Any]:
        values = {c: _plain(record.get(c)) for c in self.columns}
        values[GOLDEN_ID] = golden_id
        return values

    def _maybe_compact(self) -> None:
        if self.compact_after is not None and len(self._rows) >= self.compact_after:
            self.compact()

    def _column_arrow(self, name: str) -> pa.Array:
        base = self._base[name].arrow()
        patch = {s: row[name] for s, row in self._rows.items()}
        if name == GOLDEN_ID:
            patch.update(self._golden)
        if not patch:
            return base
        order = sorted(patch)
        values = pa.array([patch[s] for s in order], type=self._types[name])
        index = np.arange(self._next, dtype=np.int64)
        index[order] = self._stored + np.arange(len(order))
        return pa.concat_arrays([base, values]).take(index)


_FIRST = frozenset((*IDENTITY, GOLDEN_ID))


def _take(columns: Sequence[_Column], slots: list[int]) -> Iterator[tuple[Any, ...]]:
    """The values of ``slots`` in ``columns``, a tuple per slot."""
    if not slots:
        return iter(())
    return zip(*(column.take(slots) for column in columns), strict=True)


class _Bytes:
    """A text column's values as UTF-8 bytes, for a binary search (bytes order the same
    as the text they encode, and need no decoding)."""

    __slots__ = ("data", "offsets")

    def __init__(self, column: _Text) -> None:
        self.data, self.offsets = column.data, column.offsets

    def __getitem__(self, slot: int) -> bytes:
        return self.data[self.offsets[slot] : self.offsets[slot + 1]]


class _Values:
    """Any column's values, for a binary search."""

    __slots__ = ("column",)

    def __init__(self, column: _Column) -> None:
        self.column = column

    def __getitem__(self, slot: int) -> Any:
        return self.column.get(slot)


def _runs(sources: pa.Array | pa.ChunkedArray) -> dict[str, tuple[int, int]]:
    """Where each value's run lies in a column in order: value -> (first, past last)."""
    if len(sources) == 0:
        return {}
    encoded = pc.dictionary_encode(
        sources.combine_chunks() if isinstance(sources, pa.ChunkedArray) else sources
    )
    codes = encoded.indices.to_numpy(zero_copy_only=False)
    starts = np.flatnonzero(np.diff(codes, prepend=codes[0] - 1))
    ends = [*starts[1:].tolist(), len(codes)]
    names = encoded.dictionary.to_pylist()
    return {
        names[codes[start]]: (int(start), int(end))
        for start, end in zip(starts.tolist(), ends, strict=True)
    }


def _in_order(table: pa.Table) -> bool:
    """Whether the table is in (source, record_id) order; refuses a missing id, and one
    repeated in adjacent rows (every repeat, once the table is in order)."""
    for name in IDENTITY:
        if table[name].null_count:
            raise InputError(f"{table[name].null_count} record(s) have no {name}")
    if len(table) < 2:
        return True
    sources, ids = (table[c].combine_chunks() for c in IDENTITY)
    n = len(table)
    same_source = pc.equal(sources.slice(0, n - 1), sources.slice(1))
    repeated = pc.and_(same_source, pc.equal(ids.slice(0, n - 1), ids.slice(1)))
    if pc.any(repeated).as_py():
        at = int(np.flatnonzero(repeated.to_numpy(zero_copy_only=False))[0])
        raise ConflictError(f"record {sources[at]}/{ids[at]} appears more than once")
    later = pc.less(sources.slice(0, n - 1), sources.slice(1))
    ordered = pc.or_(later, pc.and_(same_source, pc.less(ids.slice(0, n - 1), ids.slice(1))))
    return bool(pc.all(ordered).as_py())


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _clean_extra(values: pa.ChunkedArray) -> pa.Array:
    """An extra attribute cleaned like free text, once per distinct value."""
    encoded = pc.dictionary_encode(values.combine_chunks())
    cleaned = pa.array([clean_text(v) for v in encoded.dictionary.to_pylist()], pa.string())
    return cleaned.take(encoded.indices)

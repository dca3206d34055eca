"""What one real-time write changes in the store, and how a batch of them is written.

The engine decides an upsert or a delete in memory (no reads from the store) and
describes what it changed as a :class:`ChangeSet`: the record row, cross-references,
re-derived golden records with their lineage, retired ids, evidence pairs, review
tasks, events and name-frequency steps. :func:`apply_changes` writes any number of
change sets, in order, with a fixed number of set-based statements (DuckDB pays per
statement, not per row), so the service can commit every write waiting in its queue
in one transaction (group commit). Each table family is written through its module,
the one place it is: records and cross-references through :mod:`mdm.store.records`,
golden records and lineage through :mod:`mdm.store.golden`, review tasks and evidence
pairs through :mod:`mdm.store.review`.

Applying change sets one at a time or all in one batch leaves the same tables: within
a batch, later changes to the same key win, exactly as if each had been written in
turn (a property test holds this).

Why one module of this size: a change set's format, its journal encoding and the
writing of a batch of them into every table are one contract; split, the format
would live apart from the only code that must agree with it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import duckdb
import orjson
import pyarrow as pa

from mdm.constraints import Constraint, Pair, write_constraints
from mdm.schema import ATTRIBUTES
from mdm.store.events import NOTE, write_event_values
from mdm.store.golden import read_states, write_change_golden
from mdm.store.names import count_names
from mdm.store.records import write_change_records, write_change_xref
from mdm.store.review import PairRow, TaskRow, write_change_pairs, write_change_tasks
from mdm.store.rows import next_id, registered

Key = tuple[str, str]
#: An event: kind, golden_id, source, record_id, detail.
Event = tuple[str, str | None, str | None, str | None, dict[str, Any]]

#: Up to this many records are read by primary-key lookups; more by one join.
POINT_LOOKUPS = 8


@dataclass(frozen=True)
class GoldenRow:
    """A golden record as derived in process, ready to write."""

    golden_id: str
    status: str  # active | retired
    survivor_id: str | None
    created_at: datetime
    updated_at: datetime
    record_count: int
    values: Mapping[str, Any]
    lineage: Sequence[tuple[str, Any, str, str, str]]  # attribute, value, source, id, rule
    extra_from: Key | None  # the record whose extras the golden record carries


@dataclass
class ChangeSet:
    """Everything one upsert or delete changes (see the module docstring)."""

    at: datetime
    actor: str
    #: (source, record_id) -> the full row (:data:`mdm.store.records.ROW_COLUMNS`), or
    #: None when it is removed.
    records: dict[Key, dict[str, Any] | None] = field(default_factory=dict)
    #: (source, record_id) -> golden id, or None when the record is removed.
    xref: dict[Key, str | None] = field(default_factory=dict)
    golden: dict[str, GoldenRow] = field(default_factory=dict)
    #: golden id -> survivor (None: nobody is left), for ids whose row is not re-derived.
    retired: dict[str, str | None] = field(default_factory=dict)
    #: record -> its evidence pairs (all of the record's pairs are replaced by these).
    pairs: dict[Key, list[PairRow]] = field(default_factory=dict)
    #: new review tasks: full rows of the review_tasks table
    #: (:data:`mdm.store.review.TASK_COLUMNS`).
    tasks_added: list[TaskRow] = field(default_factory=list)
    #: task id -> (match_weight, match_probability) of an open task scored again.
    tasks_rescored: dict[int, tuple[float, float]] = field(default_factory=dict)
    #: task id -> (match_weight, match_probability) of a task added or scored again by
    #: this change, scored with what its two customers know (``scored_on =
    #: 'customers'``; see :mod:`mdm.linkage.customers`). The rows above keep the
    #: records' own score, which decides which pair a task shows.
    tasks_on_customers: dict[int, tuple[float, float]] = field(default_factory=dict)
    tasks_withdrawn: set[int] = field(default_factory=set)
    #: (kind, golden_id, source, record_id, detail) in the order they happened.
    events: list[Event] = field(default_factory=list)
    #: (kind, name) -> change in count.
    names: dict[tuple[str, str], int] = field(default_factory=dict)
    #: Records and golden ids this change creates (nothing of theirs is in the store
    #: yet, so nothing needs deleting first).
    new_records: set[Key] = field(default_factory=set)
    new_golden: set[str] = field(default_factory=set)
    #: Retired ids whose steward overrides go to their survivor (None: dropped).
    overrides_moved: dict[str, str | None] = field(default_factory=dict)
    #: A steward's constraints on pairs of records (None: the pair's is removed).
    constraints: dict[Pair, Constraint | None] = field(default_factory=dict)


@dataclass
class _Batch:
    """Change sets folded into the final state of every key they touch."""

    records: dict[Key, dict[str, Any] | None] = field(default_factory=dict)
    xref: dict[Key, str | None] = field(default_factory=dict)
    stored: set[Key] = field(default_factory=set)  # keys the store may hold rows of
    golden: dict[str, GoldenRow] = field(default_factory=dict)
    golden_at: dict[str, int] = field(default_factory=dict)  # the change that derived it
    writes: dict[Key, list[tuple[int, dict[str, Any] | None]]] = field(default_factory=dict)
    stored_golden: set[str] = field(default_factory=set)
    retired: dict[str, tuple[str | None, datetime]] = field(default_factory=dict)
    pairs_replaced: set[Key] = field(default_factory=set)
    pairs: dict[tuple[Key, Key], tuple[object, ...]] = field(default_factory=dict)  # (l, r) -> row
    tasks: dict[int, list[Any]] = field(default_factory=dict)  # added in this batch
    rescored: dict[int, tuple[float, float]] = field(default_factory=dict)
    on_customers: dict[int, tuple[float, float]] = field(default_factory=dict)
    withdrawn: set[int] = field(default_factory=set)
    names: dict[tuple[str, str], int] = field(default_factory=dict)
    overrides_moved: list[tuple[str, str | None]] = field(default_factory=list)
    constraints: dict[Pair, Constraint | None] = field(default_factory=dict)


def _fold(changes: Sequence[ChangeSet]) -> _Batch:
    batch = _Batch()
    pairs_of: dict[Key, set[tuple[Key, Key]]] = {}  # record -> the batch's pairs it is in
    seen: set[Key] = set()
    seen_golden: set[str] = set()
    for at, change in enumerate(changes):
        # Whether the store holds a key's rows is known at the first change touching it.
        for key in (*change.records, *change.xref, *change.pairs):
            if key not in seen:
                seen.add(key)
                if key not in change.new_records:
                    batch.stored.add(key)
        for gid in change.golden:
            if gid not in seen_golden:
                seen_golden.add(gid)
                if gid not in change.new_golden:
                    batch.stored_golden.add(gid)
        batch.records.update(change.records)
        for key, row in change.records.items():
            batch.writes.setdefault(key, []).append((at, row))
        batch.xref.update(change.xref)
        for gid, derived in change.golden.items():
            batch.golden[gid] = derived
            batch.golden_at[gid] = at
            batch.retired.pop(gid, None)
        for gid, survivor in change.retired.items():
            if gid in batch.golden:  # derived earlier in the batch: keep the row, retired
                kept = batch.golden[gid]
                batch.golden[gid] = GoldenRow(
                    kept.golden_id, "retired", survivor, kept.created_at, change.at,
                    kept.record_count, kept.values, kept.lineage, kept.extra_from,
                )  # fmt: skip
                batch.retired[gid] = (survivor, change.at)
            else:
                batch.retired[gid] = (survivor, change.at)
        for key, rows in change.pairs.items():
            batch.pairs_replaced.add(key)
            for ends in pairs_of.pop(key, set()):  # the key's earlier pairs go
                batch.pairs.pop(ends, None)
                pairs_of.get(ends[1] if ends[0] == key else ends[0], set()).discard(ends)
            for pair in rows:
                ends = ((pair[0], pair[1]), (pair[2], pair[3]))
                batch.pairs[ends] = tuple(pair)
                for end in ends:
                    pairs_of.setdefault(end, set()).add(ends)
        for task in change.tasks_added:
            batch.tasks[int(task[0])] = list(task)
        for task_id, scores in change.tasks_rescored.items():
            batch.on_customers.pop(task_id, None)  # scored again: the latest score holds
            if task_id in batch.tasks:
                batch.tasks[task_id][7:9] = scores
            else:
                batch.rescored[task_id] = scores
        batch.on_customers.update(change.tasks_on_customers)
        for task_id in change.tasks_withdrawn:
            if task_id in batch.tasks:
                batch.tasks[task_id][9] = "withdrawn"
            else:
                batch.withdrawn.add(task_id)
        for name, step in change.names.items():
            batch.names[name] = batch.names.get(name, 0) + step
        batch.overrides_moved += sorted(change.overrides_moved.items())
        batch.constraints.update(change.constraints)
    return batch


def apply_changes(con: duckdb.DuckDBPyConnection, changes: Sequence[ChangeSet]) -> None:
    """Write ``changes`` in order, in the caller's transaction (a fixed number of
    statements however many there are)."""
    if not changes:
        return
    batch = _fold(changes)
    # Before any record is replaced or deleted: the extras golden records carry.
    extras = _extras(con, batch)
    write_change_records(con, batch.records, batch.stored)
    write_change_xref(con, batch.xref, batch.stored)
    before = read_states(con, sorted(batch.stored_golden & set(batch.golden)))
    events, values = _events(changes, before)
    write_change_golden(con, batch.golden, batch.stored_golden, batch.retired, extras)
    write_change_pairs(con, sorted(batch.pairs_replaced & batch.stored), batch.pairs)
    write_change_tasks(con, batch.tasks, batch.rescored, batch.on_customers, batch.withdrawn)
    _write_events(con, events, values)
    count_names(con, batch.names)
    write_constraints(con, batch.constraints)
    for old, survivor in batch.overrides_moved:  # rare: a retired record had overrides
        if survivor is not None:
            con.execute(
                "INSERT INTO golden_overrides SELECT ?, attribute, value, set_by, set_at, reason "
                "FROM golden_overrides WHERE golden_id = ? ON CONFLICT DO NOTHING",
                [survivor, old],
            ).fetchall()
        con.execute("DELETE FROM golden_overrides WHERE golden_id = ?", [old]).fetchall()


def _events(
    changes: Sequence[ChangeSet], before: Mapping[str, tuple[str, dict[str, Any]]]
) -> tuple[list[tuple[Any, ...]], list[_Value]]:
    """Every change set's events in order, each followed by the golden records it
    created or changed (which attributes), as if written one by one; and the values
    behind them (event position, golden id, attribute, old, new): each changed
    attribute's values, and a steward's note (a ``note`` in an event's detail, taken
    out of it: events hold no customer text)."""
    state: dict[str, tuple[str | None, dict[str, Any]]] = dict(before)
    events: list[tuple[Any, ...]] = []
    values: list[_Value] = []
    for change in changes:
        for kind, gid, source, record_id, said in change.events:
            if said and said.get("note") and gid is not None:
                values.append((len(events), gid, NOTE, None, str(said["note"])))
                said = {k: v for k, v in said.items() if k != "note"}
            events.append((change.at, change.actor, kind, gid, source, record_id, said))
        for gid, row in sorted(change.golden.items()):
            status, held = state.get(gid, (None, {}))
            state[gid] = (row.status, dict(row.values))
            if row.status != "active":
                continue
            if status != "active":
                detail: dict[str, Any] = {"record_count": row.record_count}
                events.append((change.at, change.actor, "golden_created", gid, None, None, detail))
                continue
            changed = [a for a in ATTRIBUTES if held.get(a) != row.values.get(a)]
            if changed:
                values += [
                    (len(events), gid, a, _text(held.get(a)), _text(row.values.get(a)))
                    for a in changed
                ]
                detail = {"attributes": changed}
                events.append((change.at, change.actor, "golden_changed", gid, None, None, detail))
        for gid in change.retired:
            state[gid] = ("retired", state.get(gid, (None, {}))[1])
    return events, values


#: A value behind an event of a batch: (its position in the batch's events, golden id,
#: attribute, old value, new value).
_Value = tuple[int, str, str, str | None, str | None]


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _extras(con: duckdb.DuckDBPyConnection, batch: _Batch) -> dict[str, str | None]:
    """golden id -> the extras it carries: those of its most recent record as that record
    stood when the golden record was derived (written earlier in the batch, else in the
    store: one statement of primary-key lookups; an IN list would scan)."""
    found: dict[str, str | None] = {}
    wanted: dict[Key, list[str]] = {}
    for gid, row in batch.golden.items():
        key = row.extra_from
        if key is None:
            continue
        written = [r for at, r in batch.writes.get(key, []) if at <= batch.golden_at[gid]]
        if written and written[-1] is not None:
            found[gid] = written[-1].get("extra")
        else:
            wanted.setdefault(key, []).append(gid)
    if len(wanted) > POINT_LOOKUPS:  # one join is cheaper than many lookups
        frame = pa.table(
            {
                "source": pa.array([k[0] for k in wanted], pa.string()),
                "record_id": pa.array([k[1] for k in wanted], pa.string()),
            }
        )
        with registered(con, "_wanted_keys", frame):
            rows = con.execute(
                "SELECT r.source, r.record_id, r.extra::VARCHAR FROM records r "
                "JOIN _wanted_keys USING (source, record_id)"
            ).fetchall()
    elif wanted:
        sql = " UNION ALL ".join(
            "SELECT source, record_id, extra::VARCHAR FROM records WHERE source = ? AND "
            "record_id = ?"
            for _ in wanted
        )
        rows = con.execute(sql, [v for key in wanted for v in key]).fetchall()
    else:
        rows = []
    for source, record_id, extra in rows:
        for gid in wanted[(source, record_id)]:
            found[gid] = extra
    return found


def _write_events(
    con: duckdb.DuckDBPyConnection, events: Sequence[tuple[Any, ...]], values: Sequence[_Value]
) -> None:
    """Append events, numbered on from the table's largest id, and the values behind
    them (a statement each)."""
    if not events:
        return
    first = next_id(con, "events", "event_id")
    write_event_values(con, [(first + n, gid, a, old, new) for n, gid, a, old, new in values])
    frame = pa.table(
        {
            "n": pa.array(range(first, first + len(events)), pa.int64()),
            "occurred": pa.array([e[0] for e in events], pa.timestamp("us")),
            "actor": pa.array([e[1] for e in events], pa.string()),
            "kind": pa.array([e[2] for e in events], pa.string()),
            "gid": pa.array([e[3] for e in events], pa.string()),
            "src": pa.array([e[4] for e in events], pa.string()),
            "rid": pa.array([e[5] for e in events], pa.string()),
            "detail": pa.array([json.dumps(e[6]) for e in events], pa.string()),
        }
    )
    with registered(con, "_changed_events", frame):
        con.execute(
            "INSERT INTO events SELECT n, occurred, kind, gid, src, rid, actor, detail "
            "FROM _changed_events ORDER BY n"
        ).fetchall()


# --- the journal: change sets committed before they are written into the tables -----


def _jsonable(value: Any) -> Any:
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    if isinstance(value, set | frozenset):
        return sorted(value)
    raise TypeError(f"cannot journal a {type(value).__name__}")


def encode(change: ChangeSet) -> bytes:
    """A change set as journal bytes (JSON)."""
    return orjson.dumps(
        {
            "at": change.at,
            "actor": change.actor,
            "records": [[*key, row] for key, row in change.records.items()],
            "xref": [[*key, gid] for key, gid in change.xref.items()],
            "golden": [
                [
                    g.golden_id,
                    g.status,
                    g.survivor_id,
                    g.created_at,
                    g.updated_at,
                    g.record_count,
                    g.values,
                    g.lineage,
                    g.extra_from,
                ]  # fmt: skip
                for g in change.golden.values()
            ],
            "retired": list(change.retired.items()),
            "pairs": [[*key, rows] for key, rows in change.pairs.items()],
            "tasks_added": change.tasks_added,
            "tasks_rescored": [[t, *scores] for t, scores in change.tasks_rescored.items()],
            "tasks_on_customers": [[t, *s] for t, s in change.tasks_on_customers.items()],
            "tasks_withdrawn": sorted(change.tasks_withdrawn),
            "events": change.events,
            "names": [[*name, step] for name, step in change.names.items()],
            "new_records": sorted(change.new_records),
            "new_golden": sorted(change.new_golden),
            "overrides_moved": list(change.overrides_moved.items()),
            "constraints": [
                [*pair[0], *pair[1], c.row() if c is not None else None]
                for pair, c in change.constraints.items()
            ],
        },
        default=_jsonable,
        option=orjson.OPT_SERIALIZE_NUMPY,
    )


def _time(value: Any) -> Any:
    return datetime.fromisoformat(value) if isinstance(value, str) else value


def decode(data: bytes) -> ChangeSet:
    """A change set from its journal bytes (:func:`encode`)."""
    raw = orjson.loads(data)
    records = {}
    for source, record_id, row in raw["records"]:
        if row is not None:
            row["ingested_at"] = _time(row.get("ingested_at"))
        records[(source, record_id)] = row
    golden = {
        g[0]: GoldenRow(
            g[0],
            g[1],
            g[2],
            _time(g[3]),
            _time(g[4]),
            g[5],
            g[6],
            [tuple(line) for line in g[7]],
            tuple(g[8]) if g[8] else None,
        )  # fmt: skip
        for g in raw["golden"]
    }
    return ChangeSet(
        at=_time(raw["at"]),
        actor=raw["actor"],
        records=records,
        xref={(s, r): gid for s, r, gid in raw["xref"]},
        golden=golden,
        retired=dict(raw["retired"]),
        pairs={(s, r): [tuple(row) for row in rows] for s, r, rows in raw["pairs"]},
        tasks_added=[(*row[:10], _time(row[10]), *row[11:]) for row in raw["tasks_added"]],
        tasks_rescored={t: (w, p) for t, w, p in raw["tasks_rescored"]},
        tasks_on_customers={t: (w, p) for t, w, p in raw.get("tasks_on_customers", [])},
        tasks_withdrawn=set(raw["tasks_withdrawn"]),
        events=[tuple(event) for event in raw["events"]],
        names={(kind, name): step for kind, name, step in raw["names"]},
        new_records={tuple(key) for key in raw["new_records"]},
        new_golden=set(raw["new_golden"]),
        overrides_moved=dict(raw.get("overrides_moved", [])),
        constraints={
            ((sl, rl), (sr, rr)): None
            if row is None
            else Constraint(row[0], row[1], row[2], _time(row[3]), row[4])
            for sl, rl, sr, rr, row in raw.get("constraints", [])
        },
    )

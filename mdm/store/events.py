"""The event log: appended, and read as a change feed by cursor and a golden record's history.

Every state change appends an event (``events``): records added, updated and deleted,
golden records created, changed (which attributes), retired into a survivor, steward
overrides set or cleared, review tasks re-scored. Events hold ids, never customer
values: the values a golden record's history shows (old -> new, a steward's note) are
in ``event_values`` beside them, read only with that record's history and erased with
the person (:func:`erase_event_values`). Event ids only grow and are committed in order
(one writer at a time), so a reader that asks for the events after the last id it saw
never skips or repeats one.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import duckdb
import pyarrow as pa

from mdm.errors import NotFoundError
from mdm.store.rows import insert_rows, registered

_COLUMNS = "event_id, occurred_at, kind, golden_id, source, record_id, actor, detail::VARCHAR"


def _rows(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any]) -> list[dict[str, Any]]:
    found = []
    for event_id, at, kind, golden_id, source, record_id, actor, detail in con.execute(
        sql, params
    ).fetchall():
        event = {
            "event_id": int(event_id),
            "occurred_at": at,
            "kind": kind,
            "golden_id": golden_id,
            "source": source,
            "record_id": record_id,
            "actor": actor,
            "detail": json.loads(detail) if detail else {},
        }
        event["description"] = describe(event)
        found.append(event)
    return found


def log_event(
    con: duckdb.DuckDBPyConnection,
    at: datetime,
    kind: str,
    actor: str,
    golden_id: str | None = None,
    record: tuple[str, str] | None = None,
    detail: dict[str, Any] | None = None,
) -> int:
    """Append one event (in the caller's transaction): ids and names in ``detail``,
    never customer values. Its id."""
    source, record_id = record or (None, None)
    row = con.execute(
        "INSERT INTO events SELECT coalesce(max(event_id), 0) + 1, ?, ?, ?, ?, ?, ?, ? "
        "FROM events RETURNING event_id",
        [at, kind, golden_id, source, record_id, actor, json.dumps(detail or {})],
    ).fetchall()
    return int(row[0][0])


#: An event's values: (event id, golden id, attribute, old value, new value); the
#: attribute :data:`NOTE` holds a steward's note in the new value.
EventValue = tuple[int, str, str, str | None, str | None]
NOTE = "reason"


def write_event_values(con: duckdb.DuckDBPyConnection, rows: Sequence[EventValue]) -> None:
    """Keep the values behind events (in the caller's transaction; one statement)."""
    if rows:
        insert_rows(con, "event_values", rows)


def erase_event_values(
    con: duckdb.DuckDBPyConnection, keys: Sequence[tuple[str, str]], golden_ids: Sequence[str]
) -> None:
    """Forget the history values of ``golden_ids`` and of every golden record the
    records ``keys`` were ever part of (an erasure: any of them may hold the person's
    values, the erasure's own changes included)."""
    con.execute(
        "DELETE FROM event_values WHERE golden_id IN (SELECT unnest($ids))",
        {"ids": list(golden_ids)},
    ).fetchall()
    if not keys:
        return
    with registered(
        con,
        "_erased_keys",
        pa.table(
            {
                "source": pa.array([k[0] for k in keys], pa.string()),
                "record_id": pa.array([k[1] for k in keys], pa.string()),
            }
        ),
    ):
        con.execute(
            "DELETE FROM event_values WHERE golden_id IN (SELECT DISTINCT e.golden_id FROM "
            "events e JOIN _erased_keys USING (source, record_id) WHERE e.golden_id IS NOT "
            "NULL UNION SELECT detail->>'from' FROM events e JOIN _erased_keys "
            "USING (source, record_id) WHERE e.kind = 'record_linked')"
        ).fetchall()


def _values_of(con: duckdb.DuckDBPyConnection, events: Sequence[dict[str, Any]]) -> None:
    """Add to each event the values behind it: ``changes`` (attribute, old, new) and
    ``note`` (a steward's reason)."""
    ids = [event["event_id"] for event in events]
    found: dict[int, list[tuple[str, str | None, str | None]]] = {}
    if ids:
        for event_id, attribute, old, new in con.execute(
            "SELECT event_id, attribute, old_value, new_value FROM event_values "
            "WHERE event_id IN (SELECT unnest($ids)) ORDER BY event_id, attribute",
            {"ids": ids},
        ).fetchall():
            found.setdefault(int(event_id), []).append((attribute, old, new))
    for event in events:
        rows = found.get(event["event_id"], [])
        event["changes"] = [
            {"attribute": a, "old": old, "new": new} for a, old, new in rows if a != NOTE
        ]
        event["note"] = next((new for a, _, new in rows if a == NOTE), None)


def events_after(
    con: duckdb.DuckDBPyConnection, after: int = 0, limit: int = 100
) -> list[dict[str, Any]]:
    """The events after cursor ``after`` (an event id; 0 for the start), oldest first."""
    return _rows(
        con,
        f"SELECT {_COLUMNS} FROM events WHERE event_id > ? ORDER BY event_id LIMIT ?",
        [after, limit],
    )


def history(con: duckdb.DuckDBPyConnection, golden_id: str) -> list[dict[str, Any]]:
    """Everything that happened to a golden record, oldest first: its own events and the
    golden records merged into it."""
    known = con.execute("SELECT 1 FROM golden WHERE golden_id = ?", [golden_id]).fetchall()
    if not known:
        raise NotFoundError(f"no golden record {golden_id}")
    events = _rows(
        con,
        f"SELECT {_COLUMNS} FROM events WHERE golden_id = ? OR (kind = 'golden_retired' "
        "AND detail->>'survivor_id' = ?) OR detail->>'other_golden_id' = ? ORDER BY event_id",
        [golden_id, golden_id, golden_id],
    )
    _values_of(con, events)
    return events


@dataclass
class Replayed:
    """The identity state the event log alone describes: each source record's golden
    id, and each golden id's status and survivor."""

    xref: dict[tuple[str, str], str] = field(default_factory=dict)
    golden: dict[str, tuple[str, str | None]] = field(default_factory=dict)


def replay(con: duckdb.DuckDBPyConnection) -> Replayed:
    """Replay the event log from empty (records added, moved and deleted; golden records
    created and retired), without reading any other table."""
    state = Replayed()
    for kind, golden_id, source, record_id, survivor in con.execute(
        "SELECT kind, golden_id, source, record_id, detail->>'survivor_id' FROM events "
        "WHERE kind IN ('record_added', 'record_updated', 'record_linked', 'record_deleted', "
        "'golden_created', 'golden_retired') ORDER BY event_id"
    ).fetchall():
        if kind == "record_deleted":
            state.xref.pop((source, record_id), None)
        elif kind.startswith("record_"):
            state.xref[(source, record_id)] = golden_id
        elif kind == "golden_created":
            state.golden[golden_id] = ("active", None)
        else:
            state.golden[golden_id] = ("retired", survivor)
    return state


def replay_differences(con: duckdb.DuckDBPyConnection, limit: int = 20) -> list[str]:
    """Where the tables differ from what replaying the event log gives (empty: none)."""
    replayed = replay(con)
    found = []
    xref = {
        (s, r): g
        for s, r, g in con.execute("SELECT source, record_id, golden_id FROM xref").fetchall()
    }
    for key in sorted(set(xref) | set(replayed.xref)):
        if xref.get(key) != replayed.xref.get(key):
            found.append(
                f"record {key[0]}/{key[1]}: golden id {xref.get(key)} in the tables, "
                f"{replayed.xref.get(key)} by the events"
            )
    golden = {
        g: (status, survivor)
        for g, status, survivor in con.execute(
            "SELECT golden_id, status, survivor_id FROM golden"
        ).fetchall()
    }
    for gid in sorted(set(golden) | set(replayed.golden)):
        if golden.get(gid) != replayed.golden.get(gid):
            found.append(
                f"golden record {gid}: {golden.get(gid)} in the tables, "
                f"{replayed.golden.get(gid)} by the events"
            )
    return found[:limit]


def describe(event: dict[str, Any]) -> str:
    """One event in a sentence a steward can read."""
    kind: str = event["kind"]
    detail = event["detail"]
    record = f"{event['source']}/{event['record_id']}"
    if kind == "record_added":
        text = f"source record {record} added to golden record {event['golden_id']}"
        if "match_probability" in detail:
            text += f" (match probability {detail['match_probability']:.3f})"
        return text
    if kind == "record_updated":
        return f"source record {record} updated (version {detail.get('version', '?')})"
    if kind == "record_deleted":
        return f"source record {record} deleted"
    if kind == "record_linked":
        return f"source record {record} moved from {detail.get('from')} to {event['golden_id']}"
    if kind == "golden_merged":
        return f"golden record(s) {', '.join(detail.get('merged', []))} merged in by a steward"
    if kind == "golden_unmerged":
        text = f"{detail.get('records', '?')} source record(s) unmerged by a steward"
        moved = detail.get("moved")
        if moved:  # which records, and where they went (events since this one say so)
            text += ": " + ", ".join(f"{s}/{r}" for s, r in moved)
            if detail.get("into"):
                text += f", now in {', '.join(detail['into'])}"
        return text
    if kind == "person_erased":
        return f"person erased: {detail.get('records', '?')} source record(s) removed"
    if kind == "golden_created":
        return f"golden record created from {detail.get('record_count', '?')} source record(s)"
    if kind == "golden_changed":
        return "golden values changed: " + ", ".join(detail.get("attributes", []))
    if kind == "golden_retired":
        survivor = detail.get("survivor_id")
        if survivor is None:
            return f"golden record {event['golden_id']} retired: no source records left"
        return f"golden record {event['golden_id']} merged into {survivor}"
    if kind == "override_set":
        return f"steward value set for {detail.get('attribute')}"
    if kind == "override_cleared":
        return f"steward value cleared for {detail.get('attribute')}; survivorship decides"
    if kind == "decision_made":
        return (
            f"review task {detail.get('task_id')} decided: {detail.get('decision')} "
            f"(golden records {event['golden_id']} and {detail.get('other_golden_id')})"
        )
    if kind == "task_rescored":
        return f"review task for {record} re-scored"
    return kind.replace("_", " ")


def prior_ids(con: duckdb.DuckDBPyConnection, golden_id: str) -> dict[tuple[str, str], str]:
    """For each record that moved into ``golden_id``: the id it had just before."""
    rows = con.execute(
        "SELECT source, record_id, arg_max(detail->>'from', event_id) FROM events "
        "WHERE kind = 'record_linked' AND golden_id = ? GROUP BY source, record_id",
        [golden_id],
    ).fetchall()
    return {(source, record_id): was for source, record_id, was in rows if was}

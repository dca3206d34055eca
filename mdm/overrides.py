"""Steward overrides: a golden value set by hand, which wins over survivorship until a
steward clears it.

An override is kept per (golden id, attribute) in ``golden_overrides`` with who set it,
when and why. Both paths apply it after survivorship (bulk: :func:`apply_overrides_sql`;
real time and this module: :func:`overridden`), and its lineage says so: source
``steward``, record id the steward's name, rule ``steward_override``. An override stays
with the golden id it was set on: when that id is retired into another, the survivor
inherits it (unless the survivor has its own for the attribute), and when an unmerge
brings the id back, its overrides come back with it. The event log records that an
override was set or cleared, never the value.
"""

from __future__ import annotations

from datetime import datetime

import duckdb

from mdm.errors import ConflictError, InputError, NotFoundError
from mdm.golden import survive
from mdm.rules.survivorship import SurvivorshipRules
from mdm.schema import ATTRIBUTES
from mdm.store.events import NOTE, EventValue, log_event, write_event_values
from mdm.store.golden import write_golden_records
from mdm.store.overrides import RESOLVED_SQL, load_overrides_of, overridden


def _active(con: duckdb.DuckDBPyConnection, golden_id: str) -> None:
    row = con.execute(
        "SELECT status, survivor_id FROM golden WHERE golden_id = ?", [golden_id]
    ).fetchall()
    if not row:
        raise NotFoundError(f"no golden record {golden_id}")
    if row[0][0] != "active":
        raise ConflictError(
            f"golden record {golden_id} is retired"
            + (f"; it lives on as {row[0][1]}: override that one" if row[0][1] else "")
        )


def _attribute(attribute: str) -> str:
    if attribute not in ATTRIBUTES:
        raise InputError(
            f"unknown attribute {attribute!r}; a golden record has {', '.join(ATTRIBUTES)}"
        )
    return attribute


def rederive(
    con: duckdb.DuckDBPyConnection, golden_id: str, rules: SurvivorshipRules, now: datetime
) -> None:
    """Derive one golden record again from its records, overrides applied."""
    frame = con.execute(
        f"SELECT r.source, r.record_id, {', '.join('r.' + a for a in ATTRIBUTES)}, "
        "r.updated_at, r.ingested_at, r.extra::VARCHAR AS extra FROM records r "
        "JOIN xref x USING (source, record_id) WHERE x.golden_id = ?",
        [golden_id],
    ).df()
    records = frame.astype(object).where(frame.notna(), None).to_dict("records")
    if not records:
        return
    overrides = load_overrides_of(con, golden_id)
    derived = overridden(survive(records, rules), overrides)
    write_golden_records(con, {golden_id: derived}, now, {golden_id})


def set_override(
    con: duckdb.DuckDBPyConnection,
    golden_id: str,
    attribute: str,
    value: str,
    by: str,
    reason: str | None,
    rules: SurvivorshipRules,
    now: datetime,
) -> None:
    """Set (or replace) a steward's value for one attribute of an active golden record,
    in the caller's transaction; the golden record and its lineage change at once."""
    _attribute(attribute)
    _active(con, golden_id)
    value = (value or "").strip()
    if not value:
        raise InputError("an override needs a value; to go back to survivorship, clear it")
    was = _value(con, golden_id, attribute)
    con.execute(
        "INSERT OR REPLACE INTO golden_overrides VALUES (?, ?, ?, ?, ?, ?)",
        [golden_id, attribute, value, by, now, reason],
    ).fetchall()
    rederive(con, golden_id, rules, now)
    event = log_event(con, now, "override_set", by, golden_id, detail={"attribute": attribute})
    _keep_values(con, event, golden_id, attribute, was, reason)


def clear_override(
    con: duckdb.DuckDBPyConnection,
    golden_id: str,
    attribute: str,
    by: str,
    rules: SurvivorshipRules,
    now: datetime,
) -> None:
    """Remove a steward's value, with any a retired golden record passed on for the
    attribute: survivorship decides it again."""
    _attribute(attribute)
    gone = con.execute(
        f"DELETE FROM golden_overrides WHERE attribute = $a AND golden_id IN (SELECT origin "
        f"FROM ({RESOLVED_SQL}) WHERE golden_id = $g) RETURNING 1",
        {"a": attribute, "g": golden_id},
    ).fetchall()
    if not gone:
        raise NotFoundError(f"golden record {golden_id} has no override of {attribute}")
    was = _value(con, golden_id, attribute)
    rederive(con, golden_id, rules, now)
    event = log_event(con, now, "override_cleared", by, golden_id, detail={"attribute": attribute})
    _keep_values(con, event, golden_id, attribute, was, None)


def _value(con: duckdb.DuckDBPyConnection, golden_id: str, attribute: str) -> str | None:
    """The golden record's value of ``attribute`` (checked against the schema)."""
    row = con.execute(f"SELECT {attribute} FROM golden WHERE golden_id = ?", [golden_id]).fetchall()
    return None if not row or row[0][0] is None else str(row[0][0])


def _keep_values(
    con: duckdb.DuckDBPyConnection,
    event: int,
    golden_id: str,
    attribute: str,
    was: str | None,
    reason: str | None,
) -> None:
    """The history's side of an override: the value before and after, and the reason."""
    rows: list[EventValue] = [(event, golden_id, attribute, was, _value(con, golden_id, attribute))]
    if reason and reason.strip():
        rows.append((event, golden_id, NOTE, None, reason.strip()))
    write_event_values(con, rows)

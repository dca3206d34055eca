"""Steward overrides: a golden value set by hand, which wins over survivorship until a
steward clears it.

An override is kept per (golden id, attribute) in ``golden_overrides`` with who set it,
when and why. Both paths apply it after survivorship (bulk: :func:`apply_overrides_sql`;
real time and this module: :func:`overridden`), and its lineage says so: source
``steward``, record id the steward's name, rule ``steward_override``. When a golden
record is retired into another, its overrides move to the survivor unless the survivor
has its own for that attribute. The event log records that an override was set or
cleared, never the value.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime

import duckdb

from mdm.errors import ConflictError, InputError, NotFoundError
from mdm.events import log_event
from mdm.golden import Survived, survive
from mdm.rules.survivorship import SurvivorshipRules
from mdm.schema import ATTRIBUTES
from mdm.store.writer import write_golden_records

RULE = "steward_override"
SOURCE = "steward"

#: golden id -> attribute -> (value, who set it)
Overrides = dict[str, dict[str, tuple[str, str]]]


def load_overrides(con: duckdb.DuckDBPyConnection) -> Overrides:
    """Every override in the store."""
    found: Overrides = {}
    for golden_id, attribute, value, by in con.execute(
        "SELECT golden_id, attribute, value, set_by FROM golden_overrides"
    ).fetchall():
        found.setdefault(golden_id, {})[attribute] = (value, by)
    return found


def overridden(derived: Survived, overrides: Mapping[str, tuple[str, str]] | None) -> Survived:
    """A derived golden record with the steward's values in place of survivorship's."""
    if not overrides:
        return derived
    values = {**derived.values}
    lineage = [line for line in derived.lineage if line[0] not in overrides]
    for attribute, (value, by) in sorted(overrides.items()):
        values[attribute] = value
        lineage.append((attribute, value, SOURCE, by, RULE))
    return replace(derived, values=values, lineage=lineage)


def move_overrides(overrides: Overrides, retired: Mapping[str, str | None]) -> None:
    """In memory: overrides of retired ids go to their survivors (whose own win)."""
    for old, survivor in retired.items():
        moved = overrides.pop(old, None)
        if moved and survivor is not None:
            own = overrides.setdefault(survivor, {})
            for attribute, held in moved.items():
                own.setdefault(attribute, held)


def move_overrides_sql(con: duckdb.DuckDBPyConnection) -> None:
    """In the store: overrides of retired golden records go to their survivors (whose
    own win); those of records retired with no survivor are dropped."""
    con.execute(
        "INSERT INTO golden_overrides SELECT g.survivor_id, o.attribute, o.value, o.set_by, "
        "o.set_at, o.reason FROM golden_overrides o JOIN golden g USING (golden_id) "
        "WHERE g.status = 'retired' AND g.survivor_id IS NOT NULL ON CONFLICT DO NOTHING"
    ).fetchall()
    con.execute(
        "DELETE FROM golden_overrides WHERE golden_id IN "
        "(SELECT golden_id FROM golden WHERE status = 'retired')"
    ).fetchall()


def apply_overrides_sql(con: duckdb.DuckDBPyConnection) -> None:
    """After a bulk run derived every golden record: the steward's values win."""
    move_overrides_sql(con)
    attributes = [
        row[0] for row in con.execute("SELECT DISTINCT attribute FROM golden_overrides").fetchall()
    ]
    for attribute in attributes:
        if attribute not in ATTRIBUTES:
            continue
        con.execute(
            f"UPDATE golden SET {attribute} = o.value FROM golden_overrides o "
            "WHERE o.golden_id = golden.golden_id AND o.attribute = ?",
            [attribute],
        ).fetchall()
    if attributes:
        con.execute(
            "DELETE FROM lineage USING golden_overrides o WHERE lineage.golden_id = o.golden_id "
            "AND lineage.attribute = o.attribute"
        ).fetchall()
        con.execute(
            f"INSERT INTO lineage SELECT golden_id, attribute, value, '{SOURCE}', set_by, "
            f"'{RULE}' FROM golden_overrides"
        ).fetchall()


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


def load_overrides_of(con: duckdb.DuckDBPyConnection, golden_id: str) -> dict:
    return {
        attribute: (value, by)
        for attribute, value, by in con.execute(
            "SELECT attribute, value, set_by FROM golden_overrides WHERE golden_id = ?",
            [golden_id],
        ).fetchall()
    }


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
    con.execute(
        "INSERT OR REPLACE INTO golden_overrides VALUES (?, ?, ?, ?, ?, ?)",
        [golden_id, attribute, value, by, now, reason],
    ).fetchall()
    rederive(con, golden_id, rules, now)
    log_event(con, now, "override_set", by, golden_id, detail={"attribute": attribute})


def clear_override(
    con: duckdb.DuckDBPyConnection,
    golden_id: str,
    attribute: str,
    by: str,
    rules: SurvivorshipRules,
    now: datetime,
) -> None:
    """Remove a steward's value: survivorship decides the attribute again."""
    _attribute(attribute)
    gone = con.execute(
        "DELETE FROM golden_overrides WHERE golden_id = ? AND attribute = ? RETURNING 1",
        [golden_id, attribute],
    ).fetchall()
    if not gone:
        raise NotFoundError(f"golden record {golden_id} has no override of {attribute}")
    rederive(con, golden_id, rules, now)
    log_event(con, now, "override_cleared", by, golden_id, detail={"attribute": attribute})

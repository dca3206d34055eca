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

from collections.abc import Callable, Mapping
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


def inherited(
    overrides: Overrides,
    golden_id: str,
    resolve: Callable[[str], str | None],
) -> dict[str, tuple[str, str]]:
    """The overrides in effect for ``golden_id``: its own, then those of golden ids
    retired into it (``resolve`` says where an id lives on now; the lowest id wins a tie)."""
    found = dict(overrides.get(golden_id, {}))
    for other in sorted(overrides):
        if other != golden_id and resolve(other) == golden_id:
            for attribute, held in overrides[other].items():
                found.setdefault(attribute, held)
    return found


#: Each overridden golden id -> the active golden id it lives on as, and how far.
_RESOLVED_SQL = """
WITH RECURSIVE chain(origin, id, depth) AS (
    SELECT DISTINCT golden_id, golden_id, 0 FROM golden_overrides
    UNION ALL
    SELECT c.origin, g.survivor_id, c.depth + 1 FROM chain c
    JOIN golden g ON g.golden_id = c.id
    WHERE g.status <> 'active' AND g.survivor_id IS NOT NULL AND c.depth < 1000
)
SELECT c.origin, c.id AS golden_id, c.depth FROM chain c
JOIN golden g ON g.golden_id = c.id WHERE g.status = 'active'
"""

#: (golden_id, attribute, value, set_by): the overrides in effect for active golden
#: records: their own, then those of ids retired into them (nearest first, then lowest id).
EFFECTIVE_SQL = f"""
SELECT t.golden_id, o.attribute,
       arg_min(o.value, (t.depth, o.golden_id)) AS value,
       arg_min(o.set_by, (t.depth, o.golden_id)) AS set_by
FROM golden_overrides o JOIN ({_RESOLVED_SQL}) t ON t.origin = o.golden_id
GROUP BY t.golden_id, o.attribute
"""


def apply_overrides_sql(con: duckdb.DuckDBPyConnection) -> None:
    """After a bulk run derived every golden record: the steward's values win, those set
    on a golden record retired into another included (they stay with the id they were
    set on, so an unmerge that brings it back brings them back)."""
    con.execute(f"CREATE OR REPLACE TEMP TABLE effective_overrides AS {EFFECTIVE_SQL}").fetchall()
    attributes = [
        row[0]
        for row in con.execute("SELECT DISTINCT attribute FROM effective_overrides").fetchall()
    ]
    for attribute in attributes:
        if attribute not in ATTRIBUTES:
            continue
        con.execute(
            f"UPDATE golden SET {attribute} = o.value FROM effective_overrides o "
            "WHERE o.golden_id = golden.golden_id AND o.attribute = ?",
            [attribute],
        ).fetchall()
    if attributes:
        con.execute(
            "DELETE FROM lineage USING effective_overrides o WHERE lineage.golden_id = "
            "o.golden_id AND lineage.attribute = o.attribute"
        ).fetchall()
        con.execute(
            f"INSERT INTO lineage SELECT golden_id, attribute, value, '{SOURCE}', set_by, "
            f"'{RULE}' FROM effective_overrides"
        ).fetchall()
    con.execute("DROP TABLE IF EXISTS effective_overrides").fetchall()


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
    """The overrides in effect for one active golden record (inherited ones included)."""
    return {
        attribute: (value, by)
        for attribute, value, by in con.execute(
            f"SELECT attribute, value, set_by FROM ({EFFECTIVE_SQL}) WHERE golden_id = ?",
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
    """Remove a steward's value, with any a retired golden record passed on for the
    attribute: survivorship decides it again."""
    _attribute(attribute)
    gone = con.execute(
        f"DELETE FROM golden_overrides WHERE attribute = $a AND golden_id IN (SELECT origin "
        f"FROM ({_RESOLVED_SQL}) WHERE golden_id = $g) RETURNING 1",
        {"a": attribute, "g": golden_id},
    ).fetchall()
    if not gone:
        raise NotFoundError(f"golden record {golden_id} has no override of {attribute}")
    rederive(con, golden_id, rules, now)
    log_event(con, now, "override_cleared", by, golden_id, detail={"attribute": attribute})

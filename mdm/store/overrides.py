"""The store's side of steward overrides: reading them, and applying them to golden
records after survivorship (bulk: :func:`mdm.store.golden.write_bulk_golden`; real time:
:func:`overridden`). Setting and clearing one is a use case: :mod:`mdm.overrides`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

import duckdb

from mdm.golden import Survived

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
RESOLVED_SQL = """
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
FROM golden_overrides o JOIN ({RESOLVED_SQL}) t ON t.origin = o.golden_id
GROUP BY t.golden_id, o.attribute
"""


def load_overrides_of(con: duckdb.DuckDBPyConnection, golden_id: str) -> dict[str, tuple[str, str]]:
    """The overrides in effect for one active golden record (inherited ones included)."""
    return {
        attribute: (value, by)
        for attribute, value, by in con.execute(
            f"SELECT attribute, value, set_by FROM ({EFFECTIVE_SQL}) WHERE golden_id = ?",
            [golden_id],
        ).fetchall()
    }


def steward_values(con: duckdb.DuckDBPyConnection, golden_id: str) -> list[dict[str, Any]]:
    """The steward's values in effect for one active golden record (inherited ones
    included): attribute, value, who set it, when and why, by attribute."""
    rows = con.execute(
        "SELECT o.attribute, arg_min(o.value, (t.depth, o.golden_id)), "
        "arg_min(o.set_by, (t.depth, o.golden_id)), arg_min(o.set_at, (t.depth, o.golden_id)), "
        "arg_min(o.reason, (t.depth, o.golden_id)) "
        f"FROM golden_overrides o JOIN ({RESOLVED_SQL}) t ON t.origin = o.golden_id "
        "WHERE t.golden_id = ? GROUP BY o.attribute ORDER BY o.attribute",
        [golden_id],
    ).fetchall()
    names = ("attribute", "value", "set_by", "set_at", "reason")
    return [dict(zip(names, row, strict=True)) for row in rows]

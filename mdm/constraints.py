"""Steward constraints on pairs of source records: must-link and cannot-link.

A steward's merge, unmerge or decision is kept as constraints on pairs of source
records (``link_constraints``): "must" puts the two records in one golden record,
"cannot" keeps them apart. Both outrank every score, on both paths: the bulk run adds
must-links as edges stronger than any score and steward cannot-links to the guards'
(:func:`mdm.bulk.link._link`); the real-time engine does the same in every neighbourhood
it re-clusters. A pair holds at most one constraint: the latest decision replaces an
earlier one.

The operations keep the constraints consistent: no cannot-link pair is ever joined by
a chain of must-links (a merge drops the cannot-links between the two golden records;
an unmerge drops the must-links across the cut), so every must-link can be honoured.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

import duckdb
import pyarrow as pa

Key = tuple[str, str]
Pair = tuple[Key, Key]  # (left, right) with left < right

KINDS = ("must", "cannot")
ORIGINS = ("merge", "unmerge", "decision")

#: Probability given to a must-link edge: above every score, so clustering adds must-links
#: before any scored link.
MUST_LINK_PROBABILITY = 2.0


def ordered(a: Key, b: Key) -> Pair:
    """The pair in its stored order (left < right)."""
    return (a, b) if a <= b else (b, a)


@dataclass(frozen=True)
class Constraint:
    """One constraint: what, why (the operation that made it), who, when, a note."""

    kind: str  # must | cannot
    origin: str  # merge | unmerge | decision
    set_by: str
    set_at: datetime
    reason: str | None = None

    def row(self) -> tuple[str, str, str, datetime, str | None]:
        return (self.kind, self.origin, self.set_by, self.set_at, self.reason)


class Constraints:
    """The constraints in memory: each record's must-link and cannot-link partners."""

    def __init__(self) -> None:
        self.kinds: dict[Pair, str] = {}
        self.partners: dict[str, dict[Key, set[Key]]] = {kind: {} for kind in KINDS}

    @classmethod
    def load(cls, con: duckdb.DuckDBPyConnection) -> Constraints:
        found = cls()
        for sl, rl, sr, rr, kind in con.execute(
            "SELECT source_l, record_id_l, source_r, record_id_r, kind FROM link_constraints"
        ).fetchall():
            found.set(((sl, rl), (sr, rr)), kind)
        return found

    def set(self, pair: Pair, kind: str | None) -> None:
        """Give ``pair`` the constraint ``kind`` (None: none)."""
        left, right = pair
        old = self.kinds.pop(pair, None)
        if old is not None:
            for a, b in ((left, right), (right, left)):
                held = self.partners[old].get(a)
                if held is not None:
                    held.discard(b)
                    if not held:
                        del self.partners[old][a]
        if kind is not None:
            self.kinds[pair] = kind
            self.partners[kind].setdefault(left, set()).add(right)
            self.partners[kind].setdefault(right, set()).add(left)

    def apply(self, changes: Mapping[Pair, Constraint | None]) -> dict[Pair, str | None]:
        """Apply constraint changes; returns what undoes them (pair -> previous kind)."""
        undo = {pair: self.kinds.get(pair) for pair in changes}
        for pair, constraint in changes.items():
            self.set(pair, constraint.kind if constraint is not None else None)
        return undo

    def restore(self, undo: Mapping[Pair, str | None]) -> None:
        for pair, kind in undo.items():
            self.set(pair, kind)

    # (builtins.set: in this class, "set" is the method above)
    def of(self, key: Key, kind: str) -> builtins.set[Key]:
        """The records ``key`` has a ``kind`` constraint with."""
        return self.partners[kind].get(key, set())

    def within(self, keys: Sequence[Key], kind: str) -> list[tuple[int, int]]:
        """The ``kind`` pairs among ``keys``, as index pairs into it."""
        position = {key: i for i, key in enumerate(keys)}
        found = []
        for i, key in enumerate(keys):
            for other in self.partners[kind].get(key, ()):
                j = position.get(other)
                if j is not None and i < j:
                    found.append((i, j))
        return sorted(found)

    def touching(self, keys: Iterable[Key]) -> list[Pair]:
        """Every constrained pair with a record in ``keys``."""
        return sorted(
            {
                ordered(key, other)
                for key in keys
                for kind in KINDS
                for other in self.partners[kind].get(key, ())
            }
        )

    def between(self, first: Iterable[Key], second: Iterable[Key], kind: str) -> list[Pair]:
        """The ``kind`` pairs with one record in ``first`` and the other in ``second``."""
        wanted = set(second)
        return sorted(
            {ordered(a, b) for a in first for b in self.partners[kind].get(a, ()) if b in wanted}
        )


def write_constraints(
    con: duckdb.DuckDBPyConnection, changes: Mapping[Pair, Constraint | None]
) -> None:
    """Write constraint changes (None removes a pair's), in the caller's transaction."""
    if not changes:
        return
    pairs = sorted(changes)
    columns = {
        "source_l": [p[0][0] for p in pairs],
        "record_id_l": [p[0][1] for p in pairs],
        "source_r": [p[1][0] for p in pairs],
        "record_id_r": [p[1][1] for p in pairs],
    }
    frame = pa.table({name: pa.array(values, pa.string()) for name, values in columns.items()})
    con.register("_changed_constraints", frame)
    try:
        con.execute(
            "DELETE FROM link_constraints USING _changed_constraints c WHERE "
            "link_constraints.source_l = c.source_l AND link_constraints.record_id_l = "
            "c.record_id_l AND link_constraints.source_r = c.source_r AND "
            "link_constraints.record_id_r = c.record_id_r"
        ).fetchall()
    finally:
        con.unregister("_changed_constraints")
    rows = [(*p[0], *p[1], *c.row()) for p in pairs if (c := changes[p]) is not None]
    if rows:
        con.executemany("INSERT INTO link_constraints VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)


def constraint_edges(con: duckdb.DuckDBPyConnection, work: str) -> dict[str, list[tuple[int, int]]]:
    """For a bulk run: the store's constraints between records of table ``work`` (uid,
    source, record_id), as uid pairs by kind. The store is attached as ``store``."""
    rows = con.execute(
        f"SELECT c.kind, l.uid, r.uid FROM store.link_constraints c "
        f"JOIN {work} l ON l.source = c.source_l AND l.record_id = c.record_id_l "
        f"JOIN {work} r ON r.source = c.source_r AND r.record_id = c.record_id_r "
        "ORDER BY 2, 3"
    ).fetchall()
    found: dict[str, list[tuple[int, int]]] = {kind: [] for kind in KINDS}
    for kind, left, right in rows:
        found[kind].append((int(left), int(right)))
    return found

"""Erasure (the right to be forgotten): a person's records removed from every table and
from the bytes of the store file.

:func:`erase` deletes the source records of one golden record (from some sources or
all), with their cross-references, evidence pairs and review tasks, and takes their
names out of the name counts. What is left of the golden record is derived again
(steward overrides still win); if nothing is left, its values, lineage and overrides
go and the id stays, retired, with no values. Golden records retired into it earlier
keep no values either. The event log keeps ids only, as always. Then the store is
compacted: DuckDB's DELETE leaves old bytes in the file, so the whole database is
copied into a fresh file which replaces the old one.

The service must not be running: erasure needs the file to itself.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import duckdb

from mdm.clock import utcnow
from mdm.errors import InputError, NotFoundError
from mdm.events import log_event
from mdm.names.store import FREQUENCY_COLUMNS
from mdm.overrides import rederive
from mdm.realtime.changes import count_names
from mdm.rules.survivorship import SurvivorshipRules
from mdm.schema import ATTRIBUTES
from mdm.store import open_store


@dataclass(frozen=True)
class Erased:
    """What an erasure removed."""

    golden_id: str
    records: list[tuple[str, str]]
    golden_remains: bool

    def message(self) -> str:
        what = ", ".join(f"{s}/{r}" for s, r in self.records)
        after = (
            "the golden record was derived again from what is left"
            if self.golden_remains
            else "no records are left: the golden record keeps its id and no values"
        )
        return f"erased {len(self.records)} record(s) ({what}); {after}; the store is compacted"


def erase(
    db: Path,
    golden_id: str,
    rules: SurvivorshipRules,
    actor: str,
    sources: list[str] | None = None,
) -> Erased:
    """Erase the records of the person ``golden_id`` (from ``sources``, or all), then
    compact the store file."""
    if not actor.strip():
        raise InputError("say who erases (e.g. --by 'dpo'); erasures are attributed")
    con = open_store(db, create=False)
    try:
        con.execute("BEGIN TRANSACTION").fetchall()
        try:
            found = _erase(con, golden_id, rules, actor, sources)
            con.execute("COMMIT").fetchall()
        except BaseException:
            con.execute("ROLLBACK").fetchall()
            raise
        _compact(con, db)
    finally:
        con.close()
    _replace(db)
    return found


def _erase(
    con: duckdb.DuckDBPyConnection,
    golden_id: str,
    rules: SurvivorshipRules,
    actor: str,
    sources: list[str] | None,
) -> Erased:
    status = con.execute("SELECT status FROM golden WHERE golden_id = ?", [golden_id]).fetchall()
    if not status:
        raise NotFoundError(f"no golden record {golden_id}")
    where = "x.golden_id = ?" + (" AND r.source IN (SELECT unnest(?))" if sources else "")
    params: list = [golden_id] + ([sources] if sources else [])
    names = ", ".join(f"r.{c}" for c in FREQUENCY_COLUMNS.values())
    rows = con.execute(
        f"SELECT r.source, r.record_id, {names} FROM records r JOIN xref x "
        f"USING (source, record_id) WHERE {where} ORDER BY 1, 2",
        params,
    ).fetchall()
    if not rows:
        scope = f" from {', '.join(sources)}" if sources else ""
        raise NotFoundError(f"golden record {golden_id} has no source records{scope} to erase")
    keys = [(row[0], row[1]) for row in rows]
    steps: dict[tuple[str, str], int] = {}
    for row in rows:
        for kind, name in zip(FREQUENCY_COLUMNS, row[2:], strict=True):
            if name is not None:
                steps[(kind, name)] = steps.get((kind, name), 0) - 1
    count_names(con, steps)
    con.execute("CREATE OR REPLACE TEMP TABLE erased_keys (source VARCHAR, record_id VARCHAR)")
    con.executemany("INSERT INTO erased_keys VALUES (?, ?)", [list(k) for k in keys])
    for table, side in [("records", ""), ("xref", ""), ("pairs", "_l"), ("pairs", "_r"),
                        ("review_tasks", "_l"), ("review_tasks", "_r")]:  # fmt: skip
        con.execute(
            f"DELETE FROM {table} USING erased_keys k WHERE {table}.source{side} = k.source "
            f"AND {table}.record_id{side} = k.record_id"
        ).fetchall()
    now = utcnow()
    remains = con.execute("SELECT count(*) FROM xref WHERE golden_id = ?", [golden_id]).fetchall()
    # Golden records retired into this one hold copies of the person's values.
    retired = [
        row[0]
        for row in con.execute(
            "WITH RECURSIVE chain(id) AS (SELECT ? UNION SELECT g.golden_id FROM golden g "
            "JOIN chain c ON g.survivor_id = c.id WHERE g.status <> 'active') "
            "SELECT id FROM chain WHERE id <> ?",
            [golden_id, golden_id],
        ).fetchall()
    ]
    emptied = retired + ([] if remains[0][0] else [golden_id])
    if emptied:
        blank = ", ".join(f"{a} = NULL" for a in ATTRIBUTES)
        ids = {"ids": emptied}
        con.execute(
            f"UPDATE golden SET {blank}, extra = NULL, record_count = 0, updated_at = $now "
            "WHERE golden_id IN (SELECT unnest($ids))",
            {**ids, "now": now},
        ).fetchall()
        con.execute("DELETE FROM lineage WHERE golden_id IN (SELECT unnest($ids))", ids).fetchall()
        con.execute(
            "DELETE FROM golden_overrides WHERE golden_id IN (SELECT unnest($ids))", ids
        ).fetchall()
    if remains[0][0]:
        rederive(con, golden_id, rules, now)
    else:
        con.execute(
            "UPDATE golden SET status = 'retired', survivor_id = NULL WHERE golden_id = ?",
            [golden_id],
        ).fetchall()
    for key in keys:
        log_event(con, now, "record_deleted", actor, golden_id, key, {"erasure": True})
    log_event(
        con, now, "person_erased", actor, golden_id,
        detail={"records": len(keys), "sources": sorted({s for s, _ in keys})},
    )  # fmt: skip
    return Erased(golden_id, keys, bool(remains[0][0]))


def _compact(con: duckdb.DuckDBPyConnection, db: Path) -> None:
    """Copy the database into a fresh file beside it (no trace of deleted rows)."""
    fresh = _fresh(db)
    fresh.unlink(missing_ok=True)
    name = con.execute("SELECT current_database()").fetchall()[0][0]
    con.execute(f"ATTACH '{fresh}' AS erasure_copy").fetchall()
    try:
        con.execute(f'COPY FROM DATABASE "{name}" TO erasure_copy').fetchall()
        con.execute("CHECKPOINT erasure_copy").fetchall()
    finally:
        con.execute("DETACH erasure_copy").fetchall()


def _fresh(db: Path) -> Path:
    return db.with_name(db.name + ".compacting")


def _replace(db: Path) -> None:
    """Put the compacted copy in place of the store file (and drop the old log)."""
    os.replace(_fresh(db), db)
    Path(str(db) + ".wal").unlink(missing_ok=True)

"""Erasure (the right to be forgotten): a person's records removed from every table and
from the bytes of the store file.

:func:`erase_records` deletes the source records of one golden record (from some
sources or all) through the real-time engine, as deletes: their cross-references,
evidence pairs and review tasks go, their names leave the name counts, and what is
left is clustered and derived again (steward overrides still win). Then it scrubs
what deletes keep: the values of the golden record if nothing is left of it (the id
stays, retired, with no values) and of the golden records retired into it earlier,
their lineage and overrides, the steward constraints on the erased records and the
notes of decisions about them. The event log keeps ids only, as always.

:func:`compact` then copies the whole database into a fresh file which replaces the
old one: DuckDB's DELETE leaves old bytes in the file. :func:`erase` does both, for a
store no service holds; the service does the same with its own engine
(:func:`erase_in_service`).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb
import numpy as np

from mdm.clock import utcnow
from mdm.errors import InputError, NotFoundError
from mdm.store import connect_store, open_store
from mdm.store.changes import ChangeSet, apply_changes
from mdm.store.compaction import keep_tombstones, tombstone_file
from mdm.store.events import erase_event_values, log_event
from mdm.store.golden import blank_erased
from mdm.store.review import delete_tasks_about
from mdm.store.sealing import read_frame, write_frame
from mdm.tombstones import tombstone

if TYPE_CHECKING:
    from mdm.realtime.engine import Engine
    from mdm.rules.bundle import RulesBundle
    from mdm.store.service import StoreService


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
    rules: RulesBundle,
    actor: str,
    sources: list[str] | None = None,
) -> Erased:
    """Erase the records of the person ``golden_id`` (from ``sources``, or all), then
    compact the store file. No service may hold the store."""
    from mdm.realtime.engine import Engine
    from mdm.store.service import command_service

    if not actor.strip():
        raise InputError("say who erases (e.g. --by 'dpo'); erasures are attributed")
    con = open_store(db, create=False)
    try:
        _keys_to_erase(con, golden_id, sources)  # refused before the engine is built
    finally:
        con.close()

    def engine(con: duckdb.DuckDBPyConnection) -> Engine:
        return Engine(con, rules.survivorship, rules.rules_dir)

    with command_service(db, engine) as service:
        found = erase_in_service(service, golden_id, actor, sources)
    erase_from_job_results(job_folder(db), found.records, [found.golden_id])
    return found


def erase_in_service(
    service: StoreService[Engine], golden_id: str, actor: str, sources: list[str] | None = None
) -> Erased:
    """Erase a person in a running service, decided by its engine in one transaction
    (:meth:`~mdm.store.service.StoreService.steward`), then compact the store file
    while nothing else touches it: the erased values leave its bytes."""
    found = service.steward(
        lambda con, engine: erase_records(con, engine, golden_id, actor, sources)
    )
    keep_tombstones(service.path, found.records)
    service.compact()
    return found


def erase_again(con: duckdb.DuckDBPyConnection, engine: Engine, tombstones: set[str]) -> int:
    """Erase the records of the store open on ``con`` whose tombstones are in
    ``tombstones`` (a restored backup older than an erasure); how many. In the
    caller's transaction."""
    keys = con.execute("SELECT source, record_id, golden_id FROM xref").fetchall()
    back: dict[str, set[tuple[str, str]]] = {}
    for source, record_id, golden_id in keys:
        if tombstone(source, record_id) in tombstones:
            back.setdefault(golden_id, set()).add((source, record_id))
    erased = 0
    for golden_id, only in sorted(back.items()):
        erased += len(erase_records(con, engine, golden_id, "restore", None, only).records)
    return erased


def read_tombstones(db: Path) -> set[str]:
    """Every tombstone known for the store ``db``: the file beside it, and the store's
    own table if the store opens."""
    found = set()
    path = tombstone_file(db)
    if path.exists():
        found |= {line.strip() for line in path.read_text().splitlines() if line.strip()}
    if db.exists():
        try:
            con = connect_store(db, read_only=True)
        except (duckdb.Error, OSError):
            return found  # damaged: why it is being restored
        try:
            found |= {row[0] for row in con.execute("SELECT key_hash FROM erasures").fetchall()}
        except duckdb.Error:
            pass  # a store from before tombstones
        finally:
            con.close()
    return found


def _keys_to_erase(
    con: duckdb.DuckDBPyConnection, golden_id: str, sources: list[str] | None
) -> list[tuple[str, str]]:
    known = con.execute("SELECT status FROM golden WHERE golden_id = ?", [golden_id]).fetchall()
    if not known:
        raise NotFoundError(f"no golden record {golden_id}")
    where = "golden_id = ?" + (" AND source IN (SELECT unnest(?))" if sources else "")
    params: list[object] = [golden_id] + ([sources] if sources else [])
    keys = [
        (s, r)
        for s, r in con.execute(
            f"SELECT source, record_id FROM xref WHERE {where} ORDER BY 1, 2", params
        ).fetchall()
    ]
    if not keys:
        scope = f" from {', '.join(sources)}" if sources else ""
        raise NotFoundError(f"golden record {golden_id} has no source records{scope} to erase")
    return keys


def erase_records(
    con: duckdb.DuckDBPyConnection,
    engine: Engine,
    golden_id: str,
    actor: str,
    sources: list[str] | None = None,
    only: set[tuple[str, str]] | None = None,
) -> Erased:
    """Delete the person's records (``only`` those, if given) and scrub what deletes
    keep (in the caller's transaction; the engine's memory changes with it: on any
    failure other than a refusal, build a new engine). Each erased record leaves a
    tombstone in the ``erasures`` table."""
    if not actor.strip():
        raise InputError("say who erases (e.g. --by 'dpo'); erasures are attributed")
    keys = _keys_to_erase(con, golden_id, sources)
    if only is not None:
        keys = [k for k in keys if k in only]
    # The steward's constraints on the erased records go with them.
    changes = [
        ChangeSet(utcnow(), actor, constraints=dict.fromkeys(engine.constraints.touching(keys)))
    ]
    engine.constraints.apply(changes[0].constraints)
    for key in keys:
        _, change = engine.delete(*key, actor)
        change.events = [
            (kind, gid, s, r, {**detail, "erasure": True} if kind == "record_deleted" else detail)
            for kind, gid, s, r, detail in change.events
        ]
        changes.append(change)
    apply_changes(con, changes)
    now = changes[-1].at
    remains = bool(engine.members.get(golden_id))
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
    erase_event_values(con, keys, [golden_id, *retired])  # the history's old values too
    emptied = retired + ([] if remains else [golden_id])
    if emptied:
        blank_erased(con, emptied, now)
        con.execute(
            "DELETE FROM golden_overrides WHERE golden_id IN (SELECT unnest($ids))",
            {"ids": emptied},
        ).fetchall()
        for gid in emptied:
            engine.overrides.pop(gid, None)
    erased = {"s": [k[0] for k in keys], "r": [k[1] for k in keys]}
    for side in ("l", "r"):
        con.execute(
            f"UPDATE decisions SET note = NULL WHERE (source_{side}, record_id_{side}) IN "
            "(SELECT unnest($s), unnest($r))",
            erased,
        ).fetchall()
    delete_tasks_about(con, keys)
    hashes = [tombstone(s, r) for s, r in keys]
    con.execute(
        "INSERT OR IGNORE INTO erasures SELECT unnest($h), $now", {"h": hashes, "now": now}
    ).fetchall()
    engine.tombstones.update(hashes)
    log_event(
        con, now, "person_erased", actor, golden_id,
        detail={"records": len(keys), "sources": sorted({s for s, _ in keys})},
    )  # fmt: skip
    return Erased(golden_id, keys, remains)


def job_folder(db: Path) -> Path:
    """Where the service keeps its jobs' folders (inputs while they run, results)."""
    return db.with_name(db.name + ".jobs")


def erase_from_job_results(
    folder: Path, records: Iterable[tuple[str, str]], golden_ids: Iterable[str]
) -> int:
    """Rewrite every job result file (``<folder>/<job>/*.parquet``) without the rows of
    ``records`` (source, record_id) and of ``golden_ids``; how many files changed. A
    golden record's row goes whole: it may hold an erased record's values."""
    keys = set(records)
    ids = set(golden_ids)
    rewritten = 0
    for part in sorted(folder.glob("*/*.parquet")):
        frame = read_frame(part)
        gone = np.zeros(len(frame), dtype=bool)
        for column in ("golden_id", "golden_id_l", "golden_id_r"):
            if column in frame:
                gone |= frame[column].isin(ids).to_numpy()
        for source, record_id in (("source", "record_id"), ("source_l", "record_id_l"),
                                  ("source_r", "record_id_r")):  # fmt: skip
            if source in frame and record_id in frame:
                found = zip(frame[source], frame[record_id], strict=True)
                gone |= np.fromiter((pair in keys for pair in found), bool, len(frame))
        if gone.any():
            staged = part.with_name(part.name + ".partial")
            write_frame(frame[~gone], staged)
            os.replace(staged, part)
            rewritten += 1
    return rewritten

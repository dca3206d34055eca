"""Bulk reconciliation: source files in, golden records and cross-references out.

The run reads and checks every source before it touches the store, does its work in
an in-memory DuckDB, and writes the results to the store in one transaction, so a
failure leaves the store as it was.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import duckdb

from mdm.bulk.ingest import (
    SourceSpec,
    SourceSummary,
)
from mdm.bulk.link import _link, number_work_tables
from mdm.bulk.load import (
    active_pairs_in_store,
    add_extra_columns_sql,
    load_sources,
)
from mdm.bulk.spark import Backend
from mdm.bulk.write import write_run
from mdm.linkage.model import (
    TrainedModel,
)
from mdm.names.reference import build_variant_groups
from mdm.placeholders import blank_placeholders_sql
from mdm.progress import Detail, Progress, SilentProgress
from mdm.rules.bundle import RulesBundle
from mdm.rules.match import fit_rules_to_data
from mdm.schema import RECORD_COLUMNS
from mdm.sql import present_columns
from mdm.store import attach_store
from mdm.store.reads import load_model
from mdm.threshold import ThresholdChoice

#: DuckDB's working-memory limit while a run reads its sources; beyond it, intermediate
#: results spill to disk. ``MDM_DUCKDB_MEMORY_LIMIT`` sets it (and every stage's).
DUCKDB_MEMORY_LIMIT = os.environ.get("MDM_DUCKDB_MEMORY_LIMIT", "1.5GB")
#: Scoring a large run goes three times faster with room for its joins (10M records:
#: 544 s a slice set at 6 GB against 1,609 s at 1.5 GB): the scoring stages get this
#: much more per record, up to :data:`MACHINE_SHARE` of the machine's memory.
SCORING_BYTES_PER_RECORD = 300
#: The most of the machine's memory (or its container's limit) DuckDB is given for
#: scoring: the run's own arrays, the worker processes and the OS need the rest.
MACHINE_SHARE = 0.25
#: What writing the store needs on top, per record: its primary-key indexes cannot spill
#: to disk (the 10M run ran out of memory writing the cross-reference at 1.5 GB, then
#: the golden records at 4.0 GB with 300 bytes a record, when the store's tables were
#: written row by row into the old ones). 1,000 bytes kept the 10M run's write stage at
#: 12.9 GiB, over the 12 GiB target; it wrote in full at 7.0 GB (550 bytes a record).
WRITE_BYTES_PER_RECORD = 550


def machine_memory() -> int:
    """Bytes of memory this process may use: the machine's, or its container's limit
    (cgroup v2 ``memory.max``, v1 ``memory.limit_in_bytes``) when lower."""
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    for limit in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            text = Path(limit).read_text().strip()
        except OSError:
            continue
        if text.isdigit():
            total = min(total, int(text))
    return total


def scoring_memory_limit(records: int, machine: int | None = None) -> str:
    """DuckDB's limit while a run of ``records`` trains and scores: the run's limit
    plus :data:`SCORING_BYTES_PER_RECORD` a record, at most :data:`MACHINE_SHARE` of
    the machine's memory (never below the run's limit). A limit set in
    ``MDM_DUCKDB_MEMORY_LIMIT`` is kept as it is."""
    base = _megabytes(DUCKDB_MEMORY_LIMIT)
    if "MDM_DUCKDB_MEMORY_LIMIT" in os.environ:
        return f"{base}MB"
    cap = int((machine if machine is not None else machine_memory()) * MACHINE_SHARE) // 2**20
    wanted = base + records * SCORING_BYTES_PER_RECORD // 2**20
    return f"{max(base, min(wanted, cap))}MB"


def write_memory_limit(records: int) -> str:
    """The memory limit for the write stage: the run's limit plus the store's indexes."""
    extra_mb = records * WRITE_BYTES_PER_RECORD // 2**20
    return f"{_megabytes(DUCKDB_MEMORY_LIMIT) + extra_mb}MB"


def _megabytes(limit: str) -> int:
    text = limit.strip().upper().replace("IB", "B")
    for unit, factor in (("TB", 2**20), ("GB", 2**10), ("MB", 1), ("KB", 2**-10)):
        if text.endswith(unit):
            return int(float(text[: -len(unit)]) * factor)
    return int(float(text) / 2**20)  # bytes


@dataclass
class ReconcileResult:
    """What a reconciliation run did, for the CLI and the API to show."""

    run_id: int
    db: Path
    records: int
    sources: list[SourceSummary]
    golden_records: int
    multi_record_golden: int
    review_tasks: int
    candidate_pairs: int
    link_threshold: float
    review_threshold: float
    model_id: str
    model_trained: bool
    placeholders: dict[str, int]
    seconds: dict[str, float] = field(default_factory=dict)
    #: The model's prior and how it was estimated (see :mod:`mdm.linkage.prior`).
    prior: dict[str, object] = field(default_factory=dict)
    #: How the link threshold was chosen (see :mod:`mdm.threshold`).
    threshold: dict[str, object] = field(default_factory=dict)
    #: What the run says about its prior and threshold, a sentence each.
    notes: list[str] = field(default_factory=list)


def reconcile(
    specs: Sequence[SourceSpec],
    db: Path,
    rules: RulesBundle,
    *,
    retrain: bool = False,
    progress: Progress | None = None,
    backend: Backend | None = None,
) -> ReconcileResult:
    """Reconcile the given sources with everything already in the store at ``db``.

    ``backend`` says where candidate pairs are scored (DuckDB in process by default, or
    Spark); everything else runs here either way.
    """
    progress = progress or SilentProgress()
    backend = backend or Backend()
    seconds: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        seconds[name] = round(now - clock, 2)
        clock = now

    con = None
    spill = tempfile.TemporaryDirectory(prefix="mdm-run-")
    new_store = not db.exists()
    try:
        # The run's tables live in a DuckDB file of their own (its catalog is "memory"):
        # past the memory limit they stay on disk, so memory does not grow with the run.
        con = duckdb.connect(str(Path(spill.name) / "memory.duckdb"))
        con.execute("SET enable_progress_bar = false").fetchall()
        con.execute(f"SET memory_limit = '{DUCKDB_MEMORY_LIMIT}'").fetchall()
        con.execute("SET temp_directory = ?", [spill.name]).fetchall()
        attach_store(con, db)
        groups = build_variant_groups(active_pairs_in_store(con))
        columns = ", ".join([*RECORD_COLUMNS, "extra", "raw"])
        con.execute(
            f"CREATE TEMP TABLE incoming AS SELECT {columns} FROM store.records LIMIT 0"
        ).fetchall()
        progress.stage("read", f"{len(specs)} source(s)")
        seconds.update(read=0.0, standardise=0.0)
        summaries = load_sources(
            con, specs, rules.rules_dir, groups, "temp.incoming", seconds, progress
        )
        seconds.update(read=round(seconds["read"], 2), standardise=round(seconds["standardise"], 2))
        standardised = sum(s.records for s in summaries)
        progress.stage("standardise", Detail(f"{standardised} records", records=standardised))
        suppressed = _suppress_erased(con)
        clock = time.perf_counter()
        progress.stage("prepare", "loading the store and blocking keys")
        con.execute(
            f"INSERT INTO temp.incoming BY NAME SELECT {columns} FROM store.records "
            "WHERE NOT list_contains(?, source)",
            [[s.name for s in summaries]],
        ).fetchall()
        placeholders = blank_placeholders_sql(con, "temp.incoming")
        add_extra_columns_sql(con, "temp.incoming", rules.match.extra_columns)
        present = present_columns(con, "temp.incoming")
        rules = replace(rules, match=fit_rules_to_data(rules.match, present))
        model = None if retrain else load_model(con, rules.match.fingerprint())
        # Numbering and keying the records joins and sorts them all: the scoring limit.
        incoming = int(con.execute("SELECT count(*) FROM temp.incoming").fetchall()[0][0])
        con.execute(f"SET memory_limit = '{scoring_memory_limit(incoming)}'").fetchall()
        records = number_work_tables(con, "temp.incoming", rules.match)
        lap("prepare")
        output = _link(con, records, rules, model, progress, lap, backend)
        progress.stage("write", f"{output.golden_count} golden records")
        con.execute(f"SET memory_limit = '{write_memory_limit(records)}'").fetchall()
        run_id = write_run(con, output, rules, summaries, placeholders, seconds)
        lap("write")
    except BaseException:
        if new_store:  # a failed first run leaves no store behind
            if con is not None:
                con.close()
            for leftover in (db, db.with_name(db.name + ".wal")):
                leftover.unlink(missing_ok=True)
        raise
    finally:
        if con is not None:
            con.close()
        spill.cleanup()
    return ReconcileResult(
        run_id=run_id,
        db=db,
        records=records,
        sources=summaries,
        golden_records=output.golden_count,
        multi_record_golden=output.multi_record_golden,
        review_tasks=output.review_tasks,
        candidate_pairs=output.candidate_pairs,
        link_threshold=output.link_threshold,
        review_threshold=output.review_threshold,
        model_id=output.model.model_id,
        model_trained=output.model_trained,
        placeholders=placeholders,
        seconds=seconds,
        prior=output.model.training.get("prior", {}),
        threshold=output.threshold.as_dict() if output.threshold else {},
        notes=run_notes(output.model, output.model_trained, output.threshold)
        + (
            [
                f"{suppressed} record(s) left out: they were erased (mdm erase), and an erased "
                "record is not taken again"
            ]
            if suppressed
            else []
        ),  # fmt: skip
    )


def _suppress_erased(con: duckdb.DuckDBPyConnection) -> int:
    """Drop from ``temp.incoming`` the records erased before (their tombstones are in
    the store): a source extract that still holds an erased person does not bring them
    back. How many."""
    gone = con.execute(
        "DELETE FROM temp.incoming WHERE sha256(source || chr(31) || record_id) IN "
        "(SELECT key_hash FROM store.erasures) RETURNING 1"
    ).fetchall()
    return len(gone)


def run_notes(model: TrainedModel, trained: bool, threshold: ThresholdChoice | None) -> list[str]:
    """What a run says about its prior and its link threshold."""
    prior = model.training.get("prior", {})
    how = prior.get("reason", "the deterministic rules' estimate")
    notes = [f"prior {model.prior:.3g}{'' if trained else ' (model reused)'}: {how}"]
    if threshold is not None:
        notes += [f"link threshold: {note}" for note in threshold.notes]
    return notes

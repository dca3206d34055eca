"""Reading the store's records and models, and writing a run in one transaction.

Why one module of this size: ``write_run`` writes every table of a bulk run in one
transaction, in an order the tables' dependencies fix; its steps are kept beside it,
but for golden records and lineage (:mod:`mdm.store.golden`, the one place they are
written).
(Planned: the run's writer moves to ``mdm/bulk/write.py`` over per-table modules.)
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import duckdb
import numpy as np
import pandas as pd

from mdm.clock import utcnow as _now
from mdm.errors import StoreError
from mdm.golden import assign_golden_ids, survivors_of_retired
from mdm.linkage.model import TrainedModel
from mdm.names.store import learn_from_links, refresh_frequencies
from mdm.schema import RECORD_COLUMNS
from mdm.sql import one
from mdm.store.golden import LINEAGE_INDEX, retire_bulk, write_bulk_golden
from mdm.store.rows import next_id
from mdm.store.transaction import transaction

if TYPE_CHECKING:
    from mdm.ingest import SourceSummary
    from mdm.rules.bundle import RulesBundle


@dataclass
class RunOutput:
    """What linkage produced for a run, before it is written."""

    labels: np.ndarray  # cluster label per work row (uid)
    #: Open review tasks: before writing, pairs of records in the review band whose
    #: records are in different clusters; once written, the tasks opened (one per pair
    #: of golden records a steward has not decided).
    review_tasks: int
    link_threshold: float
    review_threshold: float
    model: TrainedModel
    model_trained: bool
    candidate_pairs: int
    golden_count: int
    multi_record_golden: int
    #: How the link threshold was chosen (a :class:`mdm.threshold.ThresholdChoice`).
    threshold: Any = None

    @classmethod
    def build(
        cls,
        left: np.ndarray,
        right: np.ndarray,
        probability: np.ndarray,
        labels: np.ndarray,
        link: float,
        review: float,
        model: TrainedModel,
        trained: bool,
    ) -> RunOutput:
        """From the scored pairs (uid_l, uid_r and match probability, as arrays) and the
        cluster labels; the pairs themselves stay in the run's ``scored`` table."""
        in_band = (probability >= review) & (probability < link)
        apart = labels[left] != labels[right]
        sizes = np.bincount(labels)
        return cls(
            labels=labels,
            review_tasks=int((in_band & apart).sum()),
            link_threshold=link,
            review_threshold=review,
            model=model,
            model_trained=trained,
            candidate_pairs=len(left),
            golden_count=int(len(sizes)),
            multi_record_golden=int((sizes > 1).sum()),
        )


def load_records(con: duckdb.DuckDBPyConnection, exclude_sources: list[str]) -> pd.DataFrame:
    """Stored records of every source not being reloaded, in the shape ingest makes."""
    columns = ", ".join([*RECORD_COLUMNS, "extra", "raw"])
    return con.execute(
        f"SELECT {columns} FROM store.records WHERE NOT list_contains(?, source)",
        [exclude_sources],
    ).df()


def load_model(con: duckdb.DuckDBPyConnection, fingerprint: str) -> TrainedModel | None:
    """The newest stored model trained from rules with this fingerprint, if any."""
    row = one(
        con.execute(
            "SELECT model FROM store.models WHERE rules_fingerprint = ? "
            "ORDER BY created_at DESC LIMIT 1",
            [fingerprint],
        )
    )
    return TrainedModel.from_json(row[0]) if row else None


def latest_model(con: duckdb.DuckDBPyConnection) -> TrainedModel:
    """The model the store's last run used."""
    row = one(
        con.execute(
            "SELECT m.model FROM runs r JOIN models m USING (model_id) "
            "ORDER BY r.run_id DESC LIMIT 1"
        )
    )
    if row is None:
        raise StoreError("the store holds no model yet; run 'mdm reconcile' first")
    return TrainedModel.from_json(row[0])


def write_run(
    con: duckdb.DuckDBPyConnection,
    output: RunOutput,
    rules: RulesBundle,
    summaries: list[SourceSummary],
    placeholders: dict[str, int],
    seconds: dict[str, float] | None = None,
) -> int:
    """Write records, clusters, golden records, lineage and review tasks atomically.

    ``con`` holds the run's tables (``memory.work``, ``memory.scored``) and has the
    store attached as ``store``; everything is written in one transaction.
    """
    now = _now()
    golden_of = _golden_ids(con, output)
    con.register("run_golden", golden_of)
    con.execute("USE store")
    try:
        with transaction(con):
            run_id = next_id(con, "runs", "run_id")
            con.execute(
                "INSERT INTO runs VALUES (?, 'reconcile', ?, NULL, ?, ?, ?, ?, NULL)",
                [
                    run_id,
                    now,
                    rules.match.fingerprint(),
                    output.model.model_id,
                    output.link_threshold,
                    output.review_threshold,
                ],
            )
            if output.model_trained:
                con.execute(
                    "INSERT INTO models VALUES (?, ?, ?, ?)",
                    [
                        output.model.model_id,
                        output.model.rules_fingerprint,
                        now,
                        output.model.to_json(),
                    ],
                )
            timer = _Timer(seconds)
            _write_records(con, run_id, now)
            timer.lap("write.records")
            _write_clusters(con, golden_of, run_id, now)
            timer.lap("write.xref")
            write_bulk_golden(con, rules, run_id, now)
            timer.lap("write.golden")
            _write_review(con, output, run_id, now)
            refresh_frequencies(con, "memory.name_counts")
            _score_on_customers(con, output.model)
            learned = _learn_names(con, rules, run_id)
            timer.lap("write.pairs")
            report = {
                "learned_names": learned,
                "sources": [asdict(s) for s in summaries],
                "placeholders": placeholders,
                "candidate_pairs": output.candidate_pairs,
                "prior": output.model.training.get("prior", {}),
                "threshold": output.threshold.as_dict() if output.threshold is not None else {},
            }
            for summary in summaries:
                con.execute(
                    "INSERT INTO source_reports VALUES (?, ?, ?, ?, ?)",
                    [
                        run_id,
                        summary.name,
                        summary.path,
                        summary.records,
                        json.dumps(asdict(summary)),
                    ],
                )
            con.execute(
                "UPDATE runs SET finished_at = ?, report = ? WHERE run_id = ?",
                [_now(), json.dumps(report), run_id],
            )
        timer.lap("write.commit")
    finally:
        con.execute("USE memory")
        con.unregister("run_golden")
    return run_id


class _Timer:
    """Records how long each step took into ``seconds`` (when given)."""

    def __init__(self, seconds: dict[str, float] | None) -> None:
        self.seconds = seconds
        self.clock = time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        if self.seconds is not None:
            self.seconds[name] = round(now - self.clock, 2)
        self.clock = now


def _golden_ids(con: duckdb.DuckDBPyConnection, output: RunOutput) -> pd.DataFrame:
    """uid -> golden id, keeping the ids people already have (see golden.py)."""
    members = con.execute("SELECT uid, source, record_id FROM memory.work ORDER BY uid").df()
    members["cluster"] = output.labels[members["uid"].to_numpy()]
    previous = con.execute("SELECT source, record_id, golden_id FROM store.xref").df()
    created = dict(
        con.execute("SELECT golden_id, created_at::VARCHAR FROM store.golden").fetchall()
    )
    assigned = assign_golden_ids(members, previous, created)
    retired = survivors_of_retired(members, previous, assigned)
    golden_of = pd.DataFrame(
        {
            "uid": members["uid"].to_numpy(),
            "golden_id": assigned.reindex(members["cluster"].to_numpy()).to_numpy(),
        }
    )
    golden_of.attrs["retired"] = retired
    return golden_of


def _write_records(con: duckdb.DuckDBPyConnection, run_id: int, now: datetime) -> None:
    columns = [*RECORD_COLUMNS, "extra", "raw"]
    names = ", ".join(columns)
    selected = ", ".join(f"n.{c}" for c in columns)
    con.execute(
        "CREATE OR REPLACE TEMP TABLE previous_versions AS SELECT source, record_id, version, "
        "raw::VARCHAR AS raw, run_id AS first_run, ingested_at FROM records"
    )
    same = "p.raw IS NOT DISTINCT FROM n.raw"
    con.execute("DELETE FROM records")
    con.execute(
        f"INSERT INTO records ({names}, version, run_id, ingested_at) "
        f"SELECT {selected}, "
        f"CASE WHEN p.version IS NULL THEN 1 WHEN {same} THEN p.version ELSE p.version + 1 END, "
        f"CASE WHEN {same} THEN p.first_run ELSE ? END, "
        f"CASE WHEN {same} THEN p.ingested_at ELSE ? END "
        "FROM (SELECT * FROM memory.work JOIN memory.payload USING (uid)) n "
        "LEFT JOIN previous_versions p USING (source, record_id)",
        [run_id, now],
    )


def _write_clusters(
    con: duckdb.DuckDBPyConnection, golden_of: pd.DataFrame, run_id: int, now: datetime
) -> None:
    con.execute(
        "CREATE OR REPLACE TEMP TABLE xref_before AS SELECT source, record_id, golden_id FROM xref"
    )
    con.execute(f"DROP INDEX IF EXISTS {XREF_INDEX}")  # rewriting is faster without it
    con.execute("DELETE FROM xref")
    con.execute(
        "INSERT INTO xref SELECT w.source, w.record_id, g.golden_id, ? "
        "FROM memory.work w JOIN run_golden g USING (uid)",
        [run_id],
    )
    _log_record_changes(con, run_id, now)
    retire_bulk(con, golden_of.attrs["retired"], run_id, now)


def _log_record_changes(con: duckdb.DuckDBPyConnection, run_id: int, now: datetime) -> None:
    """An event for every source record the run added, updated, deleted or moved to
    another golden record (``record_linked``, from which id), so that the event log
    alone tells each record's golden record at any time."""
    event_id = next_id(con, "events", "event_id")
    con.execute(
        "INSERT INTO events SELECT ? + row_number() OVER (ORDER BY source, record_id, kind) - 1, "
        "?, kind, golden_id, source, record_id, 'system', detail FROM ("
        "SELECT n.source, n.record_id, n.golden_id, 'record_added' AS kind, "
        "json_object('version', 1, 'run_id', ?) AS detail FROM xref n "
        "ANTI JOIN xref_before o USING (source, record_id) "
        "UNION ALL SELECT o.source, o.record_id, o.golden_id, 'record_deleted', "
        "json_object('run_id', ?) FROM xref_before o ANTI JOIN xref n USING (source, record_id) "
        "UNION ALL SELECT n.source, n.record_id, n.golden_id, 'record_linked', "
        "json_object('from', o.golden_id, 'run_id', ?) FROM xref n JOIN xref_before o "
        "USING (source, record_id) WHERE n.golden_id <> o.golden_id "
        "UNION ALL SELECT r.source, r.record_id, x.golden_id, 'record_updated', "
        "json_object('version', r.version, 'run_id', ?) FROM records r "
        "JOIN previous_versions p USING (source, record_id) JOIN xref x USING (source, record_id) "
        "WHERE r.version <> p.version)",
        [event_id, now, run_id, run_id, run_id, run_id],
    )
    con.execute("DROP TABLE IF EXISTS xref_before")


#: The indexes the real-time service keeps (a golden record's source records and lineage
#: by golden id, :data:`mdm.store.golden.LINEAGE_INDEX`); bulk rewrites of those tables
#: drop them, and the service makes them again.
XREF_INDEX = "xref_golden"


def index_for_service(con: duckdb.DuckDBPyConnection) -> None:
    """Index lineage and cross-references by golden id, so that re-deriving or showing one
    golden record does not scan every one's (the real-time service does this at start-up)."""
    con.execute(f"CREATE INDEX IF NOT EXISTS {LINEAGE_INDEX} ON lineage (golden_id)").fetchall()
    con.execute(f"CREATE INDEX IF NOT EXISTS {XREF_INDEX} ON xref (golden_id)").fetchall()


def _score_on_customers(con: duckdb.DuckDBPyConnection, model: TrainedModel) -> int:
    """The open tasks scored with what their customers know (:mod:`mdm.store.tasks`),
    with the frequencies just written."""
    from mdm.linkage.frequencies import live_term_frequencies
    from mdm.linkage.scorer import Scorer
    from mdm.store.tasks import score_tasks_on_customers

    scorer = Scorer(model, live_term_frequencies(con, model.tf_columns))
    return score_tasks_on_customers(con, scorer)


def _learn_names(con: duckdb.DuckDBPyConnection, rules: RulesBundle, run_id: int) -> dict[str, int]:
    """Name pairs confirmed by this run's confident links (see mdm.names.store)."""
    learning = rules.match.learning
    columns = {c[0] for c in con.execute("DESCRIBE memory.work").fetchall()}
    needed = {"first_name", "middle_name", "last_name", "first_name_variants"}
    if not learning.enabled or not needed <= columns:
        return {"confirmed": 0, "active": 0}
    pairs = (
        "SELECT l.first_name AS first_l, r.first_name AS first_r, l.middle_name AS middle_l, "
        "r.middle_name AS middle_r, l.last_name AS last_l, r.last_name AS last_r, "
        "l.first_name_variants AS variants_l, r.first_name_variants AS variants_r, "
        "gl.golden_id FROM memory.scored s "
        "JOIN memory.work l ON l.uid = s.uid_l JOIN memory.work r ON r.uid = s.uid_r "
        "JOIN run_golden gl ON gl.uid = s.uid_l JOIN run_golden gr ON gr.uid = s.uid_r "
        f"WHERE s.match_probability >= {learning.min_probability} "
        "AND gl.golden_id = gr.golden_id"
    )
    return learn_from_links(con, pairs, run_id, learning.confirmations, learning.max_similarity)


def _write_review(
    con: duckdb.DuckDBPyConnection, output: RunOutput, run_id: int, now: datetime
) -> None:
    pair = (
        "SELECT l.source AS source_l, l.record_id AS record_id_l, r.source AS source_r, "
        "r.record_id AS record_id_r, gl.golden_id AS golden_id_l, gr.golden_id AS golden_id_r, "
        "s.match_weight, s.match_probability FROM memory.scored s "
        "JOIN memory.work l ON l.uid = s.uid_l JOIN memory.work r ON r.uid = s.uid_r "
        "JOIN run_golden gl ON gl.uid = s.uid_l JOIN run_golden gr ON gr.uid = s.uid_r "
        "WHERE s.match_probability >= ?"
    )
    con.execute("DELETE FROM review_tasks WHERE status = 'open'")
    start = next_id(con, "review_tasks", "task_id")
    con.execute(
        # Pairs of golden records a steward decided about (a constraint between any two of
        # their records) are not asked again.
        "INSERT INTO review_tasks WITH decided AS (SELECT DISTINCT "
        "least(a.golden_id, z.golden_id) AS g1, "
        "greatest(a.golden_id, z.golden_id) AS g2 FROM link_constraints c "
        "JOIN xref a ON a.source = c.source_l AND a.record_id = c.record_id_l "
        "JOIN xref z ON z.source = c.source_r AND z.record_id = c.record_id_r), "
        # One task per pair of golden records: its most probable pair of records (the
        # others stay in ``pairs`` as its supporting pairs).
        f"best AS (SELECT * FROM ({pair}) p WHERE match_probability < ? "
        "AND golden_id_l <> golden_id_r QUALIFY row_number() OVER (PARTITION BY "
        "least(golden_id_l, golden_id_r), greatest(golden_id_l, golden_id_r) ORDER BY "
        "match_probability DESC, source_l, record_id_l, source_r, record_id_r) = 1) "
        "SELECT ? + row_number() OVER (ORDER BY match_probability DESC, "
        "source_l, record_id_l, source_r, record_id_r) - 1, source_l, record_id_l, source_r, "
        "record_id_r, golden_id_l, golden_id_r, match_weight, match_probability, 'open', ?, ?, "
        "'records' "
        "FROM best b WHERE NOT EXISTS (SELECT 1 FROM decided d WHERE "
        "d.g1 = least(b.golden_id_l, b.golden_id_r) AND d.g2 = greatest(b.golden_id_l, "
        "b.golden_id_r))",
        [output.review_threshold, output.link_threshold, start, now, run_id],
    )
    opened = one(con.execute("SELECT count(*) FROM review_tasks WHERE status = 'open'"))
    output.review_tasks = int(opened[0]) if opened else 0
    con.execute("DELETE FROM pairs")
    con.execute(
        "INSERT INTO pairs SELECT source_l, record_id_l, source_r, record_id_r, match_weight, "
        f"match_probability, ? FROM ({pair})",
        [run_id, output.review_threshold],
    )

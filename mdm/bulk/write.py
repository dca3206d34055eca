"""A bulk run written into the store: every table in one transaction.

:func:`write_run` writes in the order the tables' dependencies fix, each table family
through its module of :mod:`mdm.store` (the one place it is written): the records and
their cross-references (:mod:`mdm.store.records`, with their events), the golden records
retired and derived again with their lineage (:mod:`mdm.store.golden`), the review
tasks and evidence pairs (:mod:`mdm.store.review`), the name frequencies and the name
pairs the run's links confirm (:mod:`mdm.store.names`), and the open tasks scored on
their customers (:mod:`mdm.store.tasks`). The run itself is written here: its ``runs``
row, the model it trained and a report per source.

What it reads is the run's work in the connection's in-memory catalog (``memory.work``,
``memory.payload``, ``memory.scored``, ``memory.name_counts``: :mod:`mdm.bulk.link`),
with the store attached as ``store``; the golden id of each record is the view
``run_golden`` (uid, golden_id) while it writes.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict
from typing import TYPE_CHECKING

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

from mdm.clock import utcnow as _now
from mdm.golden import derivation_fingerprint, new_golden_id
from mdm.sql import one
from mdm.store.golden import retire_bulk, write_bulk_golden
from mdm.store.names import learn_from_links, refresh_frequencies
from mdm.store.records import write_bulk_records, write_bulk_xref
from mdm.store.review import open_bulk_tasks, write_bulk_pairs
from mdm.store.rows import next_id
from mdm.store.transaction import transaction

if TYPE_CHECKING:
    from mdm.bulk.ingest import SourceSummary
    from mdm.bulk.link import RunOutput
    from mdm.linkage.model import TrainedModel
    from mdm.rules.bundle import RulesBundle


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
    derivation = derivation_fingerprint(rules.survivorship)
    retired = _golden_ids(con, output)
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
            write_bulk_records(con, run_id, now)
            timer.lap("write.records")
            write_bulk_xref(con, run_id, now)
            retire_bulk(con, retired, run_id, now)
            timer.lap("write.xref")
            write_bulk_golden(con, rules, run_id, now, _previous_derivation(con, run_id))
            timer.lap("write.golden")
            output.review_tasks = open_bulk_tasks(
                con, output.review_threshold, output.link_threshold, run_id, now
            )
            timer.lap("write.tasks")
            write_bulk_pairs(con, output.review_threshold, run_id)
            timer.lap("write.pairs")
            refresh_frequencies(con, "memory.name_counts")
            _score_on_customers(con, output.model)
            timer.lap("write.customers")
            learned = _learn_names(con, rules, run_id)
            timer.lap("write.names")
            report = {
                "learned_names": learned,
                "sources": [asdict(s) for s in summaries],
                "placeholders": placeholders,
                "candidate_pairs": output.candidate_pairs,
                "prior": output.model.training.get("prior", {}),
                "threshold": output.threshold.as_dict() if output.threshold is not None else {},
                "derivation": derivation,
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
        con.execute("DROP TABLE IF EXISTS temp.run_golden")
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


def _previous_derivation(con: duckdb.DuckDBPyConnection, run_id: int) -> str | None:
    """The golden records' derivation fingerprint of the last bulk run before ``run_id``
    (:func:`mdm.golden.derivation_fingerprint`), if it recorded one."""
    row = one(
        con.execute(
            "SELECT json_extract_string(report, '$.derivation') FROM runs WHERE kind = "
            "'reconcile' AND run_id < ? AND report IS NOT NULL ORDER BY run_id DESC LIMIT 1",
            [run_id],
        )
    )
    return row[0] if row else None


def _golden_ids(con: duckdb.DuckDBPyConnection, output: RunOutput) -> pd.DataFrame:
    """Each record's golden id as the temporary table ``run_golden`` (uid, golden_id),
    keeping the ids people already have; returns the retired ids with their survivors."""
    labels = output.labels
    con.register(
        "run_labels",
        pa.table({"uid": np.arange(len(labels), dtype=np.int64), "cluster": labels}),
    )
    try:
        return assign_run_golden_ids(
            con,
            "SELECT w.uid, l.cluster, w.source, w.record_id FROM memory.work w "
            "JOIN run_labels l USING (uid)",
            "SELECT source, record_id, golden_id FROM store.xref",
            "SELECT golden_id, created_at::VARCHAR AS created FROM store.golden",
        )
    finally:
        con.unregister("run_labels")


def assign_run_golden_ids(
    con: duckdb.DuckDBPyConnection, members: str, previous: str, created: str
) -> pd.DataFrame:
    """:func:`mdm.golden.assign_golden_ids` and :func:`~mdm.golden.survivors_of_retired`
    in DuckDB, for a run's million records: the same ids, without sorting or grouping a
    million texts in pandas (3.5 s at 1M records, against well under one).

    ``members`` selects (uid, cluster, source, record_id), the uids numbering the records
    in (source, record_id) order; ``previous`` (source, record_id, golden_id), the prior
    cross-references; ``created`` (golden_id, created), when each stored id was issued.
    Makes the temporary table ``run_golden`` (uid, golden_id) and returns the retired
    ids with their survivors (golden_id, survivor_id)."""
    con.execute(f"CREATE OR REPLACE TEMP TABLE _gid_members AS {members}")
    # Each prior id goes to the cluster holding most of its records (ties: the smallest
    # cluster); each cluster keeps the oldest id it won.
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _gid_won AS "
        "WITH claims AS (SELECT m.cluster, p.golden_id, count(*) AS held FROM _gid_members m "
        f"JOIN ({previous}) p USING (source, record_id) WHERE p.golden_id IS NOT NULL "
        "GROUP BY m.cluster, p.golden_id), "
        "best AS (SELECT c.golden_id, c.cluster, coalesce(t.created, '') AS created "
        f"FROM claims c LEFT JOIN ({created}) t USING (golden_id) "
        "QUALIFY row_number() OVER (PARTITION BY c.golden_id ORDER BY c.held DESC, c.cluster) = 1) "
        "SELECT cluster, golden_id FROM best "
        "QUALIFY row_number() OVER (PARTITION BY cluster ORDER BY created, golden_id) = 1"
    )
    # Every other cluster is founded by its first record: the first window of that
    # record's digest (mdm.golden.new_golden_id) unless an id already taken has it.
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _gid_new AS SELECT cluster, founder.source AS source, "
        "founder.record_id AS record_id, 'G' || upper(sha256(founder.source || chr(31) || "
        "founder.record_id)[1:12]) AS golden_id FROM (SELECT cluster, "
        "arg_min({'source': source, 'record_id': record_id}, uid) AS founder "
        "FROM _gid_members GROUP BY cluster) ANTI JOIN _gid_won USING (cluster)"
    )
    clash = one(
        con.execute(
            "SELECT count(*) FROM (SELECT golden_id FROM _gid_new GROUP BY golden_id "
            "HAVING count(*) > 1 UNION ALL SELECT golden_id FROM _gid_new "
            f"SEMI JOIN (SELECT golden_id FROM _gid_won UNION ALL SELECT golden_id FROM "
            f"({created})) USING (golden_id))"
        )
    )
    if clash and clash[0]:  # rare: found them one by one, in cluster order, as in pandas
        _found_one_by_one(con, created)
    con.execute(
        "CREATE OR REPLACE TEMP TABLE run_golden AS SELECT m.uid, a.golden_id "
        "FROM _gid_members m JOIN (SELECT cluster, golden_id FROM _gid_won UNION ALL "
        "SELECT cluster, golden_id FROM _gid_new) a USING (cluster) ORDER BY m.uid"
    )
    # A prior id no cluster kept: the id that now holds most of its records.
    retired = con.execute(
        "SELECT p.golden_id, g.golden_id AS survivor_id FROM _gid_members m "
        f"JOIN ({previous}) p USING (source, record_id) JOIN run_golden g USING (uid) "
        "WHERE p.golden_id NOT IN (SELECT golden_id FROM run_golden) "
        "GROUP BY p.golden_id, g.golden_id "
        "QUALIFY row_number() OVER (PARTITION BY p.golden_id ORDER BY count(*) DESC, "
        "g.golden_id) = 1 ORDER BY p.golden_id"
    ).df()
    for table in ("_gid_members", "_gid_won", "_gid_new"):
        con.execute(f"DROP TABLE {table}")
    return retired


def _found_one_by_one(con: duckdb.DuckDBPyConnection, created: str) -> None:
    """The new clusters' ids of ``_gid_new`` made again in cluster order, each unique
    among the ids taken so far (:func:`mdm.golden.new_golden_id`)."""
    taken = {
        row[0]
        for row in con.execute(
            f"SELECT golden_id FROM _gid_won UNION ALL SELECT golden_id FROM ({created})"
        ).fetchall()
    }
    rows = con.execute(
        "SELECT cluster, source, record_id FROM _gid_new ORDER BY cluster"
    ).fetchall()
    ids = []
    for _, source, record_id in rows:
        golden_id = new_golden_id(source, record_id, taken)
        taken.add(golden_id)
        ids.append(golden_id)
    con.register(
        "_gid_made",
        pa.table({"cluster": pa.array([r[0] for r in rows], pa.int64()), "golden_id": ids}),
    )
    try:
        con.execute(
            "CREATE OR REPLACE TEMP TABLE _gid_new AS SELECT cluster, n.source, n.record_id, "
            "m.golden_id FROM _gid_new n JOIN _gid_made m USING (cluster)"
        )
    finally:
        con.unregister("_gid_made")


def _score_on_customers(con: duckdb.DuckDBPyConnection, model: TrainedModel) -> int:
    """The open tasks scored with what their customers know (:mod:`mdm.store.tasks`),
    with the frequencies just written."""
    from mdm.linkage.scorer import Scorer
    from mdm.store.names import live_term_frequencies
    from mdm.store.tasks import score_tasks_on_customers

    scorer = Scorer(model, live_term_frequencies(con, model.tf_columns))
    return score_tasks_on_customers(con, scorer)


def _learn_names(con: duckdb.DuckDBPyConnection, rules: RulesBundle, run_id: int) -> dict[str, int]:
    """Name pairs confirmed by this run's confident links (see mdm.store.names)."""
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

"""Accuracy of a store's clusters against a truth column carried in the input.

What ``mdm evaluate`` reports: pairwise and B-cubed figures at the link threshold the
last run used, and blocking recall (the share of true pairs any blocking rule of the
run's model compares), all from the store alone.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import duckdb

from mdm.bulk.load import add_extra_columns_sql
from mdm.bulk.reconcile import DUCKDB_MEMORY_LIMIT
from mdm.errors import InputError
from mdm.evaluation import bcubed_metrics, pairwise_metrics
from mdm.linkage.model import TrainedModel, add_block_keys
from mdm.sql import one
from mdm.store import open_store
from mdm.store.reads import latest_model


@dataclass
class EvaluationReport:
    """Accuracy of the store's clusters against a truth column carried in the input."""

    truth_column: str
    records: int
    #: The link threshold of the last run (None if no run set one).
    link_threshold: float | None
    pairwise: dict[str, float]
    bcubed: dict[str, float]
    blocking: dict[str, float]


def evaluate(db: Path, truth_column: str) -> EvaluationReport:
    """Score the store's clusters against ``truth_column`` (an extra attribute).

    The work stays in DuckDB (under the bulk runs' memory limit, spilling to a
    temporary folder) but for one golden id and one truth label a record: a 10M-record
    store is evaluated on the machine that reconciled it."""
    store = open_store(db, create=False)
    spill = tempfile.TemporaryDirectory(prefix="mdm-evaluate-")
    try:
        store.execute(f"SET memory_limit = '{DUCKDB_MEMORY_LIMIT}'").fetchall()
        store.execute("SET temp_directory = ?", [spill.name]).fetchall()
        model = latest_model(store)
        last_run = one(
            store.execute(
                "SELECT link_threshold FROM runs WHERE link_threshold IS NOT NULL "
                "ORDER BY run_id DESC LIMIT 1"
            )
        )
        threshold = float(last_run[0]) if last_run else None
        records = store.execute(
            "SELECT x.golden_id, json_extract_string(r.extra, ['$.' || ?])[1] AS truth "
            "FROM records r JOIN xref x USING (source, record_id)",
            [truth_column],
        ).df()
        if records["truth"].isna().all():
            keys = store.execute(
                "SELECT DISTINCT unnest(json_keys(extra)) FROM records LIMIT 50"
            ).fetchall()
            available = ", ".join(sorted(k[0] for k in keys)) or "none"
            raise InputError(
                f"no record carries a truth column '{truth_column}'; extra columns in the "
                f"store are: {available}"
            )
        blocked = _blocking_recall(store, model, truth_column)
    finally:
        store.close()
        spill.cleanup()
    labelled = records.dropna(subset=["truth"])
    pairwise = pairwise_metrics(labelled["golden_id"], labelled["truth"])
    bcubed = bcubed_metrics(labelled["golden_id"], labelled["truth"])
    return EvaluationReport(
        truth_column=truth_column,
        records=len(labelled),
        link_threshold=threshold,
        pairwise={
            "precision": pairwise.precision,
            "recall": pairwise.recall,
            "f1": pairwise.f1,
            "true_pairs": pairwise.true_pairs,
            "predicted_pairs": pairwise.predicted_pairs,
        },
        bcubed={"precision": bcubed.precision, "recall": bcubed.recall, "f1": bcubed.f1},
        blocking=blocked,
    )


def _blocking_recall(
    store: duckdb.DuckDBPyConnection, model: TrainedModel, truth_column: str
) -> dict[str, float]:
    """Share of true pairs that at least one blocking rule of the model compares."""
    rules = [r["blocking_rule"] for r in model.settings["blocking_rules_to_generate_predictions"]]
    condition = " OR ".join(f"coalesce({rule}, false)" for rule in rules)
    store.execute(
        "CREATE OR REPLACE TEMP TABLE truth_records AS SELECT * EXCLUDE (raw), "
        "json_extract_string(extra, ['$.' || ?])[1] AS _truth, "
        "row_number() OVER (ORDER BY source, record_id) AS _row FROM records",
        [truth_column],
    ).fetchall()
    add_extra_columns_sql(store, "truth_records", model.match_rules.extra_columns)
    add_block_keys(store, "truth_records", model.match_rules, temporary=True)
    row = one(
        store.execute(
            "SELECT count(*), count(*) FILTER (WHERE " + condition + ") FROM truth_records l "
            "JOIN truth_records r ON l._truth = r._truth AND l._row < r._row"
        )
    )
    true_pairs, blocked = (int(row[0]), int(row[1])) if row else (0, 0)
    recall = blocked / true_pairs if true_pairs else 1.0
    return {"true_pairs": true_pairs, "true_pairs_blocked": blocked, "recall": recall}

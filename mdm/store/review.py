"""Review tasks and their evidence pairs written: the one place for the SQL that writes
them.

Every statement that writes the ``review_tasks`` and ``pairs`` tables is here (a test in
``tests/test_layers.py`` holds it). Its callers:

- a bulk run (:func:`mdm.bulk.write.write_run`): :func:`open_bulk_tasks`, the open tasks
  replaced by one per pair of golden records in the review band that no steward decided,
  and :func:`write_bulk_pairs`, the run's scored pairs in or above the review band (a
  task's supporting pairs);
- scoring tasks on their customers (:func:`mdm.store.tasks.score_tasks_on_customers`,
  after a bulk run): :func:`write_customer_scores`;
- real time (:func:`mdm.store.changes.apply_changes`): :func:`write_change_tasks` and
  :func:`write_change_pairs`, a batch of change sets' tasks and pairs;
- a steward (:mod:`mdm.review`): :func:`mark_decided` for a decided task,
  :func:`rescore_task` for one scored again after a name variant changed;
- an erasure (:mod:`mdm.erasure`): :func:`delete_tasks_about`.

Why one module: a newcomer asking "where is a review task written?" should guess one
module and be right, and the paths must agree (one task per pair of golden records, its
most probable pair of records shown; a score says what it was computed on:
``scored_on``); side by side, a change to one shows where the others must follow. Which
pairs need a task is decided elsewhere (:mod:`mdm.realtime.tasks` in real time).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence, Set
from datetime import datetime
from typing import Any

import duckdb
import pyarrow as pa

from mdm.sql import one
from mdm.store.records import Key
from mdm.store.rows import delete_keyed, insert_columns, next_id, registered

#: An evidence pair's row: source_l, record_id_l, source_r, record_id_r, match weight
#: and match probability.
PairRow = tuple[str, str, str, str, float, float]
#: A review task's row (:data:`TASK_COLUMNS`).
TaskRow = tuple[int, str, str, str, str, str, str, float, float, str, datetime, int | None]
TASK_COLUMNS = (
    "task_id", "source_l", "record_id_l", "source_r", "record_id_r", "golden_id_l",
    "golden_id_r", "match_weight", "match_probability", "status", "created_at", "run_id",
)  # fmt: skip
PAIR_COLUMNS = (
    "source_l", "record_id_l", "source_r", "record_id_r", "match_weight", "match_probability",
)  # fmt: skip

#: A bulk run's scored pairs at or above a probability (the parameter), each record with
#: its golden id: from the run's tables ``memory.scored``, ``memory.work`` and
#: ``run_golden`` (uid, golden_id).
RUN_PAIRS = (
    "SELECT l.source AS source_l, l.record_id AS record_id_l, r.source AS source_r, "
    "r.record_id AS record_id_r, gl.golden_id AS golden_id_l, gr.golden_id AS golden_id_r, "
    "s.match_weight, s.match_probability FROM memory.scored s "
    "JOIN memory.work l ON l.uid = s.uid_l JOIN memory.work r ON r.uid = s.uid_r "
    "JOIN run_golden gl ON gl.uid = s.uid_l JOIN run_golden gr ON gr.uid = s.uid_r "
    "WHERE s.match_probability >= ?"
)


# --- a bulk run: set-based --------------------------------------------------------------


def open_bulk_tasks(
    con: duckdb.DuckDBPyConnection,
    review_threshold: float,
    link_threshold: float,
    run_id: int,
    now: datetime,
) -> int:
    """Replace the open review tasks with the run's: one per pair of golden records whose
    records scored in the review band (its most probable pair of records), but for pairs
    of golden records a steward decided about. Returns how many tasks are open. A task
    id is never given twice: a link to yesterday's task, or a hold on it, cannot come to
    name another pair (and DuckDB's commit would pay for each key deleted and inserted
    again)."""
    start = next_id(con, "review_tasks", "task_id")
    con.execute("DELETE FROM review_tasks WHERE status = 'open'")
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
        f"best AS (SELECT * FROM ({RUN_PAIRS}) p WHERE match_probability < ? "
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
        [review_threshold, link_threshold, start, now, run_id],
    )
    opened = one(con.execute("SELECT count(*) FROM review_tasks WHERE status = 'open'"))
    return int(opened[0]) if opened else 0


def write_bulk_pairs(con: duckdb.DuckDBPyConnection, review_threshold: float, run_id: int) -> None:
    """Replace the evidence pairs with the run's scored pairs at or above the review
    threshold."""
    con.execute("DELETE FROM pairs")
    con.execute(
        "INSERT INTO pairs SELECT source_l, record_id_l, source_r, record_id_r, match_weight, "
        f"match_probability, ? FROM ({RUN_PAIRS})",
        [run_id, review_threshold],
    )


def write_customer_scores(
    con: duckdb.DuckDBPyConnection, scores: Sequence[tuple[int, float, float]]
) -> None:
    """Give each task of ``scores`` (task id, match weight, match probability) the score
    its customers' values gave it (``scored_on = 'customers'``; one statement)."""
    if not scores:
        return
    frame = pa.table(
        {
            "task_id": pa.array([c[0] for c in scores], pa.int64()),
            "w": pa.array([c[1] for c in scores], pa.float64()),
            "p": pa.array([c[2] for c in scores], pa.float64()),
        }
    )
    with registered(con, "_customer_scores", frame):
        con.execute(
            "UPDATE review_tasks SET match_weight = s.w, match_probability = s.p, "
            "scored_on = 'customers' FROM _customer_scores s "
            "WHERE review_tasks.task_id = s.task_id"
        ).fetchall()


# --- real time: a batch of change sets -----------------------------------------------------


def _set_scores(
    con: duckdb.DuckDBPyConnection, scores: Mapping[int, tuple[float, float]], scored_on: str
) -> None:
    """Set stored tasks' (task id -> match weight, match probability) and what they
    were scored on ("records" or "customers"), in one statement."""
    if not scores:
        return
    values = ", ".join("(?, ?, ?)" for _ in scores)
    con.execute(
        "UPDATE review_tasks t SET match_weight = v.w, match_probability = v.p, "
        "scored_on = ? "
        f"FROM (VALUES {values}) AS v(task_id, w, p) WHERE t.task_id = v.task_id",
        [scored_on, *(x for task_id, (w, p) in sorted(scores.items()) for x in (task_id, w, p))],
    ).fetchall()


def write_change_tasks(
    con: duckdb.DuckDBPyConnection,
    added: Mapping[int, Sequence[Any]],
    rescored: Mapping[int, tuple[float, float]],
    on_customers: Mapping[int, tuple[float, float]],
    withdrawn: Set[int],
) -> None:
    """Write a batch of change sets' review tasks (at most four statements). ``added``:
    task id -> the new task's row (:data:`TASK_COLUMNS`); ``rescored``: task id ->
    (match weight, match probability) of a stored task scored again on its records;
    ``on_customers``: the same for a task scored on its customers; ``withdrawn``: ids of
    stored tasks withdrawn if still open."""
    insert_columns(con, "review_tasks", TASK_COLUMNS, [row for _, row in sorted(added.items())])
    _set_scores(con, rescored, "records")
    _set_scores(con, on_customers, "customers")  # after: the latest score holds
    if withdrawn:
        con.execute(
            "UPDATE review_tasks SET status = 'withdrawn' WHERE status = 'open' AND "
            "task_id IN (SELECT unnest($ids))",
            {"ids": sorted(withdrawn)},
        ).fetchall()


def write_change_pairs(
    con: duckdb.DuckDBPyConnection,
    replaced: Sequence[Key],
    pairs: Mapping[tuple[Key, Key], Sequence[object]],
) -> None:
    """Write a batch of change sets' evidence pairs: every stored pair of a record in
    ``replaced`` goes, then ``pairs`` ((left, right) -> the pair's row,
    :data:`PAIR_COLUMNS`) are inserted."""
    delete_keyed(con, "pairs", replaced, "_l")  # two equi-joins: an OR would not hash
    delete_keyed(con, "pairs", replaced, "_r")
    insert_columns(con, "pairs", PAIR_COLUMNS, [row for _, row in sorted(pairs.items())])


# --- a steward's decision, a name variant, an erasure ------------------------------------


def mark_decided(con: duckdb.DuckDBPyConnection, task_id: int) -> None:
    """Close task ``task_id``: a steward decided it (the decision is in ``decisions``)."""
    con.execute(
        "UPDATE review_tasks SET status = 'decided' WHERE task_id = ?", [task_id]
    ).fetchall()


def rescore_task(
    con: duckdb.DuckDBPyConnection,
    task_id: int,
    match_weight: float,
    match_probability: float,
    status: str,
    scored_on: str,
) -> None:
    """Give task ``task_id`` a new score, what it was computed on (``scored_on``:
    "records" or "customers") and the status the score puts it in."""
    con.execute(
        "UPDATE review_tasks SET match_weight = ?, match_probability = ?, status = ?, "
        "scored_on = ? WHERE task_id = ?",
        [match_weight, match_probability, status, scored_on, task_id],
    ).fetchall()


def delete_tasks_about(con: duckdb.DuckDBPyConnection, keys: Sequence[Key]) -> None:
    """Delete every review task either of whose records is one of ``keys`` (an erased
    person's records: a task keeps their keys)."""
    erased = {"s": [k[0] for k in keys], "r": [k[1] for k in keys]}
    for side in ("l", "r"):
        con.execute(
            f"DELETE FROM review_tasks WHERE (source_{side}, record_id_{side}) IN "
            "(SELECT unnest($s), unnest($r))",
            erased,
        ).fetchall()

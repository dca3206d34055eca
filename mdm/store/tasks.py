"""Review tasks scored on what their customers know.

A bulk run opens its review tasks from the pairs of records it scored in SQL. A task
whose records lack a compared value that their golden records have is scored again
with the golden records' values (:mod:`mdm.linkage.customers`), by the model's own
:class:`~mdm.linkage.scorer.Scorer`; the task keeps that customer-level weight and
probability, and says so (``scored_on = 'customers'``). This module reads what the
customers know (records, cross-references, lineage); the scores are written by
:mod:`mdm.store.review`, the one place review tasks are.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import duckdb
import pyarrow as pa

from mdm.linkage.customers import (
    CustomerScore,
    Donors,
    compared_attributes,
    score_customers,
    score_lent,
)
from mdm.linkage.scorer import PairScore, PreparedRecord, Scorer
from mdm.schema import RECORD_COLUMNS
from mdm.store.review import write_customer_scores

Key = tuple[str, str]
Key4 = tuple[str, str, str, str]


def _rows(
    con: duckdb.DuckDBPyConnection, sql: str, params: Sequence[Any] = ()
) -> list[dict[str, Any]]:
    """The rows of ``sql`` as dicts, a missing value as None."""
    result = con.execute(sql, list(params))
    names = [d[0] for d in result.description]
    return [dict(zip(names, row, strict=True)) for row in result.fetchall()]


def _select(columns: Sequence[str] | None) -> str:
    """The record columns to read: those named that the records table has, or all."""
    if columns is None:
        return "r.* EXCLUDE (extra, raw)"
    wanted = ["source", "record_id", *(c for c in columns if c in RECORD_COLUMNS)]
    return ", ".join(f'r."{c}"' for c in dict.fromkeys(wanted))


def _records(
    con: duckdb.DuckDBPyConnection, keys: set[Key], columns: Sequence[str] | None = None
) -> dict[Key, dict[str, Any]]:
    frame = pa.table(
        {
            "source": pa.array([k[0] for k in sorted(keys)], pa.string()),
            "record_id": pa.array([k[1] for k in sorted(keys)], pa.string()),
        }
    )
    con.register("_task_records", frame)
    try:
        rows = _rows(
            con,
            f"SELECT {_select(columns)}, x.golden_id AS _golden_id FROM records r "
            "JOIN _task_records k USING (source, record_id) "
            "LEFT JOIN xref x USING (source, record_id)",
        )
    finally:
        con.unregister("_task_records")
    return {(row["source"], row["record_id"]): row for row in rows}


def customer_donors(
    con: duckdb.DuckDBPyConnection,
    golden_ids: set[str],
    columns: Sequence[str] | None = None,
    lacking: Mapping[str, set[str]] | None = None,
) -> dict[str, dict[str, dict[str, Any]]]:
    """Golden id -> attribute -> the row of the source record its value came from
    (its lineage; a value a steward set is no record's). Each donor record is read
    once and shared by every attribute it gave (a 1M store's tasks touch tens of
    thousands of customers; a row per attribute would hold each record ~15 times).
    With ``lacking`` (golden id -> attributes), only those attributes' donors."""
    if lacking is None:
        frame = pa.table({"golden_id": pa.array(sorted(golden_ids), pa.string())})
    else:
        wanted = sorted((g, a) for g in golden_ids for a in lacking.get(g, ()))
        frame = pa.table(
            {
                "golden_id": pa.array([g for g, _ in wanted], pa.string()),
                "attribute": pa.array([a for _, a in wanted], pa.string()),
            }
        )
    joined = "USING (golden_id)" if lacking is None else "USING (golden_id, attribute)"
    con.register("_task_golden", frame)
    try:
        given = con.execute(
            "SELECT l.golden_id, l.attribute, l.source, l.record_id FROM lineage l "
            f"JOIN _task_golden g {joined} "
            "JOIN xref x ON x.source = l.source AND x.record_id = l.record_id "
            "AND x.golden_id = l.golden_id"
        ).fetchall()
    finally:
        con.unregister("_task_golden")
    records = _records(con, {(source, record_id) for _, _, source, record_id in given}, columns)
    donors: dict[str, dict[str, dict[str, Any]]] = {}
    for golden_id, attribute, source, record_id in given:
        if (row := records.get((source, record_id))) is not None:
            donors.setdefault(golden_id, {})[attribute] = row
    return donors


def customer_scores(
    con: duckdb.DuckDBPyConnection, scorer: Scorer, tasks: Sequence[Key4]
) -> dict[Key4, CustomerScore]:
    """Each pair of records (source_l, record_id_l, source_r, record_id_r) scored with
    what their customers know; a pair whose record is gone is left out."""
    return {
        task: score_customers(scorer, left, right, *donors)
        for task, left, right, donors in _with_customers(con, scorer, tasks)
    }


def lent_scores(
    con: duckdb.DuckDBPyConnection, scorer: Scorer, tasks: Sequence[Key4]
) -> dict[Key4, PairScore]:
    """The pairs among ``tasks`` whose customers lend a value, scored with it
    (:func:`~mdm.linkage.customers.score_lent`); the others are left out."""
    found = {}
    for task, left, right, donors in _with_customers(con, scorer, tasks):
        if (score := score_lent(scorer, left, right, *donors)) is not None:
            found[task] = score
    return found


def _with_customers(
    con: duckdb.DuckDBPyConnection, scorer: Scorer, tasks: Sequence[Key4]
) -> Iterator[tuple[Key4, dict[str, Any], dict[str, Any], tuple[Donors, Donors]]]:
    """Each task whose two records are still there: the records (the columns the
    comparisons read) and their customers' donors."""
    keys = {(t[0], t[1]) for t in tasks} | {(t[2], t[3]) for t in tasks}
    records = _records(con, keys, scorer.columns)  # only what the comparisons read
    golden = {key: row["_golden_id"] for key, row in records.items()}
    # A customer lends a value only for an attribute its task record lacks.
    attributes = sorted(compared_attributes(scorer))
    lacking: dict[str, set[str]] = {}
    for key, row in records.items():
        if golden[key] is not None:
            gaps = {a for a in attributes if row.get(a) is None}
            lacking.setdefault(golden[key], set()).update(gaps)
    donors = customer_donors(con, set(lacking), scorer.columns, lacking)
    # Each record prepared for the scorer once, however many tasks it is in; its other
    # columns (source, record_id) kept beside.
    prepared = {key: PreparedRecord({**row, **scorer.prepare(row)}) for key, row in records.items()}
    for t in tasks:
        left, right = prepared.get((t[0], t[1])), prepared.get((t[2], t[3]))
        if left is None or right is None:
            continue
        sides = (donors.get(golden[(t[0], t[1])], {}), donors.get(golden[(t[2], t[3])], {}))
        yield t, left, right, sides


#: Tasks scored on their customers at a time: each batch's records and donors are held
#: in Python (about 4 GB for a 10M-record run's tasks at once).
CUSTOMER_BATCH = 100_000


def score_tasks_on_customers(
    con: duckdb.DuckDBPyConnection, scorer: Scorer, batch: int = CUSTOMER_BATCH
) -> int:
    """Score the open tasks again with their customers' values where a record lacks
    one (inside the caller's transaction), ``batch`` tasks at a time (a task's score
    reads only its own records and customers); returns how many changed."""
    rows = con.execute(
        "SELECT task_id, source_l, record_id_l, source_r, record_id_r FROM review_tasks "
        "WHERE status = 'open' AND scored_on = 'records' ORDER BY task_id"
    ).fetchall()
    changed = []
    for start in range(0, len(rows), batch):
        part = rows[start : start + batch]
        scores = lent_scores(con, scorer, [tuple(row[1:]) for row in part])
        for task_id, *pair in part:
            if (score := scores.get(tuple(pair))) is not None:
                changed.append((task_id, score.match_weight, score.match_probability))
    write_customer_scores(con, changed)
    return len(changed)

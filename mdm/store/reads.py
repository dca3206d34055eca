"""Reads any layer may use: one source record or one golden record as a whole (the
service's answers, the steward pages, the command line), what a job changed (its
results), and the store's models (whether it has one, the last run's, the newest
trained from a set of rules)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import duckdb
import pandas as pd

from mdm.display import SHOWN, display_value
from mdm.errors import NotFoundError, StoreError
from mdm.schema import ATTRIBUTES
from mdm.sql import one

if TYPE_CHECKING:
    from mdm.linkage.model import TrainedModel


def get_record(con: duckdb.DuckDBPyConnection, source: str, record_id: str) -> dict[str, Any]:
    """A source record: standardised values, raw values, extras and its golden id."""
    frame = con.execute(
        f"SELECT r.source, r.record_id, {', '.join('r.' + a for a in ATTRIBUTES)}, "
        "r.updated_at, r.version, r.extra::VARCHAR AS extra, r.raw::VARCHAR AS raw, "
        "r.ingested_at, x.golden_id FROM records r LEFT JOIN xref x USING (source, record_id) "
        "WHERE r.source = ? AND r.record_id = ?",
        [source, record_id],
    ).df()
    if frame.empty:
        raise NotFoundError(f"no record {source}/{record_id} in the store")
    row: dict[str, Any] = frame.astype(object).where(frame.notna(), None).iloc[0].to_dict()
    row["extra"] = json.loads(row["extra"]) if row["extra"] else {}
    row["raw"] = json.loads(row["raw"]) if row["raw"] else {}
    return row


def get_golden(
    con: duckdb.DuckDBPyConnection, golden_id: str, display: bool = True
) -> dict[str, Any]:
    """A golden record with its source records and field lineage; a retired id answers
    with its survivor (``requested_id`` keeps what was asked for). ``display`` holds its
    names and address as their source records typed them (:mod:`mdm.display`); without
    ``display``, in proper case (no source record read)."""
    requested, seen = golden_id, set()
    while True:
        row = con.execute(
            "SELECT status, survivor_id FROM golden WHERE golden_id = ?", [golden_id]
        ).fetchall()
        if not row:
            raise NotFoundError(f"no golden record {requested}")
        status, survivor = row[0]
        if status == "active" or survivor is None or golden_id in seen:
            break
        seen.add(golden_id)
        golden_id = survivor
    frame = con.execute(
        f"SELECT golden_id, status, survivor_id, created_at, updated_at, record_count, "
        f"{', '.join(ATTRIBUTES)} FROM golden WHERE golden_id = ?",
        [golden_id],
    ).df()
    golden: dict[str, Any] = frame.astype(object).where(frame.notna(), None).iloc[0].to_dict()
    records = con.execute(
        "SELECT source, record_id FROM xref WHERE golden_id = ? ORDER BY source, record_id",
        [golden_id],
    ).fetchall()
    lineage = con.execute(
        "SELECT attribute, value, source, record_id, rule FROM lineage WHERE golden_id = ? "
        "ORDER BY attribute",
        [golden_id],
    ).fetchall()
    constraints = con.execute(
        "WITH mine AS (SELECT source, record_id FROM xref WHERE golden_id = ?) "
        "SELECT kind, origin, source_l, record_id_l, source_r, record_id_r, set_by, set_at, "
        "reason FROM link_constraints WHERE (source_l, record_id_l) IN (FROM mine) "
        "OR (source_r, record_id_r) IN (FROM mine) ORDER BY set_at, 3, 4, 5, 6",
        [golden_id],
    ).fetchall()
    golden["requested_id"] = requested
    golden["records"] = [{"source": s, "record_id": r} for s, r in records]
    golden["constraints"] = [
        {"kind": kind, "origin": origin, "left": f"{sl}/{rl}", "right": f"{sr}/{rr}",
         "set_by": by, "set_at": at, "reason": reason}
        for kind, origin, sl, rl, sr, rr, by, at, reason in constraints
    ]  # fmt: skip
    golden["lineage"] = [
        {"attribute": a, "value": v, "source": s, "record_id": r, "rule": rule}
        for a, v, s, r, rule in lineage
    ]
    givers = {a: (s, r) for a, _, s, r, _ in lineage if a in SHOWN and s and r}
    typed = record_raws(con, list(givers.values())) if display else {}
    golden["display"] = {
        a: display_value(a, golden[a], typed.get(givers.get(a, ("", "")), []))
        for a in SHOWN
        if golden.get(a) is not None
    }
    return golden


#: Up to this many records are read by primary-key probes; more, by one scan.
POINT_LOOKUPS = 20


def display_sources(
    con: duckdb.DuckDBPyConnection, golden_ids: list[str], attributes: tuple[str, ...]
) -> dict[tuple[str, str], list[str]]:
    """(golden id, attribute) -> the raw values of the source record the golden value
    came from (its lineage), for showing the value as that record typed it
    (:mod:`mdm.display`); a steward's value has none. For a page's few golden records,
    named as literal keys (the service's index on lineage finds them)."""
    ids = list(dict.fromkeys(golden_ids))
    if not ids:
        return {}
    lines = con.execute(
        "SELECT golden_id, attribute, source, record_id FROM lineage "
        f"WHERE golden_id IN ({', '.join('?' for _ in ids)})",
        ids,
    ).fetchall()
    wanted = [line for line in lines if line[1] in attributes]
    raws = record_raws(con, [(source, record_id) for _, _, source, record_id in wanted])
    return {
        (golden_id, attribute): raws[(source, record_id)]
        for golden_id, attribute, source, record_id in wanted
        if (source, record_id) in raws
    }


def record_raws(
    con: duckdb.DuckDBPyConnection, keys: list[tuple[str, str]]
) -> dict[tuple[str, str], list[str]]:
    """(source, record_id) -> the text values among a few records' raw values."""
    keys = list(dict.fromkeys(keys))
    if not keys:
        return {}
    select = "SELECT source, record_id, raw::VARCHAR FROM records WHERE "
    if len(keys) <= POINT_LOOKUPS:  # each an index probe
        sql = " UNION ALL ".join(f"{select}source = ? AND record_id = ?" for _ in keys)
    else:  # one scan costs less than many probes
        sql = f"{select}(source, record_id) IN ({', '.join('(?, ?)' for _ in keys)})"
    rows = con.execute(sql, [value for key in keys for value in key]).fetchall()
    found: dict[tuple[str, str], list[str]] = {}
    for source, record_id, raw in rows:
        values = json.loads(raw) if raw else {}
        found[(source, record_id)] = [v for v in values.values() if isinstance(v, str)]
    return found


def has_model(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether a bulk run has trained a model in the store (the real-time path needs one)."""
    return bool(con.execute("SELECT count(*) FROM models").fetchall()[0][0])


def latest_model(con: duckdb.DuckDBPyConnection) -> TrainedModel:
    """The model the store's last run used."""
    from mdm.linkage.model import TrainedModel  # splink: only for those reading a model

    row = one(
        con.execute(
            "SELECT m.model FROM runs r JOIN models m USING (model_id) "
            "ORDER BY r.run_id DESC LIMIT 1"
        )
    )
    if row is None:
        raise StoreError("the store holds no model yet; run 'mdm reconcile' first")
    return TrainedModel.from_json(row[0])


def load_model(con: duckdb.DuckDBPyConnection, fingerprint: str) -> TrainedModel | None:
    """The newest stored model trained from rules with this fingerprint, if any (``con``
    has the store attached as ``store``: a bulk run's connection)."""
    from mdm.linkage.model import TrainedModel

    row = one(
        con.execute(
            "SELECT model FROM store.models WHERE rules_fingerprint = ? "
            "ORDER BY created_at DESC LIMIT 1",
            [fingerprint],
        )
    )
    return TrainedModel.from_json(row[0]) if row else None


def run_results(
    con: duckdb.DuckDBPyConnection, run_id: int, source: str
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """What a bulk run did to one source's records: each record's golden id and action
    (added, moved, updated, deleted, unchanged), the golden records its records touched,
    and the open review tasks it made."""
    in_run = "json_extract_string(detail, '$.run_id') = ?"
    xref = con.execute(
        "SELECT x.source, x.record_id, x.golden_id, coalesce(e.action, 'unchanged') "
        "AS action FROM xref x LEFT JOIN (SELECT source, record_id, CASE "
        "max(CASE kind WHEN 'record_added' THEN 3 WHEN 'record_linked' THEN 2 ELSE 1 "
        "END) WHEN 3 THEN 'added' WHEN 2 THEN 'moved' ELSE 'updated' END AS action "
        "FROM events WHERE kind IN ('record_added', 'record_linked', 'record_updated') "
        f"AND {in_run} GROUP BY ALL) e USING (source, record_id) WHERE x.source = ? "
        "UNION ALL SELECT source, record_id, golden_id, 'deleted' FROM events "
        f"WHERE kind = 'record_deleted' AND {in_run} AND source = ? ORDER BY ALL",
        [str(run_id), source, str(run_id), source],
    ).df()
    golden = con.execute(
        "SELECT * FROM golden WHERE golden_id IN (SELECT golden_id FROM events "
        f"WHERE kind LIKE 'record_%' AND {in_run}) ORDER BY golden_id",
        [str(run_id)],
    ).df()
    review = con.execute(
        "SELECT * FROM review_tasks WHERE status = 'open' AND run_id = ? ORDER BY task_id",
        [run_id],
    ).df()
    return xref, golden, review


def results_about(
    con: duckdb.DuckDBPyConnection, changed: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The golden records ``changed`` (source, record_id, golden_id rows) belong to, and
    the open review tasks about its records."""
    con.register("job_changed", changed)
    try:
        golden = con.execute(
            "SELECT * FROM golden WHERE golden_id IN "
            "(SELECT golden_id FROM job_changed) ORDER BY golden_id"
        ).df()
        review = con.execute(
            "SELECT * FROM review_tasks t WHERE status = 'open' AND EXISTS ("
            "SELECT 1 FROM job_changed c WHERE (c.source, c.record_id) IN "
            "((t.source_l, t.record_id_l), (t.source_r, t.record_id_r))) "
            "ORDER BY task_id"
        ).df()
    finally:
        con.unregister("job_changed")
    return golden, review

"""Reading one source record or one golden record as a whole, for any layer: the
service's answers, the steward pages, the command line and tests."""

from __future__ import annotations

import json

import duckdb

from mdm.errors import NotFoundError
from mdm.schema import ATTRIBUTES


def get_record(con: duckdb.DuckDBPyConnection, source: str, record_id: str) -> dict:
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
    row = frame.astype(object).where(frame.notna(), None).iloc[0].to_dict()
    row["extra"] = json.loads(row["extra"]) if row["extra"] else {}
    row["raw"] = json.loads(row["raw"]) if row["raw"] else {}
    return row


def get_golden(con: duckdb.DuckDBPyConnection, golden_id: str) -> dict:
    """A golden record with its source records and field lineage; a retired id answers
    with its survivor (``requested_id`` keeps what was asked for)."""
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
    golden = frame.astype(object).where(frame.notna(), None).iloc[0].to_dict()
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
    return golden

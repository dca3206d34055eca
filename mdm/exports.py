"""Exports of the store's tables to CSV or Parquet, with extra attributes as columns."""

from __future__ import annotations

from pathlib import Path

from mdm.errors import InputError
from mdm.schema import ATTRIBUTES
from mdm.store import open_store

_ATTRIBUTES = ", ".join(ATTRIBUTES)

QUERIES = {
    "golden": (
        f"SELECT golden_id, record_count, {_ATTRIBUTES}, extra, created_at, updated_at "
        "FROM golden WHERE status = 'active' ORDER BY golden_id"
    ),
    "xref": (
        f"SELECT x.source, x.record_id, x.golden_id, {', '.join('r.' + a for a in ATTRIBUTES)}, "
        "r.extra FROM xref x JOIN records r USING (source, record_id) "
        "ORDER BY x.source, x.record_id"
    ),
    "review": (
        "SELECT task_id, source_l, record_id_l, source_r, record_id_r, golden_id_l, golden_id_r, "
        "match_probability, match_weight, status, created_at FROM review_tasks "
        "WHERE status = 'open' ORDER BY task_id"
    ),
}


def export_table(db: Path, table: str, out: Path) -> int:
    """Write one table to ``out`` (.csv or .parquet); extra attributes become columns."""
    if table not in QUERIES:
        raise InputError(f"unknown table '{table}'; choose one of {', '.join(QUERIES)}")
    suffix = out.suffix.lower()
    if suffix not in (".csv", ".parquet"):
        raise InputError(f"cannot export to '{out}': the file must end in .csv or .parquet")
    store = open_store(db, create=False)
    try:
        frame = store.execute(QUERIES[table]).df()
    finally:
        store.close()
    if "extra" in frame:
        import json

        import pandas as pd

        extras = pd.DataFrame(
            [json.loads(e) if e else {} for e in frame.pop("extra")], index=frame.index
        )
        for column in extras.columns:
            if column not in frame:
                frame[column] = extras[column]
    out.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".csv":
        frame.to_csv(out, index=False)
    else:
        frame.to_parquet(out, index=False)
    return len(frame)

"""Exports of the store's tables to CSV or Parquet, with extra attributes as columns.

CSV files are opened in spreadsheets, which run a cell that starts with ``=``, ``+``,
``-`` or ``@`` as a formula: a customer typing ``=HYPERLINK(...)`` as their name must
not become a link in a steward's spreadsheet. :func:`spreadsheet_safe` puts a ``'``
before such a text cell (OWASP's advice; a spreadsheet shows the text without it),
except for plain numbers and phone numbers (``+44 20 7946 0958``), which no
spreadsheet runs. Parquet keeps values as they are.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pandas as pd

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


#: A cell that starts like this is a formula to a spreadsheet.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
#: ... unless it is a plain number or a phone number.
_NUMBER_LIKE = re.compile(r"[+-]?[0-9][0-9 ().-]*")


def spreadsheet_text(value: object) -> object:
    """``value`` as a spreadsheet will show it and never run it."""
    if (
        isinstance(value, str)
        and value.startswith(_FORMULA_START)
        and not _NUMBER_LIKE.fullmatch(value)
    ):
        return "'" + value
    return value


def spreadsheet_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` for CSV: every text cell made safe (:func:`spreadsheet_text`)."""
    safe = frame.copy()
    for column in safe.columns:
        if safe[column].dtype == object or pd.api.types.is_string_dtype(safe[column]):
            safe[column] = safe[column].map(spreadsheet_text, na_action="ignore")
    return safe


def write_table(frame: pd.DataFrame, out: str | Path) -> None:
    """Write ``frame`` to ``out`` (a path ending .csv or .parquet), CSV made safe."""
    if str(out).lower().endswith(".csv"):
        spreadsheet_safe(frame).to_csv(out, index=False)
    else:
        frame.to_parquet(out, index=False)


def _extras_of(cell: object) -> dict[str, Any]:
    """A row's extra attributes. A record of a source without extra columns has none
    (NULL), which DuckDB hands to pandas as NaN once other rows have some."""
    return json.loads(cell) if isinstance(cell, str) and cell else {}


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
        extras = pd.DataFrame(
            [_extras_of(e) for e in frame.pop("extra")], index=frame.index, dtype=object
        )
        for column in extras.columns:
            if column not in frame:
                frame[column] = extras[column]
    out.parent.mkdir(parents=True, exist_ok=True)
    write_table(frame, out)
    return len(frame)

"""CSV exports are safe to open in a spreadsheet: no cell runs as a formula."""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd
from hypothesis import given
from hypothesis import strategies as st

from mdm.exports import export_table, spreadsheet_safe, spreadsheet_text

DANGEROUS = ("=", "+", "-", "@", "\t", "\r")


@given(st.text(max_size=30))
def test_no_text_starts_a_formula_and_nothing_is_lost(value: str) -> None:
    shown = spreadsheet_text(value)
    if shown != value:
        assert shown == "'" + value  # the spreadsheet shows the value itself
    elif value.startswith(DANGEROUS):  # left alone: a number or a phone number
        assert all(c in "+-0123456789 ().-" for c in value) and any(c.isdigit() for c in value)


def test_phone_numbers_and_numbers_are_left_alone() -> None:
    for value in ("+44 20 7946 0958", "-12.5", "+1 (555) 010-9999", "07700 900123"):
        assert spreadsheet_text(value) == value
    for value in ('=HYPERLINK("http://x")', "+cmd|' /C calc'!A0", "@SUM(A1)", "-2+3+cmd"):
        assert spreadsheet_text(value) == "'" + value


def test_an_exported_csv_carries_no_formula(store, tmp_path: Path) -> None:
    """A customer who typed a formula as their name: the golden record's CSV export and
    the API's CSV downloads show it as text."""
    store.execute(
        'UPDATE golden SET first_name = \'=HYPERLINK("http://evil","x")\', '
        'extra = \'{"note": "@SUM(1+1)"}\' WHERE golden_id = (SELECT min(golden_id) FROM golden)'
    ).fetchall()
    db = Path(store.execute("SELECT path FROM duckdb_databases() WHERE database_name = "
                            "current_database()").fetchall()[0][0])  # fmt: skip
    store.close()
    out = tmp_path / "golden.csv"
    export_table(db, "golden", out)
    cells = [cell for row in pd.read_csv(out, dtype=str).fillna("").to_numpy() for cell in row]
    assert '\'=HYPERLINK("http://evil","x")' in cells and "'@SUM(1+1)" in cells
    assert not [c for c in cells if c.startswith(("=", "@"))]
    frame = pd.DataFrame({"a": ["=1+1", None, "ok"], "n": [1, 2, 3]})
    text = io.StringIO()
    spreadsheet_safe(frame).to_csv(text, index=False)
    assert text.getvalue().splitlines()[1] == "'=1+1,1"
    assert frame["a"].iloc[0] == "=1+1"  # the input frame is untouched

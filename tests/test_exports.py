"""CSV exports are safe to open in a spreadsheet: no cell runs as a formula."""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from mdm.bundled import DEFAULT_MATCH_RULES
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


# --- every table exports after every kind of write ---------------------------------

REPO = Path(__file__).resolve().parents[1]


def _engine(con):
    from mdm.realtime.engine import Engine
    from mdm.rules.bundle import RulesBundle

    bundle = RulesBundle.load(DEFAULT_MATCH_RULES)
    return Engine(con, bundle.survivorship, bundle.rules_dir)


def _commit(con, changes) -> None:
    from mdm.store.changes import apply_changes

    con.execute("BEGIN").fetchall()
    apply_changes(con, [changes])
    con.execute("COMMIT").fetchall()


def _pair(con) -> list[str]:
    """Two golden records of two records each."""
    return [row[0] for row in con.execute(
        "SELECT golden_id FROM golden WHERE status = 'active' AND record_count = 2 "
        "ORDER BY golden_id LIMIT 2").fetchall()]  # fmt: skip


def _upsert(db: Path) -> None:
    """Through the engine, as the API does: a new person with no extras, a copy of a
    stored record (linked) with one, and one with a phone left out as missing."""
    from mdm.store import open_store

    con = open_store(db, create=False)
    try:
        engine = _engine(con)
        row = con.execute(
            "SELECT first_name, last_name, date_of_birth, email FROM records "
            "WHERE email IS NOT NULL AND date_of_birth IS NOT NULL ORDER BY record_id LIMIT 1"
        ).fetchall()[0]
        copy = dict(zip(("first_name", "last_name", "date_of_birth", "email"), row, strict=True))
        for record in (
            {"source": "web", "record_id": "W-1", "first_name": "Quen", "last_name": "Zzyzx"},
            {"source": "web", "record_id": "W-2", **copy, "extra": {"tier": "gold"}},
            {"source": "web", "record_id": "W-3", "last_name": "Zzyzx", "phone": "12"},
        ):
            _commit(con, engine.upsert(record)[1])
    finally:
        con.close()


def _delete(db: Path) -> None:
    from mdm.store import open_store

    con = open_store(db, create=False)
    try:
        key = con.execute("SELECT source, record_id FROM records ORDER BY 1, 2 LIMIT 1").fetchall()
        _commit(con, _engine(con).delete(*key[0])[1])
    finally:
        con.close()


def _merge(db: Path, unmerge: bool = False) -> None:
    from mdm.lifecycle import merge
    from mdm.lifecycle import unmerge as take_out
    from mdm.store import open_store

    con = open_store(db, create=False)
    try:
        engine = _engine(con)
        first, second = _pair(con)
        records = con.execute("SELECT source, record_id FROM xref WHERE golden_id = ?",
                              [second]).fetchall()  # fmt: skip
        con.execute("BEGIN").fetchall()
        survivor = merge(con, engine, first, second, "ann", confirmed=True)["golden_id"]
        con.execute("COMMIT").fetchall()
        if unmerge:
            con.execute("BEGIN").fetchall()
            take_out(con, engine, survivor, records, "ann")
            con.execute("COMMIT").fetchall()
    finally:
        con.close()


def _erase(db: Path) -> None:
    from mdm.erasure import erase
    from mdm.rules.bundle import RulesBundle
    from mdm.store import open_store

    con = open_store(db, create=False)
    try:
        golden_id = _pair(con)[0]
    finally:
        con.close()
    erase(db, golden_id, RulesBundle.load(DEFAULT_MATCH_RULES), "dpo")


WRITES = [
    pytest.param(lambda db: None, id="bulk-reconcile"),
    pytest.param(_upsert, id="upsert"),
    pytest.param(_delete, id="delete"),
    pytest.param(_merge, id="merge"),
    pytest.param(lambda db: _merge(db, unmerge=True), id="unmerge"),
    pytest.param(_erase, id="erasure"),
]


@pytest.fixture(scope="module")
def mixed_db(sample_files: list[Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample reconciled with one more source whose file has no extra columns (its
    records are stored without extras, as NULL; an upsert stores "{}")."""
    from mdm.bulk.ingest import parse_source_arg
    from mdm.bulk.reconcile import reconcile
    from mdm.rules.bundle import RulesBundle

    folder = tmp_path_factory.mktemp("mixed")
    shop = folder / "shop.csv"
    shop.write_text(
        "record_id,first_name,last_name,date_of_birth,email\n"
        "S-1,Ann,Lee,1980-03-12,ann.lee@example.org\nS-2,Bo,Ray,1975-01-02,\n",
        encoding="utf-8",
    )
    db = folder / "mdm.duckdb"
    specs = [parse_source_arg(str(p)) for p in [*sample_files, shop]]
    reconcile(specs, db, RulesBundle.load(DEFAULT_MATCH_RULES))
    return db


@pytest.mark.parametrize("write", WRITES)
def test_every_table_exports_after_every_kind_of_write(
    write, mixed_db: Path, tmp_path: Path
) -> None:
    """Each table ``mdm export`` offers, to CSV and Parquet, after each kind of write
    (the command as a user runs it):
    every row of the table is exported, and extra attributes become columns."""
    import shutil

    import duckdb
    from typer.testing import CliRunner

    from mdm.cli import app
    from mdm.exports import QUERIES

    db = tmp_path / "mdm.duckdb"
    shutil.copy(mixed_db, db)
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM records WHERE extra IS NULL").fetchall()[0][0]
    write(db)
    for table, query in QUERIES.items():
        with duckdb.connect(str(db), read_only=True) as con:
            expected = con.execute(f"SELECT count(*) FROM ({query})").fetchall()[0][0]
        for suffix in (".csv", ".parquet"):
            out = tmp_path / f"{table}{suffix}"
            args = ["export", "--db", str(db), "--table", table, "--out", str(out)]
            done = CliRunner().invoke(app, args, catch_exceptions=False)
            assert done.exit_code == 0, done.output
            assert f"wrote {expected} rows of {table}" in done.output
            frame = pd.read_csv(out, dtype=str) if suffix == ".csv" else pd.read_parquet(out)
            assert len(frame) == expected, (table, suffix)
            assert "extra" not in frame.columns
            if table == "xref":
                assert "true_person_id" in frame.columns

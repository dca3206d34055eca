"""The mdm command line on real files and a real DuckDB store."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from typer.testing import CliRunner

from mdm.cli import app
from mdm.schema import ATTRIBUTES

runner = CliRunner()


def _run(*args: str):
    return runner.invoke(app, list(args), catch_exceptions=False)


@pytest.fixture(scope="module")
def store(sample_files: list[Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("store") / "mdm.duckdb"
    result = _run("reconcile", *map(str, sample_files), "--db", str(db))
    assert result.exit_code == 0, result.output
    return db


def _query(db: Path, sql: str):
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(sql).fetchall()


def test_every_record_has_a_golden_record(store: Path) -> None:
    records = _query(store, "SELECT count(*) FROM records")[0][0]
    assert records == 1200
    missing = _query(
        store,
        "SELECT count(*) FROM records r LEFT JOIN xref x USING (source, record_id) "
        "WHERE x.golden_id IS NULL",
    )[0][0]
    assert missing == 0
    golden = _query(store, "SELECT count(*) FROM golden WHERE status = 'active'")[0][0]
    assert 300 < golden < 1200  # duplicates were merged, people were not lumped together


def test_golden_values_have_lineage(store: Path) -> None:
    orphan = _query(
        store,
        "SELECT count(*) FROM golden g WHERE g.last_name IS NOT NULL AND NOT EXISTS "
        "(SELECT 1 FROM lineage l WHERE l.golden_id = g.golden_id AND l.attribute = 'last_name')",
    )[0][0]
    assert orphan == 0
    wrong = _query(
        store,
        "SELECT count(*) FROM lineage l JOIN xref x USING (source, record_id) "
        "WHERE x.golden_id <> l.golden_id",
    )[0][0]
    assert wrong == 0


def test_evaluate_against_the_generators_truth(store: Path) -> None:
    result = _run("evaluate", "--db", str(store), "--truth", "true_person_id", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["pairwise"]["f1"] > 0.8
    assert report["bcubed"]["f1"] > 0.85
    assert report["blocking"]["recall"] > 0.9


def test_evaluate_unknown_truth_column(store: Path) -> None:
    result = _run("evaluate", "--db", str(store), "--truth", "nope")
    assert result.exit_code == 2
    assert "true_person_id" in result.output  # lists what is available


@pytest.mark.parametrize("table", ["golden", "xref", "review"])
@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_export(store: Path, tmp_path: Path, table: str, suffix: str) -> None:
    out = tmp_path / f"{table}{suffix}"
    result = _run("export", "--db", str(store), "--table", table, "--out", str(out))
    assert result.exit_code == 0, result.output
    frame = pd.read_csv(out, dtype=str) if suffix == ".csv" else pd.read_parquet(out)
    if table == "xref":
        assert {"source", "record_id", "golden_id", "true_person_id"} <= set(frame.columns)
        assert len(frame) == 1200
    if table == "golden":
        assert frame["golden_id"].is_unique
        assert "loyalty_tier" in frame.columns  # extra attributes are carried to exports


def test_export_rejects_unknown_table_and_suffix(store: Path, tmp_path: Path) -> None:
    bad_table = _run(
        "export", "--db", str(store), "--table", "gold", "--out", str(tmp_path / "x.csv")
    )
    assert bad_table.exit_code == 2 and "golden, xref, review" in bad_table.output
    bad_suffix = _run(
        "export", "--db", str(store), "--table", "golden", "--out", str(tmp_path / "x.txt")
    )
    assert bad_suffix.exit_code == 2 and ".csv or .parquet" in bad_suffix.output


def test_reconciling_again_keeps_golden_ids(
    store: Path, sample_files: list[Path], tmp_path: Path
) -> None:
    db = tmp_path / "again.duckdb"
    shutil.copy(store, db)
    before = dict(
        ((s, r), g) for s, r, g in _query(db, "SELECT source, record_id, golden_id FROM xref")
    )
    result = _run("reconcile", *map(str, sample_files), "--db", str(db), "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["model_trained"] is False  # the model was reused
    after = dict(
        ((s, r), g) for s, r, g in _query(db, "SELECT source, record_id, golden_id FROM xref")
    )
    assert after == before
    assert _query(db, "SELECT count(*) FROM golden WHERE status = 'retired'")[0][0] == 0


def _copied(files: list[Path], folder: Path) -> list[Path]:
    """The sample files copied into ``folder``, to be edited there."""
    for path in files:
        shutil.copy(path, folder / path.name)
    return [folder / path.name for path in files]


#: What a re-run on the same files leaves as it was: (table, columns compared).
UNCHANGED = {
    "records": "* EXCLUDE (run_id)",
    "golden": "*",
    "lineage": "*",
    "xref": "* EXCLUDE (run_id)",
}


def test_reconciling_the_same_files_again_leaves_the_same_tables_and_keys(
    store: Path, sample_files: list[Path], tmp_path: Path
) -> None:
    """A re-run writes the keyed tables anew (mdm.store.rows.replace_table): the same
    rows, versions and first runs, and the same definitions, primary keys enforced; the
    review tasks are the same pairs under new ids."""
    db = tmp_path / "again.duckdb"
    shutil.copy(store, db)
    definitions = "SELECT table_name, sql FROM duckdb_tables() ORDER BY 1"
    before = {t: _query(db, f"SELECT {c} FROM {t} ORDER BY ALL") for t, c in UNCHANGED.items()}
    tables = _query(db, definitions)
    tasks = "SELECT task_id, source_l, record_id_l, source_r, record_id_r FROM review_tasks"
    tasks_before = _query(db, tasks)
    result = _run("reconcile", *map(str, sample_files), "--db", str(db), "--json")
    assert result.exit_code == 0, result.output
    tasks_after = _query(db, tasks)
    # The same pairs wait, under ids never given before (a link to one cannot move).
    assert sorted(t[1:] for t in tasks_after) == sorted(t[1:] for t in tasks_before)
    assert min(t[0] for t in tasks_after) > max(t[0] for t in tasks_before)
    for table, columns in UNCHANGED.items():
        assert _query(db, f"SELECT {columns} FROM {table} ORDER BY ALL") == before[table], table
    assert _query(db, definitions) == tables
    assert _query(db, "SELECT DISTINCT run_id FROM records") == [(1,)]  # each kept its first
    with duckdb.connect(str(db)) as con, pytest.raises(duckdb.ConstraintException):
        con.execute("INSERT INTO xref SELECT * FROM xref LIMIT 1")


def test_a_re_run_moves_updated_at_only_for_the_golden_records_it_changed(
    store: Path, sample_files: list[Path], tmp_path: Path
) -> None:
    """A golden record keeps its updated_at through a re-run that leaves its values,
    extras and record count as they were; one that lost a record gets the run's time."""
    db = tmp_path / "again.duckdb"
    shutil.copy(store, db)
    (gone, golden_id), *_ = _query(
        db,
        "SELECT x.record_id, x.golden_id FROM xref x JOIN golden g USING (golden_id) "
        "WHERE x.source = 'crm' AND g.record_count > 2 ORDER BY 1 LIMIT 1",
    )
    files = _copied(sample_files, tmp_path)
    crm = tmp_path / "crm.csv"
    frame = pd.read_csv(crm, dtype=str, keep_default_na=False)
    frame[frame["customer_no"] != gone].to_csv(crm, index=False)
    columns = ", ".join(["golden_id", "record_count", "extra", *ATTRIBUTES])
    before = {r[0]: r for r in _query(db, f"SELECT {columns}, updated_at FROM golden")}
    result = _run("reconcile", *map(str, files), "--db", str(db), "--json")
    assert result.exit_code == 0, result.output
    after = _query(db, f"SELECT {columns}, updated_at FROM golden WHERE status = 'active'")
    kept = moved = 0
    for row in after:
        if (old := before.get(row[0])) is None:
            continue
        same_values = old[:-1] == row[:-1]
        if same_values:
            kept += 1
        else:
            moved += 1
        assert (old[-1] == row[-1]) == same_values, (old, row)
    assert moved >= 1 and kept > 10 * moved
    assert before[golden_id][-1] != next(r for r in after if r[0] == golden_id)[-1]


def test_model_artefact(store: Path, tmp_path: Path) -> None:
    out = tmp_path / "model.json"
    result = _run("model", "--db", str(store), "--out", str(out))
    assert result.exit_code == 0, result.output
    artefact = json.loads(out.read_text())
    assert artefact["format"] == "mdm.model/1"
    assert artefact["rules_fingerprint"] == artefact["model_id"].split("-")[0]
    levels = artefact["splink_settings"]["comparisons"][0]["comparison_levels"]
    assert any("m_probability" in level for level in levels)  # trained, not a template


def test_name_equals_path_names_the_source(sample_dir: Path, tmp_path: Path) -> None:
    # A file with any name is read as the 'crm' system (and with crm's mapping).
    renamed = tmp_path / "export_2026_11.csv"
    shutil.copy(sample_dir / "crm.csv", renamed)
    db = tmp_path / "named.duckdb"
    result = _run("reconcile", f"crm={renamed}", "--db", str(db), "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["sources"][0]["name"] == "crm"
    assert _query(db, "SELECT DISTINCT source FROM records") == [("crm",)]


def test_a_re_run_gives_only_a_record_whose_raw_values_changed_its_next_version(
    store: Path, sample_files: list[Path], tmp_path: Path
) -> None:
    db = tmp_path / "again.duckdb"
    shutil.copy(store, db)
    files = _copied(sample_files, tmp_path)
    crm = tmp_path / "crm.csv"
    frame = pd.read_csv(crm, dtype=str, keep_default_na=False)
    changed = frame.loc[0, "customer_no"]
    frame.loc[0, "town"] = frame.loc[0, "town"] + "ville"
    frame.to_csv(crm, index=False)
    result = _run("reconcile", *map(str, files), "--db", str(db), "--json")
    assert result.exit_code == 0, result.output
    versions = _query(
        db,
        "SELECT source, record_id, version, run_id FROM records WHERE version <> 1 OR run_id <> 1",
    )
    assert versions == [("crm", changed, 2, 2)]
    updated = _query(db, "SELECT source, record_id FROM events WHERE kind = 'record_updated'")
    assert updated == [("crm", changed)]


def _edited_sources(sample_files: list[Path], folder: Path) -> list[Path]:
    """The sample files with the CRM export changed as a day's changes change it: values
    edited (one first name to another person's), records deleted, new records of people
    already known and one of a new person."""
    files = _copied(sample_files, folder)
    crm = folder / "crm.csv"
    frame = pd.read_csv(crm, dtype=str, keep_default_na=False)
    frame.loc[0:4, "town"] = frame.loc[0:4, "town"] + " Cross"
    frame.loc[5, "fname"] = "Bartholomew"
    frame.loc[6, "email"] = ""
    added = frame.loc[20:25].copy()
    added["customer_no"] = added["customer_no"] + "-2"
    added["mobile"] = ""
    new_person = {"fname": "Zebedee", "surname": "Quillfeather", "dob": "01/02/1903"}
    for column, value in new_person.items():
        added.iloc[-1, added.columns.get_loc(column)] = value
    added.iloc[-1, added.columns.get_loc("email")] = "zq1903@example.org"
    frame = pd.concat([frame.drop(index=range(10, 16)), added])
    frame.to_csv(crm, index=False)
    return files


def test_a_re_run_derives_again_only_what_changed_and_ends_as_deriving_everything(
    store: Path, sample_files: list[Path], tmp_path: Path
) -> None:
    """A re-run with the last run's survivorship derives again only the golden records
    whose records changed, came or went; the store it leaves is the one deriving every
    golden record leaves (golden rows, lineage and events)."""
    files = _edited_sources(sample_files, tmp_path)
    stores = {}
    for name in ("only_changed", "everything"):
        db = tmp_path / f"{name}.duckdb"
        shutil.copy(store, db)
        if name == "everything":  # no fingerprint on record: every golden record again
            with duckdb.connect(str(db)) as con:
                con.execute("UPDATE runs SET report = NULL")
        result = _run("reconcile", *map(str, files), "--db", str(db), "--json")
        assert result.exit_code == 0, result.output
        stores[name] = db
    queries = {
        "golden": "SELECT * EXCLUDE (created_at, updated_at), updated_at < (SELECT max("
        "started_at) FROM runs) AS kept_time FROM golden ORDER BY golden_id",
        "lineage": "SELECT * FROM lineage ORDER BY ALL",
        "events": "SELECT kind, golden_id, source, record_id, detail FROM events ORDER BY ALL",
        "event_values": "SELECT * EXCLUDE (event_id) FROM event_values ORDER BY ALL",
    }
    for table, sql in queries.items():
        assert _query(stores["only_changed"], sql) == _query(stores["everything"], sql), table
    changed = _query(
        stores["only_changed"],
        "SELECT count(*) FILTER (WHERE kind = 'golden_changed'), count(*) FILTER (WHERE "
        "kind = 'golden_created'), count(*) FILTER (WHERE kind = 'record_deleted') FROM events "
        "WHERE json_extract_string(detail, '$.run_id') = '2'",
    )
    assert all(n > 0 for n in changed[0]), changed

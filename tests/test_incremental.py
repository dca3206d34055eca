"""Incremental batches: new and changed records matched against the golden master,
existing people keep their ids, a batch sent twice changes nothing the second time."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from typer.testing import CliRunner

from mdm.bulk.ingest import parse_source_arg
from mdm.bundled import DEFAULT_MATCH_RULES
from mdm.cli import app
from mdm.errors import InputError
from mdm.incremental import reconcile_incremental
from mdm.rules.bundle import RulesBundle
from mdm.store.events import replay_differences

REPO = Path(__file__).resolve().parents[1]


def _xref(db: Path) -> dict:
    with duckdb.connect(str(db), read_only=True) as con:
        return dict(
            ((s, r), g)
            for s, r, g in con.execute("SELECT source, record_id, golden_id FROM xref").fetchall()
        )


def _batch(sample_dir: Path, tmp_path: Path) -> Path:
    """20 known people arriving again under new ids, 10 known records with a new town,
    one with a date of birth that is not a date."""
    crm = pd.read_csv(sample_dir / "crm.csv", dtype=str)
    copies = crm.iloc[:20].copy()
    copies["customer_no"] = [f"NEW{i}" for i in range(20)]
    moved = crm.iloc[20:30].copy()
    moved["town"] = "Newtown"
    broken = crm.iloc[30:31].copy()
    broken["customer_no"] = "BROKEN1"
    broken["dob"] = "31/02/1980"
    path = tmp_path / "crm_batch.csv"
    pd.concat([copies, moved, broken]).to_csv(path, index=False)
    return path


def test_a_batch_links_to_the_master_and_a_second_send_changes_nothing(
    reconciled_db: Path, sample_dir: Path, tmp_path: Path
) -> None:
    db = tmp_path / "mdm.duckdb"
    shutil.copy(reconciled_db, db)
    before = _xref(db)
    rules = RulesBundle.load(DEFAULT_MATCH_RULES)
    batch = [parse_source_arg(f"crm={_batch(sample_dir, tmp_path)}")]
    first = reconcile_incremental(batch, db, rules.rules_dir, rules.survivorship)
    assert first.records == 31
    assert first.actions.get("linked", 0) >= 25  # known people find their golden records
    assert first.unparseable == {"date_of_birth": 1}  # left out, not fatal
    after = _xref(db)
    assert {k: after[k] for k in before} == before  # nobody already known is renumbered
    assert ("crm", "NEW0") in after and ("crm", "BROKEN1") in after
    with duckdb.connect(str(db), read_only=True) as con:
        events = con.execute("SELECT count(*) FROM events").fetchall()[0][0]
        towns = con.execute("SELECT count(*) FROM records WHERE city = 'newtown'").fetchall()
        assert towns == [(10,)]
    again = reconcile_incremental(batch, db, rules.rules_dir, rules.survivorship)
    assert again.actions == {"unchanged": 31}
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM events").fetchall()[0][0] == events
        assert replay_differences(con) == []
    assert _xref(db) == after


def test_the_cli_runs_a_batch_and_refuses_without_a_store(
    reconciled_db: Path, sample_dir: Path, tmp_path: Path
) -> None:
    db = tmp_path / "mdm.duckdb"
    shutil.copy(reconciled_db, db)
    path = _batch(sample_dir, tmp_path)
    runner = CliRunner()
    done = runner.invoke(app, ["reconcile", "--incremental", f"crm={path}", "--db", str(db),
                               "--json"])  # fmt: skip
    assert done.exit_code == 0, done.output
    assert json.loads(done.output)["records"] == 31
    columns = json.loads(done.output)["columns"]["crm"]
    assert "record_id <- 'customer_no'" in columns and "not used (kept as extra" in columns
    said = runner.invoke(app, ["reconcile", "--incremental", f"crm={path}", "--db", str(db)])
    assert "columns of crm: by schema name: " in said.output, said.output
    missing = runner.invoke(app, ["reconcile", "--incremental", f"crm={path}", "--db",
                                  str(tmp_path / "none.duckdb")])  # fmt: skip
    assert missing.exit_code == 2 and "needs one" in missing.output
    rules = RulesBundle.load(DEFAULT_MATCH_RULES)
    with pytest.raises(InputError):
        reconcile_incremental([parse_source_arg(f"crm={path}")], tmp_path / "x.duckdb",
                              rules.rules_dir, rules.survivorship)  # fmt: skip

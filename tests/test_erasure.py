"""Erasure: a person's records leave every table and the store file's bytes."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from mdm.bundled import DEFAULT_MATCH_RULES
from mdm.cli import app
from mdm.erasure import erase
from mdm.errors import NotFoundError
from mdm.rules.bundle import RulesBundle

REPO = Path(__file__).resolve().parents[1]
CANARY = "canary.erasure.zq7@example.org"


def _store_with_canary(reconciled_db: Path, tmp_path: Path) -> tuple[Path, str]:
    """A store where one person (two records) carries a unique email everywhere it can."""
    db = tmp_path / "mdm.duckdb"
    shutil.copy(reconciled_db, db)
    with duckdb.connect(str(db)) as con:
        golden_id = con.execute(
            "SELECT golden_id FROM golden WHERE status = 'active' AND record_count = 2 "
            "ORDER BY golden_id LIMIT 1"
        ).fetchall()[0][0]
        con.execute(
            "UPDATE records SET email = ?, raw = json_object('email', ?) WHERE (source, "
            "record_id) IN (SELECT source, record_id FROM xref WHERE golden_id = ?)",
            [CANARY, CANARY, golden_id],
        )
        con.execute("UPDATE golden SET email = ? WHERE golden_id = ?", [CANARY, golden_id])
        con.execute("UPDATE lineage SET value = ? WHERE golden_id = ? AND attribute = 'email'",
                    [CANARY, golden_id])  # fmt: skip
        con.execute("CHECKPOINT")
    assert CANARY.encode() in db.read_bytes()  # the test can see it before
    return db, golden_id


def _everywhere(db: Path) -> bytes:
    return b"".join(p.read_bytes() for p in db.parent.glob(db.name + "*") if p.is_file())


def test_erasing_a_person_leaves_no_trace_in_the_file(reconciled_db, tmp_path) -> None:
    db, golden_id = _store_with_canary(reconciled_db, tmp_path)
    done = erase(db, golden_id, RulesBundle.load(DEFAULT_MATCH_RULES), "dpo")
    assert len(done.records) == 2 and not done.golden_remains
    assert CANARY.encode() not in _everywhere(db)
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM xref WHERE golden_id = ?", [golden_id]
                           ).fetchall() == [(0,)]  # fmt: skip
        row = con.execute(
            "SELECT status, record_count, first_name, email FROM golden WHERE golden_id = ?",
            [golden_id],
        ).fetchall()
        assert row == [("retired", 0, None, None)]  # the id resolves; no values
        kinds = con.execute(
            "SELECT kind FROM events WHERE golden_id = ? AND kind IN ('record_deleted', "
            "'person_erased') ORDER BY event_id",
            [golden_id],
        ).fetchall()
        assert kinds == [("record_deleted",), ("record_deleted",), ("person_erased",)]
        # Everyone else is still there.
        assert con.execute("SELECT count(*) FROM records").fetchall()[0][0] > 100


def test_erasing_one_source_rederives_the_rest(reconciled_db, tmp_path) -> None:
    db, golden_id = _store_with_canary(reconciled_db, tmp_path)
    with duckdb.connect(str(db), read_only=True) as con:
        source = con.execute(
            "SELECT min(source) FROM xref WHERE golden_id = ?", [golden_id]
        ).fetchall()[0][0]
    result = CliRunner().invoke(
        app, ["erase", golden_id, "--source", source, "--by", "dpo", "--db", str(db)]
    )
    assert result.exit_code == 0, result.output
    assert "erased 1 record(s)" in result.output
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("SELECT status, record_count FROM golden WHERE golden_id = ?",
                           [golden_id]).fetchall() == [("active", 1)]  # fmt: skip


def test_erasing_nobody_is_refused(reconciled_db, tmp_path) -> None:
    db = tmp_path / "mdm.duckdb"
    shutil.copy(reconciled_db, db)
    before = db.read_bytes()
    rules = RulesBundle.load(DEFAULT_MATCH_RULES)
    with pytest.raises(NotFoundError, match="no golden record GNOPE"):
        erase(db, "GNOPE", rules, "dpo")
    result = CliRunner().invoke(app, ["erase", "GNOPE", "--db", str(db)])
    assert result.exit_code != 0 and "no golden record GNOPE" in result.output
    assert db.read_bytes() == before


def test_job_results_lose_the_erased_rows(tmp_path: Path) -> None:
    """What `mdm erase` and the service do to the job folders beside the store."""
    import pandas as pd

    from mdm.erasure import erase_from_job_results

    job = tmp_path / "store.duckdb.jobs" / "j1"
    job.mkdir(parents=True)
    pd.DataFrame({"source": ["crm", "crm"], "record_id": ["1", "2"],
                  "golden_id": ["GA", "GB"], "action": ["created"] * 2}).to_parquet(
        job / "results.parquet")  # fmt: skip
    pd.DataFrame({"golden_id": ["GA", "GB"], "first_name": ["canary", "ann"]}).to_parquet(
        job / "golden.parquet"
    )
    pd.DataFrame({"source_l": ["crm"], "record_id_l": ["2"], "source_r": ["web"],
                  "record_id_r": ["1"]}).to_parquet(job / "review.parquet")  # fmt: skip
    changed = erase_from_job_results(job.parent, [("crm", "1")], ["GA"])
    assert changed == 2  # the review task is about other records
    assert pd.read_parquet(job / "results.parquet")["record_id"].tolist() == ["2"]
    assert pd.read_parquet(job / "golden.parquet")["golden_id"].tolist() == ["GB"]
    assert len(pd.read_parquet(job / "review.parquet")) == 1
    assert b"canary" not in (job / "golden.parquet").read_bytes()


def test_a_restored_backup_from_before_an_erasure_erases_them_again(
    reconciled_db, tmp_path
) -> None:
    """The erasure leaves tombstones (hashes, no values) in the store and beside it; a
    restore of an older backup erases those records again, says so, and leaves no byte
    of them under the store's folder (the old backup itself, kept elsewhere, still
    holds them: it is the operator's to destroy)."""
    (tmp_path / "store").mkdir()
    db, golden_id = _store_with_canary(reconciled_db, tmp_path / "store")
    old = tmp_path / "elsewhere" / "before.duckdb"
    runner = CliRunner()
    taken = runner.invoke(app, ["backup", "--db", str(db), "--out", str(old)])
    assert taken.exit_code == 0, taken.output
    erased = runner.invoke(app, ["erase", golden_id, "--db", str(db), "--by", "dpo"])
    assert erased.exit_code == 0, erased.output
    tombstones = (db.parent / f"{db.name}.erasures").read_text()
    assert len(tombstones.split()) == 2 and "@" not in tombstones
    back = runner.invoke(app, ["restore", str(old), "--db", str(db), "--force"])
    assert back.exit_code == 0, back.output
    assert "erased 2 record(s) again" in back.output
    assert CANARY.encode() in old.read_bytes()  # the check below can fail
    for path in (tmp_path / "store").rglob("*"):
        if path.is_file():
            assert CANARY.encode() not in path.read_bytes(), path
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM xref WHERE golden_id = ?", [golden_id]
                           ).fetchall() == [(0,)]  # fmt: skip
        assert con.execute("SELECT count(*) FROM erasures").fetchall() == [(2,)]


def test_an_erased_record_is_not_taken_again_from_a_source_extract(
    reconciled_db, sample_files, tmp_path
) -> None:
    from mdm.bulk.ingest import parse_source_arg
    from mdm.bulk.reconcile import reconcile

    db, golden_id = _store_with_canary(reconciled_db, tmp_path)
    with duckdb.connect(str(db), read_only=True) as con:
        keys = con.execute(
            "SELECT source, record_id FROM xref WHERE golden_id = ?", [golden_id]
        ).fetchall()
    erase(db, golden_id, RulesBundle.load(DEFAULT_MATCH_RULES), "dpo")
    again = reconcile(
        [parse_source_arg(str(p)) for p in sample_files], db, RulesBundle.load(DEFAULT_MATCH_RULES)
    )
    assert any("2 record(s) left out: they were erased" in note for note in again.notes)
    with duckdb.connect(str(db), read_only=True) as con:
        for source, record_id in keys:
            assert con.execute(
                "SELECT count(*) FROM records WHERE source = ? AND record_id = ?",
                [source, record_id],
            ).fetchall() == [(0,)]

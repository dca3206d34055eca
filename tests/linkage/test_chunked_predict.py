"""Chunked prediction (large runs score a slice of the records at a time) gives the
pairs, scores and clusters of scoring everything at once."""

from __future__ import annotations

import os
from pathlib import Path

import duckdb
import pytest

import mdm.linkage.model as model
from mdm.bulk.ingest import parse_source_arg
from mdm.bulk.reconcile import reconcile
from mdm.bundled import DEFAULT_MATCH_RULES
from mdm.rules.bundle import RulesBundle

REPO = Path(__file__).resolve().parents[2]


def _run(files: list[Path], db: Path) -> tuple[list, list]:
    reconcile([parse_source_arg(str(p)) for p in files], db, RulesBundle.load(
        DEFAULT_MATCH_RULES))  # fmt: skip
    with duckdb.connect(str(db), read_only=True) as con:
        xref = con.execute("SELECT source, record_id, golden_id FROM xref ORDER BY ALL").fetchall()
        tasks = con.execute(
            "SELECT source_l, record_id_l, source_r, record_id_r, round(match_weight, 9) "
            "FROM review_tasks ORDER BY ALL"
        ).fetchall()
    return xref, tasks


def test_chunks_change_nothing(
    sample_files: list[Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    whole = _run(sample_files, tmp_path / "whole.duckdb")
    monkeypatch.setattr(model, "PREDICT_CHUNK_RECORDS", 300)  # 1,200 records: 4 slices
    sliced = _run(sample_files, tmp_path / "sliced.duckdb")
    assert sliced == whole and whole[0]


def test_a_sliced_run_says_how_far_scoring_is(
    sample_files: list[Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Scoring is most of a large run: each slice stored is reported, in order."""
    said: list[tuple[str, str]] = []

    class Recorder:
        def stage(self, name: str, detail: str = "") -> None:
            said.append((name, detail))

    monkeypatch.setattr(model, "PREDICT_CHUNK_RECORDS", 300)  # 1,200 records: 4 slices
    specs = [parse_source_arg(str(p)) for p in sample_files]
    rules = RulesBundle.load(DEFAULT_MATCH_RULES)
    reconcile(specs, tmp_path / "mdm.duckdb", rules, progress=Recorder())
    predict = [detail for name, detail in said if name == "predict"]
    assert predict == ["scoring candidate pairs"] + [
        f"scoring candidate pairs: slice {n} of 4 done" for n in (1, 2, 3)
    ] + ["estimating the prior over the scored pairs"]  # a new model: over all its pairs
    assert [name for name, _ in said][-2:] == ["cluster", "write"]


def test_the_write_stage_gets_room_for_the_store_indexes() -> None:
    """The 10M run ran out of memory writing the cross-reference at the run's 1.5 GB
    cap (a primary-key index cannot spill): the write stage's cap grows with records,
    to what the 10M run wrote in (7 GB), and no further: what DuckDB is given past its
    need it keeps, and the run's peak is the 12 GiB target's."""
    from mdm.bulk.reconcile import _megabytes, write_memory_limit

    assert write_memory_limit(0) == f"{_megabytes('1.5GB')}MB"
    assert _megabytes("6.5GB") <= _megabytes(write_memory_limit(10_000_000)) <= _megabytes("7GB")
    assert _megabytes("2GiB") == 2048 and _megabytes("512MB") == 512


def test_scoring_gets_more_memory_as_the_machine_allows(monkeypatch) -> None:
    """Scoring a large run is faster with room for its joins: its limit grows with the
    records, up to a quarter of the machine's memory, never below the run's own; a limit
    the user set is kept."""
    from mdm.bulk import reconcile as run
    from mdm.bulk.reconcile import _megabytes, machine_memory, scoring_memory_limit

    monkeypatch.delenv("MDM_DUCKDB_MEMORY_LIMIT", raising=False)
    base = _megabytes(run.DUCKDB_MEMORY_LIMIT)
    big, small = 24 * 2**30, 2 * 2**30
    assert _megabytes(scoring_memory_limit(0, big)) == base
    assert base < _megabytes(scoring_memory_limit(1_000_000, big)) < base + 300
    assert _megabytes(scoring_memory_limit(10_000_000, big)) == base + 2861
    assert _megabytes(scoring_memory_limit(100_000_000, big)) == 6 * 1024  # a quarter
    assert _megabytes(scoring_memory_limit(10_000_000, small)) == base  # never below
    assert 0 < machine_memory() <= os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    monkeypatch.setenv("MDM_DUCKDB_MEMORY_LIMIT", "1GB")
    assert scoring_memory_limit(10_000_000, big) == f"{base}MB"


def test_the_same_records_give_the_same_model_and_threshold(
    sample_files: list[Path], tmp_path: Path
) -> None:
    """DuckDB sums EM's expectations in no fixed order; the model keeps its parameters
    to 12 significant digits, so two runs over the same records agree to the bit (a
    threshold read off the scores would otherwise move with the last bits)."""
    runs = []
    for name in ("one", "two"):
        db = tmp_path / f"{name}.duckdb"
        reconcile([parse_source_arg(str(p)) for p in sample_files], db,
                  RulesBundle.load(DEFAULT_MATCH_RULES))  # fmt: skip
        with duckdb.connect(str(db), read_only=True) as con:
            runs.append(con.execute(
                "SELECT (SELECT (model -> 'settings')::VARCHAR FROM models ORDER BY created_at "
                "DESC LIMIT 1), "
                "(SELECT link_threshold FROM runs ORDER BY run_id DESC LIMIT 1)"
            ).fetchall())  # fmt: skip
    assert runs[0] == runs[1]

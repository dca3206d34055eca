"""Progress as a typed channel: a run's stages written as JSON lines by one process and
read by another, with their numbers and the error a run ends with."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from mdm.progress import RECONCILE_STAGES, Detail, JsonLinesProgress, read_progress


def test_stages_and_their_numbers_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "progress.jsonl"
    with path.open("a") as stream:
        progress = JsonLinesProgress(stream)
        progress.stage("read", "1 source(s)")
        progress.stage("standardise", Detail("1,200 records", records=1200))
        progress.stage("predict", Detail("slice 2 of 4 done", done=2, total=4))
        progress.error("crm.csv: no record_id")
    with path.open("a") as stream:
        stream.write('{"stage": "clu')  # a line still being written is left out
    steps = read_progress(path)
    assert [s.stage for s in steps] == ["read", "standardise", "predict", None]
    assert steps[1].records == 1200 and steps[1].detail == "1,200 records"
    assert (steps[2].done, steps[2].total) == (2, 4)
    assert steps[3].error == "crm.csv: no record_id"
    assert read_progress(tmp_path / "missing.jsonl") == []


def test_a_detail_is_its_text_to_whoever_shows_text() -> None:
    detail = Detail("slice 1 of 3 done", done=1, total=3)
    assert detail == "slice 1 of 3 done" and f"[predict] {detail}" == "[predict] slice 1 of 3 done"


def test_reconcile_writes_every_stage_and_its_error(sample_files: list[Path], tmp_path) -> None:
    """The command a full job runs in a child process: every stage of a run, in order,
    then, for a run that fails, the error it printed."""
    steps_path = tmp_path / "progress.jsonl"
    sources = [f"{p.stem}={p}" for p in sample_files]
    done = subprocess.run(
        [sys.executable, "-m", "mdm", "reconcile", *sources, "--db", str(tmp_path / "a.duckdb"),
         "--progress-file", str(steps_path)],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    steps = read_progress(steps_path)
    seen = list(dict.fromkeys(s.stage for s in steps))
    assert seen == list(RECONCILE_STAGES)
    assert next(s for s in steps if s.stage == "standardise").records == 1200
    bad = tmp_path / "bad.csv"
    bad.write_text("colour\nred\n")
    failed = subprocess.run(
        [sys.executable, "-m", "mdm", "reconcile", f"bad={bad}", "--db", str(tmp_path / "b.duckdb"),
         "--progress-file", str(tmp_path / "failed.jsonl")],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert failed.returncode == 2
    errors = [s.error for s in read_progress(tmp_path / "failed.jsonl") if s.error]
    assert errors and errors[-1] in failed.stderr

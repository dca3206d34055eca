"""A bulk run's input read a chunk at a time and standardised in worker processes:
the same records, keys and reports as standardising every chunk in the run's own
process, in real worker processes, on real files in every format the generator writes."""

from __future__ import annotations

from concurrent.futures import Future
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pytest

import mdm.bulk.load as load
from mdm.bulk.ingest import SourceSpec
from mdm.bulk.load import load_sources, standardise_processes
from mdm.errors import ConfigError, DuplicateRecordError
from mdm.names.reference import build_variant_groups
from mdm.schema import RECORD_COLUMNS
from mdm.store import attach_store


class _Said:
    """A progress that keeps what it is told."""

    def __init__(self, said: list[tuple[str, str]]) -> None:
        self.said = said

    def stage(self, name: str, detail: object = "") -> None:
        self.said.append((name, str(detail)))


def _load(
    tmp_path: Path,
    files: list[Path],
    processes: int,
    chunk_rows: int,
    progress: Any = None,
) -> tuple[pd.DataFrame, list[dict[str, Any]], dict[str, float]]:
    """The records the files give (sorted), their sources' summaries and the seconds."""
    con = duckdb.connect()
    attach_store(con, tmp_path / f"store-{processes}-{chunk_rows}.duckdb")
    columns = ", ".join([*RECORD_COLUMNS, "extra", "raw"])
    con.execute(f"CREATE TABLE memory.incoming AS SELECT {columns} FROM store.records LIMIT 0")
    seconds = {"read": 0.0, "standardise": 0.0}
    specs = [SourceSpec(path.stem, path) for path in files]
    groups = build_variant_groups([("robert", "bob"), ("william", "bill")])
    summaries = load_sources(
        con, specs, Path("rules"), groups, "memory.incoming", seconds, progress,
        chunk_rows=chunk_rows, processes=processes,
    )  # fmt: skip
    records = con.execute("SELECT * FROM memory.incoming ORDER BY source, record_id").df()
    con.close()
    return records, [vars(s) for s in summaries], seconds


def test_worker_processes_give_the_same_records_as_one_process(
    sample_files: list[Path], tmp_path: Path
) -> None:
    one, one_summaries, _ = _load(tmp_path, sample_files, processes=1, chunk_rows=97)
    many, many_summaries, seconds = _load(tmp_path, sample_files, processes=2, chunk_rows=97)
    assert len(one) == sum(s["records"] for s in one_summaries) > 1000
    pd.testing.assert_frame_equal(one, many)
    assert one_summaries == many_summaries  # records, date order, unparseable, locale
    assert seconds["read"] > 0 and seconds["standardise"] > 0


def test_a_file_read_in_chunks_gives_the_records_it_gives_whole(
    sample_files: list[Path], tmp_path: Path
) -> None:
    whole, whole_summaries, _ = _load(tmp_path, sample_files, processes=1, chunk_rows=1_000_000)
    chunked, chunked_summaries, _ = _load(tmp_path, sample_files, processes=2, chunk_rows=131)
    pd.testing.assert_frame_equal(whole, chunked)
    for whole_summary, chunked_summary in zip(whole_summaries, chunked_summaries, strict=True):
        # the locale is read from the first chunk: its reasons count that chunk's values
        whole_summary.pop("locale"), chunked_summary.pop("locale")
        assert whole_summary == chunked_summary


def test_an_id_repeated_across_chunks_stops_the_run(tmp_path: Path) -> None:
    source = tmp_path / "crm.csv"
    rows = [f"r{i},Ann,Smith{i}" for i in range(300)] + ["r5,Bob,Jones"]
    source.write_text("record_id,first_name,last_name\n" + "\n".join(rows) + "\n")
    with pytest.raises(DuplicateRecordError, match="record_id repeats.*r5"):
        _load(tmp_path, [source], processes=2, chunk_rows=100)


class _DeadPool:
    """A process pool whose workers have died: every chunk sent comes back broken."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        self.sent = 0

    def submit(self, *args: object) -> Future[object]:
        self.sent += 1
        future: Future[object] = Future()
        future.set_exception(BrokenProcessPool("a worker was killed"))
        return future

    def shutdown(self, **kwargs: object) -> None:
        pass


def test_dead_workers_leave_the_rest_to_this_process(
    sample_files: list[Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    expected, expected_summaries, _ = _load(tmp_path, sample_files, 1, 150)
    monkeypatch.setattr(load, "ProcessPoolExecutor", _DeadPool)
    said: list[tuple[str, str]] = []
    records, summaries, _ = _load(
        tmp_path, sample_files, processes=2, chunk_rows=150, progress=_Said(said)
    )
    pd.testing.assert_frame_equal(expected, records)
    assert summaries == expected_summaries
    assert ("standardise", "the worker processes stopped (a worker was killed); the rest "
            "was standardised in this process") in said  # fmt: skip


def test_the_number_of_processes_follows_the_machine_or_the_setting(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("MDM_STANDARDISE_PROCESSES", raising=False)
    monkeypatch.setattr(load.os, "sched_getaffinity", lambda pid: {0, 1})
    assert standardise_processes() == 2
    monkeypatch.setattr(load.os, "sched_getaffinity", lambda pid: set(range(32)))
    assert standardise_processes() == 4
    monkeypatch.setenv("MDM_STANDARDISE_PROCESSES", "1")
    assert standardise_processes() == 1
    for wrong in ("0", "two", "-3"):
        monkeypatch.setenv("MDM_STANDARDISE_PROCESSES", wrong)
        with pytest.raises(ConfigError, match="whole number of 1 or more"):
            standardise_processes()

"""A bulk run's input: source files read, mapped and standardised into DuckDB a chunk at
a time, with their derived keys and extra columns."""

from __future__ import annotations

import itertools
import json
import multiprocessing
import os
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import asdict, dataclass
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

from mdm.bulk.ingest import (
    CHUNK_ROWS,
    MappedSource,
    SourceSpec,
    SourceSummary,
    distinct_values,
    map_source,
    map_source_chunks,
    repeated_ids_message,
)
from mdm.errors import ConfigError, DuplicateRecordError, InputError
from mdm.headers import ColumnMapping
from mdm.linkage.features import VariantGroups, add_features
from mdm.progress import Progress, SilentProgress
from mdm.rules.sources import SourceOptions, find_source_mapping
from mdm.standardise.dates import choose_day_month_order
from mdm.standardise.frame import (
    ChosenOrder,
    StandardiseOptions,
    StandardiseReport,
    decide_locale,
    standardise_frame,
)
from mdm.standardise.locale import SourceLocale
from mdm.standardise.text import clean_text
from mdm.store.names import active_pairs


def _check_names(specs: Sequence[SourceSpec]) -> None:
    names = [spec.name for spec in specs]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise InputError(f"source name(s) {repeated} given twice; name them NAME=PATH")


def read_sources(specs: Sequence[SourceSpec], rules_dir: Path) -> list[MappedSource]:
    """Read and map every source; any problem stops the run before anything is written."""
    _check_names(specs)
    return [map_source(spec, find_source_mapping(rules_dir, spec.name)) for spec in specs]


def standardise_chunk(
    source: MappedSource,
    order: ChosenOrder,
    locale: SourceLocale | None = None,
    date_reason: str = "configured",
) -> tuple[pd.DataFrame, StandardiseReport]:
    """Standardise a source's records (a chunk of them), with extras and raw values as
    JSON: the records, and the report (date order, locale, values that could not be read)."""
    options = StandardiseOptions(
        default_region=source.options.default_region,
        date_order=order,
        date_reason=date_reason,
        locale=locale,
    )
    clean, report = standardise_frame(source.frame, options)
    clean["source"] = source.name
    clean["record_id"] = source.frame["record_id"]
    clean["updated_at"] = source.frame.get("updated_at")
    clean["extra"] = _json_lines(source.extras)
    clean["raw"] = _json_lines(source.raw)
    return clean, report


def _date_order(
    spec: SourceSpec,
    first: MappedSource,
    single: bool,
    country: str | None,
) -> tuple[ChosenOrder, str]:
    """The day/month order of a source's dates and why. An order set in its mapping
    stands; otherwise it is read from every distinct date in the file (a first pass over
    the date column alone when the file is longer than one chunk), as if the file were
    read whole, the source's ``country`` breaking a tie."""
    order = first.options.date_order
    if order != "auto" or single or "date_of_birth" not in first.frame:
        return order, "configured"
    seen = distinct_values(spec.path, first.columns.columns["date_of_birth"], first.options.sheet)
    values = pd.unique(pd.Series(sorted(seen), dtype=object))
    evidence, reason = choose_day_month_order(values, country)
    return evidence.order, reason


def _source_locale(first: MappedSource) -> SourceLocale:
    """The locale of a source, from its mapping or the values of its first chunk."""
    return decide_locale(first.frame, first.options.default_region)


def load_sources(
    con: duckdb.DuckDBPyConnection,
    specs: Sequence[SourceSpec],
    rules_dir: Path,
    groups: VariantGroups,
    table: str,
    seconds: dict[str, float],
    progress: Progress | None = None,
    *,
    chunk_rows: int = CHUNK_ROWS,
    processes: int | None = None,
) -> list[SourceSummary]:
    """Read, map and standardise every source into DuckDB table ``table`` a chunk at a
    time (``chunk_rows`` records), with their derived keys: memory holds a few chunks,
    never a whole file. Record ids repeated within a source stop the run. How each
    source's columns were mapped is reported to ``progress``.

    Chunks are standardised by ``processes`` worker processes (default
    :func:`standardise_processes`) while this process reads the next ones and inserts
    the finished ones, in file order; a run whose every file fits in one chunk
    standardises here. ``seconds`` gains "read" (reading and mapping) and
    "standardise" (waiting for and inserting standardised chunks)."""
    _check_names(specs)
    progress = progress or SilentProgress()
    summaries: list[SourceSummary] = []
    decided: dict[int, str] = {}

    def insert(done: _Done) -> None:
        summary = summaries[done.source]
        decided[done.source] = done.report.date_order  # "auto" only for a file of one chunk
        for column, count in done.report.unparseable.items():
            summary.unparseable[column] = summary.unparseable.get(column, 0) + count
        _add_locale(summary, done.report)
        con.register("chunk_table", done.table)
        con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM chunk_table").fetchall()
        con.unregister("chunk_table")
        summary.records += done.table.num_rows

    with _Standardiser(groups, processes, seconds, insert) as standardiser:
        for index, spec in enumerate(specs):
            clock = time.perf_counter()
            mapping = find_source_mapping(rules_dir, spec.name)
            chunks = map_source_chunks(spec, mapping, chunk_rows)
            first = next(chunks)
            progress.stage("read", f"{spec.name}: {first.columns.describe()}")
            second = next(chunks, None)
            locale = _source_locale(first)
            order, date_reason = _date_order(spec, first, second is None, locale.country)
            summary = SourceSummary(spec.name, str(spec.path), 0, order, {})
            summary.mapped, summary.unused = first.columns.rows(), list(first.columns.unused)
            summaries.append(summary)
            decided[index] = order
            if second is not None:
                standardiser.start()
            seconds["read"] += time.perf_counter() - clock
            for chunk in _timed(itertools.chain([first, second], chunks), seconds):
                if chunk is not None:
                    standardiser.submit(_Job(index, chunk, order, locale, date_reason))
        standardiser.finish()
        if standardiser.broken is not None:
            progress.stage(
                "standardise",
                f"the worker processes stopped ({standardiser.broken}); the rest was "
                "standardised in this process",
            )
    for index, (spec, summary) in enumerate(zip(specs, summaries, strict=True)):
        _check_unique_across_chunks(con, table, spec)
        summary.date_order = decided[index]
    return summaries


def _timed(
    chunks: Iterator[MappedSource | None], seconds: dict[str, float]
) -> Iterator[MappedSource | None]:
    """``chunks``, the time spent reading each added to ``seconds["read"]``."""
    while True:
        clock = time.perf_counter()
        try:
            chunk = next(chunks)
        except StopIteration:
            return
        finally:
            seconds["read"] += time.perf_counter() - clock
        yield chunk


def standardise_processes() -> int:
    """How many processes standardise a bulk run's chunks: one per core this process
    may use, at most four (``MDM_STANDARDISE_PROCESSES`` overrides; 1 standardises in
    the run's own process). Standardising is Python and Arrow, one core per process;
    the rest of a run uses DuckDB's threads."""
    configured = os.environ.get("MDM_STANDARDISE_PROCESSES", "").strip()
    if configured:
        if not configured.isdigit() or int(configured) < 1:
            raise ConfigError(
                f"MDM_STANDARDISE_PROCESSES must be a whole number of 1 or more, not "
                f"{configured!r}; unset it to use one process per core"
            )
        return int(configured)
    return max(1, min(len(os.sched_getaffinity(0)), 4))


@dataclass(frozen=True)
class _Job:
    """One chunk of a source to standardise, with what its source decided."""

    source: int
    chunk: MappedSource
    order: ChosenOrder
    locale: SourceLocale
    date_reason: str


@dataclass(frozen=True)
class _Done:
    """A chunk standardised: its records with their derived keys, and its report."""

    source: int
    table: pa.Table
    report: StandardiseReport


@dataclass(frozen=True)
class _Sent:
    """A chunk as it travels to a worker process: its file columns as Arrow (cheap to
    send), mapped again there (mapping is selecting columns)."""

    source: int
    name: str
    path: Path
    options: SourceOptions
    columns: ColumnMapping
    raw: pa.Table
    start: int
    order: ChosenOrder
    locale: SourceLocale
    date_reason: str


def _standardise_job(job: _Job, groups: VariantGroups) -> _Done:
    """A chunk's records standardised, with their derived keys, as an Arrow table."""
    clean, report = standardise_chunk(job.chunk, job.order, job.locale, job.date_reason)
    clean = add_features(clean, groups)
    return _Done(job.source, pa.Table.from_pandas(clean, preserve_index=False), report)


#: The name-variant groups a worker process derives keys with (set when it starts).
_WORKER_GROUPS: VariantGroups = {}


def _start_worker(groups: VariantGroups) -> None:
    global _WORKER_GROUPS
    _WORKER_GROUPS = groups


def _standardise_sent(sent: _Sent) -> _Done:
    """:func:`_standardise_job` in a worker process."""
    raw = sent.raw.to_pandas()
    raw.index = pd.RangeIndex(sent.start, sent.start + len(raw))
    mapped = sent.columns.columns
    frame = pd.DataFrame({attr: raw[column] for attr, column in mapped.items()})
    extras = raw[[c for c in raw.columns if c not in set(mapped.values())]]
    chunk = MappedSource(sent.name, sent.path, sent.options, frame, extras, raw, sent.columns)
    job = _Job(sent.source, chunk, sent.order, sent.locale, sent.date_reason)
    return _standardise_job(job, _WORKER_GROUPS)


class _Standardiser:
    """Standardises chunks in worker processes and hands them back in the order they
    were given, to ``insert``; at most one chunk per process waits beyond those being
    worked on, so memory holds a few chunks. Without :meth:`start` (or with one
    process) each chunk is standardised where it is submitted."""

    def __init__(
        self,
        groups: VariantGroups,
        processes: int | None,
        seconds: dict[str, float],
        insert: Callable[[_Done], None],
    ) -> None:
        self.groups = groups
        self.processes = standardise_processes() if processes is None else processes
        self.seconds = seconds
        self.insert = insert
        self.pool: ProcessPoolExecutor | None = None
        self.waiting: deque[tuple[_Job, Future[_Done]]] = deque()
        #: Why the worker processes stopped, if they did (the rest is standardised here).
        self.broken: str | None = None

    def __enter__(self) -> _Standardiser:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.pool is not None:
            for _, future in self.waiting:
                future.cancel()
            self.pool.shutdown(wait=True, cancel_futures=True)

    def start(self) -> None:
        """Start the worker processes (once; a run of small files never needs them)."""
        if self.pool is None and self.processes > 1 and self.broken is None:
            self.pool = ProcessPoolExecutor(
                self.processes,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_start_worker,
                initargs=(self.groups,),
            )

    def submit(self, job: _Job) -> None:
        if self.pool is None:
            clock = time.perf_counter()
            self.insert(_standardise_job(job, self.groups))
            self.seconds["standardise"] += time.perf_counter() - clock
            return
        clock = time.perf_counter()
        chunk = job.chunk
        sent = _Sent(
            job.source, chunk.name, chunk.path, chunk.options, chunk.columns,
            pa.Table.from_pandas(chunk.raw, preserve_index=False),
            int(chunk.raw.index[0]), job.order, job.locale, job.date_reason,
        )  # fmt: skip
        self.seconds["read"] += time.perf_counter() - clock
        self.waiting.append((job, self.pool.submit(_standardise_sent, sent)))
        while len(self.waiting) > self.processes:
            self._insert_next()

    def finish(self) -> None:
        """Insert every chunk still being standardised."""
        while self.waiting:
            self._insert_next()

    def _insert_next(self) -> None:
        clock = time.perf_counter()
        job, future = self.waiting.popleft()
        try:
            done = future.result()
        except BrokenProcessPool as error:
            # A worker died (killed, or it could not start: a script that starts a run
            # must guard it with ``if __name__ == "__main__"``): finish here instead.
            self._stop_pool(str(error))
            done = _standardise_job(job, self.groups)
        self.insert(done)
        self.seconds["standardise"] += time.perf_counter() - clock

    def _stop_pool(self, why: str) -> None:
        assert self.pool is not None
        self.pool.shutdown(wait=False, cancel_futures=True)
        self.pool, self.broken = None, why
        waiting, self.waiting = self.waiting, deque()
        for job, _ in waiting:
            self.waiting.append((job, _finished(_standardise_job(job, self.groups))))


def _finished(done: _Done) -> Future[_Done]:
    """A future that already holds ``done``."""
    future: Future[_Done] = Future()
    future.set_result(done)
    return future


def _add_locale(summary: SourceSummary, report: StandardiseReport) -> None:
    """Add a chunk's locale report to its source's summary."""
    summary.locale = {name: asdict(choice) for name, choice in report.locale.items()}
    for country, count in report.own_country.items():
        summary.own_country[country] = summary.own_country.get(country, 0) + count
    summary.local_only += report.local_only


def _check_unique_across_chunks(
    con: duckdb.DuckDBPyConnection, table: str, spec: SourceSpec
) -> None:
    repeated = con.execute(
        f"SELECT record_id FROM {table} WHERE source = ? GROUP BY record_id "
        "HAVING count(*) > 1 ORDER BY record_id",
        [spec.name],
    ).fetchall()
    if repeated:
        examples = [row[0] for row in repeated[:5]]
        raise DuplicateRecordError(repeated_ids_message(spec, len(repeated), examples))


def _json_lines(frame: pd.DataFrame) -> pd.Series:
    """Each row as a JSON object (column -> text or null), computed by DuckDB."""
    if frame.shape[1] == 0:
        return pd.Series([None] * len(frame), index=frame.index, dtype=object)
    fields = ", ".join(
        f'"{c}" := "{c}"' for c in (str(name).replace('"', '""') for name in frame.columns)
    )
    with duckdb.connect() as con:
        con.register("frame", frame.reset_index(drop=True).assign(_row=np.arange(len(frame))))
        text = con.execute(
            f"SELECT to_json(struct_pack({fields}))::VARCHAR FROM frame ORDER BY _row"
        ).fetchnumpy()
    values = next(iter(text.values()))
    return pd.Series(np.asarray(values, dtype=object), index=frame.index, dtype=object)


def add_extra_columns(work: pd.DataFrame, names: Sequence[str]) -> pd.DataFrame:
    """Materialise the extra attributes the rules compare, cleaned like free text."""
    if not names:
        return work
    parsed = pd.DataFrame([json.loads(e) if e else {} for e in work["extra"]], index=work.index)
    work = work.copy()
    for name in names:
        values = parsed[name] if name in parsed else pd.Series(None, index=work.index)
        work[name] = values.map(clean_text, na_action="ignore").astype(object)
        work[name] = work[name].where(work[name].notna(), None)
    return work


def active_pairs_in_store(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str]]:
    """The store's active name variants (seeded from reference_names/, then grown)."""
    con.execute("USE store").fetchall()
    try:
        return active_pairs(con)
    finally:
        con.execute("USE memory").fetchall()


def add_extra_columns_sql(con: duckdb.DuckDBPyConnection, table: str, names: Sequence[str]) -> None:
    """:func:`add_extra_columns` for a DuckDB table, in place."""
    if not names:
        return
    con.create_function("mdm_clean_text", clean_text, ["VARCHAR"], "VARCHAR", side_effects=False)
    try:
        for name in names:
            quoted, key = name.replace('"', '""'), name.replace('"', '\\"')
            con.execute(f'ALTER TABLE {table} ADD COLUMN IF NOT EXISTS "{quoted}" VARCHAR')
            con.execute(
                f'UPDATE {table} SET "{quoted}" = mdm_clean_text(json_extract_string(extra, ?))',
                [f'$."{key}"'],
            ).fetchall()
    finally:
        con.remove_function("mdm_clean_text")

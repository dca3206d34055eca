"""A bulk run's input: source files read, mapped and standardised into DuckDB a chunk at
a time, with their derived keys and extra columns."""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from mdm.bulk.ingest import (
    MappedSource,
    SourceSpec,
    SourceSummary,
    distinct_values,
    map_source,
    map_source_chunks,
    repeated_ids_message,
)
from mdm.errors import DuplicateRecordError, InputError
from mdm.linkage.features import VariantGroups, add_features
from mdm.progress import Progress, SilentProgress
from mdm.rules.sources import find_source_mapping
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
) -> list[SourceSummary]:
    """Read, map and standardise every source into DuckDB table ``table`` a chunk at a
    time (:data:`mdm.bulk.ingest.CHUNK_ROWS` records), with their derived keys: memory holds
    one chunk, never a whole file. Record ids repeated within a source stop the run.
    How each source's columns were mapped is reported to ``progress``."""
    _check_names(specs)
    progress = progress or SilentProgress()
    summaries = []
    for spec in specs:
        clock = time.perf_counter()
        mapping = find_source_mapping(rules_dir, spec.name)
        chunks = map_source_chunks(spec, mapping)
        first = next(chunks)
        progress.stage("read", f"{spec.name}: {first.columns.describe()}")
        second = next(chunks, None)
        locale = _source_locale(first)
        order, date_reason = _date_order(spec, first, second is None, locale.country)
        summary = SourceSummary(spec.name, str(spec.path), 0, order, {})
        bad = summary.unparseable
        records = 0
        decided: str = order
        pending = [first] if second is None else [first, second]
        seconds["read"] += time.perf_counter() - clock
        for chunk in itertools.chain(pending, chunks):
            clock = time.perf_counter()
            clean, report = standardise_chunk(chunk, order, locale, date_reason)
            decided = report.date_order  # "auto" only for a file of one chunk
            for column, count in report.unparseable.items():
                bad[column] = bad.get(column, 0) + count
            _add_locale(summary, report)
            clean = add_features(clean, groups)
            con.register("chunk_frame", clean)
            con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM chunk_frame").fetchall()
            con.unregister("chunk_frame")
            records += len(clean)
            del clean
            seconds["standardise"] += time.perf_counter() - clock
        _check_unique_across_chunks(con, table, spec)
        summary.records, summary.date_order = records, decided
        summary.mapped, summary.unused = first.columns.rows(), list(first.columns.unused)
        summaries.append(summary)
    return summaries


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

"""Read source files and map their columns onto the customer schema.

Everything here happens before the store is touched, so a bad file stops a run with
nothing written. Values are read as text; standardising comes after mapping.
"""

from __future__ import annotations

import codecs
import csv
import json
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from python_calamine import CalamineError

from mdm.bulk.jsonlines import json_distinct, json_line_batches
from mdm.errors import DuplicateRecordError, InputError, MappingError
from mdm.headers import SYNONYMS, ColumnMapping, map_columns
from mdm.rules.sources import SourceMapping, SourceOptions
from mdm.schema import ATTRIBUTES

READERS = (".csv", ".parquet", ".xlsx", ".jsonl", ".ndjson", ".json")


@dataclass(frozen=True)
class SourceSpec:
    """One source of a run: its system name and the file holding its records."""

    name: str
    path: Path


@dataclass
class MappedSource:
    """A source's records in schema columns, with unmapped columns kept as extras."""

    name: str
    path: Path
    options: SourceOptions
    frame: pd.DataFrame  # record_id, schema attributes present in the source, updated_at
    extras: pd.DataFrame  # columns outside the schema, same index
    raw: pd.DataFrame  # the file's columns as read
    columns: ColumnMapping  # how each column was mapped, and the columns left unused

    @property
    def mapping(self) -> dict[str, str]:
        """Schema attribute -> file column."""
        return self.columns.columns


def parse_source_arg(text: str) -> SourceSpec:
    """Parse ``PATH`` or ``NAME=PATH``; the name defaults to the file's stem."""
    name, sep, path_text = text.partition("=")
    if not sep:
        path = Path(text)
        return SourceSpec(path.stem, path)
    if not name.strip() or not path_text.strip():
        raise InputError(f"source '{text}' should be PATH or NAME=PATH")
    return SourceSpec(name.strip(), Path(path_text.strip()))


def _to_text(frame: pd.DataFrame) -> pd.DataFrame:
    """Every value as stripped text; missing and blank values as None."""
    out = {}
    for column in frame.columns:
        series = frame[column]
        if pd.api.types.is_datetime64_any_dtype(series):
            text = series.dt.strftime("%Y-%m-%d")
        else:
            text = series.astype("string")
        text = text.str.strip()
        out[str(column).strip()] = text.where(text.notna() & (text != ""), None).astype(object)
    result = pd.DataFrame(out, index=frame.index)
    return result.where(result.notna(), None)


def _check_utf8(path: Path, chunk: int = 1 << 24) -> None:
    """Raise UnicodeDecodeError (with the file's byte offset) unless ``path`` is UTF-8."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    offset = 0
    with path.open("rb") as handle:
        while block := handle.read(chunk):
            try:
                decoder.decode(block)
            except UnicodeDecodeError as exc:
                raise UnicodeDecodeError(
                    exc.encoding, exc.object, offset + exc.start, offset + exc.end, exc.reason
                ) from None
            offset += len(block)
        decoder.decode(b"", final=True)


def _csv_as_text(path: Path) -> pacsv.ConvertOptions:
    """Arrow's options that read every column of a (checked UTF-8) CSV file as text."""
    _check_utf8(path)
    with path.open("rb") as handle:
        header = handle.readline()
    names = next(csv.reader([header.decode("utf-8-sig")]), [])
    return pacsv.ConvertOptions(
        column_types={name: pa.string() for name in names}, strings_can_be_null=False
    )


def _read_csv(path: Path) -> pd.DataFrame:
    """Every column as text, with Arrow's multithreaded reader."""
    options = _csv_as_text(path)
    table = pacsv.read_csv(path, convert_options=options)
    return table.to_pandas(types_mapper=pd.ArrowDtype)


#: What a file's first bytes look like -> how to say it, and what to do with such a file.
KINDS = {
    "xlsx": ("an Excel workbook", "rename it to .xlsx"),
    "xls": ("an old Excel .xls workbook", "open it in Excel and save it as .xlsx or .csv"),
    "zip": ("a ZIP archive", "unpack it"),
    "parquet": ("a Parquet file", "rename it to .parquet"),
    "json": ("JSON text", "rename it to .jsonl"),
    "csv": ("CSV text", "rename it to .csv"),
}
#: Suffix -> the kinds of content it may hold, and how to say what it should be.
EXPECTED = {
    ".xlsx": (("xlsx", "zip"), "an Excel workbook"),
    ".parquet": (("parquet",), "a Parquet file"),
    ".csv": (("csv", None), "CSV text"),
    ".jsonl": (("json", None), "JSON lines"),
    ".ndjson": (("json", None), "JSON lines"),
    ".json": (("json", None), "JSON lines"),
}


def content_kind(head: bytes) -> str | None:
    """What a file's first bytes (a few kilobytes) look like: a key of :data:`KINDS`, or
    None for anything else (binary data, or text with no separator in its first line)."""
    if head.startswith(b"PK\x03\x04"):
        return "xlsx" if b"[Content_Types].xml" in head or b"xl/" in head else "zip"
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        return "xls"
    if head.startswith(b"PAR1"):
        return "parquet"
    text = head.decode("utf-8", errors="replace").lstrip("\ufeff \t\r\n")
    if "\x00" in text or text.count("\ufffd") > len(text) // 10:
        return None
    if text.startswith(("{", "[")):
        return "json"
    first = text.split("\n", 1)[0]
    return "csv" if any(sep in first for sep in ",;\t|") else None


def _check_content(path: Path, suffix: str) -> None:
    """Stop with a message when the file's content does not fit its suffix."""
    with path.open("rb") as handle:
        kind = content_kind(handle.read(4096))
    allowed, expected = EXPECTED[suffix]
    if kind in allowed:
        return
    if kind is None:
        if None not in allowed:
            raise InputError(
                f"{path} is not {expected} (it does not look like one); export it again as {suffix}"
            )
        return
    said, advice = KINDS[kind]
    raise InputError(
        f"{path} is not {expected} (it looks like {said}); {advice} or export it again as {suffix}"
    )


def _check_file(path: Path) -> str:
    """The file's suffix, once it is known to exist, hold bytes, be of a known type and
    hold what its suffix says."""
    if not path.exists():
        raise InputError(f"source file {path} does not exist")
    if path.is_dir() or path.stat().st_size == 0:
        raise InputError(f"source file {path} is empty; give a file with a header and rows")
    suffix = path.suffix.lower()
    if suffix not in READERS:
        raise InputError(
            f"cannot read {path}: unknown file type '{suffix}'; use one of {', '.join(READERS)}"
        )
    _check_content(path, suffix)
    return suffix


@contextmanager
def _reading(path: Path) -> Iterator[None]:
    """Reading errors as InputErrors that say what to do."""
    try:
        yield
    except UnicodeDecodeError as exc:
        raise InputError(
            f"{path} is not UTF-8 text (bad byte at position {exc.start}); "
            "re-save it as UTF-8 and run again"
        ) from exc
    except (
        ValueError,
        OSError,
        json.JSONDecodeError,
        pa.ArrowException,
        CalamineError,
        duckdb.Error,
    ) as exc:
        if isinstance(exc, InputError):
            raise
        if "utf8" in str(exc).lower().replace("-", ""):
            raise InputError(
                f"{path} is not UTF-8 text ({exc}); re-save it as UTF-8 and run again"
            ) from exc
        raise InputError(f"cannot read {path}: {exc}") from exc


def read_table(path: Path, sheet: str | None = None) -> pd.DataFrame:
    """Read a CSV, Parquet, Excel or JSON-lines file as text columns."""
    suffix = _check_file(path)
    with _reading(path):
        if suffix == ".csv":
            frame = _read_csv(path)
        elif suffix == ".parquet":
            frame = pd.read_parquet(path)
        elif suffix == ".xlsx":
            frame = pd.read_excel(path, sheet_name=sheet or 0, dtype=str, engine="calamine")
        else:
            chunks = list(_chunks(path, suffix, sheet, CHUNK_ROWS))
            frame = pd.concat(chunks, ignore_index=True) if chunks else pd.DataFrame()
    if frame.empty:
        raise InputError(f"source file {path} has no records")
    return _to_text(frame.reset_index(drop=True))


#: Records a bulk run reads and standardises at a time: it holds one chunk, not a file.
CHUNK_ROWS = 200_000


def iter_table(
    path: Path, sheet: str | None = None, rows: int = CHUNK_ROWS
) -> Iterator[pd.DataFrame]:
    """:func:`read_table` a chunk of about ``rows`` records at a time (an Excel sheet,
    at most about a million rows, comes whole). Each chunk's index numbers its records
    from the start of the file."""
    suffix = _check_file(path)
    offset = 0
    with _reading(path):
        for chunk in _chunks(path, suffix, sheet, rows):
            if chunk.empty:
                continue
            chunk = _to_text(chunk.reset_index(drop=True))
            chunk.index = pd.RangeIndex(offset, offset + len(chunk))
            offset += len(chunk)
            yield chunk
    if offset == 0:
        raise InputError(f"source file {path} has no records")


def read_header(path: Path, sheet: str | None = None) -> list[str]:
    """A source file's column names, as :func:`read_table` gives them (a JSON-lines
    file's: every key any of its records uses)."""
    return [str(column) for column in next(iter_table(path, sheet, rows=1000)).columns]


def distinct_values(path: Path, column: str, sheet: str | None = None) -> set[str]:
    """The distinct values of one column of a source file, as text the way
    :func:`iter_table` reads them (stripped; blanks are missing), reading that column
    alone where the format allows (CSV, Parquet)."""
    suffix = _check_file(path)
    seen: set[str] = set()
    with _reading(path):
        if suffix in JSON_LINES:
            _check_utf8(path)
            if (found := json_distinct(path, column)) is not None:
                return found
        for chunk in _chunks(path, suffix, sheet, CHUNK_ROWS, only=column):
            named = {str(name).strip(): name for name in chunk.columns}
            if column in named:  # a JSON-lines chunk may lack the key
                text = _to_text(chunk[[named[column]]])[column]
                seen.update(text.dropna().unique())
    return seen


#: The suffixes read as JSON lines, one record a line.
JSON_LINES = (".jsonl", ".ndjson", ".json")


def _chunks(
    path: Path, suffix: str, sheet: str | None, rows: int, only: str | None = None
) -> Iterator[pd.DataFrame]:
    """A file's records a chunk at a time: every column, or (CSV, Parquet) the column
    ``only`` names (as :func:`_to_text` names it: stripped)."""
    if suffix == ".csv":
        options = _csv_as_text(path)
        if only is not None:
            options.include_columns = [
                name for name in options.column_types if str(name).strip() == only
            ]
        reader = pacsv.open_csv(
            path, read_options=pacsv.ReadOptions(block_size=1 << 24), convert_options=options
        )
        yield from _gathered(reader, rows)
    elif suffix == ".parquet":
        parquet = pq.ParquetFile(path)
        names = None
        if only is not None:
            names = [name for name in parquet.schema_arrow.names if name.strip() == only]
        for batch in parquet.iter_batches(batch_size=rows, columns=names):
            yield batch.to_pandas()
    elif suffix == ".xlsx":
        yield pd.read_excel(path, sheet_name=sheet or 0, dtype=str, engine="calamine")
    else:
        _check_utf8(path)
        yield from _gathered(json_line_batches(path, rows, only), rows)


def _gathered(batches: Iterable[pa.RecordBatch], rows: int) -> Iterator[pd.DataFrame]:
    """Record batches gathered into data frames of at least ``rows`` records (the last
    may hold fewer): a chunk's standardising has a cost of its own, whatever its size."""
    pending: list[pa.RecordBatch] = []
    held = 0
    for batch in batches:
        pending.append(batch)
        held += batch.num_rows
        if held >= rows:
            yield _frame(pending)
            pending, held = [], 0
    if pending:
        yield _frame(pending)


def _frame(batches: list[pa.RecordBatch]) -> pd.DataFrame:
    return pa.Table.from_batches(batches).to_pandas(types_mapper=pd.ArrowDtype)


def _resolve_columns(
    columns: list[str], mapping: SourceMapping | None, spec: SourceSpec
) -> ColumnMapping:
    """The source's columns onto the schema: by its own mapping, else by their headers."""
    given = mapping.columns if mapping is not None else {}
    missing = [column for column in given.values() if column not in columns]
    if missing:
        raise MappingError(
            f"mapping for source '{spec.name}' names column(s) {missing} not found in "
            f"{spec.path}; the file's columns are: {', '.join(columns)}"
        )
    resolved = map_columns(columns, given)
    if "record_id" not in resolved.columns:
        ids = ", ".join(f"'{header}'" for header in SYNONYMS["record_id"][:4])
        raise MappingError(
            f"source '{spec.name}' ({spec.path}) has no record_id: add a column 'record_id' "
            f"(or {ids}, ...) or map one in a source mapping (sources/{spec.name}.yaml beside "
            f"the rules file; 'mdm sources infer {spec.path}' proposes one); "
            f"the file's columns are: {', '.join(columns)}"
        )
    if len(resolved.chosen) == 1:
        raise MappingError(
            f"source '{spec.name}' ({spec.path}) has no customer-schema columns; write a "
            f"source mapping sources/{spec.name}.yaml beside the rules file ('mdm sources "
            f"infer {spec.path}' proposes one; schema attributes: {', '.join(ATTRIBUTES)})"
        )
    return resolved


def map_source(spec: SourceSpec, mapping: SourceMapping | None) -> MappedSource:
    """Read one source file and map it onto the schema, checking record ids."""
    options = mapping.options if mapping else SourceOptions()
    mapped = _map_frame(spec, mapping, options, read_table(spec.path, options.sheet))
    _check_unique(spec, mapped.frame["record_id"])
    return mapped


def map_source_chunks(
    spec: SourceSpec, mapping: SourceMapping | None, rows: int = CHUNK_ROWS
) -> Iterator[MappedSource]:
    """:func:`map_source` a chunk at a time (columns are resolved on the first chunk;
    record ids repeated across chunks are for the caller to find)."""
    options = mapping.options if mapping else SourceOptions()
    resolved: ColumnMapping | None = None
    for raw in iter_table(spec.path, options.sheet, rows):
        if resolved is None:
            resolved = _resolve_columns(list(raw.columns), mapping, spec)
        else:  # a JSON-lines chunk may lack keys later records have
            missing = [c for c in resolved.columns.values() if c not in raw.columns]
            raw = raw.assign(**dict.fromkeys(missing)) if missing else raw
        mapped = _map_frame(spec, mapping, options, raw, resolved)
        _check_unique(spec, mapped.frame["record_id"])
        yield mapped


def _map_frame(
    spec: SourceSpec,
    mapping: SourceMapping | None,
    options: SourceOptions,
    raw: pd.DataFrame,
    resolved: ColumnMapping | None = None,
) -> MappedSource:
    resolved = resolved or _resolve_columns(list(raw.columns), mapping, spec)
    columns = resolved.columns
    frame = pd.DataFrame({attr: raw[column] for attr, column in columns.items()})
    ids = frame["record_id"]
    if ids.isna().any():
        rows = [int(i) + 2 for i in ids.index[ids.isna()][:5]]
        raise InputError(
            f"{spec.path}: {int(ids.isna().sum())} record(s) have no record_id "
            f"(first at data rows {rows}); every record needs an id within its source"
        )
    used = set(columns.values())
    extras = raw[[c for c in raw.columns if c not in used]]
    return MappedSource(spec.name, spec.path, options, frame, extras, raw, resolved)


def _check_unique(spec: SourceSpec, ids: pd.Series) -> None:
    repeated = ids[ids.duplicated(keep=False)]
    if not repeated.empty:
        raise DuplicateRecordError(repeated_ids_message(spec, repeated.nunique(),
                                                        sorted(repeated.unique())[:5]))  # fmt: skip


def repeated_ids_message(spec: SourceSpec, count: int, examples: list[str]) -> str:
    """What to say when record ids repeat within a source."""
    return (
        f"{spec.path}: record_id repeats within source '{spec.name}' "
        f"({count} id(s), e.g. {examples}); ids must be unique per source"
    )


@dataclass
class SourceSummary:
    """What ingest found in one source."""

    name: str
    path: str
    records: int
    date_order: str
    unparseable: dict[str, int]
    #: attribute, file column and how it was chosen (see :class:`mdm.headers.Basis`)
    mapped: list[dict[str, str]] = field(default_factory=list)
    #: the file's columns not mapped onto the schema (kept as extra attributes)
    unused: list[str] = field(default_factory=list)
    #: Why each reading was chosen: phone_region, postcode_country, date_order -> value, reason.
    locale: dict[str, dict[str, str | None]] = field(default_factory=dict)
    #: Records whose own country or region column decided, per country.
    own_country: dict[str, int] = field(default_factory=dict)
    #: Phone numbers without their area code, left out (not counted as unparseable).
    local_only: int = 0

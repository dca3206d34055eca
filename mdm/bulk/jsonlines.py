"""JSON-lines source files, parsed by DuckDB into text columns.

Every value is read as the file wrote it, as a CSV file's values are: a number's
digits, ``true``, a nested object as JSON text; a key a record lacks, or ``null``, is
missing. A file of 250k records takes about a second (pandas' reader took three, and
refused numbers past 64 bits). The caller (:mod:`mdm.bulk.ingest`) checks the file is
UTF-8 first and strips the values.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pyarrow as pa

from mdm.errors import InputError

#: DuckDB's names of a JSON value's type, as a person would say them.
_JSON_KINDS = {"ARRAY": "array", "VARCHAR": "string", "BIGINT": "number", "UBIGINT": "number",
               "DOUBLE": "number", "BOOLEAN": "true/false", "NULL": "null"}  # fmt: skip

_LINES = "read_ndjson_objects($path) t(j)"


def json_line_batches(path: Path, rows: int, only: str | None = None) -> Iterator[pa.RecordBatch]:
    """A JSON-lines file's records in batches of about ``rows``, in file order: a text
    column per key any record uses (in the order the first records use them). With
    ``only``, the key that is ``only`` once stripped, alone. A line that is not JSON, or
    not an object, stops the read with a message naming it."""
    with duckdb.connect() as con:
        given: dict[str, str] = {"path": str(path)}
        keys = _keys(con, path, given)
        if only is not None:
            keys = [key for key in keys if key.strip() == only]
        if not keys:
            return
        # A key as a JSON pointer (any key can be written so: "a.b", "x/y", "").
        pointers = ["/" + key.replace("~", "~0").replace("/", "~1") for key in keys]
        values = ", ".join(f"json_extract_string(j, $k{n})" for n in range(len(keys)))
        given |= {f"k{n}": pointer for n, pointer in enumerate(pointers)}
        result = con.sql(f"SELECT {values} FROM {_LINES}", params=given)  # in file order
        for batch in result.to_arrow_reader(rows):
            yield pa.RecordBatch.from_arrays(batch.columns, names=keys)


def _keys(con: duckdb.DuckDBPyConnection, path: Path, given: dict[str, str]) -> list[str]:
    """The keys the file's records use, once it is known each line is a JSON object:
    in the order its first records use them, any only later ones after."""
    try:
        odd = con.execute(
            f"SELECT count(*) FROM {_LINES} WHERE json_type(j) <> 'OBJECT'", given
        ).fetchall()
    except duckdb.InvalidInputException as exc:
        _bad_json_line(path)
        raise InputError(f"cannot read {path}: {exc}") from exc
    if odd[0][0]:
        line, kind = con.execute(
            f"SELECT line, json_type(j) FROM (SELECT row_number() OVER () AS line, j "
            f"FROM {_LINES}) WHERE json_type(j) <> 'OBJECT' ORDER BY line LIMIT 1",
            given,
        ).fetchall()[0]
        said = _JSON_KINDS.get(str(kind), str(kind).lower())
        raise InputError(
            f"cannot read {path}: record {line} is a JSON {said}, not an object; write "
            'one object per line, e.g. {"record_id": "1", ...}'
        )
    first = con.execute(f"SELECT json_keys(j) FROM {_LINES} LIMIT 1000", given).fetchall()
    keys = list(dict.fromkeys(key for (found,) in first for key in found))
    later = con.execute(
        f"SELECT DISTINCT unnest(json_keys(j)) AS key FROM {_LINES} ORDER BY key", given
    ).fetchall()
    known = set(keys)
    return keys + [key for (key,) in later if key not in known]


def _bad_json_line(path: Path) -> None:
    """Raise an InputError naming the first line of a JSON-lines file that is not JSON
    (DuckDB's message counts bytes); return when every line parses."""
    with path.open(encoding="utf-8-sig") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                json.loads(line)
            except json.JSONDecodeError as exc:
                raise InputError(
                    f"cannot read {path}: line {number} is not JSON ({exc.msg} at character "
                    f"{exc.pos + 1}); fix or remove that line and run again"
                ) from None


def json_distinct(path: Path, column: str) -> set[str] | None:
    """The distinct values of the key named ``column`` (stripped) in a JSON-lines file,
    as the run reads them (stripped; blanks are missing), without reading the whole
    file's other keys; None when DuckDB cannot read it (the caller reads it as a run
    would, and says what is wrong)."""
    try:
        with duckdb.connect() as con:
            rows = con.execute(
                "SELECT DISTINCT j->>k FROM read_ndjson_objects(?) t(j), "
                "unnest(json_keys(j)) u(k) WHERE trim(k) = ?",
                [str(path), column],
            ).fetchall()
    except duckdb.Error:
        return None
    return {text for (value,) in rows if value is not None and (text := value.strip())}

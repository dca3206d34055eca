"""Reading one column of a source file (the first pass that chooses a source's date
order) gives the values reading the whole file gives."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given
from hypothesis import strategies as st

from mdm.bulk.ingest import SourceSpec, distinct_values, map_source_chunks

#: Dates as people type them, blanks, padding and text that is no date at all.
VALUES = st.one_of(
    st.none(),
    st.sampled_from(["", "  ", "03/04/1980", " 13/04/1980 ", "1980-04-03", "4/3/80", "n/a"]),
    st.text(alphabet="0123456789/-. ", max_size=12),
)


def _whole_file(path: Path, column: str) -> set[str]:
    spec = SourceSpec("crm", path)
    mapping = None
    seen: set[str] = set()
    for chunk in map_source_chunks(spec, mapping):
        seen.update(chunk.frame[column].dropna().unique())
    return seen


def _write(folder: Path, suffix: str, rows: list[dict[str, object]]) -> Path:
    path = folder / f"crm{suffix}"
    if suffix == ".csv":
        pd.DataFrame(rows).to_csv(path, index=False)
    elif suffix == ".parquet":
        pq.write_table(pa.Table.from_pylist(rows), path)
    else:
        path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".jsonl"])
@given(dates=st.lists(VALUES, min_size=1, max_size=30))
def test_one_column_reads_as_the_whole_file_does(
    tmp_path_factory: pytest.TempPathFactory, suffix: str, dates: list[str | None]
) -> None:
    folder = tmp_path_factory.mktemp("one")
    rows = [
        {"record_id": str(i), "last_name": "Smith", " date_of_birth ": d}
        for i, d in enumerate(dates)
    ]
    path = _write(folder, suffix, rows)
    assert distinct_values(path, "date_of_birth") == _whole_file(path, "date_of_birth")


def test_a_parquet_date_column_reads_as_text(tmp_path: Path) -> None:
    table = pa.table(
        {
            "record_id": ["1", "2", "3"],
            "date_of_birth": pa.array(
                [pd.Timestamp("1980-04-03"), None, pd.Timestamp("1975-12-31")],
                pa.timestamp("ms"),
            ),
        }
    )
    path = tmp_path / "crm.parquet"
    pq.write_table(table, path)
    assert distinct_values(path, "date_of_birth") == {"1980-04-03", "1975-12-31"}
    assert distinct_values(path, "date_of_birth") == _whole_file(path, "date_of_birth")


def test_a_broken_json_lines_file_says_what_is_wrong(tmp_path: Path) -> None:
    """A JSON-lines file DuckDB cannot parse is read as a run reads it, which says
    what is wrong (not a DuckDB error, not an empty set)."""
    from mdm.errors import InputError

    path = tmp_path / "crm.jsonl"
    path.write_text('{"record_id": "1", "date_of_birth": "03/04/1980"}\n{"record_id": 2, \n')
    with pytest.raises(InputError, match="crm.jsonl"):
        distinct_values(path, "date_of_birth")

"""JSON-lines sources read as text, the way a CSV file's values are: each value as the
file wrote it, a missing key or ``null`` as missing, in chunks that add up to the file."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mdm.bulk.ingest import iter_table, read_header, read_table
from mdm.errors import InputError

#: Text a person types in a field: any letters, padding, blanks (no line breaks, which a
#: CSV cell would need quoting for).
TEXT = st.text(st.characters(exclude_categories=["Cs", "Cc"]), max_size=8)


def _jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


@settings(max_examples=60, deadline=None)
@given(rows=st.lists(st.fixed_dictionaries({"name": st.none() | TEXT, "city": TEXT}), min_size=1,
                     max_size=20))  # fmt: skip
def test_text_values_read_as_the_same_rows_in_a_csv_file(
    tmp_path_factory: pytest.TempPathFactory, rows: list[dict]
) -> None:
    folder = tmp_path_factory.mktemp("json")
    numbered = [{"record_id": str(i), **row} for i, row in enumerate(rows)]
    from_json = read_table(_jsonl(folder / "crm.jsonl", numbered))
    pd.DataFrame(numbered).to_csv(folder / "crm.csv", index=False)
    from_csv = read_table(folder / "crm.csv")
    assert from_json.to_dict("records") == from_csv.to_dict("records")


def test_numbers_flags_and_objects_read_as_written(tmp_path: Path) -> None:
    path = tmp_path / "web.jsonl"
    path.write_text(
        '{"record_id": 1, "phone": 7700900123, "vip": true, "score": 1.5, '
        '"member": 12345678901234567890123, "prefs": {"mail": [1, "x"]}}\n'
        '{"record_id": 2, "phone": null}\n',
        encoding="utf-8",
    )
    frame = read_table(path)
    assert frame.to_dict("records") == [
        {"record_id": "1", "phone": "7700900123", "vip": "true", "score": "1.5",
         "member": "12345678901234567890123", "prefs": '{"mail":[1,"x"]}'},
        {"record_id": "2", "phone": None, "vip": None, "score": None, "member": None,
         "prefs": None},
    ]  # fmt: skip


def test_keys_in_the_order_first_used_and_a_key_first_used_late(tmp_path: Path) -> None:
    rows = [{"record_id": str(i), "surname": "Smith"} for i in range(1500)]
    rows.append({"a.b/c~d": "odd key", "record_id": "last", "surname": "Jones"})
    path = _jsonl(tmp_path / "web.jsonl", rows)
    frame = read_table(path)
    assert list(frame.columns) == ["record_id", "surname", "a.b/c~d"]
    assert frame["a.b/c~d"].tolist() == [None] * 1500 + ["odd key"]
    assert read_header(path) == ["record_id", "surname", "a.b/c~d"]


def test_chunks_add_up_to_the_file(tmp_path: Path) -> None:
    rows = [{"record_id": str(i), "n": i} for i in range(23)]
    path = _jsonl(tmp_path / "web.jsonl", rows)
    chunks = list(iter_table(path, rows=5))
    assert [len(c) for c in chunks] == [5, 5, 5, 5, 3]
    joined = pd.concat(chunks)
    assert joined.index.tolist() == list(range(23))
    assert joined["n"].tolist() == [str(i) for i in range(23)]


def test_a_byte_order_mark_windows_line_ends_and_blank_lines_are_read(tmp_path: Path) -> None:
    path = tmp_path / "web.jsonl"
    path.write_bytes(b'\xef\xbb\xbf{"record_id": "1"}\r\n\r\n{"record_id": "2"}\r\n')
    assert read_table(path)["record_id"].tolist() == ["1", "2"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"record_id": "1"}\n{"record_id": 2, first\n', "line 2 is not JSON"),
        ('{"record_id": "1"}\n[1, 2]\n', "record 2 is a JSON array, not an object"),
        ('"just text"\n', "record 1 is a JSON string, not an object"),
    ],
    ids=["broken-line", "array-line", "text-line"],
)
def test_a_line_that_is_not_a_json_object_is_named(
    tmp_path: Path, content: str, message: str
) -> None:
    path = tmp_path / "web.jsonl"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(InputError, match=message):
        read_table(path)
    with pytest.raises(InputError, match=message):
        list(iter_table(path))

"""Bad input: a clear message, a non-zero exit, and nothing written to the store."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from typer.testing import CliRunner

from mdm.bundled import DEFAULT_MATCH_RULES
from mdm.cli import app

REPO = Path(__file__).resolve().parents[2]
runner = CliRunner()

PEOPLE = pd.DataFrame(
    {
        "record_id": ["1", "2", "3", "4"],
        "first_name": ["Ann", "Anne", "Bob", "Robert"],
        "last_name": ["Lee", "Lee", "Hart", "Hart"],
        "date_of_birth": ["1980-01-02", "1980-01-02", "31/02/1990", "1975-05-06"],
        "email": ["ann@x.org", "ann@x.org", "bob@y.org", "bob@y.org"],
    }
)


def _reconcile(*args: str):
    return runner.invoke(app, ["reconcile", *args], catch_exceptions=False)


@pytest.fixture
def rules_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "rules"
    (folder / "sources").mkdir(parents=True)
    shutil.copy(DEFAULT_MATCH_RULES, folder / "customer.match.yaml")
    return folder


def _csv(path: Path, frame: pd.DataFrame = PEOPLE) -> Path:
    frame.to_csv(path, index=False)
    return path


def _assert_failed_cleanly(result, db: Path, *fragments: str) -> None:
    assert result.exit_code == 2, result.output
    for fragment in fragments:
        assert fragment in result.output, result.output
    assert "Traceback" not in result.output
    assert not db.exists(), "a failed run must not create the store"


def test_missing_file(tmp_path: Path) -> None:
    db = tmp_path / "s.duckdb"
    result = _reconcile(str(tmp_path / "nope.csv"), "--db", str(db))
    _assert_failed_cleanly(result, db, "nope.csv does not exist")


def test_empty_file(tmp_path: Path) -> None:
    (tmp_path / "empty.csv").write_text("")
    db = tmp_path / "s.duckdb"
    _assert_failed_cleanly(_reconcile(str(tmp_path / "empty.csv"), "--db", str(db)), db, "empty")


def test_header_only_file(tmp_path: Path) -> None:
    (tmp_path / "head.csv").write_text("record_id,first_name\n")
    db = tmp_path / "s.duckdb"
    result = _reconcile(str(tmp_path / "head.csv"), "--db", str(db))
    _assert_failed_cleanly(result, db, "has no records")


def test_undecodable_bytes(tmp_path: Path) -> None:
    path = tmp_path / "latin.csv"
    path.write_bytes("record_id,first_name\n1,Jos\xe9\n".encode("latin-1"))
    db = tmp_path / "s.duckdb"
    _assert_failed_cleanly(_reconcile(str(path), "--db", str(db)), db, "not UTF-8", "UTF-8")


def test_duplicate_record_ids(tmp_path: Path) -> None:
    frame = PEOPLE.assign(record_id=["1", "1", "2", "3"])
    db = tmp_path / "s.duckdb"
    result = _reconcile(str(_csv(tmp_path / "people.csv", frame)), "--db", str(db))
    _assert_failed_cleanly(result, db, "record_id repeats", "'1'")


def test_unknown_column_in_mapping(tmp_path: Path, rules_dir: Path) -> None:
    (rules_dir / "sources" / "people.yaml").write_text(
        "columns:\n  record_id: record_id\n  last_name: surname\n"
    )
    db = tmp_path / "s.duckdb"
    result = _reconcile(
        str(_csv(tmp_path / "people.csv")), "--db", str(db), "--rules",
        str(rules_dir / "customer.match.yaml"),
    )  # fmt: skip
    _assert_failed_cleanly(result, db, "['surname'] not found", "columns are: record_id")


@pytest.mark.parametrize(
    ("old", "new", "fragment"),
    [
        ("kind: phone", "kind: fone", "'fone'"),
        ("  - kind: email", "  - kind: email\n    colum: email", "did you mean 'column'"),
    ],
    ids=["unknown-comparison", "typo"],
)
def test_bad_rules_file(tmp_path: Path, rules_dir: Path, old: str, new: str, fragment: str) -> None:
    rules = rules_dir / "customer.match.yaml"
    rules.write_text(rules.read_text().replace(old, new, 1))
    db = tmp_path / "s.duckdb"
    result = _reconcile(str(_csv(tmp_path / "people.csv")), "--db", str(db), "--rules", str(rules))
    _assert_failed_cleanly(result, db, fragment, "customer.match.yaml:")


def test_bad_input_leaves_an_existing_store_untouched(tmp_path: Path, sample_files) -> None:
    db = tmp_path / "s.duckdb"
    ok = _reconcile(*map(str, sample_files), "--db", str(db))
    assert ok.exit_code == 0, ok.output
    before = db.read_bytes()
    frame = PEOPLE.assign(record_id=["1", "1", "2", "3"])
    bad = _reconcile(str(_csv(tmp_path / "people.csv", frame)), "--db", str(db))
    assert bad.exit_code == 2
    assert db.read_bytes() == before


def test_unparseable_values_are_counted_not_fatal(tmp_path: Path, sample_dir: Path) -> None:
    crm = pd.read_csv(sample_dir / "crm.csv", dtype=str, keep_default_na=False)
    crm.loc[:9, "dob"] = "31/02/1990"
    path = tmp_path / "crm.csv"
    crm.to_csv(path, index=False)
    db = tmp_path / "s.duckdb"
    result = _reconcile(str(path), "--db", str(db), "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["sources"][0]["unparseable"]["date_of_birth"] >= 10
    with duckdb.connect(str(db), read_only=True) as con:
        report = json.loads(con.execute("SELECT report FROM source_reports").fetchall()[0][0])
    assert report["unparseable"]["date_of_birth"] >= 10


@pytest.mark.parametrize(
    ("name", "content", "fragment"),
    [
        ("latin.jsonl", b'{"record_id": "1", "first_name": "Jos\xe9"}\n', "not UTF-8"),
        ("broken.jsonl", b'{"record_id": "1"}\n{"record_id": 2, first\n', "cannot read"),
        ("latin2.csv", b"record_id,first_name\n1,Ann\n" * 5 + b"2,Ren\xe9\n", "position 140"),
    ],
    ids=["jsonl-not-utf8", "jsonl-broken", "csv-byte-position"],
)
def test_unreadable_files(tmp_path: Path, name: str, content: bytes, fragment: str) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    db = tmp_path / "s.duckdb"
    _assert_failed_cleanly(_reconcile(str(path), "--db", str(db)), db, fragment)


def test_a_failed_first_run_leaves_no_store(tmp_path: Path) -> None:
    # Readable, but with no column the rules can use: fails after the store is opened.
    path = _csv(tmp_path / "people.csv", PEOPLE[["record_id", "first_name"]])
    db = tmp_path / "s.duckdb"
    _assert_failed_cleanly(_reconcile(str(path), "--db", str(db)), db, "fill none of the columns")


def test_a_piped_password_needs_password_stdin(tmp_path: Path) -> None:
    """Without a terminal the password prompt cannot hide what is typed: the command
    says to add --password-stdin, exits 2 and adds nobody; with it, the user is added."""
    import subprocess
    import sys

    from mdm.store import open_store

    db = tmp_path / "mdm.duckdb"
    open_store(db).close()

    def add(*flags: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "mdm", "users", "add", "ann", "--db", str(db), *flags],
            input="correct horse battery\n", capture_output=True, text=True, timeout=120,
        )  # fmt: skip

    refused = add()
    assert refused.returncode == 2 and "--password-stdin" in refused.stderr
    assert "Warning" not in refused.stderr  # no getpass echo warning
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM users").fetchall() == [(0,)]
    added = add("--password-stdin")
    assert added.returncode == 0, added.stderr
    assert "user ann added" in added.stdout

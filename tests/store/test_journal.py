"""The write-ahead journal: entries come back whole and in order, a torn tail is left
out, files go once applied, and replay writes in only what the tables lack."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import duckdb

from mdm.store import journal as journal_module
from mdm.store import open_store
from mdm.store.changes import ChangeSet, decode
from mdm.store.journal import (
    Journal,
    apply_journaled,
    journal_folder,
    last_applied,
    read_journal,
    replay_journal,
)


def _change(i: int) -> ChangeSet:
    return ChangeSet(
        datetime(2026, 1, 1, 12, 0, i),
        "test",
        events=[("record_added", f"G{i}", "web", f"R{i}", {"version": 1})],
        names={("first", f"name{i}"): 1},
    )


def test_entries_come_back_in_order_and_a_torn_tail_is_left_out(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j", 1)
    journal.append([_change(1), _change(2)])
    journal.append([_change(3)])
    journal.close()
    (path,) = (tmp_path / "j").glob("*.log")
    whole = path.read_bytes()
    path.write_bytes(whole[:-5])  # the process died while writing the last entry
    found = list(read_journal(tmp_path / "j"))
    assert [seq for seq, _ in found] == [1, 2]
    assert decode(found[1][1]).events == [("record_added", "G2", "web", "R2", {"version": 1})]


def test_applied_files_are_deleted(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(journal_module, "ROTATE_BYTES", 1)  # a file per append
    journal = Journal(tmp_path / "j", 1)
    for i in range(1, 5):
        journal.append([_change(i)])
    journal.release(2)
    assert [seq for seq, _ in read_journal(tmp_path / "j")] == [3, 4]
    journal.release(4)
    assert list(read_journal(tmp_path / "j")) == []
    journal.close()


def test_replay_writes_in_only_what_the_tables_lack(tmp_path: Path) -> None:
    db = tmp_path / "mdm.duckdb"
    open_store(db).close()
    journal = Journal(journal_folder(db), 1)
    entries = journal.append([_change(i) for i in range(1, 4)])
    journal.close()
    with duckdb.connect(str(db)) as con:
        apply_journaled(con, entries[:2])  # the service got this far
        assert last_applied(con) == 2
    con = open_store(db)  # replays the journal
    try:
        assert con.execute("SELECT count(*) FROM events").fetchall() == [(3,)]
        names = con.execute(
            "SELECT name, count FROM name_frequencies WHERE name LIKE 'name%' ORDER BY name"
        ).fetchall()
        assert names == [("name1", 1), ("name2", 1), ("name3", 1)]
        assert last_applied(con) == 3
        assert replay_journal(con, db) == 0
    finally:
        con.close()
    assert list(journal_folder(db).glob("*.log")) == []


def _founding(i: int, golden_id: str) -> ChangeSet:
    """A change that creates golden record ``golden_id`` (as new: nothing to replace)."""
    from mdm.store.changes import GoldenRow

    at = datetime(2026, 1, 1, 12, 0, i)
    change = _change(i)
    change.golden = {golden_id: GoldenRow(golden_id, "active", None, at, at, 1,
                                          {"first_name": "ann"}, [], None)}  # fmt: skip
    change.new_golden = {golden_id}
    return change


def test_an_entry_that_will_not_go_in_is_set_aside_and_the_store_opens(tmp_path: Path) -> None:
    """An entry that contradicts the tables (here: it creates a golden id a previous
    entry created) is set aside on disk and reported by the checks; the entries around
    it go in, and the store opens."""
    from mdm.checks import store_problems
    from mdm.store.journal import set_aside_entries, set_aside_folder

    db = tmp_path / "mdm.duckdb"
    open_store(db).close()
    journal = Journal(journal_folder(db), 1)
    entries = journal.append([_change(1), _founding(2, "G-dup"), _founding(3, "G-dup"), _change(4)])
    journal.close()
    with duckdb.connect(str(db)) as con:
        apply_journaled(con, entries[:2])  # the service got this far
    con = open_store(db)
    try:
        assert last_applied(con) == 4
        kinds = con.execute(
            "SELECT record_id FROM events WHERE kind = 'record_added' ORDER BY event_id"
        ).fetchall()
        assert kinds == [("R1",), ("R2",), ("R4",)]
        (entry,) = set_aside_entries(con)
        assert entry["seq"] == 3 and entry["error"] == "ConstraintException"
        (kept,) = set_aside_folder(db).iterdir()
        assert kept.name == entry["file"]
        ((seq, payload),) = read_journal(set_aside_folder(db))
        assert seq == 3 and decode(payload).new_golden == {"G-dup"}
        assert any("set aside" in p for p in store_problems(con))
    finally:
        con.close()
    assert list(journal_folder(db).glob("*.log")) == []


def test_a_sealed_journal_holds_no_values_and_replays_with_the_key(
    tmp_path: Path, monkeypatch
) -> None:
    db = tmp_path / "mdm.duckdb"
    open_store(db).close()
    monkeypatch.setenv("MDM_ENCRYPTION_KEY", "correct horse battery staple")
    journal = Journal(journal_folder(db), 1)
    journal.append([_change(1), _change(2)])
    journal.close()
    for path in journal_folder(db).glob("*.log"):
        assert b"name1" not in path.read_bytes() and b"record_added" not in path.read_bytes()
    with duckdb.connect(str(db)) as con:
        assert replay_journal(con, db) == 2
        names = con.execute(
            "SELECT name FROM name_frequencies WHERE name LIKE 'name%' ORDER BY name"
        ).fetchall()
    assert names == [("name1",), ("name2",)]

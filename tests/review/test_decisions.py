"""Steward decisions on review tasks: kept as data, and fed to the name variants."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from mdm.cli import app
from mdm.errors import ReviewError
from mdm.review import Decision, decide, list_tasks
from mdm.rules.match import Learning

runner = CliRunner()


def _task_with_names(con, first_l: str, first_r: str, person: int) -> int:
    """An open task between two fresh records of one person with the given first names."""
    task_id = con.execute("SELECT coalesce(max(task_id), 0) + 1 FROM review_tasks").fetchall()
    task_id = task_id[0][0]
    for side, first in (("l", first_l), ("r", first_r)):
        con.execute(
            "INSERT INTO records SELECT * REPLACE (? AS record_id, ? AS first_name, "
            "[?] AS first_name_variants) FROM records LIMIT 1",
            [f"T{task_id}{side}", first, first],
        ).fetchall()
    source = con.execute("SELECT source FROM records LIMIT 1").fetchall()[0][0]
    con.execute(
        "INSERT INTO review_tasks VALUES (?, ?, ?, ?, ?, ?, ?, 2.0, 0.8, 'open', now(), 1, "
        "'records')",
        [task_id, source, f"T{task_id}l", source, f"T{task_id}r", f"P{person}", f"P{person}"],
    ).fetchall()
    return task_id


def _pair(con, a: str, b: str):
    rows = con.execute(
        "SELECT status, evidence, origin FROM name_variants WHERE name = ? AND variant = ?",
        [a, b],
    ).fetchall()
    return rows[0] if rows else None


def test_same_person_on_two_different_names_is_no_evidence_for_the_pair(store) -> None:
    """Malcolm and Catherine on two records a steward calls one person is a data error,
    not a name pair: nothing is proposed. Names plausibly one name still are."""
    learning = Learning(confirmations=2)
    decided = decide(
        store, _task_with_names(store, "malcolm", "catherine", 7), "same", "ann", learning
    )
    assert decided.names_confirmed == 0
    assert _pair(store, "catherine", "malcolm") is None
    kept = decide(store, _task_with_names(store, "katherine", "kasia", 8), "same", "ann", learning)
    assert kept.names_confirmed == 1 and _pair(store, "kasia", "katherine") is not None


def test_reconcile_leaves_open_tasks_to_list(store) -> None:
    tasks = list_tasks(store)
    assert len(tasks) > 0
    assert (tasks["status"] == "open").all()
    assert tasks["match_probability"].is_monotonic_decreasing
    assert tasks["name_l"].str.len().gt(0).all()


def test_same_person_confirms_names_until_active(store) -> None:
    learning = Learning(confirmations=2)
    first = decide(
        store, _task_with_names(store, "xandrielle", "xandy", 1), "same", "ann", learning
    )
    assert first.names_confirmed == 1
    assert _pair(store, "xandrielle", "xandy") == ("proposed", 1, "learned")
    decide(store, _task_with_names(store, "xandy", "xandrielle", 2), Decision.SAME, "bo", learning)
    assert _pair(store, "xandrielle", "xandy") == ("active", 2, "learned")
    statuses = store.execute(
        "SELECT DISTINCT status FROM review_tasks WHERE record_id_l LIKE 'T%'"
    ).fetchall()
    assert statuses == [("decided",)]
    actors = store.execute(
        "SELECT actor, action FROM name_variant_events WHERE name = 'xandrielle' ORDER BY event_id"
    ).fetchall()
    assert actors == [("ann", "confirmed"), ("bo", "activated")]


def test_not_the_same_person_counts_against_a_proposal(store) -> None:
    learning = Learning(confirmations=2)
    decide(store, _task_with_names(store, "xandrielle", "xandy", 1), "same", "ann", learning)
    result = decide(
        store, _task_with_names(store, "xandy", "xandrielle", 2), "different", "bo", learning
    )
    assert result.names_disputed == [("xandrielle", "xandy")]
    assert _pair(store, "xandrielle", "xandy") == ("proposed", 0, "learned")
    # Another confirmation is now not enough: the dispute still counts.
    decide(store, _task_with_names(store, "xandrielle", "xandy", 3), "same", "cy", learning)
    assert _pair(store, "xandrielle", "xandy") == ("proposed", 1, "learned")
    decisions = store.execute("SELECT decision, actor FROM decisions ORDER BY 1, 2").fetchall()
    assert decisions == [("different", "bo"), ("same", "ann"), ("same", "cy")]


def test_typos_and_rejected_pairs_are_not_confirmed(store) -> None:
    learning = Learning(confirmations=1)
    store.execute(
        "INSERT INTO name_variants VALUES ('zara', 'zuzu', 'nickname', 'steward', NULL, 0, "
        "'rejected', now(), now())"
    ).fetchall()
    typo = decide(
        store, _task_with_names(store, "xandrielle", "xandrielli", 1), "same", "a", learning
    )
    rejected = decide(store, _task_with_names(store, "zara", "zuzu", 2), "same", "a", learning)
    assert typo.names_confirmed == 0 and rejected.names_confirmed == 0
    assert _pair(store, "zara", "zuzu") == ("rejected", 0, "steward")


def test_skip_keeps_the_task_open(store) -> None:
    task = _task_with_names(store, "xandrielle", "xandy", 1)
    result = decide(store, task, "skip", "ann", Learning())
    assert "left open" in result.message()
    assert store.execute(f"SELECT status FROM review_tasks WHERE task_id = {task}").fetchall() == [
        ("open",)
    ]


def test_a_decision_is_an_event_naming_both_golden_records(store) -> None:
    from mdm.store.events import events_after

    task = _task_with_names(store, "xandrielle", "xandy", 1)
    left, right = store.execute(
        "SELECT golden_id_l, golden_id_r FROM review_tasks WHERE task_id = ?", [task]
    ).fetchall()[0]
    decide(store, task, "different", "ann", Learning())
    made = [e for e in events_after(store, 0, 10**6) if e["kind"] == "decision_made"]
    assert len(made) == 1 and made[0]["actor"] == "ann"
    assert (made[0]["golden_id"], made[0]["detail"]["other_golden_id"]) == (left, right)
    assert made[0]["detail"]["task_id"] == task and made[0]["detail"]["decision"] == "different"
    assert "xand" not in str(made[0])  # ids, never names


@pytest.mark.parametrize(
    ("task", "decision", "actor", "message"),
    [
        (10**9, "same", "ann", "no review task"),
        (None, "maybe", "ann", "must be one of same, different, skip"),
        (None, "same", "  ", "say who decides"),
    ],
)
def test_bad_decisions(store, task, decision, actor, message) -> None:
    task = task or _task_with_names(store, "xandrielle", "xandy", 1)
    with pytest.raises(ReviewError, match=message):
        decide(store, task, decision, actor, Learning())


def test_a_decided_task_cannot_be_decided_again(store) -> None:
    task = _task_with_names(store, "xandrielle", "xandy", 1)
    decide(store, task, "different", "ann", Learning())
    with pytest.raises(ReviewError, match="is decided, not open"):
        decide(store, task, "same", "bo", Learning())


def test_cli_lists_and_decides(reconciled_db: Path, tmp_path: Path) -> None:
    db = tmp_path / "mdm.duckdb"
    shutil.copy(reconciled_db, db)
    listed = runner.invoke(app, ["review", "list", "--db", str(db), "--limit", "3"])
    assert listed.exit_code == 0, listed.output
    assert "3 task(s)" in listed.output
    with duckdb.connect(str(db), read_only=True) as con:
        shown = list_tasks(con, limit=3)
        task = shown["task_id"].iloc[0]
    # Into a pipe the table is as wide as it needs: no record id or name is cut off.
    assert "…" not in listed.output
    for row in shown.itertuples():
        assert f"{row.source_l}/{row.record_id_l}" in listed.output
        assert row.name_r in listed.output
    decided = runner.invoke(
        app, ["review", "decide", str(task), "different", "--db", str(db), "--by", "ann"]
    )
    assert decided.exit_code == 0, decided.output
    assert f"task {task}: not the same person" in decided.output
    again = runner.invoke(app, ["review", "decide", str(task), "same", "--db", str(db)])
    assert again.exit_code == 2
    assert "is decided, not open" in again.output
    missing = runner.invoke(app, ["review", "list", "--db", str(tmp_path / "none.duckdb")])
    assert missing.exit_code == 2
    assert not (tmp_path / "none.duckdb").exists()

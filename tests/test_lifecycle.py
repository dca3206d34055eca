"""Merge, unmerge and decisions: they take effect at once, a bulk re-run and real-time
upserts honour them, bad requests are refused with nothing written."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from mdm.bulk.ingest import parse_source_arg
from mdm.bulk.reconcile import reconcile
from mdm.bundled import DEFAULT_MATCH_RULES
from mdm.cli import app
from mdm.errors import ConflictError, InputError, NotFoundError
from mdm.lifecycle import decide, merge, parse_record, unmerge
from mdm.realtime.engine import Engine
from mdm.realtime.steward import MergeNotConfirmed
from mdm.rules.bundle import RulesBundle
from mdm.store import open_store
from mdm.store.changes import apply_changes
from mdm.store.events import replay_differences
from mdm.store.reads import get_golden

runner = CliRunner()

REPO = Path(__file__).resolve().parents[1]


def _bundle() -> RulesBundle:
    return RulesBundle.load(DEFAULT_MATCH_RULES)


def _copy(reconciled_db: Path, tmp_path: Path) -> Path:
    db = tmp_path / "mdm.duckdb"
    shutil.copy(reconciled_db, db)
    return db


def _singles(con, n: int = 2) -> list[str]:
    """Golden records of two source records each, different people."""
    return [
        row[0]
        for row in con.execute(
            "SELECT golden_id FROM golden WHERE status = 'active' AND record_count = 2 "
            "ORDER BY golden_id LIMIT ?",
            [n],
        ).fetchall()
    ]


def _records(con, golden_id: str) -> list[tuple[str, str]]:
    return [
        (s, r)
        for s, r in con.execute(
            "SELECT source, record_id FROM xref WHERE golden_id = ? ORDER BY 1, 2", [golden_id]
        ).fetchall()
    ]


def _in_txn(con, action):
    con.execute("BEGIN").fetchall()
    try:
        result = action()
    except BaseException:
        con.execute("ROLLBACK").fetchall()
        raise
    con.execute("COMMIT").fetchall()
    return result


def test_a_merge_holds_through_a_bulk_rerun_and_an_unmerge_stays_apart(
    reconciled_db: Path, sample_files: list[Path], tmp_path: Path
) -> None:
    db = _copy(reconciled_db, tmp_path)
    bundle = _bundle()
    with open_store(db) as con:
        engine = Engine(con, bundle.survivorship, bundle.rules_dir)
        first, second, third = _singles(con, 3)
        merged = _in_txn(
            con, lambda: merge(con, engine, first, second, "ann", "same phone", confirmed=True)
        )
        survivor = merged["golden_id"]
        assert survivor in (first, second) and merged["retired"] == [
            ({first, second} - {survivor}).pop()
        ]
        together = _records(con, survivor)
        assert len(together) == 4
        kept, moved = _records(con, third)
        _in_txn(con, lambda: unmerge(con, engine, third, [moved], "ann", "two people"))
        alone = con.execute(
            "SELECT golden_id FROM xref WHERE source = ? AND record_id = ?", list(moved)
        ).fetchall()[0][0]
        assert alone != third
        assert replay_differences(con) == []
    # The steward's word outranks the scores on the next bulk run.
    reconcile([parse_source_arg(str(p)) for p in sample_files], db, bundle)
    with open_store(db) as con:
        assert _records(con, survivor) == together
        assert get_golden(con, ({first, second} - {survivor}).pop())["golden_id"] == survivor
        golden_of = dict(
            ((s, r), g)
            for s, r, g in con.execute("SELECT source, record_id, golden_id FROM xref").fetchall()
        )
        assert golden_of[kept] == third and golden_of[moved] != third
        assert replay_differences(con) == []


def test_unmerging_right_after_a_merge_restores_both(reconciled_db, tmp_path) -> None:
    db = _copy(reconciled_db, tmp_path)
    bundle = _bundle()
    with open_store(db) as con:
        engine = Engine(con, bundle.survivorship, bundle.rules_dir)
        first, second = _singles(con)
        before = {g: get_golden(con, g) for g in (first, second)}
        done = _in_txn(con, lambda: merge(con, engine, first, second, "ann", confirmed=True))
        other = second if done["golden_id"] == first else first
        back = _in_txn(
            con,
            lambda: unmerge(con, engine, done["golden_id"], _records_of(before[other]), "ann"),
        )
        assert back["into"] == [other]
        for golden_id, was in before.items():
            now = get_golden(con, golden_id)
            changes = ("updated_at", "constraints")  # the unmerge's cannot-links are new
            assert {k: v for k, v in now.items() if k not in changes} == {
                k: v for k, v in was.items() if k not in changes
            }
        events = [
            row[0]
            for row in con.execute(
                "SELECT kind FROM events WHERE golden_id IN (?, ?) AND actor = 'ann' "
                "ORDER BY event_id",
                [first, second],
            ).fetchall()
        ]
        assert "golden_merged" in events and "golden_unmerged" in events
        assert "golden_retired" in events and "record_linked" in events


def _records_of(golden: dict) -> list[tuple[str, str]]:
    return [(r["source"], r["record_id"]) for r in golden["records"]]


def test_a_real_time_update_keeps_a_merge(reconciled_db, tmp_path) -> None:
    db = _copy(reconciled_db, tmp_path)
    bundle = _bundle()
    with open_store(db) as con:
        engine = Engine(con, bundle.survivorship, bundle.rules_dir)
        first, second = _singles(con)
        survivor = _in_txn(con, lambda: merge(con, engine, first, second, "ann", confirmed=True))[
            "golden_id"
        ]
        source, record_id = _records(con, survivor)[0]
        # The record changes beyond recognition; the steward's merge still holds it.
        update = {"source": source, "record_id": record_id, "first_name": "Xavier",
                  "last_name": "Quennell", "email": "xq@example.org"}  # fmt: skip
        result, changes = engine.upsert(update, "crm")
        _in_txn(con, lambda: apply_changes(con, [changes]))
        assert result.golden_id == survivor
        assert len(_records(con, survivor)) == 4


def test_decisions_take_effect_at_once_and_are_not_asked_again(
    reconciled_db: Path, sample_files: list[Path], tmp_path: Path
) -> None:
    db = _copy(reconciled_db, tmp_path)
    bundle = _bundle()
    learning = bundle.match.learning
    with open_store(db) as con:
        engine = Engine(con, bundle.survivorship, bundle.rules_dir)
        # Two open tasks about different customers: deciding the first must not close
        # the second (a task between the same two golden records is withdrawn).
        tasks = con.execute(
            "WITH open AS (SELECT * FROM review_tasks WHERE status = 'open'), "
            "first AS (SELECT * FROM open ORDER BY task_id LIMIT 1) "
            "SELECT task_id, source_l, record_id_l, source_r, record_id_r FROM first "
            "UNION ALL (SELECT o.task_id, o.source_l, o.record_id_l, o.source_r, o.record_id_r "
            "FROM open o, first f WHERE o.golden_id_l NOT IN (f.golden_id_l, f.golden_id_r) "
            "AND o.golden_id_r NOT IN (f.golden_id_l, f.golden_id_r) ORDER BY o.task_id LIMIT 1)"
        ).fetchall()
        (same, *pair_same), (different, *pair_different) = tasks
        _, effect = _in_txn(con, lambda: decide(con, engine, same, "same", "ann", learning))
        assert len(effect["golden_records"]) == 1
        golden_of = dict(
            ((s, r), g)
            for s, r, g in con.execute("SELECT source, record_id, golden_id FROM xref").fetchall()
        )
        left, right = tuple(pair_same[:2]), tuple(pair_same[2:])
        assert golden_of[left] == golden_of[right]
        engine.sync(con)
        _in_txn(con, lambda: decide(con, engine, different, "different", "ann", learning))
        # "different" for two records a steward put together is refused: unmerge instead.
        engine.sync(con)
        with pytest.raises(ConflictError, match="unmerge one of them"):
            _in_txn(con, lambda: engine.constrain(left, right, "cannot", "bo"))
        assert replay_differences(con) == []
    reconcile([parse_source_arg(str(p)) for p in sample_files], db, bundle)
    with open_store(db) as con:
        golden_of = dict(
            ((s, r), g)
            for s, r, g in con.execute("SELECT source, record_id, golden_id FROM xref").fetchall()
        )
        assert golden_of[left] == golden_of[right]
        l2, r2 = tuple(pair_different[:2]), tuple(pair_different[2:])
        assert golden_of[l2] != golden_of[r2]
        asked_again = con.execute(
            "SELECT count(*) FROM review_tasks WHERE status = 'open' AND ((source_l, "
            "record_id_l, source_r, record_id_r) IN (SELECT ?, ?, ?, ? UNION ALL "
            "SELECT ?, ?, ?, ?))",
            [*pair_same, *pair_different],
        ).fetchall()
        assert asked_again == [(0,)]


def test_bad_requests_are_refused(reconciled_db, tmp_path) -> None:
    db = _copy(reconciled_db, tmp_path)
    bundle = _bundle()
    with open_store(db) as con:
        engine = Engine(con, bundle.survivorship, bundle.rules_dir)
        first, second = _singles(con)
        with pytest.raises(ConflictError, match="already one golden record"):
            merge(con, engine, first, first, "ann")
        with pytest.raises(NotFoundError, match="no golden record GNOPE"):
            merge(con, engine, first, "GNOPE", "ann")
        with pytest.raises(InputError, match="attributed"):
            merge(con, engine, first, second, " ")
        keys = _records(con, first)
        with pytest.raises(InputError, match="leaves nothing behind"):
            unmerge(con, engine, first, keys, "ann")
        with pytest.raises(InputError, match="not in golden record"):
            unmerge(con, engine, first, _records(con, second)[:1], "ann")
        with pytest.raises(InputError, match="SOURCE/RECORD_ID"):
            parse_record("no-slash")
        survivor = _in_txn(con, lambda: merge(con, engine, first, second, "ann", confirmed=True))[
            "golden_id"
        ]
        retired = ({first, second} - {survivor}).pop()
        with pytest.raises(ConflictError, match=f"part of {survivor} now"):
            merge(con, engine, retired, survivor, "ann", confirmed=True)
        # Nothing a refusal touched was written.
        assert con.execute("SELECT count(*) FROM link_constraints").fetchall() == [(3,)]


def test_the_cli_merges_unmerges_and_replays(reconciled_db, tmp_path) -> None:
    db = _copy(reconciled_db, tmp_path)
    with duckdb.connect(str(db), read_only=True) as con:
        first, second = _singles(con)
    runner = CliRunner()
    done = runner.invoke(
        app,
        [
            "golden",
            "merge",
            first,
            second,
            "--by",
            "ann",
            "--reason",
            "x",
            "--confirm",
            "--db",
            str(db),
        ],
    )
    assert done.exit_code == 0, done.output
    assert "merged into" in done.output
    with duckdb.connect(str(db), read_only=True) as con:
        survivor = con.execute(
            "SELECT golden_id FROM golden WHERE golden_id IN (?, ?) AND status = 'active'",
            [first, second],
        ).fetchall()[0][0]
        moved = _records(con, survivor)[0]
    again = runner.invoke(app, ["golden", "merge", first, second, "--db", str(db)])
    assert again.exit_code != 0 and "retired" in again.output
    bad = runner.invoke(app, ["golden", "unmerge", survivor, "nonsense", "--db", str(db)])
    assert bad.exit_code != 0 and "SOURCE/RECORD_ID" in bad.output
    out = runner.invoke(
        app, ["golden", "unmerge", survivor, f"{moved[0]}/{moved[1]}", "--db", str(db)]
    )
    assert out.exit_code == 0, out.output
    replayed = runner.invoke(app, ["replay", "--db", str(db)])
    assert replayed.exit_code == 0 and "replays to the tables" in replayed.output
    history = runner.invoke(app, ["history", survivor, "--db", str(db)], env={"COLUMNS": "200"})
    assert "merged in by a steward" in history.output
    assert "unmerged by a steward" in history.output
    shown = runner.invoke(
        app, ["golden", "show", survivor, "--db", str(db)], env={"COLUMNS": "200"}
    )
    assert "cannot link" in shown.output and "unmerge by steward" in shown.output


def test_deleting_the_record_a_merge_hung_on_keeps_the_rest_together(
    reconciled_db: Path, tmp_path: Path
) -> None:
    """Must-links run from each record of one side to the first record of the other.
    When that record is deleted, what the steward glued stays glued, and when it comes
    back it is matched as a new record: no must-link is left pointing at nothing or
    holding records apart (found by the crash harness)."""
    from mdm.checks import store_problems

    db = _copy(reconciled_db, tmp_path)
    bundle = _bundle()
    with open_store(db) as con:
        engine = Engine(con, bundle.survivorship, bundle.rules_dir)
        first, second = _singles(con)
        anchor = min(_records(con, first))
        survivor = _in_txn(con, lambda: merge(con, engine, first, second, "ann", confirmed=True))[
            "golden_id"
        ]
        others = [k for k in _records(con, survivor) if k != anchor]
        _in_txn(con, lambda: apply_changes(con, [engine.delete(*anchor, "api")[1]]))
        golden_of = dict(
            ((s, r), g)
            for s, r, g in con.execute("SELECT source, record_id, golden_id FROM xref").fetchall()
        )
        golden = {golden_of[key] for key in others}
        assert len(golden) == 1  # still one person
        stale = con.execute(
            "SELECT count(*) FROM link_constraints WHERE (source_l = ? AND record_id_l = ?) "
            "OR (source_r = ? AND record_id_r = ?)",
            [*anchor, *anchor],
        ).fetchall()[0][0]
        assert stale == 0
        back = {"source": anchor[0], "record_id": anchor[1], "first_name": "Someone",
                "last_name": "Else"}  # fmt: skip
        _in_txn(con, lambda: apply_changes(con, [engine.upsert(back, "api")[1]]))
        assert store_problems(con, bundle.survivorship, full=True) == []


def test_history_shows_a_stored_actor_as_one_plain_line(reconciled_db: Path, tmp_path: Path):
    """An actor stored before control characters were refused cannot forge a line of
    `mdm history`, nor style it."""
    db = tmp_path / "mdm.duckdb"
    shutil.copy(reconciled_db, db)
    forged = "ann\r\n2026-01-01 00:00:00   admin   [bold]erased[/bold]"
    with duckdb.connect(str(db)) as con:
        golden_id, event_id = con.execute(
            "SELECT golden_id, min(event_id) FROM events WHERE golden_id IS NOT NULL "
            "GROUP BY 1 ORDER BY 1 LIMIT 1"
        ).fetchall()[0]
        con.execute("UPDATE events SET actor = ? WHERE event_id = ?", [forged, event_id])
    shown = runner.invoke(app, ["history", golden_id, "--db", str(db)], env={"COLUMNS": "300"})
    assert shown.exit_code == 0, shown.output
    assert "ann\\r\\n2026-01-01" in shown.output and "[bold]erased[/bold]" in shown.output
    assert not any(line.lstrip("│ ").startswith("2026-01-01 00:00:00   admin") for line in
                   shown.output.splitlines())  # fmt: skip


def test_merging_two_clearly_different_people_needs_confirmation(reconciled_db, tmp_path) -> None:
    """A merge the model holds against (even the two customers' most alike records
    score below the review band) is refused with the evidence, writes nothing, and
    goes through once confirmed; customers the model is unsure about merge at once."""
    db = _copy(reconciled_db, tmp_path)
    bundle = _bundle()
    with open_store(db) as con:
        engine = Engine(con, bundle.survivorship, bundle.rules_dir)
        first, second = _singles(con)
        evidence = engine.merge_evidence(first, second)
        assert evidence.strong and evidence.against
        assert evidence.against == tuple(sorted(evidence.against, key=lambda a: a[1]))
        events = con.execute("SELECT count(*) FROM events").fetchall()
        with pytest.raises(MergeNotConfirmed, match="strong evidence against") as refused:
            _in_txn(con, lambda: merge(con, engine, first, second, "ann"))
        assert evidence.against[0][0] in str(refused.value)  # the strongest, by name
        assert con.execute("SELECT count(*) FROM events").fetchall() == events
        assert get_golden(con, first)["status"] == get_golden(con, second)["status"] == "active"
        done = _in_txn(con, lambda: merge(con, engine, first, second, "ann", confirmed=True))
        assert done["retired"]
        # Two customers an open review task asks about: the model is unsure, no question.
        task = con.execute(
            "SELECT golden_id_l, golden_id_r FROM review_tasks WHERE status = 'open' "
            "AND golden_id_l <> golden_id_r ORDER BY match_probability DESC LIMIT 1"
        ).fetchall()[0]
        unsure = engine.merge_evidence(*task)
        assert not unsure.strong
        assert _in_txn(con, lambda: merge(con, engine, *task, "ann"))["golden_id"] in task

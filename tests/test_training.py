"""Re-estimating the model with the stewards' labels: the parameters move towards what
the labels show, the queue's movement is reported, and the next run uses the model."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mdm.bundled import DEFAULT_MATCH_RULES
from mdm.cli import app
from mdm.errors import InputError
from mdm.lifecycle import decide
from mdm.realtime.engine import Engine
from mdm.rules.bundle import RulesBundle
from mdm.store import open_store
from mdm.store.reads import latest_model
from mdm.training import retrain_with_decisions

REPO = Path(__file__).resolve().parents[1]


def _decide_some(db: Path, n: int) -> None:
    bundle = RulesBundle.load(DEFAULT_MATCH_RULES)
    with open_store(db) as con:
        engine = Engine(con, bundle.survivorship, bundle.rules_dir)
        for _ in range(n):
            task_id = min(engine.task_pairs)
            con.execute("BEGIN").fetchall()
            decide(con, engine, task_id, "same", "ann", bundle.match.learning)
            con.execute("COMMIT").fetchall()
            engine.sync(con)


def test_labels_move_the_model_and_the_next_run_uses_it(reconciled_db, tmp_path) -> None:
    db = tmp_path / "mdm.duckdb"
    shutil.copy(reconciled_db, db)
    with open_store(db) as con, pytest.raises(InputError, match="at least 10 are needed"):
        retrain_with_decisions(con)
    _decide_some(db, 12)
    with open_store(db) as con:
        before = latest_model(con)
        open_tasks = con.execute(
            "SELECT count(*) FROM review_tasks WHERE status = 'open'"
        ).fetchall()[0][0]
        done = retrain_with_decisions(con)
        assert done.labels >= 12 and done.stored
        assert sum(v for k, v in done.queue.items() if k != "open_tasks") == open_tasks
        assert done.queue["open_tasks"] == open_tasks
        moved = [c for c in done.changes if abs(c.m_after - c.m_before) > 1e-9]
        assert moved, "labels moved no parameter"
        for change in done.changes:
            assert 0.0 < change.m_after <= 1.0
        # Every label says "match": where the labelled pairs fall, m rises.
        first = [c for c in done.changes if c.comparison == "first_name"]
        busiest = max(first, key=lambda c: c.labelled)
        assert busiest.labelled > 0 and busiest.m_after > busiest.m_before
        # Every comparison's m still sums to one over its levels.
        totals: dict[str, float] = {}
        for change in done.changes:
            totals[change.comparison] = totals.get(change.comparison, 0.0) + change.m_after
        assert all(abs(total - 1.0) < 1e-6 for total in totals.values()), totals
        after = latest_model(con)
        assert after.model_id == done.model.model_id != before.model_id
        assert after.prior == before.prior  # labels do not describe random pairs


def test_the_cli_reports_and_a_dry_run_stores_nothing(reconciled_db, tmp_path) -> None:
    db = tmp_path / "mdm.duckdb"
    shutil.copy(reconciled_db, db)
    runner = CliRunner()
    few = runner.invoke(app, ["train", "--with-decisions", "--db", str(db)])
    assert few.exit_code != 0 and "at least 10" in few.output
    nothing = runner.invoke(app, ["train", "--db", str(db)])
    assert nothing.exit_code != 0 and "--with-decisions" in nothing.output
    _decide_some(db, 12)
    dry = runner.invoke(app, ["train", "--with-decisions", "--dry-run", "--json", "--db", str(db)])
    assert dry.exit_code == 0, dry.output
    report = json.loads(dry.output)
    assert report["stored"] is False and report["labels"] >= 12
    with open_store(db) as con:
        assert latest_model(con).model_id == report["based_on"]
    done = runner.invoke(app, ["train", "--with-decisions", "--db", str(db)])
    assert done.exit_code == 0 and "open review tasks" in done.output

"""Approving or rejecting a name pair re-scores the review tasks it touches, at once."""

from __future__ import annotations

import json

import pytest

from mdm.review import decide_variant, rescore_tasks


def _tasks(con) -> dict[int, tuple[float, str]]:
    rows = con.execute("SELECT task_id, match_probability, status FROM review_tasks").fetchall()
    return {task: (probability, status) for task, probability, status in rows}


def test_rescoring_unchanged_data_reproduces_the_bulk_scores(store) -> None:
    """The in-process scorer with the live frequency table gives what splink gave."""
    before = _tasks(store)
    names = {r[0] for r in store.execute("SELECT DISTINCT first_name FROM records").fetchall()}
    assert rescore_tasks(store, names - {None}) == len(before) > 20
    after = _tasks(store)
    for task, (probability, status) in before.items():
        assert after[task][0] == pytest.approx(probability, abs=1e-12)
        assert after[task][1] == status


def _unrelated_name_task(con) -> tuple[int, str, str]:
    return con.execute(
        "SELECT t.task_id, l.first_name, r.first_name FROM review_tasks t "
        "JOIN records l ON l.source = t.source_l AND l.record_id = t.record_id_l "
        "JOIN records r ON r.source = t.source_r AND r.record_id = t.record_id_r "
        "WHERE t.status = 'open' AND l.first_name <> r.first_name AND length(l.first_name) > 1 "
        "AND length(r.first_name) > 1 AND NOT list_has_any(l.first_name_variants, "
        "r.first_name_variants) AND l.middle_name IS NULL AND r.middle_name IS NULL "
        # Room to rise: a task scored on its customers may already be near certain.
        "AND t.match_probability < 0.9 ORDER BY t.match_probability DESC, t.task_id LIMIT 1"
    ).fetchall()[0]


def test_approve_then_reject_moves_the_task_and_back(store) -> None:
    task, first_l, first_r = _unrelated_name_task(store)
    before = _tasks(store)[task]
    approved = decide_variant(store, first_l, first_r, approve=True, actor="ann")
    assert approved.rescored_tasks >= 1 and approved.records_updated >= 1
    raised = _tasks(store)[task]
    assert raised[0] > before[0] + 0.05
    keys = store.execute(
        "SELECT DISTINCT first_name_variants FROM records WHERE first_name = ?",
        [max(first_l, first_r)],
    ).fetchall()
    assert all(min(first_l, first_r) in k[0] or max(first_l, first_r) in k[0] for k in keys)
    rejected = decide_variant(store, first_l, first_r, approve=False, actor="ann")
    assert rejected.rescored_tasks >= 1
    assert _tasks(store)[task] == (pytest.approx(before[0], abs=1e-12), before[1])
    events = store.execute(
        "SELECT detail FROM events WHERE kind = 'task_rescored' ORDER BY event_id"
    ).fetchall()
    details = [json.loads(e[0]) for e in events if json.loads(e[0])["task_id"] == task]
    assert [d["after"] for d in details] == [pytest.approx(raised[0]), pytest.approx(before[0])]


def test_a_pair_no_task_touches_rescores_nothing(store) -> None:
    change = decide_variant(store, "Xandrielle", "Xandy", approve=True, actor="ann")
    assert change.rescored_tasks == 0 and change.records_updated == 0
    assert "is now active" in change.message

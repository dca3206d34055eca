"""A review pair is scored with what its two customers (golden records) know: a value
missing on one record but present on its golden record is compared, by the model's own
scorer, and the task page shows it as the customer's."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mdm.bundled import DEFAULT_MATCH_RULES
from mdm.clusters import probability_to_weight
from mdm.linkage.customers import score_customers, score_lent
from mdm.linkage.scorer import Scorer
from mdm.realtime.engine import Engine
from mdm.rules.bundle import RulesBundle
from mdm.schema import ATTRIBUTES
from mdm.store.changes import apply_changes
from mdm.store.names import live_term_frequencies
from mdm.store.reads import latest_model
from mdm.workbench import task_detail
from tests.review.test_customer_pairs import COPIED
from tests.test_lifecycle import _in_txn

LEFT_DONOR = ("crm", "A2")
RIGHT_DONOR = ("crm", "B2")


@pytest.fixture
def scorer(store) -> Scorer:
    model = latest_model(store)
    return Scorer(model, live_term_frequencies(store, model.tf_columns))


@pytest.fixture
def person(store) -> dict:
    """A stored record with a date of birth, its derived columns and all."""
    result = store.execute(
        "SELECT * EXCLUDE (extra, raw) FROM records WHERE date_of_birth IS NOT NULL "
        "ORDER BY source, record_id LIMIT 1"
    )
    names = [d[0] for d in result.description]
    return dict(zip(names, result.fetchall()[0], strict=True))


def _with(record: dict, **values) -> dict:
    return {**record, **values}


def _donor(key: tuple[str, str], born: str | None) -> dict:
    return {"source": key[0], "record_id": key[1], "date_of_birth": born}


# (id, left record's date of birth, right's, left customer's, right customer's,
#  the date of birth level hit, what was taken from the customers)
CASES = [
    ("missing-on-left-34-years-apart", None, "1990-03-04", "1956-03-04", None,
     "different", {"left": {"date_of_birth": LEFT_DONOR}, "right": {}}),
    ("missing-on-right-the-same", "1956-03-04", None, None, "1956-03-04",
     "exact", {"left": {}, "right": {"date_of_birth": RIGHT_DONOR}}),
    ("missing-on-both-both-customers-know", None, None, "1956-03-04", "1956-03-04",
     "exact", {"left": {"date_of_birth": LEFT_DONOR},
               "right": {"date_of_birth": RIGHT_DONOR}}),
    ("present-on-both-the-records-win", "1990-03-04", "1990-03-04", "1956-03-04",
     "1956-03-04", "exact", {"left": {}, "right": {}}),
    ("the-customer-does-not-know-either", None, "1990-03-04", None, None, "missing",
     {"left": {}, "right": {}}),
]  # fmt: skip


@pytest.mark.parametrize(
    ("left_born", "right_born", "left_customer", "right_customer", "level", "filled"),
    [pytest.param(*case[1:], id=case[0]) for case in CASES],
)
def test_a_value_a_record_lacks_is_its_customers(
    scorer, person, left_born, right_born, left_customer, right_customer, level, filled
) -> None:
    left = _with(person, date_of_birth=left_born, record_id="A1")
    right = _with(person, date_of_birth=right_born, record_id="B1")
    donors_l = {"date_of_birth": _donor(LEFT_DONOR, left_customer)} if left_customer else {}
    donors_r = {"date_of_birth": _donor(RIGHT_DONOR, right_customer)} if right_customer else {}
    scored = score_customers(scorer, left, right, donors_l, donors_r)
    hit = {h.comparison: h for h in scored.score.comparisons}["date_of_birth"]
    assert level in hit.label.lower()
    assert scored.filled == filled
    assert scored.scored_on == ("customers" if any(filled.values()) else "records")
    # The score is the model's own score of the records as filled: nothing drifts.
    again = scorer.score(scored.left, scored.right)
    assert again.match_weight == scored.score.match_weight
    if scored.scored_on == "records":
        assert scored.score.match_weight == scorer.score(left, right).match_weight
    # A bulk run's rescoring gives the customers' score, and nothing where none is lent.
    lent = score_lent(scorer, left, right, donors_l, donors_r)
    if scored.scored_on == "records":
        assert lent is None
    else:
        assert lent is not None and lent.match_weight == scored.score.match_weight


def test_the_task_page_compares_the_golden_records_birth_dates(store) -> None:
    bundle = RulesBundle.load(DEFAULT_MATCH_RULES)
    engine = Engine(store, bundle.survivorship, bundle.rules_dir)
    found = store.execute(
        "SELECT t.task_id, t.match_probability, gl.date_of_birth, gr.date_of_birth, "
        "l.date_of_birth IS NULL FROM review_tasks t "
        "JOIN records l ON l.source = t.source_l AND l.record_id = t.record_id_l "
        "JOIN records r ON r.source = t.source_r AND r.record_id = t.record_id_r "
        "JOIN xref xl ON xl.source = l.source AND xl.record_id = l.record_id "
        "JOIN xref xr ON xr.source = r.source AND xr.record_id = r.record_id "
        "JOIN golden gl ON gl.golden_id = xl.golden_id "
        "JOIN golden gr ON gr.golden_id = xr.golden_id "
        "WHERE t.status = 'open' AND (l.date_of_birth IS NULL) <> (r.date_of_birth IS NULL) "
        "AND gl.date_of_birth IS NOT NULL AND gr.date_of_birth IS NOT NULL "
        "AND gl.date_of_birth <> gr.date_of_birth ORDER BY t.task_id LIMIT 1"
    ).fetchall()
    assert found, "the sample store has a task with a birth date missing on one record"
    task, stored, born_l, born_r, left_lacks = found[0]
    detail = task_detail(store, engine, task)
    row = next(f for f in detail["fields"] if f["label"] == "Date of birth")
    assert (row["left"], row["right"]) == (born_l, born_r)
    assert (row["left_from"] is not None, row["right_from"] is not None) == (
        left_lacks,
        not left_lacks,
    )
    steps = [s["label"] for s in detail["waterfall"]]
    assert any(s.startswith("Date of birth: ") and "missing" not in s for s in steps)
    # What the task stored is what the page explains.
    assert detail["scored_on"] == "customers"
    assert detail["now"]["probability"] == pytest.approx(stored, rel=1e-9)
    assert detail["now"]["probability"] != pytest.approx(detail["records_only"]["probability"])


def test_a_task_opened_in_real_time_is_scored_on_its_customers_as_bulk_scores_it(
    store,
) -> None:
    """A record sent in real time that lacks a birth date its customer knows opens a
    task scored with the customers' birth dates, as the bulk run scores its tasks, and
    the stored score is the one the task page explains."""
    bundle = RulesBundle.load(DEFAULT_MATCH_RULES)
    found = store.execute(
        "SELECT t.task_id, l.source, l.record_id, r.source, r.record_id FROM review_tasks t "
        "JOIN records l ON l.source = t.source_l AND l.record_id = t.record_id_l "
        "JOIN records r ON r.source = t.source_r AND r.record_id = t.record_id_r "
        "WHERE t.status = 'open' AND t.scored_on = 'customers' "
        "AND l.date_of_birth IS NULL AND r.date_of_birth IS NOT NULL "
        "ORDER BY t.task_id LIMIT 1"
    ).fetchall()
    assert found, "the sample store has a task whose left record lacks a birth date"
    task, *keys = found[0]
    lacking, other = (keys[0], keys[1]), (keys[2], keys[3])
    # Withdraw it, so that a copy of the record lacking the birth date opens a new one.
    store.execute("UPDATE review_tasks SET status = 'withdrawn' WHERE task_id = ?", [task])
    engine = Engine(store, bundle.survivorship, bundle.rules_dir)
    values = store.execute(
        f"SELECT {', '.join(COPIED)} FROM records WHERE source = ? AND record_id = ?",
        list(lacking),
    ).fetchall()[0]
    copy = {c: str(v) for c, v in zip(COPIED, values, strict=True) if v is not None}
    assert "date_of_birth" not in copy
    result, changes = engine.upsert({"source": "extra", "record_id": "COPY1", **copy})
    added = [row for row in changes.tasks_added if (row[3], row[4]) == other]
    assert len(added) == 1, changes.tasks_added
    new_task, records_probability = added[0][0], added[0][8]
    assert new_task in changes.tasks_on_customers
    _in_txn(store, lambda: apply_changes(store, [changes]))
    stored = store.execute(
        "SELECT match_probability, scored_on FROM review_tasks WHERE task_id = ?", [new_task]
    ).fetchall()[0]
    assert stored[1] == "customers"
    assert stored[0] != pytest.approx(records_probability)
    detail = task_detail(store, engine, new_task)
    # The page scores now, with the frequencies the copy itself moved a little; the
    # customers' values shift it exactly as much as the records' own score.
    moved = detail["records_only"]["weight"] - probability_to_weight(records_probability)
    assert detail["now"]["weight"] - probability_to_weight(stored[0]) == pytest.approx(
        moved, abs=1e-6
    )
    assert abs(moved) < 1
    # The engine still weighs the task on its records' score (it chose the pair by it).
    assert engine.tasks.probability[new_task] == pytest.approx(records_probability)
    assert result.review_tasks == [new_task]


def test_reading_only_the_values_records_lack_scores_every_task_the_same(
    store, scorer: Scorer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bulk run scores its open tasks on their customers reading only the donors of
    attributes a task's record lacks: every task scores as with every donor read."""
    from mdm.store import tasks as task_scoring

    rows = store.execute(
        "SELECT source_l, record_id_l, source_r, record_id_r FROM review_tasks "
        "WHERE status = 'open' ORDER BY task_id"
    ).fetchall()
    pruned = task_scoring.customer_scores(store, scorer, rows)
    everything = task_scoring.customer_donors

    def every_donor(con, golden_ids, columns=None, lacking=None):
        return everything(con, golden_ids, columns)

    monkeypatch.setattr(task_scoring, "customer_donors", every_donor)
    whole = task_scoring.customer_scores(store, scorer, rows)
    assert len(rows) > 10
    assert sum(score.scored_on == "customers" for score in whole.values()) > 0
    assert {k: (v.score.match_weight, v.filled) for k, v in pruned.items()} == {
        k: (v.score.match_weight, v.filled) for k, v in whole.items()
    }


def test_tasks_scored_on_their_customers_in_batches_score_as_all_at_once(
    store, scorer: Scorer
) -> None:
    """A bulk run scores its open tasks on their customers a batch at a time (memory):
    every task ends with the score, probability and basis of scoring them all at once."""
    from mdm.store.tasks import score_tasks_on_customers

    def scored(batch: int) -> tuple[int, list[tuple]]:
        store.execute("BEGIN")
        try:
            store.execute("UPDATE review_tasks SET scored_on = 'records' WHERE status = 'open'")
            changed = score_tasks_on_customers(store, scorer, batch)
            rows = store.execute(
                "SELECT task_id, match_weight, match_probability, scored_on FROM review_tasks "
                "ORDER BY task_id"
            ).fetchall()
        finally:
            store.execute("ROLLBACK")
        return changed, rows

    whole = scored(1_000_000)
    assert whole[0] > 0 and len(whole[1]) > 10
    assert scored(7) == whole


def test_a_bulk_runs_rescoring_equals_scoring_each_task_on_its_customers(
    store, scorer: Scorer
) -> None:
    """A bulk run rescores its open tasks with lent_scores (the customers' score alone,
    without the records' first): the same tasks change, to the same weights, as when
    each task is scored on its records and its customers."""
    from mdm.store.tasks import customer_scores, lent_scores

    rows = store.execute(
        "SELECT source_l, record_id_l, source_r, record_id_r FROM review_tasks ORDER BY task_id"
    ).fetchall()
    whole = customer_scores(store, scorer, rows)
    lent = lent_scores(store, scorer, rows)
    expected = {k: v.score.match_weight for k, v in whole.items() if v.scored_on == "customers"}
    assert len(expected) > 5 and len(expected) < len(whole)
    assert {k: v.match_weight for k, v in lent.items()} == expected


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.sets(st.sampled_from(sorted(ATTRIBUTES))),
    st.sets(st.sampled_from(sorted(ATTRIBUTES))),
    st.booleans(),
)
def test_the_comparisons_a_pair_misses_are_those_its_score_misses(
    scorer: Scorer, store, left_gone: set, right_gone: set, same: bool
) -> None:
    """Scorer.missing finds the comparisons at their missing-value level from those
    levels alone: the ones the pair's whole score has there."""
    rows = store.execute(
        "SELECT * EXCLUDE (extra, raw) FROM records ORDER BY source, record_id LIMIT 2"
    )
    names = [d[0] for d in rows.description]
    first, second = (dict(zip(names, row, strict=True)) for row in rows.fetchall())
    left = {**first, **dict.fromkeys(left_gone)}
    right = {**(first if same else second), **dict.fromkeys(right_gone)}
    assert scorer.missing(left, right) == scorer.score(left, right).missing

"""Tests for mdm.evaluation: hand-computed cases and properties."""

from __future__ import annotations

from itertools import combinations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mdm.evaluation import (
    BlockingMetrics,
    bcubed_metrics,
    blocking_recall,
    pairs_within_clusters,
    pairwise_metrics,
)

# --- hand-computed cases ------------------------------------------------------------

# id, predicted, truth, (tp, fp, fn, precision, recall, f1, predicted_pairs, true_pairs)
PAIRWISE_CASES = [
    ("perfect", ["a", "a", "b"], ["x", "x", "y"], (1, 0, 0, 1.0, 1.0, 1.0, 1, 1)),
    ("all-singletons", [1, 2, 3], [7, 7, 7], (0, 0, 3, 1.0, 0.0, 0.0, 0, 3)),
    ("all-merged", [1, 1, 1, 1], [1, 1, 2, 2], (2, 4, 0, 1 / 3, 1.0, 0.5, 6, 2)),
    ("mixed", [1, 1, 2, 2, 3], [1, 1, 1, 2, 2], (1, 1, 3, 0.5, 0.25, 1 / 3, 2, 4)),
    ("no-pairs-anywhere", [1, 2], [1, 2], (0, 0, 0, 1.0, 1.0, 1.0, 0, 0)),
    ("missing-truth-excluded", [1, 1, 1], [5, 5, None], (1, 0, 0, 1.0, 1.0, 1.0, 1, 1)),
    ("missing-pred-singleton", [None, None, 1], [5, 5, 6], (0, 0, 1, 1.0, 0.0, 0.0, 0, 1)),
    ("nan-truth-excluded", [1, 1, 2, 2], [1.0, np.nan, 2.0, 2.0], (1, 0, 0, 1.0, 1.0, 1.0, 1, 1)),
    ("empty", [], [], (0, 0, 0, 1.0, 1.0, 1.0, 0, 0)),
]


@pytest.mark.parametrize(
    ("predicted", "truth", "expected"),
    [case[1:] for case in PAIRWISE_CASES],
    ids=[case[0] for case in PAIRWISE_CASES],
)
def test_pairwise_metrics_hand_computed(predicted, truth, expected):
    m = pairwise_metrics(np.array(predicted, dtype=object), np.array(truth, dtype=object))
    tp, fp, fn, precision, recall, f1, predicted_pairs, true_pairs = expected
    assert (m.tp, m.fp, m.fn, m.predicted_pairs, m.true_pairs) == (
        tp,
        fp,
        fn,
        predicted_pairs,
        true_pairs,
    )
    assert (m.precision, m.recall, m.f1) == pytest.approx((precision, recall, f1))


# id, predicted, truth, (precision, recall, f1)
BCUBED_CASES = [
    ("perfect", [1, 1, 2], [9, 9, 8], (1.0, 1.0, 1.0)),
    ("all-merged", [1, 1, 1, 1], [1, 1, 2, 2], (0.5, 1.0, 2 / 3)),
    ("all-singletons", [1, 2, 3, 4], [1, 1, 2, 2], (1.0, 0.5, 2 / 3)),
    # per record P = 1, 1, 1/2, 1/2, 1 and R = 2/3, 2/3, 1/3, 1/2, 1/2
    ("mixed", [1, 1, 2, 2, 3], [1, 1, 1, 2, 2], (0.8, 8 / 15, 0.64)),
    ("missing-truth-excluded", [1, 1, 1], ["a", "b", None], (0.5, 1.0, 2 / 3)),
    ("empty", [], [], (1.0, 1.0, 1.0)),
]


@pytest.mark.parametrize(
    ("predicted", "truth", "expected"),
    [case[1:] for case in BCUBED_CASES],
    ids=[case[0] for case in BCUBED_CASES],
)
def test_bcubed_metrics_hand_computed(predicted, truth, expected):
    m = bcubed_metrics(np.array(predicted, dtype=object), np.array(truth, dtype=object))
    assert (m.precision, m.recall, m.f1) == pytest.approx(expected)


# id, candidate pairs, ids, truth, (true_pairs, true_pairs_blocked)
BLOCKING_CASES = [
    ("one-of-three", [(10, 11), (12, 13)], [10, 11, 12, 13], ["a", "a", "a", "b"], (3, 1)),
    ("both-orders-once", [(10, 11), (11, 10)], [10, 11, 12], ["a", "a", "b"], (1, 1)),
    ("duplicates-once", [(10, 11)] * 3, [10, 11], ["a", "a"], (1, 1)),
    ("self-pairs-ignored", [(10, 10), (11, 11)], [10, 11], ["a", "a"], (1, 0)),
    ("unknown-ids-ignored", [(10, 99), (98, 11)], [10, 11], ["a", "a"], (1, 0)),
    ("missing-truth", [(10, 11), (11, 12)], [10, 11, 12], [None, None, "a"], (0, 0)),
    ("all-found", [(1, 2), (1, 3), (3, 2), (4, 5)], [1, 2, 3, 4, 5], [1, 1, 1, 2, 2], (4, 4)),
    ("string-ids", [("r-2", "r-1")], ["r-1", "r-2", "r-3"], ["x", "x", "x"], (3, 1)),
    ("no-candidates", [], [1, 2], ["a", "a"], (1, 0)),
]


@pytest.mark.parametrize(
    ("pairs", "ids", "truth", "expected"),
    [case[1:] for case in BLOCKING_CASES],
    ids=[case[0] for case in BLOCKING_CASES],
)
def test_blocking_recall_hand_computed(pairs, ids, truth, expected):
    ids_arr = np.array(ids)
    candidates = pd.DataFrame(pairs, columns=["id_l", "id_r"]).astype(ids_arr.dtype)
    m = blocking_recall(candidates, ids_arr, np.array(truth, dtype=object))
    true_pairs, blocked = expected
    recall = 1.0 if true_pairs == 0 else blocked / true_pairs
    assert m == BlockingMetrics(true_pairs, blocked, pytest.approx(recall))


@pytest.mark.parametrize(
    ("labels", "expected"),
    [([], 0), ([1, 2, 3], 0), ([1, 1, 1, 2, 2], 4), (["a", "a", None, None], 1)],
    ids=["empty", "singletons", "three-and-two", "missing-not-paired"],
)
def test_pairs_within_clusters(labels, expected):
    assert pairs_within_clusters(np.array(labels, dtype=object)) == expected


def test_series_inputs_with_nullable_dtypes():
    predicted = pd.Series([1, 1, 2, pd.NA], dtype="Int64")
    truth = pd.Series(["a", "a", "a", pd.NA], dtype="string")
    m = pairwise_metrics(predicted, truth)
    assert (m.tp, m.predicted_pairs, m.true_pairs) == (1, 1, 3)


def test_length_mismatch_is_rejected():
    with pytest.raises(ValueError, match="same order"):
        pairwise_metrics(np.array([1, 2]), np.array([1]))


def test_misaligned_series_are_rejected():
    with pytest.raises(ValueError, match="different indexes"):
        bcubed_metrics(pd.Series([1, 1], index=[0, 1]), pd.Series([1, 1], index=[1, 2]))


def test_blocking_recall_rejects_bad_inputs():
    ids = np.array([1, 2])
    with pytest.raises(ValueError, match="id_r"):
        blocking_recall(pd.DataFrame({"id_l": [1]}), ids, np.array([1, 1]))
    with pytest.raises(ValueError, match="unique"):
        blocking_recall(
            pd.DataFrame({"id_l": [1], "id_r": [2]}), np.array([1, 1]), np.array([1, 1])
        )


# --- properties ----------------------------------------------------------------------

labels_strategy = st.lists(st.integers(0, 5), max_size=30)


@st.composite
def label_pairs(draw):
    predicted = draw(labels_strategy)
    truth = draw(st.lists(st.integers(0, 5), min_size=len(predicted), max_size=len(predicted)))
    return np.array(predicted), np.array(truth)


def _brute_force_pairs(labels) -> set[tuple[int, int]]:
    return {(i, j) for i, j in combinations(range(len(labels)), 2) if labels[i] == labels[j]}


@settings(max_examples=60, deadline=None)
@given(labels_strategy)
def test_perfect_prediction_scores_one(labels):
    truth = np.array(labels)
    predicted = np.array([f"cluster-{x}" for x in labels], dtype=object)
    pm = pairwise_metrics(predicted, truth)
    bm = bcubed_metrics(predicted, truth)
    assert (pm.precision, pm.recall, pm.f1) == (1.0, 1.0, 1.0)
    assert (pm.fp, pm.fn) == (0, 0)
    assert (bm.precision, bm.recall, bm.f1) == pytest.approx((1.0, 1.0, 1.0))


@settings(max_examples=60, deadline=None)
@given(label_pairs(), st.permutations(range(6)), st.permutations(range(6)))
def test_metrics_invariant_to_relabelling(pair, perm_pred, perm_truth):
    predicted, truth = pair
    relabelled_pred = np.array([f"p{perm_pred[x]}" for x in predicted], dtype=object)
    relabelled_truth = np.array([perm_truth[x] * 10 + 3 for x in truth], dtype=np.int64)
    assert pairwise_metrics(relabelled_pred, relabelled_truth) == pairwise_metrics(predicted, truth)
    assert _approx_equal(
        bcubed_metrics(relabelled_pred, relabelled_truth), bcubed_metrics(predicted, truth)
    )


def _approx_equal(a, b) -> bool:
    return (a.precision, a.recall, a.f1) == pytest.approx((b.precision, b.recall, b.f1))


@settings(max_examples=60, deadline=None)
@given(label_pairs())
def test_swapping_predicted_and_truth_swaps_precision_and_recall(pair):
    predicted, truth = pair
    forward, backward = pairwise_metrics(predicted, truth), pairwise_metrics(truth, predicted)
    assert (backward.precision, backward.recall) == (forward.recall, forward.precision)
    assert (backward.tp, backward.fp, backward.fn) == (forward.tp, forward.fn, forward.fp)
    assert backward.f1 == pytest.approx(forward.f1)
    b_forward, b_backward = bcubed_metrics(predicted, truth), bcubed_metrics(truth, predicted)
    assert (b_backward.precision, b_backward.recall) == pytest.approx(
        (b_forward.recall, b_forward.precision)
    )
    assert b_backward.f1 == pytest.approx(b_forward.f1)


@settings(max_examples=60, deadline=None)
@given(label_pairs())
def test_pairwise_counts_match_brute_force(pair):
    predicted, truth = pair
    pred_pairs, true_pairs = _brute_force_pairs(predicted), _brute_force_pairs(truth)
    m = pairwise_metrics(predicted, truth)
    assert m.predicted_pairs == len(pred_pairs) == pairs_within_clusters(predicted)
    assert m.true_pairs == len(true_pairs)
    assert m.tp == len(pred_pairs & true_pairs)
    assert 0.0 <= m.f1 <= 1.0


@settings(max_examples=60, deadline=None)
@given(label_pairs())
def test_blocking_recall_matches_brute_force(pair):
    blocked_flags, truth = pair
    # Use the first label list to pick candidate pairs: same label => candidate.
    ids = np.arange(100, 100 + len(truth))
    candidates = [(ids[j], ids[i]) for i, j in _brute_force_pairs(blocked_flags)]
    frame = pd.DataFrame(candidates, columns=["id_l", "id_r"], dtype=np.int64)
    m = blocking_recall(frame, ids, truth)
    true_pairs = _brute_force_pairs(truth)
    assert m.true_pairs == len(true_pairs)
    assert m.true_pairs_blocked == len(true_pairs & _brute_force_pairs(blocked_flags))

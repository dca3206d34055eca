"""Clustering: components, cannot-links, and the label-free threshold."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from mdm.clusters import (
    best_expected_f1_threshold,
    choose_link_threshold,
    cluster,
    components,
    merge_components,
    pairs_within,
    same_label,
)


def _edges(items):
    left = np.array([a for a, _, _ in items], dtype=np.int64)
    right = np.array([b for _, b, _ in items], dtype=np.int64)
    prob = np.array([p for _, _, p in items], dtype=float)
    return left, right, prob


def _partition(labels: np.ndarray) -> set[frozenset[int]]:
    groups: dict[int, set[int]] = {}
    for node, label in enumerate(labels):
        groups.setdefault(int(label), set()).add(node)
    return {frozenset(g) for g in groups.values()}


@pytest.mark.parametrize(
    ("edges", "threshold", "cannot", "expected"),
    [
        ([(0, 1, 0.9), (1, 2, 0.6)], 0.5, [], [{0, 1, 2}, {3}]),
        ([(0, 1, 0.9), (1, 2, 0.6)], 0.7, [], [{0, 1}, {2}, {3}]),
        ([(0, 1, 0.9), (1, 2, 0.6), (2, 3, 0.95)], 0.5, [(0, 3)], [{0, 1}, {2, 3}]),
        ([(0, 1, 0.9), (1, 2, 0.8)], 0.5, [(0, 2)], [{0, 1}, {2}, {3}]),
    ],
    ids=["chain", "threshold-cuts", "cannot-link-splits-weakest", "cannot-link-isolates"],
)
def test_cluster(edges, threshold, cannot, expected) -> None:
    left, right, prob = _edges(edges)
    labels = cluster(4, left, right, prob, threshold, cannot)
    assert _partition(labels) == {frozenset(g) for g in expected}


edge_lists = st.lists(
    st.tuples(st.integers(0, 11), st.integers(0, 11), st.floats(0.01, 0.99)), max_size=30
)


@given(edge_lists, st.lists(st.tuples(st.integers(0, 11), st.integers(0, 11)), max_size=4))
def test_cannot_links_are_honoured(edges, cannot) -> None:
    edges = [(a, b, p) for a, b, p in edges if a != b]
    cannot = [(a, b) for a, b in cannot if a != b]
    left, right, prob = _edges(edges)
    labels = cluster(12, left, right, prob, 0.5, cannot)
    for a, b in cannot:
        assert labels[a] != labels[b]
    # Every cluster is connected by links at the threshold (no unrelated merges).
    for group in _partition(labels):
        if len(group) > 1:
            assert any(a in group and b in group and p >= 0.5 for a, b, p in edges)


@given(edge_lists)
def test_order_of_pairs_does_not_matter(edges) -> None:
    edges = [(a, b, p) for a, b, p in edges if a != b]
    left, right, prob = _edges(edges)
    forward = cluster(12, left, right, prob, 0.5, [(0, 1)])
    backward = cluster(12, left[::-1], right[::-1], prob[::-1], 0.5, [(0, 1)])
    assert _partition(forward) == _partition(backward)


def test_threshold_keeps_likely_pairs_and_drops_unlikely_ones() -> None:
    strong = [(0, 1, 0.999), (2, 3, 0.998), (4, 5, 0.97)]
    weak = [(i, i + 1, 0.02) for i in range(6, 40)]
    left, right, prob = _edges(strong + weak)
    threshold = choose_link_threshold(prob, 0.5, 0.995)
    assert 0.5 <= threshold <= 0.97
    assert pairs_within(cluster(41, left, right, prob, threshold)) == 3


def _best_whole(probability: np.ndarray) -> float:
    """The expected-F1 threshold with every running sum over all pairs at once."""
    ordered = np.sort(probability)[::-1]
    true_links = np.cumsum(ordered)
    false_links = np.cumsum(1.0 - ordered)
    missed = ordered.sum() - true_links
    expected_f1 = 2 * true_links / (2 * true_links + false_links + missed)
    return float(ordered[int(np.argmax(expected_f1))])


@given(
    st.lists(
        st.one_of(st.floats(0.0, 1.0), st.sampled_from([0.0, 0.5, 0.9, 1.0])),
        min_size=1,
        max_size=60,
    ),
    st.integers(1, 7),
)
@example([0.9, 0.9, 0.9, 0.1], 1)  # the best in the third slice, its sums carried over
def test_the_expected_f1_threshold_a_slice_at_a_time_is_the_whole_ones(
    probabilities: list[float], step: int
) -> None:
    probability = np.array(probabilities)
    assert best_expected_f1_threshold(probability, step) == _best_whole(probability)


@given(
    st.lists(st.integers(0, 5), min_size=1, max_size=12).flatmap(
        lambda labels: st.tuples(
            st.just(labels),
            st.lists(st.tuples(st.integers(0, len(labels) - 1), st.integers(0, len(labels) - 1))),
            st.integers(1, 5),
        )
    )
)
def test_same_label_a_slice_at_a_time(case) -> None:
    labels, pairs, step = case
    labels = np.array(labels, dtype=np.int64)
    left = np.array([a for a, _ in pairs], dtype=np.int64)
    right = np.array([b for _, b in pairs], dtype=np.int64)
    assert same_label(labels, left, right, step).tolist() == [
        labels[a] == labels[b] for a, b in pairs
    ]


@pytest.mark.parametrize(
    ("probabilities", "expected"),
    [([], 0.5), ([0.99, 0.99], 0.99), ([0.1, 0.2], 0.5), ([0.9999] * 3, 0.995)],
    ids=["no-pairs", "all-likely", "floor", "ceiling"],
)
def test_threshold_is_clamped(probabilities, expected) -> None:
    assert choose_link_threshold(np.array(probabilities), 0.5, 0.995) == pytest.approx(expected)


@given(
    st.integers(1, 64).flatmap(
        lambda n: st.tuples(
            st.just(n), st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)))
        )
    )
)
def test_small_graphs_get_the_labels_scipy_gives(graph) -> None:
    """The plain-Python path for small neighbourhoods numbers components as scipy does."""
    n, edges = graph
    left = np.asarray([a for a, _ in edges], dtype=np.int64)
    right = np.asarray([b for _, b in edges], dtype=np.int64)
    matrix = coo_matrix((np.ones(len(edges)), (left, right)), shape=(n, n))
    _, expected = connected_components(matrix, directed=False)
    assert components(n, left, right).tolist() == expected.tolist()


@given(
    st.integers(min_value=1, max_value=30).flatmap(
        lambda n: st.tuples(
            st.just(n),
            st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)), max_size=40),
            st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)), max_size=40),
        )
    )
)
def test_merging_edges_into_components_gives_the_components_of_all_edges(case) -> None:
    """Components found in two goes (some edges, then the rest merged in) are those
    found in one: the same records together, and nothing else."""
    n, first, rest = case

    def arrays(edges):
        return (np.array([e[0] for e in edges], dtype=np.int64),
                np.array([e[1] for e in edges], dtype=np.int64))  # fmt: skip

    (l1, r1), (l2, r2) = arrays(first), arrays(rest)
    merged = merge_components(components(n, l1, r1), l2, r2)
    whole = components(n, np.concatenate([l1, l2]), np.concatenate([r1, r2]))
    same_merged = merged[:, None] == merged[None, :]
    same_whole = whole[:, None] == whole[None, :]
    assert (same_merged == same_whole).all()
    assert merged.max() < n


@given(
    st.integers(2, 14).flatmap(
        lambda n: st.tuples(
            st.just(n),
            st.lists(
                st.tuples(
                    st.integers(0, n - 1),
                    st.integers(0, n - 1),
                    st.sampled_from([0.05, 0.2, 0.4, 0.6, 0.8, 0.95]),
                ).filter(lambda e: e[0] != e[1]),
                max_size=30,
            ),
            st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)), max_size=3),
            st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)), max_size=2),
            st.integers(1, 8),
        )
    )
)
@example((3, [(0, 1, 0.9), (0, 2, 0.1)], [(1, 2)], [], 1))  # joined by a must-link alone
def test_guard_pairs_keep_every_pair_that_can_split_a_cluster(case) -> None:
    """The guards' pairs below the split line, read in slices and kept only inside a
    component of the links and must-links, cluster exactly as all of them do."""
    from mdm.clusters import cluster_constrained, guard_pairs

    n, edges, must, steward, step = case
    left, right, prob = _edges(edges) if edges else (np.empty(0, np.int64),) * 2 + (np.empty(0),)
    must_pairs = np.array(must, dtype=np.int64).reshape(-1, 2)
    steward_pairs = np.array(steward, dtype=np.int64).reshape(-1, 2)
    every = np.column_stack([left[prob < 0.5], right[prob < 0.5]])
    kept = guard_pairs(n, left, right, prob, 0.5, 0.5, must_pairs, step=step)
    assert {tuple(p) for p in kept.tolist()} <= {tuple(p) for p in every.tolist()}
    for threshold in (0.5, 0.7, 0.9):  # a later pass links less, never more
        assert _partition(
            cluster_constrained(n, left, right, prob, threshold, kept, must_pairs, steward_pairs)
        ) == _partition(
            cluster_constrained(n, left, right, prob, threshold, every, must_pairs, steward_pairs)
        )

"""Clustering scored pairs into people: connected components that honour cannot-links.

Pure functions over integer record indexes; no I/O.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from mdm.constraints import MUST_LINK_PROBABILITY

#: Up to this many nodes, components are found in plain Python: scipy's sparse graph
#: costs more to set up than a small neighbourhood (the real-time path) takes to walk.
SMALL_GRAPH = 64


def components(n: int, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Connected-component label (0..k-1) of each of ``n`` nodes given undirected edges;
    components are numbered in the order of their lowest node."""
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    if n <= SMALL_GRAPH:
        return _small_components(n, left, right)
    ones = np.ones(len(left), dtype=np.int8)
    graph = coo_matrix((ones, (left, right)), shape=(n, n))
    _, labels = connected_components(graph, directed=False)
    found: np.ndarray = labels.astype(np.int64)
    return found


def merge_components(labels: np.ndarray, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Component labels once the edges ``left``-``right`` are added to the graph whose
    components ``labels`` are: only the components the edges touch are walked (as one
    node each), so adding a few edges to a large graph costs little. Each merged
    component takes the smallest label among its parts; labels stay below ``len(labels)``
    when they start so (as ``np.arange``), but are not renumbered."""
    if len(left) == 0:
        return labels
    ends = np.concatenate([labels[left], labels[right]])
    nodes, local = np.unique(ends, return_inverse=True)
    ones = np.ones(len(left), dtype=np.int8)
    graph = coo_matrix((ones, (local[: len(left)], local[len(left) :])), shape=(len(nodes),) * 2)
    _, group = connected_components(graph, directed=False)
    smallest = np.full(int(group.max()) + 1, np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(smallest, group, nodes)
    mapping = np.arange(max(int(labels.max()), int(nodes.max())) + 1, dtype=np.int64)
    mapping[nodes] = smallest[group]
    merged: np.ndarray = mapping[labels]
    return merged


def _small_components(n: int, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    parent = list(range(n))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in zip(left.tolist(), right.tolist(), strict=True):
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    labels: list[int] = []
    seen: dict[int, int] = {}
    for node in range(n):
        labels.append(seen.setdefault(find(node), len(seen)))
    return np.asarray(labels, dtype=np.int64)


def same_label(
    labels: np.ndarray, left: np.ndarray, right: np.ndarray, step: int = 1 << 22
) -> np.ndarray:
    """Whether each pair's two nodes have the same label (a boolean array), compared
    ``step`` pairs at a time: over 132M pairs at once the two label lookups alone were
    2 GB."""
    same = np.empty(len(left), dtype=bool)
    for start in range(0, len(left), step):
        end = start + step
        np.equal(labels[left[start:end]], labels[right[start:end]], out=same[start:end])
    return same


def pairs_within(labels: np.ndarray) -> int:
    """How many record pairs fall inside clusters."""
    sizes = np.bincount(labels)
    return int((sizes * (sizes - 1) // 2).sum())


def weight_to_probability(weight: float) -> float:
    """Match probability for a match weight (log2 Bayes factor, prior included)."""
    odds: float = 2.0 ** (-weight)  # (float ** float is typed Any: it may be complex)
    return 1.0 / (1.0 + odds)


def probability_to_weight(probability: float) -> float:
    """Match weight for a match probability."""
    return math.log2(probability / (1.0 - probability))


def best_expected_f1_threshold(probability: np.ndarray, step: int = 1 << 22) -> float | None:
    """The threshold that maximises the model's own expected pairwise F1, no labels needed.

    Treating each scored pair's match probability as the chance it is a true match,
    linking every pair at or above ``t`` expects ``sum(p >= t)`` true links, the
    rest of those links false, and the probability mass below ``t`` missed. None when
    there are no pairs.

    The running sums are taken ``step`` pairs at a time, each carrying on from the last
    (the same additions in the same order as over all pairs at once): whole, their five
    arrays of the pairs' length were the cluster stage's peak at 10M records.
    """
    if len(probability) == 0:
        return None
    ordered = np.sort(probability)[::-1]
    total = ordered.sum()
    best, best_at = -np.inf, 0
    true_carry, false_carry = 0.0, 0.0
    for start in range(0, len(ordered), step):
        chunk = ordered[start : start + step]
        true_links = np.cumsum(np.concatenate(([true_carry], chunk)))[1:]
        false_links = np.cumsum(np.concatenate(([false_carry], 1.0 - chunk)))[1:]
        missed = total - true_links
        expected_f1 = 2 * true_links / (2 * true_links + false_links + missed)
        at = int(np.argmax(expected_f1))
        if expected_f1[at] > best:  # strictly: the first of equal maxima, as np.argmax
            best, best_at = float(expected_f1[at]), start + at
        true_carry, false_carry = float(true_links[-1]), float(false_links[-1])
    return float(ordered[best_at])


def clamp_threshold(best: float | None, floor: float, ceiling: float) -> float:
    """The model's threshold (:func:`best_expected_f1_threshold`) within ``[floor,
    ceiling]``; the floor when there is none."""
    return floor if best is None else min(max(best, floor), ceiling)


def choose_link_threshold(probability: np.ndarray, floor: float, ceiling: float) -> float:
    """:func:`best_expected_f1_threshold` clamped to ``[floor, ceiling]``."""
    return clamp_threshold(best_expected_f1_threshold(probability), floor, ceiling)


def cluster(
    n: int,
    left: np.ndarray,
    right: np.ndarray,
    probability: np.ndarray,
    threshold: float,
    cannot_link: Iterable[tuple[int, int]] | np.ndarray = (),
) -> np.ndarray:
    """Cluster labels: pairs at or above ``threshold`` link, unless a cannot-link forbids.

    ``cannot_link`` is pairs of node indexes (a sequence of pairs or an n x 2 array).
    Components without a cannot-link pair inside are plain connected components. A
    component holding one is rebuilt by adding its links strongest first and skipping
    any link that would put a cannot-link pair in one cluster.
    """
    keep = probability >= threshold
    left, right, probability = left[keep], right[keep], probability[keep]
    labels = components(n, left, right)
    pairs = np.asarray(cannot_link, dtype=np.int64).reshape(-1, 2)
    inside = pairs[labels[pairs[:, 0]] == labels[pairs[:, 1]]]
    conflicts = [(int(a), int(b)) for a, b in inside]
    if not conflicts:
        return labels
    bad = {int(labels[a]) for a, _ in conflicts}
    in_bad = np.isin(labels[left], list(bad))
    next_label = int(labels.max()) + 1
    forbidden: dict[int, set[int]] = {}
    for a, b in conflicts:
        forbidden.setdefault(int(a), set()).add(int(b))
        forbidden.setdefault(int(b), set()).add(int(a))
    parent: dict[int, int] = {}
    members: dict[int, set[int]] = {
        int(node): {int(node)} for node in np.flatnonzero(np.isin(labels, list(bad)))
    }

    def find(x: int) -> int:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    edge_index = np.flatnonzero(in_bad)
    low = np.minimum(left[edge_index], right[edge_index])
    high = np.maximum(left[edge_index], right[edge_index])
    # Strongest first; ties in node order, so the result never depends on input order.
    for i in edge_index[np.lexsort((high, low, -probability[edge_index]))]:
        a, b = find(int(left[i])), find(int(right[i]))
        if a == b:
            continue
        group_a, group_b = members[a], members[b]
        small, large = (group_a, group_b) if len(group_a) < len(group_b) else (group_b, group_a)
        if any(forbidden.get(x, set()) & large for x in small):
            continue
        root, other = (a, b) if large is group_a else (b, a)
        parent[other] = root
        large |= small
        members.pop(other, None)
    for group in members.values():
        for node in group:
            labels[node] = next_label
        next_label += 1
    _, dense = np.unique(labels, return_inverse=True)
    return dense.astype(np.int64)


def guard_pairs(
    n: int,
    left: np.ndarray,
    right: np.ndarray,
    probability: np.ndarray,
    threshold: float,
    below: float,
    must: np.ndarray,
    step: int = 1 << 22,
) -> np.ndarray:
    """The pairs scored below ``below`` that can ever hold two records apart (n x 2):
    those inside a component of the links at ``threshold`` and the must-links
    (``must``, n x 2). No cluster reaches past such a component, however links are
    later vetoed or split, so the rest forbid nothing. The pairs are read a slice of
    ``step`` at a time: those below are most of a large run's, and copied whole they
    were the cluster stage's largest allocation (1.9 GB for 10M records)."""
    must = np.asarray(must, dtype=np.int64).reshape(-1, 2)
    keep = probability >= threshold
    linked = components(
        n,
        np.concatenate([left[keep], must[:, 0]]),
        np.concatenate([right[keep], must[:, 1]]),
    )
    found = [np.empty((0, 2), dtype=np.int64)]
    for start in range(0, len(left), step):
        a, b = left[start : start + step], right[start : start + step]
        low = (probability[start : start + step] < below) & (linked[a] == linked[b])
        found.append(np.column_stack([a[low], b[low]]).astype(np.int64, copy=False))
    return np.concatenate(found)


def cluster_constrained(
    n: int,
    left: np.ndarray,
    right: np.ndarray,
    probability: np.ndarray,
    threshold: float,
    cannot_link: np.ndarray,
    must: np.ndarray,
    steward_cannot: np.ndarray,
) -> np.ndarray:
    """:func:`cluster` with a steward's constraints (index pairs, n x 2): must-links join
    their records before any scored link; the guards' cannot-links (``cannot_link``)
    give way inside a must-linked group; the steward's cannot-links always hold."""
    must = np.asarray(must, dtype=np.int64).reshape(-1, 2)
    guards = np.asarray(cannot_link, dtype=np.int64).reshape(-1, 2)
    if len(must):
        group = components(n, must[:, 0], must[:, 1])
        guards = guards[group[guards[:, 0]] != group[guards[:, 1]]]
        left = np.concatenate([left, must[:, 0]])
        right = np.concatenate([right, must[:, 1]])
        probability = np.concatenate([probability, np.full(len(must), MUST_LINK_PROBABILITY)])
    steward = np.asarray(steward_cannot, dtype=np.int64).reshape(-1, 2)
    return cluster(n, left, right, probability, threshold, np.vstack([guards, steward]))

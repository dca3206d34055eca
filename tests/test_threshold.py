"""The link threshold checked against the clusters: it rises while the links just above
it chain clusters together, stops at the ceiling, and says when it is on a bound."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mdm.clusters import components, pairs_within
from mdm.threshold import (
    Components,
    chain_ratio,
    check_link_threshold,
    contradicted_ratio,
    match_weights,
)


def _pairs(*edges: tuple[int, int, float]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    left, right, weight = zip(*edges, strict=True)
    return np.array(left), np.array(right), np.array(weight, dtype=float)


#: Ten duplicate pairs (records 2i, 2i+1) linked at weight 10, and a chain through all
#: of them (2i+1 -> 2i+2) at weight 1: records of different people joined one by one.
DUPLICATES = [(2 * i, 2 * i + 1, 10.0) for i in range(10)]
CHAIN = [(2 * i + 1, 2 * i + 2, 1.2) for i in range(9)]


@pytest.mark.parametrize(
    ("edges", "threshold", "ratio", "links"),
    [
        pytest.param(DUPLICATES, 10.0, 1.0, 10, id="duplicates: one pair per link"),
        pytest.param(DUPLICATES + CHAIN, 1.0, (190 - 10) / 9, 9, id="a chain: many per link"),
        pytest.param(DUPLICATES, 3.0, 0.0, 0, id="no links in the band"),
    ],
)
def test_chain_ratio(edges, threshold: float, ratio: float, links: int) -> None:
    left, right, weight = _pairs(*edges)
    assert chain_ratio(20, left, right, weight, threshold) == (pytest.approx(ratio), links)


def _probabilities(weight: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + 2.0**-weight)


def test_the_threshold_rises_above_links_that_chain() -> None:
    left, right, weight = _pairs(*DUPLICATES, *CHAIN)
    choice = check_link_threshold(20, left, right, _probabilities(weight), 0.5, 0.5, 0.995, 2.0)
    assert choice.link > _probabilities(np.array([1.2]))[0]  # the chain no longer links
    assert choice.link < _probabilities(np.array([10.0]))[0]  # the duplicates still do
    assert not choice.on_ceiling
    assert any("raised from 0.500" in note for note in choice.notes)


def test_a_threshold_that_is_fine_stays() -> None:
    left, right, weight = _pairs(*DUPLICATES)
    choice = check_link_threshold(20, left, right, _probabilities(weight), 0.6, 0.5, 0.995, 2.0)
    assert (choice.link, choice.notes, choice.on_floor) == (0.6, [], False)


@pytest.mark.parametrize(
    ("unclamped", "on_floor"), [(0.3, True), (0.5, False), (None, False)], ids=str
)
def test_a_threshold_on_its_floor_is_said(unclamped: float | None, on_floor: bool) -> None:
    left, right, weight = _pairs(*DUPLICATES)
    probability = _probabilities(weight)
    choice = check_link_threshold(20, left, right, probability, 0.5, 0.5, 0.995, 2.0, unclamped)
    assert choice.on_floor is on_floor
    assert any("fell below the floor" in note for note in choice.notes) is on_floor


def test_a_threshold_stopped_by_its_ceiling_is_said() -> None:
    # Every link chains: a star of 30 records around record 0, links at weight 20.
    left, right, weight = _pairs(*[(0, i, 20.0) for i in range(1, 31)])
    probability = _probabilities(weight)
    choice = check_link_threshold(31, left, right, probability, 0.5, 0.5, 0.9, 2.0)
    assert choice.link == 0.9 and choice.on_ceiling
    assert any("on its ceiling 0.900" in note for note in choice.notes)


@pytest.mark.parametrize(
    ("probability", "weight"), [(0.5, 0.0), (0.8, 2.0), (0.0, -50.0), (1.0, 50.0)], ids=str
)
def test_match_weights(probability: float, weight: float) -> None:
    assert match_weights(np.array([probability]))[0] == pytest.approx(weight)


def test_the_pair_the_threshold_was_read_off_counts_however_its_last_bit_rounds() -> None:
    """The model's threshold is a pair's own probability; the same records scored again
    may put that pair one bit below it. The chain check must not depend on that bit."""
    rng = np.random.default_rng(3)
    probability = rng.uniform(0.3, 1.0, 400)
    left = rng.integers(0, 300, 400)
    right = (left + 1 + rng.integers(0, 5, 400)) % 300
    model = float(probability[17])
    results = []
    for nudged in (model, float(np.nextafter(model, 0.0))):
        scores = probability.copy()
        scores[17] = nudged
        results.append(check_link_threshold(300, left, right, scores, model, 0.5, 0.995, 2.0))
    assert results[0].steps == results[1].steps
    assert results[0].link == results[1].link


#: One person's twenty fragments: pairs of fragments linked at weight 10, the pairs
#: joined into one person at weight 1.2 (fragments agree on little with each other, so
#: those links are weak), and no pair of them scored as a non-match.
ONE_PERSON = DUPLICATES + CHAIN
#: The same links, plus what chaining leaves behind: pairs across the joins that the
#: model scored as non-matches (weight -5), records of different people.
CHAINED = DUPLICATES + CHAIN + [(2 * i, 2 * i + 3, -5.0) for i in range(9)]


@pytest.mark.parametrize(
    ("edges", "ratio"),
    [
        pytest.param(ONE_PERSON, 0.0, id="one large cluster: nothing contradicted"),
        pytest.param(CHAINED, 1.0, id="chained people: a contradicted pair per link"),
    ],
)
def test_contradicted_ratio(edges, ratio: float) -> None:
    left, right, weight = _pairs(*edges)
    assert contradicted_ratio(20, left, right, weight, 1.0) == pytest.approx(ratio)


def test_a_large_cluster_is_not_read_as_a_chain() -> None:
    """Links joining one person's many fragments add many pairs each (chain ratio 20),
    none of them scored apart: the threshold stays. The same links with contradicted
    pairs across them raise it, as the chain ratio alone would."""
    for edges, stays in ((ONE_PERSON, True), (CHAINED, False)):
        left, right, weight = _pairs(*edges)
        choice = check_link_threshold(
            20, left, right, _probabilities(weight), 0.5, 0.5, 0.995, 2.0, None, 0.5
        )
        assert (choice.link == 0.5) == stays, edges
        if stays:
            assert any("large clusters, not chains" in note for note in choice.notes)


@settings(max_examples=200)
@given(
    st.integers(min_value=2, max_value=40).flatmap(
        lambda n: st.tuples(
            st.just(n),
            st.lists(
                st.tuples(
                    st.integers(0, n - 1),
                    st.integers(0, n - 1),
                    st.sampled_from([-4.0, -1.0, 0.5, 1.0, 2.5, 4.0, 7.0]),
                ),
                max_size=80,
            ),
            st.lists(st.sampled_from([-5.0, -1.0, 0.0, 0.5, 1.0, 2.0, 3.5, 8.0]), max_size=8),
            st.booleans(),
        )
    ),
    st.integers(1, 9),
    st.booleans(),
)
def test_components_built_from_the_set_above_count_as_found_whole(
    case, step: int, sort: bool
) -> None:
    """Each set of links' counts, whether its components are found from the set just
    above it (after :meth:`Components.prepare`) or from scratch, are those of its
    connected components."""
    n, edges, bounds, prepare = case
    left = np.array([e[0] for e in edges], dtype=np.int64)
    right = np.array([e[1] for e in edges], dtype=np.int64)
    weight = np.array([e[2] for e in edges], dtype=float)
    # Counted a few pairs at a time; links counted by a binary search in sorted weights.
    found = Components(n, left, right, weight, step, np.sort(weight) if sort else None)
    if prepare:
        found.prepare(bounds)
    for bound in [*bounds, -10.0]:  # and one below every bound prepared
        above = weight >= bound
        labels = components(n, left[above], right[above])
        apart = weight < 0
        joined = int((labels[left[apart]] == labels[right[apart]]).sum())
        assert (found.pairs(bound), found.apart_joined(bound)) == (pairs_within(labels), joined)

"""The prior's arithmetic: the maximum-likelihood estimate over scored pairs, where EM
starts, and which estimate a model keeps and why."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from mdm.linkage.prior import (
    MAX_PRIOR,
    MIN_PRIOR,
    all_pairs,
    bayes_factors_less_one,
    choose_prior,
    likelihood_slope,
    maximum_likelihood_prior,
    prior_weight,
    start_prior,
)


@pytest.mark.parametrize(
    ("records", "pairs"), [(0, 0), (1, 0), (2, 1), (3, 3), (1000, 499_500)], ids=str
)
def test_all_pairs(records: int, pairs: int) -> None:
    assert all_pairs(records) == pairs


@pytest.mark.parametrize(
    ("deterministic", "records", "start"),
    [
        pytest.param(0.0, 1000, 1e-3, id="nothing agrees exactly: one pair per two records"),
        pytest.param(1e-6, 1000, 1e-3, id="too little to start EM from"),
        pytest.param(5e-3, 1000, 5e-3, id="the deterministic estimate stands"),
        pytest.param(0.0, 1, 0.5, id="a single record"),
    ],
)
def test_start_prior(deterministic: float, records: int, start: float) -> None:
    assert start_prior(deterministic, records) == pytest.approx(start)


def _weights(matches: int, match_weight: float, others: int, other_weight: float) -> np.ndarray:
    return np.array([match_weight] * matches + [other_weight] * others)


@pytest.mark.parametrize(
    ("weights", "total", "expected"),
    [
        # Clear matches and clear non-matches: the prior is the share of clear matches.
        pytest.param(_weights(100, 40, 900, -20), 1_000_000, 1e-4, id="separated"),
        pytest.param(_weights(5000, 30, 0, 0), 10_000_000, 5e-4, id="only matches scored"),
        # Pairs the comparisons find only fairly alike (weight 12 without the prior) count
        # as much as their evidence says at the prior found: 2**(12 - 16.6) = 4% each.
        pytest.param(_weights(100, 40, 100, 12), 10_000_000, 1.04e-5, id="look-alikes"),
    ],
)
def test_maximum_likelihood_prior(weights: np.ndarray, total: int, expected: float) -> None:
    assert maximum_likelihood_prior(weights, total) == pytest.approx(expected, rel=0.01)


@pytest.mark.parametrize(
    ("weights", "total", "expected"),
    [
        pytest.param(np.array([-30.0] * 10), 1_000, MIN_PRIOR, id="nothing looks like a match"),
        pytest.param(np.array([]), 1_000, MIN_PRIOR, id="no scored pairs"),
        pytest.param(np.array([40.0] * 10), 10, MAX_PRIOR, id="every pair a match"),
    ],
)
def test_maximum_likelihood_prior_bounds(weights: np.ndarray, total: int, expected: float) -> None:
    assert maximum_likelihood_prior(weights, total) == expected


def test_the_estimate_is_where_the_likelihood_stops_rising() -> None:
    rng = np.random.default_rng(0)
    weights = np.concatenate([rng.normal(20, 5, 300), rng.normal(-5, 5, 3000)])
    total = 2_000_000
    found = maximum_likelihood_prior(weights, total)
    factors, unscored = bayes_factors_less_one(weights), total - len(weights)
    assert likelihood_slope(found * 0.99, factors, unscored) > 0
    assert likelihood_slope(found * 1.01, factors, unscored) < 0


@pytest.mark.parametrize(
    ("deterministic", "scored", "basis", "prior", "says"),
    [
        pytest.param(0.0, 1e-4, "scored_pairs", 1e-4, "no pair agrees exactly", id="collapsed"),
        pytest.param(1.1e-4, 1e-4, "scored_pairs", 1e-4, "estimate agrees", id="agree"),
        pytest.param(1e-6, 1e-4, "scored_pairs", 1e-4, "0.01 times that", id="disagree"),
        pytest.param(2e-4, None, "deterministic", 2e-4, "no scored pairs", id="nothing scored"),
        pytest.param(0.0, None, "em_start", 1e-3, "start of EM", id="nothing at all"),
    ],
)
def test_choose_prior(
    deterministic: float, scored: float | None, basis: str, prior: float, says: str
) -> None:
    choice = choose_prior(deterministic, scored, 1_000_000, start=1e-3)
    assert (choice.basis, choice.prior) == (basis, prior)
    assert says in choice.reason
    assert choice.expected_matches == pytest.approx(prior * 1_000_000)
    assert choice.as_dict()["deterministic"] == deterministic


@pytest.mark.parametrize(("prior", "weight"), [(0.5, 0.0), (0.2, -2.0), (0.8, 2.0)], ids=str)
def test_prior_weight(prior: float, weight: float) -> None:
    assert prior_weight(prior) == pytest.approx(weight)
    assert math.isfinite(prior_weight(MIN_PRIOR))


@given(
    weights=st.lists(st.floats(-250, 250), max_size=300),
    prior=st.floats(MIN_PRIOR, MAX_PRIOR),
    unscored=st.integers(0, 10**12),
)
def test_the_slope_computed_in_place_is_the_formula_to_the_bit(
    weights: list[float], prior: float, unscored: int
) -> None:
    """The bisection reuses one buffer for the slope's terms; the sum is the one the
    formula gives, bit for bit, so the prior (and every threshold after it) is too."""
    factors = bayes_factors_less_one(np.array(weights, dtype=float))
    plain = float(np.sum(factors / (1.0 + prior * factors)))
    expected = (plain - unscored / (1.0 - prior)) / max(len(factors) + unscored, 1)
    buffer = np.full_like(factors, 7.0)  # whatever the buffer held before
    assert likelihood_slope(prior, factors, unscored, buffer) == expected
    assert likelihood_slope(prior, factors, unscored) == expected

"""The prior: the probability that two records drawn at random are the same person.

Two estimates, both without labels:

* **deterministic**: the pairs that agree exactly on a deterministic rule (first +
  last name + birth date, email), divided by an assumed recall, over all pairs. It
  collapses to zero on data where every duplicate carries an error, so it only starts
  the expectation-maximisation sessions that estimate m and a cross-check;
* **scored pairs**: the maximum-likelihood prior given the trained m and u, over every
  candidate pair the run scores. Each pair's match weight without the prior is the
  log2 of its Bayes factor K; a pair no blocking rule compared counts as K = 0. The
  likelihood of the prior p over all pairs is ``prod(p K_i + 1 - p)``, and its
  derivative ``sum((K_i - 1) / (1 + p (K_i - 1)))`` falls as p grows, so the estimate
  is the one root, found by bisection on log p. It is what EM over all pairs with m
  and u fixed and the prior free converges to, and it needs no exact agreement on
  anything: a pair counts as much as its evidence says.

:func:`choose_prior` takes the scored-pairs estimate when there are scored pairs, and
says why (:class:`PriorChoice`), so the run can show it.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

#: The smallest prior searched (below it, the data holds no matches worth a prior).
MIN_PRIOR = 1e-15
#: The largest prior searched: half of all pairs matching is a single-person data set.
MAX_PRIOR = 0.5
#: Bisection steps on log p: each halves the interval (34 nepers wide), so 60 steps
#: leave it far narrower than a float's precision needs.
BISECTION_STEPS = 60
#: Match weights are clipped to this many bits either side (2**200 is still a float).
WEIGHT_CLIP = 200.0
#: The deterministic and scored-pairs estimates differing by more than this factor is
#: said in the run's output (the deterministic rules' assumed recall is then wrong).
DISAGREEMENT_FACTOR = 4.0


def all_pairs(records: int) -> int:
    """How many record pairs ``records`` records make (every record against every other)."""
    return records * (records - 1) // 2


def start_prior(deterministic: float, records: int) -> float:
    """The prior that EM starts from: the deterministic estimate, or, where that found
    (almost) nothing, one duplicate pair per two records (``1 / records``).

    EM's estimate of a share never moves away from zero, so a start of zero would
    leave every session with no matches.
    """
    fallback = 1.0 / max(records, 2)
    return deterministic if deterministic >= fallback else fallback


def bayes_factors_less_one(weights: np.ndarray) -> np.ndarray:
    """``K - 1`` for each match weight (bits, prior excluded), what the slope sums."""
    factors: np.ndarray = np.exp2(
        np.clip(np.asarray(weights, dtype=float), -WEIGHT_CLIP, WEIGHT_CLIP)
    )
    return factors - 1.0


def likelihood_slope(
    prior: float, factors: np.ndarray, unscored: int, buffer: np.ndarray | None = None
) -> float:
    """The derivative of the log-likelihood of ``prior`` over all pairs, divided by the
    number of pairs: scored pairs with Bayes factors ``factors + 1`` (see
    :func:`bayes_factors_less_one`) and ``unscored`` pairs with a Bayes factor of zero.
    ``buffer`` (shaped as ``factors``) holds the terms: the bisection asks 60 times, and
    making two arrays of millions each time cost more than the arithmetic."""
    terms = np.empty_like(factors) if buffer is None else buffer
    np.multiply(factors, prior, out=terms)
    terms += 1.0
    np.divide(factors, terms, out=terms)  # the same operations, in place: the same bits
    scored = float(np.sum(terms))
    return (scored - unscored / (1.0 - prior)) / max(len(factors) + unscored, 1)


def maximum_likelihood_prior(weights: np.ndarray, total_pairs: int) -> float:
    """The prior that maximises the likelihood of all ``total_pairs`` pairs, given the
    scored ones' match weights without the prior (see the module docstring).

    Returns :data:`MIN_PRIOR` when even that is too high (nothing looks like a match)
    and :data:`MAX_PRIOR` when even that is too low.
    """
    unscored = max(total_pairs - len(weights), 0)
    factors = bayes_factors_less_one(weights)
    buffer = np.empty_like(factors)
    if likelihood_slope(MIN_PRIOR, factors, unscored, buffer) <= 0:
        return MIN_PRIOR
    if likelihood_slope(MAX_PRIOR, factors, unscored, buffer) >= 0:
        return MAX_PRIOR
    low, high = math.log(MIN_PRIOR), math.log(MAX_PRIOR)
    for _ in range(BISECTION_STEPS):
        middle = (low + high) / 2
        if likelihood_slope(math.exp(middle), factors, unscored, buffer) > 0:
            low = middle
        else:
            high = middle
    return math.exp((low + high) / 2)


@dataclass(frozen=True)
class PriorChoice:
    """The prior a model uses, the estimates it was chosen from, and why.

    Attributes:
        prior: The probability that two random records match.
        basis: ``scored_pairs``, ``deterministic`` or ``em_start``.
        reason: One sentence for the run's output.
        deterministic: The deterministic rules' estimate (0 when no pair agrees).
        scored_pairs: The maximum-likelihood estimate over the scored pairs (None when
            there were none).
        expected_matches: ``prior`` times all pairs: how many matching pairs it implies.
    """

    prior: float
    basis: str
    reason: str
    deterministic: float
    scored_pairs: float | None
    expected_matches: float

    def as_dict(self) -> dict[str, object]:
        """The choice as JSON-ready values (stored in the model's training info)."""
        return asdict(self)


def choose_prior(
    deterministic: float, scored_pairs: float | None, total_pairs: int, start: float
) -> PriorChoice:
    """The prior to use: the scored-pairs estimate when there is one, else the
    deterministic one, else where EM started (``start``: never zero, whose match
    weight would be minus infinity); the reason says how far apart the estimates are."""
    if scored_pairs is None:
        basis = "deterministic" if deterministic > 0 else "em_start"
        prior = deterministic if deterministic > 0 else start
        used = "deterministic rules' estimate" if deterministic > 0 else "start of EM"
        reason = f"no scored pairs; the {used} is used"
        return PriorChoice(prior, basis, reason, deterministic, None, prior * total_pairs)
    expected = scored_pairs * total_pairs
    reason = f"maximum likelihood over the scored pairs ({expected:,.0f} matching pairs)"
    if deterministic <= 0:
        reason += "; no pair agrees exactly on a deterministic rule"
    else:
        ratio = scored_pairs / deterministic
        if max(ratio, 1 / ratio) > DISAGREEMENT_FACTOR:
            reason += (
                f"; the deterministic rules' estimate is {1 / ratio:.2g} times that "
                "(their assumed recall does not hold on this data)"
            )
        else:
            reason += "; the deterministic rules' estimate agrees"
    return PriorChoice(scored_pairs, "scored_pairs", reason, deterministic, scored_pairs, expected)


def prior_weight(prior: float) -> float:
    """The match weight (bits) a prior adds to every pair: ``log2(p / (1 - p))``."""
    return math.log2(prior / (1.0 - prior))

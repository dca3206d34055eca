"""The label-free link threshold, checked against how the clusters hang together.

The model's own choice (:func:`mdm.clusters.choose_link_threshold`: the threshold that
maximises its expected pairwise F1) trusts its probabilities, and on pairs alone: on
calibrated probabilities it lands near half the best F1, below the usual floor of 0.5.
But links are closed transitively into clusters, and a link that joins two clusters
puts every pair of their records in one cluster. So the choice is checked against the
clusters themselves, as the threshold moves up a little (:data:`STEP` match-weight
units at a time):

* the **chain ratio** at threshold t is how many within-cluster pairs the links in
  [w, w + :data:`SPAN`) add, per link, where w is the lowest link weight at or above t
  (connected components, no guards). Links between duplicates of one person add about
  one pair each; links that chain clusters together add many;
* the **contradicted ratio** at t is how many of those added pairs the model itself
  scored as non-matches (match weight below 0), per link. A person with many records
  (ten fragments of one historical figure) is joined by links that add many pairs, but
  few that the model scored against each other; clusters chained together through
  households or common names add pairs it scored apart;
* the threshold rises from the model's choice to the first t whose chain ratio is at
  most ``max_chain_ratio`` or whose contradicted ratio is at most
  ``max_contradicted_ratio``, and stops at the ceiling.

:func:`check_link_threshold` returns the threshold and why (:class:`ThresholdChoice`);
a threshold on its floor or its ceiling is said so.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field

import numpy as np

from mdm.clusters import (
    components,
    merge_components,
    pairs_within,
    probability_to_weight,
    weight_to_probability,
)

#: How far (match-weight units) the threshold moves per step of the check.
STEP = 0.5
#: The band of links whose effect on the clusters is measured at each step.
SPAN = 1.0
#: Match weights are clipped to this many units either side (probabilities of 0 or 1).
WEIGHT_CLIP = 50.0


def match_weights(probability: np.ndarray) -> np.ndarray:
    """Match weights (log2 odds) of match probabilities, clipped to +-:data:`WEIGHT_CLIP`."""
    p = np.clip(np.asarray(probability, dtype=float), 2.0**-WEIGHT_CLIP, 1 - 2.0**-WEIGHT_CLIP)
    weights: np.ndarray = np.log2(p) - np.log2(1.0 - p)
    return weights


class Components:
    """The connected components of the links at or above a weight, as two counts: the
    record pairs they put inside clusters, and how many of the pairs the model scored
    as non-matches (:attr:`apart`) they put inside one. Shared by :func:`chain_ratio`
    and :func:`contradicted_ratio`, remembered by how many links are at or above the
    weight (the sets of links above two weights are nested, so equal counts are equal
    sets).

    The sets are nested, so the components of a larger set are those of a smaller one
    with the links between added: :meth:`prepare` the weights the check will ask, and
    each set costs only the links its band adds (the whole graph is walked once)."""

    def __init__(
        self,
        n: int,
        left: np.ndarray,
        right: np.ndarray,
        weight: np.ndarray,
        step: int = 1 << 22,
        ordered: np.ndarray | None = None,
    ):
        self.n, self.left, self.right, self.weight = n, left, right, weight
        #: ``weight`` sorted, when given without NaN (which sorts last): the links at or
        #: above a weight are counted by a binary search, not a pass over every pair.
        self._ordered = (
            ordered if ordered is not None and not np.isnan(ordered[-1:]).any() else None
        )
        self.step = step  # pairs compared at a time (see :meth:`_joined`)
        self._counts: dict[int, tuple[int, int]] = {}
        self._bounds: dict[float, int] = {}  # weight -> links at or above it
        #: The pairs the model scored as non-matches, as a mask: copied out, they were
        #: most of the pairs twice over (1.6 GB for 10M records).
        self.apart = weight < 0
        #: The last set's labels and the weight it starts at (more sets build on it).
        self._last: tuple[float, np.ndarray] | None = None
        #: From :meth:`prepare`: a weight, and the non-match pairs inside one component
        #: of the links at or above it (left, right); the only ones any set of links
        #: above that weight can join.
        self._joinable: tuple[float, np.ndarray, np.ndarray] | None = None

    def prepare(self, bounds: Iterable[float]) -> None:
        """Find the components at each of ``bounds``, highest first, each from the
        one above it.

        First the non-match pairs the lowest bound's links put in one component: the
        links above a higher bound are fewer, their components inside those, so no
        other non-match pair can be joined by them. Each set then counts those alone
        (at 1M records, 25 counts over 6.5M non-match pairs took 2.6 s)."""
        ordered = sorted(set(bounds), reverse=True)
        if ordered:
            lowest = ordered[-1]
            above = self.weight >= lowest
            labels = components(self.n, self.left[above], self.right[above])
            del above
            left, right = [self.left[:0]], [self.right[:0]]
            for pair_l, pair_r in self._apart_pairs():
                same = labels[pair_l] == labels[pair_r]
                left.append(pair_l[same])
                right.append(pair_r[same])
            self._joinable = (lowest, np.concatenate(left), np.concatenate(right))
        for bound in ordered:
            self._find(bound)

    def pairs(self, bound: float) -> int:
        """Record pairs inside the clusters of the links at or above ``bound``."""
        return self._find(bound)[0]

    def apart_joined(self, bound: float) -> int:
        """Pairs scored as non-matches inside one cluster of those links."""
        return self._find(bound)[1]

    def _find(self, bound: float) -> tuple[int, int]:
        if bound in self._bounds:  # the check asks each weight several times
            return self._counts[self._bounds[bound]]
        if self._ordered is not None:
            count = len(self._ordered) - int(np.searchsorted(self._ordered, bound, side="left"))
        else:
            count = int((self.weight >= bound).sum())
        self._bounds[bound] = count
        if count not in self._counts:
            above = self.weight >= bound
            if self._last is not None and self._last[0] >= bound:
                start, labels = self._last
                band = above & (self.weight < start)
                labels = merge_components(labels, self.left[band], self.right[band])
            else:
                labels = components(self.n, self.left[above], self.right[above])
            self._last = (bound, labels)
            joined = self._joined(labels, bound)
            self._counts[count] = (pairs_within(labels), joined)
        return self._counts[count]

    def _joined(self, labels: np.ndarray, bound: float) -> int:
        """How many of the pairs scored as non-matches ``labels`` (the components of
        the links at or above ``bound``) puts in one cluster: of those :meth:`prepare`
        found joinable when ``bound`` is at or above its lowest, else of all of them,
        counted :attr:`step` pairs at a time."""
        if self._joinable is not None and bound >= self._joinable[0]:
            _, left, right = self._joinable
            return int((labels[left] == labels[right]).sum())
        pairs = self._apart_pairs()
        return sum(int((labels[left] == labels[right]).sum()) for left, right in pairs)

    def _apart_pairs(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """The pairs scored as non-matches (left, right), :attr:`step` pairs at a time."""
        for start in range(0, len(self.apart), self.step):
            apart = self.apart[start : start + self.step]
            yield (
                self.left[start : start + self.step][apart],
                self.right[start : start + self.step][apart],
            )


def band_links(weight: np.ndarray, threshold: float) -> int:
    """How many links have a match weight in [threshold, threshold + SPAN)."""
    return int(((weight >= threshold) & (weight < threshold + SPAN)).sum())


def chain_ratio(
    n: int,
    left: np.ndarray,
    right: np.ndarray,
    weight: np.ndarray,
    threshold: float,
    found: Components | None = None,
) -> tuple[float, int]:
    """(within-cluster pairs added per link, links) for the links with match weight in
    [threshold, threshold + SPAN), clustering n records by connected components
    (``found``: the components already known, see :class:`Components`)."""
    links = band_links(weight, threshold)
    if links == 0:
        return 0.0, 0
    found = found or Components(n, left, right, weight)
    added = found.pairs(threshold) - found.pairs(threshold + SPAN)
    return added / links, links


def contradicted_ratio(
    n: int,
    left: np.ndarray,
    right: np.ndarray,
    weight: np.ndarray,
    threshold: float,
    found: Components | None = None,
) -> float:
    """Scored pairs with a negative match weight that the links in [threshold,
    threshold + SPAN) put into one cluster, per link (connected components, as
    :func:`chain_ratio`)."""
    links = band_links(weight, threshold)
    if links == 0:
        return 0.0
    found = found or Components(n, left, right, weight)
    # The links above threshold + SPAN are among those above threshold: what they
    # joined stays joined.
    added = found.apart_joined(threshold) - found.apart_joined(threshold + SPAN)
    return added / links


def _lowest_link(ordered: np.ndarray, at: float) -> float | None:
    """The lowest of the sorted weights ``ordered`` at or above ``at`` (None: none is).
    The model's threshold is a pair's own probability: that pair is at or above it
    whichever way the last bit of its weight was rounded (numpy's log2 and math's may
    differ by one)."""
    index = int(np.searchsorted(ordered, at - WEIGHT_TOLERANCE, side="left"))
    return float(ordered[index]) if index < len(ordered) else None


def _step_bounds(ordered: np.ndarray, start: float, top: float) -> list[float]:
    """Every weight the check's steps from ``start`` to ``top`` ask about, as
    :func:`check_link_threshold` steps: the lowest link at or above each step, and
    that plus :data:`SPAN`."""
    bounds: list[float] = []
    at = start
    while (lowest := _lowest_link(ordered, at)) is not None:
        bounds += [lowest, lowest + SPAN]
        if at >= top:
            break
        at = min(lowest + STEP, top)
    return bounds


@dataclass(frozen=True)
class ThresholdChoice:
    """The link threshold a run uses and the evidence for it.

    Attributes:
        link: The link threshold (match probability).
        model: The model's own choice (expected F1, clamped to the floor and ceiling).
        on_floor: The model's choice fell to the floor (its best was below it).
        on_ceiling: The threshold is at the ceiling.
        chain_ratio: The chain ratio at the chosen threshold (None: not checked).
        steps: (match weight, chain ratio, links) at each threshold the check tried.
        notes: What the run says about the threshold.
    """

    link: float
    model: float
    on_floor: bool
    on_ceiling: bool
    chain_ratio: float | None = None
    steps: list[tuple[float, float, int]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        """The choice as JSON-ready values (the run's report)."""
        return asdict(self)


#: Match weights closer than this (bits) are the same weight.
WEIGHT_TOLERANCE = 1e-9


def check_link_threshold(
    n: int,
    left: np.ndarray,
    right: np.ndarray,
    probability: np.ndarray,
    model: float,
    floor: float,
    ceiling: float,
    max_chain_ratio: float,
    unclamped: float | None = None,
    max_contradicted_ratio: float | None = None,
) -> ThresholdChoice:
    """Raise the model's threshold ``model`` until the links just above it stop chaining
    clusters (chain ratio at most ``max_chain_ratio``, or contradicted ratio at most
    ``max_contradicted_ratio``), at most to ``ceiling``.

    ``unclamped`` is the model's choice before the floor and ceiling; it says whether
    the threshold fell to the floor.
    """
    on_floor = unclamped is not None and unclamped < floor and model <= floor
    notes = []
    if on_floor:
        notes.append(
            f"the model's own threshold ({unclamped:.3f}, maximising its expected F1) fell "
            f"below the floor; it starts from link_floor {floor:.3f}"
        )
    weight = match_weights(probability)
    start, top = probability_to_weight(model), probability_to_weight(ceiling)
    steps: list[tuple[float, float, int]] = []
    at = start
    ordered = np.sort(weight)
    found = Components(n, left, right, weight, ordered=ordered)  # shared by the steps
    found.prepare(_step_bounds(ordered, start, top))
    while True:
        # The band starts at the lowest link: an empty stretch says nothing.
        lowest = _lowest_link(ordered, at)
        if lowest is None:
            break
        ratio, links = chain_ratio(n, left, right, weight, lowest, found)
        steps.append((round(lowest, 3), round(ratio, 3), links))
        if ratio <= max_chain_ratio or at >= top:
            break
        if max_contradicted_ratio is not None:
            contradicted = contradicted_ratio(n, left, right, weight, lowest, found)
            if contradicted <= max_contradicted_ratio:
                notes.append(
                    f"links above {weight_to_probability(lowest):.3f} add "
                    f"{ratio:.1f} within-cluster pairs each, but only {contradicted:.2f} "
                    "the model scored as non-matches: large clusters, not chains"
                )
                break
        at = min(lowest + STEP, top)
    raised = 1.0 / (1.0 + 2.0**-at) if at > start else model
    link = ceiling if at >= top else raised
    on_ceiling = link >= ceiling
    if at > start:
        notes.append(
            f"raised from {model:.3f} to {link:.3f}: links below it joined clusters "
            f"({steps[0][1]:.1f} within-cluster pairs per link; at most {max_chain_ratio:g} "
            "wanted)"
        )
    if on_ceiling and steps and steps[-1][1] > max_chain_ratio:
        notes.append(
            f"on its ceiling {ceiling:.3f}: links there still chain clusters "
            f"({steps[-1][1]:.1f} within-cluster pairs per link)"
        )
    elif on_ceiling:
        notes.append(f"on its ceiling {ceiling:.3f}")
    last_ratio = steps[-1][1] if steps else None
    return ThresholdChoice(link, model, on_floor, on_ceiling, last_ratio, steps, notes)

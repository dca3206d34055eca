"""What the service decides for a record, under its own thresholds: link, review or new.

One rule for an upsert and a match (a match says what an upsert of the record would do
now). A pair's match probability falls in a band (:meth:`Thresholds.band`): at or
above the link threshold it may link, in the review band below it it may open a review
task, below that it does neither. The record's decision (:func:`decide`) then follows
the clustering of its neighbourhood: **link** when the record ends up in a golden
record with a candidate it scores at or above the link threshold (the clustering
guards may keep them apart), otherwise **review** when a pair in the review band joins
it to another golden record (and no steward decided that pair), otherwise **new**.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

Band = Literal["link", "review", "none"]
Outcome = Literal["link", "review", "new"]
#: Per candidate golden record: the record joins it, a review task is opened against
#: it, or neither.
CandidateDecision = Literal["link", "review", "no_link"]


@dataclass(frozen=True)
class Thresholds:
    """The link threshold and the bottom of the review band (match probabilities)."""

    link: float
    review: float

    def band(self, probability: float) -> Band:
        """Where a pair's match probability falls."""
        if probability >= self.link:
            return "link"
        return "review" if probability >= self.review else "none"


@dataclass(frozen=True)
class Decision:
    """What is done with a record.

    Attributes:
        outcome: link, review or new.
        golden_id: The golden record the record is in once decided (joined by a link,
            or its own new one).
        joined: The golden records (their ids before the change) of the candidates the
            record is clustered with.
        review: The golden records a review task is opened against.
    """

    outcome: Outcome
    golden_id: str
    joined: frozenset[str] = frozenset()
    review: tuple[str, ...] = ()

    def of_candidate(self, golden_id: str) -> CandidateDecision:
        """What the decision means for one candidate golden record."""
        if self.outcome == "link" and golden_id in self.joined:
            return "link"
        return "review" if golden_id in self.review else "no_link"


def decide(
    golden_id: str,
    scored: Iterable[tuple[str, str | None, float]],
    review: Sequence[str],
    thresholds: Thresholds,
) -> Decision:
    """The decision for a record placed in ``golden_id`` by its neighbourhood's
    clustering.

    Args:
        golden_id: Where the clustering put the record.
        scored: Per scored candidate record: its golden id now, its golden id once the
            change is made (None: not re-clustered), its match probability.
        review: The golden ids of the pairs that open (or keep) a review task.
        thresholds: The service's thresholds.
    """
    joined, linked = set(), False
    for before, after, probability in scored:
        if after == golden_id:
            joined.add(before)
            linked |= thresholds.band(probability) == "link"
    outcome: Outcome = "link" if linked else ("review" if review else "new")
    return Decision(outcome, golden_id, frozenset(joined), tuple(dict.fromkeys(review)))

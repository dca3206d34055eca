"""What the real-time engine answers: a match's candidates, an upsert's result."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mdm.linkage.scorer import LevelHit, PairScore
from mdm.realtime.decision import CandidateDecision, Decision
from mdm.realtime.usable import ValueWarning
from mdm.store.changes import Key


@dataclass(frozen=True)
class Candidate:
    """A golden record a record may belong to, with the evidence of its best pair and
    what the record's decision means for it."""

    golden_id: str
    source: str
    record_id: str
    match_weight: float
    match_probability: float
    comparisons: tuple[LevelHit, ...]
    decision: CandidateDecision = "no_link"


@dataclass(frozen=True)
class MatchResult:
    """What matching one record found: best candidate per golden record, best first,
    and what an upsert of the record would decide now."""

    record: dict[str, Any]
    candidates: list[Candidate]
    link_threshold: float
    review_threshold: float
    decision: Decision
    warnings: tuple[ValueWarning, ...] = ()


@dataclass(frozen=True)
class _Plan:
    """Where a record goes (nothing changed yet): its scored candidates (slot, score),
    its neighbourhood (slots, -1 for the record; their keys) clustered, the ids
    retired, the pairs that open review tasks, and the decision."""

    scores: list[tuple[int, PairScore]]
    nodes: list[int]
    keys: list[Key]
    assignment: dict[int, str]
    retired: dict[str, str]
    review: list[tuple[int, PairScore, str]]
    decision: Decision


@dataclass(frozen=True)
class UpsertResult:
    """What an upsert did."""

    action: str  # created | linked | review | unchanged
    source: str
    record_id: str
    golden_id: str
    version: int
    merged: list[str] = field(default_factory=list)
    review_tasks: list[int] = field(default_factory=list)
    evidence: list[Candidate] = field(default_factory=list)
    #: Values treated as missing because they could not be standardised.
    warnings: tuple[ValueWarning, ...] = ()

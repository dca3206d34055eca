"""Clustering a record's neighbourhood in the real-time engine: the golden records it
could join, clustered with it under the identity guard, cohesion and the stewards'
constraints, and their golden records derived again.

A part of :class:`mdm.realtime.engine.Engine` (its base class), split from it along
this seam: these methods read the engine's state (records, members, constraints, the
model's identity levels) and change nothing; writing is the engine's.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

import numpy as np

from mdm.clusters import cluster_constrained
from mdm.golden import assign_golden_ids_small, survive
from mdm.linkage.scorer import PairScore
from mdm.store.changes import GoldenRow, Key
from mdm.store.overrides import inherited, overridden

if TYPE_CHECKING:
    from mdm.constraints import Constraints
    from mdm.linkage.model import TrainedModel
    from mdm.linkage.scorer import Scorer
    from mdm.realtime.index import CandidateIndex
    from mdm.realtime.records import RecordTable
    from mdm.rules.match import MatchRules
    from mdm.rules.survivorship import SurvivorshipRules
    from mdm.store.overrides import Overrides


class Neighbourhood:
    """Cluster a neighbourhood, assign golden ids, derive golden records."""

    # The engine's state these methods use (set by Engine).
    table: RecordTable
    index: CandidateIndex
    members: dict[str, set[int]]
    constraints: Constraints
    model: TrainedModel
    rules: MatchRules
    scorer: Scorer
    survivorship: SurvivorshipRules
    overrides: Overrides
    link_threshold: float
    created: dict[str, datetime]
    retired_ids: dict[str, datetime]
    survivor_of: dict[str, str | None]
    _identity: list[tuple[int, set[int], float]]
    _pair_columns: tuple[str, ...]

    def _identity_levels(self) -> list[tuple[int, set[int], float]]:
        """For each identity comparison: its position, its negative-weight levels and
        the share of true matches that fall in them (see jobs.identity_conflicts)."""
        names = [c["output_column_name"] for c in self.model.settings["comparisons"]]
        found = []
        for name in self.rules.clustering.identity:
            if name not in names:
                continue
            levels = self.model.levels(name)
            negative = {g for g, (weight, _) in levels.items() if g >= 0 and weight < 0}
            found.append((names.index(name), negative, sum(levels[g][1] for g in negative)))
        return found

    def _conflict(self, score: PairScore) -> tuple[bool, bool]:
        """(cannot-link, veto) for one scored pair, as the bulk path decides it."""
        clustering = self.rules.clustering
        if not (clustering.guard and self._identity):
            return False, False
        gammas = score.gammas
        present, agree, share = 0, False, 1.0
        for position, negative, m_negative in self._identity:
            gamma = gammas[position]
            if gamma < 0:
                continue
            present += 1
            agree |= gamma not in negative
            share *= m_negative
        disagree = present > 0 and not agree
        cannot = disagree and share <= clustering.identity_conflict_max_share
        veto = disagree and not cannot and share <= clustering.identity_veto_max_share
        return cannot, veto

    def _cluster(
        self,
        nodes: list[int],
        keys: list[Key],
        pairs: list[tuple[int, int, PairScore]],
        written: Mapping[str, Any] | None = None,
    ) -> np.ndarray:
        """Cluster labels of ``nodes`` (indexes into it) from their scored pairs and the
        steward's constraints between their records (``keys``); ``written`` is the
        record being written (node -1). Then, as the bulk run does
        (:mod:`mdm.linkage.cohesion`), the pairs inside a cluster of 3 to
        ``cohere_max_size`` records that no blocking rule compared are scored, and a
        clear non-match or an identity conflict among them splits the cluster."""
        clustering = self.rules.clustering
        left, right, probability, cannot = [], [], [], []
        for a, b, score in pairs:
            p = score.match_probability
            is_cannot, veto = self._conflict(score)
            if clustering.guard and (p < clustering.split_below or is_cannot):
                cannot.append((a, b))
            left.append(a)
            right.append(b)
            probability.append(0.0 if veto else p)
        edges = (
            np.asarray(left, dtype=np.int64),
            np.asarray(right, dtype=np.int64),
            np.asarray(probability, dtype=float),
        )
        must = np.asarray(self.constraints.within(keys, "must"), dtype=np.int64)
        steward_cannot = np.asarray(self.constraints.within(keys, "cannot"), dtype=np.int64)

        def labels_with(cannot: list[tuple[int, int]]) -> np.ndarray:
            return cluster_constrained(
                len(nodes), *edges, self.link_threshold,
                np.asarray(cannot, dtype=np.int64).reshape(-1, 2), must, steward_cannot,
            )  # fmt: skip

        labels = labels_with(cannot)
        if not (clustering.guard and clustering.cohere_max_size):
            return labels
        split = self._incoherent(nodes, labels, {(a, b) for a, b, _ in pairs}, written)
        return labels_with(cannot + split) if split else labels

    def _incoherent(
        self,
        nodes: list[int],
        labels: np.ndarray,
        scored: set[tuple[int, int]],
        written: Mapping[str, Any] | None,
    ) -> list[tuple[int, int]]:
        """The pairs (node indexes) inside a cluster of 3 to ``cohere_max_size`` records
        not among ``scored`` that must not share a cluster (see :meth:`_cluster`)."""
        clustering = self.rules.clustering
        groups: dict[int, list[int]] = {}
        for index, label in enumerate(labels.tolist()):
            groups.setdefault(label, []).append(index)
        wanted = [
            (a, b)
            for members in groups.values()
            if 3 <= len(members) <= clustering.cohere_max_size
            for i, a in enumerate(members)
            for b in members[i + 1 :]
            if (a, b) not in scored and (b, a) not in scored
        ]
        if not wanted:
            return []
        slots = sorted({nodes[i] for pair in wanted for i in pair} - {-1})
        rows = dict(zip(slots, self.table.rows(slots, self._pair_columns), strict=True))
        if written is not None:
            rows[-1] = dict(written)
        split = []
        for a, b in wanted:
            first, second = nodes[a], nodes[b]
            if first not in rows or second not in rows:
                continue
            if second == -1:  # the record being written is the left one, as when matched
                first, second = second, first
            score = self.scorer.score(rows[first], rows[second])
            unlikely = score.match_probability < clustering.split_below
            if unlikely and (self._conflict(score)[0] or self._contradicts(score)):
                split.append((a, b))
        return split

    def _contradicts(self, score: PairScore) -> bool:
        """Whether an identity comparison of the pair is at a level true matches seldom
        reach (see jobs.identity_contradictions)."""
        share = self.rules.clustering.identity_veto_max_share
        return any(
            score.gammas[position] in negative and m_negative <= share
            for position, negative, m_negative in self._identity
        )

    def _neighbourhood_pairs(
        self, nodes: list[int], new_scores: list[tuple[int, PairScore]]
    ) -> list[tuple[int, int, PairScore]]:
        """Scored pairs among ``nodes`` (slots; -1 is the record being written) that the
        blocking rules compare."""
        position = {slot: i for i, slot in enumerate(nodes)}
        pairs = [(position[-1], position[s], score) for s, score in new_scores if s in position]
        existing = [s for s in nodes if s != -1]
        columns = self._pair_columns
        rows = dict(zip(existing, self.table.rows(existing, columns), strict=True))
        for slot, other in self.index.pairs_among(rows):
            score = self.scorer.score(rows[slot], rows[other])
            pairs.append((position[slot], position[other], score))
        return pairs

    def _assign(
        self,
        nodes: list[int],
        labels: np.ndarray,
        keys: list[Key],
        slot: int | None,
        previous: Mapping[Key, str] | None = None,
    ) -> tuple[dict[int, str], dict[str, str]]:
        """node -> golden id (existing ids kept, as the bulk path keeps them) and the ids
        retired -> their survivor. ``previous`` (record -> the id it claims) defaults to
        each record's golden id."""
        members = [(int(label), k[0], k[1]) for label, k in zip(labels, keys, strict=True)]
        if previous is None:
            held = {
                k: self.table.golden_id(slot if node == -1 and slot is not None else node)
                for node, k in zip(nodes, keys, strict=True)
                if node != -1 or slot is not None
            }
            previous = {k: v for k, v in held.items() if v is not None}
        created = {
            gid: str(self.created.get(gid) or self.retired_ids[gid])
            for gid in set(previous.values())
            if gid in self.created or gid in self.retired_ids
        }
        while True:
            assigned, retired = assign_golden_ids_small(members, previous, created)
            # A founding record's id may be taken elsewhere (another person, a retired
            # one): treat it as taken and draw again.
            clash = [
                gid
                for gid in assigned.values()
                if gid not in created and (gid in self.created or gid in self.retired_ids)
            ]
            if not clash:
                break
            created = {**created, **{gid: "~" for gid in clash}}
        assignment = {node: assigned[int(label)] for node, label in zip(nodes, labels, strict=True)}
        return assignment, retired

    def _derive_golden(
        self,
        nodes: list[int],
        keys: list[Key],
        assignment: dict[int, str],
        now: datetime,
        written: Mapping[str, Any] | None = None,
        retired: Mapping[str, str | None] | None = None,
    ) -> dict[str, GoldenRow]:
        """The golden records of the neighbourhood, re-derived from their members by the
        survivorship rules, in process; ``written`` is the record being written (node -1)."""
        members: dict[str, list[dict[str, Any]]] = {}
        for node in nodes:
            if node == -1:
                record = dict(written or {})
            else:
                record = self.table.row(node)
                record["ingested_at"] = record.get("_ingested_at")
            members.setdefault(assignment[node], []).append(record)
        # Steward values: each golden record's own, then those of ids retired into it
        # (as they stand once this change is made).
        resolve = self._resolver(retired or {}, set(members))
        rows = {}
        for gid, records in members.items():
            held = inherited(self.overrides, gid, resolve) if self.overrides else None
            derived = overridden(survive(records, self.survivorship), held)
            created = self.created.get(gid) or self.retired_ids.get(gid) or now
            rows[gid] = GoldenRow(
                gid, "active", None, created, now, derived.record_count,
                derived.values, derived.lineage, derived.latest,
            )  # fmt: skip
        return rows

    def _resolver(
        self, retired: Mapping[str, str | None], active: set[str]
    ) -> Callable[[str], str | None]:
        """Where a golden id lives on once a change that retires ``retired`` and derives
        ``active`` is made (None: nowhere)."""

        def resolve(golden_id: str) -> str | None:
            seen = set()
            while golden_id not in active:
                if golden_id in retired:
                    following = retired[golden_id]
                elif golden_id in self.created:
                    return golden_id
                else:
                    following = self.survivor_of.get(golden_id)
                if following is None or golden_id in seen:
                    return None
                seen.add(golden_id)
                golden_id = following
            return golden_id

        return resolve

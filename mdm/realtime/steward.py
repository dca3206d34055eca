"""A steward's operations on the real-time engine's state: merge, unmerge, a decision
on a pair, and re-clustering a golden record's records with the constraints they set.

A part of :class:`mdm.realtime.engine.Engine` (its base class), split from it along
this seam: these methods use the engine's state (records, members, constraints, the
lock) and its clustering and derivation, and return the change set to write.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import numpy as np

from mdm.clock import utcnow as _now
from mdm.clusters import components
from mdm.constraints import Constraint, ordered
from mdm.errors import ConflictError, InputError, NotFoundError
from mdm.linkage.customers import donors_from_lineage, score_customers
from mdm.store.changes import ChangeSet, Event, GoldenRow, Key

if TYPE_CHECKING:
    from mdm.constraints import Constraints
    from mdm.linkage.scorer import PairScore, Scorer
    from mdm.realtime.decision import Thresholds
    from mdm.realtime.records import RecordTable
    from mdm.realtime.tasks import ReviewPair

#: Of each customer, at most this many records are compared when a merge is checked.
MERGE_CHECK_RECORDS = 25


@dataclass(frozen=True)
class MergeEvidence:
    """What the model says about two customers a steward wants to merge: their most
    alike pair of records, its probability scored with what the customers know where a
    record lacks a value (as a review task is scored), and the comparisons that speak
    against (label, match weight), strongest first. ``strong`` when even that pair falls below
    the review band: the model would not have asked a steward about them."""

    records: tuple[Key, Key]
    probability: float
    against: tuple[tuple[str, float], ...]
    strong: bool

    def message(self) -> str:
        """The evidence in words, for a refusal that asks for confirmation."""
        listed = "; ".join(f"{label} ({weight:+.1f})" for label, weight in self.against)
        return (
            f"the model scores these customers' most alike records "
            f"({self.records[0][0]}/{self.records[0][1]} and "
            f"{self.records[1][0]}/{self.records[1][1]}) at "
            f"{self.probability:.1%}: {listed or 'no comparison agrees'}"
        )


class MergeNotConfirmed(ConflictError):
    """A merge of two customers the model holds to be different people, sent without
    confirmation: it names the evidence; sending it again confirmed merges them."""

    def __init__(self, evidence: MergeEvidence) -> None:
        super().__init__(
            f"strong evidence against this merge: {evidence.message()}. "
            "Merge anyway only if you know better (confirm it)"
        )
        self.evidence = evidence


class StewardOperations:
    """Merge, unmerge, decide, re-cluster (see the module's description)."""

    # The engine's state and steps these methods use (set and defined by Engine).
    lock: threading.RLock
    table: RecordTable
    members: dict[str, set[int]]
    constraints: Constraints
    retired_ids: dict[str, datetime]
    created: dict[str, datetime]
    scorer: Scorer
    thresholds: Thresholds

    if TYPE_CHECKING:  # (by mdm.realtime.neighbourhood.Neighbourhood)

        def _resolver(
            self, retired: Mapping[str, str | None], active: set[str]
        ) -> Callable[[str], str | None]: ...

        def _cluster(
            self,
            nodes: list[int],
            keys: list[Key],
            pairs: list[tuple[int, int, PairScore]],
            written: Mapping[str, Any] | None = None,
        ) -> np.ndarray: ...

        def _neighbourhood_pairs(
            self, nodes: list[int], new_scores: list[tuple[int, PairScore]]
        ) -> list[tuple[int, int, PairScore]]: ...

        def _assign(
            self,
            nodes: list[int],
            labels: np.ndarray,
            keys: list[Key],
            slot: int | None,
            previous: Mapping[Key, str] | None = None,
        ) -> tuple[dict[int, str], dict[str, str]]: ...

        def _derive_golden(
            self,
            nodes: list[int],
            keys: list[Key],
            assignment: dict[int, str],
            now: datetime,
            written: Mapping[str, Any] | None = None,
            retired: Mapping[str, str | None] | None = None,
        ) -> dict[str, GoldenRow]: ...

        # (by mdm.realtime.writing.Writing)
        def _settle_tasks(
            self,
            changes: ChangeSet,
            nodes: Iterable[int],
            assignment: dict[int, str],
            review: list[ReviewPair],
            key: Key | None = None,
        ) -> dict[frozenset[str], int]: ...

        def _moves(self, xref: Mapping[Key, str | None]) -> list[Event]: ...

        def _new_golden(self, changes: ChangeSet) -> set[str]: ...

        def _relink(self, slot: int, golden_id: str | None) -> None: ...

        def _apply_ids(self, changes: ChangeSet) -> None: ...

    def resolve(self, golden_id: str) -> str | None:
        """The active golden id ``golden_id`` is now (itself, or its survivor's)."""
        return self._resolver({}, set())(golden_id)

    def _active(self, golden_id: str) -> str:
        """``golden_id`` if it is an active golden record with records; else why not."""
        if self.members.get(golden_id):
            return golden_id
        if golden_id in self.retired_ids:
            now = self.resolve(golden_id)
            where = f"; it is part of {now} now" if now else "; it has no records left"
            raise ConflictError(f"golden record {golden_id} is retired{where}")
        raise NotFoundError(f"no golden record {golden_id}")

    def _slot(self, key: Key) -> int:
        slot = self.table.slot_of(*key)
        if slot is None:
            raise NotFoundError(f"no record {key[0]}/{key[1]} in the store")
        return slot

    def merge_evidence(self, first: str, second: str) -> MergeEvidence:
        """What the model says against merging golden records ``first`` and ``second``:
        every pair of their records (up to :data:`MERGE_CHECK_RECORDS` of each) scored,
        the most alike pair kept. Changes nothing."""
        with self.lock:
            a, b = self._active(first), self._active(second)
            if a == b:
                raise ConflictError(f"{first} and {second} are already one golden record ({a})")
            left = sorted(self.members[a])[:MERGE_CHECK_RECORDS]
            right = sorted(self.members[b])[:MERGE_CHECK_RECORDS]
            rows = {slot: self.table.row(slot) for slot in (*left, *right)}
            best: tuple[float, int, int, PairScore] | None = None
            for x in left:
                for y in right:
                    score = self.scorer.score(rows[x], rows[y])
                    if best is None or score.match_weight > best[0]:
                        best = (score.match_weight, x, y, score)
            assert best is not None  # an active golden record has records
            _, x, y, _ = best
            # Scored as a review task is: with what each customer knows where the
            # record lacks it (a birth date on another of their records).
            score = score_customers(
                self.scorer, rows[x], rows[y], self.lent_values(a), self.lent_values(b)
            ).score
            against = sorted(
                (
                    (f"{hit.comparison.replace('_', ' ').capitalize()}: {hit.label}",
                     hit.match_weight)
                    for hit in score.comparisons
                    if hit.match_weight < 0
                ),
                key=lambda item: item[1],
            )  # fmt: skip
            return MergeEvidence(
                (self.table.key(x), self.table.key(y)),
                score.match_probability,
                tuple(against),
                self.thresholds.band(score.match_probability) == "none",
            )

    def lent_values(self, golden_id: str) -> dict[str, Mapping[str, Any]]:
        """Attribute -> the record of golden record ``golden_id`` that gave it its value
        (derived again from its records; a value a steward set is no record's)."""
        slots = sorted(self.members.get(golden_id, ()))
        keys = [self.table.key(s) for s in slots]
        derived = self._derive_golden(slots, keys, dict.fromkeys(slots, golden_id), _now())
        golden = derived.get(golden_id)  # none for an id that holds no records
        return donors_from_lineage(golden.lineage, self._stored_row) if golden else {}

    def _stored_row(self, key: Key) -> Mapping[str, Any] | None:
        """A record's row as the engine holds it, or None when it is not held."""
        slot = self.table.slot_of(*key)
        return None if slot is None else self.table.row(slot)

    def merge(
        self,
        first: str,
        second: str,
        actor: str,
        reason: str | None = None,
        link: tuple[Key, Key] | None = None,
    ) -> tuple[dict[str, Any], ChangeSet]:
        """Merge two golden records into one holding exactly the records of both (the
        older id survives), whatever the scores say today. Must-links keep
        them together from now on: from every record of each to the first record of
        the other, and between the records ``link`` names (a decision on that pair);
        cannot-links between them are dropped."""
        with self.lock:
            a, b = self._active(first), self._active(second)
            if a == b:
                raise ConflictError(f"{first} and {second} are already one golden record ({a})")
            keys_a = sorted(self.table.key(s) for s in self.members[a])
            keys_b = sorted(self.table.key(s) for s in self.members[b])
            changes = ChangeSet(_now(), actor)
            origin = "merge" if link is None else "decision"
            must = Constraint("must", origin, actor, changes.at, reason)
            for pair in self.constraints.between(keys_a, keys_b, "cannot"):
                changes.constraints[pair] = None
            for key in keys_b:
                changes.constraints[ordered(key, keys_a[0])] = must
            for key in keys_a:
                changes.constraints[ordered(key, keys_b[0])] = must
            if link is not None:
                changes.constraints[ordered(*link)] = must
            nodes = sorted(self.members[a] | self.members[b])
            assignment = self._recluster(nodes, changes, labels=np.zeros(len(nodes), np.int64))
            survivor = assignment[nodes[0]]
            merged: dict[str, Any] = {"merged": sorted({a, b} - {survivor})}
            if reason:  # kept beside the event, not in it (mdm.store.changes)
                merged["note"] = reason
            changes.events.append(("golden_merged", survivor, None, None, merged))
            return {"golden_id": survivor, "golden_records": [survivor],
                    "retired": sorted(changes.retired)}, changes  # fmt: skip

    def unmerge(
        self,
        golden_id: str,
        records: Sequence[Key],
        actor: str,
        reason: str | None = None,
        prior: Mapping[Key, str] | None = None,
    ) -> tuple[dict[str, Any], ChangeSet]:
        """Take ``records`` out of a golden record into one of their own; the rest stay
        together as they are (nothing is re-scored). Cannot-links
        keep them apart from the rest from now on (must-links across are dropped); two
        or more taken out together are must-linked. ``prior`` is the golden id each
        record had before it joined this one: a retired id that resolves here comes
        back (with its creation time) for the records that held it."""
        with self.lock:
            gid = self._active(golden_id)
            held = {self.table.key(s) for s in self.members[gid]}
            wanted = sorted(set(records))
            if not wanted:
                raise InputError("name the source records to unmerge (SOURCE/RECORD_ID)")
            stray = [f"{s}/{r}" for s, r in wanted if (s, r) not in held]
            if stray:
                raise InputError(f"{', '.join(stray)} not in golden record {gid}")
            rest = sorted(held - set(wanted))
            if not rest:
                raise InputError(
                    f"unmerging every record of {gid} leaves nothing behind; name fewer"
                )
            changes = ChangeSet(_now(), actor)
            unmerged: dict[str, Any] = {"records": len(wanted), "moved": [list(k) for k in wanted]}
            if reason:
                unmerged["note"] = reason
            changes.events.append(("golden_unmerged", gid, None, None, unmerged))
            for pair in self.constraints.between(wanted, rest, "must"):
                changes.constraints[pair] = None
            cannot = Constraint("cannot", "unmerge", actor, changes.at, reason)
            for key in wanted:
                for other in rest:
                    changes.constraints[ordered(key, other)] = cannot
            must = Constraint("must", "unmerge", actor, changes.at, reason)
            for key in wanted[1:]:
                if self.constraints.kinds.get(ordered(key, wanted[0])) != "must":
                    changes.constraints[ordered(key, wanted[0])] = must
            # Each record claims the retired id it came from, if that can come back;
            # the rest keep this id, unless none of them claims it.
            claims = {}
            for key in held:
                was = (prior or {}).get(key)
                if was is not None and was in self.retired_ids and self.resolve(was) == gid:
                    claims[key] = was
                elif key in rest:
                    claims[key] = gid
            if gid not in claims.values():
                claims.update({key: gid for key in wanted if key not in claims})
            nodes = sorted(self.members[gid])
            out = np.asarray([self.table.key(s) in wanted for s in nodes], dtype=np.int64)
            assignment = self._recluster(nodes, changes, claims, labels=out)
            into = sorted({g for s, g in assignment.items() if self.table.key(s) in wanted})
            unmerged["into"] = into  # ids only, as every event holds
            return {"golden_id": gid, "records": [list(k) for k in wanted], "into": into,
                    "golden_records": sorted(set(assignment.values())),
                    "retired": sorted(changes.retired)}, changes  # fmt: skip

    def constrain(
        self, left: Key, right: Key, kind: str, actor: str, reason: str | None = None
    ) -> tuple[dict[str, Any], ChangeSet]:
        """A steward's decision on a pair of records, in effect at once: "must" merges
        their golden records, "cannot" separates them (refused when a steward's
        must-links hold them together: unmerge one instead)."""
        with self.lock:
            a = self.table.clustered_golden_id(self._slot(left))
            b = self.table.clustered_golden_id(self._slot(right))
            if kind == "must" and a != b:
                return self.merge(a, b, actor, reason, link=(left, right))
            changes = ChangeSet(_now(), actor)
            changes.constraints[ordered(left, right)] = Constraint(
                kind, "decision", actor, changes.at, reason
            )
            if kind == "cannot" and a == b:
                keys = sorted(self.table.key(s) for s in self.members[a])
                must = np.asarray(self.constraints.within(keys, "must"), dtype=np.int64)
                group = components(len(keys), must[:, 0], must[:, 1]) if len(must) else None
                if group is not None and group[keys.index(left)] == group[keys.index(right)]:
                    raise ConflictError(
                        f"{left[0]}/{left[1]} and {right[0]}/{right[1]} were put together by a "
                        f"steward (merge or decision); unmerge one of them from {a} instead"
                    )
                assignment = self._recluster(sorted(self.members[a]), changes)
                ids = sorted(set(assignment.values()))
            else:
                self._apply_ids(changes)
                ids = sorted({a, b})
            return {"golden_records": ids, "retired": sorted(changes.retired)}, changes

    def _recluster(
        self,
        nodes: list[int],
        changes: ChangeSet,
        claims: Mapping[Key, str] | None = None,
        labels: np.ndarray | None = None,
    ) -> dict[int, str]:
        """Put ``nodes`` in the clusters ``labels`` says (by default: cluster them again
        with the constraints ``changes`` sets), derive their golden records, and change
        the in-memory state; returns node -> golden id."""
        undo = self.constraints.apply(changes.constraints)
        try:
            keys = [self.table.key(s) for s in nodes]
            if labels is None:
                labels = self._cluster(nodes, keys, self._neighbourhood_pairs(nodes, []))
            assignment, found = self._assign(nodes, labels, keys, None, claims)
        except BaseException:
            self.constraints.restore(undo)
            raise
        retired: dict[str, str | None] = {
            old: new for old, new in found.items() if old in self.created
        }
        before: dict[str, dict[str, int]] = {}
        for node in nodes:
            held = before.setdefault(self.table.clustered_golden_id(node), {})
            held[assignment[node]] = held.get(assignment[node], 0) + 1
        kept = set(assignment.values())
        for old, now_in in sorted(before.items()):  # an id left with no records retires
            if old not in kept and old not in retired:
                retired[old] = min(now_in, key=lambda g: (-now_in[g], g))
        for node, key in zip(nodes, keys, strict=True):
            if self.table.golden_id(node) != assignment[node]:
                changes.xref[key] = assignment[node]
        changes.retired = retired
        changes.golden = self._derive_golden(nodes, keys, assignment, changes.at, None, retired)
        # Open tasks now inside one golden record, or about the same two, are settled.
        self._settle_tasks(changes, nodes, assignment, [])
        changes.events += self._moves(changes.xref)
        changes.events += [
            ("golden_retired", old, None, None, {"survivor_id": survivor})
            for old, survivor in sorted(retired.items())
        ]
        changes.new_golden = self._new_golden(changes)
        for node in nodes:
            self._relink(node, assignment[node])
        self._apply_ids(changes)
        return assignment

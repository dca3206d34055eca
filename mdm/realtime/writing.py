"""Writing through the real-time engine: upsert and delete one record, with the
review tasks, golden records and events that change with it.

A part of :class:`mdm.realtime.engine.Engine` (its base class), split from it along
this seam: these methods decide a write on the engine's state, change that state and
return the change set to write (the store writes it: :mod:`mdm.store.changes`).

Why one module of this size: an upsert and a delete share the re-clustering of the
neighbourhood they touch, the review tasks it opens or withdraws and the golden
records it derives again; split further, each half would reach into the other's state.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

import numpy as np

from mdm.clock import utcnow as _now
from mdm.constraints import KINDS, Constraint, ordered
from mdm.errors import NotFoundError
from mdm.linkage.customers import donors_from_lineage, score_customers
from mdm.linkage.scorer import PairScore
from mdm.names import FREQUENCY_COLUMNS
from mdm.realtime.decision import Decision, Thresholds, decide
from mdm.realtime.results import Candidate, UpsertResult, _Plan
from mdm.realtime.tasks import OpenTasks, ReviewPair
from mdm.store.changes import ChangeSet, Event, GoldenRow, Key
from mdm.store.records import ROW_COLUMNS

if TYPE_CHECKING:
    from mdm.constraints import Constraints
    from mdm.linkage.frequencies import LiveFrequencies
    from mdm.linkage.scorer import Scorer
    from mdm.realtime.index import CandidateIndex
    from mdm.realtime.records import RecordTable
    from mdm.realtime.usable import Prepared


def _raw_json(record: Mapping[str, Any]) -> str:
    return json.dumps(dict(record), sort_keys=True, default=str)


class Writing:
    """Upsert and delete (see the module's description)."""

    # The engine's state these methods use (set by Engine).
    lock: threading.RLock
    table: RecordTable
    index: CandidateIndex
    members: dict[str, set[int]]
    constraints: Constraints
    scorer: Scorer
    thresholds: Thresholds
    link_threshold: float
    frequencies: dict[str, LiveFrequencies]
    tasks: OpenTasks
    next_task: int
    created: dict[str, datetime]
    retired_ids: dict[str, datetime]
    survivor_of: dict[str, str | None]

    if TYPE_CHECKING:  # the engine's steps these methods use (defined by Engine)

        def prepare(self, record: Mapping[str, Any]) -> Prepared: ...

        def lent_values(self, golden_id: str) -> dict[str, Mapping[str, Any]]: ...

        def _refuse_erased(self, source: str, record_id: str) -> None: ...

        def _scored(
            self, values: Mapping[str, Any], exclude: int | None
        ) -> list[tuple[int, PairScore]]: ...

        def _candidate(
            self, golden_id: str, slot: int, score: PairScore, decision: Decision
        ) -> Candidate: ...

        # (by mdm.realtime.neighbourhood.Neighbourhood)
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

    def upsert(
        self, record: Mapping[str, Any], actor: str = "api"
    ) -> tuple[UpsertResult, ChangeSet]:
        """Add or update one source record: what happened, and what to write."""
        with self.lock:
            return self._upsert(record, actor)

    def _plan(self, values: Mapping[str, Any], slot: int | None) -> _Plan:
        """Where the record ``values`` (stored at ``slot``, if it is) would go, and the
        decision (:mod:`mdm.realtime.decision`): its neighbourhood (the golden records
        it could join, and its own) clustered with it. Changes nothing."""
        key = (values["source"], values["record_id"])
        scores = self._scored(values, slot)
        touched = {
            self.table.clustered_golden_id(s)
            for s, score in scores
            if self.thresholds.band(score.match_probability) == "link"
        }
        old_golden = self.table.golden_id(slot) if slot is not None else None
        if old_golden is not None:
            touched.add(old_golden)
        touched |= self._golden_of(self.constraints.of(key, "must"))
        nodes = sorted({s for g in touched for s in self.members.get(g, ())} - {slot}) + [-1]
        keys = [self.table.key(s) if s != -1 else key for s in nodes]
        if len(nodes) == 1:  # alone: nothing to cluster with
            labels = np.zeros(1, dtype=np.int64)
        else:
            labels = self._cluster(nodes, keys, self._neighbourhood_pairs(nodes, scores), values)
        assignment, retired = self._assign(nodes, labels, keys, slot)
        review = self._review_pairs(key, scores, assignment)
        scored = [
            (self.table.clustered_golden_id(s), assignment.get(s), score.match_probability)
            for s, score in scores
        ]
        before = [self.table.clustered_golden_id(s) for s, _, _ in review]
        decision = decide(assignment[-1], scored, before, self.thresholds)
        return _Plan(scores, nodes, keys, assignment, retired, review, decision)

    def _upsert(self, record: Mapping[str, Any], actor: str) -> tuple[UpsertResult, ChangeSet]:
        prepared = self.prepare(record)
        values = prepared.values
        source, record_id = values["source"], values["record_id"]
        key = (source, record_id)
        self._refuse_erased(source, record_id)
        extra = json.dumps(record.get("extra") or {}, sort_keys=True)
        raw = _raw_json({k: v for k, v in record.items() if k != "extra"})
        content = content_hash(raw, extra)
        slot = self.table.slot_of(source, record_id)
        now = _now()
        changes = ChangeSet(now, actor)
        version = 1
        if slot is not None:
            stored, stored_version = self.table.values(slot, ["_content", "_version"])
            if stored == content:
                golden_id = self.table.clustered_golden_id(slot)
                return UpsertResult(
                    "unchanged", source, record_id, golden_id, stored_version,
                    warnings=prepared.warnings,
                ), changes  # fmt: skip
            version = (stored_version or 0) + 1
        plan = self._plan(values, slot)
        new_scores, nodes, keys = plan.scores, plan.nodes, plan.keys
        assignment, retired = plan.assignment, plan.retired
        golden_id = plan.decision.golden_id
        written = {
            **values,
            "extra": extra,
            "raw": raw,
            "version": version,
            "ingested_at": now,
            "_content": content,
            "_version": version,
            "_ingested_at": now,
        }
        changes.records[key] = {c: written.get(c) for c in ROW_COLUMNS}
        for node, k in zip(nodes, keys, strict=True):
            if node == -1 or self.table.golden_id(node) != assignment[node]:
                changes.xref[k] = assignment[node]
        changes.retired = dict(retired)
        changes.golden = self._derive_golden(nodes, keys, assignment, now, written, retired)
        tasks = self._review(changes, key, plan)
        changes.pairs[key] = [
            (*key, *self.table.key(s), float(score.match_weight), float(score.match_probability))
            for s, score in new_scores
            if self.thresholds.band(score.match_probability) != "none"
        ]
        changes.events.append(
            (
                "record_added" if version == 1 else "record_updated",
                golden_id,
                source,
                record_id,
                {"version": version, **self._why(golden_id, assignment, new_scores)},
            )  # fmt: skip
        )
        changes.events += self._moves(changes.xref)
        changes.events += [
            ("golden_retired", old, None, None, {"survivor_id": survivor})
            for old, survivor in sorted(retired.items())
        ]
        old_values = self.table.row(slot) if slot is not None else None
        changes.names = _name_steps(old_values, values)
        best: dict[str, Candidate] = {}
        for s, score in new_scores:
            gid = assignment.get(s, self.table.clustered_golden_id(s))
            if gid not in best or score.match_weight > best[gid].match_weight:
                best[gid] = self._candidate(gid, s, score, plan.decision)
        evidence = sorted(best.values(), key=lambda c: -c.match_weight)[:5]
        action = _ACTIONS[plan.decision.outcome]
        if slot is not None and action == "created":
            action = "updated"
        result = UpsertResult(
            action, source, record_id, golden_id, version, sorted(retired), tasks, evidence,
            prepared.warnings,
        )  # fmt: skip
        if slot is None:
            changes.new_records.add(key)
        changes.new_golden = self._new_golden(changes)
        # Nothing above changed the in-memory state; from here on it changes.
        self._apply(changes, slot, written, old_values, assignment, nodes)
        return result, changes

    def _why(
        self, golden_id: str, assignment: dict[int, str], scores: list[tuple[int, PairScore]]
    ) -> dict[str, Any]:
        """Why a record is where it is: its strongest link into its golden record (the
        rule is the model's link threshold), or none."""
        links = [
            score.match_probability
            for s, score in scores
            if assignment.get(s) == golden_id
            and self.thresholds.band(score.match_probability) == "link"
        ]
        if not links:
            return {"rule": "no link above the threshold"}
        return {"rule": "match_probability >= link_threshold", "match_probability":
                round(max(links), 6), "link_threshold": round(self.link_threshold, 6)}  # fmt: skip

    def _review_pairs(
        self, key: Key, scores: list[tuple[int, PairScore]], assignment: dict[int, str]
    ) -> list[tuple[int, PairScore, str]]:
        """The pairs in the review band between the record and another golden record,
        each with that golden record's id once the change is made (a steward's decision
        between the two golden records is honoured in :meth:`_review`)."""
        found = []
        for slot, score in scores:
            other = assignment.get(slot, self.table.clustered_golden_id(slot))
            if self.thresholds.band(score.match_probability) != "review":
                continue
            if other == assignment[-1] or ordered(key, self.table.key(slot)) in (
                self.constraints.kinds
            ):
                continue
            found.append((slot, score, other))
        return found

    def _settle_tasks(
        self,
        changes: ChangeSet,
        nodes: Iterable[int],
        assignment: dict[int, str],
        review: list[ReviewPair],
        key: Key | None = None,
    ) -> dict[frozenset[str], int]:
        """Keep one open task per pair of golden records touched by a change (``nodes``
        re-clustered into ``assignment``; ``key``, the record changed, is node -1; the
        ``review`` pairs it made): see :meth:`OpenTasks.settle`. Records the outcome
        in ``changes``; returns the open task of each pair of golden records of
        ``review``."""
        nodes = [n for n in nodes if n != -1]
        old = {self.table.clustered_golden_id(n) for n in nodes}
        old |= {g for pair in review for g in self._golden_of([pair.other])}
        slots = {s for g in old for s in self.members.get(g, ())}
        keys = {self.table.key(s) for s in slots} | ({key} if key else set())

        def golden_of(k: Key) -> str | None:
            if k == key:
                return assignment[-1]
            slot = self.table.slot_of(*k)
            if slot is None:
                return None
            return assignment.get(slot, self.table.golden_id(slot))

        after: dict[str, set[Key]] = {}
        for k in keys:
            after.setdefault(golden_of(k) or "", set()).add(k)

        def keys_of(gid: str) -> set[Key]:  # a golden record the change leaves alone
            return after.get(gid) or {self.table.key(s) for s in self.members.get(gid, ())}

        def decided(a: str, b: str) -> bool:
            first, second = keys_of(a), keys_of(b)
            return any(self.constraints.between(first, second, kind) for kind in KINDS)

        settled = self.tasks.settle(self.tasks.of_keys(keys), review, golden_of, decided)
        changes.tasks_rescored.update(settled.rescored)
        by_records = {frozenset((pair.key, pair.other)): pair for pair in review}
        shown = {task: by_records[self.tasks.pairs[task]] for task in settled.rescored}
        changes.tasks_withdrawn |= settled.withdrawn
        first = self.next_task + len(changes.tasks_added)
        for i, pair in enumerate(settled.added):
            changes.tasks_added.append(
                (
                    first + i,
                    *pair.key,
                    *pair.other,
                    pair.golden_id,
                    pair.other_golden_id,
                    pair.match_weight,
                    pair.match_probability,
                    "open",
                    changes.at,
                    None,
                )  # fmt: skip
            )
            shown[first + i] = pair
        self._score_on_customers(changes, shown)
        return {
            ends: (first + kept[1] if isinstance(kept, tuple) else kept)
            for ends, kept in settled.kept.items()
        }

    def _score_on_customers(self, changes: ChangeSet, shown: Mapping[int, ReviewPair]) -> None:
        """Score each task's pair of records (task id -> the pair it shows, as the change
        leaves them) again with what their two customers know, as a bulk run does
        (:func:`mdm.store.tasks.score_tasks_on_customers`): a task whose record lacks a
        value its customer has keeps the customers' score (``tasks_on_customers``)."""
        donors: dict[str, dict[str, Mapping[str, Any]]] = {}

        def row_of(key: Key) -> Mapping[str, Any] | None:
            if key in changes.records:
                return changes.records[key]
            slot = self.table.slot_of(*key)
            return None if slot is None else self.table.row(slot)

        def donors_of(golden_id: str) -> dict[str, Mapping[str, Any]]:
            if golden_id not in donors:
                golden = changes.golden.get(golden_id)
                if golden is None:  # a customer the change leaves alone
                    donors[golden_id] = self.lent_values(golden_id)
                else:
                    donors[golden_id] = donors_from_lineage(golden.lineage, row_of)
            return donors[golden_id]

        for task_id, pair in sorted(shown.items()):
            left, right = row_of(pair.key), row_of(pair.other)
            if left is None or right is None:
                continue
            scored = score_customers(
                self.scorer,
                left,
                right,
                donors_of(pair.golden_id),
                donors_of(pair.other_golden_id),
            )
            if scored.scored_on == "customers":
                score = scored.score
                changes.tasks_on_customers[task_id] = (
                    float(score.match_weight),
                    float(score.match_probability),
                )

    def _review(
        self,
        changes: ChangeSet,
        key: Key,
        plan: _Plan,
    ) -> list[int]:
        """The open review tasks of the record's pairs in the review band
        (:meth:`_review_pairs`): one per pair of golden records, the most probable pair
        of records (an open task for it is re-scored); the other pairs of records are
        its supporting pairs (in ``pairs``)."""
        golden_id = plan.assignment[-1]
        review = [
            ReviewPair(
                key,
                self.table.key(slot),
                golden_id,
                other,
                float(score.match_weight),
                float(score.match_probability),
            )  # fmt: skip
            for slot, score, other in plan.review
        ]
        kept = self._settle_tasks(changes, plan.nodes, plan.assignment, review, key)
        ends = {frozenset((p.golden_id, p.other_golden_id)) for p in review}
        return sorted({kept[e] for e in ends if e in kept})

    def _apply(
        self,
        changes: ChangeSet,
        slot: int | None,
        values: dict[str, Any],
        old_values: Mapping[str, Any] | None,
        assignment: dict[int, str],
        nodes: list[int],
    ) -> None:
        """The in-memory table, index, memberships, frequencies, ids and tasks."""
        for column, lookup in self.frequencies.items():
            if old_values is not None:
                lookup.add(old_values.get(column), -1)
            lookup.add(values.get(column), 1)
        if slot is not None:
            self.index.remove(slot)
            self.table.update(slot, values)
        else:
            slot = self.table.append(values)
        self.index.add(slot, values)
        for node in nodes:
            self._relink(slot if node == -1 else node, assignment[node])
        self._apply_ids(changes)

    def _relink(self, slot: int, golden_id: str | None) -> None:
        """In memory: record ``slot`` now belongs to ``golden_id`` (None: to nobody)."""
        old = self.table.golden_id(slot)
        if old == golden_id:
            return
        if old is not None:
            self.members.get(old, set()).discard(slot)
            if old in self.members and not self.members[old]:
                del self.members[old]
        if golden_id is not None:
            self.members.setdefault(golden_id, set()).add(slot)
            self.table.set_golden([slot], golden_id)

    def _moves(self, xref: Mapping[Key, str | None]) -> list[Event]:
        """A ``record_linked`` event for each stored record a change moves to another
        golden record (from which id: an unmerge brings that id back)."""
        events: list[Event] = []
        for key, gid in sorted(xref.items()):
            slot = self.table.slot_of(*key) if gid is not None else None
            old = self.table.golden_id(slot) if slot is not None else None
            if old is not None and old != gid:
                events.append(("record_linked", gid, key[0], key[1], {"from": old}))
        return events

    def _golden_of(self, keys: Iterable[Key]) -> set[str]:
        """The golden ids of those of ``keys`` the engine holds."""
        found = set()
        for key in keys:
            slot = self.table.slot_of(*key)
            if slot is not None:
                found.add(self.table.clustered_golden_id(slot))
        return found

    def _new_golden(self, changes: ChangeSet) -> set[str]:
        """The golden ids a change creates (the store has no row of theirs)."""
        return {g for g in changes.golden if g not in self.created and g not in self.retired_ids}

    def _apply_ids(self, changes: ChangeSet) -> None:
        for gid, row in changes.golden.items():
            self.created.setdefault(gid, row.created_at)
            self.retired_ids.pop(gid, None)
            self.survivor_of.pop(gid, None)
        for gid, survivor in changes.retired.items():
            created = self.created.pop(gid, None)
            self.retired_ids[gid] = created or self.retired_ids.get(gid, changes.at)
            self.survivor_of[gid] = survivor
        self.constraints.apply(changes.constraints)
        for task in changes.tasks_added:
            self.tasks.open(int(task[0]), (task[1], task[2]), (task[3], task[4]), float(task[8]))
            self.next_task = max(self.next_task, int(task[0]) + 1)
        for task_id, (_, probability) in changes.tasks_rescored.items():
            if task_id in self.tasks.probability:
                self.tasks.probability[task_id] = float(probability)
        for task_id in changes.tasks_withdrawn:
            self.tasks.close(task_id)

    def delete(
        self, source: str, record_id: str, actor: str = "api"
    ) -> tuple[dict[str, Any], ChangeSet]:
        """Remove a source record; its golden record is re-derived from the rest (which
        may split apart, as bulk would cluster them without it) or retired if empty."""
        with self.lock:
            return self._delete(source, record_id, actor)

    def _delete(self, source: str, record_id: str, actor: str) -> tuple[dict[str, Any], ChangeSet]:
        slot = self.table.slot_of(source, record_id)
        if slot is None:
            raise NotFoundError(f"no record {source}/{record_id} in the store")
        key = (source, record_id)
        old_golden = self.table.clustered_golden_id(slot)
        old_values = self.table.row(slot)
        now = _now()
        changes = ChangeSet(now, actor)
        self._forget_constraints(key, changes)
        rest = sorted(self.members.get(old_golden, set()) - {slot})
        assignment: dict[int, str] = {}
        retired: dict[str, str | None] = {}
        undo = self.constraints.apply(changes.constraints)
        try:
            if rest:
                pairs = self._neighbourhood_pairs(rest, [])
                keys = [self.table.key(s) for s in rest]
                labels = self._cluster(rest, keys, pairs)
                assignment, found = self._assign(rest, labels, keys, None)
                retired.update(found)
                changes.golden = self._derive_golden(rest, keys, assignment, now, None, found)
            else:
                retired[old_golden] = None
        except BaseException:
            self.constraints.restore(undo)
            raise
        changes.records[key] = None
        changes.xref[key] = None
        changes.pairs[key] = []
        changes.tasks_withdrawn = self.tasks.of_keys([key])
        for node, gid in assignment.items():
            if self.table.golden_id(node) != gid:
                changes.xref[self.table.key(node)] = gid
        changes.retired = retired
        changes.names = _name_steps(old_values, None)
        changes.events.append(("record_deleted", old_golden, source, record_id, {}))
        changes.events += self._moves(changes.xref)
        changes.events += [
            ("golden_retired", old, None, None, {"survivor_id": survivor})
            for old, survivor in sorted(retired.items())
        ]
        result = {
            "source": source,
            "record_id": record_id,
            "golden_id": old_golden,
            "golden_records": sorted(set(assignment.values())),
            "retired": sorted(retired),
        }
        changes.new_golden = self._new_golden(changes)
        # From here on the in-memory state changes.
        for column, lookup in self.frequencies.items():
            lookup.add(old_values.get(column), -1)
        self.index.remove(slot)
        self._relink(slot, None)
        self.table.delete(slot)
        for node, gid in assignment.items():
            self._relink(node, gid)
        self._apply_ids(changes)
        return result, changes

    def _forget_constraints(self, key: Key, changes: ChangeSet) -> None:
        """A deleted record's constraints go with it, but what a steward glued through
        it stays glued: the records it was must-linked with are must-linked to one
        another (to the first of them), so they stay one golden record; if the record
        comes back, it is matched as a new one."""
        partners = sorted(p for p in self.constraints.of(key, "must") if p != key)
        for kind in ("must", "cannot"):
            for other in self.constraints.of(key, kind):
                changes.constraints[ordered(key, other)] = None
        present = [p for p in partners if self.table.slot_of(*p) is not None]
        if len(present) > 1:
            glue = Constraint(
                "must", "merge", changes.actor, changes.at,
                f"kept together after {key[0]}/{key[1]} was deleted",
            )  # fmt: skip
            for other in present[1:]:
                if self.constraints.kinds.get(ordered(present[0], other)) != "must":
                    changes.constraints[ordered(present[0], other)] = glue


#: An upsert's action for each decision (an existing record's "created" is "updated").
_ACTIONS = {"link": "linked", "review": "review", "new": "created"}


def content_hash(raw: str, extra: str) -> str:
    """What a record was sent as (its raw values and extras): equal hashes, nothing to
    do. Computed the same way in SQL at start-up (``mdm.realtime.engine._STATE_COLUMNS``)."""
    return hashlib.md5(f"{raw}\0{extra}".encode()).hexdigest()[:16]


def _name_steps(
    old: Mapping[str, Any] | None, new: Mapping[str, Any] | None
) -> dict[tuple[str, str], int]:
    """How ``name_frequencies`` changes when ``old`` becomes ``new``."""
    steps: dict[tuple[str, str], int] = {}
    for kind, column in FREQUENCY_COLUMNS.items():
        before = old.get(column) if old else None
        after = new.get(column) if new else None
        if before == after:
            continue
        for name, step in ((before, -1), (after, 1)):
            if name is not None:
                steps[(kind, name)] = steps.get((kind, name), 0) + step
    return steps

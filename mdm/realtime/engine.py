"""The real-time engine: match, upsert and delete one record at a time.

One model, two paths: the engine scores with :class:`mdm.linkage.scorer.Scorer` from
the same trained model, variant list and live name frequencies as the bulk path, and
finds candidates in an in-memory index on the blocking keys (no scans). An upsert
re-clusters only the neighbourhood it touches (the new record, the golden records of
its candidates that could link, and its own previous golden record) with the bulk
path's clustering and guards, so record by record gives what bulk gives.

An upsert or a delete is decided in memory, without reading the store, and changes
the in-memory state (record table, index, memberships, frequencies) at once; what it
changes in the store comes back as a :class:`~mdm.store.changes.ChangeSet`, which
the caller writes, alone or batched with others (group commit).
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import numpy as np

from mdm.clock import utcnow as _now
from mdm.clusters import cluster_constrained, components
from mdm.constraints import KINDS, Constraint, Constraints, ordered
from mdm.errors import ConflictError, InputError, NotFoundError, StoreError
from mdm.golden import assign_golden_ids_small, survive
from mdm.linkage.frequencies import LiveFrequencies, live_term_frequencies
from mdm.linkage.model import TrainedModel
from mdm.linkage.scorer import LevelHit, PairScore, Scorer
from mdm.names.reference import build_variant_groups
from mdm.names.store import FREQUENCY_COLUMNS, active_pairs
from mdm.realtime.decision import CandidateDecision, Decision, Thresholds, decide
from mdm.realtime.index import CandidateIndex
from mdm.realtime.prepare import prepare_record
from mdm.realtime.records import RecordTable
from mdm.realtime.tasks import OpenTasks, ReviewPair
from mdm.realtime.usable import Prepared, ValueWarning, require_blocking_keys, value_warnings
from mdm.rules.match import MatchRules
from mdm.rules.sources import SourceOptions, find_source_mapping
from mdm.rules.survivorship import SurvivorshipRules
from mdm.schema import ATTRIBUTES, RECORD_COLUMNS
from mdm.standardise.frame import StandardiseOptions
from mdm.standardise.locale import SourceLocale, locale_from_report
from mdm.store.changes import ROW_COLUMNS, ChangeSet, GoldenRow, Key
from mdm.store.overrides import Overrides, inherited, load_overrides, overridden
from mdm.store.writer import index_for_service, latest_model
from mdm.tombstones import tombstone

AfterCommit = Callable[[], None]


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


def _raw_json(record: Mapping[str, Any]) -> str:
    return json.dumps(dict(record), sort_keys=True, default=str)


class Engine:
    """Real-time matching over one store (built at start-up from the store's records).

    :meth:`upsert` and :meth:`delete` decide in memory and change the in-memory state
    at once; what they change in the store comes back as a :class:`ChangeSet` for the
    caller to write (:func:`mdm.store.changes.apply_changes`), alone or with others
    in one transaction. Should that write fail, the in-memory state is ahead of the
    store: build a new engine (the service does).
    """

    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        survivorship: SurvivorshipRules,
        rules_dir: Path,
    ) -> None:
        try:
            self.model: TrainedModel = latest_model(con)
        except StoreError as error:
            raise StoreError(
                f"{error}; the service needs a store with a trained model: run "
                "'mdm reconcile SOURCE... --db PATH' on the store first"
            ) from None
        self.rules: MatchRules = self.model.match_rules
        index_for_service(con)
        self.survivorship = survivorship
        self.rules_dir = rules_dir
        row = con.execute(
            "SELECT link_threshold, review_threshold FROM runs "
            "WHERE link_threshold IS NOT NULL ORDER BY run_id DESC LIMIT 1"
        ).fetchall()
        self.link_threshold, self.review_threshold = row[0]
        self.thresholds = Thresholds(self.link_threshold, self.review_threshold)
        self.frequencies: dict[str, LiveFrequencies] = live_term_frequencies(
            con, self.model.tf_columns
        )
        self.scorer = Scorer(self.model, self.frequencies)
        self.groups = build_variant_groups(active_pairs(con))
        # The day/month order each source's bulk runs detected (for dates like 03/04/1980).
        self.date_orders: dict[str, str] = dict(
            con.execute(
                "SELECT source, arg_max(report->>'date_order', run_id) FROM source_reports "
                "GROUP BY source"
            ).fetchall()
        )
        # The locale (phone region, postcode country) each source's bulk runs decided.
        self.locales = _recorded_locales(con)
        columns = sorted(set(self.scorer.columns) | self._key_columns() | set(RECORD_COLUMNS))
        self.table = RecordTable.load(con, columns, computed=_STATE_COLUMNS)
        self.index = CandidateIndex.build(self.table, self.rules)
        #: What scoring a pair and finding a neighbourhood's pairs read of a record.
        self._pair_columns = tuple(dict.fromkeys([*self.scorer.columns, *self._key_columns()]))
        self.members: dict[str, set[int]] = {}
        for slot, golden_id in self.table.golden_ids():
            self.members.setdefault(golden_id, set()).add(slot)
        #: Creation time of every active golden id; every retired id.
        self.created: dict[str, datetime] = dict(
            con.execute(
                "SELECT golden_id, created_at FROM golden WHERE status = 'active'"
            ).fetchall()
        )
        #: Every retired id: when it was created, and the id it was retired into.
        self.retired_ids: dict[str, datetime] = {}
        self.survivor_of: dict[str, str | None] = {}
        for gid, created_at, survivor in con.execute(
            "SELECT golden_id, created_at, survivor_id FROM golden WHERE status <> 'active'"
        ).fetchall():
            self.retired_ids[gid] = created_at
            self.survivor_of[gid] = survivor
        self._options: dict[str, StandardiseOptions] = {}
        self._identity = self._identity_levels()
        #: Held while matching and while a write decides and changes the in-memory
        #: state, so a match never sees half of a change.
        self.lock = threading.RLock()
        #: The open review tasks: one per pair of golden records (mdm.realtime.tasks).
        self.tasks = OpenTasks()
        self.next_task = 1
        self.overrides: Overrides = {}
        self.constraints = Constraints()
        self.sync(con)

    def sync(self, con: duckdb.DuckDBPyConnection) -> None:
        """Read again what other writers may change: the open review tasks (a steward
        decides them), the next task id, the steward overrides and the erased records."""
        #: Tombstones of erased records (see :mod:`mdm.erasure`): not taken again.
        self.tombstones: set[str] = {
            row[0] for row in con.execute("SELECT key_hash FROM erasures").fetchall()
        }
        rows = con.execute(
            # Tasks are compared on their records' probability (a bulk run may have stored
            # the customers'; its pairs table keeps the records').
            "SELECT t.task_id, t.source_l, t.record_id_l, t.source_r, t.record_id_r, "
            "CASE WHEN t.scored_on = 'customers' THEN coalesce(p.match_probability, "
            "t.match_probability) ELSE t.match_probability END FROM review_tasks t "
            "LEFT JOIN pairs p USING (source_l, record_id_l, source_r, record_id_r) "
            "WHERE t.status = 'open'"
        ).fetchall()
        top = con.execute("SELECT coalesce(max(task_id), 0) FROM review_tasks").fetchall()
        overrides = load_overrides(con)
        constraints = Constraints.load(con)
        with self.lock:
            self.overrides = overrides
            self.constraints = constraints
            self.tasks = OpenTasks()
            for task_id, sl, rl, sr, rr, probability in rows:
                self.tasks.open(int(task_id), (sl, rl), (sr, rr), float(probability))
            self.next_task = int(top[0][0]) + 1

    @property
    def open_tasks(self) -> dict[frozenset[Key], int]:
        """Pair of records -> its open review task."""
        return self.tasks.by_pair

    @property
    def task_pairs(self) -> dict[int, frozenset[Key]]:
        """Open review task id -> its pair of records."""
        return self.tasks.pairs

    # --- reading -------------------------------------------------------------------

    def _key_columns(self) -> set[str]:
        return {key for rule in self.rules.blocking for key in rule.keys}

    def options_for(self, source: str) -> StandardiseOptions:
        """How to read a source's values: its mapping's options, with the day/month order
        the bulk runs detected for it, and their locale unless the mapping sets a region."""
        if source not in self._options:
            mapping = find_source_mapping(self.rules_dir, source)
            options = mapping.options if mapping is not None else SourceOptions()
            order = options.date_order
            if order == "auto" and self.date_orders.get(source) in ("dmy", "mdy"):
                order = self.date_orders[source]
            configured = options.default_region
            self._options[source] = StandardiseOptions(
                default_region=configured,
                date_order=order,
                locale=None if configured else self.locales.get(source),
            )
        return self._options[source]

    def prepare(self, record: Mapping[str, Any]) -> Prepared:
        """The record standardised and with its derived keys, as the bulk path makes it:
        a value that cannot be standardised is missing, as in bulk, with a warning."""
        source = str(record.get("source") or "api")
        prepared = prepare_record(
            record,
            self.options_for(source),
            self.groups,
            extra_columns=self.rules.extra_columns,
        )
        values = dict(prepared.values)
        values["source"] = source
        values["record_id"] = str(record.get("record_id") or "")
        warnings = value_warnings(record, prepared.unparseable, prepared.local_only)
        return Prepared(values, warnings)

    def check(self, record: Mapping[str, Any]) -> Prepared:
        """:meth:`prepare`, refusing a record no blocking rule can use
        (:class:`~mdm.errors.NothingToMatchError` says what to give) and a record that
        was erased (:class:`~mdm.errors.ConflictError`)."""
        prepared = require_blocking_keys(self.prepare(record), self.rules.blocking)
        source, record_id = prepared.values["source"], prepared.values["record_id"]
        self._refuse_erased(source, record_id)
        return prepared

    def was_erased(self, source: str, record_id: str) -> bool:
        """Whether the record (source, record_id) was erased."""
        return bool(self.tombstones) and tombstone(source, record_id) in self.tombstones

    def _refuse_erased(self, source: str, record_id: str) -> None:
        if self.was_erased(source, record_id):
            raise ConflictError(
                f"record {source}/{record_id} was erased (the right to be forgotten) and is "
                "not taken again; leave it out, and remove it from the source system"
            )

    def _scored(
        self, values: Mapping[str, Any], exclude: int | None
    ) -> list[tuple[int, PairScore]]:
        # The record's own slot is known (-1: it has none), so the index need not look it up.
        own = exclude if exclude is not None else -1
        slots = [int(s) for s in self.index.candidates(values, own) if int(s) != exclude]
        if not slots:
            return []
        scores = self.scorer.score_candidates(values, self.table.rows(slots, self.scorer.columns))
        return list(zip(slots, scores, strict=True))

    def match(self, record: Mapping[str, Any], limit: int = 5) -> MatchResult:
        """The golden records this record may belong to, best first, and what an upsert
        of it would decide now (no side effects); a record no blocking rule can use is
        refused. Safe to call from any thread while another writes (see :attr:`lock`)."""
        with self.lock:
            prepared = self.check(record)
            values = prepared.values
            plan = self._plan(values, self.table.slot_of(values["source"], values["record_id"]))
            best: dict[str, tuple[int, PairScore]] = {}
            for slot, score in plan.scores:
                golden_id = self.table.golden_id(slot)
                kept = best.get(golden_id)
                if kept is None or score.match_weight > kept[1].match_weight:
                    best[golden_id] = (slot, score)
            ranked = sorted(best.items(), key=lambda item: (-item[1][1].match_weight, item[0]))
            candidates = [
                self._candidate(g, s, score, plan.decision) for g, (s, score) in ranked[:limit]
            ]
            return MatchResult(
                values,
                candidates,
                self.link_threshold,
                self.review_threshold,
                plan.decision,
                prepared.warnings,
            )

    def _candidate(
        self, golden_id: str, slot: int, score: PairScore, decision: Decision
    ) -> Candidate:
        source, record_id = self.table.key(slot)
        return Candidate(
            golden_id,
            source,
            record_id,
            score.match_weight,
            score.match_probability,
            score.comparisons,
            decision.of_candidate(self.table.golden_id(slot)),
        )

    def refresh_names(self, con: duckdb.DuckDBPyConnection, names: set[str]) -> AfterCommit:
        """After a name pair was approved or rejected (in this transaction): the new
        variant list for incoming records, and the stored records whose keys changed."""
        groups = build_variant_groups(active_pairs(con))
        wanted = sorted(names)
        frame = con.execute(
            "SELECT source, record_id, first_name_variants, middle_name_variants FROM records "
            "WHERE first_name IN (SELECT unnest($n)) OR middle_name IN (SELECT unnest($n)) OR "
            "list_has_any(string_split(first_name, ' '), $n) OR "
            "list_has_any(string_split(middle_name, ' '), $n)",
            {"n": wanted},
        ).df()
        changed = frame.astype(object).where(frame.notna(), None).to_dict("records")

        def apply() -> None:
            with self.lock:
                rekey()

        def rekey() -> None:
            self.groups = groups
            for row in changed:
                slot = self.table.slot_of(row["source"], row["record_id"])
                if slot is None:
                    continue
                values = self.table.row(slot)
                for column in ("first_name_variants", "middle_name_variants"):
                    keys = row[column]
                    values[column] = None if keys is None else list(keys)
                self.index.remove(slot)
                self.table.update(slot, values)
                self.index.add(slot, values)

        return apply

    # --- clustering a neighbourhood -------------------------------------------------

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
            previous = {
                k: self.table.golden_id(node if node != -1 else slot)
                for node, k in zip(nodes, keys, strict=True)
                if node != -1 or slot is not None
            }
            previous = {k: v for k, v in previous.items() if v is not None}
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
        written: dict | None = None,
        retired: Mapping[str, str | None] | None = None,
    ) -> dict[str, GoldenRow]:
        """The golden records of the neighbourhood, re-derived from their members by the
        survivorship rules, in process; ``written`` is the record being written (node -1)."""
        members: dict[str, list[dict]] = {}
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

    # --- writing --------------------------------------------------------------------

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
            self.table.golden_id(s)
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
            (self.table.golden_id(s), assignment.get(s), score.match_probability)
            for s, score in scores
        ]
        before = [self.table.golden_id(s) for s, _, _ in review]
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
                golden_id = self.table.golden_id(slot)
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
            gid = assignment.get(s, self.table.golden_id(s))
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
    ) -> dict:
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
            other = assignment.get(slot, self.table.golden_id(slot))
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
        old = {self.table.golden_id(n) for n in nodes}
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
        return {
            ends: (first + kept[1] if isinstance(kept, tuple) else kept)
            for ends, kept in settled.kept.items()
        }

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
        values: dict,
        old_values: Mapping | None,
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

    def _moves(self, xref: Mapping[Key, str | None]) -> list[tuple]:
        """A ``record_linked`` event for each stored record a change moves to another
        golden record (from which id: an unmerge brings that id back)."""
        events = []
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
                found.add(self.table.golden_id(slot))
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
            self.retired_ids[gid] = self.created.pop(gid, None) or self.retired_ids.get(
                gid, changes.at
            )
            self.survivor_of[gid] = survivor
        self.constraints.apply(changes.constraints)
        for row in changes.tasks_added:
            self.tasks.open(int(row[0]), (row[1], row[2]), (row[3], row[4]), float(row[8]))
            self.next_task = max(self.next_task, int(row[0]) + 1)
        for task_id, (_, probability) in changes.tasks_rescored.items():
            if task_id in self.tasks.probability:
                self.tasks.probability[task_id] = float(probability)
        for task_id in changes.tasks_withdrawn:
            self.tasks.close(task_id)

    def delete(self, source: str, record_id: str, actor: str = "api") -> tuple[dict, ChangeSet]:
        """Remove a source record; its golden record is re-derived from the rest (which
        may split apart, as bulk would cluster them without it) or retired if empty."""
        with self.lock:
            return self._delete(source, record_id, actor)

    def _delete(self, source: str, record_id: str, actor: str) -> tuple[dict, ChangeSet]:
        slot = self.table.slot_of(source, record_id)
        if slot is None:
            raise NotFoundError(f"no record {source}/{record_id} in the store")
        key = (source, record_id)
        old_golden = self.table.golden_id(slot)
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

    # --- a steward's operations -----------------------------------------------------

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

    def merge(
        self,
        first: str,
        second: str,
        actor: str,
        reason: str | None = None,
        link: tuple[Key, Key] | None = None,
    ) -> tuple[dict, ChangeSet]:
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
            changes.events.append(
                ("golden_merged", survivor, None, None, {"merged": sorted({a, b} - {survivor})})
            )
            return {"golden_id": survivor, "golden_records": [survivor],
                    "retired": sorted(changes.retired)}, changes  # fmt: skip

    def unmerge(
        self,
        golden_id: str,
        records: Sequence[Key],
        actor: str,
        reason: str | None = None,
        prior: Mapping[Key, str] | None = None,
    ) -> tuple[dict, ChangeSet]:
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
            changes.events.append(("golden_unmerged", gid, None, None, {"records": len(wanted)}))
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
            return {"golden_id": gid, "records": [list(k) for k in wanted], "into": into,
                    "golden_records": sorted(set(assignment.values())),
                    "retired": sorted(changes.retired)}, changes  # fmt: skip

    def constrain(
        self, left: Key, right: Key, kind: str, actor: str, reason: str | None = None
    ) -> tuple[dict, ChangeSet]:
        """A steward's decision on a pair of records, in effect at once: "must" merges
        their golden records, "cannot" separates them (refused when a steward's
        must-links hold them together: unmerge one instead)."""
        with self.lock:
            a = self.table.golden_id(self._slot(left))
            b = self.table.golden_id(self._slot(right))
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
        retired = {old: new for old, new in found.items() if old in self.created}
        before: dict[str, dict[str, int]] = {}
        for node in nodes:
            held = before.setdefault(self.table.golden_id(node), {})
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


#: An upsert's action for each decision (an existing record's "created" is "updated").
_ACTIONS = {"link": "linked", "review": "review", "new": "created"}

#: Per-record state the engine keeps beside the values (see :func:`content_hash`).
_STATE_COLUMNS = {
    "_version": "r.version",
    "_ingested_at": "r.ingested_at",
    "_content": "left(md5(coalesce(r.raw::VARCHAR, '') || chr(0) || "
    "coalesce(r.extra::VARCHAR, '')), 16)",
}


def content_hash(raw: str, extra: str) -> str:
    """What a record was sent as (its raw values and extras): equal hashes, nothing to
    do. Computed the same way in SQL at start-up (``_STATE_COLUMNS``)."""
    return hashlib.md5(f"{raw}\0{extra}".encode()).hexdigest()[:16]


def _name_steps(old: Mapping | None, new: Mapping | None) -> dict[tuple[str, str], int]:
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


def get_record(con: duckdb.DuckDBPyConnection, source: str, record_id: str) -> dict:
    """A source record: standardised values, raw values, extras and its golden id."""
    frame = con.execute(
        f"SELECT r.source, r.record_id, {', '.join('r.' + a for a in ATTRIBUTES)}, "
        "r.updated_at, r.version, r.extra::VARCHAR AS extra, r.raw::VARCHAR AS raw, "
        "r.ingested_at, x.golden_id FROM records r LEFT JOIN xref x USING (source, record_id) "
        "WHERE r.source = ? AND r.record_id = ?",
        [source, record_id],
    ).df()
    if frame.empty:
        raise NotFoundError(f"no record {source}/{record_id} in the store")
    row = frame.astype(object).where(frame.notna(), None).iloc[0].to_dict()
    row["extra"] = json.loads(row["extra"]) if row["extra"] else {}
    row["raw"] = json.loads(row["raw"]) if row["raw"] else {}
    return row


def get_golden(con: duckdb.DuckDBPyConnection, golden_id: str) -> dict:
    """A golden record with its source records and field lineage; a retired id answers
    with its survivor (``requested_id`` keeps what was asked for)."""
    requested, seen = golden_id, set()
    while True:
        row = con.execute(
            "SELECT status, survivor_id FROM golden WHERE golden_id = ?", [golden_id]
        ).fetchall()
        if not row:
            raise NotFoundError(f"no golden record {requested}")
        status, survivor = row[0]
        if status == "active" or survivor is None or golden_id in seen:
            break
        seen.add(golden_id)
        golden_id = survivor
    frame = con.execute(
        f"SELECT golden_id, status, survivor_id, created_at, updated_at, record_count, "
        f"{', '.join(ATTRIBUTES)} FROM golden WHERE golden_id = ?",
        [golden_id],
    ).df()
    golden = frame.astype(object).where(frame.notna(), None).iloc[0].to_dict()
    records = con.execute(
        "SELECT source, record_id FROM xref WHERE golden_id = ? ORDER BY source, record_id",
        [golden_id],
    ).fetchall()
    lineage = con.execute(
        "SELECT attribute, value, source, record_id, rule FROM lineage WHERE golden_id = ? "
        "ORDER BY attribute",
        [golden_id],
    ).fetchall()
    constraints = con.execute(
        "WITH mine AS (SELECT source, record_id FROM xref WHERE golden_id = ?) "
        "SELECT kind, origin, source_l, record_id_l, source_r, record_id_r, set_by, set_at, "
        "reason FROM link_constraints WHERE (source_l, record_id_l) IN (FROM mine) "
        "OR (source_r, record_id_r) IN (FROM mine) ORDER BY set_at, 3, 4, 5, 6",
        [golden_id],
    ).fetchall()
    golden["requested_id"] = requested
    golden["records"] = [{"source": s, "record_id": r} for s, r in records]
    golden["constraints"] = [
        {"kind": kind, "origin": origin, "left": f"{sl}/{rl}", "right": f"{sr}/{rr}",
         "set_by": by, "set_at": at, "reason": reason}
        for kind, origin, sl, rl, sr, rr, by, at, reason in constraints
    ]  # fmt: skip
    golden["lineage"] = [
        {"attribute": a, "value": v, "source": s, "record_id": r, "rule": rule}
        for a, v, s, r, rule in lineage
    ]
    return golden


def _recorded_locales(con: duckdb.DuckDBPyConnection) -> dict[str, SourceLocale]:
    """Source -> the locale its latest bulk run recorded (runs before locales: none)."""
    rows = con.execute(
        "SELECT source, arg_max(report->'locale', run_id) FROM source_reports GROUP BY source"
    ).fetchall()
    found = {}
    for source, text in rows:
        locale = locale_from_report(json.loads(text)) if text else None
        if locale is not None:
            found[source] = locale
    return found

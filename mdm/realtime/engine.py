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

:class:`Engine` is split along its seams into base classes, one module each: its
state, loading and reading (match) here; clustering a neighbourhood
(:mod:`mdm.realtime.neighbourhood`); upsert and delete (:mod:`mdm.realtime.writing`);
a steward's operations (:mod:`mdm.realtime.steward`). What it answers is in
:mod:`mdm.realtime.results`; reading a whole record or golden record from the store,
for any layer, is :mod:`mdm.store.reads`.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any, cast

import duckdb

from mdm.constraints import Constraints
from mdm.errors import ConflictError, StoreError
from mdm.linkage.frequencies import LiveFrequencies
from mdm.linkage.model import TrainedModel
from mdm.linkage.scorer import PairScore, Scorer
from mdm.names.reference import build_variant_groups
from mdm.realtime.decision import Decision, Thresholds
from mdm.realtime.index import CandidateIndex
from mdm.realtime.neighbourhood import Neighbourhood
from mdm.realtime.prepare import prepare_record
from mdm.realtime.records import RecordTable
from mdm.realtime.results import Candidate, MatchResult
from mdm.realtime.steward import StewardOperations
from mdm.realtime.tasks import OpenTasks
from mdm.realtime.usable import Prepared, require_blocking_keys, value_warnings
from mdm.realtime.writing import Writing
from mdm.rules.match import MatchRules
from mdm.rules.sources import SourceOptions, find_source_mapping
from mdm.rules.survivorship import SurvivorshipRules
from mdm.schema import RECORD_COLUMNS
from mdm.standardise.frame import ChosenOrder, StandardiseOptions
from mdm.standardise.locale import SourceLocale, locale_from_report
from mdm.store.changes import Key
from mdm.store.indexes import index_for_service
from mdm.store.names import active_pairs, live_term_frequencies
from mdm.store.overrides import Overrides, load_overrides
from mdm.store.reads import latest_model
from mdm.tombstones import tombstone

AfterCommit = Callable[[], None]


class Engine(Writing, Neighbourhood, StewardOperations):
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
            detected = self.date_orders.get(source)
            if order == "auto" and detected in ("dmy", "mdy"):
                order = cast(ChosenOrder, detected)  # one of the two, as checked
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
                golden_id = self.table.clustered_golden_id(slot)
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
            decision.of_candidate(self.table.clustered_golden_id(slot)),
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


#: Per-record state the engine keeps beside the values (see
#: :func:`mdm.realtime.writing.content_hash`).
_STATE_COLUMNS = {
    "_version": "r.version",
    "_ingested_at": "r.ingested_at",
    "_content": "left(md5(coalesce(r.raw::VARCHAR, '') || chr(0) || "
    "coalesce(r.extra::VARCHAR, '')), 16)",
}


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

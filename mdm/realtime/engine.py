"""The real-time engine: match, upsert and delete one record at a time.

One model, two paths: the engine scores with :class:`mdm.linkage.scorer.Scorer` from
the same trained model, variant list and live name frequencies as the bulk path, and
finds candidates in an in-memory index on the blocking keys (no scans). An upsert
re-clusters only the neighbourhood it touches (the new record, the golden records of
its candidates that could link, and its own previous golden record) with the bulk
path's clustering and guards, so record by record gives what bulk gives.

Every write happens in the caller's transaction; the in-memory state (record table,
index, frequencies) changes only through the callbacks an operation returns, which
the caller runs after it commits.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import numpy as np

from mdm.clusters import cluster
from mdm.errors import InputError, NotFoundError, StoreError
from mdm.golden import assign_golden_ids_small, survive
from mdm.linkage.frequencies import LiveFrequencies, live_term_frequencies
from mdm.linkage.model import TrainedModel
from mdm.linkage.scorer import LevelHit, PairScore, Scorer
from mdm.names.reference import build_variant_groups
from mdm.names.store import FREQUENCY_COLUMNS, active_pairs
from mdm.realtime.index import CandidateIndex
from mdm.realtime.prepare import prepare_record
from mdm.realtime.records import RecordTable
from mdm.rules.match import MatchRules
from mdm.rules.sources import SourceOptions, find_source_mapping
from mdm.rules.survivorship import SurvivorshipRules
from mdm.schema import ATTRIBUTES
from mdm.standardise.frame import StandardiseOptions
from mdm.store import RECORD_COLUMNS
from mdm.store.writer import index_lineage, insert_rows, latest_model, write_golden_records

AfterCommit = Callable[[], None]


class UnstandardisableError(InputError):
    """A value of a record cannot be standardised (the message names the field)."""

    def __init__(self, fields: Sequence[str]) -> None:
        self.fields = list(fields)
        super().__init__(
            f"cannot standardise {', '.join(self.fields)}: give "
            + "; ".join(_HINTS.get(f, f"a valid {f}") for f in self.fields)
            + ", or leave the field out"
        )


_HINTS = {
    "date_of_birth": "date_of_birth as YYYY-MM-DD (or the source's own day/month order)",
    "email": "email as name@domain",
    "phone": "phone as digits, with a country code if it is not local",
    "postcode": "a postcode in the source's country format",
}


@dataclass(frozen=True)
class Candidate:
    """A golden record a record may belong to, with the evidence of its best pair."""

    golden_id: str
    source: str
    record_id: str
    match_weight: float
    match_probability: float
    comparisons: tuple[LevelHit, ...]


@dataclass(frozen=True)
class MatchResult:
    """What matching one record found: best candidate per golden record, best first."""

    record: dict[str, Any]
    candidates: list[Candidate]
    link_threshold: float
    review_threshold: float


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


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _raw_json(record: Mapping[str, Any]) -> str:
    return json.dumps(dict(record), sort_keys=True, default=str)


class Engine:
    """Real-time matching over one store (built at start-up from the store's records)."""

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
        index_lineage(con)
        self.survivorship = survivorship
        self.rules_dir = rules_dir
        row = con.execute(
            "SELECT link_threshold, review_threshold FROM runs "
            "WHERE link_threshold IS NOT NULL ORDER BY run_id DESC LIMIT 1"
        ).fetchall()
        self.link_threshold, self.review_threshold = row[0]
        self.frequencies: dict[str, LiveFrequencies] = live_term_frequencies(
            con, self.model.tf_columns
        )
        self.scorer = Scorer(self.model, self.frequencies)
        self.groups = build_variant_groups(active_pairs(con))
        columns = sorted(set(self.scorer.columns) | self._key_columns() | set(RECORD_COLUMNS))
        self.table = RecordTable.load(con, columns)
        self.index = CandidateIndex.build(self.table, self.rules)
        self.members: dict[str, set[int]] = {}
        for slot, golden_id in self.table.golden_ids():
            self.members.setdefault(golden_id, set()).add(slot)
        self._options: dict[str, StandardiseOptions] = {}
        self._identity = self._identity_levels()
        #: Held while matching and while a committed write changes the in-memory state,
        #: so a match never sees half of a change. Writes are serialised by the caller.
        self.lock = threading.Lock()

    # --- reading -------------------------------------------------------------------

    def _key_columns(self) -> set[str]:
        return {key for rule in self.rules.blocking for key in rule.keys}

    def options_for(self, con: duckdb.DuckDBPyConnection, source: str) -> StandardiseOptions:
        """How to read a source's values: its mapping's options, with the day/month order
        the bulk runs detected for it."""
        if source not in self._options:
            mapping = find_source_mapping(self.rules_dir, source)
            options = mapping.options if mapping is not None else SourceOptions()
            order = options.date_order
            if order == "auto":
                found = con.execute(
                    "SELECT report->>'date_order' FROM source_reports WHERE source = ? "
                    "ORDER BY run_id DESC LIMIT 1",
                    [source],
                ).fetchall()
                if found and found[0][0] in ("dmy", "mdy"):
                    order = found[0][0]
            self._options[source] = StandardiseOptions(
                default_region=options.default_region, date_order=order
            )
        return self._options[source]

    def prepare(self, con: duckdb.DuckDBPyConnection, record: Mapping[str, Any]) -> dict:
        """The record standardised and with its derived keys, as the bulk path makes it;
        a value that cannot be standardised is refused, naming the field."""
        source = str(record.get("source") or "api")
        prepared = prepare_record(
            record,
            self.options_for(con, source),
            self.groups,
            extra_columns=self.rules.extra_columns,
        )
        if prepared.unparseable:
            raise UnstandardisableError(prepared.unparseable)
        values = dict(prepared.values)
        values["source"] = source
        values["record_id"] = str(record.get("record_id") or "")
        return values

    def _scored(
        self, values: Mapping[str, Any], exclude: int | None
    ) -> list[tuple[int, PairScore]]:
        slots = [int(s) for s in self.index.candidates(values) if int(s) != exclude]
        if not slots:
            return []
        scores = self.scorer.score_candidates(values, self.table.rows(slots))
        return list(zip(slots, scores, strict=True))

    def match(
        self, con: duckdb.DuckDBPyConnection, record: Mapping[str, Any], limit: int = 5
    ) -> MatchResult:
        """The golden records this record may belong to, best first (no side effects).
        Safe to call from any thread while another writes (see :attr:`lock`)."""
        with self.lock:
            return self._match(con, record, limit)

    def _match(
        self, con: duckdb.DuckDBPyConnection, record: Mapping[str, Any], limit: int
    ) -> MatchResult:
        values = self.prepare(con, record)
        own = self.table.slot_of(values["source"], values["record_id"])
        best: dict[str, tuple[int, PairScore]] = {}
        for slot, score in self._scored(values, own):
            golden_id = self.table.golden_id(slot)
            kept = best.get(golden_id)
            if kept is None or score.match_weight > kept[1].match_weight:
                best[golden_id] = (slot, score)
        ranked = sorted(best.items(), key=lambda item: (-item[1][1].match_weight, item[0]))
        return MatchResult(
            values,
            [self._candidate(g, s, score) for g, (s, score) in ranked[:limit]],
            self.link_threshold,
            self.review_threshold,
        )

    def _candidate(self, golden_id: str, slot: int, score: PairScore) -> Candidate:
        source, record_id = self.table.key(slot)
        return Candidate(
            golden_id,
            source,
            record_id,
            score.match_weight,
            score.match_probability,
            score.comparisons,
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

    def _cluster(self, nodes: list[int], pairs: list[tuple[int, int, PairScore]]) -> np.ndarray:
        """Cluster labels of ``nodes`` (indexes into it) from their scored pairs."""
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
        return cluster(
            len(nodes),
            np.asarray(left, dtype=np.int64),
            np.asarray(right, dtype=np.int64),
            np.asarray(probability, dtype=float),
            self.link_threshold,
            np.asarray(cannot, dtype=np.int64).reshape(-1, 2),
        )

    def _neighbourhood_pairs(
        self, nodes: list[int], values: dict, new_scores: list[tuple[int, PairScore]]
    ) -> list[tuple[int, int, PairScore]]:
        """Scored pairs among ``nodes`` (slots; -1 is the record being written) that the
        blocking rules compare."""
        position = {slot: i for i, slot in enumerate(nodes)}
        pairs = [(position[-1], position[s], score) for s, score in new_scores if s in position]
        existing = [s for s in nodes if s != -1]
        rows = dict(zip(existing, self.table.rows(existing), strict=True))
        for slot in existing:
            for other in self.index.candidates(rows[slot]):
                other = int(other)
                if other in position and other > slot and other != -1:
                    score = self.scorer.score(rows[slot], rows[other])
                    pairs.append((position[slot], position[other], score))
        return pairs

    # --- writing --------------------------------------------------------------------

    def upsert(
        self,
        con: duckdb.DuckDBPyConnection,
        record: Mapping[str, Any],
        actor: str = "api",
    ) -> tuple[UpsertResult, AfterCommit]:
        """Add or update one source record (inside the caller's transaction)."""
        values = self.prepare(con, record)
        source, record_id = values["source"], values["record_id"]
        extra = record.get("extra") or {}
        raw = _raw_json({k: v for k, v in record.items() if k != "extra"})
        slot = self.table.slot_of(source, record_id)
        now = _now()
        version = 1
        if slot is not None:
            stored = con.execute(
                "SELECT raw::VARCHAR, version, extra::VARCHAR FROM records "
                "WHERE source = ? AND record_id = ?",
                [source, record_id],
            ).fetchall()
            if stored and stored[0][0] == raw and json.loads(stored[0][2] or "{}") == extra:
                golden_id = self.table.golden_id(slot)
                return UpsertResult("unchanged", source, record_id, golden_id, stored[0][1]), (
                    lambda: None
                )
            version = (stored[0][1] if stored else 0) + 1
        new_scores = self._scored(values, slot)
        # The neighbourhood: golden records the record could join, and its own.
        touched = {
            self.table.golden_id(s)
            for s, score in new_scores
            if score.match_probability >= self.link_threshold
        }
        old_golden = self.table.golden_id(slot) if slot is not None else None
        if old_golden is not None:
            touched.add(old_golden)
        nodes = sorted({s for g in touched for s in self.members.get(g, ())} - {slot}) + [-1]
        pairs = self._neighbourhood_pairs(nodes, values, new_scores)
        labels = self._cluster(nodes, pairs)
        keys = [self.table.key(s) if s != -1 else (source, record_id) for s in nodes]
        assignment, retired, known = self._assign(con, nodes, labels, keys, slot)
        golden_id = assignment[-1]
        # Records, xref, golden records, review tasks, pairs, events, frequencies.
        self._write_record(con, values, extra, raw, version, now, replace=slot is not None)
        changed = {
            key: assignment[node]
            for node, key in zip(nodes, keys, strict=True)
            if node == -1 or self.table.golden_id(node) != assignment[node]
        }
        for (src, rid), gid in changed.items():
            if (src, rid) == (source, record_id) and slot is None:
                con.execute("INSERT INTO xref VALUES (?, ?, ?, NULL)", [src, rid, gid]).fetchall()
            else:
                con.execute(
                    "UPDATE xref SET golden_id = ? WHERE source = ? AND record_id = ?",
                    [gid, src, rid],
                ).fetchall()
        _retire(con, retired, now)
        written = {**values, "ingested_at": now, "extra": json.dumps(extra)}
        self._derive_golden(con, nodes, keys, assignment, now, known, written)
        tasks = self._write_review(con, values, new_scores, assignment, now)
        self._write_pairs(con, values, new_scores, replace=slot is not None)
        self._log(con, now, actor, version, golden_id, source, record_id, retired, assignment)
        old_values = self.table.row(slot) if slot is not None else None
        self._count_names(con, old_values, values)
        best: dict[str, Candidate] = {}
        for s, score in new_scores:
            gid = assignment.get(s, self.table.golden_id(s))
            if gid not in best or score.match_weight > best[gid].match_weight:
                best[gid] = self._candidate(gid, s, score)
        evidence = sorted(best.values(), key=lambda c: -c.match_weight)[:5]
        linked = any(
            assignment.get(s) == golden_id and score.match_probability >= self.link_threshold
            for s, score in new_scores
        )
        action = "linked" if linked else ("review" if tasks else "created")
        if slot is not None and action == "created":
            action = "updated"
        result = UpsertResult(
            action, source, record_id, golden_id, version, sorted(retired), tasks, evidence
        )

        def apply() -> None:
            with self.lock:
                self._apply(slot, values, old_values, assignment, nodes)

        return result, apply

    def _assign(
        self,
        con: duckdb.DuckDBPyConnection,
        nodes: list[int],
        labels: np.ndarray,
        keys: list[tuple[str, str]],
        slot: int | None,
    ) -> tuple[dict[int, str], dict[str, str], set[str]]:
        """node -> golden id (existing ids kept, as the bulk path keeps them), the ids
        retired -> their survivor, and which of the assigned ids the store has already."""
        members = [(int(label), k[0], k[1]) for label, k in zip(labels, keys, strict=True)]
        previous = {
            k: self.table.golden_id(node if node != -1 else slot)
            for node, k in zip(nodes, keys, strict=True)
            if node != -1 or slot is not None
        }
        previous = {k: v for k, v in previous.items() if v is not None}
        created = dict(_golden_lookup(con, sorted(set(previous.values())), "created_at::VARCHAR"))
        taken = set(created)
        while True:
            assigned, retired = assign_golden_ids_small(members, previous, created)
            fresh = [gid for gid in assigned.values() if gid not in created]
            clash = _golden_lookup(con, fresh, "1")
            if not clash:
                break
            # A founding record's id is taken elsewhere in the store (a retired person):
            # treat it as taken and draw again.
            taken |= {row[0] for row in clash}
            created = {**created, **{gid: "~" for gid in taken - set(created)}}
        assignment = {node: assigned[int(label)] for node, label in zip(nodes, labels, strict=True)}
        return assignment, retired, set(created) & set(assignment.values())

    def _derive_golden(
        self,
        con: duckdb.DuckDBPyConnection,
        nodes: list[int],
        keys: list[tuple[str, str]],
        assignment: dict[int, str],
        now,
        known: set[str],
        written: dict | None = None,
    ) -> None:
        """Re-derive the golden records of the neighbourhood from their members, by the
        survivorship rules, in process. Values come from the record table; when each
        record was ingested and its extras, from the store (one statement); ``written``
        is the record this transaction writes (node -1)."""
        stored = [key for node, key in zip(nodes, keys, strict=True) if node != -1]
        found: dict[tuple[str, str], tuple] = {}
        if stored:
            lookup = " UNION ALL ".join(
                "SELECT source, record_id, ingested_at, extra::VARCHAR FROM records "
                "WHERE source = ? AND record_id = ?"
                for _ in stored
            )
            rows = con.execute(lookup, [v for key in stored for v in key]).fetchall()
            found = {(row[0], row[1]): row[2:] for row in rows}
        members: dict[str, list[dict]] = {}
        for node, key in zip(nodes, keys, strict=True):
            if node == -1:
                record = dict(written or {})
            else:
                record = self.table.row(node)
                record["ingested_at"], record["extra"] = found.get(key, (None, None))
            members.setdefault(assignment[node], []).append(record)
        derived = {gid: survive(rows, self.survivorship) for gid, rows in members.items()}
        write_golden_records(con, derived, now, known)

    def _write_record(
        self,
        con: duckdb.DuckDBPyConnection,
        values: dict,
        extra: dict,
        raw: str,
        version: int,
        now,
        replace: bool,
    ) -> None:
        columns = [c for c in RECORD_COLUMNS if c in values] + ["source", "record_id"]
        columns = list(dict.fromkeys(columns))
        if replace:  # DuckDB: a delete and an insert cost far less than INSERT OR REPLACE
            con.execute(
                "DELETE FROM records WHERE source = ? AND record_id = ?",
                [values["source"], values["record_id"]],
            ).fetchall()
        con.execute(
            f"INSERT INTO records ({', '.join(columns)}, extra, raw, version, run_id, "
            f"ingested_at) VALUES ({', '.join('?' for _ in columns)}, ?, ?, ?, NULL, ?)",
            [values.get(c) for c in columns] + [json.dumps(extra), raw, version, now],
        ).fetchall()

    def _write_review(
        self,
        con: duckdb.DuckDBPyConnection,
        values: dict,
        scores: list[tuple[int, PairScore]],
        assignment: dict[int, str],
        now,
    ) -> list[int]:
        """Open a review task for each pair in the review band between two golden records
        (one per pair of records; an open task for the pair is re-scored instead)."""
        tasks = []
        golden_id = assignment[-1]
        for slot, score in scores:
            p = score.match_probability
            other = assignment.get(slot, self.table.golden_id(slot))
            if not (self.review_threshold <= p < self.link_threshold) or other == golden_id:
                continue
            src, rid = self.table.key(slot)
            pair = [values["source"], values["record_id"], src, rid]
            found = con.execute(
                "SELECT task_id FROM review_tasks WHERE status = 'open' AND ((source_l = ? AND "
                "record_id_l = ? AND source_r = ? AND record_id_r = ?) OR (source_r = ? AND "
                "record_id_r = ? AND source_l = ? AND record_id_l = ?))",
                pair + pair,
            ).fetchall()
            if found:
                con.execute(
                    "UPDATE review_tasks SET match_weight = ?, match_probability = ? "
                    "WHERE task_id = ?",
                    [score.match_weight, p, found[0][0]],
                ).fetchall()
                tasks.append(int(found[0][0]))
                continue
            task_id = con.execute(
                "SELECT coalesce(max(task_id), 0) + 1 FROM review_tasks"
            ).fetchall()[0][0]
            con.execute(
                "INSERT INTO review_tasks VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'open', ?, NULL)",
                [task_id, *pair, golden_id, other, score.match_weight, p, now],
            ).fetchall()
            tasks.append(int(task_id))
        return tasks

    def _write_pairs(
        self,
        con: duckdb.DuckDBPyConnection,
        values: dict,
        scores: list[tuple[int, PairScore]],
        replace: bool,
    ) -> None:
        """Keep the record's pairs at or above the review threshold (the evidence)."""
        key = [values["source"], values["record_id"]]
        if replace:
            con.execute(
                "DELETE FROM pairs WHERE (source_l = ? AND record_id_l = ?) OR "
                "(source_r = ? AND record_id_r = ?)",
                key + key,
            ).fetchall()
        insert_rows(
            con,
            "pairs",
            [
                (*key, *self.table.key(slot), score.match_weight, score.match_probability, None)
                for slot, score in scores
                if score.match_probability >= self.review_threshold
            ],
        )

    def _log(
        self,
        con: duckdb.DuckDBPyConnection,
        now,
        actor: str,
        version: int,
        golden_id: str,
        source: str,
        record_id: str,
        retired: dict[str, str],
        assignment: dict[int, str],
    ) -> None:
        rows = [
            (
                "record_added" if version == 1 else "record_updated",
                golden_id,
                source,
                record_id,
                {"version": version},
            )
        ]
        rows += [
            ("golden_retired", old, None, None, {"survivor_id": survivor})
            for old, survivor in sorted(retired.items())
        ]
        # One statement: the next event ids are numbered from the table's maximum.
        values = ", ".join("(?, ?, ?, ?, ?, ?)" for _ in rows)
        con.execute(
            "INSERT INTO events SELECT (SELECT coalesce(max(event_id), 0) FROM events) + n, "
            f"?, kind, gid, src, rid, ?, detail FROM (VALUES {values}) "
            "AS v(n, kind, gid, src, rid, detail)",
            [
                now,
                actor,
                *(
                    v
                    for i, (kind, gid, src, rid, detail) in enumerate(rows, start=1)
                    for v in (i, kind, gid, src, rid, json.dumps(detail))
                ),
            ],
        ).fetchall()

    def _count_names(
        self, con: duckdb.DuckDBPyConnection, old: Mapping | None, new: Mapping | None
    ) -> None:
        """Keep ``name_frequencies`` in step: the old record's names out, the new ones in."""
        steps: dict[tuple[str, str], int] = {}
        for kind, column in FREQUENCY_COLUMNS.items():
            before = old.get(column) if old else None
            after = new.get(column) if new else None
            if before == after:
                continue
            for name, step in ((before, -1), (after, 1)):
                if name is not None:
                    steps[(kind, name)] = steps.get((kind, name), 0) + step
        if not steps:
            return
        values = ", ".join("(?, ?, ?)" for _ in steps)
        params = [v for (kind, name), step in steps.items() for v in (kind, name, step)]
        # Two statements for any number of names: count the known ones, add the new ones.
        con.execute(
            f"UPDATE name_frequencies f SET count = f.count + v.step FROM (VALUES {values}) "
            "AS v(kind, name, step) WHERE f.kind = v.kind AND f.name = v.name",
            params,
        ).fetchall()
        con.execute(
            f"INSERT INTO name_frequencies SELECT kind, name, step FROM (VALUES {values}) "
            "AS v(kind, name, step) WHERE step > 0 AND NOT EXISTS (SELECT 1 FROM "
            "name_frequencies f WHERE f.kind = v.kind AND f.name = v.name)",
            params,
        ).fetchall()
        if any(step < 0 for step in steps.values()):
            con.execute("DELETE FROM name_frequencies WHERE count <= 0").fetchall()

    def _apply(
        self,
        slot: int | None,
        values: dict,
        old_values: Mapping | None,
        assignment: dict[int, str],
        nodes: list[int],
    ) -> None:
        """After commit: the in-memory table, index, memberships and frequencies."""
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
            target = slot if node == -1 else node
            old = self.table.golden_id(target)
            new = assignment[node]
            if old is not None:
                self.members.get(old, set()).discard(target)
                if old in self.members and not self.members[old]:
                    del self.members[old]
            self.members.setdefault(new, set()).add(target)
            self.table.set_golden([target], new)

    def delete(
        self, con: duckdb.DuckDBPyConnection, source: str, record_id: str, actor: str = "api"
    ) -> tuple[dict, AfterCommit]:
        """Remove a source record; its golden record is re-derived from the rest (which
        may split apart, as bulk would cluster them without it) or retired if empty."""
        slot = self.table.slot_of(source, record_id)
        if slot is None:
            raise NotFoundError(f"no record {source}/{record_id} in the store")
        old_golden = self.table.golden_id(slot)
        old_values = self.table.row(slot)
        now = _now()
        rest = sorted(self.members.get(old_golden, set()) - {slot})
        assignment: dict[int, str] = {}
        retired: dict[str, str] = {}
        if rest:
            pairs = self._neighbourhood_pairs(rest + [-1], {}, [])
            labels = self._cluster(rest, [p for p in pairs if -1 not in (p[0], p[1])])
            keys = [self.table.key(s) for s in rest]
            assignment, retired, known = self._assign(con, rest, labels, keys, None)
        con.execute(
            "DELETE FROM records WHERE source = ? AND record_id = ?", [source, record_id]
        ).fetchall()
        con.execute(
            "DELETE FROM xref WHERE source = ? AND record_id = ?", [source, record_id]
        ).fetchall()
        key = [source, record_id]
        con.execute(
            "DELETE FROM pairs WHERE (source_l = ? AND record_id_l = ?) OR "
            "(source_r = ? AND record_id_r = ?)",
            key + key,
        ).fetchall()
        con.execute(
            "UPDATE review_tasks SET status = 'withdrawn' WHERE status = 'open' AND "
            "((source_l = ? AND record_id_l = ?) OR (source_r = ? AND record_id_r = ?))",
            key + key,
        ).fetchall()
        for node, gid in assignment.items():
            src, rid = self.table.key(node)
            if self.table.golden_id(node) != gid:
                con.execute(
                    "UPDATE xref SET golden_id = ? WHERE source = ? AND record_id = ?",
                    [gid, src, rid],
                ).fetchall()
        if not rest:
            retired[old_golden] = None  # type: ignore[assignment]
        _retire(con, retired, now)
        if assignment:
            keys = [self.table.key(node) for node in rest]
            self._derive_golden(con, rest, keys, assignment, now, known)
        self._count_names(con, old_values, None)
        event = con.execute("SELECT coalesce(max(event_id), 0) + 1 FROM events").fetchall()[0][0]
        con.execute(
            "INSERT INTO events VALUES (?, ?, 'record_deleted', ?, ?, ?, ?, '{}')",
            [event, now, old_golden, source, record_id, actor],
        ).fetchall()
        result = {
            "source": source,
            "record_id": record_id,
            "golden_id": old_golden,
            "golden_records": sorted(set(assignment.values())),
            "retired": sorted(retired),
        }

        def apply() -> None:
            with self.lock:
                self._forget(slot, old_values, old_golden, assignment)

        return result, apply

    def _forget(self, slot: int, old_values: Mapping, old_golden: str, assignment: dict) -> None:
        """After a delete commits: the in-memory state without the record."""
        for column, lookup in self.frequencies.items():
            lookup.add(old_values.get(column), -1)
        self.index.remove(slot)
        self.table.delete(slot)
        self.members.get(old_golden, set()).discard(slot)
        if old_golden in self.members and not self.members[old_golden]:
            del self.members[old_golden]
        for node, gid in assignment.items():
            previous = self.table.golden_id(node)
            if previous != gid:
                self.members.get(previous, set()).discard(node)
                self.members.setdefault(gid, set()).add(node)
                self.table.set_golden([node], gid)


def _retire(con: duckdb.DuckDBPyConnection, retired: Mapping[str, str | None], now) -> None:
    """Mark golden ids retired, each pointing at its survivor (None: nobody is left)."""
    for old, survivor in retired.items():
        con.execute(
            "UPDATE golden SET status = 'retired', survivor_id = ?, updated_at = ? "
            "WHERE golden_id = ?",
            [survivor, now, old],
        ).fetchall()


def _golden_lookup(con: duckdb.DuckDBPyConnection, ids: Sequence[str], column: str) -> list:
    """(golden_id, ``column``) of the given golden records that exist: one statement of
    primary-key lookups (an IN list would scan the table)."""
    if not ids:
        return []
    sql = " UNION ALL ".join(
        f"SELECT golden_id, {column} FROM golden WHERE golden_id = ?" for _ in ids
    )
    return con.execute(sql, list(ids)).fetchall()


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
    golden["requested_id"] = requested
    golden["records"] = [{"source": s, "record_id": r} for s, r in records]
    golden["lineage"] = [
        {"attribute": a, "value": v, "source": s, "record_id": r, "rule": rule}
        for a, v, s, r, rule in lineage
    ]
    return golden

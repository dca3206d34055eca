"""Golden records: survivorship per attribute, per-field lineage, and stable golden ids.

The functions here are pure: they build SQL text from the survivorship rules (run by
the store adapter over a table of records with their golden ids) or work on frames.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pandas as pd

from mdm.rules.survivorship import AttributeRule, SurvivorshipRules
from mdm.schema import ATTRIBUTES

_EARLIEST = datetime.min


def _priority_sql(sources: list[str]) -> str:
    if not sources:
        return "0"
    cases = " ".join(f"WHEN {_literal(s)} THEN {rank}" for rank, s in enumerate(sources))
    return f"CASE source {cases} ELSE {len(sources)} END"


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _record_key(rule: AttributeRule, rules: SurvivorshipRules) -> str:
    """An integer, largest wins: which record supplies the value (of a value group, or
    of the golden record for :data:`BY_RECORD` strategies). ``_recency`` is unique per
    record (it ends in the (source, record_id) order), so ties never depend on input
    order."""
    if rule.strategy == "most_recent":
        return "_recency::BIGINT"
    sources = rule.sources or rules.source_priority
    rank = f"({len(sources)} - {_priority_sql(sources)})::BIGINT"
    return f"(({rank} << 40) + _recency)"


#: How the value groups of one golden record rank, largest first, for the strategies
#: that group by value (the others take the best record's: :data:`BY_RECORD`).
VALUE_KEYS = {
    "most_frequent": "((_frequency::HUGEINT << 64) + _best)",
    "most_complete": "((_length::HUGEINT << 96) + (_frequency::HUGEINT << 64) + _best)",
}


#: ``_recency`` of a record: unique, larger is more recent (its ``updated_at``, then when
#: it was ingested, by a run or in real time), ties broken in (source, record_id) order.
#: One window in ascending order: a count over all rows beside it would hold every
#: column of the rows until the end.
RECENCY_SQL = (
    "row_number() OVER (ORDER BY coalesce(updated_at, ''), ingested_at NULLS FIRST, "
    "source DESC, record_id DESC)"
)


#: A digest of what survivorship reads of a record in the records table (its attributes,
#: extras and recency): a bulk re-run compares it before and after to find the golden
#: records whose records changed.
INPUTS_DIGEST_SQL = (
    "md5_number(to_json({"
    + ", ".join(f"'{a}': {a}" for a in ATTRIBUTES)
    + ", 'extra': extra::VARCHAR, 'updated_at': updated_at, 'ingested_at': ingested_at}))"
)

#: Raise when the SQL derivation comes to make something else of the same records: a
#: bulk re-run then derives every golden record again, not only those whose records
#: changed.
DERIVATION = 1


def derivation_fingerprint(rules: SurvivorshipRules) -> str:
    """What a golden record derived from the same records depends on besides them: the
    survivorship rules, the attributes and :data:`DERIVATION`. A bulk run whose
    fingerprint is the previous run's derives again only the golden records whose
    records changed; the others are as that run left them."""
    text = json.dumps([rules.model_dump(mode="json"), list(ATTRIBUTES), DERIVATION])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


#: Strategies whose value is the best record's (by recency or source, then recency):
#: the value group holding that record ranks first, so no grouping by value is needed.
BY_RECORD = ("most_recent", "source_priority")


def survivorship_queries(rules: SurvivorshipRules, table: str) -> list[tuple[list[str], str]]:
    """(attributes, SQL) pairs; each SQL returns golden_id, source, record_id, rule, values.

    ``table`` holds records with ``golden_id`` and ``_recency`` (unique; larger is more
    recent, ties in (source, record_id) order). An attribute group survives whole
    from one record. Aggregates only: no sorting of the records.
    """
    queries = []
    for columns, rule in _units(rules):
        present = " OR ".join(f"{c} IS NOT NULL" for c in columns)
        record_key = _record_key(rule, rules)
        picked = ", ".join(f"'{c}': {c}" for c in columns)
        unpack = ", ".join(f"_pick.{c} AS {c}" for c in columns)
        record = f"{{{picked}, 'source': source, 'record_id': record_id}}"
        if rule.strategy in BY_RECORD:
            # The value group holding the best record wins, with that record: the best
            # record overall, found without grouping by value.
            picks = (
                f"SELECT golden_id, arg_max({record}, {record_key}) AS _pick "
                f"FROM {table} WHERE {present} GROUP BY golden_id"
            )
        else:
            value = (
                columns[0]
                if len(columns) == 1
                else "concat_ws('|', " + ", ".join(f"coalesce({c}, '')" for c in columns) + ")"
            )
            picks = (
                f"SELECT golden_id, arg_max(_pick, {VALUE_KEYS[rule.strategy]}) AS _pick FROM ("
                f"SELECT golden_id, count(*) AS _frequency, max(length(_value)) AS _length, "
                f"max({record_key}) AS _best, arg_max({record}, {record_key}) AS _pick "
                f"FROM (SELECT *, {value} AS _value FROM {table} WHERE {present}) "
                f"GROUP BY golden_id, _value) GROUP BY golden_id"
            )
        sql = (
            f"SELECT golden_id, _pick.source AS source, _pick.record_id AS record_id, "
            f"'{rule.strategy}' AS rule, {unpack} FROM ({picks})"
        )
        queries.append((columns, sql))
    return queries


def _units(rules: SurvivorshipRules) -> list[tuple[list[str], AttributeRule]]:
    grouped = {c for g in rules.groups.values() for c in g.columns}
    units: list[tuple[list[str], AttributeRule]] = [
        (list(g.columns), g) for g in rules.groups.values()
    ]
    return units + [([a], rules.rule_for(a)) for a in ATTRIBUTES if a not in grouped]


@dataclass(frozen=True)
class Survived:
    """A golden record derived from its members: values, lineage, extra, record count,
    and the most recent record (whose extras the golden record carries)."""

    values: dict[str, str | None]
    lineage: list[tuple[str, str, str, str, str]]  # attribute, value, source, record_id, rule
    extra: str | None
    record_count: int
    latest: tuple[str, str] | None = None


def survive(records: Sequence[Mapping[str, Any]], rules: SurvivorshipRules) -> Survived:
    """One golden record from its member records, in process: what
    :func:`survivorship_queries` computes in SQL, for the real-time path.

    Each record needs ``source``, ``record_id``, ``updated_at``, ``ingested_at``,
    ``extra`` and the schema attributes.
    """
    order = sorted(records, key=lambda r: (r["source"], r["record_id"]))
    order.sort(
        key=lambda r: (r.get("updated_at") or "", r.get("ingested_at") or _EARLIEST), reverse=True
    )
    recency = {id(r): len(order) - i for i, r in enumerate(order)}
    values: dict[str, str | None] = {}
    lineage: list[tuple[str, str, str, str, str]] = []
    for columns, rule in _units(rules):
        sources = rule.sources or rules.source_priority
        ranks = {s: len(sources) - i for i, s in enumerate(sources)}

        def record_key(
            r: Mapping[str, Any], rule: AttributeRule = rule, ranks: dict[str, int] = ranks
        ) -> int:
            if rule.strategy == "most_recent":
                return recency[id(r)]
            return (ranks.get(r["source"], 0) << 40) + recency[id(r)]

        groups: dict[str, list[Mapping[str, Any]]] = {}
        for r in records:
            if all(r.get(c) is None for c in columns):
                continue
            value = (
                r[columns[0]] if len(columns) == 1 else "|".join(r.get(c) or "" for c in columns)
            )
            groups.setdefault(value, []).append(r)
        if not groups:
            continue

        def value_key(
            item: tuple[str, list[Mapping[str, Any]]],
            rule: AttributeRule = rule,
            record_key: Callable[[Mapping[str, Any]], int] = record_key,
        ) -> tuple[int, ...]:
            value, members = item
            best = max(record_key(m) for m in members)
            if rule.strategy == "most_frequent":
                return (len(members), best)
            if rule.strategy == "most_complete":
                return (len(value), len(members), best)
            return (best,)

        _, members = max(groups.items(), key=value_key)
        pick = max(members, key=record_key)
        for column in columns:
            values[column] = pick.get(column)
            if pick.get(column) is not None:
                lineage.append(
                    (column, pick[column], pick["source"], pick["record_id"], rule.strategy)
                )
    extra = order[0].get("extra") if order else None
    latest = (order[0]["source"], order[0]["record_id"]) if order else None
    return Survived(values, lineage, extra, len(records), latest)


def new_golden_id(source: str, record_id: str, taken: set[str]) -> str:
    """A golden id derived from the record that founded the cluster, unique in ``taken``.

    The first candidates are windows of the founding record's digest; a record that
    founds cluster after cluster (split, merged, deleted and sent again) may use them
    all up, so further candidates come from digests of the digest, without end."""
    seed = f"{source}\x1f{record_id}".encode()
    round_ = 0
    while True:
        digest = hashlib.sha256(seed).hexdigest().upper()
        for start in range(0, len(digest) - 12):
            candidate = "G" + digest[start : start + 12]
            if candidate not in taken:
                return candidate
        round_ += 1
        seed = f"{digest}\x1f{round_}".encode()


def assign_golden_ids(
    members: pd.DataFrame, previous: pd.DataFrame, created: dict[str, str]
) -> pd.Series:
    """A golden id for each cluster, keeping ids people already have.

    Args:
        members: one row per record: ``cluster`` (int), ``source``, ``record_id``, and
            optionally ``uid``, numbering the records in (source, record_id) order.
        previous: the prior cross-reference: ``source``, ``record_id``, ``golden_id``.
        created: when each existing golden id was first issued (older ids win).

    Returns:
        A Series indexed by cluster label. Each prior id goes to the cluster holding most
        of its records (ties: the cluster with the smallest first record); a cluster
        inheriting several ids keeps the oldest; clusters with none get a new id.
    """
    joined = members.merge(previous, on=["source", "record_id"], how="left")
    claims = (
        joined.dropna(subset=["golden_id"])
        .groupby(["cluster", "golden_id"], as_index=False)
        .size()
        .rename(columns={"size": "held"})
    )
    claims["created"] = [created.get(g, "") for g in claims["golden_id"]]
    claims = claims.sort_values(
        ["held", "created", "golden_id", "cluster"], ascending=[False, True, True, True]
    )
    result: dict[int, str] = {}
    used: set[str] = set()
    # Each id goes to the cluster holding most of its records; then each cluster keeps
    # the oldest id it won.
    best_cluster = claims.drop_duplicates("golden_id", keep="first")
    best_cluster = best_cluster.sort_values(["cluster", "created", "golden_id"])
    for cluster_label, golden_id in zip(
        best_cluster["cluster"].tolist(), best_cluster["golden_id"].tolist(), strict=True
    ):
        if int(cluster_label) not in result:
            result[int(cluster_label)] = golden_id
            used.add(golden_id)
    # A run's records come numbered in (source, record_id) order (``uid``): sorting by
    # the number spares sorting a million texts (1.1 s).
    order = ["cluster", "uid"] if "uid" in members else ["cluster", "source", "record_id"]
    firsts = members.sort_values(order).drop_duplicates("cluster")
    taken = used | set(created)
    # As Python lists first: iterating Arrow-backed columns value by value costs more
    # than making the ids (0.5 s for a million records).
    for cluster_label, source, record_id in zip(
        firsts["cluster"].tolist(), firsts["source"].tolist(), firsts["record_id"].tolist(),
        strict=True,
    ):  # fmt: skip
        if int(cluster_label) in result:
            continue
        golden_id = new_golden_id(source, record_id, taken)
        taken.add(golden_id)
        result[int(cluster_label)] = golden_id
    return pd.Series(result, name="golden_id").sort_index()


def assign_golden_ids_small(
    members: Sequence[tuple[int, str, str]],
    previous: Mapping[tuple[str, str], str],
    created: Mapping[str, str],
) -> tuple[dict[int, str], dict[str, str]]:
    """:func:`assign_golden_ids` and :func:`survivors_of_retired` for a few records, in
    plain Python (the real-time path re-clusters neighbourhoods of a handful).

    ``members`` are (cluster, source, record_id); ``previous`` maps a record to its prior
    golden id. Returns cluster -> golden id, and retired id -> survivor.
    """
    held: dict[tuple[int, str], int] = {}
    for label, source, record_id in members:
        prior = previous.get((source, record_id))
        if prior is not None:
            held[(label, prior)] = held.get((label, prior), 0) + 1
    claims = sorted(held.items(), key=lambda c: (-c[1], created.get(c[0][1], ""), c[0][1], c[0][0]))
    best: dict[str, int] = {}
    for (label, golden_id), _ in claims:
        best.setdefault(golden_id, label)
    result: dict[int, str] = {}
    for golden_id, label in sorted(best.items(), key=lambda b: (b[1], created.get(b[0], ""), b[0])):
        result.setdefault(label, golden_id)
    taken = set(result.values()) | set(created)
    for label, source, record_id in sorted(members):
        if label not in result:
            golden_id = new_golden_id(source, record_id, taken)
            taken.add(golden_id)
            result[label] = golden_id
    kept = set(result.values())
    moved: dict[tuple[str, str], int] = {}
    for label, source, record_id in members:
        prior = previous.get((source, record_id))
        if prior is not None and prior not in kept:
            key = (prior, result[label])
            moved[key] = moved.get(key, 0) + 1
    retired: dict[str, str] = {}
    for (prior, survivor), _ in sorted(moved.items(), key=lambda m: (m[0][0], -m[1], m[0][1])):
        retired.setdefault(prior, survivor)
    return result, retired


def survivors_of_retired(
    members: pd.DataFrame, previous: pd.DataFrame, assigned: pd.Series
) -> pd.DataFrame:
    """For each prior id no cluster kept: the id that now holds most of its records."""
    kept = set(assigned.to_numpy())
    joined = members.merge(previous, on=["source", "record_id"], how="inner")
    joined = joined[~joined["golden_id"].isin(kept)]
    if joined.empty:
        return pd.DataFrame({"golden_id": [], "survivor_id": []})
    joined["survivor_id"] = assigned.reindex(joined["cluster"].to_numpy()).to_numpy()
    counts = joined.groupby(["golden_id", "survivor_id"], as_index=False).size()
    counts = counts.sort_values(["golden_id", "size", "survivor_id"], ascending=[True, False, True])
    return counts.drop_duplicates("golden_id")[["golden_id", "survivor_id"]].reset_index(drop=True)


__all__ = [
    "assign_golden_ids",
    "new_golden_id",
    "survivorship_queries",
    "survivors_of_retired",
]

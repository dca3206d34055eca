"""Re-estimating the model with the stewards' labels.

A steward's decisions are labels on pairs of source records: "same person" decisions
and merges say two records match, "not the same person" decisions and unmerges say they
do not (``link_constraints``, with earlier decisions from ``decisions``).

Labels come from the review band, so they are not a fair sample of all matches: using
them alone would teach the model that matches usually disagree on first names. Instead
m is estimated as EM does it, over the scored pairs the store keeps (every pair at or
above the review threshold): each level's m is the share of the pairs' match
probability that falls on it. That is done twice: with the model's own probabilities,
and with each labelled pair's probability set to its label (1 or 0; labelled matches
the model never scored count with 1). The difference between the two estimates is what
the labels teach; :func:`retrain_with_decisions` adds it to the model's m (each
comparison's levels then scaled to sum to one). u and the prior are unchanged: they come
from random pairs, which labels do not describe.

It reports how the parameters moved and how the open review queue would move under the
new model (tasks that would now link, leave the review band, or stay), and stores the
model for the next run and the next start of the service.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field
from typing import Any

import duckdb
import numpy as np
import pandas as pd

from mdm.clock import utcnow
from mdm.errors import InputError
from mdm.linkage.model import TrainedModel, default_m, pair_levels, stored_probability
from mdm.linkage.scorer import Scorer
from mdm.schema import RECORD_COLUMNS
from mdm.store.names import live_term_frequencies
from mdm.store.reads import latest_model

#: Fewer labelled matches than this say too little to move the model.
MIN_LABELS = 10
#: The smallest m a level keeps (a level no pair hits still happens, rarely).
M_FLOOR = 1e-4

#: Every scored pair and every labelled pair, with the model's probability and the label
#: (1 match, 0 not; NULL unlabelled). The latest steward word on a pair wins.
_PAIRS_SQL = """
WITH said AS (
    SELECT source_l, record_id_l, source_r, record_id_r,
           CASE kind WHEN 'must' THEN 1.0 ELSE 0.0 END AS label, 1 AS rank
    FROM link_constraints
    UNION ALL
    SELECT least_l.s, least_l.r, least_r.s, least_r.r,
           CASE decision WHEN 'same' THEN 1.0 ELSE 0.0 END, 2
    FROM (SELECT *, CASE WHEN (source_l, record_id_l) <= (source_r, record_id_r)
                 THEN {'s': source_l, 'r': record_id_l} ELSE {'s': source_r, 'r': record_id_r}
                 END AS least_l,
                 CASE WHEN (source_l, record_id_l) <= (source_r, record_id_r)
                 THEN {'s': source_r, 'r': record_id_r} ELSE {'s': source_l, 'r': record_id_l}
                 END AS least_r
          FROM decisions WHERE decision IN ('same', 'different'))
),
labels AS (
    SELECT source_l, record_id_l, source_r, record_id_r, arg_min(label, rank) AS label
    FROM said GROUP BY ALL
),
scored AS (
    SELECT CASE WHEN (source_l, record_id_l) <= (source_r, record_id_r) THEN source_l
                ELSE source_r END AS source_l,
           CASE WHEN (source_l, record_id_l) <= (source_r, record_id_r) THEN record_id_l
                ELSE record_id_r END AS record_id_l,
           CASE WHEN (source_l, record_id_l) <= (source_r, record_id_r) THEN source_r
                ELSE source_l END AS source_r,
           CASE WHEN (source_l, record_id_l) <= (source_r, record_id_r) THEN record_id_r
                ELSE record_id_l END AS record_id_r,
           max(match_probability) AS probability
    FROM pairs GROUP BY ALL
)
SELECT source_l, record_id_l, source_r, record_id_r, coalesce(s.probability, 0.0) AS probability,
       l.label
FROM scored s FULL OUTER JOIN labels l USING (source_l, record_id_l, source_r, record_id_r)
WHERE EXISTS (SELECT 1 FROM records r WHERE r.source = source_l AND r.record_id = record_id_l)
  AND EXISTS (SELECT 1 FROM records r WHERE r.source = source_r AND r.record_id = record_id_r)
"""


@dataclass
class LevelChange:
    comparison: str
    level: str
    labelled: int  # labelled pairs at this level
    m_before: float
    m_after: float

    @property
    def weight_change(self) -> float:
        """How far the level's match weight moved (bits): log2(m_after / m_before)."""
        return math.log2(max(self.m_after, 1e-12) / max(self.m_before, 1e-12))


@dataclass
class Retrained:
    """What re-estimating with the stewards' labels did."""

    model: TrainedModel
    based_on: str
    labels: int  # labelled matches
    non_matches: int = 0
    changes: list[LevelChange] = field(default_factory=list)
    queue: dict[str, int] = field(default_factory=dict)
    stored: bool = False


def retrain_with_decisions(
    con: duckdb.DuckDBPyConnection, *, min_labels: int = MIN_LABELS, store: bool = True
) -> Retrained:
    """Re-estimate m with the stewards' labels (in the caller's transaction when
    ``store``: a new model, and a run of kind ``train`` that uses it)."""
    model = latest_model(con)
    pairs = con.execute(_PAIRS_SQL).df()
    matches = int((pairs["label"] == 1.0).sum())
    if matches < min_labels:
        raise InputError(
            f"{matches} labelled match(es) (steward 'same person' decisions and merges); "
            f"at least {min_labels} are needed to re-estimate the model. Decide more review "
            "tasks first"
        )
    levels = _levels_of(con, model, pairs)
    labelled = pairs["label"].notna().to_numpy()
    model_weight = pairs["probability"].to_numpy(dtype=float)
    label_weight = np.where(labelled, pairs["label"].fillna(0.0).to_numpy(dtype=float),
                            model_weight)  # fmt: skip
    settings = copy.deepcopy(model.settings)
    changes = []
    for comparison in settings["comparisons"]:
        name = comparison["output_column_name"]
        gamma = levels[f"gamma_{name}"].to_numpy()
        ordinary = [lv for lv in comparison["comparison_levels"] if not lv.get("is_null_level")]
        defaults = default_m(len(ordinary))
        known = gamma >= 0
        found = []
        for number, level in zip(range(len(ordinary) - 1, -1, -1), ordinary, strict=True):
            before = stored_probability(level.get("m_probability"), defaults[number])
            hit = gamma == number
            shift = _share(label_weight, hit, known) - _share(model_weight, hit, known)
            found.append((level, number, before, max(before + shift, M_FLOOR),
                          int((hit & labelled).sum())))  # fmt: skip
        total = sum(after for _, _, _, after, _ in found)
        for level, number, before, after, count in found:
            level["m_probability"] = after / total
            changes.append(
                LevelChange(name, level.get("label_for_charts", str(number)), count, before,
                            after / total)
            )  # fmt: skip
    created = utcnow()
    stamp = created.strftime("%Y%m%dT%H%M%S")
    labels: dict[str, Any] = {"matches": matches, "non_matches": int((pairs["label"] == 0.0).sum()),
              "scored_pairs": int(len(pairs)), "based_on": model.model_id}  # fmt: skip
    retrained = TrainedModel(
        f"{model.rules_fingerprint}-{stamp}-labels",
        model.rules_fingerprint,
        created.isoformat(timespec="seconds"),
        settings,
        model.rules,
        {**model.training, "labels": labels},
    )
    result = Retrained(retrained, model.model_id, matches, labels["non_matches"], changes=changes)
    result.queue = _queue_movement(con, model, retrained)
    if store:
        _store(con, retrained)
        result.stored = True
    return result


def _share(weight: np.ndarray, hit: np.ndarray, known: np.ndarray) -> float:
    """The share of the match-probability mass (of pairs the comparison sees) on a level."""
    total = float(weight[known].sum())
    return float(weight[hit].sum()) / total if total > 0 else 0.0


def _levels_of(
    con: duckdb.DuckDBPyConnection, model: TrainedModel, pairs: pd.DataFrame
) -> pd.DataFrame:
    """The level each pair hits in every comparison, in ``pairs``' order."""
    from mdm.bulk.load import add_extra_columns

    keys = pd.concat(
        [
            pairs[["source_l", "record_id_l"]].set_axis(["source", "record_id"], axis=1),
            pairs[["source_r", "record_id_r"]].set_axis(["source", "record_id"], axis=1),
        ]
    ).drop_duplicates(ignore_index=True)
    keys["uid"] = np.arange(len(keys), dtype=np.int64)
    con.register("labelled_keys", keys)
    try:
        records = con.execute(
            f"SELECT k.uid, {', '.join('r.' + c for c in RECORD_COLUMNS)}, r.extra "
            "FROM records r JOIN labelled_keys k USING (source, record_id)"
        ).df()
    finally:
        con.unregister("labelled_keys")
    records = add_extra_columns(records, model.match_rules.extra_columns)
    index = pd.MultiIndex.from_frame(keys[["source", "record_id"]])
    ends = pd.DataFrame(
        {
            f"uid_{side}": keys["uid"].to_numpy()[
                index.get_indexer(
                    pd.MultiIndex.from_arrays([pairs[f"source_{side}"], pairs[f"record_id_{side}"]])
                )
            ]
            for side in ("l", "r")
        }  # fmt: skip
    )
    ends["position"] = np.arange(len(ends))
    names = tuple(c["output_column_name"] for c in model.settings["comparisons"])
    con.register("labelled_records", records)
    con.register("labelled_pairs", ends)
    try:
        found = pair_levels(con, "labelled_records", model, "labelled_pairs", names)
    finally:
        con.unregister("labelled_records")
        con.unregister("labelled_pairs")
    # pair_levels joins, so its rows come back in any order: put them in ``pairs``' order.
    order = ends.merge(found, on=["uid_l", "uid_r"], how="left").sort_values("position")
    return order.reset_index(drop=True)


def _queue_movement(
    con: duckdb.DuckDBPyConnection, before: TrainedModel, after: TrainedModel
) -> dict[str, int]:
    """How the open review tasks would move: scored again with the new model against the
    last run's thresholds."""
    from mdm.review import records_of

    tasks = con.execute(
        "SELECT task_id, source_l, record_id_l, source_r, record_id_r FROM review_tasks "
        "WHERE status = 'open'"
    ).df()
    moved = {"open_tasks": len(tasks), "would_link": 0, "would_leave_review": 0, "stay": 0}
    if tasks.empty:
        return moved
    link, review = con.execute(
        "SELECT link_threshold, review_threshold FROM runs WHERE link_threshold IS NOT NULL "
        "ORDER BY run_id DESC LIMIT 1"
    ).fetchall()[0]
    records = records_of(con, tasks)
    scorer = Scorer(after, live_term_frequencies(con, after.tf_columns))
    for row in tasks.itertuples(index=False):
        left = records[(row.source_l, row.record_id_l)]
        right = records[(row.source_r, row.record_id_r)]
        probability = scorer.score(left, right).match_probability
        key = "would_link" if probability >= link else (
            "would_leave_review" if probability < review else "stay")  # fmt: skip
        moved[key] += 1
    return moved


def _store(con: duckdb.DuckDBPyConnection, model: TrainedModel) -> None:
    """Keep the model, and a run of kind ``train`` that uses it (with the last run's
    thresholds), so the next reconcile and the next service start use it."""
    now = utcnow()
    con.execute(
        "INSERT INTO models VALUES (?, ?, ?, ?)",
        [model.model_id, model.rules_fingerprint, now, model.to_json()],
    ).fetchall()
    con.execute(
        "INSERT INTO runs SELECT coalesce(max(run_id), 0) + 1, 'train', ?, ?, "
        "(SELECT rules_fingerprint FROM runs ORDER BY run_id DESC LIMIT 1), ?, "
        "(SELECT link_threshold FROM runs WHERE link_threshold IS NOT NULL "
        "ORDER BY run_id DESC LIMIT 1), (SELECT review_threshold FROM runs WHERE "
        "review_threshold IS NOT NULL ORDER BY run_id DESC LIMIT 1), NULL FROM runs",
        [now, now, model.model_id],
    ).fetchall()


def describe(result: Retrained, limit: int = 12) -> list[str]:
    """Lines for a person: the labels, the biggest parameter moves, the queue's movement."""
    lines = [
        f"{result.labels} labelled match(es) and {result.non_matches} labelled non-match(es) "
        f"from stewards; model {result.model.model_id} "
        f"(from {result.based_on})" + ("" if result.stored else " — not stored (dry run)")
    ]
    moves = sorted(result.changes, key=lambda c: -abs(c.weight_change))[:limit]
    for change in moves:
        lines.append(
            f"  {change.comparison} / {change.level}: m {change.m_before:.4f} -> "
            f"{change.m_after:.4f} ({change.weight_change:+.2f} bits; {change.labelled} labelled)"
        )
    q = result.queue
    lines.append(
        f"open review tasks: {q.get('open_tasks', 0)}; under the new model "
        f"{q.get('would_link', 0)} would link, {q.get('would_leave_review', 0)} would leave "
        f"the review band, {q.get('stay', 0)} stay"
    )
    return lines


def as_dict(result: Retrained) -> dict[str, Any]:
    return {
        "model_id": result.model.model_id,
        "based_on": result.based_on,
        "labels": result.labels,
        "non_matches": result.non_matches,
        "stored": result.stored,
        "queue": result.queue,
        "changes": [
            {
                "comparison": c.comparison,
                "level": c.level,
                "labelled": c.labelled,
                "m_before": c.m_before,
                "m_after": c.m_after,
                "weight_change": c.weight_change,
            }
            for c in result.changes
        ],  # fmt: skip
    }

"""A bulk run's linking: the work tables, the identity guard and cohesion inputs, and
the predict-threshold-cluster step over the scored pairs, whose result
(:class:`RunOutput`) :func:`mdm.bulk.write.write_run` writes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import duckdb
import numpy as np
import pandas as pd

from mdm.bulk.spark import Backend
from mdm.clusters import (
    best_expected_f1_threshold,
    clamp_threshold,
    cluster_constrained,
    guard_pairs,
    probability_to_weight,
    same_label,
    weight_to_probability,
)
from mdm.constraints import constraint_edges
from mdm.linkage.cohesion import unscored_pairs_within
from mdm.linkage.model import (
    TrainedModel,
    add_block_keys,
    block_key_sql,
    estimate_prior,
    pair_levels,
    predict_pairs,
    train_model,
)
from mdm.progress import Detail, Progress
from mdm.rules.bundle import RulesBundle
from mdm.rules.match import MatchRules
from mdm.schema import RECORD_COLUMNS
from mdm.sql import one
from mdm.store.names import count_names_sql, term_frequency_sql
from mdm.threshold import ThresholdChoice, check_link_threshold


@dataclass
class RunOutput:
    """What linkage produced for a run, before it is written."""

    labels: np.ndarray  # cluster label per work row (uid)
    #: Open review tasks: before writing, pairs of records in the review band whose
    #: records are in different clusters; once written, the tasks opened (one per pair
    #: of golden records a steward has not decided).
    review_tasks: int
    link_threshold: float
    review_threshold: float
    model: TrainedModel
    model_trained: bool
    candidate_pairs: int
    golden_count: int
    multi_record_golden: int
    #: How the link threshold was chosen (a :class:`mdm.threshold.ThresholdChoice`).
    threshold: Any = None

    @classmethod
    def build(
        cls,
        left: np.ndarray,
        right: np.ndarray,
        probability: np.ndarray,
        labels: np.ndarray,
        link: float,
        review: float,
        model: TrainedModel,
        trained: bool,
    ) -> RunOutput:
        """From the scored pairs (uid_l, uid_r and match probability, as arrays) and the
        cluster labels; the pairs themselves stay in the run's ``scored`` table."""
        in_band = (probability >= review) & (probability < link)
        apart = ~same_label(labels, left, right)
        sizes = np.bincount(labels)
        return cls(
            labels=labels,
            review_tasks=int((in_band & apart).sum()),
            link_threshold=link,
            review_threshold=review,
            model=model,
            model_trained=trained,
            candidate_pairs=len(left),
            golden_count=int(len(sizes)),
            multi_record_golden=int((sizes > 1).sum()),
        )


def identity_conflicts(
    pairs: pd.DataFrame, model: TrainedModel, rules: MatchRules
) -> tuple[np.ndarray, np.ndarray]:
    """(cannot-link, not-a-link): pairs whose identity comparisons disagree.

    A pair disagrees when every identity comparison present for it (not missing on
    either side) is at a level with negative match weight. The model's m
    probabilities say how often true matches disagree like that (the product over
    the present comparisons): at most ``identity_conflict_max_share`` makes the pair
    a cannot-link; at most ``identity_veto_max_share`` only keeps this pair from
    linking the two records directly. See :class:`mdm.rules.match.Clustering`.
    """
    clustering = rules.clustering
    none = np.zeros(len(pairs), dtype=bool)
    if not clustering.identity:
        return none, none
    present = np.zeros(len(pairs), dtype=int)
    agree = np.zeros(len(pairs), dtype=bool)
    share = np.ones(len(pairs))
    for name in clustering.identity:
        levels = model.levels(name)
        negative = [gamma for gamma, (weight, _) in levels.items() if gamma >= 0 and weight < 0]
        m_negative = sum(levels[gamma][1] for gamma in negative)
        gamma = pairs[f"gamma_{name}"].to_numpy()
        known = gamma >= 0
        present += known
        agree |= known & ~np.isin(gamma, negative)
        share = np.where(known, share * m_negative, share)
    disagree = (present > 0) & ~agree
    cannot = disagree & (share <= clustering.identity_conflict_max_share)
    veto = disagree & ~cannot & (share <= clustering.identity_veto_max_share)
    return cannot, veto


def _incoherent_pairs(
    con: duckdb.DuckDBPyConnection,
    model: TrainedModel,
    labels: np.ndarray,
    tf_tables: dict[str, str],
    rules: MatchRules,
) -> np.ndarray:
    """The pairs inside clusters that no blocking rule compared and that must not be in
    one cluster (n x 2 uids): a clear non-match (below ``split_below``) that the model
    says one person's records seldom look like, on an identity comparison (see
    :func:`identity_contradictions`, :func:`identity_conflicts`). A pair that is
    unlikely only because its records say little (missing values) stays: no blocking
    rule compared it because it agrees on little, not because it disagrees. See
    :mod:`mdm.linkage.cohesion`."""
    clustering = rules.clustering
    unscored = unscored_pairs_within(
        con, "memory.work", model, labels, "memory.scored", tf_tables, clustering.cohere_max_size
    )
    if unscored.empty:
        return np.empty((0, 2), dtype=np.int64)
    if not clustering.identity:
        return np.empty((0, 2), dtype=np.int64)
    con.register("cohesion_pairs", unscored[["uid_l", "uid_r"]])
    levels = pair_levels(con, "work", model, "cohesion_pairs", tuple(clustering.identity))
    con.unregister("cohesion_pairs")
    levels = unscored[["uid_l", "uid_r"]].merge(levels, on=["uid_l", "uid_r"], how="left")
    conflict, _ = identity_conflicts(levels, model, rules)
    unlikely = unscored["match_probability"].to_numpy() < clustering.split_below
    clear = unlikely & (conflict | identity_contradictions(levels, model, rules))
    found: np.ndarray = unscored.loc[clear, ["uid_l", "uid_r"]].to_numpy(dtype=np.int64)
    return found


def identity_contradictions(
    pairs: pd.DataFrame, model: TrainedModel, rules: MatchRules
) -> np.ndarray:
    """Pairs with an identity comparison at a level true matches seldom reach: a
    negative-weight level of a comparison whose negative levels together hold at most
    ``identity_veto_max_share`` of true matches (by the model's m). Birth dates years
    apart, where the model says one person's records rarely differ so. A comparison
    the data often garbles (the model's m says so) contradicts nothing."""
    clustering = rules.clustering
    found = np.zeros(len(pairs), dtype=bool)
    for name in clustering.identity:
        levels = model.levels(name)
        negative = [gamma for gamma, (weight, _) in levels.items() if gamma >= 0 and weight < 0]
        if sum(levels[gamma][1] for gamma in negative) <= clustering.identity_veto_max_share:
            found |= np.isin(pairs[f"gamma_{name}"].to_numpy(), negative)
    return found


def load_work_table(con: duckdb.DuckDBPyConnection, work: pd.DataFrame, rules: MatchRules) -> int:
    """Copy the run's records into in-memory tables: ``work`` (what linkage reads, with
    blocking keys) and ``payload`` (extra attributes and raw values, for the writer)."""
    extras = [c for c in rules.extra_columns if c in work.columns]
    columns = [c for c in RECORD_COLUMNS if c in work.columns] + extras
    con.register("work_frame", work[["uid", *columns]])
    con.execute("CREATE OR REPLACE TABLE memory.work AS SELECT * FROM work_frame").fetchall()
    con.unregister("work_frame")
    con.register("payload_frame", work[["uid", "extra", "raw"]])
    con.execute("CREATE OR REPLACE TABLE memory.payload AS SELECT * FROM payload_frame").fetchall()
    con.unregister("payload_frame")
    add_block_keys(con, "work", rules)
    return len(work)


def number_work_tables(con: duckdb.DuckDBPyConnection, table: str, rules: MatchRules) -> int:
    """:func:`load_work_table` from a DuckDB table: records numbered (``uid``) in
    (source, record_id) order into ``work`` and ``payload``; ``table`` is dropped."""
    names = {row[0] for row in con.execute(f"DESCRIBE {table}").fetchall()}
    extras = [c for c in rules.extra_columns if c in names]
    # Number the keys alone, then copy each table once in that order: sorting every
    # column (extras and raw values included) into one numbered copy cost twice as much.
    con.execute(
        "CREATE OR REPLACE TEMP TABLE numbered AS SELECT source, record_id, "
        f"row_number() OVER (ORDER BY source, record_id) - 1 AS uid FROM {table}"
    ).fetchall()
    selected = ", ".join(f't."{c}"' for c in [*RECORD_COLUMNS, *extras])
    # The blocking keys in the same pass (counted over the same records): no rewrite.
    joins, keys = block_key_sql(con, table, rules)
    keyed = "".join(f", {column}" for column in keys)
    source = f"FROM {table} t JOIN temp.numbered n USING (source, record_id)"
    con.execute(
        f"CREATE OR REPLACE TABLE memory.work AS SELECT n.uid, {selected}{keyed} {source} "
        f"{' '.join(joins)} ORDER BY n.uid"
    ).fetchall()
    con.execute(
        f"CREATE OR REPLACE TABLE memory.payload AS SELECT n.uid, t.extra, t.raw {source} "
        "ORDER BY n.uid"
    ).fetchall()
    con.execute(f"DROP TABLE {table}").fetchall()
    con.execute("DROP TABLE temp.numbered").fetchall()
    return int(con.execute("SELECT count(*) FROM memory.work").fetchall()[0][0])


def name_term_frequencies(con: duckdb.DuckDBPyConnection, model: TrainedModel) -> dict[str, str]:
    """Count first and last names over the run's records (what the store holds once the
    run is written: ``memory.name_counts``, which the writer stores as the live frequency
    table) and make from it the term-frequency lookups the model's name levels read."""
    columns = {row[0] for row in con.execute("DESCRIBE memory.work").fetchall()}
    counts = count_names_sql("memory.work", columns)
    one(con.execute(f"CREATE OR REPLACE TABLE memory.name_counts AS {counts}"))
    tables = {}
    for column in model.tf_columns:
        sql = term_frequency_sql(column, "memory.name_counts")
        if sql is not None:
            one(con.execute(f"CREATE OR REPLACE TABLE memory.tf_{column} AS {sql}"))
            tables[column] = f"memory.tf_{column}"
    return tables


def _link(
    con: duckdb.DuckDBPyConnection,
    records: int,
    rules: RulesBundle,
    model: TrainedModel | None,
    progress: Progress,
    lap: Callable[[str], None],
    backend: Backend,
) -> RunOutput:
    """Train (if needed), score and cluster the ``records`` rows of table ``work``;
    leaves table ``scored`` in the connection's in-memory catalog for the writer."""
    trained = model is None
    if model is None:
        progress.stage("train", "estimating m and u (EM, no labels)")
        model = train_model(con, "work", rules.match, records)
    lap("train")
    tf_tables = name_term_frequencies(con, model)
    if backend.kind == "spark":
        from mdm.bulk.spark import predict_pairs_spark

        progress.stage("predict", f"scoring candidate pairs on Spark ({backend.spark_master})")
        predict_pairs_spark(con, "work", model, "memory.scored", tf_tables, backend)
    else:
        progress.stage("predict", "scoring candidate pairs")

        def on_slice(done: int, slices: int) -> None:
            if slices > 1 and done < slices:
                progress.stage(
                    "predict",
                    Detail(
                        f"scoring candidate pairs: slice {done} of {slices} done",
                        done=done,
                        total=slices,
                    ),
                )

        predict_pairs(con, "work", model, "scored", tf_tables, on_slice)
    if trained:
        progress.stage("predict", "estimating the prior over the scored pairs")
        model = estimate_prior(con, "memory.scored", model, records)
    # Only what clustering needs, as arrays (the writer reads the scores from the table).
    scored = con.execute("SELECT uid_l, uid_r, match_probability FROM memory.scored").fetchnumpy()
    left, right = scored["uid_l"], scored["uid_r"]
    probability = scored["match_probability"]
    del scored
    lap("predict")
    progress.stage("cluster", f"{len(left)} candidate pairs")
    link, review, choice = _thresholds(rules.match, left, right, probability, records)
    # A steward's merges, unmerges and decisions outrank every score.
    steward = constraint_edges(con, "memory.work")
    must, steward_cannot = (np.asarray(steward[k], dtype=np.int64) for k in ("must", "cannot"))
    cannot = np.empty((0, 2), dtype=np.int64)
    if rules.match.clustering.guard:
        below = rules.match.clustering.split_below
        cannot = guard_pairs(records, left, right, probability, link, below, must)

    def cluster(
        n: int,
        left: np.ndarray,
        right: np.ndarray,
        probability: np.ndarray,
        link: float,
        cannot: np.ndarray,
    ) -> np.ndarray:
        return cluster_constrained(n, left, right, probability, link, cannot, must, steward_cannot)

    labels = cluster(records, left, right, probability, link, cannot)
    if rules.match.clustering.guard and rules.match.clustering.identity:
        # Only pairs inside a cluster can be split apart, so levels are needed for them alone.
        at = np.flatnonzero(same_label(labels, left, right))
        inside = pd.DataFrame({"uid_l": left[at], "uid_r": right[at]})
        con.register("inside_pairs", inside)
        levels = pair_levels(
            con, "work", model, "inside_pairs", tuple(rules.match.clustering.identity)
        )
        con.unregister("inside_pairs")
        conflict, veto = identity_conflicts(levels, model, rules.match)
        split = levels[conflict]
        cannot = np.vstack([cannot, split[["uid_l", "uid_r"]].to_numpy(dtype=np.int64)])
        if veto.any():  # these pairs alone do not link their records
            # Where they are among the scored pairs (each pair is scored once): found
            # among those inside clusters, not by matching every scored pair.
            inside["at"] = at
            vetoed = inside.merge(levels.loc[veto, ["uid_l", "uid_r"]], on=["uid_l", "uid_r"])
            probability = probability.copy()
            probability[vetoed["at"].to_numpy()] = 0.0
        labels = cluster(records, left, right, probability, link, cannot)
    if rules.match.clustering.guard and rules.match.clustering.cohere_max_size:
        split = _incoherent_pairs(con, model, labels, tf_tables, rules.match)
        if len(split):
            cannot = np.vstack([cannot, split])
            labels = cluster(records, left, right, probability, link, cannot)
    lap("cluster")
    output = RunOutput.build(left, right, probability, labels, link, review, model, trained)
    output.threshold = choice
    return output


#: The review band: pairs this many match-weight units below the link threshold.
REVIEW_BAND_WEIGHT = 4.0


def _thresholds(
    rules: MatchRules, left: np.ndarray, right: np.ndarray, probability: np.ndarray, n: int
) -> tuple[float, float, ThresholdChoice]:
    """The link threshold and the bottom of the review band, as match probabilities,
    and how the link threshold was chosen."""
    t = rules.thresholds
    if t.link == "auto":
        best = best_expected_f1_threshold(probability)
        model = clamp_threshold(best, t.link_floor, t.link_ceiling)
        if t.max_chain_ratio is None:
            choice = ThresholdChoice(model, model, best is None or best < t.link_floor,
                                     model >= t.link_ceiling)  # fmt: skip
        else:
            choice = check_link_threshold(
                n, left, right, probability, model, t.link_floor, t.link_ceiling,
                t.max_chain_ratio, best, t.max_contradicted_ratio,
            )  # fmt: skip
        link = choice.link
    else:
        link = float(t.link)
        choice = ThresholdChoice(link, link, False, False, notes=["configured in the rules"])
    if t.review == "auto":
        review = weight_to_probability(probability_to_weight(link) - REVIEW_BAND_WEIGHT)
    else:
        review = min(float(t.review), link)
    return link, review, choice

"""Accuracy metrics for entity resolution against labelled truth.

Every metric takes one cluster label per record (``predicted`` and ``truth``, aligned by
position) and counts pairs from group sizes, so nothing is quadratic: a group of ``n``
records holds ``n * (n - 1) / 2`` pairs, and the pairs two clusterings agree on are the
pairs inside the groups of their cross-tabulation. A million records take well under a
second.

Conventions:

* records whose **truth** label is missing (``None``/``NaN``/``pd.NA``) are left out of
  every metric, as if they were not in the input;
* a record whose **predicted** label is missing is a singleton (it was not clustered);
* precision is 1 when nothing is predicted to match, recall is 1 when nothing truly
  matches, and F1 is 0 when both precision and recall are 0.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeAlias

import numpy as np
import pandas as pd

__all__ = [
    "BlockingMetrics",
    "ClusterMetrics",
    "PairMetrics",
    "bcubed_metrics",
    "blocking_recall",
    "pairs_within_clusters",
    "pairwise_metrics",
]

Labels: TypeAlias = pd.Series | np.ndarray


@dataclass(frozen=True)
class PairMetrics:
    """Pairwise (link-level) confusion counts and scores."""

    tp: int
    fp: int
    fn: int
    precision: float
    recall: float
    f1: float
    predicted_pairs: int
    true_pairs: int


@dataclass(frozen=True)
class ClusterMetrics:
    """Record-level cluster scores (B-cubed)."""

    precision: float
    recall: float
    f1: float


@dataclass(frozen=True)
class BlockingMetrics:
    """How many truly matching pairs the candidate (blocked) pairs contain."""

    true_pairs: int
    true_pairs_blocked: int
    recall: float


def _f1(precision: float, recall: float) -> float:
    total = precision + recall
    return 0.0 if total == 0 else 2.0 * precision * recall / total


def _pairs_from_sizes(sizes: np.ndarray) -> int:
    sizes = sizes.astype(np.int64, copy=False)
    return int((sizes * (sizes - 1) // 2).sum())


def _values(labels: Labels) -> np.ndarray | pd.api.extensions.ExtensionArray:
    """The labels as a 1-d array, keeping pandas' own dtype for a Series (fast path)."""
    if isinstance(labels, pd.Series | pd.Index):
        return labels.array
    values = np.asarray(labels)
    if values.ndim != 1:
        raise ValueError(f"labels must be one-dimensional, got shape {values.shape}")
    return values


def _codes(labels: Labels, *, missing_as_singletons: bool) -> np.ndarray:
    """Dense integer codes for labels; missing labels become -1 or distinct singletons."""
    factorized, uniques = pd.factorize(_values(labels), use_na_sentinel=True)
    codes: np.ndarray = factorized.astype(np.int64, copy=False)
    if missing_as_singletons:
        missing = codes < 0
        n_missing = int(missing.sum())
        if n_missing:
            codes = codes.copy()
            codes[missing] = len(uniques) + np.arange(n_missing, dtype=np.int64)
    return codes


def _aligned_codes(predicted: Labels, truth: Labels) -> tuple[np.ndarray, np.ndarray]:
    """Integer codes for predicted and truth, restricted to records with a truth label."""
    if len(predicted) != len(truth):
        raise ValueError(
            f"predicted has {len(predicted)} labels but truth has {len(truth)}; "
            "pass one label per record in the same order"
        )
    if (
        isinstance(predicted, pd.Series)
        and isinstance(truth, pd.Series)
        and not predicted.index.equals(truth.index)
    ):
        raise ValueError(
            "predicted and truth are Series with different indexes; align them first "
            "(e.g. predicted.reindex(truth.index))"
        )
    truth_codes = _codes(truth, missing_as_singletons=False)
    pred_codes = _codes(predicted, missing_as_singletons=True)
    keep = truth_codes >= 0
    if keep.all():
        return pred_codes, truth_codes
    # Re-factorize on the kept records so both code sets stay dense.
    return (
        pd.factorize(pred_codes[keep])[0].astype(np.int64, copy=False),
        pd.factorize(truth_codes[keep])[0].astype(np.int64, copy=False),
    )


def _joint_codes(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Dense codes for the (a, b) cross-tabulation cells."""
    if len(a) == 0:
        return a
    combined = a * (int(b.max()) + 1) + b
    codes: np.ndarray = pd.factorize(combined)[0].astype(np.int64, copy=False)
    return codes


def pairs_within_clusters(labels: Labels) -> int:
    """Number of unordered record pairs that share a cluster label.

    Missing labels are singletons and contribute no pairs.
    """
    codes = _codes(labels, missing_as_singletons=False)
    codes = codes[codes >= 0]
    return _pairs_from_sizes(np.bincount(codes)) if len(codes) else 0


def pairwise_metrics(predicted: Labels, truth: Labels) -> PairMetrics:
    """Pairwise precision, recall and F1 of a clustering against truth labels.

    A pair is predicted when both records share a predicted label, and true when both
    share a truth label; pairs are counted from group sizes, never enumerated.
    """
    pred, true = _aligned_codes(predicted, truth)
    if len(pred) == 0:
        return PairMetrics(0, 0, 0, 1.0, 1.0, 1.0, 0, 0)
    predicted_pairs = _pairs_from_sizes(np.bincount(pred))
    true_pairs = _pairs_from_sizes(np.bincount(true))
    tp = _pairs_from_sizes(np.bincount(_joint_codes(pred, true)))
    precision = 1.0 if predicted_pairs == 0 else tp / predicted_pairs
    recall = 1.0 if true_pairs == 0 else tp / true_pairs
    return PairMetrics(
        tp=tp,
        fp=predicted_pairs - tp,
        fn=true_pairs - tp,
        precision=precision,
        recall=recall,
        f1=_f1(precision, recall),
        predicted_pairs=predicted_pairs,
        true_pairs=true_pairs,
    )


def bcubed_metrics(predicted: Labels, truth: Labels) -> ClusterMetrics:
    """B-cubed precision, recall and F1, averaged over records.

    For each record, precision is the share of its predicted cluster that is in its
    truth cluster, and recall the share of its truth cluster in its predicted cluster.
    """
    pred, true = _aligned_codes(predicted, truth)
    if len(pred) == 0:
        return ClusterMetrics(1.0, 1.0, 1.0)
    joint = _joint_codes(pred, true)
    overlap = np.bincount(joint)[joint].astype(np.float64)
    precision = float(np.mean(overlap / np.bincount(pred)[pred]))
    recall = float(np.mean(overlap / np.bincount(true)[true]))
    return ClusterMetrics(precision=precision, recall=recall, f1=_f1(precision, recall))


def blocking_recall(
    candidate_pairs: pd.DataFrame, ids: np.ndarray | pd.Series, truth: Labels
) -> BlockingMetrics:
    """Share of truly matching pairs that appear among the candidate pairs.

    ``candidate_pairs`` has columns ``id_l`` and ``id_r`` holding record ids from
    ``ids``; ``truth`` holds each record's truth label, aligned with ``ids``. A pair
    listed in both orders, or more than once, counts once; self pairs and ids not in
    ``ids`` are ignored, as are records without a truth label.
    """
    missing_cols = {"id_l", "id_r"} - set(candidate_pairs.columns)
    if missing_cols:
        raise ValueError(f"candidate_pairs lacks column(s) {sorted(missing_cols)}")
    if len(ids) != len(truth):
        raise ValueError(f"ids has {len(ids)} entries but truth has {len(truth)}")
    truth_codes = _codes(truth, missing_as_singletons=False)
    labelled = truth_codes[truth_codes >= 0]
    true_pairs = _pairs_from_sizes(np.bincount(labelled)) if len(labelled) else 0
    records = pd.DataFrame(
        {
            "id": _values(ids),
            "truth": truth_codes,
            "pos": np.arange(len(truth_codes), dtype=np.int64),
        }
    )
    if records["id"].duplicated().any():
        raise ValueError("ids must be unique: each record needs its own id")

    pairs = candidate_pairs[["id_l", "id_r"]]
    left = records.rename(columns={"id": "id_l", "truth": "truth_l", "pos": "pos_l"})
    right = records.rename(columns={"id": "id_r", "truth": "truth_r", "pos": "pos_r"})
    pairs = pairs.merge(left, on="id_l", how="inner").merge(right, on="id_r", how="inner")
    matching = pairs[(pairs["truth_l"] == pairs["truth_r"]) & (pairs["truth_l"] >= 0)]
    lo = np.minimum(matching["pos_l"].to_numpy(), matching["pos_r"].to_numpy())
    hi = np.maximum(matching["pos_l"].to_numpy(), matching["pos_r"].to_numpy())
    distinct = pd.DataFrame({"lo": lo[lo != hi], "hi": hi[lo != hi]}).drop_duplicates()
    blocked = len(distinct)
    recall = 1.0 if true_pairs == 0 else blocked / true_pairs
    return BlockingMetrics(true_pairs=true_pairs, true_pairs_blocked=blocked, recall=recall)

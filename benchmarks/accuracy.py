"""Accuracy of mdm against plain splink on the public labelled datasets.

Usage:  .venv/bin/python benchmarks/accuracy.py [DATASET ...] [--rules PATH]

For each dataset this writes the records to files, runs ``mdm reconcile`` on them
(trained without labels; the truth column rides along as an extra attribute and is
used only by ``mdm evaluate``), and runs splink's own documented example for the same
dataset (benchmarks/splink_reference.py), printing both side by side.

The datasets come from ``splink.splink_datasets``; without internet, seed them first
with ``../shared/tools/seed-splink-datasets .venv/bin/python``.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from splink_reference import DATASETS, load_dataset, run_reference  # noqa: E402

from mdm.accuracy import evaluate  # noqa: E402
from mdm.bulk.ingest import SourceSpec  # noqa: E402
from mdm.bulk.reconcile import reconcile  # noqa: E402
from mdm.bundled import DEFAULT_MATCH_RULES  # noqa: E402
from mdm.rules.bundle import RulesBundle  # noqa: E402
from mdm.rules.match import Thresholds  # noqa: E402
from mdm.store import open_store  # noqa: E402

DEFAULT_RULES = DEFAULT_MATCH_RULES
FEBRL4_FILES = ("febrl4a", "febrl4b")


def write_inputs(name: str, folder: Path) -> list[SourceSpec]:
    """The dataset as source files with a 'truth' column, as a user would hand them over."""
    data = load_dataset(name)
    names = FEBRL4_FILES if name == "febrl4" else (name,)
    specs = []
    for source, frame in zip(names, data.frames, strict=True):
        frame = frame.copy()
        ids = frame[data.unique_id_column]
        if data.source_datasets:
            keys = pd.MultiIndex.from_arrays(
                [[data.source_datasets[names.index(source)]] * len(ids), ids]
            )
            frame["truth"] = data.truth.reindex(keys).to_numpy()
        else:
            frame["truth"] = data.truth.reindex(ids).to_numpy()
        path = folder / f"{source}.parquet"
        frame.astype("string").to_parquet(path, index=False)
        specs.append(SourceSpec(source, path))
    return specs


#: Datasets whose own rules file a user would write (extra identifiers to compare).
OWN_RULES = {"febrl3": "febrl.match.yaml", "febrl4": "febrl.match.yaml"}


def run_mdm(name: str, rules_path: Path | None, folder: Path) -> dict:
    """Reconcile one dataset with mdm and evaluate it against its truth."""
    if rules_path is None:
        own = OWN_RULES.get(name)
        rules_path = HERE / "rules" / own if own else DEFAULT_RULES
    specs = write_inputs(name, folder)
    figures = reconcile_and_score(specs, rules_path, HERE / "rules", folder / f"{name}.duckdb")
    return {**figures, "rules": str(rules_path.relative_to(HERE.parent))}


def reconcile_and_score(
    specs: list[SourceSpec],
    rules_path: Path,
    mappings_dir: Path,
    db: Path,
    truth_column: str = "truth",
) -> dict:
    """``reconcile`` the sources into a new store (trained without labels) and score its
    clusters against ``truth_column``, an extra column of the sources.

    Source mappings are read from ``mappings_dir/sources/``. Besides the figures of
    ``mdm evaluate``: the link threshold the run chose and whether it sat on a bound of
    the rules (``threshold_bound``: "floor", "ceiling", "fixed" or ""), and the largest
    cluster's record count.
    """
    rules = RulesBundle.load(rules_path, mappings_dir=mappings_dir)
    started = time.perf_counter()
    result = reconcile(specs, db, rules)
    seconds = time.perf_counter() - started
    report = evaluate(db, truth_column)
    return {
        "pairwise": report.pairwise,
        "bcubed": report.bcubed,
        "blocking": report.blocking,
        "pairs": result.candidate_pairs,
        "seconds": seconds,
        "threshold": result.link_threshold,
        "threshold_bound": threshold_bound(result.link_threshold, rules.match.thresholds),
        "largest_cluster": largest_cluster(db),
        "stages": result.seconds,
    }


def threshold_bound(threshold: float, thresholds: Thresholds) -> str:
    """Where a run's link threshold sits: "floor" or "ceiling" of the label-free choice,
    "fixed" when the rules set it, else ""."""
    if thresholds.link != "auto":
        return "fixed"
    if abs(threshold - thresholds.link_floor) < 1e-9:
        return "floor"
    if abs(threshold - thresholds.link_ceiling) < 1e-9:
        return "ceiling"
    return ""


def largest_cluster(db: Path) -> int:
    """Records in the store's largest cluster (golden record)."""
    con = open_store(db, create=False)
    try:
        row = con.execute(
            "SELECT max(n) FROM (SELECT count(*) AS n FROM xref GROUP BY golden_id)"
        ).fetchone()
    finally:
        con.close()
    return int(row[0]) if row and row[0] is not None else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("datasets", nargs="*", default=list(DATASETS))
    parser.add_argument(
        "--rules", type=Path, help="one rules file for every dataset (default: its own or mdm's)"
    )
    parser.add_argument("--no-reference", action="store_true", help="skip plain splink")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.datasets:
            folder = Path(tmp) / name
            folder.mkdir()
            mdm = run_mdm(name, args.rules, folder)
            row = {"dataset": name, "mdm": mdm}
            if not args.no_reference:
                ref = run_reference(name)
                row["splink"] = {
                    "pairwise": {
                        "precision": ref.pairwise.precision,
                        "recall": ref.pairwise.recall,
                        "f1": ref.pairwise.f1,
                    },
                    "bcubed": {"f1": ref.bcubed.f1},
                    "blocking": {"recall": ref.blocking.recall},
                    "pairs": ref.candidate_pairs,
                    "seconds": ref.seconds_training + ref.seconds_predict + ref.seconds_cluster,
                }
            rows.append(row)
            _print_row(row)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2, default=float))


def _print_row(row: dict) -> None:
    for who in ("mdm", "splink"):
        if who not in row:
            continue
        r = row[who]
        p = r["pairwise"]
        print(
            f"{row['dataset']:<15} {who:<7} pairwise P {p['precision']:.4f} R {p['recall']:.4f} "
            f"F1 {p['f1']:.4f} | B-cubed F1 {r['bcubed']['f1']:.4f} | blocking recall "
            f"{r['blocking']['recall']:.4f} | pairs {r['pairs']:>9} | {r['seconds']:.1f} s"
            + (f" | threshold {r['threshold']:.3f}" if "threshold" in r else ""),
            flush=True,
        )


if __name__ == "__main__":
    main()

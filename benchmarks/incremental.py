"""Incremental batches: a nightly batch of new and changed records against a large store.

Usage:
  .venv/bin/python benchmarks/incremental.py --records 100000 [--batch 10000]

Uses generated data (benchmarks/data/<N>/, as benchmarks/bulk.py makes it). The crm
source is split: ``--batch / 2`` of its records are held back, the rest of every source
is reconciled in bulk. The batch is the held-back records (new to the store) plus as
many stored crm records with a changed town. It is sent with
``mdm reconcile --incremental`` (in process), then sent again. Prints wall time per
stage and peak RSS of this process, as JSON.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from _data import hold_back_crm  # noqa: E402

from mdm.bulk.ingest import parse_source_arg  # noqa: E402
from mdm.bulk.reconcile import reconcile  # noqa: E402
from mdm.bundled import DEFAULT_MATCH_RULES  # noqa: E402
from mdm.incremental import reconcile_incremental  # noqa: E402
from mdm.rules.bundle import RulesBundle  # noqa: E402

RULES = DEFAULT_MATCH_RULES


def _rss_gib() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 / 1024, 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=10_000)
    args = parser.parse_args()
    folder = HERE / "data" / str(args.records)
    rules = RulesBundle.load(RULES)
    half = args.batch // 2
    figures: dict = {"records": args.records, "batch": args.batch}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        held, kept, sources = hold_back_crm(folder, half, work)
        db = work / "mdm.duckdb"
        clock = time.perf_counter()
        reconcile([parse_source_arg(s) for s in sources], db, rules)
        figures["bulk_s"] = round(time.perf_counter() - clock, 1)
        changed = kept.iloc[:half].copy()
        town = next(c for c in changed.columns if c.lower() in ("town", "city"))
        changed[town] = "Newtown"
        pd.concat([held, changed]).to_csv(work / "batch.csv", index=False)
        batch = [parse_source_arg(f"crm={work / 'batch.csv'}")]
        shutil.copy(db, work / "before.duckdb")
        for name in ("first_send", "second_send"):
            clock = time.perf_counter()
            result = reconcile_incremental(batch, db, rules.rules_dir, rules.survivorship)
            figures[name] = {
                "seconds": round(time.perf_counter() - clock, 1),
                "stages": result.seconds,
                "actions": result.actions,
                "golden_created": result.golden_created,
                "review_tasks": result.review_tasks,
            }
        figures["peak_rss_gib"] = _rss_gib()
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()

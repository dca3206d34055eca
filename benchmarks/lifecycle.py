"""Golden record lifecycle: how long a steward's operations take on a large store.

Usage:
  .venv/bin/python benchmarks/lifecycle.py --records 200000 [--operations 200]

Generates ``--records`` records with the project's generator (or reuses
benchmarks/data/lifecycle-<N>/), reconciles them in bulk, then on a copy of that store
builds the real-time engine and times, in process, what the service does for each
request (engine decision + one transaction): merging two random golden records,
unmerging the merged-in records again (checking both golden records come back
exactly), and deciding review tasks. Then it times ``mdm replay`` (the event log
rebuilt from empty and compared with the tables) and a bulk re-run that honours every
constraint the operations left. Prints p50/p99 per operation as JSON.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from _data import generated_sources, latency_ms  # noqa: E402

from mdm.bulk.ingest import parse_source_arg  # noqa: E402
from mdm.bulk.reconcile import reconcile  # noqa: E402
from mdm.bundled import DEFAULT_MATCH_RULES  # noqa: E402
from mdm.lifecycle import decide, merge, unmerge  # noqa: E402
from mdm.realtime.engine import Engine  # noqa: E402
from mdm.rules.bundle import RulesBundle  # noqa: E402
from mdm.store import open_store  # noqa: E402
from mdm.store.events import replay_differences  # noqa: E402
from mdm.store.reads import get_golden  # noqa: E402

RULES = DEFAULT_MATCH_RULES


def _in_txn(con, action, *args):
    con.execute("BEGIN").fetchall()
    try:
        result = action(con, *args)
    except BaseException:
        con.execute("ROLLBACK").fetchall()
        raise
    con.execute("COMMIT").fetchall()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--operations", type=int, default=200)
    parser.add_argument("--seed", type=int, default=5)
    args = parser.parse_args()
    bundle = RulesBundle.load(RULES)
    files = generated_sources(args.records, args.seed)
    figures: dict = {"records": args.records}
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "mdm.duckdb"
        started = time.perf_counter()
        reconcile([parse_source_arg(str(p)) for p in files], db, bundle)
        figures["bulk_first_run_s"] = round(time.perf_counter() - started, 1)
        con = open_store(db)
        started = time.perf_counter()
        engine = Engine(con, bundle.survivorship, bundle.rules_dir)
        figures["engine_start_s"] = round(time.perf_counter() - started, 1)
        rng = random.Random(args.seed)
        merges, unmerges, restored = [], [], 0
        for _ in range(args.operations):
            first, second = rng.sample(sorted(engine.members), 2)
            before = {g: get_golden(con, g) for g in (first, second)}
            clock = time.perf_counter()
            done = _in_txn(con, merge, engine, first, second, "bench")
            merges.append(time.perf_counter() - clock)
            other = second if done["golden_id"] == first else first
            moved = [(r["source"], r["record_id"]) for r in before[other]["records"]]
            clock = time.perf_counter()
            _in_txn(con, unmerge, engine, done["golden_id"], moved, "bench")
            unmerges.append(time.perf_counter() - clock)
            keep = ("golden_id", "record_count", "records", "lineage", "created_at")
            restored += all(
                {k: get_golden(con, g)[k] for k in keep} == {k: before[g][k] for k in keep}
                for g in (first, second)
            )
        figures["merge"] = latency_ms(merges, 2)
        figures["unmerge"] = latency_ms(unmerges, 2)
        figures["restored_exactly"] = f"{restored}/{args.operations}"
        decisions = []
        for i in range(args.operations):
            task_id = min(engine.task_pairs, default=None)  # decisions close others too
            if task_id is None:
                break
            verdict = "same" if i % 2 else "different"
            clock = time.perf_counter()
            _in_txn(con, decide, engine, task_id, verdict, "bench", bundle.match.learning)
            decisions.append(time.perf_counter() - clock)
            engine.sync(con)
        figures["decision"] = latency_ms(decisions, 2)
        clock = time.perf_counter()
        differences = replay_differences(con)
        figures["replay_s"] = round(time.perf_counter() - clock, 2)
        figures["replay_differences"] = len(differences)
        figures["constraints"] = con.execute(
            "SELECT kind, count(*) FROM link_constraints GROUP BY 1 ORDER BY 1"
        ).fetchall()
        con.close()
        shutil.copy(db, Path(tmp) / "before-rerun.duckdb")
        clock = time.perf_counter()
        reconcile([parse_source_arg(str(p)) for p in files], db, bundle)
        figures["bulk_rerun_s"] = round(time.perf_counter() - clock, 1)
        with open_store(db) as con:
            broken = con.execute(
                "SELECT count(*) FROM link_constraints c "
                "JOIN xref l ON l.source = c.source_l AND l.record_id = c.record_id_l "
                "JOIN xref r ON r.source = c.source_r AND r.record_id = c.record_id_r "
                "WHERE (c.kind = 'must') <> (l.golden_id = r.golden_id)"
            ).fetchall()[0][0]
            figures["constraints_broken_after_rerun"] = int(broken)
            figures["replay_differences_after_rerun"] = len(replay_differences(con))
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()

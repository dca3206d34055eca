"""Real-time candidate lookup: start-up cost and latency of the record table and index.

Usage:  .venv/bin/python benchmarks/realtime_index.py benchmarks/data/1000000/mdm.duckdb
        [--lookups 5000] [--writes 2000] [--all-columns] [--json]

Builds :class:`mdm.realtime.records.RecordTable` and
:class:`mdm.realtime.index.CandidateIndex` from a store (opened read-only) as the
service does at start-up, then times candidate lookups and ``rows()`` for records of
the store (each looked up as an update of itself, as the service matches a known
record), and writes (remove + update + add, and appends of new records). A store is
made by ``benchmarks/bulk.py`` (``benchmarks/data/<N>/mdm.duckdb``) or with
``.venv/bin/mdm reconcile <files> --db <db>``.

Target at 1M records: candidate lookup + ``rows()`` p99 well under 1 ms.
"""

from __future__ import annotations

import argparse
import gc
import json
import resource
import time
from pathlib import Path

import duckdb
import numpy as np

from mdm.linkage.scorer import Scorer
from mdm.realtime.index import CandidateIndex, key_columns
from mdm.realtime.records import RecordTable
from mdm.schema import RECORD_COLUMNS
from mdm.store.reads import latest_model


def rss_mib() -> float:
    """The resident set size now, in MiB (Linux)."""
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * resource.getpagesize() / 2**20


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def percentiles(seconds: list[float]) -> dict[str, float]:
    micro = np.asarray(seconds) * 1e6
    return {
        "p50_us": round(float(np.percentile(micro, 50)), 1),
        "p99_us": round(float(np.percentile(micro, 99)), 1),
        "max_us": round(float(micro.max()), 1),
    }


def build(db: Path, all_columns: bool) -> tuple[RecordTable, CandidateIndex, dict]:
    con = duckdb.connect(str(db), read_only=True)
    model = latest_model(con)
    rules = model.match_rules
    scored = [*Scorer(model).columns, "golden_id"]
    columns = [*scored, *key_columns(rules)]
    if all_columns:
        columns += RECORD_COLUMNS
    before = rss_mib()
    clock = time.perf_counter()
    table = RecordTable.load(con, columns)
    con.close()
    loaded = time.perf_counter()
    table_rss = rss_mib()
    index = CandidateIndex.build(table, rules)
    built = time.perf_counter()
    gc.collect()
    after = rss_mib()
    n = len(table)
    report = {
        "records": n,
        "columns": len(table.columns),
        "load_table_s": round(loaded - clock, 2),
        "build_index_s": round(built - loaded, 2),
        "peak_rss_mib": round(peak_rss_mib(), 1),
        "rss_held_mib": round(after - before, 1),
        "bytes_per_record_rss": round((after - before) * 2**20 / n),
        "bytes_per_record_table": round(table.nbytes / n),
        "bytes_per_record_table_rss": round((table_rss - before) * 2**20 / n),
        "bytes_per_record_index": round(index.nbytes / n),
        "scored_columns": scored,
    }
    return table, index, report


def time_lookups(
    table: RecordTable, index: CandidateIndex, slots: list[int], scored: list[str]
) -> dict:
    """Candidates of each slot's record, and their rows: every column, and only the
    ``scored`` ones."""
    records = table.rows(slots)
    found, lookup, rows, both, some = [], [], [], [], []
    clock = time.perf_counter
    for slot, record in zip(slots, records, strict=True):
        start = clock()
        candidates = index.candidates(record, slot)
        middle = clock()
        table.rows(candidates)
        end = clock()
        table.rows(candidates, scored)
        some.append(clock() - end)
        found.append(len(candidates))
        lookup.append(middle - start)
        rows.append(end - middle)
        both.append(end - start)
    counts = np.asarray(found)
    return {
        "lookups": len(slots),
        "candidates_mean": round(float(counts.mean()), 2),
        "candidates_p99": int(np.percentile(counts, 99)),
        "candidates_max": int(counts.max()),
        "candidates": percentiles(lookup),
        "rows": percentiles(rows),
        "candidates_and_rows": percentiles(both),
        f"rows_of_{len(scored)}_columns": percentiles(some),
    }


def time_writes(table: RecordTable, index: CandidateIndex, slots: list[int]) -> dict:
    """An update in place (remove, update, add) of each slot, then as many appends."""
    clock = time.perf_counter
    updates, appends = [], []
    for slot in slots:
        record = table.row(slot)
        start = clock()
        index.remove(slot)
        table.update(slot, record)
        index.add(slot, record)
        updates.append(clock() - start)
    for i, slot in enumerate(slots):
        record = table.row(slot) | {"record_id": f"bench-{i}", "golden_id": None}
        start = clock()
        index.candidates(record)
        new = table.append(record)
        index.add(new, record)
        appends.append(clock() - start)
    start = clock()
    index.compact()
    compact = clock() - start
    start = clock()
    table.compact()
    return {
        "writes": len(slots),
        "update": percentiles(updates),
        "append_with_lookup": percentiles(appends),
        "index_compact_s": round(compact, 3),
        "table_compact_s": round(clock() - start, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("db", type=Path, help="a store made by 'mdm reconcile'")
    parser.add_argument("--lookups", type=int, default=5000)
    parser.add_argument("--writes", type=int, default=2000)
    parser.add_argument("--all-columns", action="store_true", help="every record column")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    table, index, report = build(args.db, args.all_columns)
    rng = np.random.default_rng(args.seed)
    live = table.live_slots()
    scored = report.pop("scored_columns")
    lookups = rng.choice(live, args.lookups).tolist()
    report["lookup"] = time_lookups(table, index, lookups, scored)
    report["write"] = time_writes(table, index, rng.choice(live, args.writes).tolist())
    report["peak_rss_mib"] = round(peak_rss_mib(), 1)
    if args.json:
        print(json.dumps(report, indent=2))
        return
    for key, value in report.items():
        print(f"{key:>28}: {value}")


if __name__ == "__main__":
    main()

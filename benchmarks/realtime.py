"""Real-time path: incremental = bulk, and in-process match latency.

Usage:
  .venv/bin/python benchmarks/realtime.py incremental [fake_1000 historical_50k]
                                                     [--preload 0.9]
  .venv/bin/python benchmarks/realtime.py latency [--records 100000 1000000]

``incremental``: reconcile a labelled dataset in bulk (store A), then start an empty
store with A's model and thresholds and upsert the same records one at a time through
the real-time engine (store B, what ``POST /v1/records`` runs). Prints how far B's
clusters are from A's (pairwise, over all record pairs) and both against the truth.
With ``--preload 0.9``, B first loads 90% of the records in bulk (with A's model), as
a store in service would have been, and only the rest arrives record by record.
The datasets come from ``splink.splink_datasets``; offline, seed them first with
``../shared/tools/seed-splink-datasets .venv/bin/python``.

``latency``: generated data (benchmarks/data/<N>/, as benchmarks/bulk.py makes it) with
2% of the records held back; the rest is reconciled in bulk, the engine starts on that
store (start-up time and memory are printed), and each held-back record — a duplicate
of a stored person, or a new person — is matched in process, after a warm-up. Prints
p50/p99 of ``Engine.match`` (standardise, candidates, score, rank).
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from mdm.bulk.ingest import map_source, parse_source_arg  # noqa: E402
from mdm.bulk.reconcile import reconcile  # noqa: E402
from mdm.bundled import DEFAULT_MATCH_RULES  # noqa: E402
from mdm.errors import NothingToMatchError  # noqa: E402
from mdm.evaluation import pairwise_metrics  # noqa: E402
from mdm.realtime.engine import Engine  # noqa: E402
from mdm.realtime.results import MatchResult  # noqa: E402
from mdm.rules.bundle import RulesBundle  # noqa: E402
from mdm.rules.sources import find_source_mapping  # noqa: E402
from mdm.store.changes import apply_changes  # noqa: E402

RULES = DEFAULT_MATCH_RULES


def _rss_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 / 1024


def _partition(db: Path) -> pd.DataFrame:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(
            "SELECT source, record_id, golden_id FROM xref ORDER BY source, record_id"
        ).df()


def empty_copy(source_db: Path, target: Path) -> None:
    """A store with ``source_db``'s model, runs and name variants but no records."""
    shutil.copy(source_db, target)
    with duckdb.connect(str(target)) as con:
        for table in ("records", "xref", "golden", "lineage", "pairs", "review_tasks",
                      "events", "name_frequencies", "name_variant_evidence"):  # fmt: skip
            con.execute(f"DELETE FROM {table}")
    # DuckDB keeps the deleted rows' pages until a checkpoint; the copy is small anyway.


def schema_records(specs, rules_dir: Path) -> list[dict]:
    """The records of the given source files in the customer schema, as an API caller
    would send them (unmapped columns as ``extra``)."""
    out = []
    for spec in specs:
        mapped = map_source(spec, find_source_mapping(rules_dir, spec.name))
        frame = mapped.frame.astype(object).where(mapped.frame.notna(), None)
        extras = mapped.extras.astype(object).where(mapped.extras.notna(), None)
        for row, extra in zip(frame.to_dict("records"), extras.to_dict("records"), strict=True):
            record = {k: v for k, v in row.items() if v is not None}
            out.append({"source": spec.name, **record, "extra": extra})
    return out


def _clusters(frame: pd.DataFrame, column: str) -> pd.Series:
    """Each record's cluster as the set of its members' keys."""
    keys = frame["source"] + "/" + frame["record_id"]
    members = keys.groupby(frame[column]).apply(lambda s: tuple(sorted(s)))
    return frame[column].map(members)


def _match(engine: Engine, probe: dict) -> MatchResult | None:
    """The match of ``probe``; None for a record with nothing to match on (a 422)."""
    try:
        return engine.match(probe)
    except NothingToMatchError:
        return None


def upsert(con: duckdb.DuckDBPyConnection, engine: Engine, record: dict) -> None:
    """One upsert in its own transaction, as the service runs it. A value that cannot be
    standardised is treated as missing, as the bulk path treats it."""
    _, changes = engine.upsert(record)
    con.execute("BEGIN").fetchall()
    apply_changes(con, [changes])
    con.execute("COMMIT").fetchall()


def _split(specs, share: float, folder: Path) -> tuple[list, list]:
    """Each source file cut in two at random (seeded): ``share`` of its rows first."""
    rng = np.random.default_rng(11)
    first, rest = [], []
    for spec in specs:
        frame = pd.read_parquet(spec.path)
        head = rng.random(len(frame)) < share
        for part, rows in (("bulk", frame[head]), ("live", frame[~head])):
            path = folder / part / spec.path.name
            path.parent.mkdir(exist_ok=True)
            rows.to_parquet(path, index=False)
            (first if part == "bulk" else rest).append(parse_source_arg(f"{spec.name}={path}"))
    return first, rest


def incremental(names: list[str], tmp: Path, preload: float = 0.0) -> dict:
    from accuracy import OWN_RULES, write_inputs

    results = {}
    for name in names:
        folder = tmp / name
        folder.mkdir()
        specs = write_inputs(name, folder)
        rules_path = HERE / "rules" / OWN_RULES[name] if name in OWN_RULES else RULES
        bundle = RulesBundle.load(rules_path, mappings_dir=HERE / "rules")
        bulk_db, live_db = folder / "bulk.duckdb", folder / "live.duckdb"
        started = time.perf_counter()
        reconcile(specs, bulk_db, bundle)
        bulk_seconds = time.perf_counter() - started
        empty_copy(bulk_db, live_db)
        live_specs = specs
        if preload > 0:  # most of it loaded in bulk (A's model), the rest record by record
            loaded, live_specs = _split(specs, preload, folder)
            reconcile(loaded, live_db, bundle)
        records = schema_records(live_specs, bundle.rules_dir)
        con = duckdb.connect(str(live_db))
        engine = Engine(con, bundle.survivorship, bundle.rules_dir)
        started = time.perf_counter()
        timings = []
        for record in records:
            clock = time.perf_counter()
            upsert(con, engine, record)
            timings.append(time.perf_counter() - clock)
        live_seconds = time.perf_counter() - started
        con.close()
        bulk, live = _partition(bulk_db), _partition(live_db)
        merged = bulk.merge(live, on=["source", "record_id"], suffixes=("_bulk", "_live"))
        agreement = pairwise_metrics(
            merged["golden_id_live"].to_numpy(), merged["golden_id_bulk"].to_numpy()
        )
        truth = {}
        with duckdb.connect(str(bulk_db), read_only=True) as store:
            labels = store.execute(
                "SELECT source, record_id, json_extract_string(extra, '$.truth') AS truth "
                "FROM records"
            ).df()
        merged = merged.merge(labels, on=["source", "record_id"])
        for side in ("bulk", "live"):
            truth[side] = pairwise_metrics(
                merged[f"golden_id_{side}"].to_numpy(), merged["truth"].to_numpy()
            )

        differ = int(
            (_clusters(merged, "golden_id_bulk") != _clusters(merged, "golden_id_live")).sum()
        )
        timings.sort()
        results[name] = {
            "preloaded_in_bulk": preload,
            "records": len(merged),
            "upserted": len(records),
            "bulk_seconds": round(bulk_seconds, 1),
            "incremental_seconds": round(live_seconds, 1),
            "upsert_p50_ms": round(timings[len(timings) // 2] * 1000, 2),
            "upsert_p99_ms": round(timings[int(len(timings) * 0.99)] * 1000, 2),
            "agreement": asdict(agreement),
            "records_in_a_different_cluster": differ,
            "truth_f1_bulk": truth["bulk"].f1,
            "truth_f1_incremental": truth["live"].f1,
        }
        print(name, json.dumps(results[name], default=float), flush=True)
    return results


def prepared_store(records: int, tmp: Path, queries: int = 5000) -> tuple[Path, list[dict], float]:
    """A store of generated records with some held back (2%, at least ``queries``):
    (store, held-back records in the customer schema, seconds the bulk run took)."""
    from bulk import generate

    folder = generate(records)
    specs = [
        parse_source_arg(str(p))
        for p in sorted(folder.iterdir())
        if p.suffix in (".csv", ".parquet", ".jsonl", ".xlsx")
    ]
    rows = schema_records(specs, RulesBundle.load(RULES).rules_dir)
    rng = np.random.default_rng(7)
    held = set(rng.choice(len(rows), size=max(len(rows) // 50, queries), replace=False).tolist())
    kept = tmp / "kept"
    kept.mkdir()
    by_source: dict[str, list[dict]] = {}
    for i, row in enumerate(rows):
        if i not in held:
            by_source.setdefault(row["source"], []).append(
                {k: v for k, v in row.items() if k not in ("source", "extra")}
            )
    kept_specs = []
    for source, items in by_source.items():
        path = kept / f"{source}.parquet"
        pd.DataFrame(items).astype("string").to_parquet(path, index=False)
        kept_specs.append(parse_source_arg(f"{source}={path}"))
    db = tmp / "store.duckdb"
    started = time.perf_counter()
    reconcile(kept_specs, db, RulesBundle.load(RULES, mappings_dir=tmp / "none"))
    return db, [rows[i] for i in sorted(held)], time.perf_counter() - started


def splink_single_record(
    store_con: duckdb.DuckDBPyConnection, engine: Engine, probes: list[dict], n: int = 100
) -> dict:
    """splink's own incremental path for the same model: ``predict_between`` the stored
    records and one new record (term frequencies registered once), per query."""
    import logging

    from splink import DuckDBAPI, Linker

    from mdm.store.names import term_frequency_sql

    columns = [c for c in engine.table.columns if c != "golden_id" and not c.startswith("_")]
    existing = store_con.sql(
        f"SELECT row_number() OVER () AS uid, {', '.join(columns)} FROM records"
    ).to_arrow_table()
    frequencies = store_con.sql("SELECT * FROM name_frequencies").to_arrow_table()
    con = duckdb.connect()
    con.register("existing_arrow", existing)
    con.execute("CREATE TABLE existing AS SELECT * FROM existing_arrow")
    con.register("frequencies_arrow", frequencies)
    con.execute("CREATE TABLE name_frequencies AS SELECT * FROM frequencies_arrow")
    db_api = DuckDBAPI(connection=con)
    linker = Linker(db_api.register("existing"), engine.model.settings, log_level=logging.ERROR)
    for column in engine.model.tf_columns:
        sql = term_frequency_sql(column, "name_frequencies") or (
            f'SELECT "{column}", count(*) / sum(count(*)) OVER () AS "tf_{column}" '
            f'FROM existing WHERE "{column}" IS NOT NULL GROUP BY 1'
        )
        con.execute(f"CREATE TABLE tf_{column} AS {sql}")
        linker.table_management.register_term_frequency_lookup(
            db_api.register(f"tf_{column}"), column
        )
    # The rules without their capped (loose) ones: a capped key needs counts over the
    # whole table, which splink's incremental path has no notion of. This spares splink
    # work, so its figure is if anything optimistic.
    from mdm.linkage.model import blocking_sql

    rules = [
        {"blocking_rule": blocking_sql(rule), "sql_dialect": "duckdb"}
        for rule in engine.rules.blocking
        if rule.max_block_size is None
    ]
    timings = []
    for i, probe in enumerate(probes[:n]):
        values = engine.prepare(probe).values
        row = {c: values.get(c) for c in columns}
        row["uid"] = 10**9 + i
        frame = pd.DataFrame([row]).astype(
            {c: object for c in columns if not isinstance(row.get(c), list)}
        )
        clock = time.perf_counter()
        new = db_api.register(frame)
        result = linker.inference.predict_between(
            db_api.register("existing"), new, blocking_rules_to_generate_predictions=rules
        )
        result.as_pandas_dataframe()
        timings.append(time.perf_counter() - clock)
    con.close()
    timings.sort()
    return {
        "queries": len(timings),
        "p50_ms": round(timings[len(timings) // 2] * 1000, 1),
        "p99_ms": round(timings[int(len(timings) * 0.99)] * 1000, 1),
    }


def latency(records: int, tmp: Path, queries: int = 5000) -> dict:
    db, probes, bulk_seconds = prepared_store(records, tmp, queries)
    probes = probes[:queries]
    bundle = RulesBundle.load(RULES)
    con = duckdb.connect(str(db))
    before = _rss_gib()
    started = time.perf_counter()
    engine = Engine(con, bundle.survivorship, bundle.rules_dir)
    startup = time.perf_counter() - started
    for probe in probes[:500]:  # warm-up: caches, branch predictors, allocator
        _match(engine, probe)
    timings, found = [], 0
    for probe in probes:
        clock = time.perf_counter()
        result = _match(engine, probe)
        timings.append(time.perf_counter() - clock)
        found += bool(result and result.candidates)
    timings.sort()
    writes = []
    for probe in probes[:500]:  # upserts: held-back records join the store
        clock = time.perf_counter()
        upsert(con, engine, probe)
        writes.append(time.perf_counter() - clock)
    writes.sort()
    try:
        splink_figures = splink_single_record(con, engine, probes, 100 if records < 500_000 else 20)
    except Exception as error:  # the reference must not sink our own figures
        splink_figures = {"error": f"{type(error).__name__}: {error}"[:300]}
    con.close()
    figures = {
        "records_in_store": len(engine.table),
        "bulk_seconds": round(bulk_seconds, 1),
        "startup_seconds": round(startup, 1),
        "peak_rss_gib": round(_rss_gib(), 2),
        "rss_before_engine_gib": round(before, 2),
        "queries": len(probes),
        "with_candidates": found,
        "match_p50_ms": round(timings[len(timings) // 2] * 1000, 3),
        "match_p99_ms": round(timings[int(len(timings) * 0.99)] * 1000, 3),
        "match_max_ms": round(timings[-1] * 1000, 3),
        "upserts": len(writes),
        "upsert_p50_ms": round(writes[len(writes) // 2] * 1000, 2),
        "upsert_p99_ms": round(writes[int(len(writes) * 0.99)] * 1000, 2),
        "splink_predict_between_one_record": splink_figures,
    }
    print(f"latency {records}: {json.dumps(figures)}", flush=True)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    inc = sub.add_parser("incremental")
    inc.add_argument("datasets", nargs="*", default=["fake_1000", "historical_50k"])
    inc.add_argument(
        "--preload",
        type=float,
        default=0.0,
        help="share of the records loaded in bulk first (the rest upserted one by one)",
    )
    lat = sub.add_parser("latency")
    lat.add_argument("--records", type=int, nargs="*", default=[100_000])
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        if args.command == "incremental":
            figures = incremental(args.datasets, tmp, args.preload)
        else:
            figures = {}
            for n in args.records:
                (tmp / str(n)).mkdir()
                figures[n] = latency(n, tmp / str(n))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2, default=float))


if __name__ == "__main__":
    main()

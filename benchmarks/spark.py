"""Spark local mode against DuckDB: the same full reconciliation, the same model, the
same records, each run in its own `mdm reconcile` process.

Usage:  .venv/bin/python benchmarks/spark.py [--records 1000000] [--master local[2]]

A first run trains the model into a base store (benchmarks/data/<N>/, made by
benchmarks/bulk.py's generator); the store is copied twice and reconciled again with
`--backend duckdb` and `--backend spark`, so both runs score with the same model. It
prints wall time, the stages, peak RSS of the mdm process (Spark's JVM is a separate
process with its own heap, ``MDM_SPARK_DRIVER_MEMORY``, 4g by default), whether the two
runs put every record in the same golden record, and the Spark/DuckDB time ratio.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

import duckdb

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bulk import BIN, _run, generate  # noqa: E402


def _reconcile(files: list[str], db: Path, *extra: str) -> dict:
    seconds, rss, text = _run(
        [str(BIN / "mdm"), "reconcile", *files, "--db", str(db), "--json", *extra],
        db.with_suffix(".json"),
    )
    summary = json.loads(text)
    return {
        "seconds": round(seconds, 1),
        "rss_gib": round(rss, 2),
        "predict_seconds": summary["seconds"]["predict"],
        "stages": summary["seconds"],
        "pairs": summary["candidate_pairs"],
        "golden_records": summary["golden_records"],
    }


def _xref(db: Path) -> list[tuple]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute("SELECT source, record_id, golden_id FROM xref ORDER BY ALL").fetchall()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--master", default="local[*]")
    args = parser.parse_args()
    folder = generate(args.records)
    files = sorted(
        str(p) for p in folder.iterdir() if p.suffix in (".csv", ".parquet", ".jsonl", ".xlsx")
    )
    work = folder / "spark-bench"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    base = work / "base.duckdb"
    _reconcile(files, base)  # trains the model both runs use
    on_duckdb, on_spark = work / "duckdb.duckdb", work / "spark.duckdb"
    shutil.copy(base, on_duckdb)
    shutil.copy(base, on_spark)
    duck = _reconcile(files, on_duckdb, "--backend", "duckdb")
    spark = _reconcile(
        files, on_spark, "--backend", "spark", "--spark-master", args.master,
        "--spark-workdir", str(work / "spark-work"),
    )  # fmt: skip
    same = _xref(on_duckdb) == _xref(on_spark)
    print(
        json.dumps(
            {
                "records": args.records,
                "master": args.master,
                "duckdb": duck,
                "spark": spark,
                "same_golden_records": same,
                "ratio_spark_over_duckdb": round(spark["seconds"] / duck["seconds"], 2),
                "ratio_predict": round(spark["predict_seconds"] / duck["predict_seconds"], 2),
            },
            indent=2,
        )
    )
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

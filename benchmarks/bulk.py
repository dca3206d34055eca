"""Bulk speed: `mdm reconcile` on generated customers, per stage, with peak RSS and F1,
beside a plain splink dedupe of the same data, each in its own process.

Usage:  .venv/bin/python benchmarks/bulk.py [--records 100000 1000000]
            [--configs default us] [--no-splink] [--rerun]

Data is generated once per size and configuration (python -m mdm.generate, seed 1) and
reused: ``default`` (British people) into benchmarks/data/<N>/, ``us`` (US cities,
ZIPs, phone styles and month-first dates: ``--locale us``) into
benchmarks/data/<N>-us/. mdm reads each set as a new user would, without mappings;
plain splink maps the columns with the set's own mappings. Targets at 1M records on 2
cores, every configuration: <= 45 s end to end, peak RSS <= 3 GiB, >= 2x faster than
plain splink in the same run, with better F1.

``--rerun`` then runs the same `mdm reconcile` again on the store the first run made,
as a nightly job re-reading unchanged exports does, and prints its figures too.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent


def _run(command: list[str], stdout_path: Path | None = None) -> tuple[float, float, str]:
    """Run a command; return wall seconds, peak RSS in GiB and its stdout."""
    started = time.perf_counter()
    with open(stdout_path or os.devnull, "w") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.PIPE, text=True)
        _, status, usage = os.wait4(process.pid, 0)
        stderr = process.stderr.read() if process.stderr else ""
    seconds = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{stderr[-3000:]}")
    text = stdout_path.read_text() if stdout_path else ""
    return seconds, usage.ru_maxrss / 1024 / 1024, text


#: Generator configuration -> its extra arguments to python -m mdm.generate.
CONFIGS = {"default": [], "us": ["--locale", "us"]}


def generate(records: int, config: str = "default") -> Path:
    folder = HERE / "data" / (str(records) if config == "default" else f"{records}-{config}")
    if not (folder / "crm.csv").exists():
        folder.mkdir(parents=True, exist_ok=True)
        _run(
            [
                sys.executable, "-m", "mdm.generate", "--records", str(records),
                "--seed", "1", "--out", str(folder), *CONFIGS[config],
            ]
        )  # fmt: skip
    return folder


def bench_mdm(folder: Path, rerun: bool = False) -> dict:
    db = folder / "mdm.duckdb"
    for stale in (db, folder / "mdm.duckdb.wal"):
        stale.unlink(missing_ok=True)
    files = sorted(
        str(p) for p in folder.iterdir() if p.suffix in (".csv", ".parquet", ".jsonl", ".xlsx")
    )
    seconds, rss, text = _run(
        [str(BIN / "mdm"), "reconcile", *files, "--db", str(db), "--json"], folder / "mdm.json"
    )
    summary = json.loads(text)
    _, _, report = _run(
        [str(BIN / "mdm"), "evaluate", "--db", str(db), "--truth", "true_person_id", "--json"],
        folder / "mdm-eval.json",
    )
    evaluation = json.loads(report)
    again = {}
    if rerun:
        seconds_again, rss_again, text_again = _run(
            [str(BIN / "mdm"), "reconcile", *files, "--db", str(db), "--json"],
            folder / "mdm-rerun.json",
        )
        again = {
            "seconds": round(seconds_again, 1),
            "rss_gib": round(rss_again, 2),
            "stages": json.loads(text_again)["seconds"],
        }
    return {
        "rerun": again,
        "seconds": round(seconds, 1),
        "rss_gib": round(rss, 2),
        "stages": summary["seconds"],
        "pairs": summary["candidate_pairs"],
        "threshold": summary["link_threshold"],
        "pairwise": evaluation["pairwise"],
        "bcubed_f1": evaluation["bcubed"]["f1"],
        "blocking_recall": evaluation["blocking"]["recall"],
    }


def bench_splink(folder: Path) -> dict:
    out = folder / "splink.json"
    seconds, rss, _ = _run([sys.executable, str(HERE / "bulk_splink.py"), str(folder), str(out)])
    result = json.loads(out.read_text())
    return {
        "seconds": round(seconds, 1),
        "rss_gib": round(rss, 2),
        "stages": result["seconds"],
        "pairs": result["pairs"],
        "pairwise": result["pairwise"],
        "bcubed_f1": result["bcubed_f1"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--configs", nargs="+", choices=sorted(CONFIGS), default=sorted(CONFIGS))
    parser.add_argument("--no-splink", action="store_true")
    parser.add_argument("--rerun", action="store_true", help="time a second run on the store")
    args = parser.parse_args()
    for records in args.records:
        for config in args.configs:
            folder = generate(records, config)
            rows = {"mdm": bench_mdm(folder, args.rerun)}
            if not args.no_splink:
                rows["splink"] = bench_splink(folder)
            label = f"{records:>9} {config:<7}"
            for who, r in rows.items():
                p = r["pairwise"]
                print(
                    f"{label} {who:<6} {r['seconds']:>7.1f} s  peak RSS {r['rss_gib']:.2f} GiB  "
                    f"pairs {r['pairs']}  P {p['precision']:.4f} R {p['recall']:.4f} "
                    f"F1 {p['f1']:.4f}  B-cubed F1 {r['bcubed_f1']:.4f}  stages {r['stages']}",
                    flush=True,
                )
            if again := rows["mdm"]["rerun"]:
                print(
                    f"{label} mdm re-run {again['seconds']:>7.1f} s  peak RSS "
                    f"{again['rss_gib']:.2f} GiB  stages {again['stages']}",
                    flush=True,
                )
            if "splink" in rows:
                ratio = rows["splink"]["seconds"] / rows["mdm"]["seconds"]
                print(f"{label} speed-up {ratio:.2f}x", flush=True)


if __name__ == "__main__":
    main()

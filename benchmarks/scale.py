"""The largest run: `mdm reconcile` on millions of generated customers, wall time, peak
RSS (sampled every second, with the stage it was in) and the work files' size.

Usage:  .venv/bin/python benchmarks/scale.py --records 10000000

Data is generated once into benchmarks/data/<N>/ (as benchmarks/bulk.py does). The run
is one `mdm reconcile ... --json` process into a fresh store; its stage lines are read
as they come so each stage's peak memory is known. Prints JSON.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bulk import BIN, generate  # noqa: E402


def _rss_gib(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 2**20
    except OSError:
        pass
    return 0.0


def _tree_size_gib(folder: Path) -> float:
    total = 0
    for root, _, files in os.walk(folder):
        for name in files:
            with contextlib.suppress(OSError):  # a file DuckDB just removed
                total += (Path(root) / name).stat().st_size
    return total / 2**30


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--records", type=int, default=10_000_000)
    args = parser.parse_args()
    clock = time.perf_counter()
    folder = generate(args.records)
    generated = round(time.perf_counter() - clock, 1)
    db = folder / "mdm.duckdb"
    for stale in (db, folder / "mdm.duckdb.wal"):
        stale.unlink(missing_ok=True)
    files = sorted(str(p) for p in folder.iterdir() if p.suffix in (".csv", ".parquet", ".jsonl"))
    command = [str(BIN / "mdm"), "reconcile", *files, "--db", str(db), "--json"]
    started = time.perf_counter()
    out = (folder / "scale.json").open("w")
    process = subprocess.Popen(command, stdout=out, stderr=subprocess.PIPE, text=True)
    stage = ["start"]
    peaks: dict[str, float] = {}
    spill: list[float] = []
    temp = Path(os.environ.get("TMPDIR", "/tmp"))

    def sample() -> None:
        while process.poll() is None:
            peaks[stage[0]] = max(peaks.get(stage[0], 0.0), _rss_gib(process.pid))
            runs = [p for p in temp.glob("mdm-run-*") if p.is_dir()]
            spill.append(sum(_tree_size_gib(p) for p in runs))
            time.sleep(1.0)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    lines = []
    assert process.stderr is not None
    for line in process.stderr:
        lines.append(line)
        if line.startswith("[") and "]" in line:
            stage[0] = line[1 : line.index("]")]
            print(f"{time.perf_counter() - started:8.1f}s {line.rstrip()}", flush=True)
    _, status, usage = os.wait4(process.pid, 0)
    out.close()
    sampler.join(timeout=5)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit("mdm reconcile failed:\n" + "".join(lines[-30:]))
    summary = json.loads((folder / "scale.json").read_text())
    print(
        json.dumps(
            {
                "records": args.records,
                "generate_seconds": generated,
                "seconds": round(time.perf_counter() - started, 1),
                "peak_rss_gib": round(usage.ru_maxrss / 2**20, 2),
                "peak_rss_gib_by_stage": {k: round(v, 2) for k, v in peaks.items()},
                "work_files_peak_gib": round(max(spill, default=0.0), 2),
                "store_gib": round(db.stat().st_size / 2**30, 2),
                "stages": summary["seconds"],
                "candidate_pairs": summary["candidate_pairs"],
                "golden_records": summary["golden_records"],
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()

"""Jobs through the API: how fast a job goes, and what it does to matching.

Usage:
  .venv/bin/python benchmarks/jobs.py --records 100000 [--batch 10000]
  .venv/bin/python benchmarks/jobs.py --records 1000000 --mode full
  .venv/bin/python benchmarks/jobs.py --records 1000000 --changed 5000 --traffic none

``--changed N``: N of the batch are stored crm records with a changed town (the rest
are new). ``--traffic none``: nobody matches meanwhile (a nightly batch on its own: the
job does not rest between records); the job is then sent a second time, which must
change nothing.

``--mode full``: the whole crm extract (the held-back records now in it) is sent as a
full reconciliation job; meanwhile one client matches back to back and another
upserts a record every 0.2 s. Adds the job's stages, the child's peak RSS, the
service's peak RSS during the job, and how the upserts fared (a 503 while the new
engine is built is a refusal, retried by the client).

Uses generated data (benchmarks/data/<N>/, as benchmarks/bulk.py makes it). ``--batch``
crm records are held back; the rest is reconciled in bulk and the service starts on the
store. One client sends ``POST /v1/match`` requests back to back (held-back records)
for a baseline; then the held-back records are submitted as a job
(``POST /v1/jobs``) while that client keeps matching. Prints the job's wall time and
records per second, and match p50/p99 before and during the job, as JSON.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import pandas as pd

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from _data import hold_back_crm, latency_ms  # noqa: E402
from _service import serving  # noqa: E402

from api import Settings  # noqa: E402
from mdm.bulk.ingest import parse_source_arg  # noqa: E402
from mdm.bulk.reconcile import reconcile  # noqa: E402
from mdm.bundled import DEFAULT_MATCH_RULES  # noqa: E402
from mdm.rules.bundle import RulesBundle  # noqa: E402

RULES = DEFAULT_MATCH_RULES
COLUMNS = {"fname": "first_name", "surname": "last_name", "dob": "date_of_birth",
           "email": "email", "postcode": "postcode"}  # fmt: skip


def _rss_kib() -> int:
    """This process's resident memory now (the service runs in it)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def _submit(client: httpx.Client, body: bytes, mode: str) -> tuple[dict, dict]:
    """Send a job and follow it to its end: the job, and when each stage was first seen."""
    clock = time.perf_counter()
    job = client.post(
        "/v1/jobs", files={"file": ("crm.csv", body, "text/csv")},
        data={"source": "crm", "mode": mode},
    ).json()  # fmt: skip
    stages = {}
    while job["status"] in ("queued", "running"):
        time.sleep(0.1)
        job = client.get(f"/v1/jobs/{job['job_id']}").json()
        stages.setdefault(job["stage"], round(time.perf_counter() - clock, 1))
    return job, stages


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=10_000)
    parser.add_argument("--mode", choices=["incremental", "full"], default="incremental")
    parser.add_argument("--changed", type=int, default=0, help="stored records changed")
    parser.add_argument("--traffic", choices=["match", "none"], default="match")
    args = parser.parse_args()
    folder = HERE / "data" / str(args.records)
    figures: dict = {"records": args.records, "batch": args.batch, "mode": args.mode}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        held, kept, sources = hold_back_crm(folder, args.batch - args.changed, work)
        db = work / "mdm.duckdb"
        clock = time.perf_counter()
        reconcile([parse_source_arg(s) for s in sources], db, RulesBundle.load(RULES))
        figures["bulk_s"] = round(time.perf_counter() - clock, 1)
        probes = [
            {COLUMNS[c]: v for c, v in row.items() if c in COLUMNS and isinstance(v, str)}
            for row in held.to_dict("records")
        ]
        batch = held
        if args.changed:
            changed = kept.iloc[: args.changed].copy()
            town = next(c for c in changed.columns if c.lower() in ("town", "city"))
            changed[town] = "Newtown"
            batch = pd.concat([held, changed])
        body = batch.to_csv(index=False).encode()
        if args.mode == "full":  # the whole extract: what the store has and what it lacks
            body = (folder / "crm.csv").read_bytes()
        with serving(Settings(db=db)) as (url, started, headers):
            figures["service_start_s"] = started
            with httpx.Client(base_url=url, timeout=60, headers=headers) as client:
                baseline = []
                for probe in probes[:500]:
                    clock = time.perf_counter()
                    client.post("/v1/match", json=probe).raise_for_status()
                    baseline.append(time.perf_counter() - clock)
                figures["match_before_job"] = latency_ms(baseline)
                during: list[float] = []
                failures: dict[int, int] = {}  # match answers by status code
                done = threading.Event()

                def probe_loop() -> None:
                    with httpx.Client(base_url=url, timeout=60, headers=headers) as prober:
                        i = 0
                        while not done.is_set():
                            clock = time.perf_counter()
                            answer = prober.post("/v1/match", json=probes[i % len(probes)])
                            during.append(time.perf_counter() - clock)
                            failures[answer.status_code] = failures.get(answer.status_code, 0) + 1
                            i += 1

                upserts: dict[str, int] = {"ok": 0, "refused_503": 0, "failed": 0}
                rss: list[int] = []

                def write_loop() -> None:
                    with httpx.Client(base_url=url, timeout=60, headers=headers) as writer:
                        i = 0
                        while not done.is_set():
                            record = {"source": "callcentre", "record_id": f"BENCH-{i}",
                                      **probes[i % len(probes)]}  # fmt: skip
                            code = writer.post("/v1/records", json={"records": [record]})
                            kind = {200: "ok", 503: "refused_503"}.get(code.status_code, "failed")
                            upserts[kind] += 1
                            i += 1
                            rss.append(_rss_kib())
                            time.sleep(0.2)

                threads = [threading.Thread(target=probe_loop)] if args.traffic == "match" else []
                if args.traffic == "none":
                    time.sleep(1.5)  # the baseline's matches are over: the job need not rest
                if args.mode == "full":
                    threads.append(threading.Thread(target=write_loop))
                for thread in threads:
                    thread.start()
                clock = time.perf_counter()
                job, stages = _submit(client, body, args.mode)
                figures["job_wall_s"] = round(time.perf_counter() - clock, 1)
                if args.traffic == "none" and args.mode == "incremental":
                    again = time.perf_counter()
                    second, _ = _submit(client, body, args.mode)
                    figures["second_send"] = {"wall_s": round(time.perf_counter() - again, 1),
                                              "actions": second["actions"]}  # fmt: skip
                done.set()
                for thread in threads:
                    thread.join()
                figures["job"] = {k: job[k] for k in ("status", "records", "done", "seconds",
                                                      "records_per_second", "actions", "error",
                                                      "peak_rss_mib", "stages")}  # fmt: skip
                figures["stage_started_at_s"] = stages
                if during:
                    figures["match_during_job"] = latency_ms(during)
                figures["match_status_codes"] = failures
                if args.mode == "full":
                    figures["upserts_during_job"] = upserts
                    figures["service_peak_rss_gib_during_job"] = round(max(rss) / 2**20, 2)
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()

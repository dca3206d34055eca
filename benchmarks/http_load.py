"""HTTP load on loopback: 80% match, 20% upsert, driven by wrk against ``mdm serve``.

Usage:  .venv/bin/python benchmarks/http_load.py [--records 100000] [--seconds 30]
            [--connections 16] [--think-ms 0] [--upsert-percent 20] [--runs 1]

Generated data (benchmarks/data/<N>/, as benchmarks/bulk.py makes it) with 2% of the
records held back; the rest is reconciled in bulk into a store, ``mdm serve`` starts
on it (one process, which owns the store), and wrk (``apt-get install wrk``) sends
``POST /v1/match`` with held-back records (80%) and ``POST /v1/records`` upserting
them (20%, each a different record). Prints requests per second, latency p50/p99 and
errors. Target on 2 cores: >= 500 requests/s with p99 <= 50 ms and no errors.

Without ``--think-ms`` every connection sends its next request as soon as the last is
answered: the service is saturated and the figures are its capacity (latency is then
mostly queueing). With ``--think-ms`` each connection pauses between requests, so
connections x 1000 / think-ms bounds the load offered (a steady load below capacity).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from _service import admin_headers  # noqa: E402

LUA = r"""
local matches = {MATCHES}
local upserts = {UPSERTS}
local counter = 0
local UPSERT_EVERY = {UPSERT_EVERY}
local offset = 0
local stride = 1
function setup(thread)
  thread:set("offset", THREADS_SEEN)
  THREADS_SEEN = THREADS_SEEN + 1
end
THREADS_SEEN = 0
function init(args)
  stride = {THREADS}
end
function delay()
  return {THINK_MS}
end
request = function()
  counter = counter + 1
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["Authorization"] = "Bearer {TOKEN}"
  if UPSERT_EVERY > 0 and counter % UPSERT_EVERY == 0 then
    local i = ((counter / UPSERT_EVERY) * stride + offset) % #upserts + 1
    return wrk.format("POST", "/v1/records", nil, upserts[i])
  end
  local i = (counter * stride + offset) % #matches + 1
  return wrk.format("POST", "/v1/match", nil, matches[i])
end
"""


def _lua_list(bodies: list[str]) -> str:
    return "{" + ",".join("[==[" + b + "]==]" for b in bodies) + "}"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _percentile(text: str, label: str) -> float:
    found = re.search(rf"^\s*{label}%\s+([\d.]+)(us|ms|s)", text, re.MULTILINE)
    if not found:
        return float("nan")
    value, unit = float(found.group(1)), found.group(2)
    return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _memory_figures(samples: list[tuple[float, float]]) -> dict:
    """The server's memory over the run: after the first minute (warm) and in the last
    minute, and the growth between them."""
    if len(samples) < 4:
        return {"rss_mib_max": round(max((m for _, m in samples), default=0.0), 1)}
    end = samples[-1][0]
    warm = [m for t, m in samples if 60 <= t <= 120] or [samples[len(samples) // 4][1]]
    last = [m for t, m in samples if t >= end - 60]
    return {
        "rss_mib_after_first_minute": round(statistics.median(warm), 1),
        "rss_mib_last_minute": round(statistics.median(last), 1),
        "rss_growth_mib": round(statistics.median(last) - statistics.median(warm), 1),
        "rss_mib_max": round(max(m for _, m in samples), 1),
    }


def main() -> None:
    from realtime import prepared_store

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--seconds", type=int, default=30)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--upsert-percent", type=float, default=20, help="share of upserts (0: matches only)"
    )
    parser.add_argument(
        "--think-ms",
        type=int,
        default=0,
        help="each connection pauses this long between requests (0: as fast as it can); "
        "with enough connections this offers a steady load instead of saturating",
    )
    parser.add_argument("--runs", type=int, default=1, help="repeat on fresh store copies")
    parser.add_argument("--json", type=Path)
    parser.add_argument(
        "--profile",
        type=Path,
        help="record the server with py-spy into this file (.svg: flame graph, else stacks)",
    )
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: apt-get install wrk")
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        db, held, _ = prepared_store(args.records, tmp)
        runs = []
        for i in range(args.runs):  # each on a fresh copy of the store
            folder = tmp / f"run{i}"
            folder.mkdir()
            shutil.copy(db, folder / "store.duckdb")
            runs.append(run_load(folder / "store.duckdb", held, folder, args))
        figures = {
            "runs": runs,
            "median_requests_per_second": statistics.median(r["requests_per_second"] for r in runs),
            "median_p99_ms": statistics.median(r["p99_ms"] for r in runs),
            "worst_p99_ms": max(r["p99_ms"] for r in runs),
            "errors": sum(r["non_2xx"] for r in runs),
        }
        print(json.dumps({k: v for k, v in figures.items() if k != "runs"}))
        if args.json:
            args.json.write_text(json.dumps(figures, indent=2))


def run_load(db: Path, held: list[dict], tmp: Path, args: argparse.Namespace) -> dict:
    """Serve ``db`` and drive it with wrk; the figures."""
    records = [{k: v for k, v in r.items() if k != "extra"} for r in held]
    matches = [json.dumps({k: v for k, v in r.items() if k not in ("source", "record_id")})
               for r in records]  # fmt: skip
    upserts = [json.dumps({"records": [r], "by": "load"}) for r in records]
    script = tmp / "mix.lua"
    script.write_text(
        LUA.replace("{MATCHES}", _lua_list(matches))
        .replace("{UPSERTS}", _lua_list(upserts))
        .replace("{THREADS}", str(args.threads))
        .replace("{THINK_MS}", str(getattr(args, "think_ms", 0)))
        .replace(
            "{UPSERT_EVERY}",
            str(round(100 / args.upsert_percent) if args.upsert_percent > 0 else 0),
        )
    )
    headers = admin_headers(db)
    script.write_text(
        script.read_text().replace("{TOKEN}", headers["Authorization"].removeprefix("Bearer "))
    )
    port = _free_port()
    log = (tmp / "serve.log").open("wb")
    started = time.perf_counter()
    profiler = []
    if getattr(args, "profile", None):
        spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
        profiler = [spy, "record", "-o", str(args.profile)]
        if args.profile.suffix != ".svg":
            profiler += ["--format", "raw", "--gil"]  # collapsed stacks, GIL holders
        profiler.append("--")
    server = subprocess.Popen(
        [
            *profiler,
            str(Path(sys.executable).parent / "mdm"),
            "serve",
            "--db",
            str(db),
            "--port",
            str(port),
        ],  # fmt: skip
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "MDM_RATE_LIMIT": "1e9", "MDM_RATE_BURST": "1000000000"},
    )
    try:
        while True:
            try:
                httpx.get(f"http://127.0.0.1:{port}/health", timeout=1)
                break
            except httpx.TransportError:
                if server.poll() is not None:
                    raise SystemExit((tmp / "serve.log").read_text()) from None
                time.sleep(0.2)
        startup = time.perf_counter() - started
        # Warm-up: a few hundred matches.
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=headers) as client:
            for body in matches[:300]:
                client.post("/v1/match", content=body, headers={"content-type": "application/json"})
        samples: list[tuple[float, float]] = []
        sampling = threading.Event()

        def sample_memory() -> None:  # the server's resident memory every 5 s
            begun = time.perf_counter()
            while not sampling.wait(5.0):
                samples.append((time.perf_counter() - begun, _rss_mib(server.pid)))

        sampler = threading.Thread(target=sample_memory, daemon=True)
        sampler.start()
        out = subprocess.run(
            [
                "wrk",
                f"-t{args.threads}",
                f"-c{args.connections}",
                f"-d{args.seconds}s",
                "--latency",
                "-s",
                str(script),
                f"http://127.0.0.1:{port}",
            ],  # fmt: skip
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        sampling.set()
        sampler.join()
    finally:
        if profiler:
            server.send_signal(signal.SIGINT)  # py-spy writes its file on SIGINT
        else:
            server.terminate()
        server.wait(timeout=30)
        log.close()
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(r"Socket errors: (.*)", out)
    figures = {
        "records_held_back": len(held),
        "server_startup_seconds": round(startup, 1),
        "connections": args.connections,
        "upsert_percent": args.upsert_percent,
        "seconds": args.seconds,
        "requests_per_second": rps,
        "p50_ms": _percentile(out, "50"),
        "p99_ms": _percentile(out, "99"),
        "non_2xx": int(errors.group(1)) if errors else 0,
        "socket_errors": socket_errors.group(1) if socket_errors else "none",
        **_memory_figures(samples),
    }
    print(out)
    print(json.dumps(figures))
    return figures


if __name__ == "__main__":
    main()

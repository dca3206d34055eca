"""Crash harness: the service killed with SIGKILL at random moments, again and again.

Usage:  .venv/bin/python benchmarks/crash.py --cycles 1000 [--seed 1] [--records 1000]

Each cycle starts ``mdm serve`` on the same store, drives it from several clients
(upserts and deletes of records each client owns, merges and unmerges of the golden
records they land in; every few cycles a full reconciliation job as well), kills the
whole process group with SIGKILL at a random moment, and then opens the store as the
next start would and checks:

* every acknowledged write is there: each record holds the last value a 2xx answered
  for (or, if a write to it was in flight at the kill, that one), and each record
  whose delete was acknowledged is gone;
* the store holds together (:func:`mdm.checks.store_problems`, with every golden
  record derived again): no job is half-applied, the lifecycle invariants hold;
* no request got a 5xx.

Prints the totals as JSON; exit 1 if any write was lost or any check failed. A short
run is part of the test suite (tests/test_crash.py).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from mdm.bundled import DEFAULT_MATCH_RULES  # noqa: E402
from mdm.checks import store_problems  # noqa: E402
from mdm.rules.bundle import RulesBundle  # noqa: E402
from mdm.store import open_store  # noqa: E402

RULES = DEFAULT_MATCH_RULES
FIRST = ["Ann", "Anne", "Bob", "Robert", "Cara", "Dev", "Eli", "Fay"]
LAST = ["Smith", "Smyth", "Jones", "Khan", "Lee", "Okafor"]
ABSENT = "<absent>"


@dataclass
class Ledger:
    """What the clients were told: per record, the last acknowledged value (ABSENT
    after a delete) and the value of a write in flight at the kill."""

    acknowledged: dict[str, str] = field(default_factory=dict)
    in_flight: dict[str, str] = field(default_factory=dict)
    golden: dict[str, str] = field(default_factory=dict)
    writes: int = 0
    acked: int = 0
    server_errors: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def prepare_store(folder: Path, records: int, seed: int) -> tuple[Path, str]:
    """A reconciled store of ``records`` generated records, and an admin key for it."""
    from mdm.bulk.ingest import parse_source_arg
    from mdm.bulk.reconcile import reconcile
    from mdm.generate import GeneratorConfig, write_sample
    from mdm.store.keys import create_key

    sample = folder / "sample"
    write_sample(sample, GeneratorConfig(n_records=records, seed=seed))
    db = folder / "crash.duckdb"
    files = sorted(p for p in sample.iterdir() if p.suffix != ".md")
    reconcile([parse_source_arg(str(p)) for p in files], db, RulesBundle.load(RULES))
    con = open_store(db)
    try:
        token = create_key(con, "crash harness", "admin", "crash")[1]
    finally:
        con.close()
    return db, token


def _client_loop(
    url: str, token: str, worker: int, rng: random.Random, ledger: Ledger, stop: threading.Event
) -> None:
    keys = [f"W{worker}-{n}" for n in range(12)]
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=url, headers=headers, timeout=30) as client:
        while not stop.is_set():
            key = rng.choice(keys)
            roll = rng.random()
            try:
                if roll < 0.7:
                    _upsert(client, key, rng, ledger)
                elif roll < 0.85:
                    _delete(client, key, ledger)
                elif roll < 0.95:
                    _merge(client, rng, ledger)
                else:
                    _unmerge(client, key, ledger)
            except httpx.TransportError:
                return  # the service is gone: the write in flight stays in flight


def _check_status(answer: httpx.Response, what: str, ledger: Ledger) -> None:
    if answer.status_code >= 500 and answer.status_code != 503:
        with ledger.lock:
            ledger.server_errors.append(f"{what}: {answer.status_code} {answer.text[:200]}")


def _upsert(client: httpx.Client, key: str, rng: random.Random, ledger: Ledger) -> None:
    with ledger.lock:
        ledger.writes += 1
        value = f"{key.lower()}.{ledger.writes}@example.org"
        ledger.in_flight[key] = value
    record = {"source": "crash", "record_id": key, "first_name": rng.choice(FIRST),
              "last_name": rng.choice(LAST), "email": value}  # fmt: skip
    answer = client.post("/v1/records", json={"records": [record], "by": "crash"})
    _check_status(answer, "upsert", ledger)
    with ledger.lock:
        if answer.status_code == 200:
            ledger.acked += 1
            ledger.acknowledged[key] = value
            ledger.golden[key] = answer.json()["results"][0]["golden_id"]
        if ledger.in_flight.get(key) == value:
            del ledger.in_flight[key]


def _delete(client: httpx.Client, key: str, ledger: Ledger) -> None:
    with ledger.lock:
        ledger.in_flight[key] = ABSENT
    answer = client.delete(f"/v1/records/crash/{key}")
    _check_status(answer, "delete", ledger)
    with ledger.lock:
        if answer.status_code in (200, 404):
            ledger.acked += answer.status_code == 200
            ledger.acknowledged[key] = ABSENT
            ledger.golden.pop(key, None)
        if ledger.in_flight.get(key) == ABSENT:
            del ledger.in_flight[key]


def _merge(client: httpx.Client, rng: random.Random, ledger: Ledger) -> None:
    with ledger.lock:
        known = sorted(set(ledger.golden.values()))
    if len(known) < 2:
        return
    first, second = rng.sample(known, 2)
    answer = client.post(
        "/v1/golden/merge",
        json={"golden_ids": [first, second], "by": "crash", "reason": "t", "confirm": True},
    )
    _check_status(answer, "merge", ledger)


def _unmerge(client: httpx.Client, key: str, ledger: Ledger) -> None:
    with ledger.lock:
        golden_id = ledger.golden.get(key)
    if golden_id is None:
        return
    answer = client.post(
        f"/v1/golden/{golden_id}/unmerge",
        json={"records": [{"source": "crash", "record_id": key}], "by": "crash"},
    )
    _check_status(answer, "unmerge", ledger)


def _full_job(url: str, token: str, db: Path) -> None:
    """Send the crm extract again as a full reconciliation job (the kill may land in
    any of its stages)."""
    sample = db.parent / "sample" / "crm.csv"
    headers = {"Authorization": f"Bearer {token}"}
    with (
        httpx.Client(base_url=url, headers=headers) as client,
        contextlib.suppress(httpx.TransportError),  # killed before it answered
    ):
        client.post(
            "/v1/jobs",
            files={"file": ("crm.csv", sample.read_bytes(), "text/csv")},
            data={"source": "crm", "mode": "full"},
            timeout=30,
        )


def run_cycle(db: Path, token: str, rng: random.Random, ledger: Ledger, job: bool) -> dict:
    """One start, load, SIGKILL and check. Returns what the check found."""
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "MDM_DB": str(db),
           "MDM_APPLY_DELAY": str(rng.choice([0.0, 0.05, 0.5, 5.0]))}  # fmt: skip
    log = db.with_suffix(".serve.log").open("ab")
    server = subprocess.Popen(
        [sys.executable, "-m", "mdm", "serve", "--db", str(db), "--port", str(port)],
        stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True,
    )  # fmt: skip
    deadline = time.monotonic() + 120
    while True:
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                break
        except httpx.TransportError:
            pass
        if server.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"the service did not start; see {log.name}")
        time.sleep(0.05)
    stop = threading.Event()
    workers = [
        threading.Thread(
            target=_client_loop,
            args=(url, token, w, random.Random(rng.random()), ledger, stop),
        )
        for w in range(3)
    ]
    for worker in workers:
        worker.start()
    if job:
        threading.Thread(target=_full_job, args=(url, token, db), daemon=True).start()
    time.sleep(rng.uniform(0.2, 6.0 if job else 2.5))
    os.killpg(server.pid, signal.SIGKILL)  # the service and any job it started
    server.wait()
    stop.set()
    for worker in workers:
        worker.join()
    log.close()
    return check(db, ledger)


def check(db: Path, ledger: Ledger) -> dict:
    """Open the store as the next start would and compare with the ledger."""
    try:
        con = open_store(db)
    except Exception:
        kept = Path(tempfile.mkdtemp(prefix="mdm-crash-failure-"))
        shutil.copy(db, kept)
        journal = db.with_name(db.name + ".journal")
        if journal.exists():
            shutil.copytree(journal, kept / journal.name)
        print(f"the store did not open after the kill; kept in {kept}", file=sys.stderr)
        raise
    try:
        stored = dict(
            con.execute(  # the value as sent (standardising may blank a test address)
                "SELECT record_id, json_extract_string(raw, '$.email') FROM records "
                "WHERE source = 'crash'"
            ).fetchall()
        )
        lost = []
        with ledger.lock:
            keys = set(ledger.acknowledged) | set(ledger.in_flight)
            for key in sorted(keys):
                actual = stored.get(key, ABSENT)
                allowed = {ledger.acknowledged.get(key, ABSENT)}
                if key in ledger.in_flight:
                    allowed.add(ledger.in_flight[key])
                if actual not in allowed:
                    lost.append(f"{key}: stored {actual}, acknowledged {allowed}")
                else:  # what is stored is now what a client knows
                    ledger.acknowledged[key] = actual
            ledger.in_flight.clear()
            checked = len(keys)
        problems = store_problems(con, RulesBundle.load(RULES).survivorship, full=True)
    finally:
        con.close()
    return {"lost": lost, "problems": problems, "records_checked": checked}


def run(cycles: int, seed: int, records: int, folder: Path, job_every: int = 5) -> dict:
    rng = random.Random(seed)
    db, token = prepare_store(folder, records, seed)
    ledger = Ledger()
    totals = {"cycles": 0, "acknowledged_writes": 0, "lost_writes": 0, "failed_checks": 0,
              "server_errors": 0, "examples": []}  # fmt: skip
    started = time.perf_counter()
    for number in range(cycles):
        job = job_every > 0 and number % job_every == job_every - 1
        before = ledger.writes
        found = run_cycle(db, token, rng, ledger, job)
        totals["cycles"] += 1
        totals["acknowledged_writes"] = ledger.acked
        totals["lost_writes"] += len(found["lost"])
        totals["failed_checks"] += bool(found["problems"])
        if found["lost"] or found["problems"]:
            print(f"cycle {number} (full job: {job}): lost {found['lost'][:3]}, problems "
                  f"{found['problems']}", file=sys.stderr, flush=True)  # fmt: skip
            if len(totals["examples"]) < 10:
                totals["examples"].append({"cycle": number, **found})
        if number % 25 == 0:
            print(f"cycle {number}: {ledger.writes - before} writes; lost so far "
                  f"{totals['lost_writes']}, failed checks {totals['failed_checks']}",
                  file=sys.stderr, flush=True)  # fmt: skip
    totals["server_errors"] = len(ledger.server_errors)
    totals["examples"] += ledger.server_errors[:5]
    totals["seconds"] = round(time.perf_counter() - started, 1)
    return totals


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cycles", type=int, default=100)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--records", type=int, default=1000)
    parser.add_argument("--job-every", type=int, default=5, help="a full job every N cycles")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mdm-crash-") as folder:
        totals = run(args.cycles, args.seed, args.records, Path(folder), args.job_every)
    print(json.dumps(totals, indent=2))
    if totals["lost_writes"] or totals["failed_checks"] or totals["server_errors"]:
        raise SystemExit(1)


if __name__ == "__main__":
    main()

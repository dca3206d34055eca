"""Steward pages: how long the queue and task pages take on a large store.

Usage:
  .venv/bin/python benchmarks/pages.py --records 1000000 --tasks 100000 [--requests 200]

Reconciles ``--records`` generated records (benchmarks/data/lifecycle-<N>/, made with
the project's generator if missing), tops the review queue up to ``--tasks`` open tasks
(pairs of random stored records, probabilities in the review band, ages up to 60 days),
starts the service on loopback, signs a steward in and requests the review queue (first
page, a filtered page, a deep page), random task pages, random customer pages and the
customer list searched by a random surname. Prints, per page, p50/p99 of
the time from request to the last byte on loopback (the server's time plus well under a
millisecond of loopback), as JSON.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
import tempfile
import time
from pathlib import Path

import duckdb
import httpx

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from _data import generated_sources, latency_ms  # noqa: E402
from _service import serving  # noqa: E402

from api import Settings  # noqa: E402
from mdm.bulk.ingest import parse_source_arg  # noqa: E402
from mdm.bulk.reconcile import reconcile  # noqa: E402
from mdm.bundled import DEFAULT_MATCH_RULES  # noqa: E402
from mdm.rules.bundle import RulesBundle  # noqa: E402
from mdm.store.users import add_user  # noqa: E402

RULES = DEFAULT_MATCH_RULES
PASSWORD = "benchmark password"


def _top_up(db: Path, tasks: int, seed: int) -> int:
    """Open review tasks up to ``tasks``, between random stored records."""
    with duckdb.connect(str(db)) as con:
        have = con.execute("SELECT count(*) FROM review_tasks WHERE status = 'open'").fetchall()
        missing = tasks - int(have[0][0])
        if missing > 0:
            con.execute(f"SELECT setseed({(seed % 1000) / 1000})").fetchall()
            con.execute(
                "INSERT INTO review_tasks SELECT (SELECT coalesce(max(task_id), 0) FROM "
                "review_tasks) + row_number() OVER (), l.source, l.record_id, r.source, "
                "r.record_id, NULL, NULL, 0.0, 0.3 + random() * 0.6, 'open', "
                "now()::TIMESTAMP - to_days(CAST(floor(random() * 60) AS INTEGER)), NULL, "
                "'records' "
                "FROM (SELECT source, record_id, row_number() OVER () AS n FROM "
                f"(FROM records USING SAMPLE {missing} ROWS)) l JOIN (SELECT source, record_id, "
                f"row_number() OVER () AS n FROM (FROM records USING SAMPLE {missing} ROWS)) r "
                "USING (n) WHERE (l.source, l.record_id) <> (r.source, r.record_id)"
            ).fetchall()
        add_user(con, "bench", PASSWORD, "steward")
        return int(
            con.execute("SELECT count(*) FROM review_tasks WHERE status = 'open'").fetchall()[0][0]
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--tasks", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--seed", type=int, default=5)
    args = parser.parse_args()
    files = generated_sources(args.records, args.seed)
    figures: dict = {"records": args.records}
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "mdm.duckdb"
        reconcile([parse_source_arg(str(p)) for p in files], db, RulesBundle.load(RULES))
        figures["open_tasks"] = _top_up(db, args.tasks, args.seed)
        with duckdb.connect(str(db), read_only=True) as con:
            customers = [
                row[0]
                for row in con.execute(
                    "SELECT golden_id FROM golden WHERE status = 'active' "
                    "USING SAMPLE 1000 ROWS (reservoir, 7)"
                ).fetchall()
            ]
            surnames = [
                row[0]
                for row in con.execute(
                    "SELECT last_name FROM golden WHERE status = 'active' AND last_name IS NOT "
                    "NULL USING SAMPLE 200 ROWS (reservoir, 7)"
                ).fetchall()
            ]
        settings = Settings(db=db, secure_cookies=False)
        with (
            serving(settings) as (url, started, _),
            httpx.Client(base_url=url, timeout=60) as client,
        ):
            figures["service_start_s"] = started
            page = client.get("/ui/login").text
            token = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
            client.post(
                "/ui/login", data={"csrf": token, "username": "bench", "password": PASSWORD}
            )
            task_ids = [
                int(t) for t in re.findall(r"/ui/tasks/(\d+)", client.get("/ui/queue?page=5").text)
            ]
            top = max(task_ids)
            pages = {
                "queue, first page": lambda _: "/ui/queue",
                "queue, filtered (source, band, age)": lambda _: (
                    "/ui/queue?source=crm&band=unsure&age=7&sort=oldest"
                ),
                "queue, page 1,000": lambda _: "/ui/queue?page=1000",
                "task page": lambda rng: f"/ui/tasks/{rng.randint(1, top)}",
                "customer page": lambda rng: f"/ui/golden/{rng.choice(customers)}",
                "find a customer (a surname)": lambda rng: f"/ui/search?q={rng.choice(surnames)}",
                "dashboard": lambda _: "/ui/",
            }
            rng = random.Random(args.seed)
            for name, path in pages.items():
                for _ in range(5):  # warm up
                    client.get(path(rng))
                times = []
                for _ in range(args.requests if name != "dashboard" else 20):
                    target = path(rng)
                    clock = time.perf_counter()
                    answer = client.get(target)
                    times.append(time.perf_counter() - clock)
                    if answer.status_code != 200:
                        raise SystemExit(f"{target}: {answer.status_code} {answer.text[:200]}")
                figures[name] = latency_ms(times)
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()

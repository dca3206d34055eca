"""Customer data from another country, end to end: bulk parsing, accuracy, and the
real-time service's answers to records it has never seen.

For each locale of the generator (``gb``, ``us``, ...): generate the four sources,
hold back the first records of one source (the branch staff's, typed by hand), and

1. reconcile the rest with ``mdm reconcile --json`` and report, per source, the locale
   it was read in (and why) and the share of phones and postcodes left unparsed;
2. score the store against the generator's truth (pairwise and B-cubed);
3. start the service on the store and send every held-back record to
   ``POST /v1/match`` and then ``POST /v1/records`` one at a time: count refusals
   (any non-2xx), answers with warnings, and how often the top candidate of a match is
   the right person.

Usage::

    .venv/bin/python benchmarks/locales.py --records 20000 --locales gb us
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import httpx
import pandas as pd

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from _service import serving  # noqa: E402

from api import Settings  # noqa: E402
from mdm.accuracy import evaluate  # noqa: E402
from mdm.bulk.ingest import SourceSpec, map_source  # noqa: E402
from mdm.bundled import DEFAULT_MATCH_RULES  # noqa: E402
from mdm.generate import GeneratorConfig, write_sample  # noqa: E402
from mdm.store import open_store  # noqa: E402

HELD_SOURCE = "branch"


def generated(locale: str, records: int, seed: int) -> dict[str, Path]:
    """The generated sources of one locale (made once, under benchmarks/data/)."""
    folder = HERE / "data" / f"locale-{locale}-{records}-{seed}"
    if not folder.exists():
        write_sample(folder, GeneratorConfig(n_records=records, seed=seed, locale=locale))
    return {p.stem: p for p in sorted(folder.iterdir()) if p.is_file() and p.suffix != ".md"}


def hold_back(paths: dict[str, Path], n: int, work: Path) -> tuple[pd.DataFrame, list[str]]:
    """The first ``n`` records of the held source in schema columns (with their truth),
    and the sources to reconcile in bulk as NAME=PATH (the rest of the held source
    written to ``work``)."""
    path = paths[HELD_SOURCE]
    mapped = map_source(SourceSpec(HELD_SOURCE, path), None)
    frame = mapped.frame.assign(true_person_id=mapped.raw["true_person_id"].to_numpy())
    held = frame.iloc[:n]
    kept = mapped.raw.iloc[n:]
    kept_path = work / f"{HELD_SOURCE}.csv"
    kept.to_csv(kept_path, index=False)
    sources = [f"{name}={p}" for name, p in paths.items() if name != HELD_SOURCE]
    return held, [*sources, f"{HELD_SOURCE}={kept_path}"]


def reconcile(sources: list[str], db: Path) -> tuple[dict, float]:
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "mdm", "reconcile", *sources, "--db", str(db), "--json"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if result.returncode != 0:
        raise SystemExit(f"mdm reconcile failed:\n{result.stderr}")
    return json.loads(result.stdout), time.perf_counter() - started


def golden_truth(db: Path, paths: dict[str, Path]) -> dict[str, str]:
    """Each golden id's person by the generator's truth (the majority of its records)."""
    truth = {}
    for name, path in paths.items():
        mapped = map_source(SourceSpec(name, path), None)
        for rid, person in zip(mapped.frame["record_id"], mapped.raw["true_person_id"],
                               strict=True):  # fmt: skip
            truth[(name, rid)] = person
    con = open_store(db, create=False)
    try:
        xref = con.execute("SELECT source, record_id, golden_id FROM xref").fetchall()
    finally:
        con.close()
    votes: dict[str, Counter] = {}
    for source, rid, golden in xref:
        if (source, rid) in truth:
            votes.setdefault(golden, Counter())[truth[(source, rid)]] += 1
    return {golden: counts.most_common(1)[0][0] for golden, counts in votes.items()}


def _record(row: pd.Series) -> dict:
    body = {k: v for k, v in row.items() if k != "true_person_id" and isinstance(v, str)}
    return {**body, "source": HELD_SOURCE}


def ask_service(db: Path, held: pd.DataFrame, truth: dict[str, str]) -> dict:
    """Send the held records to the service: matches first, then upserts."""
    statuses: dict[str, Counter] = {"match": Counter(), "upsert": Counter()}
    warned: Counter = Counter()
    refusals: list[str] = []
    top_right = asked = 0
    settings = Settings(db=db, rules=DEFAULT_MATCH_RULES)
    with serving(settings) as (url, _, headers), httpx.Client(base_url=url, headers=headers,
                                                               timeout=60) as client:  # fmt: skip
        for _, row in held.iterrows():
            answer = client.post("/v1/match", json=_record(row))
            statuses["match"][answer.status_code] += 1
            if answer.status_code != 200:
                refusals.append(f"match {answer.status_code}: {answer.text[:160]}")
                continue
            body = answer.json()
            warned["match"] += bool(body.get("warnings"))
            if body["candidates"] and row["true_person_id"] in truth.values():
                asked += 1
                top = body["candidates"][0]["golden_id"]
                top_right += truth.get(top) == row["true_person_id"]
        for _, row in held.iterrows():
            answer = client.post("/v1/records", json={"records": [_record(row)], "by": "bench"})
            statuses["upsert"][answer.status_code] += 1
            if answer.status_code != 200:
                refusals.append(f"upsert {answer.status_code}: {answer.text[:160]}")
            else:
                warned["upsert"] += any(r.get("warnings") for r in answer.json()["results"])
    return {
        "match_statuses": dict(statuses["match"]),
        "upsert_statuses": dict(statuses["upsert"]),
        "answers_with_warnings": dict(warned),
        "refusal_examples": refusals[:5],
        "top_candidate_right": round(top_right / asked, 4) if asked else None,
        "queries_whose_person_is_stored": asked,
    }


def source_figures(summary: dict) -> list[dict]:
    """Per source: records, the locale used and why, unparsed phones and postcodes."""
    rows = []
    for source in summary.get("sources", []):
        records = source.get("records") or 0
        unparseable = source.get("unparseable", {})
        rows.append(
            {
                "source": source.get("name"),
                "records": records,
                "locale": source.get("locale"),
                "phones_unparsed": unparseable.get("phone", 0),
                "phones_unparsed_share": round(unparseable.get("phone", 0) / records, 4)
                if records
                else None,
                "postcodes_unparsed": unparseable.get("postcode", 0),
                "local_only_phones": source.get("local_only"),
            }
        )
    return rows


def run(locale: str, records: int, seed: int, hold: int) -> dict:
    paths = generated(locale, records, seed)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        held, sources = hold_back(paths, hold, work)
        db = work / "store.duckdb"
        summary, seconds = reconcile(sources, db)
        report = evaluate(db, "true_person_id")
        truth = golden_truth(db, {**paths, HELD_SOURCE: work / f"{HELD_SOURCE}.csv"})
        service = ask_service(db, held, truth)
    return {
        "locale": locale,
        "records": records,
        "seed": seed,
        "held_back": len(held),
        "reconcile_seconds": round(seconds, 1),
        "sources": source_figures(summary),
        "pairwise": report.pairwise,
        "bcubed": report.bcubed,
        "service": service,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--hold", type=int, default=2_000, help="records held back")
    parser.add_argument("--locales", nargs="+", default=["gb", "us"])
    args = parser.parse_args()
    results = [run(loc, args.records, args.seed, args.hold) for loc in args.locales]
    print(json.dumps(results, indent=2, default=str))


if __name__ == "__main__":
    main()

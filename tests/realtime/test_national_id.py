"""National identifiers from file to golden record, in bulk and in real time.

Sources that carry a social security number under their own headers ("SSN",
"Social Security Number"): the number is standardised, trained on, kept on the golden
record, and a record holding it finds its person in real time by it alone.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from mdm.bulk.ingest import parse_source_arg
from mdm.bulk.reconcile import reconcile
from mdm.bundled import DEFAULT_MATCH_RULES
from mdm.realtime.engine import Engine
from mdm.rules.bundle import RulesBundle
from mdm.store.changes import apply_changes
from mdm.store.reads import get_golden


def _numbers(people: pd.Series, seed: int) -> dict[str, str]:
    """One nine-digit number per person, written as an American would."""
    rng = np.random.default_rng(seed)
    unique = sorted(people.dropna().unique())
    digits = rng.choice(np.arange(100_000_000, 900_000_000), len(unique), replace=False)
    return {p: f"{d // 1_000_000:03d}-{d // 10_000 % 100:02d}-{d % 10_000:04d}"
            for p, d in zip(unique, digits, strict=True)}  # fmt: skip


def _slip(number: str) -> str:
    """Two neighbouring digits swapped: one typing slip."""
    return number[:-2] + number[-1] + number[-2]


@pytest.fixture(scope="module")
def id_store(sample_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample, where crm keeps an 'SSN' for most people and billing a 'Social
    Security Number' with a typing slip in one record of ten."""
    folder = tmp_path_factory.mktemp("national-ids")
    crm = pd.read_csv(sample_dir / "crm.csv", dtype=str)
    billing = pd.read_parquet(sample_dir / "billing.parquet")
    people = pd.concat([crm["true_person_id"], billing["true_person_id"]])
    numbers = _numbers(people, seed=3)
    crm["SSN"] = crm["true_person_id"].map(numbers)
    crm.loc[crm.index % 5 == 0, "SSN"] = None
    crm.to_csv(folder / "crm.csv", index=False)
    written = billing["true_person_id"].map(numbers)
    slipped = billing.index % 10 == 3
    written[slipped] = written[slipped].map(_slip)
    billing["Social Security Number"] = written
    billing.to_parquet(folder / "billing.parquet")
    for other in ("branch.xlsx", "webshop.jsonl"):
        shutil.copy(sample_dir / other, folder / other)
    db = folder / "mdm.duckdb"
    sources = [parse_source_arg(str(p)) for p in sorted(folder.iterdir()) if p.suffix != ".duckdb"]
    reconcile(sources, db, RulesBundle.load(DEFAULT_MATCH_RULES))
    return db


def test_bulk_standardises_trains_and_keeps_the_number(id_store: Path) -> None:
    with duckdb.connect(str(id_store), read_only=True) as con:
        values = con.execute(
            "SELECT national_id FROM records WHERE national_id IS NOT NULL"
        ).fetchall()
        assert values and all(v.isdigit() and len(v) == 9 for (v,) in values)
        golden = con.execute("SELECT count(national_id) FROM golden WHERE status = 'active'")
        assert golden.fetchall()[0][0] > 0
        latest = "SELECT model FROM models ORDER BY created_at DESC LIMIT 1"
        model = con.execute(latest).fetchall()[0][0]
    settings = json.loads(model)["splink_settings"]
    trained = {c["output_column_name"]: c for c in settings["comparisons"]}
    levels = trained["national_id"]["comparison_levels"]
    exact = next(level for level in levels if level.get("label_for_charts") == "exact")
    assert exact.get("m_probability") is not None and exact.get("u_probability") is not None


def test_real_time_finds_a_person_by_the_number_alone(id_store: Path, tmp_path: Path) -> None:
    db = tmp_path / "mdm.duckdb"
    shutil.copy(id_store, db)
    with duckdb.connect(str(db)) as con:
        bundle = RulesBundle.load(DEFAULT_MATCH_RULES)
        engine = Engine(con, bundle.survivorship, bundle.rules_dir)
        golden_id, number, last = con.execute(
            "SELECT x.golden_id, r.national_id, r.last_name FROM records r "
            "JOIN xref x USING (source, record_id) WHERE r.national_id IS NOT NULL "
            "AND r.last_name IS NOT NULL ORDER BY r.source, r.record_id LIMIT 1"
        ).fetchone()
        spaced = f"{number[:3]} {number[3:5]} {number[5:]}"
        found = engine.match({"last_name": last[::-1], "national_id": spaced})
        best = found.candidates[0]
        assert best.golden_id == golden_id
        labels = {hit.comparison: hit.label for hit in best.comparisons}
        assert labels["national_id"] == "exact"

        record = {"source": "api", "record_id": "N1", "national_id": spaced,
                  "first_name": "Quentavious", "last_name": last}  # fmt: skip
        result, changes = engine.upsert(record)
        con.execute("BEGIN").fetchall()
        apply_changes(con, [changes])
        con.execute("COMMIT").fetchall()
        stored = con.execute(
            "SELECT national_id FROM records WHERE source = 'api' AND record_id = 'N1'"
        ).fetchall()
        assert stored == [(number,)]
        assert get_golden(con, result.golden_id)["national_id"] is not None

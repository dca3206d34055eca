"""End-to-end on splink's labelled fake_1000: a regression guard, not the benchmark.

The figures that matter (and the targets) are in benchmarks/RESULTS.md.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from mdm.accuracy import evaluate
from mdm.bulk.ingest import SourceSpec
from mdm.bulk.reconcile import reconcile
from mdm.bundled import DEFAULT_MATCH_RULES
from mdm.rules.bundle import RulesBundle

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def fake_1000(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from splink.internals.datasets.splink_datasets import datasets_cache_dir

    if not (Path(datasets_cache_dir) / "fake_1000.csv").is_file():
        pytest.skip(
            "splink's fake_1000 is not in its dataset cache; with internet it downloads on "
            "first use, offline run ../shared/tools/seed-splink-datasets .venv/bin/python"
        )
    from splink import splink_datasets

    path = tmp_path_factory.mktemp("fake") / "fake_1000.csv"
    splink_datasets.fake_1000.to_pandas().rename(columns={"cluster": "truth"}).astype(str).replace(
        {"nan": "", "None": ""}
    ).to_csv(path, index=False)
    return path


def test_fake_1000_end_to_end(fake_1000: Path, tmp_path: Path) -> None:
    rules = RulesBundle.load(DEFAULT_MATCH_RULES, mappings_dir=REPO / "benchmarks" / "rules")
    db = tmp_path / "fake.duckdb"
    result = reconcile([SourceSpec("fake_1000", fake_1000)], db, rules)
    assert result.records == 1000
    report = evaluate(db, "truth")
    assert report.pairwise["f1"] > 0.9
    assert report.pairwise["precision"] > 0.95

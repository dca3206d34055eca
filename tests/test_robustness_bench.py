"""The robustness matrix's machinery (benchmarks/robustness.py) on one tiny generated
configuration, mdm and plain splink both, so the benchmark cannot rot unnoticed."""

from __future__ import annotations

import sys
from pathlib import Path

from mdm.generate import GeneratorConfig

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def _robustness():
    sys.path.insert(0, str(BENCHMARKS))
    try:
        import robustness
    finally:
        sys.path.remove(str(BENCHMARKS))
    return robustness


def test_a_generated_row_has_every_figure(tmp_path: Path) -> None:
    robustness = _robustness()
    case = robustness.Case(
        "tiny names + dob + email",
        "a column subset of a small generated set",
        config=GeneratorConfig(n_records=400, seed=3, locale="us"),
        keep=(*robustness.NAMES, "date_of_birth", "email"),
    )
    work = tmp_path / "work"
    work.mkdir()
    row = robustness.run_case(case, work, data_dir=tmp_path)

    assert row["records"] == 400
    for who in ("mdm", "splink"):
        figures = row[who]
        assert "error" not in figures, figures
        for kind in ("pairwise", "bcubed"):
            assert all(0 <= figures[kind][k] <= 1 for k in ("precision", "recall", "f1"))
        assert 0 < figures["blocking_recall"] <= 1
        assert 0 < figures["threshold"] < 1
        assert figures["largest_cluster"] >= 1 and figures["pairs"] > 0
        assert figures["seconds"] > 0
    assert row["mdm"]["threshold_bound"] in ("", "floor", "ceiling", "fixed")

    table = robustness.worst_first([row, {"row": "broken", "records": 1, "mdm": {"error": "X"}}])
    assert [r["row"] for r in table] == ["broken", case.name]  # a failed row is the worst
    text = robustness.markdown(table)
    assert "mdm failed: X" in text and case.name in text
    assert robustness.summary(table).startswith(
        f"mdm failed on: broken; worst scored row: {case.name}"
    )

"""``mdm evaluate`` as the README shows it, on a store of the generator's records."""

from __future__ import annotations

import json
import shlex
import shutil
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from mdm.cli import app

REPO = Path(__file__).resolve().parents[2]


def _readme_examples() -> list[list[str]]:
    """The README's ``mdm evaluate`` command lines, as argument lists (after ``mdm``)."""
    lines = (REPO / "README.md").read_text(encoding="utf-8").splitlines()
    found = [
        shlex.split(line.split("#")[0])[1:]
        for line in lines
        if line.startswith(".venv/bin/mdm evaluate ")
    ]
    assert found, "the README shows no 'mdm evaluate' example"
    return found


def _option(args: list[str], name: str) -> str:
    return args[args.index(name) + 1]


def test_the_readme_names_a_truth_column_the_bundled_sample_carries() -> None:
    sample = REPO / "mdm" / "data" / "sample" / "crm.csv"
    columns = pd.read_csv(sample, nrows=1).columns
    for args in _readme_examples():
        assert _option(args, "--truth") in columns, args


@pytest.mark.parametrize("args", _readme_examples(), ids=lambda a: " ".join(a[3:]) or "table")
def test_the_readmes_evaluate_example_runs(args: list[str], reconciled_db, tmp_path) -> None:
    """The example, on a store of generated records (as the demo's are): the table and a
    one-number link threshold, or JSON whose link_threshold is one number."""
    db = tmp_path / "demo.duckdb"
    shutil.copy(reconciled_db, db)
    args = [*args]
    args[args.index("--db") + 1] = str(db)
    result = CliRunner().invoke(app, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    if "--json" in args:
        report = json.loads(result.stdout)
        assert isinstance(report["link_threshold"], float)
        assert 0 < report["link_threshold"] < 1
        assert report["pairwise"]["f1"] > 0.8 and report["bcubed"]["f1"] > 0.85
    else:
        assert "pairwise" in result.stdout and "B-cubed" in result.stdout
        assert "link threshold 0." in result.stdout

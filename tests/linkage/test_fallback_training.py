"""A comparison no training session can estimate is trained by a fallback session.

Without birth dates, both default name sessions block on the names, which would leave
the name comparisons at splink's default m (a guess by level number, which moves
whenever a level is added). ``training.em_fallback`` trains them, and only them.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from mdm.bulk.ingest import parse_source_arg
from mdm.bulk.reconcile import reconcile
from mdm.bundled import DEFAULT_MATCH_RULES
from mdm.linkage.model import _untrained
from mdm.rules.bundle import RulesBundle

NAMES = ("first_name", "last_name")


def _without_birth_dates(sample_dir: Path, folder: Path) -> list[Path]:
    """The sample's CRM and web-shop files with every birth-date column dropped."""
    crm = pd.read_csv(sample_dir / "crm.csv", dtype=str).drop(columns=["dob"])
    web = pd.read_json(sample_dir / "webshop.jsonl", lines=True, dtype=False)
    web = web.drop(columns=["date_of_birth"])
    folder.mkdir()
    crm.to_csv(folder / "crm.csv", index=False)
    web.to_json(folder / "webshop.jsonl", orient="records", lines=True)
    return [folder / "crm.csv", folder / "webshop.jsonl"]


def _model(db: Path) -> dict:
    with duckdb.connect(str(db), read_only=True) as con:
        return json.loads(con.execute("SELECT model FROM models").fetchall()[0][0])


@pytest.fixture(scope="module")
def no_dob(sample_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Path]]:
    folder = tmp_path_factory.mktemp("nodob")
    return folder, _without_birth_dates(sample_dir, folder / "files")


def _reconciled(folder: Path, files: list[Path], rules: Path) -> dict:
    db = folder / f"{rules.parent.name}.duckdb"
    reconcile([parse_source_arg(str(p)) for p in files], db, RulesBundle.load(rules))
    return _model(db)


@pytest.fixture(scope="module")
def no_dob_model(no_dob: tuple[Path, list[Path]]) -> dict:
    return _reconciled(*no_dob, DEFAULT_MATCH_RULES)


def test_names_are_trained_without_birth_dates(no_dob_model: dict) -> None:
    assert not set(NAMES) & set(_untrained(no_dob_model["splink_settings"]))
    fallback = [s for s in no_dob_model["training"]["em_sessions"] if "only" in s]
    assert fallback and set(fallback[0]["only"]) >= set(NAMES)
    assert fallback[0]["keys"] == ["email"]  # the first fallback the data fills


def test_a_fallback_session_changes_no_other_comparison(
    no_dob: tuple[Path, list[Path]], no_dob_model: dict, tmp_path: Path
) -> None:
    """Every comparison the fallback did not train has the m it has when the rules name
    no fallback at all (training is seeded: the same to the bit)."""
    rules = tmp_path / "plain" / DEFAULT_MATCH_RULES.name
    shutil.copytree(DEFAULT_MATCH_RULES.parent, rules.parent)
    text = rules.read_text(encoding="utf-8")
    start = text.index("  em_fallback:")
    end = text.index("  # Deterministic rules")
    rules.write_text(text[:start] + text[end:], encoding="utf-8")
    plain = _reconciled(no_dob[0], no_dob[1], rules)
    assert set(NAMES) <= set(_untrained(plain["splink_settings"]))  # what the fallback is for
    only = {c for s in no_dob_model["training"]["em_sessions"] for c in s.get("only", [])}

    def m_values(model: dict) -> dict[str, list]:
        return {
            c["output_column_name"]: [lv.get("m_probability") for lv in c["comparison_levels"]]
            for c in model["splink_settings"]["comparisons"]
        }

    with_fallback, without = m_values(no_dob_model), m_values(plain)
    assert only and set(with_fallback) == set(without)
    for name in set(with_fallback) - only:
        assert with_fallback[name] == without[name], name


def test_with_birth_dates_no_fallback_runs(reconciled_db: Path) -> None:
    model = _model(reconciled_db)
    assert not any("only" in s for s in model["training"]["em_sessions"])
    assert _untrained(model["splink_settings"]) in ([], ["national_id"], ["gender"])

"""Names and birth date only, every duplicate with one small error: no pair agrees
exactly on a deterministic rule, yet the prior is estimated and most true pairs link;
and a run whose threshold falls to its floor says so, on the command line and in JSON."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from mdm.bundled import DEFAULT_MATCH_RULES
from mdm.cli import app
from mdm.generate import GeneratorConfig, generate_sources

runner = CliRunner()
LETTERS = "abcdefghijklmnopqrstuvwxyz"


def _typo(text: str, rng: np.random.Generator) -> str:
    """``text`` with one letter changed."""
    i = int(rng.integers(len(text)))
    other = LETTERS.replace(text[i].lower(), "")
    return text[:i] + other[int(rng.integers(len(other)))] + text[i + 1 :]


def _date_typo(date: pd.Timestamp, rng: np.random.Generator) -> pd.Timestamp:
    """The date with its day moved by one to nine (one or two digits typed wrong)."""
    return date + pd.Timedelta(days=int(rng.integers(1, 10)) * int(rng.choice([-1, 1])))


def one_error_people(records: int, seed: int) -> pd.DataFrame:
    """One record per generated CRM customer (names and birth date only), beside a copy
    with exactly one error: a letter of one name, or the birth date."""
    crm = generate_sources(GeneratorConfig(n_records=records, seed=seed))["crm"]
    people = crm.dropna(subset=["fname", "surname", "dob"]).drop_duplicates("true_person_id")
    frame = pd.DataFrame(
        {
            "first_name": people["fname"].str.lower().to_numpy(),
            "last_name": people["surname"].str.lower().to_numpy(),
            "date_of_birth": pd.to_datetime(people["dob"], format="%d/%m/%Y").to_numpy(),
            "truth": people["true_person_id"].to_numpy(),
        }
    )
    rng = np.random.default_rng(seed)
    copies = frame.copy()
    for row, where in zip(copies.index, rng.integers(3, size=len(copies)), strict=True):
        if where == 2:
            copies.at[row, "date_of_birth"] = _date_typo(copies.at[row, "date_of_birth"], rng)
        else:
            column = ("first_name", "last_name")[where]
            copies.at[row, column] = _typo(copies.at[row, column], rng)
    both = pd.concat([frame, copies], ignore_index=True)
    both["date_of_birth"] = pd.to_datetime(both["date_of_birth"]).dt.strftime("%Y-%m-%d")
    both.insert(0, "record_id", [f"R{i:05d}" for i in range(len(both))])
    return both


@pytest.fixture(scope="module")
def one_error(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(rules file, people.csv): the default rules beside a names + birth date source."""
    folder = tmp_path_factory.mktemp("one_error")
    people = one_error_people(1500, seed=5)
    exact = people.duplicated(["first_name", "last_name", "date_of_birth"], keep=False)
    assert not exact.any()  # no pair agrees exactly on the deterministic rule
    people.to_csv(folder / "people.csv", index=False)
    rules = folder / "customer.match.yaml"
    shutil.copy(DEFAULT_MATCH_RULES, rules)
    (folder / "sources").mkdir()
    (folder / "sources" / "people.yaml").write_text(
        "source: people\ncolumns:\n  record_id: record_id\n  first_name: first_name\n"
        "  last_name: last_name\n  date_of_birth: date_of_birth\n"
    )
    return rules, folder / "people.csv"


def _reconcile(rules: Path, people: Path, db: Path, *extra: str):
    args = ["reconcile", f"people={people}", "--rules", str(rules), "--db", str(db), *extra]
    result = runner.invoke(app, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.stdout


def test_names_and_birth_date_with_one_error_each_link(one_error, tmp_path: Path) -> None:
    rules, people = one_error
    db = tmp_path / "mdm.duckdb"
    summary = json.loads(_reconcile(rules, people, db, "--json"))
    assert summary["prior"]["basis"] == "scored_pairs"
    assert summary["prior"]["deterministic"] == 0.0
    assert any("no pair agrees exactly" in note for note in summary["notes"])
    result = runner.invoke(app, ["evaluate", "--db", str(db), "--truth", "truth", "--json"])
    pairwise = json.loads(result.stdout)["pairwise"]
    assert pairwise["recall"] >= 0.9 and pairwise["precision"] >= 0.95


def test_a_threshold_on_its_floor_is_said(one_error, tmp_path: Path) -> None:
    rules, people = one_error
    raised = tmp_path / "customer.match.yaml"
    # A floor well above where the model's own choice lands (about half its best F1).
    raised.write_text(rules.read_text().replace("  link: auto", "  link: auto\n  link_floor: 0.9"))
    shutil.copytree(rules.parent / "sources", tmp_path / "sources")
    summary = json.loads(_reconcile(raised, people, tmp_path / "json.duckdb", "--json"))
    assert summary["threshold"]["on_floor"] is True
    assert summary["link_threshold"] >= 0.9
    assert any("fell below the floor" in note for note in summary["notes"])
    text = _reconcile(raised, people, tmp_path / "text.duckdb")
    assert "fell below the floor" in " ".join(text.split())


def test_a_training_session_that_cannot_train_is_skipped_and_recorded(tmp_path: Path) -> None:
    """A session blocked on every compared name has nothing left to train: splink fails
    it. It is recorded and skipped, and the next session trains from the parameters as
    they were (splink leaves a failed session's state behind)."""
    rules = yaml.safe_load(DEFAULT_MATCH_RULES.read_text())
    rules["comparisons"] = [c for c in rules["comparisons"] if c["kind"] == "name"]
    rules["clustering"]["identity"] = ["first_name"]
    rules["training"]["em_blocking"] = [
        {"keys": ["first_name", "last_name"]},
        {"keys": ["date_of_birth"]},
    ]
    folder = tmp_path / "rules"
    folder.mkdir()
    (folder / "customer.match.yaml").write_text(yaml.safe_dump(rules))
    people = one_error_people(3000, seed=5)
    people.to_csv(tmp_path / "people.csv", index=False)
    db = tmp_path / "s.duckdb"
    rules_path = str(folder / "customer.match.yaml")
    source = f"people={tmp_path / 'people.csv'}"
    result = runner.invoke(app, ["reconcile", source, "--db", str(db), "--rules", rules_path])
    assert result.exit_code == 0, result.output
    model = json.loads(runner.invoke(app, ["model", "--db", str(db)]).stdout)
    skipped = model["training"]["em_sessions_skipped"]
    assert [s["keys"] for s in skipped] == [["first_name", "last_name"]]
    assert [s["keys"] for s in model["training"]["em_sessions"]] == [["date_of_birth"]]


def test_a_session_whose_em_collapses_is_retried_shorter(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """EM that drives a level's m to 0 over its iterations (splink refuses the model)
    is run again with fewer iterations; the session trains and says so, and no level
    keeps an m below the floor."""
    from splink.internals.linker_components.training import LinkerTraining

    from mdm.linkage.model import M_FLOOR

    real = LinkerTraining.estimate_parameters_using_expectation_maximisation
    caps: list[int] = []

    def collapsing(self, blocking_rule, **kwargs):
        cap = self._linker._settings_obj.training_settings.max_iterations
        caps.append(cap)
        if "date_of_birth" in str(blocking_rule) and cap > 5:
            raise ValueError("m_probability value 0.0 is below the minimum allowed value")
        return real(self, blocking_rule, **kwargs)

    monkeypatch.setattr(
        LinkerTraining, "estimate_parameters_using_expectation_maximisation", collapsing
    )
    people = one_error_people(3000, seed=7)
    people.to_csv(tmp_path / "people.csv", index=False)
    db = tmp_path / "s.duckdb"
    result = runner.invoke(app, ["reconcile", f"people={tmp_path / 'people.csv'}", "--db", str(db)])
    assert result.exit_code == 0, result.output
    model = json.loads(runner.invoke(app, ["model", "--db", str(db)]).stdout)
    sessions = {tuple(s["keys"]): s for s in model["training"]["em_sessions"]}
    assert sessions[("date_of_birth",)]["max_iterations"] == 5
    assert "stopped early" in sessions[("date_of_birth",)]["note"]
    assert "max_iterations" not in sessions[("first_name", "last_name")]
    assert model["training"]["em_sessions_skipped"] == []
    assert caps == [25, 5, 25]  # the next session runs full length again
    for comparison in model["splink_settings"]["comparisons"]:
        for level in comparison["comparison_levels"]:
            m = level.get("m_probability")
            assert m is None or m >= M_FLOOR, (comparison["output_column_name"], level)

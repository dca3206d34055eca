"""A US customer set reconciles without being told it is American, and says why."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from mdm.bundled import DEFAULT_MATCH_RULES
from mdm.cli import app
from mdm.generate import GeneratorConfig, write_sample
from mdm.realtime.engine import Engine
from mdm.rules.bundle import RulesBundle
from mdm.store import open_store

REPO = Path(__file__).resolve().parents[2]
runner = CliRunner()


@pytest.fixture(scope="module")
def us_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, str]:
    folder = tmp_path_factory.mktemp("us")
    paths = write_sample(folder, GeneratorConfig(n_records=1500, seed=8, locale="us"))
    db = folder / "s.duckdb"
    args = [f"{name}={path}" for name, path in paths.items()]
    # As a user would: no mapping, no region configured (the headers are recognised).
    result = runner.invoke(app, ["reconcile", *args, "--db", str(db)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return folder, db, result.output


def _reports(db: Path) -> dict[str, dict]:
    with duckdb.connect(str(db), read_only=True) as con:
        rows = con.execute("SELECT source, report FROM source_reports").fetchall()
    return {source: json.loads(report) for source, report in rows}


def test_fewer_than_one_percent_of_phones_are_unread(us_run: tuple[Path, Path, str]) -> None:
    reports = _reports(us_run[1])
    records = sum(report["records"] for report in reports.values())
    unread = sum(report["unparseable"]["phone"] for report in reports.values())
    assert unread / records < 0.01
    assert reports["crm"]["local_only"] > 0  # the call centre's 7-digit numbers, apart


def test_the_summary_says_which_locale_and_why(us_run: tuple[Path, Path, str]) -> None:
    reports = _reports(us_run[1])
    crm = reports["crm"]["locale"]
    assert crm["phone_region"]["value"] == "US"
    assert crm["phone_region"]["reason"].startswith("detected: ")
    assert crm["postcode_country"]["value"] == "US"
    assert crm["date_order"]["value"] == "mdy"
    assert crm["date_order"]["reason"].startswith("detected: ")
    billing = reports["billing"]  # a country column on every record
    assert billing["own_country"] == {"US": billing["records"]}
    output = us_run[2]
    assert "Locale per source" in output and "detected" in output


def test_the_service_reads_a_source_in_its_bulk_locale(us_run: tuple[Path, Path, str]) -> None:
    folder, db, _ = us_run
    bundle = RulesBundle.load(DEFAULT_MATCH_RULES)
    con = open_store(db, create=False)
    try:
        engine = Engine(con, bundle.survivorship, bundle.rules_dir)
        options = engine.options_for("crm")
        assert options.locale is not None and options.locale.phone_region.value == "US"
        prepared = engine.prepare({"source": "crm", "record_id": "x", "phone": "616.949.4255"})
        assert prepared.values["phone"] == "+16169494255"
        local = engine.prepare({"source": "crm", "record_id": "y", "phone": "949-4255"})
        assert local.values["phone"] is None  # missing, not refused
        (warning,) = local.warnings
        assert warning.field == "phone" and "area code" in warning.reason
    finally:
        con.close()

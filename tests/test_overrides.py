"""Steward overrides: a golden value set by hand wins over survivorship, through bulk
re-runs and real-time upserts, until cleared; bad requests are refused clearly."""

from __future__ import annotations

import shutil
from datetime import datetime
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from mdm.bundled import DEFAULT_MATCH_RULES
from mdm.cli import app
from mdm.errors import ConflictError, InputError, NotFoundError
from mdm.overrides import clear_override, set_override
from mdm.realtime.engine import Engine
from mdm.rules.bundle import RulesBundle
from mdm.store.changes import apply_changes
from mdm.store.overrides import RULE
from mdm.store.reads import get_golden

REPO = Path(__file__).resolve().parents[1]
NOW = datetime(2026, 11, 22, 12, 0)
CANARY = "canary.override@example.org"
WIDE = {"COLUMNS": "200"}  # rich wraps tables to the terminal width


def _rules() -> RulesBundle:
    return RulesBundle.load(DEFAULT_MATCH_RULES)


def _two_record_golden(con: duckdb.DuckDBPyConnection) -> str:
    return con.execute(
        "SELECT golden_id FROM golden WHERE status = 'active' AND record_count = 2 "
        "AND email IS NOT NULL ORDER BY golden_id LIMIT 1"
    ).fetchall()[0][0]


def _lineage(con, golden_id: str, attribute: str) -> tuple:
    return con.execute(
        "SELECT value, source, record_id, rule FROM lineage WHERE golden_id = ? AND attribute = ?",
        [golden_id, attribute],
    ).fetchall()[0]


def test_an_override_wins_until_cleared(store) -> None:
    rules = _rules().survivorship
    golden_id = _two_record_golden(store)
    before = get_golden(store, golden_id)
    set_override(store, golden_id, "email", CANARY, "ann", "confirmed by phone", rules, NOW)
    after = get_golden(store, golden_id)
    assert after["email"] == CANARY
    assert _lineage(store, golden_id, "email") == (CANARY, "steward", "ann", RULE)
    assert {a: after[a] for a in ("first_name", "last_name")} == {
        a: before[a] for a in ("first_name", "last_name")
    }
    events = store.execute(
        "SELECT kind, actor, detail::VARCHAR FROM events WHERE golden_id = ? "
        "AND kind LIKE 'override%'",
        [golden_id],
    ).fetchall()
    assert events == [("override_set", "ann", '{"attribute": "email"}')]  # never the value
    clear_override(store, golden_id, "email", "ann", rules, NOW)
    assert get_golden(store, golden_id)["email"] == before["email"]
    assert _lineage(store, golden_id, "email")[3] != RULE


def test_an_override_survives_a_bulk_run_and_a_real_time_upsert(
    reconciled_db: Path, sample_files: list[Path], tmp_path: Path
) -> None:
    from mdm.bulk.ingest import parse_source_arg
    from mdm.bulk.reconcile import reconcile

    db = tmp_path / "mdm.duckdb"
    shutil.copy(reconciled_db, db)
    bundle = _rules()
    with duckdb.connect(str(db)) as con:
        golden_id = _two_record_golden(con)
        set_override(con, golden_id, "email", CANARY, "ann", None, bundle.survivorship, NOW)
        member = con.execute(
            "SELECT r.* EXCLUDE (extra, raw, version, run_id, ingested_at) FROM records r "
            "JOIN xref USING (source, record_id) WHERE golden_id = ? LIMIT 1",
            [golden_id],
        ).df()
    reconcile([parse_source_arg(str(p)) for p in sample_files], db, bundle)
    with duckdb.connect(str(db)) as con:
        assert get_golden(con, golden_id)["email"] == CANARY
        engine = Engine(con, bundle.survivorship, bundle.rules_dir)
        row = member.astype(object).where(member.notna(), None).iloc[0].to_dict()
        record = {k: row[k] for k in ("first_name", "last_name", "date_of_birth", "email")}
        record = {"source": "web", "record_id": "OV1", **{k: v for k, v in record.items() if v}}
        result, changes = engine.upsert(record)
        assert result.golden_id == golden_id
        assert changes.golden[golden_id].values["email"] == CANARY
        con.execute("BEGIN").fetchall()
        apply_changes(con, [changes])
        con.execute("COMMIT").fetchall()
        assert get_golden(con, golden_id)["email"] == CANARY
        assert _lineage(con, golden_id, "email")[3] == RULE


def test_a_merged_in_records_overrides_pass_to_the_survivor_and_come_back(
    reconciled_db: Path, tmp_path: Path, sample_files: list[Path]
) -> None:
    from mdm.bulk.ingest import parse_source_arg
    from mdm.bulk.reconcile import reconcile
    from mdm.lifecycle import merge, unmerge
    from mdm.store import open_store

    db = tmp_path / "mdm.duckdb"
    shutil.copy(reconciled_db, db)
    bundle = _rules()
    rules = bundle.survivorship
    with open_store(db) as con:
        first, second = (
            row[0]
            for row in con.execute(
                "SELECT golden_id FROM golden WHERE status = 'active' AND record_count = 2 "
                "ORDER BY golden_id LIMIT 2"
            ).fetchall()
        )
        set_override(con, first, "email", CANARY, "ann", None, rules, NOW)
        set_override(con, first, "phone", "+441234567890", "ann", None, rules, NOW)
        set_override(con, second, "phone", "+449999999999", "bo", None, rules, NOW)
        before = {g: get_golden(con, g) for g in (first, second)}
        engine = Engine(con, rules, bundle.rules_dir)
        survivor = merge(con, engine, first, second, "ann", confirmed=True)["golden_id"]
        other = second if survivor == first else first
        merged = get_golden(con, survivor)
        own = before[survivor]
        # The survivor's own values win; what only the other had passes on.
        assert merged["phone"] == own["phone"]
        assert merged["email"] == CANARY
        back = [(r["source"], r["record_id"]) for r in before[other]["records"]]
        unmerge(con, engine, survivor, back, "ann")
        for golden_id in (first, second):
            now, was = get_golden(con, golden_id), before[golden_id]
            assert [now[a] for a in ("email", "phone")] == [was[a] for a in ("email", "phone")]
        survivor = merge(con, engine, first, second, "ann", confirmed=True)["golden_id"]
    # A bulk run applies the inherited values the same way.
    reconcile([parse_source_arg(str(p)) for p in sample_files], db, bundle)
    with open_store(db) as con:
        again = get_golden(con, survivor)
        assert again["email"] == CANARY and again["phone"] == merged["phone"]
        clear_override(con, survivor, "email", "ann", rules, NOW)  # clears the inherited one
        assert get_golden(con, survivor)["email"] != CANARY


def test_bad_overrides_are_refused(store) -> None:
    rules = _rules().survivorship
    golden_id = _two_record_golden(store)
    with pytest.raises(InputError, match="unknown attribute 'shoe_size'"):
        set_override(store, golden_id, "shoe_size", "9", "ann", None, rules, NOW)
    with pytest.raises(InputError, match="needs a value"):
        set_override(store, golden_id, "email", "  ", "ann", None, rules, NOW)
    with pytest.raises(NotFoundError, match="no golden record"):
        set_override(store, "GNOPE", "email", CANARY, "ann", None, rules, NOW)
    with pytest.raises(NotFoundError, match="no override"):
        clear_override(store, golden_id, "email", "ann", rules, NOW)
    store.execute(
        "UPDATE golden SET status = 'retired', survivor_id = 'GOTHER' WHERE golden_id = ?",
        [golden_id],
    )
    with pytest.raises(ConflictError, match="lives on as GOTHER"):
        set_override(store, golden_id, "email", CANARY, "ann", None, rules, NOW)


def test_the_cli_shows_sets_and_clears(reconciled_db: Path, tmp_path: Path) -> None:
    db = tmp_path / "mdm.duckdb"
    shutil.copy(reconciled_db, db)
    with duckdb.connect(str(db), read_only=True) as con:
        golden_id = _two_record_golden(con)
    runner = CliRunner()
    done = runner.invoke(app, ["golden", "override", golden_id, "email", CANARY, "--db", str(db)])
    assert done.exit_code == 0, done.output
    shown = runner.invoke(app, ["golden", "show", golden_id, "--db", str(db)], env=WIDE)
    assert shown.exit_code == 0 and CANARY in shown.output and RULE in shown.output
    bad = runner.invoke(app, ["golden", "override", golden_id, "shoe", "9", "--db", str(db)])
    assert bad.exit_code != 0 and "unknown attribute" in bad.output
    cleared = runner.invoke(app, ["golden", "clear", golden_id, "email", "--db", str(db)])
    assert cleared.exit_code == 0, cleared.output
    assert (
        CANARY
        not in runner.invoke(app, ["golden", "show", golden_id, "--db", str(db)], env=WIDE).output
    )

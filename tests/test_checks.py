"""``mdm check`` finds what breaks a store's rules, and passes a sound one."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
from typer.testing import CliRunner

from mdm.bundled import DEFAULT_MATCH_RULES
from mdm.checks import store_problems
from mdm.cli import app
from mdm.rules.bundle import RulesBundle

REPO = Path(__file__).resolve().parents[1]


def test_a_reconciled_store_holds_together(reconciled_db: Path, tmp_path: Path) -> None:
    db = tmp_path / "mdm.duckdb"
    shutil.copy(reconciled_db, db)
    result = CliRunner().invoke(app, ["check", "--db", str(db), "--full"])
    assert result.exit_code == 0, result.output
    assert "holds together" in result.output


def test_each_kind_of_damage_is_found(reconciled_db: Path, tmp_path: Path) -> None:
    db = tmp_path / "mdm.duckdb"
    shutil.copy(reconciled_db, db)
    survivorship = RulesBundle.load(DEFAULT_MATCH_RULES).survivorship
    with duckdb.connect(str(db)) as con:
        assert store_problems(con, survivorship, full=True) == []
        big = con.execute(
            "SELECT golden_id FROM golden WHERE record_count > 1 ORDER BY golden_id LIMIT 1"
        ).fetchall()[0][0]
        con.execute("UPDATE golden SET first_name = 'Zzz' WHERE golden_id = ?", [big])
        source, record_id = con.execute(
            "SELECT source, record_id FROM xref WHERE golden_id = ? ORDER BY ALL LIMIT 1", [big]
        ).fetchall()[0]
        con.execute("DELETE FROM xref WHERE source = ? AND record_id = ?", [source, record_id])
        con.execute(
            "UPDATE golden SET survivor_id = 'G-nowhere', status = 'retired' "
            "WHERE golden_id = (SELECT max(golden_id) FROM golden WHERE record_count = 1)"
        )
        found = store_problems(con, survivorship, full=True)
    text = "\n".join(found)
    assert "1 source records with no golden record" in text
    assert "record count is wrong" in text
    assert "event log does not replay" in text
    assert "survivorship" in text
    assert "lead nowhere" in text
    result = CliRunner().invoke(app, ["check", "--db", str(db)])
    assert result.exit_code == 1 and "no golden record" in result.output

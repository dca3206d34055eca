"""A golden record's history explains itself: each change with its old and new values
and the steward's reason, for an upsert, an override, a merge, an unmerge and a bulk
re-run; the change feed keeps ids only; an erasure takes the values with the person."""

from __future__ import annotations

import json
import shutil
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pytest

from mdm.bulk.ingest import parse_source_arg
from mdm.bulk.reconcile import reconcile
from mdm.bundled import DEFAULT_MATCH_RULES
from mdm.erasure import erase
from mdm.lifecycle import merge, unmerge
from mdm.overrides import clear_override, set_override
from mdm.realtime.engine import Engine
from mdm.rules.bundle import RulesBundle
from mdm.store.changes import apply_changes
from mdm.store.events import events_after, history
from mdm.store.reads import get_golden

NOW = datetime(2026, 12, 7, 12, 0)


def _rules() -> RulesBundle:
    return RulesBundle.load(DEFAULT_MATCH_RULES)


def _engine(con: duckdb.DuckDBPyConnection) -> Engine:
    rules = _rules()
    return Engine(con, rules.survivorship, rules.rules_dir)


def _golden(con: duckdb.DuckDBPyConnection, count: int = 2) -> str:
    return con.execute(
        "SELECT golden_id FROM golden WHERE status = 'active' AND record_count = ? "
        "AND email IS NOT NULL ORDER BY golden_id LIMIT 1",
        [count],
    ).fetchall()[0][0]


def _last(events: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    return [e for e in events if e["kind"] == kind][-1]


def _changes(event: dict[str, Any]) -> dict[str, tuple[str | None, str | None]]:
    return {c["attribute"]: (c["old"], c["new"]) for c in event["changes"]}


def test_an_upsert_that_changes_a_value_shows_old_and_new(store) -> None:
    golden_id = _golden(store, 1)
    before = get_golden(store, golden_id)
    source, record_id = store.execute(
        "SELECT source, record_id FROM xref WHERE golden_id = ?", [golden_id]
    ).fetchall()[0]
    engine = _engine(store)
    record = {k: before[k] for k in ("first_name", "last_name", "date_of_birth", "postcode")}
    record.update(source=source, record_id=record_id, email="new.address.h7@gmail.com")
    _, change = engine.upsert(record, "crm-sync")
    apply_changes(store, [change])
    changed = _last(history(store, golden_id), "golden_changed")
    assert changed["actor"] == "crm-sync"
    assert _changes(changed)["email"] == (before["email"], "new.address.h7@gmail.com")
    # The change feed says which attributes, never the values.
    feed = [e for e in events_after(store, 0, 1_000_000) if e["event_id"] == changed["event_id"]]
    assert feed and "changes" not in feed[0]
    assert "new.address.h7" not in json.dumps(feed[0]["detail"])


def test_an_override_shows_the_value_it_replaced_and_why(store) -> None:
    rules = _rules().survivorship
    golden_id = _golden(store)
    was = get_golden(store, golden_id)["email"]
    set_override(
        store, golden_id, "email", "by.phone.k2@example.org", "ann", "customer rang", rules, NOW
    )
    set_event = _last(history(store, golden_id), "override_set")
    assert _changes(set_event) == {"email": (was, "by.phone.k2@example.org")}
    assert set_event["note"] == "customer rang"
    clear_override(store, golden_id, "email", "ann", rules, NOW)
    cleared = _last(history(store, golden_id), "override_cleared")
    assert _changes(cleared) == {"email": ("by.phone.k2@example.org", was)}
    assert cleared["note"] is None


def test_a_merge_and_an_unmerge_carry_their_reasons_and_values(store) -> None:
    engine = _engine(store)
    first, second = (
        row[0]
        for row in store.execute(
            "SELECT golden_id FROM golden WHERE status = 'active' AND record_count = 1 "
            "AND email IS NOT NULL ORDER BY golden_id LIMIT 2"
        ).fetchall()
    )
    emails = {g: get_golden(store, g)["email"] for g in (first, second)}
    result = merge(store, engine, first, second, "ann", "same passport", confirmed=True)
    survivor = result["golden_id"]
    events = history(store, survivor)
    merged = _last(events, "golden_merged")
    assert merged["note"] == "same passport"
    assert "same passport" not in json.dumps(merged["detail"])  # the event holds ids
    moved = [
        (s, r)
        for s, r in store.execute(
            "SELECT source, record_id FROM xref WHERE golden_id = ?", [survivor]
        ).fetchall()
        if (s, r)
        not in dict.fromkeys(
            store.execute(
                "SELECT source, record_id FROM lineage WHERE golden_id = ? AND attribute = 'email'",
                [survivor],
            ).fetchall()
        )
    ][:1]
    unmerge(store, engine, survivor, moved, "bob", "different birth certificates")
    after = history(store, survivor)
    unmerged = _last(after, "golden_unmerged")
    assert unmerged["note"] == "different birth certificates"
    assert unmerged["actor"] == "bob"
    # Taking a record out changed the survivor's values: each from old to new.
    changed = [e for e in after if e["kind"] == "golden_changed" and e["actor"] == "bob"]
    assert changed and all(c["old"] != c["new"] for e in changed for c in e["changes"])
    assert set(emails.values()) >= {get_golden(store, survivor)["email"]}


def test_a_bulk_rerun_records_the_values_it_changed(
    sample_files: list[Path], reconciled_db: Path, tmp_path: Path
) -> None:
    db = tmp_path / "mdm.duckdb"
    shutil.copy(reconciled_db, db)
    crm = next(p for p in sample_files if p.stem == "crm")
    frame = pd.read_csv(crm, dtype=str)
    email_column = next(c for c in frame.columns if "mail" in c.lower())
    row = frame.index[frame[email_column].notna()][0]
    frame.loc[row, email_column] = "moved.on.q4@gmail.com"
    changed_file = tmp_path / "crm.csv"
    frame.to_csv(changed_file, index=False)
    others = [p for p in sample_files if p.stem != "crm"]
    reconcile([parse_source_arg(str(p)) for p in [changed_file, *others]], db, _rules())
    with duckdb.connect(str(db), read_only=True) as con:
        rows = con.execute(
            "SELECT v.golden_id, v.old_value, v.new_value, e.kind FROM event_values v "
            "JOIN events e USING (event_id) WHERE v.attribute = 'email' "
            "AND v.new_value = 'moved.on.q4@gmail.com'"
        ).fetchall()
    assert len(rows) == 1 and rows[0][3] == "golden_changed" and rows[0][1] != rows[0][2]


def test_an_erasure_takes_the_history_values_with_the_person(
    reconciled_db: Path, tmp_path: Path
) -> None:
    canary = "history.canary.x9@example.org"
    db = tmp_path / "mdm.duckdb"
    shutil.copy(reconciled_db, db)
    with duckdb.connect(str(db)) as con:
        golden_id = _golden(con)
        set_override(
            con, golden_id, "email", canary, "ann", f"said {canary}", _rules().survivorship, NOW
        )
        clear_override(con, golden_id, "email", "ann", _rules().survivorship, NOW)
        assert (
            con.execute(
                "SELECT count(*) FROM event_values WHERE golden_id = ?", [golden_id]
            ).fetchall()[0][0]
            >= 3
        )
        con.execute("CHECKPOINT")
    assert canary.encode() in db.read_bytes()
    erase(db, golden_id, _rules(), "dpo")
    everything = b"".join(p.read_bytes() for p in tmp_path.glob("mdm.duckdb*") if p.is_file())
    assert canary.encode() not in everything
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute(
            "SELECT count(*) FROM event_values WHERE golden_id = ?", [golden_id]
        ).fetchall() == [(0,)]


@pytest.mark.parametrize("kind", ["override_set", "golden_merged"])
def test_the_event_table_holds_no_note(store, kind: str) -> None:
    """Whatever a steward writes stays out of the events table (the change feed)."""
    engine = _engine(store)
    rules = _rules().survivorship
    if kind == "override_set":
        set_override(
            store, _golden(store), "email", "x.y.z@example.org", "ann", "NOTE-7", rules, NOW
        )
    else:
        first, second = (
            row[0]
            for row in store.execute(
                "SELECT golden_id FROM golden WHERE status = 'active' ORDER BY golden_id LIMIT 2"
            ).fetchall()
        )
        merge(store, engine, first, second, "ann", "NOTE-7", confirmed=True)
    details = store.execute("SELECT detail::VARCHAR FROM events").fetchall()
    assert not any("NOTE-7" in (d or "") for (d,) in details)
    assert store.execute(
        "SELECT count(*) FROM event_values WHERE new_value = 'NOTE-7'"
    ).fetchall() == [(1,)]


def test_the_command_line_history_shows_values_and_reasons(
    reconciled_db: Path, tmp_path: Path
) -> None:
    from typer.testing import CliRunner

    from mdm.cli import app

    db = tmp_path / "mdm.duckdb"
    shutil.copy(reconciled_db, db)
    with duckdb.connect(str(db)) as con:
        golden_id = _golden(con)
        was = get_golden(con, golden_id)["email"]
    runner = CliRunner()
    done = runner.invoke(
        app,
        ["golden", "override", golden_id, "email", "cli.fixed@example.net", "--db", str(db),
         "--by", "ann", "--reason", "rang to correct it"],
    )  # fmt: skip
    assert done.exit_code == 0, done.output
    shown = runner.invoke(app, ["history", golden_id, "--db", str(db)], env={"COLUMNS": "300"})
    assert shown.exit_code == 0, shown.output
    assert f"email: {was} -> cli.fixed@example.net" in shown.output
    assert "rang to correct it" in shown.output

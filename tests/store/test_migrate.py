"""The store's schema: created, upgraded in place, refused when unknown."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from mdm.errors import StoreError
from mdm.store import SCHEMA_VERSION, open_store


def test_version_1_store_is_upgraded_and_seeded(tmp_path: Path) -> None:
    db = tmp_path / "old.duckdb"
    open_store(db).close()
    with duckdb.connect(str(db)) as con:  # make it look like a version-1 store
        con.execute("DROP TABLE name_variants")
        con.execute("DROP TABLE name_variant_events")
        con.execute("DROP TABLE name_frequencies")
        con.execute("UPDATE meta SET value = '1' WHERE key = 'schema_version'")
    store = open_store(db)
    try:
        version = store.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchall()
        seeded = store.execute("SELECT count(*) FROM name_variants").fetchall()[0][0]
    finally:
        store.close()
    assert version == [(SCHEMA_VERSION,)]
    assert seeded > 2000


def test_unknown_version_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "future.duckdb"
    open_store(db).close()
    with duckdb.connect(str(db)) as con:
        con.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    with pytest.raises(StoreError, match="schema version 99"):
        open_store(db)


def test_version_2_store_gains_the_decision_tables(tmp_path: Path) -> None:
    db = tmp_path / "v2.duckdb"
    open_store(db).close()
    with duckdb.connect(str(db)) as con:
        con.execute("DROP TABLE decisions")
        con.execute("DROP TABLE name_variant_disputes")
        con.execute("UPDATE meta SET value = '2' WHERE key = 'schema_version'")
        variants = con.execute("SELECT count(*) FROM name_variants").fetchall()
    store = open_store(db)
    try:
        assert store.execute("SELECT count(*) FROM decisions").fetchall() == [(0,)]
        assert store.execute("SELECT count(*) FROM name_variants").fetchall() == variants
    finally:
        store.close()


def test_a_version_4_store_replays_after_the_upgrade(reconciled_db: Path, tmp_path: Path) -> None:
    """Stores from before every record's moves were logged get a baseline on upgrade, so
    the event log alone rebuilds the state from then on."""
    import shutil

    from mdm.store.events import replay_differences

    db = tmp_path / "v4.duckdb"
    shutil.copy(reconciled_db, db)
    with duckdb.connect(str(db)) as con:  # a version-4 store: no record-level events
        con.execute("DELETE FROM events WHERE kind LIKE 'record_%'")
        con.execute("DROP TABLE link_constraints")
        con.execute("DROP TABLE users")
        con.execute("DROP TABLE task_claims")
        con.execute("UPDATE meta SET value = '4' WHERE key = 'schema_version'")
        assert replay_differences(con)  # without a baseline the log cannot say
    store = open_store(db)
    try:
        assert store.execute("SELECT count(*) FROM link_constraints").fetchall() == [(0,)]
        assert replay_differences(store) == []
    finally:
        store.close()


def test_a_version_7_store_gains_the_tasks_scored_on_column(
    reconciled_db: Path, tmp_path: Path
) -> None:
    """Its tasks were scored on their records; the column says so."""
    import shutil

    db = tmp_path / "v7.duckdb"
    shutil.copy(reconciled_db, db)
    with duckdb.connect(str(db)) as con:
        con.execute("ALTER TABLE review_tasks DROP COLUMN scored_on")
        con.execute("UPDATE meta SET value = '7' WHERE key = 'schema_version'")
        tasks = con.execute("SELECT count(*) FROM review_tasks").fetchall()[0][0]
    store = open_store(db)
    try:
        found = store.execute("SELECT scored_on, count(*) FROM review_tasks GROUP BY 1").fetchall()
    finally:
        store.close()
    assert found == [("records", tasks)]


def test_a_version_8_store_gains_national_ids(tmp_path: Path, reconciled_db: Path) -> None:
    """Schema 9 adds ``national_id`` to records and golden records: an older store gets
    the columns, empty, and keeps every row."""
    import shutil

    db = tmp_path / "v8.duckdb"
    shutil.copy(reconciled_db, db)
    with duckdb.connect(str(db)) as con:
        for table in ("records", "golden"):
            con.execute(f"ALTER TABLE {table} DROP COLUMN national_id")
        con.execute("UPDATE meta SET value = '8' WHERE key = 'schema_version'")
        before = con.execute(
            "SELECT (SELECT count(*) FROM records), (SELECT count(*) FROM golden)"
        ).fetchall()
    store = open_store(db)
    try:
        after = store.execute(
            "SELECT (SELECT count(*) FROM records WHERE national_id IS NULL), "
            "(SELECT count(*) FROM golden WHERE national_id IS NULL)"
        ).fetchall()
    finally:
        store.close()
    assert after == before

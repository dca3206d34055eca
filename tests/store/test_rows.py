"""Replacing a keyed table whole (:func:`mdm.store.rows.replace_table`), on real DuckDB
files: the new table is the old one's definition with the rows given, in the caller's
transaction."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from mdm.store.rows import replace_table

DEFINITION = (
    "CREATE TABLE xref (source VARCHAR, record_id VARCHAR, golden_id VARCHAR NOT NULL, "
    '"run id" INTEGER DEFAULT 7, PRIMARY KEY (source, record_id))'
)


@pytest.fixture
def con(tmp_path: Path) -> duckdb.DuckDBPyConnection:
    """A store attached as ``store`` and in use, as a bulk run has it."""
    connection = duckdb.connect()
    connection.execute(f"ATTACH '{tmp_path / 'store.duckdb'}' AS store")
    connection.execute("USE store")
    connection.execute(DEFINITION)
    connection.execute("CREATE INDEX xref_golden ON xref (golden_id)")
    connection.execute("INSERT INTO xref VALUES ('crm', '1', 'g1', 1), ('crm', '2', 'g1', 1)")
    return connection


def _rows(con: duckdb.DuckDBPyConnection) -> list[tuple[object, ...]]:
    return con.execute("SELECT * FROM xref ORDER BY ALL").fetchall()


def test_the_rows_given_replace_the_old_ones_which_they_may_read(
    con: duckdb.DuckDBPyConnection,
) -> None:
    con.execute("BEGIN")
    replace_table(
        con,
        "xref",
        "SELECT source, record_id, 'g2', 2 FROM xref UNION ALL SELECT 'web', '9', 'g3', ?",
        [3],
    )
    con.execute("COMMIT")
    assert _rows(con) == [("crm", "1", "g2", 2), ("crm", "2", "g2", 2), ("web", "9", "g3", 3)]
    assert con.execute("SHOW TABLES").fetchall() == [("xref",)]  # no table left beside it


def test_the_same_keys_deleted_and_written_again_are_allowed_and_kept_unique(
    con: duckdb.DuckDBPyConnection,
) -> None:
    replace_table(con, "xref", "SELECT * FROM xref")
    assert _rows(con) == [("crm", "1", "g1", 1), ("crm", "2", "g1", 1)]
    with pytest.raises(duckdb.ConstraintException):
        con.execute("INSERT INTO xref VALUES ('crm', '1', 'g9', 1)")
    with pytest.raises(duckdb.ConstraintException):
        con.execute("INSERT INTO xref VALUES ('crm', '5', NULL, 1)")
    con.execute("INSERT INTO xref (source, record_id, golden_id) VALUES ('crm', '5', 'g5')")
    assert _rows(con)[-1] == ("crm", "5", "g5", 7)  # the column's default kept


def test_rows_with_a_duplicate_key_are_refused_and_nothing_changes(
    con: duckdb.DuckDBPyConnection,
) -> None:
    con.execute("BEGIN")
    with pytest.raises(duckdb.ConstraintException):
        replace_table(con, "xref", "SELECT * FROM xref UNION ALL SELECT * FROM xref")
    con.execute("ROLLBACK")
    assert _rows(con) == [("crm", "1", "g1", 1), ("crm", "2", "g1", 1)]
    assert con.execute("SHOW TABLES").fetchall() == [("xref",)]


def test_a_rolled_back_replacement_leaves_the_old_table_and_its_index(
    con: duckdb.DuckDBPyConnection,
) -> None:
    con.execute("BEGIN")
    replace_table(con, "xref", "SELECT source, record_id, 'g2', 2 FROM xref")
    assert con.execute("SELECT index_name FROM duckdb_indexes()").fetchall() == []
    con.execute("ROLLBACK")
    assert _rows(con) == [("crm", "1", "g1", 1), ("crm", "2", "g1", 1)]
    assert con.execute("SELECT index_name FROM duckdb_indexes()").fetchall() == [("xref_golden",)]


def test_a_table_the_store_does_not_have_is_named(con: duckdb.DuckDBPyConnection) -> None:
    with pytest.raises(LookupError, match="no table 'golden'"):
        replace_table(con, "golden", "SELECT 1")

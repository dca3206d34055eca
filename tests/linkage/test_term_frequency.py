"""Term-frequency adjustment reads the store's live name-frequency table."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pandas as pd

from mdm.linkage.model import add_block_keys, predict_pairs
from mdm.store.names import term_frequency_sql
from mdm.store.reads import latest_model


def test_store_frequencies_are_what_the_bulk_run_counted(reconciled_db: Path) -> None:
    with duckdb.connect(str(reconciled_db), read_only=True) as con:
        for kind, column in (("first", "first_name"), ("last", "last_name")):
            stored = con.execute(
                f"SELECT name, count FROM name_frequencies WHERE kind = '{kind}' ORDER BY 1"
            ).fetchall()
            counted = con.execute(
                f"SELECT {column}, count(*) FROM records WHERE {column} IS NOT NULL "
                "GROUP BY 1 ORDER BY 1"
            ).fetchall()
            assert stored == counted
            assert len(stored) > 100


def _exact_first_name_weights(con, model, tf_tables) -> pd.Series:
    predict_pairs(con, "work", model, "scored", tf_tables)
    return con.execute(
        "SELECT s.match_weight FROM scored s JOIN work l ON l.uid = s.uid_l "
        "JOIN work r ON r.uid = s.uid_r WHERE l.first_name = r.first_name "
        "AND l.first_name = 'ZZTOP' ORDER BY s.uid_l, s.uid_r"
    ).df()["match_weight"]


def test_predict_takes_name_frequencies_from_the_lookup(reconciled_db: Path) -> None:
    """A name the frequency table calls common earns less from an exact match than one it
    calls rare, with every other value of the pair the same."""
    with duckdb.connect(str(reconciled_db), read_only=True) as store:
        model = latest_model(store)
    con = duckdb.connect()
    con.execute(f"ATTACH '{reconciled_db}' AS store (READ_ONLY)").fetchall()
    con.execute(
        "CREATE TABLE work AS SELECT row_number() OVER (ORDER BY source, record_id) - 1 AS uid, "
        "* FROM store.records ORDER BY source, record_id LIMIT 400"
    ).fetchall()
    # Two records equal in everything but their id, with a first name of our choosing.
    con.execute(
        "INSERT INTO work SELECT * REPLACE (400 AS uid, 'copy' AS record_id) "
        "FROM work WHERE uid = 0"
    ).fetchall()
    con.execute("UPDATE work SET first_name = 'ZZTOP' WHERE uid IN (0, 400)").fetchall()
    add_block_keys(con, "work", model.match_rules)
    weights = {}
    for share in (0.5, 0.0001):
        con.execute(
            "CREATE OR REPLACE TABLE counts AS SELECT 'first' AS kind, first_name AS name, "
            "1 AS count FROM work WHERE first_name IS NOT NULL AND first_name <> 'ZZTOP' "
            f"GROUP BY 1, 2 UNION ALL SELECT 'first', 'ZZTOP', "
            f"(SELECT count(DISTINCT first_name) FROM work) * {share} / (1 - {share})"
        ).fetchall()
        con.execute(
            f"CREATE OR REPLACE TABLE tf_first AS {term_frequency_sql('first_name', 'counts')}"
        ).fetchall()
        weights[share] = _exact_first_name_weights(con, model, {"first_name": "tf_first"})
    assert len(weights[0.5]) == 1
    assert weights[0.0001].iloc[0] - weights[0.5].iloc[0] > 5  # log2(0.5 / 0.0001) ~ 12

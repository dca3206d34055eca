"""The candidate pairs a bulk run scores (:func:`mdm.linkage.model.blocked_pairs_sql`)
are splink's own: every pair some blocking rule finds, once, under the first rule that
finds it; and a run scored in slices scores each pair in exactly one slice."""

from __future__ import annotations

import itertools
import logging
from typing import Any

import duckdb
import pyarrow as pa
import splink.comparison_library as cl
from hypothesis import given, settings
from hypothesis import strategies as st
from splink import DuckDBAPI, Linker

from mdm.linkage.model import blocked_pairs_sql

COLUMNS = ("a", "b", "c")
VALUE = st.none() | st.sampled_from(["x", "y", "z"])
RULES = [
    'l."a" = r."a"',
    'l."a" = r."a" AND l."b" = r."b"',
    'l."c" = r."c"',
    'l."b" = r."b" AND l."c" = r."c"',
    'least(l."a", l."b") = least(r."a", r."b") AND greatest(l."a", l."b") = greatest(r."a", r."b")',
]
RECORDS = st.lists(st.fixed_dictionaries({c: VALUE for c in COLUMNS}), max_size=14)
CHOSEN = st.lists(st.sampled_from(RULES), min_size=1, max_size=4, unique=True)


def _work(con: duckdb.DuckDBPyConnection, records: list[dict[str, Any]]) -> None:
    table = pa.Table.from_pylist(
        [{"uid": i, **r} for i, r in enumerate(records)],
        schema=pa.schema([("uid", pa.int64())] + [(c, pa.string()) for c in COLUMNS]),
    )
    con.register("work_arrow", table)
    con.execute("CREATE OR REPLACE TABLE work AS SELECT * FROM work_arrow").fetchall()
    con.unregister("work_arrow")


def _holds(rule: str, left: dict[str, Any], right: dict[str, Any]) -> bool:
    """A rule of :data:`RULES` read in Python (a missing value equals nothing)."""
    if rule.startswith("least"):  # least and greatest skip a missing value
        sides = [[v for v in (r["a"], r["b"]) if v is not None] for r in (left, right)]
        return all(sides) and (min(sides[0]), max(sides[0])) == (min(sides[1]), max(sides[1]))
    keys = [part.split('"')[1] for part in rule.split(" AND ")]
    return all(left[k] is not None and left[k] == right[k] for k in keys)


def _pairs(con: duckdb.DuckDBPyConnection, sql: str) -> dict[tuple[int, int], str]:
    rows = con.execute(f"SELECT join_key_l, join_key_r, match_key FROM ({sql})").fetchall()
    found = {(int(left), int(right)): key for left, right, key in rows}
    assert len(found) == len(rows)  # each pair once
    return found


@settings(max_examples=60, deadline=None)
@given(records=RECORDS, rules=CHOSEN, parts=st.integers(1, 3), seen=st.randoms())
def test_each_pair_once_under_the_first_rule_that_finds_it(
    records: list[dict[str, Any]], rules: list[str], parts: int, seen: Any
) -> None:
    expected = {}
    for (i, left), (j, right) in itertools.combinations(enumerate(records), 2):
        first = next((n for n, rule in enumerate(rules) if _holds(rule, left, right)), None)
        if first is not None:
            expected[(i, j)] = str(first)
    with duckdb.connect() as con:
        _work(con, records)
        assert _pairs(con, blocked_pairs_sql("work", rules)) == expected
        sliced: dict[tuple[int, int], str] = {}
        # Slices by the right-hand record's uid: ranges that tile the uids.
        bounds = [len(records) * part // parts for part in range(parts + 1)]
        for low, high in itertools.pairwise(bounds):
            found = _pairs(con, blocked_pairs_sql("work", rules, (low, high)))
            assert all(low <= j < high for _, j in found)
            assert not found.keys() & sliced.keys()  # no pair in two slices
            sliced |= found
        assert sliced == expected
        # Pairs scored already (a table of uid_l, uid_r) are left out, and only they.
        scored = [pair for pair in sorted(expected) if seen.random() < 0.5]
        con.execute("CREATE TABLE scored (uid_l BIGINT, uid_r BIGINT)")
        con.executemany("INSERT INTO scored VALUES (?, ?)", scored or [(-1, -1)])
        left = {pair: key for pair, key in expected.items() if pair not in set(scored)}
        assert _pairs(con, blocked_pairs_sql("work", rules, exclude="scored")) == left


@settings(max_examples=15, deadline=None)
@given(records=RECORDS, rules=CHOSEN)
def test_the_pairs_are_the_ones_splink_blocks(
    records: list[dict[str, Any]], rules: list[str]
) -> None:
    with duckdb.connect() as con:
        _work(con, records)
        db_api = DuckDBAPI(connection=con)
        splink_settings = {
            "link_type": "dedupe_only",
            "unique_id_column_name": "uid",
            "comparisons": [cl.ExactMatch(c) for c in COLUMNS],
            "blocking_rules_to_generate_predictions": [
                {"blocking_rule": rule, "sql_dialect": "duckdb"} for rule in rules
            ],
        }
        linker = Linker(db_api.register("work"), splink_settings, log_level=logging.ERROR)
        theirs = linker.inference.compute_blocked_pairs_for_predict()
        expected = _pairs(con, f"SELECT * FROM {theirs.physical_name}")
        assert _pairs(con, blocked_pairs_sql("work", rules)) == expected

"""One review task per pair of customers (golden records), not per pair of records: on
the bulk and the real-time paths alike, and a decision on it decides the customers."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pytest

from mdm.bulk.ingest import parse_source_arg
from mdm.bulk.reconcile import reconcile
from mdm.bundled import DEFAULT_MATCH_RULES
from mdm.lifecycle import decide
from mdm.realtime.engine import Engine
from mdm.rules.bundle import RulesBundle
from mdm.store import open_store
from mdm.store.changes import apply_changes
from tests.test_lifecycle import _in_txn

#: The record columns a copy of a stored record is sent with.
COPIED = (
    "first_name", "middle_name", "last_name", "date_of_birth", "gender", "email", "phone",
    "address_line", "city", "postcode", "region", "country",
)  # fmt: skip

#: Open tasks per pair of golden records, the records' golden ids read from ``xref``.
PER_CUSTOMER_PAIR = (
    "SELECT least(a.golden_id, b.golden_id) AS g1, greatest(a.golden_id, b.golden_id) AS g2, "
    "count(*) AS tasks FROM review_tasks t "
    "JOIN xref a ON a.source = t.source_l AND a.record_id = t.record_id_l "
    "JOIN xref b ON b.source = t.source_r AND b.record_id = t.record_id_r "
    "WHERE t.status = 'open' GROUP BY 1, 2"
)


def _bundle() -> RulesBundle:
    return RulesBundle.load(DEFAULT_MATCH_RULES)


def _tasks_per_pair(con) -> dict[tuple[str, str], int]:
    return {(g1, g2): n for g1, g2, n in con.execute(PER_CUSTOMER_PAIR).fetchall()}


def _open(con) -> int:
    return con.execute("SELECT count(*) FROM review_tasks WHERE status = 'open'").fetchall()[0][0]


def _golden_of(con, key: tuple[str, str]) -> str:
    found = con.execute(
        "SELECT golden_id FROM xref WHERE source = ? AND record_id = ?", list(key)
    ).fetchall()
    return found[0][0]


@pytest.fixture
def doubled(reconciled_db: Path, tmp_path: Path) -> dict:
    """The reconciled store with a second record of customer A (a copy of the record
    of A's most probable open task, in source ``extra``), sent in real time: two records
    of A now each pair with the record of customer B in the review band."""
    db = tmp_path / "mdm.duckdb"
    shutil.copy(reconciled_db, db)
    bundle = _bundle()
    with open_store(db) as con:
        before = _open(con)
        task, sl, rl, sr, rr = con.execute(
            "SELECT task_id, source_l, record_id_l, source_r, record_id_r FROM review_tasks "
            "WHERE status = 'open' ORDER BY match_probability DESC, task_id LIMIT 1"
        ).fetchall()[0]
        values = con.execute(
            f"SELECT {', '.join(COPIED)} FROM records WHERE source = ? AND record_id = ?",
            [sl, rl],
        ).fetchall()[0]
        copy = {c: str(v) for c, v in zip(COPIED, values, strict=True) if v is not None}
        engine = Engine(con, bundle.survivorship, bundle.rules_dir)
        result, changes = engine.upsert({"source": "extra", "record_id": "COPY1", **copy})
        _in_txn(con, lambda: apply_changes(con, [changes]))
        pair = ((sl, rl), (sr, rr))
        a, b = _golden_of(con, pair[0]), _golden_of(con, pair[1])
    return {
        "db": db, "engine": engine, "task": task, "pair": pair, "a": a, "b": b,
        "before": before, "result": result, "bundle": bundle,
    }  # fmt: skip


def test_two_records_of_a_customer_pairing_with_another_give_one_task(doubled) -> None:
    assert doubled["result"].golden_id == doubled["a"]  # the copy joined customer A
    with open_store(doubled["db"]) as con:
        per_pair = _tasks_per_pair(con)
        a, b = sorted((doubled["a"], doubled["b"]))
        assert per_pair[(a, b)] == 1
        assert set(per_pair.values()) == {1}
        assert _open(con) == doubled["before"]
        # The second pair of records is kept as a supporting pair of the task.
        supporting = con.execute(
            "SELECT count(*) FROM pairs p "
            "JOIN xref x ON x.source = p.source_l AND x.record_id = p.record_id_l "
            "JOIN xref y ON y.source = p.source_r AND y.record_id = p.record_id_r "
            "WHERE least(x.golden_id, y.golden_id) = ? AND greatest(x.golden_id, y.golden_id) = ?",
            [a, b],
        ).fetchall()[0][0]
        assert supporting >= 2
    assert doubled["result"].review_tasks == [doubled["task"]]


def _best_pairs(con) -> dict[tuple[str, str], float]:
    """Pair of golden records -> the highest probability of a pair of their records in
    the review band or above (the records' own, from ``pairs``)."""
    rows = con.execute(
        "SELECT least(x.golden_id, y.golden_id), greatest(x.golden_id, y.golden_id), "
        "max(p.match_probability) FROM pairs p "
        "JOIN xref x ON x.source = p.source_l AND x.record_id = p.record_id_l "
        "JOIN xref y ON y.source = p.source_r AND y.record_id = p.record_id_r "
        "WHERE x.golden_id <> y.golden_id GROUP BY 1, 2"
    ).fetchall()
    return {(g1, g2): p for g1, g2, p in rows}


def _state(con) -> tuple[dict, dict, dict, float]:
    rows = con.execute("SELECT source, record_id, golden_id FROM xref").fetchall()
    xref = {(s, r): g for s, r, g in rows}
    review = con.execute("SELECT review_threshold FROM runs ORDER BY run_id DESC LIMIT 1")
    threshold = review.fetchall()[0][0]
    return xref, _tasks_per_pair(con), _best_pairs(con), threshold


def test_bulk_and_real_time_open_as_many_tasks(doubled, sample_files: list[Path]) -> None:
    with open_store(doubled["db"]) as con:
        real_time = _state(con)
    result = reconcile([parse_source_arg(str(p)) for p in sample_files], doubled["db"], _bundle())
    with duckdb.connect(str(doubled["db"]), read_only=True) as con:
        bulk = _state(con)
        assert result.review_tasks == _open(con) == len(bulk[1])
    a, b = sorted((doubled["a"], doubled["b"]))
    for _, per_pair, _, _ in (real_time, bulk):
        assert per_pair[(a, b)] == 1
        assert set(per_pair.values()) == {1}
    # The same clusters, and the same pairs of customers asked about, except where a
    # pair sits at the edge of the review band: the bulk run scores with its own term
    # frequencies and review threshold, which the added record moved a little.
    assert real_time[0] == bulk[0]
    for ours, theirs in ((real_time, bulk), (bulk, real_time)):
        for ends in set(ours[1]) - set(theirs[1]):
            assert ours[2][ends] < max(ours[3], theirs[3]) + 0.02, ends


@pytest.mark.parametrize("verdict", ["same", "different"])
def test_deciding_the_task_decides_the_customers(
    doubled, sample_files: list[Path], verdict: str
) -> None:
    bundle, engine = doubled["bundle"], doubled["engine"]
    with open_store(doubled["db"]) as con:
        engine.sync(con)
        _in_txn(
            con,
            lambda: decide(con, engine, doubled["task"], verdict, "ann", bundle.match.learning),
        )
        assert _open(con) == doubled["before"] - 1
    reconcile([parse_source_arg(str(p)) for p in sample_files], doubled["db"], bundle)
    with duckdb.connect(str(doubled["db"]), read_only=True) as con:
        copy = _golden_of(con, ("extra", "COPY1"))
        left, right = (_golden_of(con, key) for key in doubled["pair"])
        # "same": the two customers are one (all three records); "different": they stay
        # apart, and no pair of their records is asked about again.
        assert (copy == left == right) is (verdict == "same")
        assert copy == left
        ends = tuple(sorted((left, right)))
        assert ends not in _tasks_per_pair(con)

"""Change sets: written one at a time, or batched after a trip through the journal's
encoding, the store ends the same; and the engine's memory equals what a new engine
reads back from the store."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mdm.bundled import DEFAULT_MATCH_RULES
from mdm.realtime.engine import Engine
from mdm.rules.bundle import RulesBundle
from mdm.store.changes import apply_changes, decode, encode

REPO = Path(__file__).resolve().parents[2]
TABLES = {
    "records": "SELECT * EXCLUDE (ingested_at) FROM records",
    "xref": "SELECT * FROM xref",
    "golden": "SELECT * FROM golden",
    "lineage": "SELECT * FROM lineage",
    "pairs": "SELECT * FROM pairs",
    "review_tasks": "SELECT * FROM review_tasks",
    "events": "SELECT * FROM events",
    "name_frequencies": "SELECT * FROM name_frequencies",
}


def _bundle() -> RulesBundle:
    return RulesBundle.load(DEFAULT_MATCH_RULES)


def _people(con: duckdb.DuckDBPyConnection, n: int) -> list[dict]:
    frame = con.execute(
        "SELECT source, record_id, first_name, last_name, date_of_birth, email, phone, "
        "address_line, city, postcode FROM records ORDER BY source, record_id LIMIT ?",
        [n],
    ).df()
    return frame.astype(object).where(frame.notna(), None).to_dict("records")


# One operation: (kind, which stored person it starts from, a number for new ids/values).
OPERATIONS = st.lists(
    st.tuples(
        st.sampled_from(["copy", "new", "update", "delete", "repeat"]),
        st.integers(0, 29),
        st.integers(0, 5),
    ),
    min_size=3,
    max_size=25,
)


def _run(engine: Engine, people: list[dict], operations) -> list:
    """Decide the operations in memory; the change sets, in order."""
    changes, sent = [], []
    for step, (kind, person, n) in enumerate(operations):
        base = {k: v for k, v in people[person].items() if v is not None}
        if kind == "copy":  # a new record of a stored person (links)
            record = {**base, "source": "api", "record_id": f"C{person}-{n}"}
        elif kind == "new":  # somebody nobody knows
            record = {"source": "api", "record_id": f"N{step}", "first_name": f"Zed{n}",
                      "last_name": f"Quorra{step}", "email": f"zq{step}@example.org"}  # fmt: skip
        elif kind == "update":  # a stored record changes
            record = {**base, "city": f"Newtown {n}", "email": f"moved{n}@example.org"}
        elif kind == "repeat" and sent:
            record = sent[n % len(sent)]
        else:
            live = [p for p in people if engine.table.slot_of(p["source"], p["record_id"])]
            if not live:
                continue
            target = live[(person + n) % len(live)]
            changes.append(engine.delete(target["source"], target["record_id"])[1])
            continue
        sent.append(record)
        changes.append(engine.upsert(record)[1])
    return changes


def _members(engine: Engine) -> dict[str, set]:
    """Golden id -> the keys of its records."""
    return {g: {engine.table.key(s) for s in m} for g, m in engine.members.items() if m}


def _dump(con: duckdb.DuckDBPyConnection) -> dict:
    return {name: sorted(map(repr, con.execute(sql).fetchall())) for name, sql in TABLES.items()}


@settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(operations=OPERATIONS, cuts=st.lists(st.integers(1, 24), max_size=4))
def test_batched_or_one_by_one_the_store_ends_the_same(
    reconciled_db: Path, tmp_path: Path, operations, cuts
) -> None:
    folder = Path(tempfile.mkdtemp(dir=tmp_path))
    live, single, batched = (folder / f"{n}.duckdb" for n in ("live", "single", "batched"))
    for db in (live, single, batched):
        shutil.copy(reconciled_db, db)
    bundle = _bundle()
    with duckdb.connect(str(live)) as con:
        engine = Engine(con, bundle.survivorship, bundle.rules_dir)
        people = _people(con, 30)
    changes = _run(engine, people, operations)
    with duckdb.connect(str(single)) as con:
        for change in changes:
            con.execute("BEGIN").fetchall()
            apply_changes(con, [change])
            con.execute("COMMIT").fetchall()
        one_by_one = _dump(con)
        # The engine's memory is what a new engine reads back from the store.
        again = Engine(con, bundle.survivorship, bundle.rules_dir)
    with duckdb.connect(str(batched)) as con:
        edges = sorted({0, len(changes), *(c for c in cuts if c < len(changes))})
        for start, end in zip(edges, edges[1:], strict=False):
            con.execute("BEGIN").fetchall()
            # Through the journal's encoding, as a restarted service replays them.
            apply_changes(con, [decode(encode(c)) for c in changes[start:end]])
            con.execute("COMMIT").fetchall()
        assert _dump(con) == one_by_one
    assert _members(engine) == _members(again)
    assert engine.created == again.created
    assert engine.retired_ids == again.retired_ids
    assert engine.open_tasks == again.open_tasks
    assert engine.tasks.probability == again.tasks.probability
    assert engine.next_task == again.next_task
    for slot in again.table.live_slots():
        key = again.table.key(int(slot))
        mine = engine.table.slot_of(*key)
        assert engine.table.values(mine, ["_content", "_version", "golden_id"]) == (
            again.table.values(int(slot), ["_content", "_version", "golden_id"])
        )


def test_a_record_sent_again_after_a_restart_changes_nothing(store) -> None:
    bundle = _bundle()
    engine = Engine(store, bundle.survivorship, bundle.rules_dir)
    record = {**_people(store, 1)[0], "source": "api", "record_id": "R1", "extra": {"tier": "gold"}}
    record = {k: v for k, v in record.items() if v is not None}
    first, changes = engine.upsert(record)
    store.execute("BEGIN").fetchall()
    apply_changes(store, [changes])
    store.execute("COMMIT").fetchall()
    restarted = Engine(store, bundle.survivorship, bundle.rules_dir)
    again, nothing = restarted.upsert(record)
    assert (again.action, again.golden_id, again.version) == ("unchanged", first.golden_id, 1)
    assert not (nothing.records or nothing.golden or nothing.events)
    changed, _ = restarted.upsert({**record, "extra": {"tier": "silver"}})
    assert (changed.action, changed.version) != ("unchanged", 1)


def test_an_empty_batch_writes_nothing(store) -> None:
    before = _dump(store)
    apply_changes(store, [])
    assert _dump(store) == before


@pytest.mark.parametrize("batch", [1, 5])
def test_a_deleted_record_leaves_no_rows_behind(store, batch: int) -> None:
    bundle = _bundle()
    engine = Engine(store, bundle.survivorship, bundle.rules_dir)
    person = {k: v for k, v in _people(store, 1)[0].items() if v is not None}
    record = {**person, "source": "api", "record_id": "D1"}
    changes = [engine.upsert(record)[1]]
    changes += [engine.upsert({**record, "city": f"Elsewhere {i}"})[1] for i in range(batch)]
    changes.append(engine.delete("api", "D1")[1])
    store.execute("BEGIN").fetchall()
    apply_changes(store, changes)
    store.execute("COMMIT").fetchall()
    for table, where in [
        ("records", "record_id = 'D1'"),
        ("xref", "record_id = 'D1'"),
        ("pairs", "record_id_l = 'D1' OR record_id_r = 'D1'"),
        ("review_tasks", "status = 'open' AND (record_id_l = 'D1' OR record_id_r = 'D1')"),
    ]:
        assert store.execute(f"SELECT count(*) FROM {table} WHERE {where}").fetchall() == [(0,)]

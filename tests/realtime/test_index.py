"""The candidate index finds exactly the pairs bulk blocking makes; the record table
gives back what it was given.

Four kinds of evidence: (a) on a reconciled store, the pairs the index finds are the
pairs splink's bulk predict scores and the pairs DuckDB's blocking SQL makes;
(b) an index grown one record at a time (with compactions) answers as one built on
all records, also when a shared key crosses ``max_block_size`` and back; (c) on random
small tables and random writes, the index agrees with a brute-force reading of the
blocking rules, and that reading with DuckDB's; (d) the record table round-trips
values through loading, appending, updating, deleting and compacting.
"""

from __future__ import annotations

import itertools
import json
import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mdm.bulk.load import add_extra_columns
from mdm.bundled import DEFAULT_MATCH_RULES
from mdm.errors import ConflictError, NotFoundError
from mdm.linkage.model import (
    add_block_keys,
    blocking_sql,
    count_blocked_pairs,
    hashed_key_sql,
    predict_pairs,
)
from mdm.realtime.index import (
    CandidateIndex,
    encode_key,
    encode_keys,
    hash_key,
    hash_keys,
    key_columns,
    rule_key,
)
from mdm.realtime.records import RecordTable
from mdm.rules.match import BlockingRule, MatchRules, load_match_rules
from mdm.schema import RECORD_COLUMNS
from mdm.store.reads import latest_model

REPO = Path(__file__).resolve().parents[2]
RULES = load_match_rules(DEFAULT_MATCH_RULES)
Pairs = set[tuple[int, int]]


def with_blocking(*rules: BlockingRule) -> MatchRules:
    return RULES.model_copy(update={"blocking": list(rules)})


def index_pairs(index: CandidateIndex) -> Pairs:
    """Every pair the index finds, each record looked up as itself."""
    table = index.table
    found: Pairs = set()
    for slot in table.live_slots().tolist():
        for other in index.candidates(table.row(slot), slot).tolist():
            found.add((min(slot, other), max(slot, other)))
    return found


def index_candidates(index: CandidateIndex) -> dict[int, list[int]]:
    table = index.table
    return {
        slot: index.candidates(table.row(slot), slot).tolist()
        for slot in table.live_slots().tolist()
    }


def sql_pairs(con: duckdb.DuckDBPyConnection, table: str, rules: MatchRules) -> Pairs:
    """The pairs bulk blocking makes over ``table`` (with a ``uid`` column)."""
    add_block_keys(con, table, rules)
    union = " UNION ".join(
        f"SELECT l.uid, r.uid FROM {table} l JOIN {table} r "
        f"ON l.uid < r.uid AND ({blocking_sql(rule, i)})"
        for i, rule in enumerate(rules.blocking)
    )
    return {(int(a), int(b)) for a, b in con.execute(union).fetchall()}


def register_work(con: duckdb.DuckDBPyConnection, table: RecordTable) -> None:
    """The table's live records as DuckDB table ``work``, ``uid`` being the slot."""
    arrow = table.to_arrow().append_column("uid", pa.array(np.arange(table.slots)))
    live = arrow.take(pa.array(table.live_slots()))
    con.register("work_arrow", live)
    con.execute("CREATE OR REPLACE TABLE work AS SELECT * FROM work_arrow").fetchall()
    con.unregister("work_arrow")


# --- (a) the pairs of bulk blocking on a reconciled store --------------------------------


@pytest.fixture(scope="module")
def store_table(reconciled_db: Path, tmp_path_factory: pytest.TempPathFactory):
    db = tmp_path_factory.mktemp("index") / "mdm.duckdb"
    shutil.copy(reconciled_db, db)
    con = duckdb.connect(str(db), read_only=True)
    model = latest_model(con)
    table = RecordTable.load(con, RECORD_COLUMNS)
    con.close()
    return model, table


def test_index_finds_the_pairs_splink_blocks(store_table) -> None:
    model, table = store_table
    rules = model.match_rules
    index = CandidateIndex.build(table, rules)
    found = index_pairs(index)
    with duckdb.connect() as con:
        register_work(con, table)
        by_sql = sql_pairs(con, "work", rules)
        predict_pairs(con, "work", model, "scored")
        by_splink = {
            (int(a), int(b)) for a, b in con.execute("SELECT uid_l, uid_r FROM scored").fetchall()
        }
        capped = [
            (i, rule)
            for i, rule in enumerate(rules.blocking)
            if rule.max_block_size
            and con.execute(
                f"SELECT count(*) FROM (SELECT count(*) AS n FROM work WHERE "
                f"{' AND '.join(f'{k} IS NOT NULL' for k in rule.keys)} GROUP BY "
                f"{', '.join(rule.keys)} HAVING n > {rule.max_block_size})"
            ).fetchall()[0][0]
        ]
    assert capped, "the sample should hold keys shared by more records than a cap"
    assert len(found) > 1000
    assert found == by_splink
    assert found == by_sql


def test_candidates_are_symmetric_and_exclude_the_record(store_table) -> None:
    _, table = store_table
    index = CandidateIndex.build(table, RULES)
    found = index_candidates(index)
    for slot, others in found.items():
        assert slot not in others
        assert all(slot in found[other] for other in others)


def test_a_record_counts_once_whether_its_slot_is_given_or_found(store_table) -> None:
    _, table = store_table
    index = CandidateIndex.build(table, RULES)
    for slot in range(0, table.slots, 37):
        record = table.row(slot)
        expected = index.candidates(record, slot).tolist()
        assert index.candidates(record).tolist() == expected  # found by source, record_id
        anonymous = {k: v for k, v in record.items() if k not in ("source", "record_id")}
        as_new = index.candidates(anonymous).tolist()  # a new record with the same values
        assert set(as_new) - {slot} <= set(expected)  # a cap may now be exceeded


# --- (b) grown one record at a time -------------------------------------------------------


def test_an_index_grown_one_record_at_a_time_answers_as_one_built_at_once(store_table) -> None:
    _, table = store_table
    whole = index_candidates(CandidateIndex.build(table, RULES))
    arrow = table.to_arrow()
    first = int(table.slots * 0.7)
    grown = RecordTable(arrow.slice(0, first))
    index = CandidateIndex.build(grown, RULES, compact_after=97)
    for row in arrow.slice(first).to_pylist():
        slot = grown.append(row)
        index.add(slot)
    assert grown.slots == table.slots
    assert len(index) == len(table)
    assert index_candidates(index) == whole
    index.compact()
    assert index_candidates(index) == whole


def _person(record_id: str, **values: Any) -> dict[str, Any]:
    return {"source": "crm", "record_id": record_id, **values}


def _table(records: list[dict[str, Any]]) -> RecordTable:
    """A record table of text columns: every key any record has."""
    names = dict.fromkeys(["source", "record_id", *KEYS, "email"])
    names.update(dict.fromkeys(k for r in records for k in r))
    schema = pa.schema([(name, pa.string()) for name in names])
    return RecordTable(pa.Table.from_pylist(records, schema=schema))


def test_names_typed_in_each_others_fields_pair_in_bulk_and_in_real_time() -> None:
    """ "Smith John" for "John Smith": the default rules' name rule takes either order,
    with no other key to pair them (no birth date, nothing else shared)."""
    swapped = BlockingRule(keys=["first_name", "last_name"], any_order=True)
    people = [
        _person("1", first_name="john", last_name="smith", city="leeds"),
        _person("2", first_name="smith", last_name="john", city="york"),
        _person("3", first_name="john", last_name="smith", city="hull"),
        _person("4", first_name="smith", last_name=None, city="leeds"),
    ]
    table = _table(people)
    expected = {(0, 1), (0, 2), (1, 2)}
    assert index_pairs(CandidateIndex.build(table, with_blocking(swapped))) == expected
    with duckdb.connect() as con:
        register_work(con, table)
        assert sql_pairs(con, "work", with_blocking(swapped)) == expected
        # A training rule (no key column) reads the rule the same way.
        unkeyed = con.execute(
            f"SELECT l.uid, r.uid FROM work l JOIN work r ON l.uid < r.uid "
            f"AND {blocking_sql(swapped)}"
        ).fetchall()
        assert {(int(a), int(b)) for a, b in unkeyed} == expected
        assert count_blocked_pairs(con, "work", swapped) == len(expected)
    rule = next(r for r in RULES.blocking if r.any_order)
    assert rule.keys == ["first_name_phonetic", "last_name_phonetic"]


def test_a_key_past_max_block_size_stops_pairing_and_pairs_again_once_removed() -> None:
    rules = with_blocking(
        BlockingRule(keys=["last_name"], max_block_size=3),
        BlockingRule(keys=["email"]),
    )
    records = [
        _person("1", last_name="smith"),
        _person("2", last_name="smith", email="a@x.org"),
        _person("3", last_name="smith"),
        _person("4", last_name="jones", email="a@x.org"),
    ]
    table = _table(records)
    index = CandidateIndex.build(table, rules, compact_after=None)
    assert index.candidates(table.row(0)).tolist() == [1, 2]
    # A fourth smith, while it is being matched, counts as one of them: past the cap.
    fourth = _person("5", last_name="smith")
    assert index.candidates(fourth).tolist() == []
    slot = table.append(fourth)
    index.add(slot)
    assert index.candidates(table.row(0)).tolist() == []
    assert index.candidates(table.row(1)).tolist() == [3]  # the email still pairs
    # An update of one smith to another name brings the count back to the cap.
    renamed = table.row(2) | {"last_name": "smyth"}
    assert index.candidates(renamed).tolist() == []
    index.remove(2)
    table.update(2, renamed)
    index.add(2)
    assert index.candidates(table.row(0)).tolist() == [1, slot]
    index.compact()
    assert index.candidates(table.row(0)).tolist() == [1, slot]
    # Removing the added one leaves three again (one of them renamed): 0 and 1 pair.
    index.remove(slot)
    table.delete(slot)
    assert index.candidates(table.row(0)).tolist() == [1]
    with pytest.raises(NotFoundError):
        index.remove(slot)
    with pytest.raises(ConflictError):
        index.add(0)


def test_a_capped_rule_compares_each_key_as_an_uncapped_one_does() -> None:
    """("a|b", "c") and ("a", "b|c") would join to one text; neither path pairs them, on
    a capped rule (bulk compares a hash of the keys) or an uncapped one (each key)."""
    records = [
        _person("1", first_name="a|b", last_name="c"),
        _person("2", first_name="a", last_name="b|c"),
        _person("3", first_name="a", last_name="b|c"),
    ]
    table = _table(records)
    for cap in (5, None):
        rules = with_blocking(BlockingRule(keys=["first_name", "last_name"], max_block_size=cap))
        index = CandidateIndex.build(table, rules)
        assert index_candidates(index) == {0: [], 1: [2], 2: [1]}
        with duckdb.connect() as con:
            register_work(con, table)
            assert sql_pairs(con, "work", rules) == index_pairs(index) == {(1, 2)}


def test_hash_collisions_never_make_candidates(monkeypatch: pytest.MonkeyPatch) -> None:
    """With every key hashing alike under seed 0 the index hashes anew; with "d" hashing
    as "a" under seed 1, looking "d" up finds no "a", and adding one hashes anew again."""
    import mdm.realtime.index as module

    def clashing(key: str, seed: int = 0) -> int:
        if seed == 0:
            return 7
        return hash((seed, "a" if key == "d" and seed == 1 else key))

    def clashing_many(keys: list[str], seed: int = 0) -> np.ndarray:
        return np.array([clashing(k, seed) for k in keys], dtype=np.int64)

    monkeypatch.setattr(module, "hash_keys", clashing_many)
    monkeypatch.setattr(module, "hash_key", clashing)
    records = [_person(str(i), last_name=name) for i, name in enumerate(["a", "b", "a", "c"])]
    table = _table(records)
    index = CandidateIndex.build(table, with_blocking(BlockingRule(keys=["last_name"])))
    assert index_candidates(index) == {0: [2], 1: [], 2: [0], 3: []}
    assert index.candidates({"last_name": "b"}).tolist() == [1]
    assert index.candidates({"last_name": "d"}).tolist() == []
    slot = table.append(_person("4", last_name="d"))
    index.add(slot)
    assert index.candidates({"last_name": "d"}).tolist() == [slot]
    assert index_candidates(index) == {0: [2], 1: [], 2: [0], 3: [], 4: []}


# --- (c) random tables against a brute-force reading of the rules -------------------------

KEYS = ("first_name", "last_name", "city")
VALUES = st.sampled_from(["a", "b", "a|b", "b|a", "", None])
CANDIDATE_RULES = [("first_name",), ("last_name",), ("first_name", "last_name"), KEYS]


@st.composite
def blocking_rules(draw: st.DrawFn) -> MatchRules:
    chosen = draw(st.lists(st.sampled_from(CANDIDATE_RULES), min_size=1, max_size=4))
    caps = draw(st.lists(st.sampled_from([None, 2, 3]), min_size=len(chosen), max_size=4))
    # Two-key rules may take their values in either order (names typed swapped).
    swaps = draw(st.lists(st.booleans(), min_size=len(chosen), max_size=4))
    return with_blocking(
        *(
            BlockingRule(keys=list(k), max_block_size=c, any_order=swap and len(k) == 2)
            for k, c, swap in zip(chosen, caps, swaps, strict=False)
        )
    )


def values() -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries({k: VALUES for k in KEYS})


def reference(
    records: dict[int, dict[str, Any]], rules: MatchRules, record: dict[str, Any], own: int | None
) -> list[int]:
    """Brute force: the slots a bulk run over ``records`` (``record`` in place of slot
    ``own``, or added) pairs ``record`` with."""
    table = {s: r for s, r in records.items() if s != own} | {-1: record}

    def present(r: dict[str, Any], keys: Iterable[str]) -> bool:
        return all(r.get(k) is not None for k in keys)

    def ordered(r: dict[str, Any], rule: BlockingRule) -> list[str]:
        texts = [r[k] for k in rule.keys]
        return sorted(texts) if rule.any_order else texts

    found: set[int] = set()
    for rule in rules.blocking:
        if not present(record, rule.keys):
            continue
        if not rule.keyed:
            same = [s for s, r in table.items() if all(r.get(k) == record[k] for k in rule.keys)]
        else:
            same = [
                s
                for s, r in table.items()
                if present(r, rule.keys) and ordered(r, rule) == ordered(record, rule)
            ]
            if rule.max_block_size is not None and len(same) > rule.max_block_size:
                continue
        found |= set(same)
    return sorted(found - {-1})


Write = tuple[str, int, dict[str, Any]]


@settings(max_examples=150)
@given(
    rules=blocking_rules(),
    start=st.lists(values(), max_size=10),
    writes=st.lists(
        st.tuples(st.sampled_from(["add", "update", "delete"]), st.integers(0, 30), values()),
        max_size=12,
    ),
    probe=values(),
)
def test_candidates_match_a_brute_force_reading_of_the_rules(
    rules: MatchRules, start: list[dict], writes: list[Write], probe: dict
) -> None:
    table = _table([_person(f"{i:03d}", **v) for i, v in enumerate(start)])
    index = CandidateIndex.build(table, rules, compact_after=5)
    held = {i: dict(v) for i, v in enumerate(start)}
    for n, (action, pick, new) in enumerate(writes):
        live = sorted(held)
        if action == "add" or not live:
            slot = table.append(_person(f"w{n:03d}", **new))
            index.add(slot)
            held[slot] = new
            continue
        slot = live[pick % len(live)]
        index.remove(slot)
        if action == "update":
            table.update(slot, new)
            index.add(slot, table.row(slot))
            held[slot] = new
        else:
            table.delete(slot)
            del held[slot]
    assert len(index) == len(held)
    for slot, record in held.items():
        expected = reference(held, rules, record, slot)
        assert index.candidates(table.row(slot), slot).tolist() == expected
    assert index.candidates(probe).tolist() == reference(held, rules, probe, None)
    # A neighbourhood's pairs, found without a lookup per record, are the same pairs.
    for some in (sorted(held), sorted(held)[::2]):
        rows = {slot: table.row(slot) for slot in some}
        expected = sorted(
            (slot, int(other))
            for slot in some
            for other in index.candidates(rows[slot], slot)
            if int(other) > slot and int(other) in rows
        )
        assert index.pairs_among(rows) == expected
    if held:
        # and the brute force reads the rules as DuckDB's bulk blocking does
        with duckdb.connect() as con:
            register_work(con, table)
            brute = {
                (min(s, o), max(s, o)) for s in held for o in reference(held, rules, held[s], s)
            }
            assert sql_pairs(con, "work", rules) == brute


def test_bulk_never_pairs_a_missing_key_with_an_empty_one_on_a_capped_rule() -> None:
    """Bulk gives a block key only when every key is present (a hash of a NULL is not
    NULL, nor is a text joined around one)."""
    rules = with_blocking(BlockingRule(keys=["first_name"], max_block_size=2))
    table = _table([_person("1", first_name=""), _person("2", first_name=None)])
    with duckdb.connect() as con:
        register_work(con, table)
        assert sql_pairs(con, "work", rules) == index_pairs(CandidateIndex.build(table, rules))


TEXT = st.text(alphabet=st.sampled_from("ab|:1é\x1e "), max_size=6)


@given(rows=st.lists(st.lists(st.none() | TEXT, min_size=3, max_size=3), max_size=20))
def test_vectorised_keys_and_hashes_equal_the_ones_made_per_record(rows: list[list]) -> None:
    columns = [pa.array([row[i] for row in rows], pa.string()) for i in range(3)]
    for width in (1, 2, 3):
        keys = encode_keys(columns[:width]).to_pylist()
        assert keys == [encode_key(row[:width]) for row in rows]
        present = [k for k in keys if k is not None]
        for seed in (0, 3):
            assert hash_keys(present, seed).tolist() == [hash_key(k, seed) for k in present]
    # Two keys in either order: lesser first, as DuckDB's least() orders text; the
    # bulk run's hashed key (hashed_key_sql) is equal exactly where these keys are.
    swapped = BlockingRule(keys=["a", "b"], any_order=True)
    keys = encode_keys(columns[:2], any_order=True).to_pylist()
    assert keys == [rule_key(swapped, row[:2]) for row in rows]
    with duckdb.connect() as con:
        by_sql = [
            row[0]
            for row in con.execute(
                "SELECT CASE WHEN a IS NOT NULL AND b IS NOT NULL THEN "
                f"{hashed_key_sql(swapped)} END FROM "
                "(SELECT unnest(?::VARCHAR[]) AS a, unnest(?::VARCHAR[]) AS b)",
                [[row[0] for row in rows], [row[1] for row in rows]],
            ).fetchall()
        ]
    assert [k is None for k in keys] == [h is None for h in by_sql]
    pairs = itertools.combinations(zip(keys, by_sql, strict=True), 2)
    for (key, hashed), (other, other_hashed) in pairs:
        if key is not None and other is not None:
            assert (key == other) == (hashed == other_hashed)


def test_key_columns_in_order_of_first_use() -> None:
    assert key_columns(RULES)[:4] == (
        "last_name_phonetic",
        "dob_year",
        "first_initial",
        "first_name_phonetic",
    )


# --- (d) the record table --------------------------------------------------------------

ROW_TYPES = pa.schema(
    [
        ("source", pa.string()),
        ("record_id", pa.string()),
        ("first_name", pa.string()),
        ("email", pa.string()),
        ("email_name_like", pa.bool_()),
        ("first_name_variants", pa.list_(pa.string())),
    ]
)
NAMES = st.none() | st.sampled_from(["ann", "anne", "bo", "", "é|x"])
ROWS = st.fixed_dictionaries(
    {
        "first_name": NAMES,
        "email": st.none() | st.text(max_size=8),  # mostly distinct: kept as text
        "email_name_like": st.none() | st.booleans(),
        "first_name_variants": st.none() | st.lists(NAMES.filter(bool) | st.just(""), max_size=3),
    }
)


def _records(values: list[dict], prefix: str = "") -> list[dict[str, Any]]:
    return [
        {"source": "crm" if i % 3 else "billing", "record_id": f"{prefix}{i:04d}", **v}
        for i, v in enumerate(values)
    ]


@settings(max_examples=60)
@given(st.lists(ROWS, max_size=40), st.lists(ROWS, max_size=10))
def test_the_table_gives_back_what_it_was_given(loaded: list[dict], added: list[dict]) -> None:
    records = _records(loaded)
    table = RecordTable(pa.Table.from_pylist(records[::-1], schema=ROW_TYPES), compact_after=4)
    in_order = sorted(records, key=lambda r: (r["source"], r["record_id"]))
    expected = [r | {"golden_id": None} for r in in_order]
    assert table.rows(range(len(expected))) == expected
    for record in _records(added, prefix="new"):
        slot = table.append(record)
        expected.append(record | {"golden_id": None})
        assert table.slot_of(record["source"], record["record_id"]) == slot
    assert table.rows(np.arange(len(expected))) == expected
    for slot, record in enumerate(expected):
        assert table.slot_of(record["source"], record["record_id"]) == slot
        assert table.key(slot) == (record["source"], record["record_id"])
    some = [{"email": r["email"], "golden_id": None} for r in expected]
    assert table.rows(range(len(expected)), ["email", "golden_id"]) == some
    table.compact()
    assert table.rows(list(range(len(expected)))) == expected
    assert table.to_arrow(["email"]).column("email").to_pylist() == [r["email"] for r in expected]


IDS = st.text(st.characters(exclude_categories=["Cs"]), max_size=4)  # "", "é", "\U0001f600"


@settings(max_examples=80)
@given(
    st.sets(st.tuples(st.sampled_from(["crm", "crm2", "é", ""]), IDS), max_size=60),
    st.lists(st.tuples(st.sampled_from(["crm", "web", "é"]), IDS), max_size=10),
    st.data(),
)
def test_a_record_is_found_by_its_source_and_id_and_only_then(
    loaded: set[tuple[str, str]], asked: list[tuple[str, str]], data: st.DataObject
) -> None:
    """The lookup searches one source's ids as bytes; it answers as a dict would, for
    any text (empty, accented, beyond the basic plane), deleted records included."""
    many = data.draw(st.integers(0, 40))  # past 16 distinct ids, the ids are kept as text
    keys = list(loaded | {("crm", f"{n:02d}") for n in range(many)})
    rows = [{"source": s, "record_id": r} for s, r in keys]
    identity = pa.schema([("source", pa.string()), ("record_id", pa.string())])
    table = RecordTable(pa.Table.from_pylist(rows, schema=identity))
    slots = {table.key(slot): slot for slot in range(len(keys))}
    assert sorted(slots) == sorted(keys)
    gone = data.draw(st.sets(st.sampled_from(keys), max_size=len(keys)) if keys else st.just(set()))
    for key in gone:
        table.delete(slots[key])
    for key in [*keys, *asked]:
        expected = slots.get(key) if key not in gone else None
        assert table.slot_of(*key) == expected
    assert table.sources() == sorted({source for source, _ in set(keys) - gone})


def test_updates_deletes_and_golden_ids() -> None:
    records = _records([{"first_name": "ann", "first_name_variants": ["ann", "anne"]}] * 3)
    table = RecordTable(pa.Table.from_pylist(records, schema=ROW_TYPES))
    first = table.row(0)
    assert first["first_name_variants"] == ["ann", "anne"]
    first["first_name_variants"].append("changed")  # a caller's change stays its own
    assert table.row(0)["first_name_variants"] == ["ann", "anne"]
    table.set_golden([0, 1], "G1")
    table.update(0, {"first_name": "bo", "email": "bo@x.org"})
    assert table.row(0) == {
        "source": "billing",
        "record_id": "0000",
        "golden_id": "G1",
        "first_name": "bo",
        "email": "bo@x.org",
        "email_name_like": None,
        "first_name_variants": None,
    }
    assert table.golden_id(1) == "G1"
    assert sorted(table.golden_ids()) == [(0, "G1"), (1, "G1")]
    with pytest.raises(ConflictError):
        table.update(0, {"record_id": "other"})
    with pytest.raises(ConflictError):
        table.append(records[1])
    source, record_id = table.key(1)
    table.delete(1)
    assert len(table) == 2
    assert table.slot_of(source, record_id) is None
    with pytest.raises(NotFoundError):
        table.rows([0, 1])
    again = table.append(records[1] | {"source": source, "record_id": record_id})
    assert again == 3
    assert table.slot_of(source, record_id) == 3
    table.compact()
    assert table.golden_id(0) == "G1"
    assert table.live_slots().tolist() == [0, 2, 3]


def test_a_repeated_record_is_refused() -> None:
    records = _records([{}, {}])
    with pytest.raises(ConflictError, match="appears more than once"):
        RecordTable(pa.Table.from_pylist(records + records[:1]))


def test_loading_the_store_reads_its_records_and_golden_ids(reconciled_db: Path) -> None:
    with duckdb.connect(str(reconciled_db), read_only=True) as con:
        table = RecordTable.load(con, ["first_name", "first_name_variants", "email_name_like"])
        stored = con.execute(
            "SELECT r.source, r.record_id, x.golden_id, r.first_name, r.first_name_variants, "
            "r.email_name_like FROM records r LEFT JOIN xref x USING (source, record_id) "
            "ORDER BY r.source, r.record_id"
        ).fetchall()
    assert len(table) == len(stored)
    got = [tuple(row.values()) for row in table.rows(range(len(stored)))]
    assert got == [tuple(row) for row in stored]


def test_extra_attributes_are_read_as_the_bulk_run_reads_them() -> None:
    extras = [{"member no": " AB-12 "}, {"member no": 5}, {}, {"member no": None}, {"x": 1}]
    with duckdb.connect() as con:
        con.execute("CREATE TABLE records (source VARCHAR, record_id VARCHAR, extra JSON)")
        con.execute("CREATE TABLE xref (source VARCHAR, record_id VARCHAR, golden_id VARCHAR)")
        for i, extra in enumerate(extras):
            con.execute("INSERT INTO records VALUES ('crm', ?, ?)", [str(i), json.dumps(extra)])
        table = RecordTable.load(con, ["member no"])
    frame = pd.DataFrame({"extra": [json.dumps(e) for e in extras]})
    expected = add_extra_columns(frame, ["member no"])["member no"].tolist()
    assert [row["member no"] for row in table.rows(range(len(extras)))] == expected

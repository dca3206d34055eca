"""The real-time engine: match, upsert and delete one record at a time."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pytest

from mdm.bundled import DEFAULT_MATCH_RULES
from mdm.errors import NothingToMatchError
from mdm.realtime.engine import Engine
from mdm.rules.bundle import RulesBundle
from mdm.store.changes import apply_changes
from mdm.store.reads import get_golden, get_record

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def engine(store) -> Engine:
    bundle = RulesBundle.load(DEFAULT_MATCH_RULES)
    return Engine(store, bundle.survivorship, bundle.rules_dir)


def _write(store, action):
    """Decide a write in memory, then commit its changes (as the service does)."""
    result, changes = action()
    store.execute("BEGIN").fetchall()
    apply_changes(store, [changes])
    store.execute("COMMIT").fetchall()
    return result


def _existing(store, golden_size: int = 2) -> dict:
    """A stored record (schema attributes only) of a golden record with ``golden_size``
    records."""
    row = store.execute(
        "SELECT r.source, r.record_id, r.first_name, r.last_name, r.date_of_birth, r.email, "
        "r.phone, r.address_line, r.city, r.postcode, x.golden_id FROM records r "
        "JOIN xref x USING (source, record_id) JOIN golden g USING (golden_id) "
        "WHERE g.record_count = ? AND r.date_of_birth IS NOT NULL AND r.email IS NOT NULL "
        "ORDER BY r.source, r.record_id LIMIT 1",
        [golden_size],
    ).df()
    return row.astype(object).where(row.notna(), None).iloc[0].to_dict()


def _copy(record: dict, record_id: str, source: str = "api") -> dict:
    fields = {k: v for k, v in record.items() if k not in ("golden_id", "source", "record_id")}
    return {"source": source, "record_id": record_id, **fields}


def test_match_finds_the_golden_record_of_a_copy(store, engine) -> None:
    existing = _existing(store)
    found = engine.match(_copy(existing, "Q1"))
    best = found.candidates[0]
    assert best.golden_id == existing["golden_id"]
    assert best.match_probability >= found.link_threshold
    labels = {hit.comparison: hit.label for hit in best.comparisons}
    assert labels["first_name"] == "exact"
    assert store.execute("SELECT count(*) FROM records WHERE record_id = 'Q1'").fetchall() == [(0,)]


def test_upsert_links_then_is_idempotent(store, engine) -> None:
    existing = _existing(store)
    before = get_golden(store, existing["golden_id"])["record_count"]
    record = _copy(existing, "Q1")
    first = _write(store, lambda: engine.upsert(record, actor="crm-sync"))
    assert (first.action, first.golden_id, first.version) == ("linked", existing["golden_id"], 1)
    golden = get_golden(store, existing["golden_id"])
    assert golden["record_count"] == before + 1
    assert {"source": "api", "record_id": "Q1"} in golden["records"]
    assert get_record(store, "api", "Q1")["golden_id"] == existing["golden_id"]
    events = store.execute("SELECT count(*) FROM events").fetchall()
    logged = store.execute(
        "SELECT kind, golden_id, actor, detail->>'version' FROM events WHERE record_id = 'Q1'"
    ).fetchall()
    assert logged == [("record_added", existing["golden_id"], "crm-sync", "1")]
    again = _write(store, lambda: engine.upsert(record))
    assert again.action == "unchanged" and again.golden_id == existing["golden_id"]
    assert store.execute("SELECT count(*) FROM events").fetchall() == events
    # Matching now finds the new record itself too.
    assert engine.match(_copy(existing, "Q2")).candidates[0].golden_id == first.golden_id


def test_a_new_person_gets_a_new_golden_record(store, engine) -> None:
    record = {
        "source": "api",
        "record_id": "N1",
        "first_name": "Quentavious",
        "last_name": "Zzyzx",
        "date_of_birth": "1931-07-04",
        "email": "qz1931@example.net",
    }
    result = _write(store, lambda: engine.upsert(record))
    assert result.action == "created"
    golden = get_golden(store, result.golden_id)
    assert golden["first_name"] == "quentavious" and golden["record_count"] == 1
    counts = store.execute(
        "SELECT count FROM name_frequencies WHERE kind = 'last' AND name = 'zzyzx'"
    ).fetchall()
    assert counts == [(1,)]
    assert engine.frequencies["last_name"].get("zzyzx") == 1 / engine.frequencies["last_name"].total


def test_update_keeps_the_person_and_bumps_the_version(store, engine) -> None:
    existing = _existing(store)
    record = _copy(existing, "Q1")
    _write(store, lambda: engine.upsert(record))
    record["phone"] = "07700 900999"
    updated = _write(store, lambda: engine.upsert(record))
    assert updated.version == 2 and updated.golden_id == existing["golden_id"]
    assert get_record(store, "api", "Q1")["phone"] == "+447700900999"


def test_delete_rederives_or_retires_the_golden_record(store, engine) -> None:
    existing = _existing(store)
    record = _copy(existing, "Q1")
    _write(store, lambda: engine.upsert(record))
    count = get_golden(store, existing["golden_id"])["record_count"]
    gone = _write(store, lambda: engine.delete("api", "Q1"))
    assert gone["golden_id"] == existing["golden_id"]
    assert get_golden(store, existing["golden_id"])["record_count"] == count - 1
    alone = {"source": "api", "record_id": "N1", "first_name": "Quentavious",
             "last_name": "Zzyzx", "date_of_birth": "1931-07-04"}  # fmt: skip
    created = _write(store, lambda: engine.upsert(alone))
    _write(store, lambda: engine.delete("api", "N1"))
    status = store.execute(
        "SELECT status FROM golden WHERE golden_id = ?", [created.golden_id]
    ).fetchall()
    assert status == [("retired",)]
    assert engine.match(alone).candidates == [] or all(
        c.golden_id != created.golden_id for c in engine.match(alone).candidates
    )


# id, field, value that cannot be standardised
UNUSABLE = [
    pytest.param("phone", "12", id="phone"),
    pytest.param("date_of_birth", "31/02/1980", id="date"),
    pytest.param("email", "not an email", id="email"),
    pytest.param("postcode", "123456789012", id="postcode"),
]


@pytest.mark.parametrize(("field", "value"), UNUSABLE)
def test_a_value_that_cannot_be_standardised_is_missing_with_a_warning(
    store, engine, field: str, value: str
) -> None:
    """As in bulk: the value is treated as missing, the record is matched and stored on
    the rest, the raw value is kept, and the answer says what was left out and why."""
    existing = _existing(store)
    record = {**_copy(existing, "B1"), field: value}
    found = engine.match(record)
    assert [(w.field, w.value) for w in found.warnings] == [(field, value)]
    assert "treated as missing" in found.warnings[0].reason
    assert found.record[field] is None
    assert found.decision.outcome == "link"
    assert found.decision.golden_id == existing["golden_id"]
    result = _write(store, lambda: engine.upsert(record))
    assert result.action == "linked" and result.golden_id == existing["golden_id"]
    assert [w.field for w in result.warnings] == [field]
    stored = get_record(store, "api", "B1")
    assert stored[field] is None and stored["raw"][field] == value


# id, record (source and record_id added): nothing any blocking rule can use
NOTHING_TO_MATCH = [
    pytest.param({}, id="empty"),
    pytest.param({"gender": "F", "country": "GB"}, id="no-matching-attribute"),
    pytest.param({"first_name": "Ann"}, id="first-name-alone"),
    pytest.param({"phone": "12", "email": "nope"}, id="only-unusable-values"),
]


@pytest.mark.parametrize("fields", NOTHING_TO_MATCH)
def test_a_record_with_nothing_to_match_on_is_refused(store, engine, fields: dict) -> None:
    record = {"source": "api", "record_id": "E1", **fields}
    with pytest.raises(NothingToMatchError, match="nothing to match on") as refused:
        engine.match(record)
    assert "give at least one of: last_name, date_of_birth, email, phone, " in str(refused.value)
    with pytest.raises(NothingToMatchError):
        engine.check(record)
    for field, value in fields.items():
        if field in ("phone", "email"):
            assert f"its {field} was left out" in str(refused.value)
            assert value not in str(refused.value)  # never a customer value


def _in_review_band(engine: Engine, existing: dict) -> dict:
    """A part of ``existing`` (one or two of its values) whose best candidate scores in
    the review band."""
    for fields in (["email"], ["last_name"], ["first_name", "city"], ["phone"]):
        record = {"source": "api", "record_id": "D3", **{f: existing[f] for f in fields}}
        best = engine.match(record).candidates[0].match_probability
        if engine.review_threshold <= best < engine.link_threshold:
            return record
    raise AssertionError("no part of the record scores in the review band")


def test_a_match_decides_as_the_upsert_of_the_record_does(store, engine) -> None:
    """link, review and new: the match's decision is the action the upsert then takes,
    and each candidate's decision says what it means for that golden record."""
    existing = _existing(store)
    new = {"source": "api", "record_id": "D2", "first_name": "Quentavious",
           "last_name": "Zzyzx", "date_of_birth": "1931-07-04"}  # fmt: skip
    cases = {
        "link": _copy(existing, "D1"),
        "new": new,
        "review": _in_review_band(engine, existing),
    }
    for outcome, record in cases.items():
        found = engine.match(record)
        assert found.decision.outcome == outcome, (outcome, found.decision)
        by_decision = {c.golden_id: c.decision for c in found.candidates}
        if outcome == "link":
            assert found.decision.golden_id == existing["golden_id"]
            assert by_decision[existing["golden_id"]] == "link"
        if outcome == "review":
            assert existing["golden_id"] in found.decision.review
            assert by_decision[existing["golden_id"]] == "review"
        if outcome == "new":
            assert set(by_decision.values()) <= {"no_link"}
        result = _write(store, lambda r=record: engine.upsert(r))
        assert result.action == {"link": "linked", "review": "review", "new": "created"}[outcome]
        assert bool(result.review_tasks) == (outcome == "review")
        if outcome == "link":
            assert result.golden_id == found.decision.golden_id


def test_a_bulk_run_after_the_service_still_writes_lineage(
    reconciled_db: Path, sample_files: list[Path], tmp_path: Path
) -> None:
    """The service indexes lineage; a later bulk run drops the index and rewrites it."""
    from mdm.bulk.ingest import parse_source_arg
    from mdm.bulk.reconcile import reconcile

    db = tmp_path / "mdm.duckdb"
    shutil.copy(reconciled_db, db)
    bundle = RulesBundle.load(DEFAULT_MATCH_RULES)
    with duckdb.connect(str(db)) as con:
        Engine(con, bundle.survivorship, bundle.rules_dir)
        assert con.execute("SELECT count(*) FROM duckdb_indexes()").fetchall()[0][0] >= 1
        before = con.execute("SELECT count(*) FROM lineage").fetchall()
    reconcile([parse_source_arg(str(p)) for p in sample_files], db, bundle)
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM lineage").fetchall() == before


def test_name_frequencies_stay_equal_to_a_recount(store, engine) -> None:
    """After adds, updates and deletes, the live table (and the engine's copy) equal a
    fresh count over the records."""
    people = [
        {"source": "api", "record_id": f"F{i}", "first_name": first, "last_name": last}
        for i, (first, last) in enumerate(
            [("Ann", "Zzyzx"), ("Ann", "Lee"), ("Bo", "Zzyzx"), ("Cy", "Quorra")]
        )
    ]
    for person in people:
        _write(store, lambda person=person: engine.upsert(person))
    _write(store, lambda: engine.upsert({**people[0], "last_name": "Quorra"}))
    _write(store, lambda: engine.delete("api", "F2"))
    stored = store.execute("SELECT kind, name, count FROM name_frequencies ORDER BY ALL").fetchall()
    recount = store.execute(
        "SELECT 'first', first_name, count(*) FROM records WHERE first_name IS NOT NULL "
        "GROUP BY 2 UNION ALL SELECT 'last', last_name, count(*) FROM records "
        "WHERE last_name IS NOT NULL GROUP BY 2 ORDER BY ALL"
    ).fetchall()
    assert stored == recount
    last = engine.frequencies["last_name"]
    assert dict(last.counts) == {name: n for kind, name, n in stored if kind == "last"}

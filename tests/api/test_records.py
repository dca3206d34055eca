"""Real-time match and upsert over HTTP on loopback."""

from __future__ import annotations

import time
from pathlib import Path

import duckdb
import pytest

from mdm.bundled import DEFAULT_MATCH_RULES

REPO = Path(__file__).resolve().parents[2]


def _existing(db) -> dict:
    with duckdb.connect(str(db), read_only=True) as con:
        row = con.execute(
            "SELECT r.first_name, r.last_name, r.date_of_birth, r.email, r.postcode, "
            "x.golden_id FROM records r JOIN xref x USING (source, record_id) "
            "JOIN golden g USING (golden_id) WHERE g.record_count = 2 AND r.email IS NOT NULL "
            "AND r.date_of_birth IS NOT NULL ORDER BY r.source, r.record_id LIMIT 1"
        ).df()
    return row.astype(object).where(row.notna(), None).iloc[0].to_dict()


def test_match_explains_its_best_candidate(live, reconciled_db) -> None:
    existing = _existing(reconciled_db)
    query = {k: v for k, v in existing.items() if k != "golden_id" and v is not None}
    found = live.client.post("/v1/match", json={**query, "limit": 3})
    assert found.status_code == 200, found.text
    body = found.json()
    best = body["candidates"][0]
    assert best["golden_id"] == existing["golden_id"]
    assert best["match_probability"] >= body["link_threshold"]
    levels = {c["comparison"]: c for c in best["comparisons"]}
    assert levels["first_name"]["level"] == "exact"
    assert levels["first_name"]["values"]["first_name"] == [existing["first_name"]] * 2
    assert len(body["candidates"]) <= 3


def test_upsert_read_and_delete(live, reconciled_db) -> None:
    existing = _existing(reconciled_db)
    record = {"source": "callcentre", "record_id": "CC-1", **{
        k: v for k, v in existing.items() if k != "golden_id" and v is not None}}  # fmt: skip
    first = live.client.post("/v1/records", json={"records": [record], "by": "cc"})
    assert first.status_code == 200, first.text
    result = first.json()["results"][0]
    assert result["action"] == "linked" and result["golden_id"] == existing["golden_id"]
    assert result["evidence"][0]["golden_id"] == existing["golden_id"]
    again = live.client.post("/v1/records", json={"records": [record]}).json()["results"][0]
    assert again["action"] == "unchanged" and again["version"] == 1
    stored = live.client.get("/v1/records/callcentre/CC-1").json()
    assert stored["golden_id"] == existing["golden_id"]
    assert stored["values"]["first_name"] == existing["first_name"]
    assert stored["raw"]["first_name"] == existing["first_name"]
    golden = live.client.get(f"/v1/golden/{existing['golden_id']}").json()
    assert {"source": "callcentre", "record_id": "CC-1"} in golden["records"]
    assert golden["record_count"] == 3
    assert {line["attribute"] for line in golden["lineage"]} >= {"first_name", "last_name"}
    gone = live.client.delete("/v1/records/callcentre/CC-1")
    assert gone.status_code == 200, gone.text
    assert live.client.get("/v1/records/callcentre/CC-1").status_code == 404
    assert live.client.get(f"/v1/golden/{existing['golden_id']}").json()["record_count"] == 2


def test_a_retired_golden_id_answers_with_its_survivor(live, reconciled_db) -> None:
    existing = _existing(reconciled_db)
    new = {"source": "web", "record_id": "W-9", "first_name": "Quentavious",
           "last_name": "Zzyzx", "date_of_birth": "1931-07-04"}  # fmt: skip
    created = live.client.post("/v1/records", json={"records": [new]}).json()["results"][0]
    assert created["action"] == "created"
    live.client.delete("/v1/records/web/W-9")
    retired = live.client.get(f"/v1/golden/{created['golden_id']}")
    assert retired.status_code == 200
    assert retired.json()["status"] == "retired"
    assert live.client.get(f"/v1/golden/{existing['golden_id']}").json()["status"] == "active"
    assert live.client.get("/v1/golden/GNOPE").status_code == 404


def test_bad_records_are_refused_and_nothing_is_written(live) -> None:
    good = {"source": "web", "record_id": "W-1", "first_name": "Ann", "last_name": "Lee"}
    bad = {"source": "web", "record_id": "W-2", "first_name": "Bo", "date_of_birth": "31/02/1980"}
    refused = live.client.post("/v1/records", json={"records": [good, bad]})
    assert refused.status_code == 422
    message = refused.json()["error"]["message"]
    assert "nothing to match on" in message and "date_of_birth was left out" in message
    assert "31/02/1980" not in message  # fields are named, customer values never
    assert refused.json()["error"]["type"] == "NothingToMatchError"
    assert live.client.get("/v1/records/web/W-1").status_code == 404
    unknown = live.client.post("/v1/records", json={"records": [{**good, "shoe_size": "9"}]})
    assert unknown.status_code == 422
    assert "shoe_size" in unknown.json()["error"]["message"]
    nameless = live.client.post("/v1/records", json={"records": [{"first_name": "Ann"}]})
    assert nameless.status_code == 422
    assert "source" in nameless.json()["error"]["message"]
    twice = live.client.post("/v1/records", json={"records": [good, good]})
    assert twice.status_code == 400
    assert "twice" in twice.json()["error"]["message"]
    huge = live.client.post("/v1/match", json={"first_name": "x" * 10_000})
    assert huge.status_code == 422
    empty = live.client.post("/v1/records", json={"records": []})
    assert empty.status_code == 422


def test_matches_and_upserts_side_by_side(live, reconciled_db) -> None:
    """Matches run beside writes (they do not wait for the store); nothing fails and every
    upserted record is there afterwards."""
    from concurrent.futures import ThreadPoolExecutor

    import httpx

    existing = _existing(reconciled_db)
    query = {k: v for k, v in existing.items() if k != "golden_id" and v is not None}

    def match(_: int) -> int:
        with httpx.Client(base_url=live.url, timeout=30, headers=live.headers) as client:
            return client.post("/v1/match", json=query).status_code

    def upsert(i: int) -> int:
        record = {"source": "load", "record_id": f"L{i}", **query}
        with httpx.Client(base_url=live.url, timeout=30, headers=live.headers) as client:
            return client.post("/v1/records", json={"records": [record]}).status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(lambda i: upsert(i) if i % 4 == 0 else match(i), range(80)))
    assert statuses == [200] * 80
    golden = live.client.get(f"/v1/golden/{existing['golden_id']}").json()
    assert sum(r["source"] == "load" for r in golden["records"]) == 20


def test_a_store_without_a_model_says_what_to_do(tmp_path) -> None:
    from api import Settings
    from tests.api.conftest import LiveServer

    with LiveServer(Settings(db=tmp_path / "new.duckdb")) as server:
        refused = server.client.post("/v1/match", json={"first_name": "Ann"})
        assert refused.status_code == 503
        assert "mdm reconcile" in refused.json()["error"]["message"]
        names = server.client.get("/v1/names/variants", params={"limit": 1})
        assert names.status_code == 200  # the name list works without a model


def test_a_failed_commit_is_a_503_and_the_service_recovers(
    live, reconciled_db, monkeypatch
) -> None:
    """When the group commit fails, the callers waiting on it get a 503 and nothing of
    theirs is stored; the engine is rebuilt from the store, so its memory does not keep
    the lost write, and the next writes go through."""
    from mdm.store.journal import Journal

    existing = _existing(reconciled_db)
    record = {"source": "callcentre", "record_id": "CC-9", **{
        k: v for k, v in existing.items() if k != "golden_id" and v is not None}}  # fmt: skip
    real = Journal.append
    calls = []

    def failing(self, changes):
        calls.append(len(changes))
        if len(calls) == 1:
            raise OSError(28, "No space left on device (simulated)")
        return real(self, changes)

    monkeypatch.setattr(Journal, "append", failing)
    lost = live.client.post("/v1/records", json={"records": [record]})
    assert lost.status_code == 503, lost.text
    assert "not committed" in lost.json()["error"]["message"]
    assert live.client.get("/v1/records/callcentre/CC-9").status_code == 404
    deadline = time.monotonic() + 60
    probe = {**record, "record_id": "probe"}
    while (answer := live.client.post("/v1/match", json=probe)).status_code == 503:
        assert "recovering" in answer.json()["error"]["message"]  # while it rebuilds: 503
        assert answer.headers["Retry-After"]
        assert time.monotonic() < deadline, "the service did not recover"
        time.sleep(0.1)
    found = answer.json()
    assert all(c["record_id"] != "CC-9" for c in found["candidates"])
    again = live.client.post("/v1/records", json={"records": [record]})
    assert again.status_code == 200, again.text
    assert again.json()["results"][0]["action"] == "linked"  # not "unchanged": it was lost
    assert live.client.get("/v1/records/callcentre/CC-9").status_code == 200


def test_fast_answers_keep_to_their_declared_schema(live, reconciled_db) -> None:
    """The hot endpoints build their answers as plain dicts (api.responses): each must
    still be exactly what the OpenAPI schema declares."""
    from api.schemas.records import BatchPublic, MatchPublic

    existing = _existing(reconciled_db)
    query = {k: v for k, v in existing.items() if k != "golden_id" and v is not None}
    found = live.client.post("/v1/match", json=query).json()
    assert MatchPublic.model_validate(found).model_dump(mode="json") == found
    record = {"source": "web", "record_id": "S-1", **query}
    written = live.client.post("/v1/records", json={"records": [record]}).json()
    assert BatchPublic.model_validate(written).model_dump(mode="json") == written


def test_writes_reads_and_a_steward_change_side_by_side(live, reconciled_db) -> None:
    """Upserts, deletes, reads and a steward's name approval at once: every request is
    answered (no deadlock, no 5xx), every read sees the writes acknowledged before it,
    and afterwards the engine's memory is what a new engine reads from the store."""
    from concurrent.futures import ThreadPoolExecutor

    import httpx

    from mdm.realtime.engine import Engine
    from mdm.rules.bundle import RulesBundle

    existing = _existing(reconciled_db)
    base = {k: v for k, v in existing.items() if k != "golden_id" and v is not None}

    def client_work(i: int) -> list[int]:
        statuses = []
        with httpx.Client(base_url=live.url, timeout=60, headers=live.headers) as client:
            record = {**base, "source": "mix", "record_id": f"M{i}", "city": f"Town {i % 3}"}
            wrote = client.post("/v1/records", json={"records": [record]})
            statuses.append(wrote.status_code)
            read = client.get(f"/v1/records/mix/M{i}")  # acknowledged, so it is there
            statuses.append(read.status_code)
            if read.status_code == 200:
                assert read.json()["golden_id"] == wrote.json()["results"][0]["golden_id"]
            if i % 3 == 0:
                statuses.append(client.delete(f"/v1/records/mix/M{i}").status_code)
                statuses.append(client.get(f"/v1/records/mix/M{i}").status_code)
            if i == 5:
                statuses.append(
                    client.post(
                        "/v1/names/variants/approve",
                        json={"name": "zebedee", "variant": "zeb", "by": "steward"},
                    ).status_code
                )
            statuses.append(client.post("/v1/match", json=base).status_code)
        return statuses

    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(client_work, range(24)))
    for i, statuses in enumerate(results):
        expected = [200, 200] + ([200, 404] if i % 3 == 0 else []) + ([200] if i == 5 else [])
        assert statuses == [*expected, 200], (i, statuses)
    store = live.server.config.app.state.store
    with store.read() as con:
        bundle = RulesBundle.load(DEFAULT_MATCH_RULES)
        fresh = Engine(con, bundle.survivorship, bundle.rules_dir)
    live_engine = store.engine

    def members(engine):
        return {g: {engine.table.key(s) for s in m} for g, m in engine.members.items() if m}

    assert members(live_engine) == members(fresh)
    assert live_engine.created == fresh.created
    assert live_engine.open_tasks == fresh.open_tasks


# id, field, a value that cannot be standardised, the reason's start
UNUSABLE = [
    pytest.param("phone", "12", "not a possible phone number", id="phone"),
    pytest.param("date_of_birth", "31/02/1980", "not a date", id="date"),
    pytest.param("email", "bob.at.example", "not an email address", id="email"),
    pytest.param("postcode", "123456789012", "not a postcode", id="postcode"),
]


@pytest.mark.parametrize(("field", "value", "reason"), UNUSABLE)
def test_a_value_that_cannot_be_standardised_is_a_warning_not_a_refusal(
    live, reconciled_db, field: str, value: str, reason: str
) -> None:
    """Match and upsert answer 200: the value is treated as missing (as bulk does), the
    answer lists it under warnings, and the stored record keeps it among its raw values."""
    existing = _existing(reconciled_db)
    query = {k: v for k, v in existing.items() if k != "golden_id" and v is not None}
    query[field] = value
    warning = {"field": field, "value": value, "reason": f"{reason}"}
    found = live.client.post("/v1/match", json=query)
    assert found.status_code == 200, found.text
    body = found.json()
    assert [(w["field"], w["value"]) for w in body["warnings"]] == [(field, value)]
    assert body["warnings"][0]["reason"].startswith(warning["reason"])
    assert body["warnings"][0]["reason"].endswith("; treated as missing")
    assert field not in body["record"]
    assert body["decision"] == "link" and body["golden_id"] == existing["golden_id"]
    record = {"source": "callcentre", "record_id": f"CC-{field}", **query}
    written = live.client.post("/v1/records", json={"records": [record]})
    assert written.status_code == 200, written.text
    result = written.json()["results"][0]
    assert result["action"] == "linked" and result["golden_id"] == existing["golden_id"]
    assert result["warnings"] == body["warnings"]
    stored = live.client.get(f"/v1/records/callcentre/CC-{field}").json()
    assert field not in stored["values"] and stored["raw"][field] == value


# id, record: nothing any blocking rule can use
NOTHING_TO_MATCH = [
    pytest.param({"gender": "F", "country": "GB"}, id="no-matching-attribute"),
    pytest.param({"first_name": "Ann"}, id="first-name-alone"),
    pytest.param({"phone": "12", "email": "nope"}, id="only-unusable-values"),
]


@pytest.mark.parametrize("fields", NOTHING_TO_MATCH)
def test_a_record_with_nothing_to_match_on_is_a_422_that_says_so(live, fields: dict) -> None:
    found = live.client.post("/v1/match", json=fields)
    assert found.status_code == 422, found.text
    message = found.json()["error"]["message"]
    assert message.startswith("nothing to match on") and "give at least one of" in message
    good = {"source": "web", "record_id": "G-1", "last_name": "Lee"}
    batch = [good, {"source": "web", "record_id": "E-1", **fields}]
    refused = live.client.post("/v1/records", json={"records": batch})
    assert refused.status_code == 422 and "nothing to match on" in refused.text
    assert live.client.get("/v1/records/web/G-1").status_code == 404  # nothing written


def _review_band_query(live, existing: dict) -> dict:
    """One or two values of ``existing`` whose best candidate scores in the review band."""
    for fields in (["email"], ["last_name"], ["first_name", "city"], ["phone"]):
        query = {f: existing[f] for f in fields if existing.get(f)}
        body = live.client.post("/v1/match", json=query).json()
        best = body["candidates"][0]["match_probability"] if body.get("candidates") else 0
        if body.get("review_threshold", 1) <= best < body.get("link_threshold", 0):
            return query
    raise AssertionError("no part of the record scores in the review band")


def test_match_says_what_it_decides_as_the_upsert_then_does(live, reconciled_db) -> None:
    """link (with the golden id it joins), review (with the candidate golden ids) and new,
    under the service's thresholds; each candidate says what the decision means for it;
    the upsert of the same record then takes that action."""
    existing = _existing(reconciled_db)
    full = {k: v for k, v in existing.items() if k != "golden_id" and v is not None}
    cases = {
        "link": full,
        "review": _review_band_query(live, {**existing, "city": None, "phone": None}),
        "new": {"first_name": "Quentavious", "last_name": "Zzyzx", "date_of_birth": "1931-07-04"},
    }
    actions = {"link": "linked", "review": "review", "new": "created"}
    for decision, query in cases.items():
        body = live.client.post("/v1/match", json=query).json()
        assert body["decision"] == decision, (decision, body)
        by_candidate = {c["golden_id"]: c["decision"] for c in body["candidates"]}
        if decision == "link":
            assert body["golden_id"] == existing["golden_id"]
            assert by_candidate[existing["golden_id"]] == "link"
        else:
            assert body["golden_id"] is None
        if decision == "review":
            assert body["review_golden_ids"] == [existing["golden_id"]]
            assert by_candidate[existing["golden_id"]] == "review"
        if decision == "new":
            assert body["review_golden_ids"] == [] and "link" not in by_candidate.values()
        record = {"source": "web", "record_id": f"D-{decision}", **query}
        result = live.client.post("/v1/records", json={"records": [record]}).json()["results"][0]
        assert result["action"] == actions[decision], (decision, result)
        if decision == "link":
            assert result["golden_id"] == body["golden_id"]


def test_the_cleaned_query_is_in_schema_form_and_the_keys_only_with_debug(
    live, reconciled_db
) -> None:
    from mdm.schema import ATTRIBUTES

    existing = _existing(reconciled_db)
    query = {k: v for k, v in existing.items() if k != "golden_id" and v is not None}
    plain = live.client.post("/v1/match", json=query).json()
    assert set(plain["record"]) <= {"source", "record_id", *ATTRIBUTES}
    assert plain["record"]["first_name"] == existing["first_name"]
    assert plain["debug"] is None
    debugged = live.client.post("/v1/match", params={"debug": "true"}, json=query).json()
    assert debugged["record"] == plain["record"]
    assert {"last_name_phonetic", "first_initial", "dob_year"} <= set(debugged["debug"])
    assert not set(debugged["debug"]) & set(plain["record"])

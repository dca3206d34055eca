"""Merge, unmerge, decisions and erasure over HTTP, against a running service."""

from __future__ import annotations

import threading
from pathlib import Path

import duckdb
import httpx

from api import Settings
from mdm.store import open_store
from mdm.store.events import replay_differences
from tests.api.conftest import LiveServer

CANARY = "quilla.canary.k3@zarkmail.com"


def _two(db: Path) -> list[str]:
    with duckdb.connect(str(db), read_only=True) as con:
        return [
            row[0]
            for row in con.execute(
                "SELECT golden_id FROM golden WHERE status = 'active' AND record_count = 2 "
                "ORDER BY golden_id LIMIT 2"
            ).fetchall()
        ]


def test_merge_then_unmerge_over_http(live, reconciled_db) -> None:
    first, second = _two(reconciled_db)
    before = {g: live.client.get(f"/v1/golden/{g}").json() for g in (first, second)}
    merged = live.client.post(
        "/v1/golden/merge",
        json={"golden_ids": [first, second], "by": "ann", "reason": "x", "confirm": True},
    )
    assert merged.status_code == 200, merged.text
    survivor = merged.json()["golden_id"]
    other = second if survivor == first else first
    assert merged.json()["retired"] == [other]
    shown = live.client.get(f"/v1/golden/{other}").json()
    assert shown["golden_id"] == survivor and shown["record_count"] == 4
    key_id = live.client.get("/v1/keys").json()["keys"][-1]["key_id"]
    assert {(c["kind"], c["origin"], c["set_by"]) for c in shown["constraints"]} == {
        ("must", "merge", f"ann [key {key_id}]")
    }
    again = live.client.post("/v1/golden/merge", json={"golden_ids": [first, second], "by": "a"})
    assert again.status_code == 409 and "retired" in again.text
    records = before[other]["records"]
    back = live.client.post(
        f"/v1/golden/{survivor}/unmerge", json={"records": records, "by": "ann"}
    )
    assert back.status_code == 200, back.text
    assert back.json()["into"] == [other]
    for golden_id, was in before.items():
        now = live.client.get(f"/v1/golden/{golden_id}").json()
        changes = ("updated_at", "constraints")  # the unmerge's cannot-links are new
        assert {k: v for k, v in now.items() if k not in changes} == {
            k: v for k, v in was.items() if k not in changes
        }
    history = live.client.get(f"/v1/golden/{survivor}/history").json()
    kinds = [event["kind"] for event in history["events"]]
    assert "golden_merged" in kinds and "golden_unmerged" in kinds
    # Bad requests: nothing to take out, a record of somebody else, a malformed body.
    empty = live.client.post(f"/v1/golden/{survivor}/unmerge", json={"records": [], "by": "a"})
    assert empty.status_code == 422
    stray = live.client.post(
        f"/v1/golden/{survivor}/unmerge",
        json={"records": [{"source": "crm", "record_id": "NOPE"}], "by": "a"},
    )
    assert stray.status_code == 400 and "not in golden record" in stray.text
    one = live.client.post("/v1/golden/merge", json={"golden_ids": [first], "by": "a"})
    assert one.status_code == 422


def test_a_decision_takes_effect_at_once(live, reconciled_db) -> None:
    with duckdb.connect(str(reconciled_db), read_only=True) as con:
        task_id, sl, rl, sr, rr = con.execute(
            "SELECT task_id, source_l, record_id_l, source_r, record_id_r FROM review_tasks "
            "WHERE status = 'open' ORDER BY task_id LIMIT 1"
        ).fetchall()[0]
    done = live.client.post(
        f"/v1/review/tasks/{task_id}/decision", json={"decision": "same", "by": "ann"}
    )
    assert done.status_code == 200, done.text
    (golden_id,) = done.json()["golden_records"]
    left = live.client.get(f"/v1/records/{sl}/{rl}").json()
    right = live.client.get(f"/v1/records/{sr}/{rr}").json()
    assert left["golden_id"] == right["golden_id"] == golden_id


def test_erasure_while_the_service_runs(live, served_db) -> None:
    person = {"source": "web", "record_id": "ERASE-1", "first_name": "Quilla",
              "last_name": "Zarkovna", "email": CANARY, "date_of_birth": "1977-03-04"}  # fmt: skip
    created = live.client.post("/v1/records", json={"records": [person], "by": "crm"})
    assert created.status_code == 200, created.text
    golden_id = created.json()["results"][0]["golden_id"]
    assert live.client.get(f"/v1/golden/{golden_id}").json()["values"]["email"] == CANARY
    erased = live.client.post(f"/v1/golden/{golden_id}/erasure", json={"by": "dpo"})
    assert erased.status_code == 200, erased.text
    assert erased.json()["records"] == [{"source": "web", "record_id": "ERASE-1"}]
    files = [p for p in served_db.parent.rglob("*") if p.is_file()]
    assert not [p for p in files if CANARY.encode() in p.read_bytes()]
    # The service goes on: reads, matches and writes on the compacted file.
    assert live.client.get("/v1/records/web/ERASE-1").status_code == 404
    other = {**person, "record_id": "ERASE-2", "email": "someone.else@example.org"}
    again = live.client.post("/v1/records", json={"records": [other], "by": "crm"})
    assert again.status_code == 200, again.text
    assert live.client.get("/health").json()["status"] == "ok"
    missing = live.client.post("/v1/golden/GNOPE/erasure", json={"by": "dpo"})
    assert missing.status_code == 404


def test_steward_operations_and_upserts_side_by_side(served_db) -> None:
    """Merges and unmerges while upserts stream in: nothing fails, and afterwards the
    event log still replays to the tables."""
    with duckdb.connect(str(served_db), read_only=True) as con:
        people = con.execute(
            "SELECT first_name, last_name, date_of_birth FROM records "
            "WHERE first_name IS NOT NULL ORDER BY source, record_id LIMIT 60"
        ).fetchall()
        singles = [
            row[0]
            for row in con.execute(
                "SELECT golden_id FROM golden WHERE status = 'active' AND record_count = 1 "
                "ORDER BY golden_id LIMIT 12"
            ).fetchall()
        ]
    failures: list[str] = []
    with LiveServer(Settings(db=served_db)) as server:

        def stream(offset: int) -> None:
            with httpx.Client(base_url=server.url, timeout=30, headers=server.headers) as client:
                for i, (first, last, dob) in enumerate(people[offset::3]):
                    record = {"source": "web", "record_id": f"S{offset}-{i}",
                              "first_name": first, "last_name": last}  # fmt: skip
                    if dob:
                        record["date_of_birth"] = dob
                    answer = client.post("/v1/records", json={"records": [record], "by": "t"})
                    if answer.status_code != 200:
                        failures.append(answer.text)

        threads = [threading.Thread(target=stream, args=(n,)) for n in range(3)]
        for thread in threads:
            thread.start()
        for first, second in zip(singles[::2], singles[1::2], strict=True):
            theirs = server.client.get(f"/v1/golden/{second}").json()["records"]
            merged = server.client.post(
                "/v1/golden/merge",
                json={"golden_ids": [first, second], "by": "ann", "confirm": True},
            )
            if merged.status_code == 409:  # an upsert joined them already: nothing to do
                continue
            assert merged.status_code == 200, merged.text
            back = server.client.post(
                f"/v1/golden/{merged.json()['golden_id']}/unmerge",
                json={"records": theirs, "by": "ann"},
            )
            assert back.status_code == 200, back.text
        for thread in threads:
            thread.join()
        assert server.client.get("/health").json()["status"] == "ok"
    assert failures == []
    with open_store(served_db) as con:
        assert replay_differences(con) == []


def test_a_merge_the_model_holds_against_is_refused_until_confirmed(live, reconciled_db) -> None:
    first, second = _two(reconciled_db)
    body = {"golden_ids": [first, second], "by": "ann", "reason": "known twins"}
    refused = live.client.post("/v1/golden/merge", json=body)
    assert refused.status_code == 409, refused.text
    message = refused.json()["error"]["message"]
    assert "strong evidence against this merge" in message and "confirm" in message
    assert live.client.get(f"/v1/golden/{second}").json()["golden_id"] == second  # untouched
    merged = live.client.post("/v1/golden/merge", json={**body, "confirm": True})
    assert merged.status_code == 200, merged.text

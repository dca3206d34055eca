"""The name-variant endpoints, over HTTP on loopback."""

from __future__ import annotations

import io

import pandas as pd


def test_list_and_search_variants(live) -> None:
    listed = live.client.get("/v1/names/variants", params={"status": "active", "limit": 5})
    assert listed.status_code == 200
    body = listed.json()
    assert body["count"] == 5
    assert {v["status"] for v in body["variants"]} == {"active"}
    found = live.client.get("/v1/names/variants", params={"q": "Margaret"}).json()
    assert any({v["name"], v["variant"]} == {"margaret", "peggy"} for v in found["variants"])


def test_propose_approve_reject_round_trip(live) -> None:
    proposed = live.client.post(
        "/v1/names/variants", json={"name": "Xandrielle", "variant": "Xandy", "by": "ann"}
    )
    assert proposed.status_code == 201, proposed.text
    assert "proposed 'xandrielle' ~ 'xandy'" in proposed.json()["message"]
    pending = live.client.get("/v1/names/variants", params={"status": "proposed", "q": "xand"})
    assert [v["origin"] for v in pending.json()["variants"]] == ["steward"]
    approved = live.client.post(
        "/v1/names/variants/approve", json={"name": "xandy", "variant": "xandrielle", "by": "bo"}
    )
    assert approved.status_code == 200, approved.text
    assert "is now active" in approved.json()["message"]
    rejected = live.client.post(
        "/v1/names/variants/reject", json={"name": "xandrielle", "variant": "xandy", "by": "cy"}
    )
    assert "is now rejected" in rejected.json()["message"]
    again = live.client.post(
        "/v1/names/variants", json={"name": "Xandrielle", "variant": "Xandy", "by": "ann"}
    )
    assert again.status_code == 409
    assert "was rejected" in again.json()["error"]["message"]


def test_accents_fold_and_a_name_is_not_its_own_variant(live) -> None:
    same = live.client.post("/v1/names/variants", json={"name": "José", "variant": "Jose"})
    assert same.status_code == 400
    assert "same name once folded" in same.json()["error"]["message"]
    # Other scripts are transliterated to Latin letters, as records' names are.
    cyrillic = live.client.post("/v1/names/variants", json={"name": "Дмитрий", "variant": "Dima"})
    assert cyrillic.status_code == 201
    assert "'dmitriy' ~ 'dima'" in cyrillic.json()["message"]
    blank = live.client.post("/v1/names/variants", json={"name": "123", "variant": "Wei"})
    assert blank.status_code == 400
    assert "Latin letters" in blank.json()["error"]["message"]


def test_bad_requests_are_422_with_the_field_named(live) -> None:
    unknown = live.client.post(
        "/v1/names/variants", json={"name": "A", "variant": "B", "colour": "red"}
    )
    assert unknown.status_code == 422
    assert "colour" in unknown.json()["error"]["message"]
    empty = live.client.post("/v1/names/variants", json={"name": "  ", "variant": "Bob"})
    assert empty.status_code == 422
    assert "name" in empty.json()["error"]["message"]
    kind = live.client.post(
        "/v1/names/variants", json={"name": "Al", "variant": "Alan", "kind": "alias"}
    )
    assert kind.status_code == 422
    assert "kind" in kind.json()["error"]["message"]
    status = live.client.get("/v1/names/variants", params={"status": "maybe"})
    assert status.status_code == 422
    broken = live.client.post(
        "/v1/names/variants", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert broken.status_code == 422


def test_export_csv_and_parquet(live) -> None:
    csv = live.client.get("/v1/names/variants/export", params={"status": "active"})
    assert csv.status_code == 200
    assert csv.headers["content-type"].startswith("text/csv")
    frame = pd.read_csv(io.StringIO(csv.text))
    assert len(frame) > 2000 and set(frame["status"]) == {"active"}
    parquet = live.client.get("/v1/names/variants/export", params={"format": "parquet"})
    assert len(pd.read_parquet(io.BytesIO(parquet.content))) >= len(frame)


def test_frequencies(live) -> None:
    body = live.client.get("/v1/names/frequencies", params={"kind": "last", "limit": 3}).json()
    counts = [f["count"] for f in body["frequencies"]]
    assert counts == sorted(counts, reverse=True) and len(counts) == 3
    assert body["total"] > 1000
    assert 0 < body["frequencies"][0]["share"] < 1


def test_an_approved_pair_is_used_by_matching_at_once(live) -> None:
    stored = {
        "source": "web",
        "record_id": "X-1",
        "first_name": "Xandrielle",
        "last_name": "Zzyzx",
        "date_of_birth": "1961-02-03",
        "postcode": "LS1 4AP",
    }
    assert live.client.post("/v1/records", json={"records": [stored]}).status_code == 200
    query = {k: v for k, v in stored.items() if k not in ("source", "record_id")}
    query["first_name"] = "Xandy"

    def first_name_level() -> str:
        best = live.client.post("/v1/match", json=query).json()["candidates"][0]
        return {c["comparison"]: c["level"] for c in best["comparisons"]}["first_name"]

    assert first_name_level() != "known variant"
    approved = live.client.post(
        "/v1/names/variants/approve", json={"name": "Xandrielle", "variant": "Xandy"}
    )
    assert approved.status_code == 200
    assert first_name_level() == "known variant"
    live.client.post("/v1/names/variants/reject", json={"name": "Xandrielle", "variant": "Xandy"})
    assert first_name_level() != "known variant"

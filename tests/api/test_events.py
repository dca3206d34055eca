"""The change feed and golden record histories over HTTP."""

from __future__ import annotations

from typer.testing import CliRunner

from mdm.cli import app


def _all_events(client, limit: int) -> list[dict]:
    found, after = [], 0
    while True:
        page = client.get("/v1/events", params={"after": after, "limit": limit}).json()
        found += page["events"]
        if not page["events"]:
            return found
        after = page["next"]


def test_the_feed_pages_without_skipping_or_repeating(live) -> None:
    first = _all_events(live.client, 500)
    assert first, "a bulk run logs the golden records it created"
    assert {e["kind"] for e in first} >= {"golden_created"}
    cursor = first[-1]["event_id"]
    people = [
        {"source": "web", "record_id": f"F{i}", "first_name": first, "last_name": last}
        for i, (first, last) in enumerate(
            [("Quinn", "Ostrova"), ("Ulla", "Brekke"), ("Yusuf", "Demirel"), ("Ines", "Varga")]
        )
    ]
    assert live.client.post("/v1/records", json={"records": people}).status_code == 200
    later = live.client.get("/v1/events", params={"after": cursor, "limit": 3}).json()
    assert len(later["events"]) == 3 and later["next"] == later["events"][-1]["event_id"]
    everything = _all_events(live.client, 3)
    ids = [e["event_id"] for e in everything]
    assert ids == sorted(set(ids))  # in order, no repeats
    assert ids[: len(first)] == [e["event_id"] for e in first]  # the past does not change
    new = [e for e in everything if e["event_id"] > cursor]
    assert sum(e["kind"] == "record_added" for e in new) == 4
    assert sum(e["kind"] == "golden_created" for e in new) == 4
    assert all("Ostrova" not in str(e) and "Demirel" not in str(e) for e in everything)
    bad = live.client.get("/v1/events", params={"after": -1})
    assert bad.status_code == 422


def test_a_golden_records_history_reads_as_a_timeline(live, served_db) -> None:
    person = {"source": "web", "record_id": "H1", "first_name": "Quinn", "last_name": "Holm",
              "email": "quinn.holm@example.org"}  # fmt: skip
    made = live.client.post("/v1/records", json={"records": [person]}).json()["results"][0]
    golden_id = made["golden_id"]
    moved = {**person, "city": "Leeds"}
    live.client.post("/v1/records", json={"records": [moved], "by": "crm-sync"})
    live.client.put(f"/v1/golden/{golden_id}/overrides/email",
                    json={"value": "q@example.org", "by": "ann"})  # fmt: skip
    found = live.client.get(f"/v1/golden/{golden_id}/history").json()
    kinds = [e["kind"] for e in found["events"]]
    assert kinds[:2] == ["record_added", "golden_created"]
    assert "record_updated" in kinds and "golden_changed" in kinds and "override_set" in kinds
    changed = next(e for e in found["events"] if e["kind"] == "golden_changed")
    # the event names the key the call came with beside what the caller says it is
    key_id = live.client.get("/v1/keys").json()["keys"][-1]["key_id"]
    assert "city" in changed["detail"]["attributes"]
    assert changed["actor"] == f"crm-sync [key {key_id}]"
    assert "golden values changed: " in changed["description"]
    assert live.client.get("/v1/golden/GNOPE/history").status_code == 404


def test_mdm_history_prints_the_timeline(reconciled_db) -> None:
    import duckdb

    with duckdb.connect(str(reconciled_db), read_only=True) as con:
        golden_id = con.execute("SELECT golden_id FROM golden LIMIT 1").fetchall()[0][0]
    shown = CliRunner().invoke(
        app, ["history", golden_id, "--db", str(reconciled_db)], env={"COLUMNS": "200"}
    )
    assert shown.exit_code == 0, shown.output
    assert "golden record created" in shown.output and "system" in shown.output
    missing = CliRunner().invoke(app, ["history", "GNOPE", "--db", str(reconciled_db)])
    assert missing.exit_code != 0 and "no golden record GNOPE" in missing.output

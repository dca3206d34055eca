"""Steward overrides over HTTP: set, shown in the lineage, cleared; bad requests 4xx."""

from __future__ import annotations

import duckdb

from mdm.store.overrides import RULE

CANARY = "canary.override@example.org"


def _two_record_golden(con: duckdb.DuckDBPyConnection) -> str:
    return con.execute(
        "SELECT golden_id FROM golden WHERE status = 'active' AND record_count = 2 "
        "AND email IS NOT NULL ORDER BY golden_id LIMIT 1"
    ).fetchall()[0][0]


def test_the_api_sets_and_clears(live, reconciled_db) -> None:
    with duckdb.connect(str(reconciled_db), read_only=True) as con:
        golden_id = _two_record_golden(con)
    url = f"/v1/golden/{golden_id}/overrides/email"
    put = live.client.put(url, json={"value": CANARY, "by": "ann", "reason": "phoned"})
    assert put.status_code == 200, put.text
    assert put.json()["values"]["email"] == CANARY
    lines = {line["attribute"]: line for line in put.json()["lineage"]}
    assert lines["email"]["rule"] == RULE and lines["email"]["record_id"].startswith("ann [key ")
    unknown = live.client.put(f"/v1/golden/{golden_id}/overrides/shoe", json={"value": "9"})
    assert unknown.status_code == 400 and "unknown attribute" in unknown.text
    extra = live.client.put(url, json={"value": CANARY, "colour": "red"})
    assert extra.status_code == 422
    gone = live.client.delete(url, params={"by": "ann"})
    assert gone.status_code == 200, gone.text
    assert gone.json()["values"].get("email") != CANARY
    assert live.client.delete(url).status_code == 404

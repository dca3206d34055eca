"""Review-task endpoints, over HTTP on loopback."""

from __future__ import annotations


def test_list_then_decide(live) -> None:
    tasks = live.client.get("/v1/review/tasks", params={"limit": 2}).json()
    assert tasks["count"] == 2
    task = tasks["tasks"][0]["task_id"]
    decided = live.client.post(
        f"/v1/review/tasks/{task}/decision", json={"decision": "different", "by": "ann"}
    )
    assert decided.status_code == 200, decided.text
    assert decided.json()["decision"] == "different"
    done = live.client.get("/v1/review/tasks", params={"status": "decided"}).json()
    assert [t["task_id"] for t in done["tasks"]] == [task]
    again = live.client.post(
        f"/v1/review/tasks/{task}/decision", json={"decision": "same", "by": "bo"}
    )
    assert again.status_code == 409
    assert "not open" in again.json()["error"]["message"]


def test_missing_task_and_bad_decisions(live) -> None:
    missing = live.client.post(
        "/v1/review/tasks/999999/decision", json={"decision": "same", "by": "ann"}
    )
    assert missing.status_code == 404
    assert "mdm review list" in missing.json()["error"]["message"]
    bad = live.client.post("/v1/review/tasks/1/decision", json={"decision": "maybe", "by": "a"})
    assert bad.status_code == 422
    assert "decision" in bad.json()["error"]["message"]
    nobody = live.client.post("/v1/review/tasks/1/decision", json={"decision": "same"})
    assert nobody.status_code == 422
    assert "by" in nobody.json()["error"]["message"]

"""Bad input everywhere gets a clear 4xx (or a failed job saying why), never a 500 and
never a partial write."""

from __future__ import annotations

import time
from urllib.parse import quote

import pytest

from tests.api.conftest import LiveServer


def _count(live: LiveServer, source: str, record_id: str) -> int:
    return int(live.client.get(f"/v1/records/{source}/{record_id}").status_code == 200)


def test_hostile_values_are_refused_or_stored_as_plain_text(live: LiveServer) -> None:
    c = live.client
    sql = "Robert'); DROP TABLE records;--"
    record = {"source": "web", "record_id": "SQL-1", "first_name": sql, "last_name": "O'Brien"}
    stored = c.post("/v1/records", json={"records": [record]})
    assert stored.status_code == 200, stored.text
    assert c.get("/v1/records/web/SQL-1").json()["raw"]["first_name"] == sql
    for value in ("\x00\x07bell", "line\nbreak\ttab", "=cmd|' /C calc'!A0", "🙂" * 50):
        answer = c.post("/v1/records", json={"records": [
            {"source": "web", "record_id": "CTL-1", "first_name": value}]})  # fmt: skip
        assert answer.status_code in (200, 422), (value, answer.status_code, answer.text)
    for body, kind in ((b'{"records": [', "malformed"), (b"\xff\xfe\x00", "not UTF-8"),
                       (b'{"records": "many"}', "wrong type")):  # fmt: skip
        answer = c.post("/v1/records", content=body, headers={"content-type": "application/json"})
        assert answer.status_code in (400, 422), (kind, answer.text)
        assert answer.json()["error"]["message"]
    huge = c.post("/v1/match", json={"first_name": "x" * 100_000})
    assert huge.status_code == 422 and "first_name" in huge.text
    wrong = c.post("/v1/match", json={"first_name": 5, "limit": "many"})
    assert wrong.status_code == 422
    # one bad record refuses the batch: the good one before it is not written either
    # (a record whose only value cannot be standardised has nothing to match on)
    batch = [{"source": "web", "record_id": "OK-1", "first_name": "Ann", "last_name": "Lee"},
             {"source": "web", "record_id": "BAD-1", "email": "bob.at.example"}]  # fmt: skip
    refused = c.post("/v1/records", json={"records": batch})
    assert refused.status_code == 422 and "nothing to match on" in refused.text
    assert "email was left out" in refused.text and "bob.at.example" not in refused.text
    assert _count(live, "web", "OK-1") == 0
    assert c.get("/health").json()["status"] == "ok"


def test_a_file_that_is_not_utf8_fails_its_job_and_writes_nothing(live: LiveServer) -> None:
    body = "customer_no,fname,surname\nC-1,Zoë,Smith\n".encode("latin-1")
    for mode in ("incremental", "full"):
        sent = live.client.post("/v1/jobs", files={"file": ("crm.csv", body, "text/csv")},
                                data={"source": "crm", "mode": mode})  # fmt: skip
        assert sent.status_code == 202
        deadline = time.monotonic() + 120
        while (job := live.client.get(f"/v1/jobs/{sent.json()['job_id']}").json())["status"] in (
            "queued", "running"):  # fmt: skip
            assert time.monotonic() < deadline
            time.sleep(0.1)
        assert job["status"] == "failed" and "UTF-8" in job["error"], job
        assert _count(live, "crm", "C-1") == 0


@pytest.mark.parametrize(
    "path", ["/v1/events", "/v1/review/tasks", "/v1/names/variants", "/v1/names/frequencies"]
)
def test_a_page_larger_than_the_limit_is_refused_with_the_limit(live: LiveServer, path) -> None:
    """Lists return at most MDM_MAX_PAGE_SIZE rows: asking for more is a 422 that names
    the most, not a silently shorter page; the most itself is fine."""
    refused = live.client.get(path, params={"limit": 1001})
    assert refused.status_code == 422, refused.text
    assert "less than or equal to 1000" in refused.json()["error"]["message"]
    assert live.client.get(path, params={"limit": 1000}).status_code == 200


def test_a_batch_over_the_limit_is_refused_and_nothing_is_written(live: LiveServer) -> None:
    records = [
        {"source": "web", "record_id": f"B-{n}", "first_name": "Ann", "last_name": "Lee"}
        for n in range(1001)
    ]
    refused = live.client.post("/v1/records", json={"records": records})
    assert refused.status_code == 400
    assert "send at most 1000" in refused.json()["error"]["message"]
    assert live.client.get("/v1/records/web/B-0").status_code == 404


@pytest.mark.parametrize(
    ("field", "value"),
    [("record_id", "u-An\u0000n"), ("record_id", "a\x7fb"), ("source", "crm\r\nforged"),
     ("record_id", "x\u202egnp.exe"), ("record_id", "a\u2028b"), ("by", "ann\r\n2026 admin")],
    ids=["nul", "del", "crlf-source", "bidi-override", "line-separator", "crlf-actor"],
)  # fmt: skip
def test_hidden_characters_are_refused_in_identifiers_and_actors(
    live: LiveServer, field: str, value: str
) -> None:
    record = {"source": "web", "record_id": "HID-1", "first_name": "Ann", "last_name": "Lee"}
    body = {"records": [record], "by": "tests"}
    if field == "by":
        body["by"] = value
    else:
        record[field] = value
    answer = live.client.post("/v1/records", json=body)
    assert answer.status_code == 422, answer.text
    assert f"U+{ord(next(c for c in value if not c.isprintable())):04X}" in answer.text
    assert _count(live, "web", "HID-1") == 0


def test_any_record_id_that_can_be_stored_can_be_read_and_deleted(live: LiveServer) -> None:
    """In the path (percent-encoded or not), or, for ids a URL path cannot carry (a
    client resolves ``..``), as query values."""
    for record_id in ("A/B/1", "a b%2F?#x", "ü-1/", "..", "."):
        record = {"source": "web", "record_id": record_id, "first_name": "Ann", "last_name": "Lee"}
        assert live.client.post("/v1/records", json={"records": [record]}).status_code == 200
        query = {"source": "web", "record_id": record_id}
        read = live.client.get("/v1/records", params=query)
        assert read.status_code == 200 and read.json()["record_id"] == record_id, read.text
        if record_id not in ("..", "."):
            path = f"/v1/records/web/{quote(record_id, safe='')}"
            read = live.client.get(path)
            assert read.status_code == 200, (record_id, read.text)
            assert read.json()["record_id"] == record_id
            assert live.client.delete(path).status_code == 200, record_id
        else:
            assert live.client.delete("/v1/records", params=query).status_code == 200
        assert live.client.get("/v1/records", params=query).status_code == 404


def test_names_of_extra_attributes_are_limited_like_values(live: LiveServer) -> None:
    record = {"source": "web", "record_id": "EXTRA-1", "first_name": "Ann", "last_name": "Lee"}
    answer = live.client.post(
        "/v1/records", json={"records": [{**record, "extra": {"k" * 101: "v"}}]}
    )
    assert answer.status_code == 422 and "extra" in answer.text
    assert _count(live, "web", "EXTRA-1") == 0


def test_a_call_without_a_valid_key_is_refused_before_its_body_is_read(live: LiveServer) -> None:
    for headers in ({}, {"Authorization": "Bearer mdm_not_a_key"}):
        for body in (b'{"records": [', b"\xff\xfe", b"x" * 20_000_000):
            answer = live.anon.post(
                "/v1/records", content=body, headers={**headers, "content-type": "application/json"}
            )
            assert answer.status_code == 401, (headers, answer.text)
            assert "API key" in answer.json()["error"]["message"]


def test_answers_carry_security_headers(live: LiveServer) -> None:
    api = live.client.get("/health")
    page = live.anon.get("/ui/login")
    for answer in (api, page):
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert answer.headers["x-frame-options"] == "DENY"
    policy = page.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert "strict-transport-security" not in api.headers  # plain HTTP on loopback
    assert "store" not in api.json()  # /health names no path

"""The audit log: one line per API and page call, naming the caller, the route and
its ids and how it ended, refusals included; never what was searched for."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb
import httpx

from api import Settings
from mdm.store.users import add_user
from tests.api.conftest import LiveServer
from tests.web.conftest import token


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_calls_reads_and_refusals_are_logged_without_search_terms(
    reconciled_db: Path, tmp_path: Path
) -> None:
    db = tmp_path / "mdm.duckdb"
    shutil.copy(reconciled_db, db)
    with duckdb.connect(str(db)) as con:
        add_user(con, "ann", "correct horse battery", "steward")
        golden_id = con.execute("SELECT golden_id FROM golden LIMIT 1").fetchall()[0][0]
    log = tmp_path / "audit.jsonl"
    settings = Settings(db=db, secure_cookies=False, audit_log=log)
    with LiveServer(settings) as server:
        admin = server.token.split("_")[1]
        assert server.client.get(f"/v1/golden/{golden_id}").status_code == 200
        query = {"first_name": "Zebediah", "last_name": "Quarrington", "email": "zq@example.org"}
        assert server.client.post("/v1/match", json=query).status_code == 200
        assert server.anon.get(f"/v1/golden/{golden_id}").status_code == 401
        wrong = {"Authorization": "Bearer mdm_abc123_not-the-secret"}
        assert httpx.get(f"{server.url}/v1/events", headers=wrong).status_code == 401
        etl = server.key("etl")
        denied = httpx.get(f"{server.url}/v1/golden/{golden_id}",
                           headers={"Authorization": f"Bearer {etl}"})  # fmt: skip
        assert denied.status_code == 403
        with httpx.Client(base_url=server.url, timeout=30) as page:
            form = page.get("/ui/login").text
            login = {"csrf": token(form), "username": "ann", "password": "correct horse battery"}
            signed = page.post("/ui/login", data=login)
            assert signed.status_code == 303
            assert page.get("/ui/search", params={"q": "Quarrington"}).status_code == 200
            assert page.get(f"/ui/golden/{golden_id}").status_code == 200
            assert page.get("/ui/static/app.css").status_code == 200
    text = log.read_text(encoding="utf-8")
    for term in ("Zebediah", "Quarrington", "zq@example.org", "correct horse", "not-the-secret"):
        assert term not in text, term
    lines = _lines(log)
    read = next(x for x in lines if x["route"] == "/v1/golden/{golden_id}" and x["status"] == 200)
    assert read["ids"] == {"golden_id": golden_id} and read["key"] == admin
    assert read["outcome"] == "answered" and read["method"] == "GET" and read["client"]
    match = next(x for x in lines if x["route"] == "/v1/match")
    assert match["key"] == admin and match["ids"] == {}
    refused = [x for x in lines if x["outcome"] == "refused"]
    assert {(x["status"], x["key"], x.get("claimed_key")) for x in refused} >= {
        (401, None, None), (401, None, "abc123")}  # fmt: skip
    forbidden = next(x for x in refused if x["status"] == 403)
    assert forbidden["key"] == etl.split("_")[1] and "claimed_key" not in forbidden
    pages = [x for x in lines if x["route"].startswith("/ui")]
    assert {"/ui/search", "/ui/golden/{golden_id}"} <= {x["route"] for x in pages if x["user"]}
    assert all(x["user"] == "ann" for x in pages if x["route"] == "/ui/golden/{golden_id}")
    assert not any("static" in x["route"] for x in lines)


def test_without_the_setting_nothing_is_logged(reconciled_db: Path, tmp_path: Path) -> None:
    db = tmp_path / "mdm.duckdb"
    shutil.copy(reconciled_db, db)
    with LiveServer(Settings(db=db)) as server:
        assert server.client.get("/v1/events", params={"limit": 1}).status_code == 200
    assert not list(tmp_path.glob("*.jsonl"))

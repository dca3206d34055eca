"""The service on an encrypted store: writes keep being applied, reads see them, backups
work. DuckDB's real crypto extension (httpfs, OpenSSL) has no package for the DuckDB
this project pins (PyPI's ``duckdb-extension-httpfs`` stops at 1.5) and nothing may be
downloaded at run time, so the store is encrypted with DuckDB's built-in mbedtls
(``MDM_ENCRYPTION_UNSAFE_FOR_TESTS``): the same AES-GCM file format and the same
attach-and-USE connection, which is what this test is about."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from api import Settings
from mdm.bundled import DEFAULT_MATCH_RULES
from mdm.ingest import parse_source_arg
from mdm.jobs import RulesBundle, reconcile
from mdm.store import open_store
from tests.api.conftest import LiveServer


@pytest.fixture
def encrypted_db(sample_files: list[Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("MDM_ENCRYPTION_KEY", "correct horse battery staple")
    monkeypatch.setenv("MDM_ENCRYPTION_UNSAFE_FOR_TESTS", "1")
    db = tmp_path / "secret.duckdb"
    reconcile(
        [parse_source_arg(str(p)) for p in sample_files], db, RulesBundle.load(DEFAULT_MATCH_RULES)
    )
    return db


def _record(i: int) -> dict:
    return {
        "source": "callcentre",
        "record_id": f"ENC-{i}",
        "first_name": f"Zebulon{chr(97 + i % 26)}",
        "last_name": "Quartermaine",
        "date_of_birth": f"1970-02-{1 + i % 28:02d}",
        "email": f"zq{i}@example.org",
    }


def test_an_encrypted_store_keeps_applying_writes(encrypted_db: Path, tmp_path: Path) -> None:
    gone = 0
    """The applier used a cursor, whose default catalog is the in-memory one, not the
    attached store: the first write was acknowledged and every later apply failed."""
    canary = b"Quartermaine"
    with LiveServer(Settings(db=encrypted_db, backup_folder=tmp_path / "backups")) as live:
        for i in range(12):
            made = live.client.post("/v1/records", json={"records": [_record(i)]})
            assert made.status_code == 200, made.text
        for i in range(12):  # reads wait for the writes to be applied
            read = live.client.get(f"/v1/records/callcentre/ENC-{i}")
            assert read.status_code == 200, read.text
        deadline = time.monotonic() + 10
        while (health := live.anon.get("/health").json())["status"] != "ok":
            assert time.monotonic() < deadline, health
            time.sleep(0.1)
        backup = live.client.post("/v1/backups", json={"name": "encrypted"})
        assert backup.status_code in (200, 201), backup.text
        # erasure compacts the store into a new encrypted file, and writes go on after it
        erased_id = live.client.get("/v1/records/callcentre/ENC-0").json()["golden_id"]
        erased = live.client.post(f"/v1/golden/{erased_id}/erasure", json={"by": "dpo"})
        assert erased.status_code == 200, erased.text
        gone = len(erased.json()["records"])
        after = live.client.post("/v1/records", json={"records": [_record(12)]})
        assert after.status_code == 200, after.text
        assert live.client.get("/v1/records/callcentre/ENC-12").status_code == 200
    con = open_store(encrypted_db, create=False)
    try:
        stored = con.execute(
            "SELECT count(*) FROM records WHERE source = 'callcentre' AND record_id LIKE 'ENC-%'"
        ).fetchall()[0][0]
    finally:
        con.close()
    assert stored == 13 - gone  # 12, less those erased with ENC-0, and one after
    assert canary not in encrypted_db.read_bytes()
    for path in (tmp_path / "backups").rglob("*"):
        if path.is_file():
            assert canary not in path.read_bytes(), path

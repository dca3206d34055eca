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
from mdm.bulk.ingest import parse_source_arg
from mdm.bulk.reconcile import reconcile
from mdm.bundled import DEFAULT_MATCH_RULES
from mdm.rules.bundle import RulesBundle
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


def test_the_journal_of_an_encrypted_store_is_sealed(encrypted_db: Path) -> None:
    """An acknowledged write waits in the journal until it is written into the tables:
    with the store encrypted, its entry is sealed with the store's key, so the journal
    shows no value, and the write is in the store afterwards."""
    from mdm.store.journal import journal_folder
    from mdm.store.sealing import MAGIC

    settings = Settings(db=encrypted_db, apply_delay=3600)  # stays in the journal
    with LiveServer(settings) as live:
        made = live.client.post("/v1/records", json={"records": [_record(0), _record(1)]})
        assert made.status_code == 200, made.text
        files = [p for p in journal_folder(encrypted_db).glob("*.log") if p.stat().st_size]
        assert files
        for path in files:
            data = path.read_bytes()
            assert MAGIC in data
            for canary in (b"Quartermaine", b"quartermaine", b"zq0@example.org", b"ENC-1"):
                assert canary not in data, (path, canary)
    con = open_store(encrypted_db, create=False)
    try:
        found = con.execute(
            "SELECT count(*) FROM records WHERE source = 'callcentre' AND record_id LIKE 'ENC-%'"
        ).fetchall()[0][0]
    finally:
        con.close()
    assert found == 2


def test_a_sealed_entry_is_refused_without_the_key_or_when_changed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from mdm.errors import StoreError
    from mdm.store.sealing import seal, unseal

    monkeypatch.setenv("MDM_ENCRYPTION_KEY", "one key")
    sealed = seal(b'{"first_name": "ann"}')
    assert b"ann" not in sealed and unseal(sealed) == b'{"first_name": "ann"}'
    changed = sealed[:-1] + bytes([sealed[-1] ^ 1])
    with pytest.raises(StoreError, match="changed"):
        unseal(changed)
    monkeypatch.setenv("MDM_ENCRYPTION_KEY", "another key")
    with pytest.raises(StoreError, match="another key"):
        unseal(sealed)
    monkeypatch.delenv("MDM_ENCRYPTION_KEY")
    with pytest.raises(StoreError, match="set MDM_ENCRYPTION_KEY"):
        unseal(sealed)
    assert seal(b"plain") == b"plain" and unseal(b"plain") == b"plain"


def test_job_results_beside_an_encrypted_store_are_sealed(
    encrypted_db: Path, sample_dir: Path
) -> None:
    """A job's results hold customer values (its golden records): sealed with the
    store's key on disk, served as usual."""
    import io

    import pandas as pd

    from mdm.erasure import job_folder
    from tests.api.test_jobs import _csv, _wait

    with LiveServer(Settings(db=encrypted_db)) as live:
        body = _csv(sample_dir, slice(0, 20), "SEAL")
        sent = live.client.post(
            "/v1/jobs", files={"file": ("crm.csv", body, "text/csv")}, data={"source": "crm"}
        )
        assert sent.status_code == 202, sent.text
        job = _wait(live.client, sent.json()["job_id"])
        assert job["status"] == "done", job
        for part in ("xref", "golden"):
            got = live.client.get(f"/v1/jobs/{job['job_id']}/results", params={"part": part})
            assert got.status_code == 200 and len(pd.read_csv(io.BytesIO(got.content))) > 0
        names = pd.read_csv(io.BytesIO(body), dtype=str)["surname"].str.lower().tolist()
    files = [p for p in job_folder(encrypted_db).rglob("*") if p.is_file()]
    assert any(p.suffix == ".parquet" for p in files)
    for path in files:
        data = path.read_bytes()
        assert b"SEAL0" not in data, path
        assert not any(name.encode() in data for name in names if len(name) > 4), path

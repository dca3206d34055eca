"""Backups (offline and while the service runs), restore to the same state, and stores
encrypted at rest."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from api import Settings
from mdm.backup import backup, fingerprint, restore
from mdm.bulk.ingest import parse_source_arg
from mdm.bulk.reconcile import reconcile
from mdm.bundled import DEFAULT_MATCH_RULES
from mdm.checks import store_problems
from mdm.cli import app
from mdm.errors import InputError, StoreError
from mdm.rules.bundle import RulesBundle
from mdm.store import open_store
from tests.api.conftest import LiveServer

REPO = Path(__file__).resolve().parents[1]


def _fingerprint(db: Path) -> str:
    con = open_store(db, create=False)
    try:
        return fingerprint(con)
    finally:
        con.close()


def test_a_backup_restores_the_same_state(reconciled_db: Path, tmp_path: Path) -> None:
    db = tmp_path / "mdm.duckdb"
    shutil.copy(reconciled_db, db)
    before = _fingerprint(db)
    made = backup(db, tmp_path / "backup.duckdb")
    assert made.fingerprint == before and len(made.sha256) == 64
    with pytest.raises(InputError, match="exists already"):
        backup(db, tmp_path / "backup.duckdb")
    with duckdb.connect(str(db)) as con:  # the store moves on after the backup
        con.execute("DELETE FROM golden WHERE record_count = 1").fetchall()
    assert _fingerprint(db) != before
    (db.with_name(db.name + ".journal")).mkdir()
    with pytest.raises(InputError, match="--force"):
        restore(made.path, db)
    assert restore(made.path, db, force=True).fingerprint == before
    assert _fingerprint(db) == before
    assert list(tmp_path.glob("mdm.duckdb.journal.before-restore-*"))
    garbage = tmp_path / "garbage.duckdb"
    garbage.write_bytes(b"not a database at all" * 100)
    with pytest.raises(StoreError, match="cannot open|not a store"):
        restore(garbage, tmp_path / "new.duckdb")
    assert not (tmp_path / "new.duckdb").exists()


def test_the_cli_backs_up_and_restores(reconciled_db: Path, tmp_path: Path) -> None:
    db = tmp_path / "mdm.duckdb"
    shutil.copy(reconciled_db, db)
    runner = CliRunner()
    made = runner.invoke(app, ["backup", "--db", str(db), "--out", str(tmp_path / "b.duckdb")])
    assert made.exit_code == 0 and "sha256" in made.output, made.output
    again = runner.invoke(app, ["restore", str(tmp_path / "b.duckdb"), "--db", str(db)])
    assert again.exit_code == 2 and "--force" in again.output
    done = runner.invoke(app, ["restore", str(tmp_path / "b.duckdb"), "--db", str(db), "--force"])
    assert done.exit_code == 0 and "restored" in done.output


def test_an_online_backup_holds_every_write_acknowledged_before_it(
    reconciled_db: Path, tmp_path: Path
) -> None:
    served_db = tmp_path / "mdm.duckdb"
    shutil.copy(reconciled_db, served_db)
    folder = served_db.parent / "backups"
    first = {"source": "web", "record_id": "B-1", "first_name": "Ottilie", "last_name": "Marsh"}
    later = {"source": "web", "record_id": "B-2", "first_name": "Peregrine", "last_name": "Vane"}
    with LiveServer(Settings(db=served_db, backup_folder=folder)) as server:
        assert server.client.post("/v1/records", json={"records": [first]}).status_code == 200
        taken = server.client.post("/v1/backups", json={"name": "nightly"})
        assert taken.status_code == 201, taken.text
        assert server.client.post("/v1/records", json={"records": [later]}).status_code == 200
        assert server.client.post("/v1/backups", json={"name": "../x"}).status_code == 422
        again = server.client.post("/v1/backups", json={"name": "nightly"})
        assert again.status_code == 400 and "exists" in again.text
    restored = served_db.parent / "restored.duckdb"
    assert restore(Path(taken.json()["path"]), restored).fingerprint == taken.json()["fingerprint"]
    con = open_store(restored, create=False)
    try:
        ids = {r for (r,) in con.execute("SELECT record_id FROM records WHERE source = 'web'")
               .fetchall()}  # fmt: skip
        assert "B-1" in ids and "B-2" not in ids
        assert store_problems(con) == []
    finally:
        con.close()


def test_an_encrypted_store_keeps_no_value_in_clear(
    sample_files: list[Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With MDM_ENCRYPTION_KEY set the store (and its backups) are DuckDB encrypted
    databases: the bytes hold no customer value, and the store does not open without
    the key. (DuckDB writes encrypted files through its httpfs extension; where that is
    not installed, as here, the test uses DuckDB's built-in cipher, which is not secure.)"""
    canary = "quintessa.canary.x9@zarkmail.com"
    crm = next(p for p in sample_files if p.name == "crm.csv")
    text = crm.read_text().splitlines()
    first = text[1].split(",")
    first[6] = canary  # the email column
    source = tmp_path / "crm.csv"
    source.write_text("\n".join([text[0], ",".join(first), *text[2:]]) + "\n")
    rules = RulesBundle.load(DEFAULT_MATCH_RULES)
    specs = [parse_source_arg(f"crm={source}")] + [
        parse_source_arg(str(p)) for p in sample_files if p.name != "crm.csv"
    ]

    plain = tmp_path / "plain.duckdb"
    reconcile(specs, plain, rules)
    assert canary.encode() in plain.read_bytes()  # the check below can fail

    monkeypatch.setenv("MDM_ENCRYPTION_KEY", "correct horse battery staple")
    monkeypatch.setenv("MDM_ENCRYPTION_UNSAFE_FOR_TESTS", "1")
    secret = tmp_path / "secret.duckdb"
    reconcile(specs, secret, rules)
    assert canary.encode() not in secret.read_bytes()
    result = CliRunner().invoke(app, ["check", "--db", str(secret)])
    assert result.exit_code == 0, result.output
    copy = backup(secret, tmp_path / "secret-backup.duckdb")
    assert canary.encode() not in copy.path.read_bytes()
    monkeypatch.setenv("MDM_ENCRYPTION_KEY", "wrong key")
    with pytest.raises(StoreError, match="MDM_ENCRYPTION_KEY"):
        open_store(secret, create=False)
    monkeypatch.delenv("MDM_ENCRYPTION_KEY")
    with pytest.raises(StoreError, match="MDM_ENCRYPTION_KEY"):
        open_store(secret, create=False)


def test_without_the_crypto_extension_encryption_fails_clearly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MDM_ENCRYPTION_KEY", "k")
    monkeypatch.delenv("MDM_ENCRYPTION_UNSAFE_FOR_TESTS", raising=False)
    try:
        with duckdb.connect() as con:
            con.execute("LOAD httpfs").fetchall()
        pytest.skip("httpfs is installed here: encryption works for real")
    except duckdb.Error:
        pass
    with pytest.raises(StoreError, match="httpfs"):
        open_store(tmp_path / "new.duckdb")
    assert not (tmp_path / "new.duckdb").exists()

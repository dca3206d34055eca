"""``mdm serve`` starts the service as a user would: a process listening on loopback."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.api.conftest import _free_port, admin_key


def test_mdm_serve_answers_and_documents_itself(
    served_db: Path, reconciled_db: Path, tmp_path: Path
) -> None:
    port = _free_port()
    log = tmp_path / "serve.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "mdm.cli", "serve", "--db", str(served_db), "--port", str(port)],
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/health", timeout=2)
                break
            except httpx.TransportError:
                assert process.poll() is None, log.read_text()
                assert time.monotonic() < deadline, "mdm serve did not start in 30 s"
                time.sleep(0.2)
        assert health.json()["status"] == "ok"
        refused = subprocess.run(
            [sys.executable, "-m", "mdm", "golden", "show", "g", "--db", str(served_db)],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert refused.returncode == 2, refused.stderr
        assert "in use by the mdm service (`mdm serve`, process" in refused.stderr
        assert str(process.pid) in refused.stderr and "Traceback" not in refused.stderr
        # replacing the store under the service would lose what it writes next
        backup = tmp_path / "backup.duckdb"
        shutil.copyfile(reconciled_db, backup)
        restore = subprocess.run(
            [sys.executable, "-m", "mdm", "restore", str(backup), "--db", str(served_db),
             "--force"],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert restore.returncode == 2, restore.stderr
        assert "in use by the mdm service (`mdm serve`, process" in restore.stderr
        assert "ENCRYPTION" not in restore.stderr
        assert sorted(p.name for p in tmp_path.iterdir() if "restor" in p.name) == []
        schema = httpx.get(f"http://127.0.0.1:{port}/openapi.json").json()
        for path, methods in schema["paths"].items():
            for method, operation in methods.items():
                body = operation.get("requestBody")
                if body and "multipart/form-data" in body["content"]:
                    continue  # a file upload: its fields are described, not exampled
                if body:
                    content = body["content"]["application/json"]["schema"]
                    ref = content["$ref"].rsplit("/", 1)[-1]
                    examples = schema["components"]["schemas"][ref].get("examples")
                    assert examples, f"{method.upper()} {path} has no example request"
        assert httpx.get(f"http://127.0.0.1:{port}/docs").status_code == 200
    finally:
        process.terminate()
        process.wait(timeout=20)


def test_an_acknowledged_write_survives_a_kill(served_db: Path, tmp_path: Path) -> None:
    """A 2xx means committed: the write is in the journal before the answer, so a
    service killed (SIGKILL) before writing it into the tables loses nothing; the next
    open of the store writes it in."""
    import os
    import signal

    import duckdb

    from mdm.store import open_store

    port = _free_port()
    log = tmp_path / "serve.log"
    env = {**os.environ, "MDM_APPLY_DELAY": "600"}  # the applier never gets to it
    token = admin_key(served_db)
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "mdm.cli", "serve", "--db", str(served_db), "--port", str(port)],
            stdout=sink,
            stderr=subprocess.STDOUT,
            env=env,
        )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"http://127.0.0.1:{port}/health", timeout=2)
                break
            except httpx.TransportError:
                assert process.poll() is None, log.read_text()
                assert time.monotonic() < deadline, "mdm serve did not start in 30 s"
                time.sleep(0.2)
        records = [
            {"source": "web", "record_id": f"K{i}", "first_name": "Kit", "last_name": f"Quill{i}"}
            for i in range(3)
        ]
        answer = httpx.post(
            f"http://127.0.0.1:{port}/v1/records",
            json={"records": records},
            timeout=30,
            headers={"Authorization": f"Bearer {token}"},
        )
        assert answer.status_code == 200, answer.text
        golden = {r["record_id"]: r["golden_id"] for r in answer.json()["results"]}
        health = httpx.get(f"http://127.0.0.1:{port}/health", timeout=5).json()
        assert (health["status"], health["unapplied"]) == ("ok", 3)
    finally:
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=20)
    from mdm.store.journal import journal_folder, read_journal

    assert len(list(read_journal(journal_folder(served_db)))) == 3  # a change set each
    with duckdb.connect(str(served_db), read_only=True) as raw:  # not yet in the tables
        assert raw.execute("SELECT count(*) FROM records WHERE source = 'web' AND "
                           "record_id LIKE 'K%'").fetchall() == [(0,)]  # fmt: skip
    con = open_store(served_db)
    try:
        stored = dict(
            con.execute(
                "SELECT record_id, golden_id FROM xref WHERE source = 'web' AND record_id LIKE 'K%'"
            ).fetchall()
        )
        assert stored == golden
        assert list(read_journal(journal_folder(served_db))) == []  # written in, cleared
        kinds = con.execute(
            "SELECT count(*) FROM events WHERE kind = 'record_added' AND source = 'web'"
        ).fetchall()
        assert kinds == [(3,)]
    finally:
        con.close()

"""``mdm serve`` starts the service as a user would: a process listening on loopback."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.api.conftest import _free_port


def test_mdm_serve_answers_and_documents_itself(served_db: Path, tmp_path: Path) -> None:
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
        schema = httpx.get(f"http://127.0.0.1:{port}/openapi.json").json()
        for path, methods in schema["paths"].items():
            for method, operation in methods.items():
                body = operation.get("requestBody")
                if body:
                    content = body["content"]["application/json"]["schema"]
                    ref = content["$ref"].rsplit("/", 1)[-1]
                    examples = schema["components"]["schemas"][ref].get("examples")
                    assert examples, f"{method.upper()} {path} has no example request"
        assert httpx.get(f"http://127.0.0.1:{port}/docs").status_code == 200
    finally:
        process.terminate()
        process.wait(timeout=20)

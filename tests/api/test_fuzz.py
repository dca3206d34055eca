"""Fuzzing the API from its own OpenAPI schema (benchmarks/fuzz.py sends over 10,000
requests; this sends a few hundred): valid and invalid generated requests get no 5xx,
and every answer matches the schema its endpoint declares."""

from __future__ import annotations

import sys
from pathlib import Path

from api import Settings
from tests.api.conftest import LiveServer

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


def test_generated_requests_get_no_server_error_and_keep_the_schema(served_db: Path) -> None:
    sys.path.insert(0, str(BENCHMARKS))
    try:
        from fuzz import fuzz
    finally:
        sys.path.remove(str(BENCHMARKS))
    settings = Settings(db=served_db, rate_limit=1e9, rate_burst=10**9)
    with LiveServer(settings) as server:
        found = fuzz(server.url, server.headers, examples=5, seed=1)
    assert found["requests"] > 200 and found["operations"] >= 30
    assert found["server_errors"] == 0, found["examples"]
    assert found["failures"] == 0, found["examples"]

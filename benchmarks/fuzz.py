"""API fuzzing: schemathesis generates requests from the service's own OpenAPI schema,
valid ones and invalid ones, and sends them to the service on loopback.

Usage:  .venv/bin/python benchmarks/fuzz.py [--examples 200] [--seed 1]

``--examples`` per operation and per mode (valid / invalid data): 200 gives well over
10,000 requests. The service runs on a copy of a small reconciled store with an admin
key, the rate limit lifted. Checks every answer: no 5xx, and a body that matches the
schema the endpoint declares. Prints counts and the first failures as JSON; exit 1 on
any failure. A short run is part of the test suite (tests/api/test_fuzz.py).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error, response_schema_conformance

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

#: A service answer of one of these for generated input is not a failure of the schema
#: check: they are the documented refusals (no key, rate, body size, busy store).
REFUSALS = {401, 403, 413, 429, 503}


def fuzz(url: str, headers: dict[str, str], examples: int, seed: int) -> dict:
    """Send ``examples`` generated requests per operation and mode; the tally."""
    schema = schemathesis.openapi.from_url(f"{url}/openapi.json")
    tally: Counter[str] = Counter()
    failures: list[dict] = []
    statuses: Counter[int] = Counter()
    for result in schema.get_all_operations():
        operation = result.ok()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @settings(max_examples=examples, deadline=None, database=None,
                      derandomize=True, suppress_health_check=list(HealthCheck))  # fmt: skip
            @given(case=operation.as_strategy(generation_mode=mode))
            def send(case) -> None:
                response = case.call(base_url=url, headers=headers, timeout=60)
                tally["requests"] += 1
                statuses[response.status_code] += 1
                checks = [not_a_server_error]
                if response.status_code not in REFUSALS:
                    checks.append(response_schema_conformance)
                try:
                    case.validate_response(response, checks=checks)
                except (Exception, BaseExceptionGroup) as failure:  # noqa: BLE001 - counted
                    tally["failures"] += 1
                    if len(failures) < 20:
                        failures.append({
                            "operation": f"{case.method} {case.path}",
                            "status": response.status_code, "problem": str(failure)[:500],
                        })  # fmt: skip

            try:
                send()
            except Unsatisfiable:  # nothing invalid to send (an operation with no input)
                continue
            tally[f"operations.{mode.value}"] += 1
    server_errors = sum(n for status, n in statuses.items() if status >= 500)
    return {"requests": tally["requests"], "failures": tally["failures"],
            "server_errors": server_errors, "operations": tally["operations.positive"],
            "statuses": dict(sorted(statuses.items())), "examples": failures}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    from _service import serving
    from crash import prepare_store

    from api import Settings

    with tempfile.TemporaryDirectory(prefix="mdm-fuzz-") as folder:
        db, _ = prepare_store(Path(folder), 500, args.seed)
        started = time.perf_counter()
        settings_ = Settings(db=db, max_body_bytes=1 << 20, job_folder=Path(folder))
        with serving(settings_) as (url, _, headers):
            found = fuzz(url, headers, args.examples, args.seed)
        found["seconds"] = round(time.perf_counter() - started, 1)
    print(json.dumps(found, indent=2))
    if found["failures"] or found["server_errors"]:
        raise SystemExit(1)


if __name__ == "__main__":
    main()

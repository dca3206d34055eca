"""A few cycles of the crash harness (benchmarks/crash.py runs a thousand): the service
is killed with SIGKILL while clients write and a full job runs; every acknowledged
write must be there afterwards and the store must hold together."""

from __future__ import annotations

import os
import sys
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def test_nothing_acknowledged_is_lost_across_kills(tmp_path: Path) -> None:
    sys.path.insert(0, str(BENCHMARKS))
    try:
        from crash import run
    finally:
        sys.path.remove(str(BENCHMARKS))
    cycles = int(os.environ.get("MDM_CRASH_CYCLES", "3"))
    totals = run(cycles, seed=7, records=300, folder=tmp_path, job_every=2)
    assert totals["cycles"] == cycles and totals["acknowledged_writes"] > 0
    assert totals["lost_writes"] == 0, totals["examples"]
    assert totals["failed_checks"] == 0, totals["examples"]
    assert totals["server_errors"] == 0, totals["examples"]

"""No customer value in the service's logs or in its error answers: a canary value is
sent in every way that makes an error, and then searched for. (Identifiers the caller
sent, a golden id or a record id, may be named back to it; values never are.)"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from api import Settings
from tests.api.conftest import LiveServer

CANARY = "Zyxwquorble"  # a name no generator makes


class _Keep(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


def test_a_canary_value_never_reaches_logs_or_error_answers(
    served_db: Path, caplog: pytest.LogCaptureFixture
) -> None:
    keep = _Keep()
    root = logging.getLogger()
    root.addHandler(keep)
    previous = root.level
    root.setLevel(logging.DEBUG)
    answers = []
    try:
        with LiveServer(Settings(db=served_db, max_body_bytes=4096)) as server:
            c = server.client
            bad = {"source": "web", "record_id": "P-1", "first_name": CANARY,
                   "email": f"{CANARY}@@nowhere", "phone": f"{CANARY}-phone",
                   "date_of_birth": f"{CANARY}-13-45"}  # fmt: skip
            answers.append(c.post("/v1/records", json={"records": [bad]}))
            answers.append(c.post("/v1/match", json={**bad, "source": None}))
            answers.append(c.post("/v1/match", json={"first_name": CANARY * 40}))
            answers.append(c.post("/v1/records", json={"records": [{**bad, "extra": 5}]}))
            answers.append(c.post("/v1/records", json={"records": [{"first_name": CANARY}]}))
            answers.append(c.post("/v1/records", content=f'{{"records": [{{"x": "{CANARY}"'))
            answers.append(c.post("/v1/records", json={"records": [bad] * 80}))  # too big
            merge = {"golden_ids": ["G-1", "G-2"], "by": "ann", "reason": CANARY}
            answers.append(c.post("/v1/golden/merge", json=merge))
            answers.append(c.post("/v1/names/variants", json={"name": CANARY, "variant": CANARY,
                                                               "by": "x"}))  # fmt: skip
            answers.append(server.anon.post("/v1/match", json={"first_name": CANARY}))
            fine = {**bad, "email": f"{CANARY.lower()}@example.org", "phone": None,
                    "date_of_birth": None}  # fmt: skip
            answers.append(c.post("/v1/records", json={"records": [fine]}))  # a real write
    finally:
        root.removeHandler(keep)
        root.setLevel(previous)
    errors = [a for a in answers if a.status_code >= 400]
    assert len(errors) >= 9, [a.status_code for a in answers]
    leaked = [(a.request.url.path, a.status_code, a.text) for a in errors if CANARY in a.text]
    assert leaked == []
    logged = [line for line in keep.lines + caplog.messages if CANARY.lower() in line.lower()]
    assert logged == []

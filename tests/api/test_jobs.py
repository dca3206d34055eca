"""Incremental batch jobs through the API: submit a file, follow it, fetch its results,
send it again (nothing changes), cancel one, and refuse paths outside the allowed folder."""

from __future__ import annotations

import io
import time
from pathlib import Path

import pandas as pd
import pytest

from api import Settings
from tests.api.conftest import LiveServer


def _csv(sample_dir: Path, rows: slice, prefix: str) -> bytes:
    crm = pd.read_csv(sample_dir / "crm.csv", dtype=str).iloc[rows].copy()
    crm["customer_no"] = [f"{prefix}{i}" for i in range(len(crm))]
    return crm.to_csv(index=False).encode()


def _wait(client, job_id: str, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        job = client.get(f"/v1/jobs/{job_id}").json()
        if job["status"] not in ("queued", "running"):
            return job
        assert time.monotonic() < deadline, job
        time.sleep(0.1)


def test_a_job_runs_and_a_second_send_changes_nothing(live, sample_dir) -> None:
    body = _csv(sample_dir, slice(0, 40), "JOB")
    sent = live.client.post(
        "/v1/jobs", files={"file": ("crm.csv", body, "text/csv")}, data={"source": "crm"}
    )
    assert sent.status_code == 202, sent.text
    job = _wait(live.client, sent.json()["job_id"])
    assert job["status"] == "done" and job["records"] == job["done"] == 40
    assert job["percent"] == 100.0 and job["records_per_second"] > 0
    assert sum(job["actions"].values()) == 40 and job["actions"].get("linked", 0) >= 30
    results = pd.read_csv(io.BytesIO(live.client.get(f"/v1/jobs/{job['job_id']}/results").content))
    assert len(results) == 40 and results["golden_id"].notna().all()
    record = live.client.get("/v1/records/crm/JOB0").json()
    assert record["golden_id"] == results.loc[results["record_id"] == "JOB0", "golden_id"].item()
    again = live.client.post(
        "/v1/jobs", files={"file": ("crm.csv", body, "text/csv")}, data={"source": "crm"}
    )
    repeat = _wait(live.client, again.json()["job_id"])
    assert repeat["actions"] == {"unchanged": 40}
    listed = live.client.get("/v1/jobs").json()
    assert listed["count"] == 2


def test_bad_jobs_are_refused_or_fail_with_a_reason(live) -> None:
    wrong = live.client.post(
        "/v1/jobs", files={"file": ("notes.txt", b"hello", "text/plain")}, data={"source": "crm"}
    )
    assert wrong.status_code == 400 and ".csv" in wrong.text
    broken = live.client.post(
        "/v1/jobs", files={"file": ("crm.csv", b"not,a\\nvalid", "text/csv")},
        data={"source": "crm"},
    )  # fmt: skip
    assert broken.status_code == 202
    failed = _wait(live.client, broken.json()["job_id"])
    assert failed["status"] == "failed" and failed["error"]
    path = live.client.post("/v1/jobs/from-path", json={"path": "x.csv", "source": "crm"})
    assert path.status_code == 400 and "MDM_JOB_FOLDER" in path.text
    assert live.client.get("/v1/jobs/nope").status_code == 404
    assert live.client.get(f"/v1/jobs/{failed['job_id']}/results").status_code == 200


def test_paths_stay_inside_the_allowed_folder(served_db, sample_dir, tmp_path) -> None:
    folder = tmp_path / "incoming"
    folder.mkdir()
    (folder / "crm.csv").write_bytes(_csv(sample_dir, slice(0, 10), "PATH"))
    (tmp_path / "secret.csv").write_text("customer_no\n1\n")
    with LiveServer(Settings(db=served_db, job_folder=folder)) as server:
        outside = server.client.post(
            "/v1/jobs/from-path", json={"path": "../secret.csv", "source": "crm"}
        )
        assert outside.status_code == 400 and "outside" in outside.text
        missing = server.client.post("/v1/jobs/from-path", json={"path": "no.csv", "source": "crm"})
        assert missing.status_code == 404
        sent = server.client.post("/v1/jobs/from-path", json={"path": "crm.csv", "source": "crm"})
        assert sent.status_code == 202, sent.text
        assert _wait(server.client, sent.json()["job_id"])["done"] == 10


@pytest.mark.parametrize("size", [1200])
def test_a_job_can_be_cancelled(live, sample_dir, size) -> None:
    body = _csv(sample_dir, slice(0, size), "BIG")
    sent = live.client.post(
        "/v1/jobs", files={"file": ("crm.csv", body, "text/csv")}, data={"source": "crm"}
    )
    job_id = sent.json()["job_id"]
    stopped = live.client.delete(f"/v1/jobs/{job_id}")
    if stopped.status_code == 400:  # it finished first: nothing to stop
        assert _wait(live.client, job_id)["status"] == "done"
        return
    assert stopped.status_code == 202
    job = _wait(live.client, job_id)
    assert job["status"] == "cancelled" and job["done"] < job["records"] or job["records"] == 0
    again = live.client.delete(f"/v1/jobs/{job_id}")
    assert again.status_code == 400 and "cancelled" in again.text

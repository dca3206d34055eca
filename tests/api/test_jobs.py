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
    mapped = {m["attribute"]: (m["column"], m["basis"]) for m in job["mapped"]}
    assert mapped["record_id"] == ("customer_no", "known synonym")
    assert mapped["email"] == ("email", "schema name")
    assert job["unused"] == ["title", "true_person_id"]
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


@pytest.mark.parametrize("mode", ["incremental", "full"])
def test_a_csv_sent_as_xlsx_fails_with_what_to_do(live, sample_dir, mode) -> None:
    sent = live.client.post(
        "/v1/jobs",
        files={
            "file": ("crm.xlsx", _csv(sample_dir, slice(0, 5), "X"), "application/vnd.ms-excel")
        },
        data={"source": "crm", "mode": mode},
    )
    assert sent.status_code == 202, sent.text
    job = _wait(live.client, sent.json()["job_id"], timeout=120)
    assert job["status"] == "failed", job
    assert "is not an Excel workbook (it looks like CSV text); rename it to .csv" in job["error"]
    assert "service log" not in job["error"]
    assert job["error"].startswith("crm.xlsx ") and "input.xlsx" not in job["error"]


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


def _full(client, body: bytes, source: str = "crm"):
    return client.post(
        "/v1/jobs",
        files={"file": (f"{source}.csv", body, "text/csv")},
        data={"source": source, "mode": "full"},
    )


def test_a_full_job_reconciles_the_extract_while_the_service_works(live, sample_dir) -> None:
    crm = pd.read_csv(sample_dir / "crm.csv", dtype=str)
    dropped = crm["customer_no"].iloc[:5].tolist()
    extract = crm.iloc[5:].copy()
    extract.loc[extract.index[:3], "email"] = ["new1@example.org", "new2@example.org",
                                               "new3@example.org"]  # fmt: skip
    added = extract.iloc[10:14].copy()
    added["customer_no"] = [f"NEW{i}" for i in range(len(added))]
    extract = pd.concat([extract, added])
    sent = _full(live.client, extract.to_csv(index=False).encode())
    assert sent.status_code == 202, sent.text
    job_id = sent.json()["job_id"]
    assert sent.json()["kind"] == "full"
    # while the child reconciles its copy, real-time writes go on and steward writes wait
    deadline = time.monotonic() + 60
    while live.client.get(f"/v1/jobs/{job_id}").json()["stage"] in ("waiting", "copying"):
        assert time.monotonic() < deadline
        time.sleep(0.02)
    live_record = {"source": "callcentre", "record_id": "DURING-1", "first_name": "Zebedee",
                   "last_name": "Quantock", "email": "zq@example.org"}  # fmt: skip
    upserted = live.client.post("/v1/records", json={"records": [live_record], "by": "cc"})
    assert upserted.status_code == 200, upserted.text
    removed = live.client.delete(f"/v1/records/crm/{crm['customer_no'].iloc[20]}")
    assert removed.status_code == 200, removed.text
    status = live.client.get(f"/v1/jobs/{job_id}").json()
    if status["status"] == "running" and status["stage"] not in ("replacing", "results"):
        merge = live.client.post(
            "/v1/golden/merge", json={"golden_ids": ["G-x", "G-y"], "by": "ann", "reason": "t"}
        )
        assert merge.status_code in (409, 404), merge.text  # 404 only if the job just ended
        if merge.status_code == 409:
            assert "full job" in merge.json()["error"]["message"]
    job = _wait(live.client, job_id, timeout=120)
    assert job["status"] == "done", job
    assert job["percent"] == 100.0 and job["run_id"] and job["peak_rss_mib"] > 0
    assert job["records"] == len(extract) and job["stages"]["predict"] >= 0
    assert {"attribute": "phone", "column": "mobile", "basis": "known synonym"} in job["mapped"]
    assert job["unused"] == ["title", "true_person_id"]
    results = pd.read_parquet(
        io.BytesIO(live.client.get(f"/v1/jobs/{job_id}/results?format=parquet").content)
    )
    actions = results.groupby("action")["record_id"].apply(set).to_dict()
    assert actions["added"] == set(added["customer_no"])
    assert actions["deleted"] == set(dropped)
    assert set(extract["customer_no"].iloc[:3]) <= actions["updated"]
    assert results["golden_id"].notna().all()
    for record_id in dropped:
        assert live.client.get(f"/v1/records/crm/{record_id}").status_code == 404
    new = live.client.get("/v1/records/crm/NEW0").json()
    assert new["golden_id"] == results.set_index("record_id").loc["NEW0", "golden_id"]
    # the writes made while the job worked are still there, on top of its result
    assert live.client.get("/v1/records/callcentre/DURING-1").status_code == 200
    assert live.client.get(f"/v1/records/crm/{crm['customer_no'].iloc[20]}").status_code == 404
    assert job["actions"]["rewritten"] == 2
    golden = pd.read_csv(
        io.BytesIO(live.client.get(f"/v1/jobs/{job_id}/results?part=golden").content)
    )
    assert set(results.loc[results["action"] == "added", "golden_id"]) <= set(golden["golden_id"])
    review = live.client.get(f"/v1/jobs/{job_id}/results?part=review")
    assert review.status_code == 200 and review.text.startswith("task_id")
    # matching and upserts go on against the new state; steward writes are allowed again
    match = live.client.post(
        "/v1/match",
        json={"first_name": "Zebedee", "last_name": "Quantock", "email": "zq@example.org"},
    )
    assert match.status_code == 200 and match.json()["candidates"], match.text
    again = live.client.post("/v1/golden/merge", json={"golden_ids": ["G-x", "G-y"], "by": "a"})
    assert again.status_code == 404


def test_a_full_job_that_fails_leaves_the_store_as_it_was(live, sample_dir) -> None:
    before = live.client.get("/v1/records/crm/" + pd.read_csv(sample_dir / "crm.csv", dtype=str)[
        "customer_no"].iloc[0]).json()  # fmt: skip
    sent = _full(live.client, b"nothing,we,know\n1,2,3\n")
    job = _wait(live.client, sent.json()["job_id"], timeout=120)
    assert job["status"] == "failed" and "has no record_id" in job["error"], job
    after = live.client.get(f"/v1/records/crm/{before['record_id']}").json()
    assert after == before
    bad_mode = live.client.post(
        "/v1/jobs", files={"file": ("crm.csv", b"a\n1\n", "text/csv")},
        data={"source": "crm", "mode": "sideways"},
    )  # fmt: skip
    assert bad_mode.status_code == 422
    merge = live.client.post("/v1/golden/merge", json={"golden_ids": ["G-x", "G-y"], "by": "a"})
    assert merge.status_code == 404  # refused only while a job works on a copy


def test_a_restart_finishes_a_full_job_the_service_stopped_under(served_db) -> None:
    """The service stopped while putting a full job's copy in place: if the copy is
    gone (it had become the store), the job is done and its results are there; if the
    copy is still there, the job failed and the store is as it was."""
    import json

    jobs = served_db.with_name(served_db.name + ".jobs")
    for job_id, stage, copied in (("abc123", "replacing", False), ("def456", "write", True)):
        folder = jobs / job_id
        folder.mkdir(parents=True)
        job = {"job_id": job_id, "kind": "full", "source": "crm", "file": "crm.csv",
               "submitted_by": "etl", "status": "running", "stage": stage, "run_id": 1,
               "created_at": "2026-11-22T00:00:00"}  # fmt: skip
        (folder / "job.json").write_text(json.dumps(job))
        (folder / "tmp").mkdir()
        if copied:
            (folder / "store.duckdb").write_bytes(b"a half-made copy")
    with LiveServer(Settings(db=served_db)) as server:
        done = server.client.get("/v1/jobs/abc123").json()
        assert done["status"] == "done" and done["error"] is None
        assert server.client.get("/v1/jobs/abc123/results").status_code == 200
        failed = server.client.get("/v1/jobs/def456").json()
        assert failed["status"] == "failed" and "send the file again" in failed["error"]
    assert not (jobs / "def456" / "store.duckdb").exists()
    assert not (jobs / "def456" / "tmp").exists()


def test_a_path_no_file_system_takes_is_a_400(served_db, tmp_path) -> None:
    """Found by the fuzzer: a NUL byte or a lone surrogate in the path was a 500."""
    folder = tmp_path / "incoming"
    folder.mkdir()
    with LiveServer(Settings(db=served_db, job_folder=folder)) as server:
        for path in (r"a\u0000b.csv", r"\udbed\udc8e.csv", r"x\ud800.csv"):  # JSON escapes
            body = ('{"path": "' + path + '", "source": "crm"}').encode()
            answer = server.client.post(
                "/v1/jobs/from-path", content=body, headers={"content-type": "application/json"}
            )
            assert answer.status_code in (400, 404, 422), (path, answer.status_code, answer.text)


def test_a_full_jobs_percent_moves_through_the_slices_of_scoring(tmp_path) -> None:
    """The child's stages, as JSON lines (mdm.progress), move a full job's percent
    within the scoring stage (the longest one) by its slices, and the next stage starts
    it afresh."""
    from mdm.jobs import FULL_STAGES, Job, Jobs
    from mdm.progress import Detail, JsonLinesProgress

    class Follower:  # the reading and the percent are the service's own code
        _follow, _stage = Jobs._follow, Jobs._stage

        def __init__(self) -> None:
            self.saved: list[tuple[str, str, float]] = []

        def _save(self, job: Job) -> None:
            self.saved.append((job.stage, job.stage_detail, job.percent))

    job = Job(job_id="j", kind="full", source="crm", file="crm.csv", submitted_by="etl")
    steps, follower = tmp_path / "progress.jsonl", Follower()
    with steps.open("a") as stream:
        child = JsonLinesProgress(stream)
        child.stage("read", "1 source(s)")
        child.stage("standardise", Detail("2000000 records", records=2_000_000))
        child.stage("predict", "scoring")
        predict = FULL_STAGES.index("predict")
        for done in (None, 1, 3, "cluster"):
            if done == "cluster":
                child.stage("cluster", "1234 candidate pairs")
            elif done:
                child.stage("predict", Detail(f"slice {done} of 4 done", done=done, total=4))
            follower._follow(job, steps)
    assert job.records == 2_000_000
    percents = [percent for _, _, percent in follower.saved]
    base = 100.0 * predict / len(FULL_STAGES)
    assert percents == sorted(percents) and len(set(percents)) == len(percents)
    assert percents[0] == round(base, 1)
    assert percents[2] == round(100.0 * (predict + 0.75) / len(FULL_STAGES), 1)
    assert follower.saved[-1][:2] == ("cluster", "1234 candidate pairs")
    assert job.stage_done == 0.0
    follower._follow(job, steps)  # nothing new: nothing saved
    assert len(follower.saved) == 4


def test_an_erased_person_leaves_no_byte_under_the_stores_folder(live, served_db) -> None:
    """A person sent in a job and then erased: the job's copy of the upload is gone
    once the job ended, its results lose their rows, the store file is compacted, and
    the journal holds nothing of them."""
    canary = "Qwyxzorbitt"
    body = (
        "record_id,first_name,last_name,email,date_of_birth\n"
        f"E-1,{canary},Nightingale,{canary.lower()}@gmail.com,1961-04-05\n"
        "E-2,Ann,Other,ann.other@gmail.com,1970-01-02\n"
    )
    sent = live.client.post(
        "/v1/jobs", files={"file": ("crm.csv", body, "text/csv")}, data={"source": "crm"}
    )
    assert sent.status_code == 202, sent.text
    job = _wait(live.client, sent.json()["job_id"])
    assert job["status"] == "done", job
    golden_id = live.client.get("/v1/records/crm/E-1").json()["golden_id"]
    parts = {
        part: live.client.get(f"/v1/jobs/{job['job_id']}/results", params={"part": part})
        for part in ("xref", "golden")
    }
    assert canary.lower() in parts["golden"].text.lower()  # the check below can fail
    erased = live.client.post(f"/v1/golden/{golden_id}/erasure", json={"by": "dpo"})
    assert erased.status_code == 200, erased.text
    golden = live.client.get(f"/v1/jobs/{job['job_id']}/results", params={"part": "golden"})
    assert canary.lower() not in golden.text.lower()
    xref = live.client.get(f"/v1/jobs/{job['job_id']}/results", params={"part": "xref"})
    assert "E-1" not in xref.text and "E-2" in xref.text
    after = {"source": "web", "record_id": "after", "first_name": "Bo", "last_name": "Lee"}
    live.client.post("/v1/records", json={"records": [after]})  # a write after the erasure
    folder = served_db.parent
    holding = [
        path
        for path in folder.rglob("*")
        if path.is_file() and canary.lower().encode() in path.read_bytes().lower()
    ]
    assert holding == []


def test_an_erased_record_sent_again_is_refused_or_left_out(live) -> None:
    record = {"source": "web", "record_id": "GONE-1", "first_name": "Tamsin",
              "last_name": "Quellbridge", "email": "tq.gone@gmail.com"}  # fmt: skip
    made = live.client.post("/v1/records", json={"records": [record]})
    golden_id = made.json()["results"][0]["golden_id"]
    assert live.client.post(f"/v1/golden/{golden_id}/erasure", json={"by": "dpo"}).is_success
    again = live.client.post("/v1/records", json={"records": [record]})
    assert again.status_code == 409 and "was erased" in again.text
    assert live.client.get("/v1/records/web/GONE-1").status_code == 404
    body = "record_id,first_name,last_name,email\nGONE-1,Tamsin,Quellbridge,tq.gone@gmail.com\n"
    sent = live.client.post(
        "/v1/jobs", files={"file": ("web.csv", body, "text/csv")}, data={"source": "web"}
    )
    job = _wait(live.client, sent.json()["job_id"])
    assert job["status"] == "done" and job["actions"] == {"erased, left out": 1}, job
    assert live.client.get("/v1/records/web/GONE-1").status_code == 404

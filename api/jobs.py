"""Incremental batch jobs inside the service: a file of new and changed records, sent
through the service's own engine and journal one record at a time, in the background.

Each record is an ordinary real-time upsert (decided in about a millisecond, journaled
and acknowledged like any other), so matching requests are answered in between: a job
never takes the store for itself. A job is therefore not one transaction, but it is
resumable: every record it sent is durable, and sending the same file again skips the
records already in (their content is unchanged) and carries on with the rest.

Jobs run one at a time, in order. Each keeps a folder beside the store
(``<store>.jobs/<id>/``) with its input file, its status (``job.json``) and, once done,
its results (``results.parquet``: each record's golden id and what happened), so that
status and results survive a restart.
"""

from __future__ import annotations

import json
import logging
import shutil
import threading
import time
import uuid
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from api.store import StoreService
from mdm.clock import utcnow
from mdm.errors import InputError, MdmError, NotFoundError
from mdm.incremental import batch_records, upsert_leniently
from mdm.ingest import SourceSpec

log = logging.getLogger("mdm.jobs")

#: Records sent between two waits for their commits (bounds what a job holds in flight).
WINDOW = 500
#: After each record a job rests this share of the time the record took, so that the
#: interpreter and the engine are free for matching requests in between.
REST = 0.5
STATUSES = ("queued", "running", "done", "failed", "cancelled")


@dataclass
class Job:
    """A job's state, as ``GET /v1/jobs/{id}`` shows it."""

    job_id: str
    kind: str
    source: str
    file: str
    submitted_by: str
    status: str = "queued"
    stage: str = "waiting"
    records: int = 0
    done: int = 0
    actions: dict[str, int] = field(default_factory=dict)
    unparseable: dict[str, int] = field(default_factory=dict)
    error: str | None = None
    created_at: str = ""
    started_at: str | None = None
    finished_at: str | None = None
    seconds: float = 0.0

    @property
    def percent(self) -> float:
        return round(100.0 * self.done / self.records, 1) if self.records else 0.0

    @property
    def records_per_second(self) -> float:
        return round(self.done / self.seconds, 1) if self.seconds else 0.0

    def public(self) -> dict[str, Any]:
        return {**asdict(self), "percent": self.percent,
                "records_per_second": self.records_per_second}  # fmt: skip


class Jobs:
    """The service's job queue: one worker thread, jobs in submission order."""

    def __init__(self, store: StoreService, rules_dir: Path, allowed: Path | None) -> None:
        self.store = store
        self.rules_dir = rules_dir
        self.allowed = allowed.resolve() if allowed is not None else None
        self.folder = store.path.with_name(store.path.name + ".jobs")
        self.folder.mkdir(exist_ok=True)
        self._jobs: dict[str, Job] = {}
        self._cancel: dict[str, threading.Event] = {}
        self._queue: list[str] = []
        self._wake = threading.Condition()
        self._closing = False
        for status in sorted(self.folder.glob("*/job.json")):
            job = Job(**json.loads(status.read_text()))
            if job.status in ("queued", "running"):  # the service stopped under it
                job.status, job.error = "failed", "the service stopped; send the file again"
            self._jobs[job.job_id] = job
        self._thread = threading.Thread(target=self._work, name="mdm-jobs", daemon=True)
        self._thread.start()

    # --- submitting -----------------------------------------------------------------

    def submit_upload(self, name: str, content, source: str, by: str) -> Job:
        """A job over an uploaded file (``content``: a readable binary stream)."""
        suffix = Path(name or "").suffix.lower()
        if suffix not in (".csv", ".parquet", ".xlsx", ".jsonl"):
            raise InputError("send a .csv, .parquet, .xlsx or .jsonl file")
        job = self._new(source, name, by)
        target = self.folder / job.job_id / f"input{suffix}"
        with target.open("wb") as out:
            shutil.copyfileobj(content, out)
        return self._enqueue(job, target)

    def submit_path(self, path: str, source: str, by: str) -> Job:
        """A job over a file the server may read (inside the allow-listed folder)."""
        if self.allowed is None:
            raise InputError(
                "this service reads no server paths (set MDM_JOB_FOLDER to allow a folder); "
                "upload the file instead"
            )
        wanted = (self.allowed / path).resolve()
        if not wanted.is_relative_to(self.allowed):
            raise InputError(f"{path} is outside the folder this service may read")
        if not wanted.is_file():
            raise NotFoundError(f"no file {path} in the folder this service reads")
        return self._enqueue(self._new(source, path, by), wanted)

    def _new(self, source: str, file: str, by: str) -> Job:
        if not source or not source.replace("_", "").replace("-", "").isalnum():
            raise InputError("name the source system, e.g. crm (letters, digits, - and _)")
        job = Job(uuid.uuid4().hex[:12], "incremental", source, file, by,
                  created_at=utcnow().isoformat(timespec="seconds"))  # fmt: skip
        (self.folder / job.job_id).mkdir()
        return job

    def _enqueue(self, job: Job, path: Path) -> Job:
        job.file = str(path)
        with self._wake:
            self._jobs[job.job_id] = job
            self._cancel[job.job_id] = threading.Event()
            self._queue.append(job.job_id)
            self._save(job)
            self._wake.notify_all()
        return job

    # --- reading --------------------------------------------------------------------

    def get(self, job_id: str) -> Job:
        job = self._jobs.get(job_id)
        if job is None:
            raise NotFoundError(f"no job {job_id}")
        return job

    def all(self) -> list[Job]:
        return sorted(self._jobs.values(), key=lambda j: (j.created_at, j.job_id), reverse=True)

    def results(self, job_id: str) -> pd.DataFrame:
        job = self.get(job_id)
        path = self.folder / job_id / "results.parquet"
        if not path.is_file():
            raise InputError(f"job {job_id} is {job.status}; results come when it is done")
        return pd.read_parquet(path)

    def cancel(self, job_id: str) -> Job:
        job = self.get(job_id)
        if job.status not in ("queued", "running"):
            raise InputError(f"job {job_id} is {job.status}; only a waiting or running job stops")
        self._cancel[job_id].set()
        return job

    # --- working --------------------------------------------------------------------

    def _work(self) -> None:
        while True:
            with self._wake:
                while not self._queue and not self._closing:
                    self._wake.wait()
                if self._closing:
                    return
                job_id = self._queue.pop(0)
            self._run(self._jobs[job_id], self._cancel[job_id])

    def _run(self, job: Job, cancel: threading.Event) -> None:
        started = time.perf_counter()
        job.status, job.started_at = "running", utcnow().isoformat(timespec="seconds")
        rows: list[tuple] = []
        try:
            job.stage = "reading"
            self._save(job)
            records = batch_records([SourceSpec(job.source, Path(job.file))], self.rules_dir)
            job.records, job.stage = len(records), "matching"
            actions: Counter[str] = Counter()
            dropped: Counter[str] = Counter()
            actor = f"job:{job.job_id}"
            for start in range(0, len(records), WINDOW):
                if cancel.is_set():
                    break
                waiting = []
                for record in records[start : start + WINDOW]:
                    if cancel.is_set():
                        break
                    clock = time.perf_counter()
                    result, committed, fields = upsert_leniently(
                        lambda r: self.store.upsert(r, actor), record
                    )
                    time.sleep((time.perf_counter() - clock) * REST)  # matching goes first
                    dropped.update(fields)
                    waiting.append((result, committed))
                for result, committed in waiting:
                    committed.result()  # durable before it counts as done
                    actions[result.action] += 1
                    rows.append((result.source, result.record_id, result.golden_id,
                                 result.action))  # fmt: skip
                job.done = len(rows)
                job.actions, job.unparseable = dict(actions), dict(dropped)
                job.seconds = round(time.perf_counter() - started, 2)
            job.status = "cancelled" if cancel.is_set() else "done"
        except MdmError as error:
            job.status, job.error = "failed", str(error)
        except Exception as error:  # noqa: BLE001 - the job fails, the service goes on
            log.error("job %s failed: %s", job.job_id, type(error).__name__)
            job.status, job.error = "failed", f"{type(error).__name__}; see the service log"
        job.stage = "finished"
        job.seconds = round(time.perf_counter() - started, 2)
        job.finished_at = utcnow().isoformat(timespec="seconds")
        pd.DataFrame(rows, columns=["source", "record_id", "golden_id", "action"]).to_parquet(
            self.folder / job.job_id / "results.parquet", index=False
        )
        self._save(job)

    def _save(self, job: Job) -> None:
        path = self.folder / job.job_id / "job.json"
        temporary = path.with_suffix(".tmp")
        temporary.write_text(json.dumps(asdict(job)))
        temporary.replace(path)

    def close(self) -> None:
        with self._wake:
            self._closing = True
            for event in self._cancel.values():
                event.set()
            self._wake.notify_all()
        self._thread.join(timeout=60)
